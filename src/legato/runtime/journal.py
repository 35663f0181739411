"""Where an execution's history events go to become durable.

A Standard execution is event-sourced: every history event is appended to the
journal, and before the execution starts a side effect (calling a Task's
resource) it waits until everything appended so far is durable. On restart the
recorded events are handed back to the execution, which replays them: a state
whose completion was recorded is never run again.

Events may carry internal keys starting with ``_`` (where in the execution the
event belongs, for replay); stores keep them, the API never shows them.
"""

from __future__ import annotations

from typing import Any, Protocol


class Journal(Protocol):
    """The durable log of history events."""

    def append(self, execution_arn: str, event: dict[str, Any]) -> None:
        """Queues one event for durable storage; does not block."""
        ...

    async def flush(self) -> None:
        """Returns once every event appended so far is durable."""
        ...


class NullJournal:
    """Keeps nothing: Express executions and ``legato.run``."""

    def append(self, execution_arn: str, event: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the API shows it: without the internal ``_`` keys."""
    if not any(k.startswith("_") for k in event):
        return event
    return {k: v for k, v in event.items() if not k.startswith("_")}
