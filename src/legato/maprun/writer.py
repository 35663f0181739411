"""ResultWriter: child execution results written to S3 as a Distributed Map does.

Under ``Prefix/MAP_RUN_ID/`` AWS writes ``SUCCEEDED_n.json``, ``FAILED_n.json`` and
``PENDING_n.json`` (a new file when one would pass 5 GB) and, last, ``manifest.json``
that lists them. Results are appended to spool files as children end, so memory stays
flat however many items the Map Run has; the objects are stored at :meth:`finish`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from legato import _json
from legato.errors import StatesError
from legato.integrations.aws_sdk import AwsServiceError

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["ChildResult", "ResultWriter"]

RESULT_WRITER_FAILED = "States.ResultWriterFailed"
_GROUPS = {
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "TIMED_OUT": "FAILED",
    "ABORTED": "FAILED",
    "PENDING": "PENDING",
}
_COPY = 1024 * 1024


@dataclass(frozen=True)
class ChildResult:
    """How one child execution of a Map Run ended (or ``PENDING`` when it never ran)."""

    index: int
    """The item's (or batch's) position in the Map Run."""
    status: str
    """``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED`` or ``PENDING``."""
    input: Any
    """The child's input."""
    output: Any | None
    """The child's output when it succeeded."""
    error: str | None
    """The error name when it failed."""
    cause: str | None
    """The error cause when it failed."""
    execution_arn: str
    name: str
    start_date: float
    """Epoch seconds."""
    stop_date: float | None
    """Epoch seconds; None for a child that never ended."""


def _date(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class _File:
    spool: IO[bytes]
    size: int = 0
    count: int = 0


@dataclass
class _Group:
    files: list[_File] = field(default_factory=list)


class ResultWriter:
    """Collects a Map Run's child results and writes them under ``Prefix/MAP_RUN_ID/``.

    ``config`` is the evaluated ResultWriter (Resource, Parameters or Arguments with
    Bucket and Prefix, WriterConfig with Transformation and OutputType), or None.
    Without ``Resource`` nothing is exported (a WriterConfig alone only shapes the
    state's output, which the Map state does itself).
    """

    file_limit: int = 5 * 1024**3
    """The largest result file; results go on in the next file (``SUCCEEDED_1.json`` ...)."""

    def __init__(self, config: Mapping[str, Any] | None, map_run_arn: str, services: Services) -> None:
        self._services = services
        self._map_run_arn = map_run_arn
        self._enabled = bool(config) and bool(config and config.get("Resource"))
        config = config or {}
        params = config.get("Parameters")
        if params is None:
            params = config.get("Arguments")
        params = params if isinstance(params, dict) else {}
        writer = config.get("WriterConfig") or {}
        self.bucket = params.get("Bucket")
        prefix = str(params.get("Prefix") or "").rstrip("/")
        run_id = map_run_arn.rsplit(":", 1)[-1]
        self.base = f"{prefix}/{run_id}/" if prefix else f"{run_id}/"
        self.transformation = str(writer.get("Transformation") or "NONE")
        self.output_type = str(writer.get("OutputType") or "JSON")
        head, _, _ = map_run_arn.rpartition(":")
        self._state_machine_arn = head.replace(":mapRun:", ":stateMachine:", 1)
        self._groups: dict[str, _Group] = {name: _Group() for name in ("FAILED", "PENDING", "SUCCEEDED")}
        if self._enabled and not isinstance(self.bucket, str):
            raise StatesError(RESULT_WRITER_FAILED, "The ResultWriter's Parameters must name a Bucket.")

    @property
    def manifest_key(self) -> str:
        """Where manifest.json goes."""
        return self.base + "manifest.json"

    def _entries(self, result: ChildResult, group: str) -> list[Any]:
        if group == "SUCCEEDED" and self.transformation in ("COMPACT", "FLATTEN"):
            if self.transformation == "FLATTEN" and isinstance(result.output, list):
                return list(result.output)
            return [result.output]
        entry: dict[str, Any] = {
            "ExecutionArn": result.execution_arn,
            "Input": _json.dumps(result.input),
            "InputDetails": {"Included": True},
            "Name": result.name,
        }
        if result.status == "SUCCEEDED":
            entry["Output"] = _json.dumps(result.output)
            entry["OutputDetails"] = {"Included": True}
        entry["RedriveCount"] = 0
        entry["RedriveStatus"] = "NOT_REDRIVABLE"
        entry["RedriveStatusReason"] = (
            "Execution is SUCCEEDED and cannot be redriven"
            if result.status == "SUCCEEDED"
            else "Execution is a Child Execution of Map Run and must be redriven as a part of Map Run"
        )
        entry["StartDate"] = _date(result.start_date)
        entry["StateMachineArn"] = self._state_machine_arn
        entry["Status"] = result.status
        if result.stop_date is not None:
            entry["StopDate"] = _date(result.stop_date)
        if group == "FAILED":
            if result.error is not None:
                entry["Error"] = result.error
            if result.cause is not None:
                entry["Cause"] = result.cause
        return [entry]

    def _append(self, group: _Group, text: bytes) -> None:
        files = group.files
        current = files[-1] if files else None
        closing = 1 if self.output_type == "JSON" else 0  # the final "]"
        if current is None or (current.count and current.size + len(text) + 1 + closing > self.file_limit):
            current = _File(tempfile.TemporaryFile())
            files.append(current)
        if self.output_type == "JSONL":
            data = text + b"\n"
        else:
            data = (b"," if current.count else b"[") + text
        current.spool.write(data)
        current.size += len(data)
        current.count += 1

    async def add(self, result: ChildResult) -> None:
        """Records one ended child; results are written as they arrive (bounded memory)."""
        if not self._enabled:
            return
        group = _GROUPS.get(result.status, "FAILED")
        for entry in self._entries(result, group):
            self._append(self._groups[group], _json.dumps(entry).encode())

    async def finish(self) -> dict[str, Any] | None:
        """Writes ``manifest.json`` and the result files; returns the Map state's result
        (``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``) when a ResultWriter
        is configured, else None. Raises ``StatesError("States.ResultWriterFailed", ...)``."""
        if not self._enabled:
            return None
        try:
            files: dict[str, list[dict[str, Any]]] = {}
            for name, group in self._groups.items():
                listed = []
                for n, part in enumerate(group.files):
                    if self.output_type == "JSON":
                        part.spool.write(b"]")
                        part.size += 1
                    key = f"{self.base}{name}_{n}.json"
                    await self._store(key, part.spool)
                    listed.append({"Key": key, "Size": part.size})
                files[name] = listed
            manifest = {
                "DestinationBucket": self.bucket,
                "MapRunArn": self._map_run_arn,
                "ResultFiles": files,
            }
            with tempfile.TemporaryFile() as spool:
                spool.write(_json.dumps(manifest).encode())
                await self._store(self.manifest_key, spool)
        finally:
            for group in self._groups.values():
                for part in group.files:
                    part.spool.close()
        return {
            "MapRunArn": self._map_run_arn,
            "ResultWriterDetails": {"Bucket": self.bucket, "Key": self.manifest_key},
        }

    async def _store(self, key: str, spool: IO[bytes]) -> None:
        spool.seek(0)
        bucket = str(self.bucket)
        services = self._services
        config = services.integrations.service("s3")
        from legato.integrations.aws_sdk import _client, _client_error, _embedded_error, service_info

        if config is None:
            from legato.integrations.s3 import object_store

            store = object_store(services)
            upload = store.upload()
            while chunk := spool.read(_COPY):
                upload.write(chunk)
            try:
                store.put(bucket, key, upload, content_type="application/json")
            except AwsServiceError as exc:
                raise StatesError(RESULT_WRITER_FAILED, _embedded_error(services, "s3", exc).cause) from None
            return

        def put() -> None:
            from botocore.exceptions import ClientError

            client = _client(services, service_info("s3"), config)
            try:
                client.put_object(Bucket=bucket, Key=key, Body=spool, ContentType="application/json")
            except ClientError as exc:
                raise StatesError(
                    RESULT_WRITER_FAILED, _client_error(service_info("s3"), exc).cause
                ) from None

        await asyncio.get_running_loop().run_in_executor(services.executor, put)
