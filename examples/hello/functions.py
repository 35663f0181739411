"""Python functions standing in for the Lambda functions of ``hello.asl.json``.

Load them with ``legato run hello.asl.json --functions functions.py``.
"""

from __future__ import annotations

from typing import Any


def greet(event: dict[str, Any], context: Any) -> str:
    """Says hello to ``event["name"]``."""
    return f"Hello, {event.get('name', 'world')}!"


def square(event: int, context: Any) -> int:
    """Squares one item of the Map."""
    return event * event


FUNCTIONS = {"greet": greet, "square": square}
