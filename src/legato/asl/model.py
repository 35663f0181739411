"""The state machine as immutable data, with every expression compiled once.

:func:`build_machine` turns a validated definition (a parsed JSON document) into
frozen dataclasses: one per state type, holding compiled paths, payload
templates, intrinsic calls and JSONata expressions. The runtime walks this model
and never looks at the raw document again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from legato.asl.choice import ChoiceRule, compile_choice_rule
from legato.expr.jsonata import JsonataTemplate
from legato.expr.jsonata import compile_template as compile_jsonata
from legato.expr.paths import Path, compile_path
from legato.expr.template import Evaluator, Template, compile_template, dynamic_value

JSONPATH = "JSONPath"
JSONATA = "JSONata"


class _Default:
    """Marks a path field that was not given (its default applies)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()


@dataclass(frozen=True, slots=True)
class Retrier:
    """One entry of a Retry field."""

    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_strategy: str = "NONE"


@dataclass(frozen=True, slots=True)
class Catcher:
    """One entry of a Catch field."""

    error_equals: tuple[str, ...]
    next: str
    result_path: Path | Any | None = DEFAULT
    output: JsonataTemplate | None = None
    assign: Template | JsonataTemplate | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """What every state type has."""

    name: str
    type: str
    query_language: str = JSONPATH
    next: str | None = None
    end: bool = False
    comment: str | None = None
    # JSONPath processing (None means the path is null: discard).
    input_path: Path | Any | None = DEFAULT
    output_path: Path | Any | None = DEFAULT
    parameters: Template | None = None
    result_selector: Template | None = None
    result_path: Path | Any | None = DEFAULT
    # JSONata processing.
    arguments: JsonataTemplate | None = None
    output: JsonataTemplate | None = None
    assign: Template | JsonataTemplate | None = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()

    @property
    def jsonata(self) -> bool:
        """True when the state's query language is JSONata."""
        return self.query_language == JSONATA


@dataclass(frozen=True, slots=True, kw_only=True)
class PassState(State):
    """A Pass state."""

    result: Any = None
    has_result: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskState(State):
    """A Task state."""

    resource: str
    timeout_seconds: int | JsonataTemplate | None = None
    timeout_seconds_path: Path | None = None
    heartbeat_seconds: int | JsonataTemplate | None = None
    heartbeat_seconds_path: Path | None = None
    credentials: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceState(State):
    """A Choice state."""

    choices: tuple[ChoiceRule, ...] = ()
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitState(State):
    """A Wait state."""

    seconds: int | JsonataTemplate | None = None
    timestamp: str | JsonataTemplate | None = None
    seconds_path: Path | None = None
    timestamp_path: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SucceedState(State):
    """A Succeed state."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FailState(State):
    """A Fail state."""

    error: str | JsonataTemplate | None = None
    cause: str | JsonataTemplate | None = None
    error_path: Evaluator | None = None
    cause_path: Evaluator | None = None


@dataclass(frozen=True, slots=True)
class Graph:
    """A set of states with its start: the machine, a branch or an item processor."""

    start_at: str
    states: dict[str, State]
    query_language: str = JSONPATH
    timeout_seconds: int | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelState(State):
    """A Parallel state."""

    branches: tuple[Graph, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MapState(State):
    """A Map state (inline, or distributed)."""

    processor: Graph
    mode: str = "INLINE"
    execution_type: str | None = None
    items_path: Path | Any = DEFAULT
    items: JsonataTemplate | None = None
    item_selector: Template | JsonataTemplate | None = None
    max_concurrency: int | JsonataTemplate = 0
    max_concurrency_path: Path | None = None
    tolerated_failure_percentage: float | JsonataTemplate | None = None
    tolerated_failure_percentage_path: Path | None = None
    tolerated_failure_count: int | JsonataTemplate | None = None
    tolerated_failure_count_path: Path | None = None
    item_reader: Any = None
    item_batcher: Any = None
    result_writer: Any = None
    label: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _path_field(raw: dict[str, Any], key: str) -> Path | Any | None:
    if key not in raw:
        return DEFAULT
    value = raw[key]
    return None if value is None else compile_path(value)


def _opt_path(raw: dict[str, Any], key: str) -> Path | None:
    value = raw.get(key)
    return None if value is None else compile_path(value)


def _maybe_jsonata(value: Any, jsonata: bool) -> Any:
    """A JSONata template for a field that may hold an expression, else the value."""
    if jsonata and isinstance(value, str) and value.strip().startswith("{%"):
        return compile_jsonata(value)
    return value


def _assign(raw: Any, jsonata: bool) -> Template | JsonataTemplate | None:
    if raw is None:
        return None
    return compile_jsonata(raw) if jsonata else compile_template(raw)


def _retriers(raw: Any) -> tuple[Retrier, ...]:
    out = []
    for r in raw or ():
        out.append(
            Retrier(
                error_equals=tuple(r.get("ErrorEquals", ())),
                interval_seconds=float(r.get("IntervalSeconds", 1)),
                max_attempts=int(r.get("MaxAttempts", 3)),
                backoff_rate=float(r.get("BackoffRate", 2.0)),
                max_delay_seconds=(float(r["MaxDelaySeconds"]) if "MaxDelaySeconds" in r else None),
                jitter_strategy=str(r.get("JitterStrategy", "NONE")),
            )
        )
    return tuple(out)


def _catchers(raw: Any, jsonata: bool) -> tuple[Catcher, ...]:
    out = []
    for c in raw or ():
        out.append(
            Catcher(
                error_equals=tuple(c.get("ErrorEquals", ())),
                next=c["Next"],
                result_path=_path_field(c, "ResultPath"),
                output=compile_jsonata(c["Output"]) if jsonata and "Output" in c else None,
                assign=_assign(c.get("Assign"), jsonata),
            )
        )
    return tuple(out)


def build_graph(raw: dict[str, Any], parent_language: str = JSONPATH) -> Graph:
    """Builds a :class:`Graph` (a machine, a branch or an item processor)."""
    language = raw.get("QueryLanguage", parent_language)
    states = {name: build_state(name, body, language) for name, body in raw["States"].items()}
    timeout = raw.get("TimeoutSeconds")
    return Graph(
        start_at=raw["StartAt"],
        states=states,
        query_language=language,
        timeout_seconds=int(timeout) if isinstance(timeout, int | float) else None,
        comment=raw.get("Comment"),
    )


def build_state(name: str, raw: dict[str, Any], parent_language: str) -> State:
    """Builds one state of the model from its definition."""
    language = raw.get("QueryLanguage", parent_language)
    jsonata = language == JSONATA
    kind = raw["Type"]
    common: dict[str, Any] = {
        "name": name,
        "type": kind,
        "query_language": language,
        "next": raw.get("Next"),
        "end": bool(raw.get("End", False)),
        "comment": raw.get("Comment"),
        "assign": _assign(raw.get("Assign"), jsonata),
    }
    if jsonata:
        if "Arguments" in raw:
            common["arguments"] = compile_jsonata(raw["Arguments"])
        if "Output" in raw:
            common["output"] = compile_jsonata(raw["Output"])
    else:
        common["input_path"] = _path_field(raw, "InputPath")
        common["output_path"] = _path_field(raw, "OutputPath")
        if kind not in ("Map",) and "Parameters" in raw:
            common["parameters"] = compile_template(raw["Parameters"])
        if "ResultSelector" in raw:
            common["result_selector"] = compile_template(raw["ResultSelector"])
        common["result_path"] = _path_field(raw, "ResultPath")
    if kind in ("Task", "Parallel", "Map"):
        common["retry"] = _retriers(raw.get("Retry"))
        common["catch"] = _catchers(raw.get("Catch"), jsonata)

    if kind == "Pass":
        return PassState(**common, result=raw.get("Result"), has_result="Result" in raw)
    if kind == "Task":
        return TaskState(
            **common,
            resource=raw["Resource"],
            timeout_seconds=_maybe_jsonata(raw.get("TimeoutSeconds"), jsonata),
            timeout_seconds_path=_opt_path(raw, "TimeoutSecondsPath"),
            heartbeat_seconds=_maybe_jsonata(raw.get("HeartbeatSeconds"), jsonata),
            heartbeat_seconds_path=_opt_path(raw, "HeartbeatSecondsPath"),
            credentials=raw.get("Credentials"),
        )
    if kind == "Choice":
        return ChoiceState(
            **common,
            choices=tuple(compile_choice_rule(c, jsonata) for c in raw.get("Choices", ())),
            default=raw.get("Default"),
        )
    if kind == "Wait":
        return WaitState(
            **common,
            seconds=_maybe_jsonata(raw.get("Seconds"), jsonata),
            timestamp=_maybe_jsonata(raw.get("Timestamp"), jsonata),
            seconds_path=_opt_path(raw, "SecondsPath"),
            timestamp_path=_opt_path(raw, "TimestampPath"),
        )
    if kind == "Succeed":
        return SucceedState(**common)
    if kind == "Fail":
        return FailState(
            **common,
            error=_maybe_jsonata(raw.get("Error"), jsonata),
            cause=_maybe_jsonata(raw.get("Cause"), jsonata),
            error_path=dynamic_value("ErrorPath", raw["ErrorPath"]) if "ErrorPath" in raw else None,
            cause_path=dynamic_value("CausePath", raw["CausePath"]) if "CausePath" in raw else None,
        )
    if kind == "Parallel":
        return ParallelState(
            **common, branches=tuple(build_graph(b, language) for b in raw.get("Branches", ()))
        )
    if kind == "Map":
        processor_raw = raw.get("ItemProcessor") or raw.get("Iterator")
        config = (processor_raw or {}).get("ProcessorConfig") or {}
        selector_raw = raw.get("ItemSelector", raw.get("Parameters"))
        item_selector: Template | JsonataTemplate | None = None
        if selector_raw is not None:
            item_selector = compile_jsonata(selector_raw) if jsonata else compile_template(selector_raw)
        return MapState(
            **common,
            processor=build_graph(processor_raw or {"StartAt": "", "States": {}}, language),
            mode=config.get("Mode", "INLINE"),
            execution_type=config.get("ExecutionType"),
            items_path=_path_field(raw, "ItemsPath"),
            items=compile_jsonata(raw["Items"]) if jsonata and "Items" in raw else None,
            item_selector=item_selector,
            max_concurrency=_maybe_jsonata(raw.get("MaxConcurrency", 0), jsonata),
            max_concurrency_path=_opt_path(raw, "MaxConcurrencyPath"),
            tolerated_failure_percentage=_maybe_jsonata(raw.get("ToleratedFailurePercentage"), jsonata),
            tolerated_failure_percentage_path=_opt_path(raw, "ToleratedFailurePercentagePath"),
            tolerated_failure_count=_maybe_jsonata(raw.get("ToleratedFailureCount"), jsonata),
            tolerated_failure_count_path=_opt_path(raw, "ToleratedFailureCountPath"),
            item_reader=raw.get("ItemReader"),
            item_batcher=raw.get("ItemBatcher"),
            result_writer=raw.get("ResultWriter"),
            label=raw.get("Label"),
            raw=raw,
        )
    raise ValueError(f"unknown state type {kind!r} in state {name!r}")
