"""Finished Express executions: the most recent ones, kept in memory.

Express executions have no durable record, and the Step Functions API reads none back
(DescribeExecution and GetExecutionHistory refuse an Express ARN); only the engine's own
``wait_for_execution`` does. While one runs, its record (with the live execution) is at
hand; once it ends, the store keeps its record, without the live run and its history, for
the most recent :data:`EXPRESS_KEPT` executions. A server running Express workflows
thus holds a bounded amount of memory however many it runs.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Final

from legato.store.records import ExecutionRecord

EXPRESS_KEPT: Final = 1000
"""How many finished Express executions a store keeps."""


class ExpressArchive:
    """The most recent finished Express executions."""

    def __init__(self, kept: int = EXPRESS_KEPT) -> None:
        self.kept = kept
        self._records: OrderedDict[str, ExecutionRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def keep(self, record: ExecutionRecord) -> None:
        """Keeps a finished execution's record (a copy without its run and history)."""
        self._records.pop(record.arn, None)
        self._records[record.arn] = dataclasses.replace(record, runtime=None, history=[])
        while len(self._records) > self.kept:
            self._records.popitem(last=False)

    def get(self, arn: str) -> ExecutionRecord | None:
        """The kept record, or ``None``."""
        return self._records.get(arn)
