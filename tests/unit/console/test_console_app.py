"""The console over HTTP, in-process: routes, headers, credentials, the JSON API."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from legato.api.auth import SigV4Verifier
from legato.api.server import make_app
from legato.console import CSP, check_basic
from legato.engine import Engine

KEYS = {"AKIDCONSOLE": "s3cr3t/with:colon"}
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
POST_HEADERS = {"X-Legato-Console": "1", "Content-Type": "application/json"}


def _basic(key_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def _with_client(
    body: Callable[[TestClient[Any, Any], Engine], Awaitable[None]], verifier: SigV4Verifier | None = None
) -> None:
    async def main() -> None:
        engine = Engine()
        async with TestClient(TestServer(make_app(engine, verifier=verifier))) as client:
            await body(client, engine)

    asyncio.run(main())


async def _machine(engine: Engine, definition: dict[str, Any] = PASS) -> str:
    out = await engine.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )
    return str(out["stateMachineArn"])


def test_root_redirects_to_the_console() -> None:
    async def body(client: TestClient[Any, Any], engine: Engine) -> None:
        for path in ("/", "/console"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 302
            assert response.headers["Location"] == "/console/"

    _with_client(body)


def test_pages_and_assets_carry_a_strict_policy() -> None:
    async def body(client: TestClient[Any, Any], engine: Engine) -> None:
        for path in (
            "/console/",
            "/console/execution",
            "/console/static/console.js",
            "/console/api/state-machines",
        ):
            response = await client.get(path)
            assert response.status == 200, path
            assert response.headers["Content-Security-Policy"] == CSP
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        page = await (await client.get("/console/")).text()
        assert '<script src="/console/static/console.js">' in page and "http" not in page.split("<body>")[1]
        missing = await client.get("/console/static/../../../etc/passwd")
        assert missing.status in (403, 404)

    _with_client(body)


def test_start_validates_the_input_and_needs_the_console_header() -> None:
    async def body(client: TestClient[Any, Any], engine: Engine) -> None:
        arn = await _machine(engine)
        request = {"stateMachineArn": arn, "input": '{"a": 1}'}
        forged = await client.post("/console/api/executions", json=request)
        assert forged.status == 403  # a cross-site form cannot add the header
        bad = await client.post(
            "/console/api/executions", json={**request, "input": "{nope"}, headers=POST_HEADERS
        )
        assert bad.status == 400 and (await bad.json())["error"] == "InvalidExecutionInput"
        ok = await client.post(
            "/console/api/executions", json={**request, "name": "n1"}, headers=POST_HEADERS
        )
        assert ok.status == 200
        execution = (await ok.json())["executionArn"]
        await engine.wait_for_execution(execution, 5)
        data = await (
            await client.get("/console/api/execution", params={"arn": execution, "svg": "1"})
        ).json()
        assert data["execution"]["status"] == "SUCCEEDED"
        assert data["statuses"] == {"P": "succeeded"}
        assert data["visits"][0]["name"] == "P" and data["visits"][0]["output"] == '{"a":1}'
        assert 'data-state="P"' in data["svg"]
        listed = await (await client.get("/console/api/executions", params={"name": "N1"})).json()
        assert [e["name"] for e in listed["executions"]] == ["n1"]
        none = await (await client.get("/console/api/executions", params={"status": "FAILED"})).json()
        assert none["executions"] == []
        later = await (await client.get("/console/api/executions", params={"since": "99999999999"})).json()
        assert later["executions"] == []
        unknown = await client.get("/console/api/execution", params={"arn": execution + "x"})
        assert unknown.status == 400 and (await unknown.json())["error"] == "ExecutionDoesNotExist"
        sm = await (await client.get("/console/api/state-machine", params={"arn": arn})).json()
        assert sm["stateMachine"]["name"] == "m" and sm["versions"] == [] and sm["aliases"] == []

    _with_client(body)


def test_credentials_require_basic_auth_for_the_console_and_sigv4_for_the_api() -> None:
    async def body(client: TestClient[Any, Any], engine: Engine) -> None:
        anonymous = await client.get("/console/")
        assert anonymous.status == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
        wrong = await client.get("/console/api/state-machines", headers=_basic("AKIDCONSOLE", "nope"))
        assert wrong.status == 401
        unknown = await client.get("/console/", headers=_basic("AKIDOTHER", KEYS["AKIDCONSOLE"]))
        assert unknown.status == 401
        good = await client.get(
            "/console/api/state-machines", headers=_basic("AKIDCONSOLE", KEYS["AKIDCONSOLE"])
        )
        assert good.status == 200
        # Basic credentials are not accepted by the JSON API, which still needs SigV4.
        api = await client.post(
            "/",
            data=b"{}",
            headers={
                **_basic("AKIDCONSOLE", KEYS["AKIDCONSOLE"]),
                "X-Amz-Target": "AWSStepFunctions.ListStateMachines",
            },
        )
        assert api.status == 400 and "IncompleteSignature" in (await api.text())
        assert (await client.get("/", allow_redirects=False)).status == 302

    _with_client(body, SigV4Verifier(KEYS))


def test_check_basic() -> None:
    good = _basic("AKIDCONSOLE", KEYS["AKIDCONSOLE"])["Authorization"]
    assert check_basic(KEYS, good) == "AKIDCONSOLE"
    assert check_basic(KEYS, good.replace("Basic", "basic")) == "AKIDCONSOLE"
    for header in (
        None,
        "",
        "Basic",
        "Basic !!!",
        "Bearer abc",
        "Basic " + base64.b64encode(b"nocolon").decode(),
    ):
        assert check_basic(KEYS, header) is None


DISTRIBUTED = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": True}},
            },
            "End": True,
        }
    },
}


def test_the_execution_view_lists_map_runs_with_their_children() -> None:
    async def body(client: TestClient[Any, Any], engine: Engine) -> None:
        arn = await _machine(engine, DISTRIBUTED)
        ex = (await engine.start_execution(stateMachineArn=arn, input="[1, 2, 3]"))["executionArn"]
        await engine.wait_for_execution(ex)
        response = await client.get("/console/api/execution", params={"arn": ex})
        assert response.status == 200
        runs = (await response.json())["mapRuns"]
        assert len(runs) == 1
        assert runs[0]["status"] == "SUCCEEDED"
        assert runs[0]["itemCounts"]["succeeded"] == 3 and runs[0]["itemCounts"]["total"] == 3
        children = runs[0]["childExecutions"]
        assert len(children) == 3 and {c["status"] for c in children} == {"SUCCEEDED"}

    _with_client(body)
