"""Lambda stand-ins for the API tests."""

from typing import Any


def double(event: Any, context: Any) -> Any:
    """Doubles ``event["n"]``."""
    return {"n": event["n"] * 2}


FUNCTIONS = {"double": double}


_flaky_calls: dict[str, int] = {}


def flaky(event: Any, context: Any) -> Any:
    """Fails the first time it is called for ``event["key"]``, then succeeds (redrive tests)."""
    key = str(event["key"])
    _flaky_calls[key] = _flaky_calls.get(key, 0) + 1
    if _flaky_calls[key] == 1:
        raise RuntimeError(f"first call for {key} fails")
    return {"key": key, "calls": _flaky_calls[key]}


FUNCTIONS["flaky"] = flaky
