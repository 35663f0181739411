"""The HTTP Task through a live ``legato serve --integrations FILE``, driven by boto3:
a file-defined connection and a CLI-created one, secrets kept out of the history."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from _live import live_server
from aiohttp import web
from botocore.config import Config

SECRET = "live-s3cr3t-value"


@pytest.fixture
def api() -> Iterator[str]:
    """An aiohttp API on 127.0.0.1 in a thread: /items (needs the key) and /limited (429 once)."""
    calls: list[str] = []

    async def items(request: web.Request) -> web.Response:
        if request.headers.get("x-api-key") != SECRET:
            return web.json_response({"error": "no key"}, status=403)
        return web.json_response({"items": [1, 2, 3], "page": request.query.get("page")})

    async def limited(request: web.Request) -> web.Response:
        calls.append("limited")
        if len(calls) == 1:
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "1"})
        return web.json_response({"ok": True})

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/items", items)
    app.router.add_get("/limited", limited)
    runner = web.AppRunner(app)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    url = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _machine(connection: str, path: str, **extra: Any) -> str:
    return json.dumps(
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::http:invoke",
                    "Parameters": {
                        "ApiEndpoint.$": f"States.Format('{{}}{path}', $.base)",
                        "Method": "GET",
                        "InvocationConfig": {"ConnectionArn": connection},
                        "QueryParameters": {"page": 2},
                    },
                    **extra,
                    "End": True,
                }
            },
        }
    )


def _run(sfn: Any, name: str, definition: str, base: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sm = sfn.create_state_machine(
        name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/r"
    )
    arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], input=json.dumps({"base": base}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 15
    while True:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return desc, events


def test_http_task_through_a_live_server(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEGATO_LIVE_KEY", SECRET)
    integrations = tmp_path / "integrations.yaml"
    integrations.write_text(
        "connections:\n"
        "  items:\n"
        "    authorization_type: API_KEY\n"
        "    api_key_name: x-api-key\n"
        "    api_key_value_env: LEGATO_LIVE_KEY\n"
        "    max_concurrency: 4\n"
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    from legato.cli import main

    created = [
        "connections",
        "create",
        "cli-made",
        "--authorization-type",
        "API_KEY",
        "--api-key-name",
        "x-api-key",
        "--api-key-value-env",
        "LEGATO_LIVE_KEY",
        "--data-dir",
        str(data_dir),
    ]
    assert main(created) == 0
    cli_arn = capsys.readouterr().out.strip()

    with live_server(data_dir, "--integrations", str(integrations), "--clock", "virtual") as endpoint:
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        file_arn = "arn:aws:events:us-east-1:123456789012:connection/items/anything"
        desc, events = _run(sfn, "http-file", _machine(file_arn, "/items"), api)
        assert desc["status"] == "SUCCEEDED", desc.get("cause")
        output = json.loads(desc["output"])
        assert output["StatusCode"] == 200
        assert output["ResponseBody"] == {"items": [1, 2, 3], "page": "2"}
        assert SECRET not in json.dumps(events, default=str)

        desc, _ = _run(sfn, "http-cli", _machine(cli_arn, "/items"), api)
        assert desc["status"] == "SUCCEEDED", desc.get("cause")

        desc, _ = _run(sfn, "http-missing", _machine("nope", "/items"), api)
        assert (desc["status"], desc["error"]) == ("FAILED", "Events.ConnectionResource.ResourceNotFound")

        retry = {"Retry": [{"ErrorEquals": ["States.Http.StatusCode.429"], "IntervalSeconds": 1}]}
        desc, events = _run(sfn, "http-retry", _machine("items", "/limited", **retry), api)
        assert desc["status"] == "SUCCEEDED", desc.get("cause")
        assert [e["type"] for e in events].count("TaskFailed") == 1
    log = (data_dir / "server.log").read_text()
    assert SECRET not in log
