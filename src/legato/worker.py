"""``legato.worker``: a small activity worker for Step Functions activities.

:func:`run` polls GetActivityTask for one activity, calls your function with each
task's input, sends heartbeats while it runs, and reports the result with
SendTaskSuccess, or an exception with SendTaskFailure. It works against a local
``legato serve`` (the default client) or any Step Functions endpoint (pass your
own boto3 client)::

    import legato.worker

    def greet(event):
        return {"greeting": f"Hello, {event['name']}!"}

    legato.worker.run("arn:aws:states:us-east-1:123456789012:activity:greeter", greet)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WORKER_STOPPED", "default_worker_name", "run"]

log = logging.getLogger("legato.worker")

WORKER_STOPPED = "Legato.WorkerStopped"
"""The error reported for a task that arrived after the worker was told to stop."""

_POLL_READ_TIMEOUT = 70  # GetActivityTask holds a poll for up to 60 s


def default_worker_name() -> str:
    """``HOSTNAME-PID``: names the worker in the ActivityStarted event."""
    return f"{socket.gethostname()}-{os.getpid()}"[:80]


def _client() -> Any:
    from botocore.config import Config

    from legato.client import client

    return client(config=Config(read_timeout=_POLL_READ_TIMEOUT))


def _call(fn: Callable[[Any], Any], value: Any) -> Any:
    result = fn(value)
    if inspect.isawaitable(result):

        async def finish() -> Any:
            return await result

        result = asyncio.run(finish())
    return result


def _heartbeats(client: Any, token: str, every: float, done: threading.Event) -> None:
    while not done.wait(every):
        try:
            client.send_task_heartbeat(taskToken=token)
        except Exception as exc:  # the task timed out or ended: stop beating
            log.warning("heartbeat failed, stopping heartbeats: %s", exc)
            return


def _work(
    client: Any, task: dict[str, Any], fn: Callable[[Any], Any], heartbeat_seconds: float | None
) -> None:
    """Runs one task and reports its outcome."""
    token = task["taskToken"]
    done = threading.Event()
    beater = None
    if heartbeat_seconds is not None and heartbeat_seconds > 0:
        beater = threading.Thread(
            target=_heartbeats, args=(client, token, heartbeat_seconds, done), daemon=True
        )
        beater.start()
    try:
        try:
            value = json.loads(task.get("input") or "null")
            output = json.dumps(_call(fn, value))
        except Exception as exc:
            log.info("task failed: %s: %s", type(exc).__name__, exc)
            client.send_task_failure(taskToken=token, error=type(exc).__name__[:256], cause=str(exc)[:32768])
            return
    finally:
        done.set()
        if beater is not None:
            beater.join()
    client.send_task_success(taskToken=token, output=output)


def run(
    activity_arn: str,
    fn: Callable[[Any], Any],
    *,
    client: Any = None,
    heartbeat_seconds: float | None = None,
    worker_name: str | None = None,
    stop_event: threading.Event | None = None,
    max_tasks: int | None = None,
) -> int:
    """Works tasks of ``activity_arn`` until ``stop_event`` is set or ``max_tasks`` were done.

    ``fn`` takes the task's input (parsed JSON) and returns its output (any
    JSON-serialisable value); it may be a coroutine function. An exception it
    raises is reported with SendTaskFailure: its class name as the error and its
    text as the cause. With ``heartbeat_seconds``, a heartbeat is sent that often
    while ``fn`` runs (choose less than the Task's HeartbeatSeconds). ``client``
    is a boto3 ``stepfunctions`` client (default: :func:`legato.client` for a
    local server, with a read timeout longer than the 60-second poll).
    ``worker_name`` is recorded in the ActivityStarted event (default:
    :func:`default_worker_name`).

    Tasks run one at a time, in the calling thread. Setting ``stop_event`` ends the
    loop at once; a task that a poll still in flight receives afterwards is
    failed with :data:`WORKER_STOPPED`, so that it does not wait for nothing.
    Returns the number of tasks worked.
    """
    sfn = client if client is not None else _client()
    name = worker_name or default_worker_name()
    stop = stop_event or threading.Event()
    worked = 0
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="legato-poll")
    try:
        while not stop.is_set() and (max_tasks is None or worked < max_tasks):
            poll = pool.submit(sfn.get_activity_task, activityArn=activity_arn, workerName=name)
            while not stop.is_set():
                try:
                    task = poll.result(timeout=0.1)
                    break
                except concurrent.futures.TimeoutError:
                    continue
            else:
                poll.add_done_callback(lambda f: _refuse(sfn, f))
                break
            if not task.get("taskToken"):
                continue  # the poll ran out of time: poll again
            _work(sfn, task, fn, heartbeat_seconds)
            worked += 1
    finally:
        pool.shutdown(wait=False)
    return worked


def _refuse(client: Any, poll: concurrent.futures.Future[Any]) -> None:
    """Fails a task that a poll received after the worker stopped."""
    if poll.cancelled() or poll.exception() is not None:
        return
    token = poll.result().get("taskToken")
    if token:
        try:
            client.send_task_failure(
                taskToken=token,
                error=WORKER_STOPPED,
                cause="The worker stopped before it could run the task.",
            )
        except Exception as exc:
            log.warning("could not hand back a task after stopping: %s", exc)
