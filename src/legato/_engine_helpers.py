"""Helpers of :mod:`legato.engine`: response shapes of executions and the checks of
request fields shared by several operations (configurations, tags, input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legato import _apirequest as rq
from legato.errors import ApiError
from legato.store.records import ExecutionRecord

Request = Mapping[str, Any]
Response = dict[str, Any]

INPUT_LIMIT = 262144
"""The largest execution input, in UTF-8 bytes."""
TAG_LIMIT = 50
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")


def absorb(record: ExecutionRecord) -> None:
    """Copies a live execution's state into its record."""
    ex = record.runtime
    if ex is None:
        return
    record.status = ex.status
    record.stop_date = ex.stop_time
    record.output_text = ex.output_text
    record.error = ex.error
    record.cause = ex.cause
    record.history = ex.history


def add_error(out: Response, record: ExecutionRecord) -> None:
    """Adds ``error`` and ``cause`` when the execution has them."""
    if record.error is not None:
        out["error"] = record.error
    if record.cause is not None:
        out["cause"] = record.cause


def describe(record: ExecutionRecord) -> Response:
    """The DescribeExecution response for an execution."""
    out: Response = {
        "executionArn": record.arn,
        "stateMachineArn": record.state_machine_arn,
        "name": record.name,
        "status": record.status,
        "startDate": record.start_date,
    }
    if record.stop_date is not None:
        out["stopDate"] = record.stop_date
    out["input"] = record.input_text
    out["inputDetails"] = {"included": True}
    if record.output_text is not None:
        out["output"] = record.output_text
        out["outputDetails"] = {"included": True}
    add_error(out, record)
    if record.trace_header is not None:
        out["traceHeader"] = record.trace_header
    out["redriveCount"] = 0
    if record.status in ("FAILED", "TIMED_OUT", "ABORTED"):
        out["redriveStatus"] = "REDRIVABLE"
    else:
        out["redriveStatus"] = "NOT_REDRIVABLE"
        out["redriveStatusReason"] = f"Execution is {record.status} and cannot be redriven"
    return out


def billing(record: ExecutionRecord) -> dict[str, int]:
    """StartSyncExecution's ``billingDetails``."""
    elapsed = max(0.0, (record.stop_date or record.start_date) - record.start_date)
    # AWS bills Express executions in 100 ms steps at 64 MB at least.
    steps = max(1, -(-int(elapsed * 1000) // 100))
    return {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": steps * 100}


def without_data(event: dict[str, Any]) -> dict[str, Any]:
    """A history event without its payloads (``includeExecutionData=false``)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("input", "output")}
        out[key] = value
    return out


def check_input(text: str | None) -> str:
    """The execution input (``{}`` when absent); raises AWS's errors for a bad one."""
    if text is None:
        return "{}"
    if text.strip() == "":
        raise ApiError(
            "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid execution input.'"
        )
    if len(text.encode("utf-8", errors="surrogatepass")) > INPUT_LIMIT:
        raise ApiError(
            "ValidationException",
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {INPUT_LIMIT}",
        )
    reason = rq.invalid_json_reason(text)
    if reason is not None:
        raise ApiError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{reason}'")
    return text


def logging_configuration(req: Request) -> dict[str, Any]:
    """The request's ``loggingConfiguration``, checked, with AWS's defaults."""
    cfg = rq.get_dict(req, "loggingConfiguration")
    if cfg is None:
        return {"level": "OFF", "includeExecutionData": False}
    level = rq.get_enum(cfg, "level", LOG_LEVELS, "OFF")
    include = rq.get_bool(cfg, "includeExecutionData", False)
    destinations = rq.get_list(cfg, "destinations") or []
    if level != "OFF" and len(destinations) != 1:
        raise ApiError(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        )
    out: dict[str, Any] = {"level": level, "includeExecutionData": include}
    if destinations:
        out["destinations"] = destinations
    return out


def tracing_configuration(req: Request) -> dict[str, Any]:
    """The request's ``tracingConfiguration``, with AWS's default."""
    cfg = rq.get_dict(req, "tracingConfiguration")
    return {"enabled": False if cfg is None else rq.get_bool(cfg, "enabled", False)}


def encryption_configuration(req: Request) -> dict[str, Any]:
    """The request's ``encryptionConfiguration``, with AWS's default."""
    cfg = rq.get_dict(req, "encryptionConfiguration")
    if cfg is None:
        return {"type": "AWS_OWNED_KEY"}
    rq.get_enum(cfg, "type", ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"), "AWS_OWNED_KEY")
    return dict(cfg)


def check_publish(req: Request) -> None:
    """Refuses ``versionDescription`` without ``publish``, and ``publish`` (no versions yet)."""
    publish = rq.get_bool(req, "publish", False)
    if rq.get_str(req, "versionDescription", max_len=256) is not None and not publish:
        raise ApiError("ValidationException", "Version description can only be set when publish is true")
    if publish:
        raise ApiError(
            "ValidationException", "Publishing state machine versions is not supported by Legato yet"
        )


def tags(req: Request, *, required: bool = False) -> dict[str, str]:
    """The request's ``tags`` as a dict, checked."""
    raw = rq.get_list(req, "tags")
    if raw is None:
        if required:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value null at 'tags' failed to satisfy constraint: "
                "Member must not be null",
            )
        return {}
    tags: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError("SerializationException", "Field 'tags' must be a list of {key, value} objects")
        key = rq.need_str(item, "key", max_len=128)
        value = rq.get_str(item, "value", max_len=256) or ""
        tags[key] = value
    if len(tags) > TAG_LIMIT:
        raise ApiError("TooManyTags", f"Too many tags: at most {TAG_LIMIT} are allowed")
    return tags
