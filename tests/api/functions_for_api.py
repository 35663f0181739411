"""Lambda stand-ins for the API tests."""

from typing import Any


def double(event: Any, context: Any) -> Any:
    """Doubles ``event["n"]``."""
    return {"n": event["n"] * 2}


FUNCTIONS = {"double": double}
