"""Static validation of a state machine definition, as Step Functions does it.

:func:`validate` returns every problem it finds as a :class:`~legato.errors.Diagnostic`
with the code, message text and location AWS reports (``SCHEMA_VALIDATION_FAILED``,
``MISSING_TRANSITION_TARGET``, ``MISSING_END_STATE``, ``DUPLICATE_STATE_NAME``,
``INVALID_JSONATA_EXPRESSION``). Locations are JSON pointers from the document root,
with array indexes written the way AWS writes them: ``/States/C/Choices[0]/Next``.
A diagnostic that has no location (``MISSING_END_STATE``) carries ``""``.

Example::

    >>> from legato.asl.validate import validate
    >>> [d.code for d in validate({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})]
    ['MISSING_TRANSITION_TARGET', 'MISSING_END_STATE']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from legato.asl import _fields as F
from legato.asl._checker import Checker, child
from legato.asl._states import check_scope
from legato.errors import DefinitionError, Diagnostic

__all__ = ["check", "invalid_definition_message", "validate"]


def validate(doc: Any, *, state_machine_type: str = "STANDARD") -> list[Diagnostic]:
    """Every problem in the definition ``doc`` (a parsed JSON document), in AWS's wording.

    ``state_machine_type`` (``STANDARD`` or ``EXPRESS``) enables the rules that
    apply to Express workflows only (no activities, no ``.sync`` or
    ``.waitForTaskToken`` integrations). An empty list means the definition is
    valid.
    """
    ck = Checker(state_machine_type)
    if not isinstance(doc, dict):
        ck.schema("Definition must be a valid JSON object", "")
        return ck.diagnostics
    ck.unknown_fields(doc, F.TOP_LEVEL_FIELDS, "/")
    if "QueryLanguage" in doc:
        ck.machine_language = ck.query_language_value(doc["QueryLanguage"], "/QueryLanguage")
    if "Comment" in doc:
        ck.expect(doc["Comment"], str, "/Comment")
    if "Version" in doc:
        ck.expect(doc["Version"], str, "/Version")
    if "TimeoutSeconds" in doc:
        ck.integer(doc["TimeoutSeconds"], child("/", "TimeoutSeconds"), minimum=0, maximum=99999999)
    check_scope(ck, doc, "/", F.TOP_LEVEL_FIELDS, top=True)
    return ck.diagnostics


def check(doc: Any, *, state_machine_type: str = "STANDARD") -> None:
    """Raises :class:`~legato.errors.DefinitionError` when :func:`validate` finds an error."""
    errors = [d for d in validate(doc, state_machine_type=state_machine_type) if d.severity == "ERROR"]
    if errors:
        raise DefinitionError(errors)


def invalid_definition_message(diagnostics: Sequence[Diagnostic], definition: str | None = None) -> str:
    """The message of the ``InvalidDefinition`` error CreateStateMachine returns for ``diagnostics``.

    AWS joins the errors with ``", "``, each as ``CODE: message at location`` (``null``
    when the diagnostic has no location)::

        Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3
        at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2'
    """
    errors = [d for d in diagnostics if d.severity == "ERROR"]
    if definition is not None and errors and errors[0].location.endswith("/Label"):
        # Map Label problems are reported in another form, quoting the whole
        # definition (as recorded from the service).
        return f"Error=ValueError Args=[{errors[0].message!r}] in definition '{definition}'."
    parts = [f"{d.code}: {d.message} at {d.location or 'null'}" for d in errors]
    return f"Invalid State Machine Definition: '{', '.join(parts)}'"
