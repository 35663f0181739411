"""``legato run`` and ``legato demo``: one execution, its output, optionally its trace."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from legato import _json
from legato.cli._common import UsageError, definition_text, input_text, load_functions, machine_name
from legato.cli.progress import ProgressBoard, watch_engine
from legato.engine import Engine
from legato.errors import ApiError
from legato.integrations.functions import FunctionRegistry
from legato.runtime.clock import Clock, SystemClock, VirtualClock

DEMO_DIR = Path(__file__).resolve().parents[3] / "examples" / "hello"


def run_command(args: argparse.Namespace) -> int:
    """``legato run FILE``: exit 0 when the execution succeeds, 1 when it does not."""
    text = definition_text(args.file)
    payload = input_text(args.input)
    functions = load_functions(args.functions)
    clock: Clock = VirtualClock() if args.clock == "virtual" else SystemClock()
    from legato.cli.serve import map_executor

    executor = map_executor(getattr(args, "executor", None), args.functions)
    board = None if args.json else ProgressBoard(sys.stderr, interval=args.progress_interval)
    result = asyncio.run(execute(text, payload, functions, clock, machine_name(args.file), executor, board))
    return report(result, as_json=args.json, trace=args.trace)


def demo_command(args: argparse.Namespace) -> int:
    """``legato demo``: runs ``examples/hello`` and prints its result."""
    definition = DEMO_DIR / "hello.asl.json"
    if not definition.is_file():
        raise UsageError(f"the demo workflow is not installed (looked for {definition})")
    functions = load_functions(str(DEMO_DIR / "functions.py"))
    payload = '{"name": "Legato", "items": [1, 2, 3]}'
    print(f"Running {definition} with input {payload}", file=sys.stderr)
    result = asyncio.run(execute(definition_text(definition), payload, functions, VirtualClock(), "hello"))
    return report(result, as_json=False, trace=args.trace)


async def execute(
    definition: str,
    payload: str | None,
    functions: FunctionRegistry,
    clock: Clock,
    name: str,
    executor: Any = None,
    progress: ProgressBoard | None = None,
) -> dict[str, Any]:
    """Runs one execution on a fresh engine: its DescribeExecution plus ``history``.
    ``executor`` runs Distributed Map children (None: in process); it is closed at the end.
    With ``progress``, the execution's Map Runs are shown on it while it runs."""
    engine = Engine(clock=clock, functions=functions)
    if executor is not None:
        from legato.maprun.executors import install_executor

        install_executor(engine.services, executor)
    try:
        sm = await engine.create_state_machine(name=name, definition=definition)
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input=payload)
        arn = started["executionArn"]
        watcher: asyncio.Task[None] | None = None
        stop = asyncio.Event()
        if progress is not None:
            watcher = asyncio.create_task(watch_engine(engine, arn, progress, stop))
        try:
            result = await engine.wait_for_execution(arn)
        finally:
            stop.set()
            if watcher is not None:
                await watcher
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await engine.get_execution_history(executionArn=arn, maxResults=1000, nextToken=token)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                break
        result["history"] = events
        return result
    except ApiError as exc:
        raise UsageError(exc.message if exc.type == "InvalidDefinition" else str(exc)) from None
    finally:
        await engine.aclose()
        if executor is not None:
            await executor.aclose()


def report(result: dict[str, Any], *, as_json: bool, trace: bool) -> int:
    """Prints an execution's outcome; returns 0 for SUCCEEDED, else 1."""
    status = result["status"]
    if trace:
        print_trace(result.get("history", []))
    if as_json:
        output = result.get("output")
        print(
            _json.dumps(
                {
                    "status": status,
                    "output": _json.loads(output) if output is not None else None,
                    "error": result.get("error"),
                    "cause": result.get("cause"),
                }
            )
        )
    elif status == "SUCCEEDED":
        print(result.get("output", "null"))
    else:
        print(f"{status}: {result.get('error') or '(no error)'}", file=sys.stderr)
        if result.get("cause") is not None:
            print(f"cause: {result['cause']}", file=sys.stderr)
    return 0 if status == "SUCCEEDED" else 1


def trace_lines(history: list[dict[str, Any]]) -> list[str]:
    """One line per state entered or left, with the time since the start and the time spent."""
    if not history:
        return []
    t0 = history[0]["timestamp"]
    entered: dict[str, list[float]] = {}
    lines = []
    for ev in history:
        kind = ev["type"]
        at = ev["timestamp"] - t0
        if kind.endswith("StateEntered"):
            name = ev.get("stateEnteredEventDetails", {}).get("name", "?")
            entered.setdefault(name, []).append(ev["timestamp"])
            lines.append(f"{at:9.3f}s  > {name} ({kind[: -len('StateEntered')]})")
        elif kind.endswith("StateExited"):
            name = ev.get("stateExitedEventDetails", {}).get("name", "?")
            starts = entered.get(name)
            spent = f"  {(ev['timestamp'] - starts.pop()) * 1000:.1f} ms" if starts else ""
            lines.append(f"{at:9.3f}s  < {name}{spent}")
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            lines.append(f"{at:9.3f}s  {kind}")
    return lines


def print_trace(history: list[dict[str, Any]]) -> None:
    """Prints :func:`trace_lines` to stderr (stdout keeps the output)."""
    for line in trace_lines(history):
        print(line, file=sys.stderr)
