"""The HTTP Task against a real aiohttp server on 127.0.0.1: requests, results, errors,
connections (API_KEY, BASIC, OAuth with token refresh), secrets, limits, Retry-After."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import legato
from legato.engine import Engine
from legato.integrations.connections import ConnectionConfigError, connection_name, parse_connection
from legato.integrations.http import url_encode
from legato.integrations.settings import IntegrationSettings
from legato.runtime.clock import Clock, SystemClock, VirtualClock

HTTP = "arn:aws:states:::http:invoke"
SECRET = "s3cr3t-key-value"
CONN_ARN = "arn:aws:events:us-east-1:123456789012:connection/{}/0c1b2a39-1111-2222-3333-444455556666"


@dataclass
class Api:
    """What the test server saw, and how it should behave."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    throttled: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    arrivals: list[float] = field(default_factory=list)


def _app(api: Api) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        seen = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": dict(request.headers),
            "body": body,
        }
        api.requests.append(seen)
        return web.json_response(seen, headers={"X-Multi": "a"})

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = {}
        if "retry" in request.query:
            headers["Retry-After"] = request.query["retry"]
        return web.json_response({"message": "nope", "code": code}, status=code, headers=headers)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="plain words", content_type="text/plain")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n", content_type="image/png")

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"client-1:{SECRET}".encode()).decode()
        if auth != expected or form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "invalid_client"}, status=401)
        api.tokens_issued += 1
        value = f"tok-{api.tokens_issued}"
        api.valid_tokens.add(value)
        return web.json_response({"access_token": value, "token_type": "Bearer", "expires_in": 3600})

    async def protected(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in api.valid_tokens:
            return web.json_response({"error": "bad token"}, status=401)
        return web.json_response({"token_number": auth[11:]})

    async def throttle(request: web.Request) -> web.Response:
        api.arrivals.append(time.monotonic())
        if api.throttled < 2:
            api.throttled += 1
            return web.json_response({"slow": "down"}, status=429, headers={"Retry-After": "30"})
        return web.json_response({"ok": True})

    async def busy(request: web.Request) -> web.Response:
        api.in_flight += 1
        api.max_in_flight = max(api.max_in_flight, api.in_flight)
        api.arrivals.append(time.monotonic())
        try:
            await asyncio.sleep(0.05)
        finally:
            api.in_flight -= 1
        return web.json_response({"n": len(api.arrivals)})

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{rest:.*}", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_get("/text", text)
    app.router.add_get("/image", image)
    app.router.add_post("/token", token)
    app.router.add_get("/protected", protected)
    app.router.add_get("/throttle", throttle)
    app.router.add_get("/busy", busy)
    return app


CONNECTIONS: dict[str, Any] = {
    "plain": {
        "authorization_type": "API_KEY",
        "api_key_name": "x-api-key",
        "api_key_value_env": "LEGATO_T_KEY",
    },
    "merged": {
        "authorization_type": "API_KEY",
        "api_key_name": "ApiKey",
        "api_key_value_env": "LEGATO_T_KEY",
        "invocation_http_parameters": {
            "header_parameters": [{"key": "Header-Param", "value": "connection_header_param"}],
            "query_string_parameters": [{"key": "QueryParam", "value": "connection_query_param"}],
            "body_parameters": [{"key": "BodyParam", "value": "connection_body_param"}],
        },
    },
    "basic": {"authorization_type": "BASIC", "username": "alice", "password_env": "LEGATO_T_KEY"},
    "missing": {"authorization_type": "API_KEY", "api_key_name": "k", "api_key_value_env": "LEGATO_T_UNSET"},
    "limited": {
        "authorization_type": "API_KEY",
        "api_key_name": "k",
        "api_key_value_env": "LEGATO_T_KEY",
        "max_concurrency": 2,
    },
    "paced": {
        "authorization_type": "API_KEY",
        "api_key_name": "k",
        "api_key_value_env": "LEGATO_T_KEY",
        "max_requests_per_second": 20,
    },
}


@pytest.fixture(autouse=True)
def _secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGATO_T_KEY", SECRET)
    monkeypatch.delenv("LEGATO_T_UNSET", raising=False)


def _task(connection: str, path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": HTTP,
        "Parameters": {
            "ApiEndpoint.$": f"States.Format('{{}}{path}', $.base)",
            "Method": method,
            "InvocationConfig": {"ConnectionArn": CONN_ARN.format(connection)},
            **extra,
        },
        "End": True,
    }


def _machine(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "Call", "States": {"Call": state}}


@dataclass
class Outcome:
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]


async def _serve(api: Api) -> web.AppRunner:
    runner = web.AppRunner(_app(api))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api.url = f"http://127.0.0.1:{port}"
    return runner


async def _execute(
    engine: Engine, definition: dict[str, Any], api: Api, name: str = "x", extra_input: Any = None
) -> Outcome:
    created = await engine.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )
    started = await engine.start_execution(
        stateMachineArn=created["stateMachineArn"], input=json.dumps({"base": api.url, **(extra_input or {})})
    )
    done = await engine.wait_for_execution(started["executionArn"], timeout=20)
    history = (await engine.get_execution_history(executionArn=started["executionArn"], maxResults=1000))[
        "events"
    ]
    output = json.loads(done["output"]) if "output" in done else None
    return Outcome(done["status"], output, done.get("error"), done.get("cause"), history)


def _run(
    body: Callable[[Engine, Api], Awaitable[Any]],
    *,
    clock: Clock | None = None,
    sections: dict[str, Any] | None = None,
    data_dir: Path | None = None,
) -> Any:
    async def go() -> Any:
        api = Api()
        runner = await _serve(api)
        settings = IntegrationSettings(
            data_dir=data_dir,
            sections={"connections": CONNECTIONS, "http": {"timeout_seconds": 0.5}, **(sections or {})},
        )
        engine = Engine(clock=clock or VirtualClock(), integrations=settings)
        try:
            return await body(engine, api)
        finally:
            await engine.aclose()
            await runner.cleanup()

    return asyncio.run(go())


def run_one(definition: dict[str, Any], **kw: Any) -> tuple[Outcome, Api]:
    async def body(engine: Engine, api: Api) -> tuple[Outcome, Api]:
        return await _execute(engine, definition, api), api

    result: tuple[Outcome, Api] = _run(body, **kw)
    return result


def _seconds(stamp: Any) -> float:
    from datetime import datetime

    if isinstance(stamp, datetime):
        return stamp.timestamp()
    if isinstance(stamp, str):
        return datetime.fromisoformat(stamp).timestamp()
    return float(stamp)


def _no_secret(outcome: Outcome) -> None:
    assert SECRET not in json.dumps(outcome.history)
    assert SECRET not in (outcome.cause or "")


# -- requests and results


def test_get_returns_status_headers_and_parsed_body() -> None:
    out, api = run_one(
        _machine(_task("plain", "/echo/customers", QueryParameters={"currency": "usd", "n": 2}))
    )
    assert out.status == "SUCCEEDED", out.cause
    result = out.output
    assert list(result) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert result["StatusCode"] == 200 and result["StatusText"] == "OK"
    assert result["Headers"]["x-multi"] == ["a"]
    assert result["Headers"]["content-type"] == ["application/json; charset=utf-8"]
    seen = result["ResponseBody"]
    assert seen["path"] == "/echo/customers"
    assert seen["query"] == "currency=usd&n=2"
    assert seen["headers"]["User-Agent"] == "Amazon|StepFunctions|HttpInvoke|us-east-1"
    assert seen["headers"]["Range"] == "bytes=0-262144"
    # The API saw the key; an echo of it never reaches the result or the history.
    assert api.requests[0]["headers"]["x-api-key"] == SECRET
    assert seen["headers"]["x-api-key"] == "******"
    _no_secret(out)
    assert "Accept-Encoding" not in seen["headers"]
    types = [e["type"] for e in out.history]
    assert types[2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    scheduled = out.history[2]["taskScheduledEventDetails"]
    assert scheduled["resource"] == "invoke" and scheduled["resourceType"] == "http"


def test_connection_parameters_merge_and_win() -> None:
    """AWS's documented merge example: the connection's header, query and body parameters win."""
    task = _task(
        "merged",
        "/echo/path",
        "POST",
        Headers={"Request-Id": "my_request_id", "Header-Param": "state_machine_header_param"},
        RequestBody={
            "Job": "Software Engineer",
            "Company": "AnyCompany",
            "BodyParam": "state_machine_body_param",
        },
        QueryParameters={"QueryParam": "state_machine_query_param"},
    )
    out, api = run_one(_machine(task))
    assert out.status == "SUCCEEDED", out.cause
    seen = api.requests[0]
    assert seen["query"] == "QueryParam=connection_query_param"
    assert seen["headers"]["Header-Param"] == "connection_header_param"
    assert seen["headers"]["Request-Id"] == "my_request_id"
    assert seen["headers"]["ApiKey"] == SECRET
    assert seen["headers"]["Content-Type"] == "application/json; charset=UTF-8"
    assert (
        seen["body"]
        == '{"Job":"Software Engineer","Company":"AnyCompany","BodyParam":"connection_body_param"}'
    )
    _no_secret(out)


def test_string_body_cannot_merge_with_connection_body() -> None:
    out, _ = run_one(_machine(_task("merged", "/echo", "POST", RequestBody="raw text")))
    assert (out.status, out.error) == ("FAILED", "States.Runtime")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("INDICES", "array%5B0%5D=a&array%5B1%5D=b"),
        ("REPEAT", "array=a&array=b"),
        ("COMMAS", "array=a,b"),
        ("BRACKETS", "array%5B%5D=a&array%5B%5D=b"),
    ],
)
def test_url_encoding_array_formats(fmt: str, expected: str) -> None:
    assert url_encode({"array": ["a", "b"]}, fmt) == expected


def test_url_encoded_body_as_in_aws_example() -> None:
    task = _task(
        "basic",
        "/echo/v1/invoices",
        "POST",
        Headers={"Content-Type": "application/x-www-form-urlencoded"},
        RequestBody={
            "description": "Monthly subscription",
            "metadata": {"order_details": "monthly report data"},
            "customer": "1234567890",
        },
        Transform={
            "RequestBodyEncoding": "URL_ENCODED",
            "RequestEncodingOptions": {"ArrayFormat": "INDICES"},
        },
    )
    out, api = run_one(_machine(task))
    assert out.status == "SUCCEEDED", out.cause
    seen = api.requests[0]
    assert seen["body"] == (
        "description=Monthly%20subscription&metadata%5Border_details%5D=monthly%20report%20data&customer=1234567890"
    )
    assert (
        seen["headers"]["Authorization"] == "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    )
    _no_secret(out)


def test_authentication_field_and_connection_by_name() -> None:
    task = _task("plain", "/echo")
    del task["Parameters"]["InvocationConfig"]
    task["Parameters"]["Authentication"] = {"ConnectionArn": "plain"}
    out, _ = run_one(_machine(task))
    assert out.status == "SUCCEEDED", out.cause


def test_text_response_stays_a_string() -> None:
    out, _ = run_one(_machine(_task("plain", "/text")))
    assert out.output["ResponseBody"] == "plain words"


def test_binary_response_is_a_runtime_error() -> None:
    out, _ = run_one(_machine(_task("plain", "/image")))
    assert (out.status, out.error) == ("FAILED", "States.Runtime")


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"Method": "FETCH"}, "Method"),
        ({"Headers": {"Authorization": "x"}}, "Authorization"),
        ({"Headers": {"X-Amz-Date": "x"}}, "X-Amz-Date"),
        ({"Transform": {"RequestBodyEncoding": "GZIP"}}, "RequestBodyEncoding"),
        ({"InvocationConfig": {"ConnectionArn": 3}}, "InvocationConfig"),
    ],
)
def test_bad_parameters_are_runtime_errors(params: dict[str, Any], needle: str) -> None:
    task = _task("plain", "/echo")
    task["Parameters"].update(params)
    out, api = run_one(_machine(task))
    assert (out.status, out.error) == ("FAILED", "States.Runtime")
    assert needle in (out.cause or "")
    assert api.requests == []


# -- failures


def test_4xx_fails_with_status_code_error_and_response_cause() -> None:
    out, _ = run_one(_machine(_task("plain", "/status/404")))
    assert (out.status, out.error) == ("FAILED", "States.Http.StatusCode.404")
    cause = json.loads(out.cause or "")
    assert cause["StatusCode"] == 404 and cause["StatusText"] == "Not Found"
    assert cause["ResponseBody"] == {"message": "nope", "code": 404}


def test_5xx_can_be_caught() -> None:
    state = _task("plain", "/status/500")
    state["Catch"] = [{"ErrorEquals": ["States.Http.StatusCode.500"], "Next": "Handled"}]
    del state["End"]
    state["Next"] = "Handled"
    machine = {"StartAt": "Call", "States": {"Call": state, "Handled": {"Type": "Pass", "End": True}}}
    out, _ = run_one(machine)
    assert out.status == "SUCCEEDED"
    assert out.output["Error"] == "States.Http.StatusCode.500"
    assert json.loads(out.output["Cause"])["StatusCode"] == 500


def test_timeout_is_a_socket_error() -> None:
    out, _ = run_one(_machine(_task("plain", "/slow")))
    assert (out.status, out.error) == ("FAILED", "States.Http.Socket")
    assert "timed out after 0.5 seconds" in (out.cause or "")


def test_connection_refused_is_a_socket_error() -> None:
    state = _task("plain", "/x")
    state["Parameters"] = {**state["Parameters"]}
    del state["Parameters"]["ApiEndpoint.$"]
    state["Parameters"]["ApiEndpoint"] = "http://127.0.0.1:1/nothing?k=v"
    out, _ = run_one(_machine(state))
    assert (out.status, out.error) == ("FAILED", "States.Http.Socket")
    assert "http://127.0.0.1:1/nothing" in (out.cause or "")


def test_unknown_connection() -> None:
    out, _ = run_one(_machine(_task("absent", "/echo")))
    assert (out.status, out.error) == ("FAILED", "Events.ConnectionResource.ResourceNotFound")
    assert "absent" in (out.cause or "")


def test_missing_secret_fails_without_revealing_anything() -> None:
    out, api = run_one(_machine(_task("missing", "/echo")))
    assert (out.status, out.error) == ("FAILED", "Events.ConnectionResource.InvalidConnectionState")
    assert "LEGATO_T_UNSET" in (out.cause or "")
    assert api.requests == []


def test_secret_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "key.txt"
    secret_file.write_text(SECRET + "\n")
    sections = {
        "connections": {
            **CONNECTIONS,
            "filed": {
                "authorization_type": "API_KEY",
                "api_key_name": "k",
                "api_key_value_file": str(secret_file),
            },
        }
    }
    out, api = run_one(_machine(_task("filed", "/echo")), sections=sections)
    assert out.status == "SUCCEEDED", out.cause
    assert api.requests[0]["headers"]["k"] == SECRET


def test_secret_echoed_in_error_is_redacted() -> None:
    """An API that reflects the key in an error: the cause shows ****** instead."""

    async def body(engine: Engine, api: Api) -> Outcome:
        return await _execute(engine, _machine(_task("plain", "/status/400")), api)

    out = _run(body)
    assert out.error == "States.Http.StatusCode.400"
    _no_secret(out)


# -- OAuth


def test_oauth_token_is_fetched_cached_and_refreshed() -> None:
    sections = {
        "connections": {
            **CONNECTIONS,
            "oauth": {
                "authorization_type": "OAUTH_CLIENT_CREDENTIALS",
                "authorization_endpoint": "http://placeholder/token",
                "client_id": "client-1",
                "client_secret_env": "LEGATO_T_KEY",
            },
        }
    }

    async def body(engine: Engine, api: Api) -> list[Outcome]:
        # The token endpoint lives on the test server, whose port is known only now.
        sections["connections"]["oauth"]["authorization_endpoint"] = f"{api.url}/token"
        outs = [
            await _execute(engine, _machine(_task("oauth", "/protected")), api, name=f"o{i}")
            for i in range(2)
        ]
        api.valid_tokens.clear()  # the provider revokes every token: the next call renews once
        outs.append(await _execute(engine, _machine(_task("oauth", "/protected")), api, name="o2"))
        return outs

    outs = _run(body, sections=sections)
    assert [o.status for o in outs] == ["SUCCEEDED"] * 3, outs[-1].cause
    assert [o.output["ResponseBody"]["token_number"] for o in outs] == ["1", "1", "2"]
    for o in outs:
        _no_secret(o)


def test_oauth_bad_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    sections = {
        "connections": {
            "oauth": {
                "authorization_type": "OAUTH_CLIENT_CREDENTIALS",
                "authorization_endpoint": "http://placeholder/token",
                "client_id": "client-1",
                "client_secret_env": "LEGATO_T_WRONG",
            },
        }
    }
    monkeypatch.setenv("LEGATO_T_WRONG", "not-the-secret")

    async def body(engine: Engine, api: Api) -> Outcome:
        sections["connections"]["oauth"]["authorization_endpoint"] = f"{api.url}/token"
        return await _execute(engine, _machine(_task("oauth", "/protected")), api)

    out = _run(body, sections=sections)
    assert (out.status, out.error) == ("FAILED", "Events.ConnectionResource.InvalidConnectionState")
    assert "401" in (out.cause or "")
    assert "not-the-secret" not in json.dumps(out.history)


# -- beyond AWS: Retry-After and limits


def test_retry_after_makes_the_retrier_wait_at_least_that_long() -> None:
    state = _task("plain", "/throttle")
    state["Retry"] = [{"ErrorEquals": ["States.Http.StatusCode.429"], "IntervalSeconds": 1, "MaxAttempts": 3}]
    out, api = run_one(_machine(state))
    assert out.status == "SUCCEEDED", out.cause
    assert api.throttled == 2
    failed = [_seconds(e["timestamp"]) for e in out.history if e["type"] == "TaskFailed"]
    scheduled = [_seconds(e["timestamp"]) for e in out.history if e["type"] == "TaskScheduled"]
    # Virtual time: each retry began at least Retry-After (30 s) after the 429, not IntervalSeconds.
    assert scheduled[1] - failed[0] >= 30
    assert scheduled[2] - failed[1] >= 30


def test_retry_after_without_a_retrier_just_fails() -> None:
    out, _ = run_one(_machine(_task("plain", "/status/503?retry=5")))
    assert out.error == "States.Http.StatusCode.503"


def _fan_out(connection: str, n: int) -> dict[str, Any]:
    task = _task(connection, "/busy")
    task["Parameters"] = {**task["Parameters"], "ApiEndpoint.$": "States.Format('{}/busy', $.base)"}
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"base.$": "$.base"},
                "ItemProcessor": {"StartAt": "Call", "States": {"Call": task}},
                "End": True,
            }
        },
    }


def test_max_concurrency_per_connection() -> None:
    async def body(engine: Engine, api: Api) -> Outcome:
        return await _execute(engine, _fan_out("limited", 6), api, extra_input={"items": list(range(6))})

    out = _run(body, clock=SystemClock())
    assert out.status == "SUCCEEDED", out.cause
    assert len(out.output) == 6


def test_max_concurrency_is_respected() -> None:
    api_seen: list[Api] = []

    async def body(engine: Engine, api: Api) -> Outcome:
        api_seen.append(api)
        return await _execute(engine, _fan_out("limited", 6), api, extra_input={"items": list(range(6))})

    out = _run(body)
    assert out.status == "SUCCEEDED", out.cause
    assert api_seen[0].max_in_flight == 2


def test_requests_per_second_are_paced() -> None:
    api_seen: list[Api] = []

    async def body(engine: Engine, api: Api) -> Outcome:
        api_seen.append(api)
        return await _execute(engine, _fan_out("paced", 5), api, extra_input={"items": list(range(5))})

    out = _run(body)
    assert out.status == "SUCCEEDED", out.cause
    arrivals = sorted(api_seen[0].arrivals)
    # 20 a second: five requests span at least four intervals of 50 ms of real time.
    assert arrivals[-1] - arrivals[0] >= 4 * 0.05 - 0.01


# -- connections


def test_connection_definitions_are_checked() -> None:
    with pytest.raises(ConnectionConfigError, match="secret"):
        parse_connection(
            "c", {"authorization_type": "API_KEY", "api_key_name": "k", "api_key_value": "literal"}
        )
    with pytest.raises(ConnectionConfigError, match="authorization_type"):
        parse_connection("c", {"authorization_type": "DIGEST"})
    with pytest.raises(ConnectionConfigError, match="name"):
        parse_connection("../x", {"authorization_type": "BASIC"})
    conn = parse_connection("c", {"authorization_type": "BASIC", "username": "u", "password_env": "P"})
    assert conn.to_dict()["password_env"] == "P"


def test_connection_names_from_arns() -> None:
    assert connection_name(CONN_ARN.format("weather")) == "weather"
    assert connection_name("arn:aws:events:us-east-1:1:connection:weather/abc") == "weather"
    assert connection_name("weather") == "weather"
    assert connection_name("arn:aws:sqs:us-east-1:1:q") == ""


def test_cli_connections_persist_under_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from legato.cli import main

    base = ["--data-dir", str(tmp_path)]
    assert (
        main(
            [
                "connections",
                "create",
                "weather",
                "--authorization-type",
                "API_KEY",
                "--api-key-name",
                "x-api-key",
                "--api-key-value-env",
                "LEGATO_T_KEY",
                "--header",
                "X-Client=legato",
                "--query",
                "token=@env:LEGATO_T_KEY",
                "--max-requests-per-second",
                "5",
                *base,
            ]
        )
        == 0
    )
    arn = capsys.readouterr().out.strip()
    assert arn.startswith("arn:aws:events:us-east-1:123456789012:connection/weather/")
    assert main(["connections", "list", "--json", *base]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["arn"] == arn and listed[0]["max_requests_per_second"] == 5.0
    assert SECRET not in json.dumps(listed)
    assert SECRET not in (tmp_path / "connections" / "weather.json").read_text()
    again = ["connections", "create", "weather", "--authorization-type", "BASIC", "--username", "u"]
    assert main([*again, "--password-env", "P", *base]) == 2
    assert "already exists" in capsys.readouterr().err

    api_seen: list[Api] = []

    async def body(engine: Engine, api: Api) -> Outcome:
        api_seen.append(api)
        return await _execute(engine, _machine(_task("weather", "/echo")), api)

    out = _run(body, data_dir=tmp_path)
    assert out.status == "SUCCEEDED", out.cause
    seen = api_seen[0].requests[0]
    assert seen["headers"]["X-Client"] == "legato"
    assert seen["query"] == f"token={SECRET}"
    assert out.output["ResponseBody"]["query"] == "token=******"
    _no_secret(out)
    assert main(["connections", "delete", "weather", *base]) == 0
    assert main(["connections", "delete", "weather", *base]) == 2


def test_legato_run_without_an_engine() -> None:
    """legato.run has no engine to close: each call uses its own session and closes it."""

    async def start() -> tuple[web.AppRunner, Api]:
        api = Api()
        return await _serve(api), api

    loop = asyncio.new_event_loop()
    try:
        runner, api = loop.run_until_complete(start())
        # Serve from a thread so that legato.run's own loop can call it.
        import threading

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            from legato._run import _services

            services = _services(None, None)
            services.integrations.sections["connections"] = CONNECTIONS
            services.integrations.state.pop("connections.store", None)
            result = legato.run(_machine(_task("plain", "/echo")), {"base": api.url})
            assert result.status == "SUCCEEDED", result.cause
            assert result.output["StatusCode"] == 200
        finally:
            services.integrations.sections.pop("connections", None)
            services.integrations.state.pop("connections.store", None)
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
    finally:
        loop.close()


def test_validation_rejects_other_http_actions() -> None:
    from legato.asl.validate import validate

    diagnostics = validate(_machine({"Type": "Task", "Resource": "arn:aws:states:::http:get", "End": True}))
    assert any("not recognized" in d.message for d in diagnostics)


def test_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    page = Path(__file__).resolve().parents[3] / "docs" / "http.md"
    block = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)[0]
    exec(compile(block, "docs/http.md", "exec"), {})
    assert json.loads(capsys.readouterr().out) == {"status": 200, "body": {"city": "Oslo", "unit": "C"}}
