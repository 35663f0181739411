"""boto3's S3 client against ``legato serve``'s S3 API, and the aws-sdk passthrough to it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from _live import live_server
from botocore.config import Config
from botocore.exceptions import ClientError


def _s3(url: str, key: str = "test", secret: str = "test") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _sfn(url: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_boto3_s3_round_trip(endpoint: str) -> None:
    s3 = _s3(endpoint)
    s3.create_bucket(Bucket="api-bucket")
    put = s3.put_object(Bucket="api-bucket", Key="dir/a b+c.txt", Body=b"hello", ContentType="text/plain",
                        Metadata={"owner": "me"})  # fmt: skip
    assert put["ETag"] == '"5d41402abc4b2a76b9719d911017c592"'
    got = s3.get_object(Bucket="api-bucket", Key="dir/a b+c.txt")
    assert got["Body"].read() == b"hello"
    assert (got["ContentType"], got["Metadata"], got["ETag"]) == ("text/plain", {"owner": "me"}, put["ETag"])
    assert s3.head_object(Bucket="api-bucket", Key="dir/a b+c.txt")["ContentLength"] == 5
    assert s3.get_object(Bucket="api-bucket", Key="dir/a b+c.txt", Range="bytes=1-3")["Body"].read() == b"ell"
    for i in range(3):
        s3.put_object(Bucket="api-bucket", Key=f"page/{i}", Body=b"x")
    listing = s3.list_objects_v2(Bucket="api-bucket", Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/", "page/"]
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket="api-bucket", Prefix="page/", MaxKeys=2, **kw)
        keys += [c["Key"] for c in page["Contents"]]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert keys == ["page/0", "page/1", "page/2"]
    assert [c["Key"] for c in s3.list_objects(Bucket="api-bucket", Prefix="dir/")["Contents"]] == [
        "dir/a b+c.txt"
    ]
    s3.copy_object(
        Bucket="api-bucket", Key="copy", CopySource={"Bucket": "api-bucket", "Key": "dir/a b+c.txt"}
    )
    assert s3.get_object(Bucket="api-bucket", Key="copy")["Body"].read() == b"hello"
    deleted = s3.delete_objects(
        Bucket="api-bucket", Delete={"Objects": [{"Key": "page/0"}, {"Key": "page/1"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["page/0", "page/1"]
    assert "api-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket="api-bucket")


def test_boto3_s3_errors(endpoint: str) -> None:
    s3 = _s3(endpoint)
    s3.create_bucket(Bucket="err-bucket")
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="err-bucket", Key="missing")
    assert _code(err) == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert _code(err) == "NoSuchBucket"
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket="err-bucket", Key="missing")
    assert _code(err) == "404"
    for key in ("../outside", "/absolute"):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="err-bucket", Key=key, Body=b"x")
        assert _code(err) == "InvalidArgument"
    s3.put_object(Bucket="err-bucket", Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket="err-bucket")
    assert _code(err) == "BucketNotEmpty"
    # The Step Functions API on the same port is untouched.
    assert "stateMachines" in _sfn(endpoint).list_state_machines()


def _wait(sfn: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def test_passthrough_to_a_compatible_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workflow on one server whose S3 Tasks go, by configuration, to another server's S3 API."""
    monkeypatch.setenv("REMOTE_S3_KEY", "remote-key")
    monkeypatch.setenv("REMOTE_S3_SECRET", "remote-secret-value")
    remote_dir, local_dir = tmp_path / "remote", tmp_path / "local"
    remote_dir.mkdir()
    local_dir.mkdir()
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"remote-key": "remote-secret-value"}))
    with live_server(remote_dir, "--credentials", str(creds)) as remote:
        s3 = _s3(remote, "remote-key", "remote-secret-value")
        s3.create_bucket(Bucket="remote-bucket")
        s3.put_object(Bucket="remote-bucket", Key="in.json", Body=b'{"n": 1}')
        with pytest.raises(ClientError) as err:
            _s3(remote, "remote-key", "wrong").list_buckets()
        assert _code(err) == "SignatureDoesNotMatch"
        integrations = tmp_path / "integrations.yaml"
        integrations.write_text(
            "services:\n"
            f"  s3: {{endpoint_url: '{remote}', region: us-east-1, access_key_id_env: REMOTE_S3_KEY,"
            " secret_access_key_env: REMOTE_S3_SECRET}\n"
        )
        with live_server(local_dir, "--integrations", str(integrations)) as local:
            sfn = _sfn(local)
            definition = {
                "StartAt": "Get",
                "States": {
                    "Get": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                        "Parameters": {"Bucket": "remote-bucket", "Key": "in.json"},
                        "ResultSelector": {
                            "Body.$": "$.Body",
                            "ETag.$": "$.ETag",
                            "Len.$": "$.ContentLength",
                        },
                        "ResultPath": "$.got",
                        "Next": "Put",
                    },
                    "Put": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                        "Parameters": {"Bucket": "remote-bucket", "Key": "out.json", "Body.$": "$.got"},
                        "ResultPath": "$.put",
                        "Next": "Missing",
                    },
                    "Missing": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                        "Parameters": {"Bucket": "remote-bucket", "Key": "nope"},
                        "Catch": [
                            {"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.err", "Next": "Done"}
                        ],
                        "End": True,
                    },
                    "Done": {"Type": "Pass", "End": True},
                },
            }
            arn = sfn.create_state_machine(
                name="passthrough",
                definition=json.dumps(definition),
                roleArn="arn:aws:iam::123456789012:role/r",
            )["stateMachineArn"]
            run = sfn.start_execution(stateMachineArn=arn, input="{}")
            described = _wait(sfn, run["executionArn"])
            assert described["status"] == "SUCCEEDED", described
            output = json.loads(described["output"])
            assert output["got"]["Body"] == '{"n": 1}' and output["got"]["Len"] == 8
            assert output["put"]["ETag"].startswith('"')
            assert output["err"]["Error"] == "S3.NoSuchKeyException"
            assert "(Service: S3, Status Code: 404, Request ID: " in output["err"]["Cause"]
        # The object went to the remote server's folder, as JSON text.
        stored = json.loads((remote_dir / "s3" / "remote-bucket" / "out.json").read_text())
        assert stored == output["got"]
        assert not (local_dir / "s3" / "remote-bucket").exists()
