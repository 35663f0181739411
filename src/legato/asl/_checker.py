"""The diagnostics collector and the field-level checks every part of a definition shares.

Locations follow AWS: a JSON pointer from the document root in which an array
index is written ``[i]`` after its field (``/States/C/Choices[0]/Next``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from legato.asl import _exprs
from legato.asl._fields import QUERY_LANGUAGES, RESERVED_VARIABLES, VARIABLE_NAME_MAX_LENGTH
from legato.errors import Diagnostic

SCHEMA = "SCHEMA_VALIDATION_FAILED"
JSONPATH = "JSONPath"
JSONATA = "JSONata"

_TYPE_NAMES = {str: "STRING", int: "INTEGER", float: "NUMBER", bool: "BOOLEAN", dict: "OBJECT", list: "ARRAY"}
_RFC3339 = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z",
)


def child(location: str, key: str) -> str:
    """The location of field ``key`` inside the object at ``location``."""
    return f"/{key}" if location == "/" else f"{location}/{key}"


def item(location: str, index: int) -> str:
    """The location of element ``index`` of the array at ``location``."""
    return f"{location}[{index}]"


def is_int(value: Any) -> bool:
    """True for a JSON integer (``bool`` excluded; ``2.0`` counts, as in JSON)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def is_number(value: Any) -> bool:
    """True for a JSON number."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_rfc3339(value: Any) -> bool:
    """True for an RFC 3339 date-time such as ``2016-03-14T01:59:00Z``."""
    if not isinstance(value, str):
        return False
    m = _RFC3339.match(value)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60


def type_name(kind: type | tuple[type, ...]) -> str:
    """AWS's name for a JSON type, as in ``Expected value of type [STRING]``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return ", ".join(_TYPE_NAMES[k] for k in kinds)


class Checker:
    """Collects diagnostics while a definition is walked.

    ``machine_language`` is the top-level query language, which every state
    without its own ``QueryLanguage`` inherits (a Map's or Parallel's own
    language does not reach the states inside it, as measured on AWS).
    """

    def __init__(self, machine_type: str) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.machine_type = machine_type
        self.machine_language = JSONPATH
        self.state_names: set[str] = set()

    # -- reporting ---------------------------------------------------------------

    def error(self, code: str, message: str, location: str) -> None:
        """Records an ERROR diagnostic."""
        self.diagnostics.append(Diagnostic(code, message, location, "ERROR"))

    def schema(self, message: str, location: str) -> None:
        """Records a SCHEMA_VALIDATION_FAILED error."""
        self.error(SCHEMA, message, location)

    # -- shapes ------------------------------------------------------------------

    def expect(self, value: Any, kind: type | tuple[type, ...], location: str) -> bool:
        """Reports a value that is not of the JSON type ``kind``; True when it is."""
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = any(
            is_number(value) if k is float else (is_int(value) if k is int else type(value) is k)
            for k in kinds
        )
        if not ok:
            self.schema(f"Expected value of type [{type_name(kind)}]", location)
        return ok

    def required(self, obj: dict[str, Any], names: Iterable[str], location: str) -> bool:
        """Reports the missing fields among ``names``; True when none is missing."""
        missing = [n for n in names if n not in obj]
        if missing:
            self.schema(f"These fields are required: [{', '.join(missing)}]", location)
        return not missing

    def unknown_fields(self, obj: dict[str, Any], allowed: Collection[str], location: str) -> None:
        """Reports every field of ``obj`` outside ``allowed``, suggesting the closest valid name."""
        for name in obj:
            if name in allowed:
                continue
            message = f"Field '{name}' is not supported"
            close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.75)
            if close and close[0] not in obj:
                message += f" (did you mean '{close[0]}'?)"
            self.schema(message, location)

    def exclusive(self, obj: dict[str, Any], names: tuple[str, ...], location: str) -> None:
        """Reports an object that sets more than one of ``names``."""
        present = [n for n in names if n in obj]
        if len(present) > 1:
            self.schema(
                f"Only one of these fields may be set: [{', '.join(names)}]; remove '{present[1]}'",
                child(location, present[0]),
            )

    def non_empty_list(self, value: Any, location: str) -> bool:
        """Reports a value that is not a non-empty array; True when it is one."""
        if not self.expect(value, list, location):
            return False
        if not value:
            self.schema("Value cannot be empty", location)
            return False
        return True

    def enum(self, value: Any, allowed: tuple[str, ...], location: str) -> None:
        """Reports a value outside the string enumeration ``allowed``."""
        if self.expect(value, str, location) and value not in allowed:
            self.schema(f"Value should be one of the following: [{', '.join(allowed)}]", location)

    def integer(
        self,
        value: Any,
        location: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        language: str = JSONPATH,
    ) -> None:
        """Checks an integer field (or, in a JSONata state, a ``{% %}`` expression)."""
        if language == JSONATA and isinstance(value, str) and _exprs.is_jsonata(value):
            self.jsonata(value, location)
            return
        if not is_int(value):
            suffix = " or a JSONata expression '{% ... %}'" if language == JSONATA else ""
            self.schema(f"Expected value of type [INTEGER]{suffix}", location)
            return
        self.bounds(value, location, minimum, maximum)

    def number(
        self,
        value: Any,
        location: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        language: str = JSONPATH,
    ) -> None:
        """Checks a number field (or, in a JSONata state, a ``{% %}`` expression)."""
        if language == JSONATA and isinstance(value, str) and _exprs.is_jsonata(value):
            self.jsonata(value, location)
            return
        if not is_number(value):
            suffix = " or a JSONata expression '{% ... %}'" if language == JSONATA else ""
            self.schema(f"Expected value of type [NUMBER]{suffix}", location)
            return
        self.bounds(value, location, minimum, maximum)

    def bounds(self, value: float, location: str, minimum: float | None, maximum: float | None) -> None:
        """Reports a number outside ``[minimum, maximum]``."""
        if minimum is not None and value < minimum:
            self.schema(f"Minimum value is {minimum}", location)
        elif maximum is not None and value > maximum:
            self.schema(f"Maximum value is {maximum}", location)

    def query_language_value(self, value: Any, location: str) -> str:
        """The language a ``QueryLanguage`` value selects, reporting a value outside the enum.

        Only the exact string ``JSONPath`` selects JSONPath; any other value selects
        JSONata, as AWS resolves it.
        """
        if not isinstance(value, str):
            self.schema("Expected value of type [STRING]", location)
        elif value not in QUERY_LANGUAGES:
            self.schema(f"Value should be one of the following: [{', '.join(QUERY_LANGUAGES)}]", location)
        return JSONPATH if value == JSONPATH else JSONATA

    # -- expressions -------------------------------------------------------------

    def path(
        self, obj: dict[str, Any], key: str, location: str, *, reference: bool = False, nullable: bool = False
    ) -> None:
        """Checks that field ``key`` of ``obj`` (when present) holds a valid path."""
        if key not in obj:
            return
        value = obj[key]
        if value is None and nullable:
            return
        problem = _exprs.path_error(value, reference=reference)
        if problem is not None:
            kind = "a valid reference path" if reference else "a valid JSONPath"
            self.schema(f"The value for the field '{key}' must be {kind} ({problem})", child(location, key))

    def path_or_intrinsic(self, obj: dict[str, Any], key: str, location: str) -> None:
        """Checks a field that takes a reference path or an intrinsic call (``ErrorPath``)."""
        if key in obj and _exprs.dynamic_value_error(obj[key]) is not None:
            self.schema(
                f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call",
                child(location, key),
            )

    def jsonata(self, value: str, location: str) -> None:
        """Reports a ``{% %}`` string that does not compile."""
        problem = _exprs.jsonata_error(value)
        if problem is not None:
            self.error("INVALID_JSONATA_EXPRESSION", problem, location)

    def jsonata_values(self, value: Any, location: str) -> None:
        """Compiles every ``{% %}`` string inside ``value`` (a JSONata state's field)."""
        if isinstance(value, str):
            if _exprs.is_jsonata(value):
                self.jsonata(value, location)
        elif isinstance(value, dict):
            for key, sub in value.items():
                self.jsonata_values(sub, child(location, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self.jsonata_values(sub, item(location, i))

    def template(self, value: Any, location: str) -> None:
        """Checks a JSONPath payload template: every ``.$`` key holds a path or an intrinsic."""
        if isinstance(value, dict):
            for key, sub in value.items():
                if isinstance(key, str) and key.endswith(".$"):
                    if _exprs.dynamic_value_error(sub) is not None:
                        self.schema(
                            f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic "
                            "function call",
                            location,
                        )
                else:
                    self.template(sub, child(location, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self.template(sub, item(location, i))

    def payload(
        self, obj: dict[str, Any], key: str, location: str, language: str, *, object_only: bool = False
    ) -> None:
        """Checks a payload field (``Parameters``, ``Arguments``, ``ItemSelector`` ...)."""
        if key not in obj:
            return
        value, loc = obj[key], child(location, key)
        if language == JSONATA:
            if object_only and not isinstance(value, dict) and not _exprs.is_jsonata(value):
                self.schema("Expected value of type [OBJECT] or a JSONata expression '{% ... %}'", loc)
            self.jsonata_values(value, loc)
        else:
            if object_only and not self.expect(value, dict, loc):
                return
            self.template(value, loc)

    def assign(self, obj: dict[str, Any], location: str, language: str) -> None:
        """Checks an ``Assign`` block: an object of valid variable names."""
        if "Assign" not in obj:
            return
        value, loc = obj["Assign"], child(location, "Assign")
        if not self.expect(value, dict, loc):
            return
        for key in value:
            name = key[:-2] if language == JSONPATH and key.endswith(".$") else key
            if not name.isidentifier() or len(name) > VARIABLE_NAME_MAX_LENGTH:
                self.schema(
                    f"The variable name '{name}' is not valid: use a letter or '_' followed by letters, "
                    f"digits or '_', at most {VARIABLE_NAME_MAX_LENGTH} characters",
                    loc,
                )
            elif name in RESERVED_VARIABLES:
                self.schema(
                    f"The variable name '{name}' is reserved by Step Functions; choose another name", loc
                )
        if language == JSONATA:
            self.jsonata_values(value, loc)
        else:
            self.template(value, loc)

    def language_fields(
        self,
        obj: dict[str, Any],
        language: str,
        jsonpath_only: Iterable[str],
        jsonata_only: Iterable[str],
        location: str,
    ) -> None:
        """Reports the fields ``obj`` sets that belong to the other query language."""
        other, fields = (JSONATA, jsonata_only) if language == JSONPATH else (JSONPATH, jsonpath_only)
        for field in fields:
            if field in obj:
                self.schema(
                    f"The QueryLanguage is set to '{language}', but field '{field}' is only supported for the "
                    f"'{other}' QueryLanguage",
                    location,
                )
