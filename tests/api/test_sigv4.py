"""SigV4 on ``legato serve --credentials``: boto3 signs, the server checks.

Signatures here are made by botocore (the reference signer); the server's
checker is Legato's own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from _live import live_server
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import legato
from legato.api.auth import CredentialsError, SigV4Verifier, load_credentials, parse_credentials
from legato.cli import main
from legato.errors import ApiError

KEY_ID = "AKIDLEGATOTEST"
SECRET = "s3cr3t/Legato+Key-never-shown"
OTHER_ID = "AKIDSECOND"
OTHER_SECRET = "another-secret-value"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/test"
TARGET = "AWSStepFunctions.ListStateMachines"


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("legato-sigv4")
    creds = data_dir / "credentials.json"
    creds.write_text(json.dumps({KEY_ID: SECRET, OTHER_ID: OTHER_SECRET}))
    with live_server(data_dir, "--credentials", str(creds)) as url:
        yield url, data_dir / "server.log"


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def raw_post(url: str, headers: dict[str, str], body: bytes = b"{}") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


# -- a live server with credentials


def test_the_right_key_works(signed_server: tuple[str, Path]) -> None:
    url, _ = signed_server
    for key_id, secret in ((KEY_ID, SECRET), (OTHER_ID, OTHER_SECRET)):
        sfn = legato.client(url, aws_access_key_id=key_id, aws_secret_access_key=secret)
        arn = sfn.create_state_machine(name=f"signed-{key_id}", definition=PASS, roleArn=ROLE)[
            "stateMachineArn"
        ]
        assert any(m["stateMachineArn"] == arn for m in sfn.list_state_machines()["stateMachines"])


def test_a_session_token_is_ignored(signed_server: tuple[str, Path]) -> None:
    sfn = legato.client(
        signed_server[0], aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, aws_session_token="tok"
    )
    assert "stateMachines" in sfn.list_state_machines()


def test_a_wrong_secret_is_an_invalid_signature(signed_server: tuple[str, Path]) -> None:
    sfn = legato.client(signed_server[0], aws_access_key_id=KEY_ID, aws_secret_access_key="wrong")
    with pytest.raises(ClientError) as exc:
        sfn.list_state_machines()
    code, message, status = code_of(exc)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match")


def test_an_unknown_key_is_unrecognized(signed_server: tuple[str, Path]) -> None:
    sfn = legato.client(signed_server[0], aws_access_key_id="AKIDNOBODY", aws_secret_access_key=SECRET)
    with pytest.raises(ClientError) as exc:
        sfn.list_state_machines()
    assert code_of(exc) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )


def test_the_default_dummy_keys_are_unrecognized(signed_server: tuple[str, Path]) -> None:
    with pytest.raises(ClientError) as exc:
        legato.client(signed_server[0]).list_state_machines()
    assert code_of(exc)[0] == "UnrecognizedClientException"


def test_an_unsigned_request_is_missing_a_token(signed_server: tuple[str, Path]) -> None:
    status, body = raw_post(
        signed_server[0], {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.0"}
    )
    assert (status, body) == (
        400,
        {
            "__type": "MissingAuthenticationTokenException",
            "message": "Request is missing Authentication Token",
        },
    )


def test_the_console_needs_basic_credentials(signed_server: tuple[str, Path]) -> None:
    # A browser cannot sign: "/" redirects to the console, which asks for HTTP Basic
    # authentication with one of the same access keys (docs/console.md).
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(signed_server[0] + "/", timeout=10)
    with exc.value as error:
        assert error.code == 401
        assert error.headers["WWW-Authenticate"].startswith("Basic ")


def test_a_malformed_authorization_is_incomplete(signed_server: tuple[str, Path]) -> None:
    status, body = raw_post(signed_server[0], {"X-Amz-Target": TARGET, "Authorization": "Bearer abc"})
    assert status == 400 and body["__type"] == "IncompleteSignatureException"
    status, body = raw_post(
        signed_server[0],
        {"X-Amz-Target": TARGET, "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY_ID}/x"},
    )
    assert status == 400 and body["__type"] == "IncompleteSignatureException"


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_stale_date_is_refused(signed_server: tuple[str, Path], minutes: int) -> None:
    sfn = legato.client(signed_server[0], aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    skewed = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes)
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed):
        with pytest.raises(ClientError) as exc:
            sfn.list_state_machines()
    code, message, status = code_of(exc)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("Signature expired" if minutes < 0 else "Signature not yet current")
    assert "15 min." in message


def test_secrets_never_reach_the_log(signed_server: tuple[str, Path]) -> None:
    url, log = signed_server
    legato.client(url, aws_access_key_id=KEY_ID, aws_secret_access_key="wrong").meta  # noqa: B018
    with pytest.raises(ClientError):
        legato.client(url, aws_access_key_id=KEY_ID, aws_secret_access_key="wrong").list_state_machines()
    text = log.read_text()
    assert "refused" in text
    assert SECRET not in text and OTHER_SECRET not in text


# -- the checker on its own, against botocore's signatures


def _signed(body: bytes = b"{}", *, when: datetime | None = None, region: str = "us-east-1") -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8083/",
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.0"},
    )
    with mock.patch(
        "botocore.auth.get_current_datetime", return_value=when or datetime.now(UTC).replace(tzinfo=None)
    ):
        SigV4Auth(Credentials(KEY_ID, SECRET), "states", region).add_auth(request)
    return request


def _verify(request: AWSRequest, body: bytes | None = None, **kw: Any) -> str:
    headers = [(k, v) for k, v in request.headers.items()] + [("Host", "127.0.0.1:8083")]
    verifier = SigV4Verifier({KEY_ID: SECRET}, **kw)
    return verifier.verify("POST", "/", "", headers, request.body if body is None else body)


def test_the_checker_accepts_botocore_signatures() -> None:
    assert _verify(_signed()) == KEY_ID


def test_a_changed_body_breaks_the_signature() -> None:
    with pytest.raises(ApiError) as exc:
        _verify(_signed(b'{"a": 1}'), body=b'{"a": 2}')
    assert exc.value.type == "InvalidSignatureException"


def test_the_region_must_be_the_servers() -> None:
    with pytest.raises(ApiError) as exc:
        _verify(_signed(region="eu-west-1"))
    assert exc.value.type == "InvalidSignatureException"
    assert "region" in exc.value.message
    assert _verify(_signed(region="eu-west-1"), region="eu-west-1") == KEY_ID


def test_fourteen_minutes_of_skew_is_fine() -> None:
    when = datetime(2024, 1, 1, 12, 0, 0)
    request = _signed(when=when)
    base = when.replace(tzinfo=UTC).timestamp()
    assert _verify(request, now=lambda: base + 14 * 60) == KEY_ID
    assert _verify(request, now=lambda: base - 14 * 60) == KEY_ID
    with pytest.raises(ApiError) as exc:
        _verify(request, now=lambda: base + 16 * 60)
    assert exc.value.message == (
        "Signature expired: 20240101T120000Z is now earlier than 20240101T120100Z (20240101T121600Z - 15 min.)"
    )


def test_errors_never_show_the_secret() -> None:
    request = _signed()
    for kw in ({"region": "x"}, {"now": lambda: 0.0}, {"service": "other"}):
        with pytest.raises(ApiError) as exc:
            _verify(request, **kw)
        assert SECRET not in str(exc.value)
    with pytest.raises(ApiError) as exc:
        SigV4Verifier({KEY_ID: "other"}).verify("POST", "/", "", request.headers.items(), b"{}")
    assert SECRET not in str(exc.value) and "other" not in exc.value.message


# -- credentials files


def test_json_and_ini_credentials(tmp_path: Path) -> None:
    assert parse_credentials(json.dumps({KEY_ID: SECRET})) == {KEY_ID: SECRET}
    ini = tmp_path / "credentials"
    ini.write_text(
        f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
        f"region = us-east-1\n\n[ci]\naws_access_key_id={OTHER_ID}\naws_secret_access_key={OTHER_SECRET}\n"
    )
    assert load_credentials(ini) == {KEY_ID: SECRET, OTHER_ID: OTHER_SECRET}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        '{"AKID": 1}',
        "[1, 2]",
        f'{{"AKID": "{SECRET}"',
        f"aws_secret_access_key = {SECRET}\n",
        f"[p]\naws_secret_access_key = {SECRET}\n",
        f"[p]\naws_access_key_id = bad key!\naws_secret_access_key = {SECRET}\n",
        f"[p]\n{SECRET}\n",
    ],
)
def test_bad_credentials_files_say_why_without_the_secret(text: str) -> None:
    with pytest.raises(CredentialsError) as exc:
        parse_credentials(text, "creds")
    assert str(exc.value).startswith("creds")
    assert SECRET not in str(exc.value)


# -- the CLI


def test_serve_refuses_other_addresses_without_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err and "needs credentials" in err and "--credentials" in err


def test_serve_with_credentials_passes_the_address_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A credentials file that cannot be read stops the server before it listens anywhere.
    assert main(["serve", "--host", "0.0.0.0", "--credentials", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "credentials file not found" in err and "refusing" not in err
    bad = tmp_path / "creds.ini"
    bad.write_text(f"[p]\n{SECRET}\n")
    assert main(["serve", "--host", "0.0.0.0", "--credentials", str(bad)]) == 2
    assert SECRET not in capsys.readouterr().err
