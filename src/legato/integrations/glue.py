"""Embedded Glue jobs: ``glue:startJobRun``, ``glue:startJobRun.sync`` and ``aws-sdk:glue:getJobRun``.

A job is a Python callable ``fn(args, context)`` (``args`` holds the run's
arguments without their ``--`` prefix; ``context`` has ``job_name``,
``job_run_id`` and ``arguments``) or the path of a Python script, which runs
with ``args`` and ``context`` as globals. Register jobs with the
:func:`job` decorator, :func:`register_job`, or a jobs file: a Python file
with a module-level ``GLUE_JOBS = {"name": fn_or_script_path}`` mapping, loaded
by ``legato serve --jobs FILE`` (the functions file may double as the jobs file).

A run executes in the engine's thread pool; its state (RUNNING, then SUCCEEDED or
FAILED with the exception as ``ErrorMessage``) is kept in the messaging store. A
run that a stopped server left RUNNING is FAILED when the server starts again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import runpy
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import LegatoError, StatesError
from legato.integrations import _remote
from legato.integrations._aws_response import sdk_metadata, service_error
from legato.integrations._msgstore import store_for
from legato.integrations.aws_sdk import AwsServiceError, embedded
from legato.integrations.registry import TaskCall, integration

if TYPE_CHECKING:
    from legato.integrations.settings import IntegrationSettings
    from legato.runtime.services import Services

__all__ = ["JobContext", "get_job_run", "job", "load_jobs_file", "register_job", "start_job_run"]

Job = Callable[[dict[str, str], "JobContext"], Any] | str | Path
_JOBS: dict[str, Job] = {}
_STATE_KEY = "glue.jobs"
_RUNS_KEY = "glue.runs"


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job run is told about itself."""

    job_name: str
    job_run_id: str
    arguments: dict[str, str]
    """The run's arguments as given (``--key``: ``value``)."""


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers the decorated function as the Glue job ``name`` (in every engine)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _JOBS[name] = fn
        return fn

    return register


def register_job(name: str, fn: Job, settings: IntegrationSettings | None = None) -> None:
    """Registers a job callable or script path, for one engine's settings or for every engine."""
    if settings is None:
        _JOBS[name] = fn
    else:
        settings.state.setdefault(_STATE_KEY, {})[name] = fn


def load_jobs_file(path: str | Path, settings: IntegrationSettings) -> list[str]:
    """Imports a jobs file and registers its ``GLUE_JOBS``; returns the job names."""
    p = Path(path)
    if not p.is_file():
        raise LegatoError(f"jobs file not found: {p}")
    name = f"legato_jobs_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise LegatoError(f"cannot import jobs file {p}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise LegatoError(f"jobs file {p} failed to import: {type(exc).__name__}: {exc}") from exc
    table = getattr(module, "GLUE_JOBS", None)
    if not isinstance(table, Mapping):
        raise LegatoError(f"{p}: define GLUE_JOBS, a mapping of job names to callables or script paths")
    for key, fn in table.items():
        if not callable(fn) and not isinstance(fn, str | Path):
            raise LegatoError(f"{p}: GLUE_JOBS[{key!r}] is neither callable nor a script path")
        if isinstance(fn, str | Path) and not Path(fn).is_absolute():
            fn = p.parent / fn
        register_job(str(key), fn, settings)
    return [str(k) for k in table]


def _lookup(settings: IntegrationSettings, name: str) -> Job | None:
    jobs = settings.state.get(_STATE_KEY) or {}
    return jobs.get(name) or _JOBS.get(name)


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _not_found(services: Services, name: str) -> StatesError:
    return service_error(
        services,
        "Glue.EntityNotFoundException",
        f"Failed to start job run due to missing metadata (job {name} is not registered)",
        "AWSGlue",
        400,
        "EntityNotFoundException",
    )


def _run_job(fn: Job, args: dict[str, str], ctx: JobContext) -> None:
    if callable(fn):
        result = fn(args, ctx)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    else:
        runpy.run_path(str(fn), init_globals={"args": args, "context": ctx}, run_name="__main__")


async def _execute(services: Services, run_id: str, name: str, fn: Job, arguments: dict[str, str]) -> None:
    store = store_for(services.integrations)
    args = {k[2:] if k.startswith("--") else k: str(v) for k, v in arguments.items()}
    ctx = JobContext(name, run_id, dict(arguments))
    loop = asyncio.get_running_loop()
    error: str | None = None
    with services.clock.busy():  # time stands still while the job runs
        try:
            await asyncio.wrap_future(services.executor.submit(_run_job, fn, args, ctx), loop=loop)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
    now = services.clock.time()
    store.execute(
        "UPDATE job_runs SET state = ?, modified = ?, completed = ?, error = ? WHERE id = ?",
        ("FAILED" if error else "SUCCEEDED", now, now, error, run_id),
    )


def start_job_run(services: Services, name: str, arguments: dict[str, Any] | None = None) -> str:
    """StartJobRun: starts the job in the thread pool (needs a running loop); returns the run id."""
    fn = _lookup(services.integrations, name)
    if fn is None:
        raise _not_found(services, name)
    args = {str(k): v if isinstance(v, str) else _json.dumps(v) for k, v in (arguments or {}).items()}
    run_id = "jr_" + secrets.token_hex(32)
    now = services.clock.time()
    store_for(services.integrations).execute(
        "INSERT INTO job_runs VALUES (?, ?, 'RUNNING', ?, ?, ?, NULL, NULL)",
        (run_id, name, _json.dumps(args), now, now),
    )
    task = asyncio.get_running_loop().create_task(_execute(services, run_id, name, fn, args))
    runs: dict[str, asyncio.Task[None]] = services.integrations.state.setdefault(_RUNS_KEY, {})
    runs[run_id] = task
    task.add_done_callback(lambda _: runs.pop(run_id, None))
    return run_id


def get_job_run(settings: IntegrationSettings, name: str, run_id: str) -> dict[str, Any] | None:
    """GetJobRun's ``JobRun``, or None when there is no such run of that job."""
    rows = store_for(settings).query(
        "SELECT id, job, state, arguments, started, modified, completed, error FROM job_runs WHERE id = ?",
        (run_id,),
    )
    if not rows or rows[0][1] != name:
        return None
    rid, job_name, state, arguments, started, modified, completed, error = rows[0]
    if state == "RUNNING" and rid not in (settings.state.get(_RUNS_KEY) or {}):
        state, error = "FAILED", "the run was interrupted: the server stopped while it ran"
    run: dict[str, Any] = {
        "Id": rid,
        "Attempt": 0,
        "JobName": job_name,
        "StartedOn": _iso(started),
        "LastModifiedOn": _iso(modified),
        "JobRunState": state,
        "Arguments": _json.loads(arguments),
        "PredecessorRuns": [],
        "AllocatedCapacity": 0,
        "Timeout": 2880,
        "MaxCapacity": 0.0625,
        "GlueVersion": "3.0",
    }
    if completed is not None:
        run["CompletedOn"] = _iso(completed)
        run["ExecutionTime"] = int(completed - started)
    if error is not None:
        run["ErrorMessage"] = error
    return run


def _job_arguments(value: Any) -> dict[str, str]:
    """A run's ``Arguments`` as Glue takes them: every value a string (objects as JSON text)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else _json.dumps(v) for k, v in value.items()}


@integration("glue", "startJobRun")
async def glue_start_job_run(call: TaskCall) -> Any:
    """``glue:startJobRun`` (``{JobName, JobRunId}``) and ``.sync`` (the finished ``JobRun``;
    a run that does not succeed fails the Task with ``States.TaskFailed`` and the JobRun as cause)."""
    params = call.parameters if isinstance(call.parameters, dict) else {}
    services = call.services
    config = _remote.endpoint(services, "glue")
    if config is not None:
        return await _remote_job_run(call, params, config)
    name = params.get("JobName")
    resumed = call.resumed if call.pattern == "sync" and isinstance(call.resumed, dict) else {}
    run_id = resumed.get("JobRunId")
    if isinstance(run_id, str) and isinstance(resumed.get("JobName"), str):
        # The engine restarted while the run went on: wait for that run, start no other.
        name = resumed["JobName"]
    else:
        if not isinstance(name, str) or not name:
            raise service_error(
                services,
                "Glue.InvalidInputException",
                "1 validation error detected: Value null at 'jobName' failed to satisfy constraint: "
                "Member must not be null",
                "AWSGlue",
                400,
                "InvalidInputException",
            )
        run_id = start_job_run(services, name, _job_arguments(params.get("Arguments")))
        result: dict[str, Any] = {"JobName": name, "JobRunId": run_id}
        result.update(
            sdk_metadata(services, "application/x-amz-json-1.1", len(_json.dumps({"JobRunId": run_id})))
        )
        if call.pattern != "sync":
            return result
        if call.submitted is not None:
            call.submitted(result)
    assert isinstance(name, str) and isinstance(run_id, str)
    task = (services.integrations.state.get(_RUNS_KEY) or {}).get(run_id)
    if task is not None:
        await asyncio.shield(task)
    run = get_job_run(services.integrations, name, run_id)
    if run is None:
        raise StatesError("States.TaskFailed", f"The job run {run_id} of {name} is gone.")
    if run["JobRunState"] != "SUCCEEDED":
        raise StatesError("States.TaskFailed", _json.dumps(run))
    return run


_ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"})
"""The states a job run ends in."""


def _sdk_job_run(run: dict[str, Any]) -> dict[str, Any]:
    """GetJobRun's ``JobRun`` from boto3, with timestamps as the embedded runs show them."""
    return {k: _iso(v.timestamp()) if isinstance(v, datetime) else v for k, v in run.items()}


async def _remote_job_run(call: TaskCall, params: dict[str, Any], config: dict[str, Any]) -> Any:
    """``glue:startJobRun(.sync)`` on a real or compatible Glue: StartJobRun, then for
    ``.sync`` GetJobRun every ``poll_interval`` seconds (default 5) until the run ends."""
    interval = config.get("poll_interval", 5)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
        raise StatesError(
            "States.Runtime",
            "integrations file: services.glue.poll_interval must be a positive number of seconds",
        )
    services = call.services
    name = params.get("JobName")
    resumed = call.resumed if call.pattern == "sync" and isinstance(call.resumed, dict) else {}
    run_id = resumed.get("JobRunId")
    if isinstance(run_id, str):
        name = resumed.get("JobName", name)
    else:
        request = dict(params)
        if "Arguments" in request:
            request["Arguments"] = _job_arguments(request["Arguments"])
        response = await _remote.call(services, "glue", "startJobRun", request, config)
        run_id = response.output.get("JobRunId")
        started = {
            "JobName": name,
            **response.output,
            **_remote.metadata(services, response, "application/x-amz-json-1.1"),
        }
        if call.pattern != "sync":
            return started
        if call.submitted is not None:
            call.submitted(started)
    query = {"JobName": name, "RunId": run_id}
    try:
        with services.clock.busy():  # the run goes on in real time elsewhere
            while True:
                response = await _remote.call(services, "glue", "getJobRun", query, config)
                raw = response.raw.get("JobRun")
                run = _sdk_job_run(raw if isinstance(raw, dict) else {})
                if run.get("JobRunState") in _ENDED:
                    break
                await asyncio.sleep(interval)
    except asyncio.CancelledError:
        _stop_remote_run(services, config, name, run_id)
        raise
    if run.get("JobRunState") != "SUCCEEDED":
        raise StatesError("States.TaskFailed", _json.dumps(run))
    return run


def _stop_remote_run(services: Services, config: dict[str, Any], name: Any, run_id: Any) -> None:
    """Asks Glue to stop a run whose Task was stopped (timed out, aborted), as Step Functions
    does for ``.sync``; best effort, without waiting."""

    async def stop() -> None:
        try:
            await _remote.call(
                services, "glue", "batchStopJobRun", {"JobName": name, "JobRunIds": [run_id]}, config
            )
        except Exception:  # the Task has ended; nothing waits for this answer
            pass

    task = asyncio.get_running_loop().create_task(stop())
    stopping: set[asyncio.Task[None]] = services.integrations.state.setdefault("glue.stopping", set())
    stopping.add(task)
    task.add_done_callback(stopping.discard)


@embedded("glue", "getJobRun")
async def glue_get_job_run(call: TaskCall) -> Any:
    """``aws-sdk:glue:getJobRun``: ``{"JobRun": ...}``."""
    params = call.parameters if isinstance(call.parameters, dict) else {}
    run = get_job_run(call.services.integrations, str(params.get("JobName")), str(params.get("RunId")))
    if run is None:
        raise AwsServiceError("EntityNotFoundException", f"Job Run with id {params.get('RunId')} not found")
    return {"JobRun": run}
