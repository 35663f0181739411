"""TestState's request checks: the definition, the state under test, and the mock's fit to it.

A single-state definition is validated as the one state ``StateName`` of a
machine (its transitions need no targets); a whole state machine is validated
as CreateStateMachine would, and ``stateName`` may name a state at any depth.
"""

from __future__ import annotations

from typing import Any

from legato.asl.model import JSONPATH, MapState, ParallelState, State, TaskState, build_state
from legato.errors import ApiError, DefinitionError
from legato.runtime._teststate_mock import Mock, validate_mock_result

__all__ = ["SINGLE_STATE_NAME", "check_mock", "is_token_task", "load_definition", "locate_state"]

SINGLE_STATE_NAME = "StateName"
"""The name a single-state definition's state gets (AWS's choice)."""

_UNSUPPORTED_WITHOUT_MOCK = (
    "TestState API does not support Map or Parallel states. "
    "Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]"
)


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


# --------------------------------------------------------------------- the definition


def load_definition(definition: Any) -> Any:
    """Parses the request's ``definition`` text; ``InvalidDefinition`` when it is not a document."""
    from legato.asl.load import load_document

    if not isinstance(definition, str):
        raise ApiError("SerializationException", "Field 'definition' must be a string")
    try:
        return load_document(definition)
    except DefinitionError as exc:
        raise _invalid(exc.diagnostics) from None


def _invalid(diagnostics: Any) -> ApiError:
    from legato.asl.validate import invalid_definition_message

    return ApiError("InvalidDefinition", invalid_definition_message(diagnostics))


def _check_definition(doc: Any, single: bool) -> None:
    from legato.asl.validate import validate

    diagnostics = [d for d in validate(doc) if d.severity == "ERROR"]
    if single:
        # A single state's transitions lead out of the test; they need no target.
        diagnostics = [
            d for d in diagnostics if d.code not in ("MISSING_TRANSITION_TARGET", "MISSING_END_STATE")
        ]
    if diagnostics:
        raise _invalid(diagnostics)


def _find_state(scope: Any, name: str, language: str) -> tuple[dict[str, Any], str] | None:
    """The raw state ``name`` in a graph (searching branches and processors) and its parent language."""
    if not isinstance(scope, dict) or not isinstance(scope.get("States"), dict):
        return None
    language = scope.get("QueryLanguage", language)
    states: dict[str, Any] = scope["States"]
    if isinstance(states.get(name), dict):
        return states[name], language
    for body in states.values():
        if not isinstance(body, dict):
            continue
        inner = body.get("QueryLanguage", language)
        for sub in body.get("Branches") or ():
            found = _find_state(sub, name, inner)
            if found is not None:
                return found
        processor = body.get("ItemProcessor") or body.get("Iterator")
        found = _find_state(processor, name, inner)
        if found is not None:
            return found
    return None


def locate_state(doc: Any, state_name: Any) -> State:
    """Validates the definition and builds the state under test."""
    if not isinstance(doc, dict):
        raise _invalid_text("Definition must be a valid JSON object")
    if state_name is not None:
        if not isinstance(state_name, str):
            raise ApiError("SerializationException", "Field 'stateName' must be a string")
        if not state_name:
            raise _validation(
                "1 validation error detected: Value '' at 'stateName' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1"
            )
        if "States" not in doc:
            raise _validation("State not found in definition")
        _check_definition(doc, single=False)
        found = _find_state(doc, state_name, JSONPATH)
        if found is None:
            raise _validation("State not found in definition")
        raw, language = found
        return _build(state_name, raw, language)
    if "States" in doc and "Type" not in doc:
        raise _validation("State name must be provided when the definition is a state machine")
    _check_definition({"StartAt": SINGLE_STATE_NAME, "States": {SINGLE_STATE_NAME: doc}}, single=True)
    return _build(SINGLE_STATE_NAME, doc, JSONPATH)


def _build(name: str, raw: dict[str, Any], language: str) -> State:
    try:
        return build_state(name, raw, language)
    except Exception as exc:  # a definition the validator let through but the model cannot hold
        raise _invalid_text(str(exc)) from None


def _invalid_text(message: str) -> ApiError:
    return ApiError(
        "InvalidDefinition", f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {message}'"
    )


# --------------------------------------------------------------------- request checks


def is_token_task(state: State) -> bool:
    """True for a Task with a ``.sync`` or ``.waitForTaskToken`` integration (its context has ``Task``)."""
    if not isinstance(state, TaskState):
        return False
    return state.resource.endswith((".sync", ".sync:2", ".waitForTaskToken"))


def check_mock(state: State, mock: Mock | None, request: dict[str, Any], config: dict[str, Any]) -> None:
    """Checks that the mock (or its absence) suits the state, as AWS does before running it."""
    if mock is None:
        if config.get("mapIterationFailureCount") is not None:
            raise _validation(
                "TestState does not support MapIterationFailureCount when a mock is not specified."
            )
        if isinstance(state, MapState | ParallelState):
            raise ApiError("InvalidDefinition", _UNSUPPORTED_WITHOUT_MOCK)
        return
    if not isinstance(state, TaskState | MapState | ParallelState):
        raise _validation(f"State type '{state.type}' is not supported when a mock is specified")
    if request.get("revealSecrets"):
        raise _validation("TestState does not support RevealSecrets when a mock is specified.")
    if not mock.has_result:
        return
    if isinstance(state, ParallelState):
        if not isinstance(mock.result, list):
            raise _validation("Mocked result must be an array.")
        if len(mock.result) != len(state.branches):
            raise _validation(
                "Mocked result must contain the same number of items as number of Parallel branches."
            )
    elif isinstance(state, MapState):
        if state.result_writer is not None:
            if not isinstance(mock.result, dict):
                raise _validation("Mocked result must be a JSON object.")
        elif not isinstance(mock.result, list):
            raise _validation("Mocked result must be an array.")
    elif isinstance(state, TaskState):
        validate_mock_result(state.resource, mock.result, mock.field_validation_mode)
