"""Checks of a scope of states (a machine, a Parallel branch, a Map's ItemProcessor)
and of each state type's fields, with the transitions between states."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection
from typing import Any

from legato.asl import _fields as F
from legato.asl._checker import JSONATA, JSONPATH, Checker, child, is_int, is_rfc3339, item
from legato.asl._exprs import is_jsonata, path_error

Transition = tuple[str, str]  # (target state name, location of the field naming it)

_INTEGRATION = re.compile(r"\Aarn:aws[\w-]*:states:::([\w-]+):([\w]+)((?:\.[\w]+)(?::\d+)?)?\Z")
_ACTIVITY = re.compile(r"\Aarn:aws[\w-]*:states:[\w-]+:\d+:activity:")
_SYNC = re.compile(r"\.sync(:\d+)?\Z")


def check_scope(ck: Checker, container: Any, location: str, allowed: Collection[str], *, top: bool) -> None:
    """Checks ``StartAt``/``States`` of one scope, its states, and the transitions inside it."""
    if not isinstance(container, dict):
        ck.schema("Expected value of type [OBJECT]", location)
        return
    ck.required(container, ("States", "StartAt"), location)
    if not top:
        ck.unknown_fields(container, allowed, location)
    start = container.get("StartAt")
    if "StartAt" in container:
        ck.expect(start, str, child(location, "StartAt"))
    states = container.get("States")
    if "States" not in container or not ck.expect(states, dict, child(location, "States")):
        return
    if not states:
        ck.schema("Value cannot be empty", child(location, "States"))
        return
    states_loc = child(location, "States")
    edges: list[tuple[str, str, str]] = []  # (source, target, location)
    terminal = False
    for name, state in states.items():
        state_loc = child(states_loc, name)
        if name in ck.state_names:
            ck.error("DUPLICATE_STATE_NAME", f"Duplicate State name: {name}", state_loc)
        ck.state_names.add(name)
        if not isinstance(state, dict):
            ck.schema("Expected value of type [OBJECT]", state_loc)
            continue
        edges.extend((name, target, loc) for target, loc in check_state(ck, state, state_loc))
        terminal = terminal or state.get("Type") in ("Succeed", "Fail") or state.get("End") is True
    if isinstance(start, str):  # without a StartAt, AWS reports only the missing field
        _check_graph(ck, states, start, location, edges, check_terminal=top and not terminal)


def _check_graph(
    ck: Checker,
    states: dict[str, Any],
    start: Any,
    location: str,
    transitions: list[tuple[str, str, str]],
    *,
    check_terminal: bool,
) -> None:
    """Dangling targets, then (top level only) a missing terminal state, then unreachable states."""
    edges: dict[str, list[str]] = {}
    if isinstance(start, str) and start not in states:
        ck.error("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {start}", child(location, "StartAt"))
    for source, target, loc in transitions:
        if target not in states:
            ck.error("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {target}", loc)
        edges.setdefault(source, []).append(target)
    if check_terminal:
        ck.error("MISSING_END_STATE", "Workflow has no terminal state", "")
        return
    seen: set[str] = set()
    queue = deque([start] if isinstance(start, str) and start in states else [])
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        queue.extend(t for t in edges.get(name, ()) if t in states and t not in seen)
    for name in states:
        if name not in seen:
            ck.error(
                "MISSING_TRANSITION_TARGET",
                f'State "{name}" is not reachable.',
                child(child(location, "States"), name),
            )


def _language(ck: Checker, state: dict[str, Any], location: str) -> tuple[str, bool]:
    """The state's effective query language, and whether the cross-language field check applies."""
    if "QueryLanguage" not in state:
        return ck.machine_language, True
    value = state["QueryLanguage"]
    if value == JSONPATH and ck.machine_language == JSONATA:
        ck.schema(
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", location
        )
        return JSONPATH, False
    return (JSONPATH if value == JSONPATH else JSONATA), True


def check_state(ck: Checker, state: dict[str, Any], loc: str) -> list[Transition]:
    """Checks one state; returns the transitions it makes (Next, Default, Choices, Catch)."""
    if "Type" not in state:
        ck.required(state, ("Type",), loc)
        return []
    kind = state["Type"]
    if kind not in F.STATE_TYPES:
        ck.schema(
            f"The field 'Type' should have one of these values: [{', '.join(F.STATE_TYPES)}]",
            child(loc, "Type"),
        )
        return []
    ck.unknown_fields(state, F.STATE_FIELDS[kind], loc)
    language, cross_check = _language(ck, state, loc)
    if cross_check:
        ck.language_fields(state, language, F.JSONPATH_ONLY, F.JSONATA_ONLY, loc)
    if "QueryLanguage" in state:
        ck.query_language_value(state["QueryLanguage"], child(loc, "QueryLanguage"))
    if "Comment" in state:
        ck.expect(state["Comment"], str, child(loc, "Comment"))
    transitions: list[Transition] = []
    if kind in ("Task", "Pass", "Wait", "Parallel", "Map"):
        transitions.extend(_transition(ck, state, loc, kind))
    _io(ck, state, loc, language)
    if kind != "Fail" and kind != "Succeed":
        ck.assign(state, loc, language)
    if "Retry" in state and kind in ("Task", "Parallel", "Map"):
        _retry(ck, state["Retry"], child(loc, "Retry"), language)
    if "Catch" in state and kind in ("Task", "Parallel", "Map"):
        transitions.extend(_catch(ck, state["Catch"], child(loc, "Catch"), language))
    if kind == "Task":
        _task(ck, state, loc, language)
    elif kind == "Wait":
        _wait(ck, state, loc, language)
    elif kind == "Fail":
        _fail(ck, state, loc, language)
    elif kind == "Choice":
        transitions.extend(_choice(ck, state, loc, language))
    elif kind == "Parallel":
        _parallel(ck, state, loc, language)
    elif kind == "Map":
        _map(ck, state, loc, language)
    return transitions


def _transition(ck: Checker, state: dict[str, Any], loc: str, kind: str) -> list[Transition]:
    has_next = "Next" in state
    if "End" in state:
        ck.expect(state["End"], bool, child(loc, "End"))
    ends = state.get("End") is True
    if has_next and ends:
        ck.schema("Only one of these fields may be set: [Next, End]; a state either continues or ends", loc)
    elif not has_next and not ends:
        ck.schema(f"A {kind} state must have either a 'Next' field or \"End\": true", loc)
    if has_next and ck.expect(state["Next"], str, child(loc, "Next")):
        return [(state["Next"], child(loc, "Next"))]
    return []


def _io(ck: Checker, state: dict[str, Any], loc: str, language: str) -> None:
    """Input and output processing fields, checked in the state's own language."""
    if language == JSONPATH:
        ck.path(state, "InputPath", loc, nullable=True)
        ck.path(state, "OutputPath", loc, nullable=True)
        ck.path(state, "ResultPath", loc, reference=True, nullable=True)
        ck.payload(state, "Parameters", loc, language)
        ck.payload(state, "ResultSelector", loc, language, object_only=True)
    else:
        if "Output" in state:
            ck.jsonata_values(state["Output"], child(loc, "Output"))
        ck.payload(state, "Arguments", loc, language, object_only=True)


def _retry(ck: Checker, retriers: Any, loc: str, language: str) -> None:
    if not ck.expect(retriers, list, loc):
        return
    for i, retrier in enumerate(retriers):
        rloc = item(loc, i)
        if not ck.expect(retrier, dict, rloc):
            continue
        ck.unknown_fields(retrier, F.RETRIER_FIELDS, rloc)
        _error_equals(ck, retrier, rloc, last=i == len(retriers) - 1)
        if "IntervalSeconds" in retrier:
            ck.integer(
                retrier["IntervalSeconds"], child(rloc, "IntervalSeconds"), minimum=1, maximum=99999999
            )
        if "MaxAttempts" in retrier:
            ck.integer(retrier["MaxAttempts"], child(rloc, "MaxAttempts"), minimum=0, maximum=99999999)
        if "BackoffRate" in retrier:
            ck.number(retrier["BackoffRate"], child(rloc, "BackoffRate"), minimum=1.0)
        if "MaxDelaySeconds" in retrier:
            ck.integer(
                retrier["MaxDelaySeconds"], child(rloc, "MaxDelaySeconds"), minimum=1, maximum=31622400
            )
        if "JitterStrategy" in retrier:
            ck.enum(retrier["JitterStrategy"], F.JITTER_STRATEGIES, child(rloc, "JitterStrategy"))


def _catch(ck: Checker, catchers: Any, loc: str, language: str) -> list[Transition]:
    transitions: list[Transition] = []
    if not ck.expect(catchers, list, loc):
        return transitions
    for i, catcher in enumerate(catchers):
        cloc = item(loc, i)
        if not ck.expect(catcher, dict, cloc):
            continue
        ck.unknown_fields(catcher, F.CATCHER_FIELDS, cloc)
        ck.required(catcher, ("ErrorEquals", "Next"), cloc)
        _error_equals(ck, catcher, cloc, last=i == len(catchers) - 1)
        ck.language_fields(catcher, language, ("ResultPath",), ("Output",), cloc)
        if language == JSONPATH:
            ck.path(catcher, "ResultPath", cloc, reference=True, nullable=True)
        elif "Output" in catcher:
            ck.jsonata_values(catcher["Output"], child(cloc, "Output"))
        ck.assign(catcher, cloc, language)
        if "Next" in catcher and ck.expect(catcher["Next"], str, child(cloc, "Next")):
            transitions.append((catcher["Next"], child(cloc, "Next")))
    return transitions


def _error_equals(ck: Checker, handler: dict[str, Any], loc: str, *, last: bool) -> None:
    if "ErrorEquals" not in handler:
        ck.required(handler, ("ErrorEquals",), loc)
        return
    eloc = child(loc, "ErrorEquals")
    errors = handler["ErrorEquals"]
    if not ck.non_empty_list(errors, eloc):
        return
    for j, name in enumerate(errors):
        ck.expect(name, str, item(eloc, j))
    if "States.ALL" in errors:
        if len(errors) > 1:
            ck.schema("'States.ALL' must appear alone in 'ErrorEquals'; remove the other error names", eloc)
        elif not last:
            ck.schema("A Retrier or Catcher matching 'States.ALL' must be the last one in its list", loc)


def _task(ck: Checker, state: dict[str, Any], loc: str, language: str) -> None:
    if ck.required(state, ("Resource",), loc) and ck.expect(state["Resource"], str, child(loc, "Resource")):
        _resource(ck, state["Resource"], child(loc, "Resource"))
    for field, minimum in (("TimeoutSeconds", 1), ("HeartbeatSeconds", 1)):
        if field in state:
            ck.integer(state[field], child(loc, field), minimum=minimum, maximum=99999999, language=language)
        ck.path(state, field + "Path", loc, reference=True)
        ck.exclusive(state, (field, field + "Path"), loc)
    timeout: Any = state.get("TimeoutSeconds")
    heartbeat: Any = state.get("HeartbeatSeconds")
    if is_int(timeout) and is_int(heartbeat) and heartbeat >= timeout:
        ck.schema("HeartbeatSeconds must be smaller than TimeoutSeconds", child(loc, "HeartbeatSeconds"))
    if "Credentials" in state:
        cloc = child(loc, "Credentials")
        creds = state["Credentials"]
        if language == JSONATA and is_jsonata(creds):
            ck.jsonata(creds, cloc)
        elif ck.expect(creds, dict, cloc):
            if "RoleArn" not in creds and "RoleArn.$" not in creds:
                ck.schema("The field 'RoleArn' is required but was missing", cloc)
            if language == JSONATA:
                ck.jsonata_values(creds, cloc)
            else:
                ck.template(creds, cloc)


def _resource(ck: Checker, resource: str, loc: str) -> None:
    if ck.machine_type == "EXPRESS":
        if _ACTIVITY.match(resource):
            ck.schema("Express state machine does not support Activity ARN", loc)
        elif _SYNC.search(resource):
            ck.schema("Express state machine does not support '.sync' service integration", loc)
        elif resource.endswith(".waitForTaskToken"):
            # AWS's text ends with a space before " at ...": kept so the message matches exactly.
            ck.schema("Express state machine does not support '.waitForTaskToken' service integration ", loc)
    m = _INTEGRATION.match(resource)
    if (
        m is not None
        and m.group(1) in F.KNOWN_INTEGRATIONS
        and m.group(2) not in F.KNOWN_INTEGRATIONS[m.group(1)]
    ):
        ck.schema(
            f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the "
            "resource is not available in this region.",
            loc,
        )


def _wait(ck: Checker, state: dict[str, Any], loc: str, language: str) -> None:
    fields = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
    present = [f for f in fields if f in state]
    if not present:
        ck.schema(f"A Wait state needs exactly one of these fields: [{', '.join(fields)}]", loc)
    ck.exclusive(state, fields, loc)
    if "Seconds" in state:
        ck.integer(state["Seconds"], child(loc, "Seconds"), minimum=0, maximum=99999999, language=language)
    if "Timestamp" in state:
        value, tloc = state["Timestamp"], child(loc, "Timestamp")
        if language == JSONATA and is_jsonata(value):
            ck.jsonata(value, tloc)
        elif ck.expect(value, str, tloc) and not is_rfc3339(value):
            ck.schema("String does not match RFC3339 timestamp", tloc)
    ck.path(state, "SecondsPath", loc, reference=True)
    ck.path(state, "TimestampPath", loc, reference=True)


def _fail(ck: Checker, state: dict[str, Any], loc: str, language: str) -> None:
    for field in ("Error", "Cause"):
        ck.exclusive(state, (field, field + "Path"), loc)
        if field in state and ck.expect(state[field], str, child(loc, field)) and language == JSONATA:
            ck.jsonata_values(state[field], child(loc, field))
        if language == JSONPATH:
            ck.path_or_intrinsic(state, field + "Path", loc)


def _choice(ck: Checker, state: dict[str, Any], loc: str, language: str) -> list[Transition]:
    transitions: list[Transition] = []
    if "Default" in state and ck.expect(state["Default"], str, child(loc, "Default")):
        transitions.append((state["Default"], child(loc, "Default")))
    if not ck.required(state, ("Choices",), loc):
        return transitions
    cloc = child(loc, "Choices")
    if not ck.non_empty_list(state["Choices"], cloc):
        return transitions
    for i, rule in enumerate(state["Choices"]):
        rloc = item(cloc, i)
        if not ck.expect(rule, dict, rloc):
            continue
        _choice_rule(ck, rule, rloc, language, top=True)
        if "Next" in rule and ck.expect(rule["Next"], str, child(rloc, "Next")):
            transitions.append((rule["Next"], child(rloc, "Next")))
    return transitions


def _choice_rule(ck: Checker, rule: dict[str, Any], loc: str, language: str, *, top: bool) -> None:
    extras = F.CHOICE_RULE_EXTRAS if top else F.NESTED_RULE_EXTRAS
    if top:
        ck.required(rule, ("Next",), loc)
        ck.assign(rule, loc, language)
    if language == JSONATA:
        ck.unknown_fields(rule, extras | {"Condition"} | _jsonpath_rule_fields(), loc)
        ck.language_fields(
            rule, language, ("Variable", *F.BOOLEAN_OPERATORS, *F.COMPARISON_OPERATORS), (), loc
        )
        if ck.required(rule, ("Condition",), loc):
            condition = rule["Condition"]
            if isinstance(condition, str) and is_jsonata(condition):
                ck.jsonata(condition, child(loc, "Condition"))
            elif not isinstance(condition, bool):
                ck.schema(
                    "The field 'Condition' must be a JSONata expression '{% ... %}' or a boolean",
                    child(loc, "Condition"),
                )
        if "Output" in rule:
            ck.jsonata_values(rule["Output"], child(loc, "Output"))
        return
    ck.unknown_fields(rule, extras | {"Condition"} | _jsonpath_rule_fields(), loc)
    ck.language_fields(rule, language, (), ("Condition", "Output"), loc)
    operators = [k for k in rule if k in F.COMPARISON_OPERATORS or k in F.BOOLEAN_OPERATORS]
    if len(operators) != 1:
        listed = ", ".join(operators) if operators else "none"
        ck.schema(
            "A choice rule must have exactly one comparison operator (StringEquals, NumericLessThan, IsPresent ...) "
            f"or one of And, Or, Not; found: {listed}",
            loc,
        )
    for op in operators:
        oloc = child(loc, op)
        value = rule[op]
        if op in ("And", "Or"):
            if ck.non_empty_list(value, oloc):
                for j, sub in enumerate(value):
                    if ck.expect(sub, dict, item(oloc, j)):
                        _choice_rule(ck, sub, item(oloc, j), language, top=False)
        elif op == "Not":
            if ck.expect(value, dict, oloc):
                _choice_rule(ck, value, oloc, language, top=False)
        else:
            _comparison_operand(ck, op, value, oloc)
    comparison = any(op in F.COMPARISON_OPERATORS for op in operators)
    if comparison:
        if ck.required(rule, ("Variable",), loc):
            ck.path(rule, "Variable", loc)
    elif "Variable" in rule and operators:
        ck.schema("Field 'Variable' is only allowed together with a comparison operator", loc)


def _jsonpath_rule_fields() -> frozenset[str]:
    return frozenset({"Variable", *F.BOOLEAN_OPERATORS, *F.COMPARISON_OPERATORS})


def _comparison_operand(ck: Checker, op: str, value: Any, loc: str) -> None:
    kind = F.COMPARISON_OPERATORS[op]
    if kind == "path":
        if (problem := path_error(value)) is not None:
            ck.schema(f"The value for the field '{op}' must be a valid JSONPath ({problem})", loc)
    elif kind == "string":
        ck.expect(value, str, loc)
    elif kind == "numeric":
        ck.expect(value, float, loc)
    elif kind == "boolean":
        ck.expect(value, bool, loc)
    elif kind == "timestamp" and ck.expect(value, str, loc) and not is_rfc3339(value):
        ck.schema("String does not match RFC3339 timestamp", loc)


def _parallel(ck: Checker, state: dict[str, Any], loc: str, language: str) -> None:
    if not ck.required(state, ("Branches",), loc):
        return
    bloc = child(loc, "Branches")
    if not ck.non_empty_list(state["Branches"], bloc):
        return
    for i, branch in enumerate(state["Branches"]):
        check_scope(ck, branch, item(bloc, i), F.BRANCH_FIELDS, top=False)


def _map(ck: Checker, state: dict[str, Any], loc: str, language: str) -> None:
    processors = [f for f in ("ItemProcessor", "Iterator") if f in state]
    if not processors:
        ck.schema("A Map state needs an 'ItemProcessor' (or the legacy 'Iterator') field", loc)
    ck.exclusive(state, ("ItemProcessor", "Iterator"), loc)
    for processor_field in processors:
        ploc = child(loc, processor_field)
        processor = state[processor_field]
        check_scope(ck, processor, ploc, F.PROCESSOR_FIELDS, top=False)
        if isinstance(processor, dict) and "ProcessorConfig" in processor:
            _processor_config(ck, processor["ProcessorConfig"], child(ploc, "ProcessorConfig"))
    if language == JSONPATH:
        ck.path(state, "ItemsPath", loc, reference=True)
        ck.payload(state, "ItemSelector", loc, language, object_only=True)
    else:
        if "Items" in state:
            items, iloc = state["Items"], child(loc, "Items")
            if not isinstance(items, list) and not is_jsonata(items):
                ck.schema("Expected value of type [ARRAY] or a JSONata expression '{% ... %}'", iloc)
            ck.jsonata_values(items, iloc)
        ck.payload(state, "ItemSelector", loc, language, object_only=True)
    for field, minimum, maximum in (
        ("MaxConcurrency", 0, None),
        ("ToleratedFailureCount", 0, None),
        ("ToleratedFailurePercentage", 0, 100),
    ):
        if field in state:
            if field == "ToleratedFailurePercentage":
                ck.number(
                    state[field], child(loc, field), minimum=minimum, maximum=maximum, language=language
                )
            else:
                ck.integer(state[field], child(loc, field), minimum=minimum, language=language)
        if language == JSONPATH:
            ck.path(state, field + "Path", loc, reference=True)
        ck.exclusive(state, (field, field + "Path"), loc)
    if "Label" in state:
        _label(ck, state["Label"], child(loc, "Label"))
    if "ItemReader" in state:
        _item_reader(ck, state["ItemReader"], child(loc, "ItemReader"), language)
    if "ItemBatcher" in state:
        _item_batcher(ck, state["ItemBatcher"], child(loc, "ItemBatcher"), language)
    if "ResultWriter" in state:
        _result_writer(ck, state["ResultWriter"], child(loc, "ResultWriter"), language)


def _processor_config(ck: Checker, config: Any, loc: str) -> None:
    if not ck.expect(config, dict, loc):
        return
    ck.unknown_fields(config, F.PROCESSOR_CONFIG_FIELDS, loc)
    if "Mode" in config:
        ck.enum(config["Mode"], F.PROCESSOR_MODES, child(loc, "Mode"))
    if "ExecutionType" in config:
        ck.enum(config["ExecutionType"], F.EXECUTION_TYPES, child(loc, "ExecutionType"))


def _label(ck: Checker, label: Any, loc: str) -> None:
    if not ck.expect(label, str, loc):
        return
    if not label:
        ck.schema("Label cannot be empty", loc)
    elif len(label) > F.LABEL_MAX_LENGTH:
        ck.schema(f"Label cannot exceed {F.LABEL_MAX_LENGTH} characters", loc)
    else:
        for ch in label:
            if ch in F.LABEL_FORBIDDEN or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
                ck.schema(f"Label contains invalid character: {ch!r}", loc)
                break


def _item_reader(ck: Checker, reader: Any, loc: str, language: str) -> None:
    if not ck.expect(reader, dict, loc):
        return
    ck.unknown_fields(reader, F.ITEM_READER_FIELDS, loc)
    ck.language_fields(reader, language, ("Parameters",), ("Arguments",), loc)
    if ck.required(reader, ("Resource",), loc):
        ck.expect(reader["Resource"], str, child(loc, "Resource"))
    ck.payload(reader, "Parameters" if language == JSONPATH else "Arguments", loc, language, object_only=True)
    if "ReaderConfig" in reader:
        rloc = child(loc, "ReaderConfig")
        config = reader["ReaderConfig"]
        if ck.expect(config, dict, rloc):
            if "InputType" in config:
                ck.enum(config["InputType"], F.READER_INPUT_TYPES, child(rloc, "InputType"))
            if "MaxItems" in config:
                ck.integer(config["MaxItems"], child(rloc, "MaxItems"), minimum=0, language=language)
            if language == JSONPATH:
                ck.path(config, "MaxItemsPath", rloc, reference=True)


def _item_batcher(ck: Checker, batcher: Any, loc: str, language: str) -> None:
    if not ck.expect(batcher, dict, loc):
        return
    ck.unknown_fields(batcher, F.ITEM_BATCHER_FIELDS, loc)
    for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        if field in batcher:
            ck.integer(batcher[field], child(loc, field), minimum=1, language=language)
        if language == JSONPATH:
            ck.path(batcher, field + "Path", loc, reference=True)
        ck.exclusive(batcher, (field, field + "Path"), loc)
    ck.payload(batcher, "BatchInput", loc, language, object_only=True)


def _result_writer(ck: Checker, writer: Any, loc: str, language: str) -> None:
    if not ck.expect(writer, dict, loc):
        return
    ck.unknown_fields(writer, F.RESULT_WRITER_FIELDS, loc)
    ck.language_fields(writer, language, ("Parameters",), ("Arguments",), loc)
    if not writer:
        ck.schema("A ResultWriter needs 'Resource' with its parameters, or 'WriterConfig'", loc)
    if "Resource" in writer:
        ck.expect(writer["Resource"], str, child(loc, "Resource"))
    ck.payload(writer, "Parameters" if language == JSONPATH else "Arguments", loc, language, object_only=True)
    if "WriterConfig" in writer:
        wloc = child(loc, "WriterConfig")
        config = writer["WriterConfig"]
        if ck.expect(config, dict, wloc):
            ck.unknown_fields(config, F.WRITER_CONFIG_FIELDS, wloc)
            if "Transformation" in config:
                ck.enum(config["Transformation"], F.WRITER_TRANSFORMATIONS, child(wloc, "Transformation"))
            if "OutputType" in config:
                ck.enum(config["OutputType"], F.WRITER_OUTPUT_TYPES, child(wloc, "OutputType"))
