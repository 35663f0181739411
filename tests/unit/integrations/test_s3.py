"""The embedded S3 provider: the object store, the aws-sdk:s3 Tasks, routing, the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from legato.cli import main
from legato.engine import Engine
from legato.integrations._s3store import ObjectStore
from legato.integrations.aws_sdk import AwsServiceError, _pascal_words, sdk_error, service_info
from legato.integrations.settings import IntegrationSettings
from legato.runtime.clock import VirtualClock

ACCOUNT = "123456789012"
SM = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:"


def _engine(tmp_path: Path, sections: dict[str, Any] | None = None) -> Engine:
    return Engine(
        clock=VirtualClock(), integrations=IntegrationSettings(data_dir=tmp_path, sections=sections or {})
    )


def _steps(*steps: tuple[str, dict[str, Any]], catch: bool = False) -> str:
    states: dict[str, Any] = {}
    for i, (action, params) in enumerate(steps):
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": f"arn:aws:states:::aws-sdk:s3:{action}",
            "Parameters": params,
            "ResultPath": f"$.r{i}",
        }
        if catch:
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
        if i + 1 < len(steps):
            state["Next"] = f"S{i + 1}"
        else:
            state["End"] = True
        states[f"S{i}"] = state
    if catch:
        states["Caught"] = {"Type": "Pass", "End": True}
    return json.dumps({"StartAt": "S0", "States": states})


async def _run(engine: Engine, definition: str, value: Any = None) -> dict[str, Any]:
    name = f"m{abs(hash(definition)) % 10**8}"
    try:
        await engine.create_state_machine(
            name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/r"
        )
    except Exception:
        pass
    started = await engine.start_execution(stateMachineArn=SM + name, input=json.dumps(value or {}))
    for _ in range(2000):
        described = await engine.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            out = dict(described)
            if "output" in out:
                out["output"] = json.loads(out["output"])
            return out
        await asyncio.sleep(0.002)
    raise AssertionError("the execution did not finish")


def _go(
    tmp_path: Path, definition: str, value: Any = None, sections: dict[str, Any] | None = None
) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        engine = _engine(tmp_path, sections)
        try:
            return await _run(engine, definition, value)
        finally:
            await engine.aclose()

    return asyncio.run(go())


# -- the store


def test_store_keeps_objects_as_files(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    assert store.create_bucket("data") is True
    assert store.create_bucket("data") is False
    info = store.put("data", "in/a.json", b'{"a": 1}', content_type="application/json", metadata={"K": "v"})
    assert (tmp_path / "s3" / "data" / "in" / "a.json").read_bytes() == b'{"a": 1}'
    assert info.etag == '"' + hashlib.md5(b'{"a": 1}').hexdigest() + '"'
    head, _ = store.head("data", "in/a.json")
    assert (head.content_type, head.metadata, head.size) == ("application/json", {"k": "v"}, 8)
    assert [b.name for b in store.buckets()] == ["data"]


def test_files_written_by_other_tools_are_objects(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    store.create_bucket("data")
    (tmp_path / "s3" / "data" / "x.csv").write_bytes(b"a,b\n")
    info, data = store.read("data", "x.csv")
    assert data == b"a,b\n" and info.etag == '"' + hashlib.md5(b"a,b\n").hexdigest() + '"'
    assert info.content_type == "binary/octet-stream"
    store.put("data", "x.csv", b"new", content_type="text/csv")
    (tmp_path / "s3" / "data" / "x.csv").write_bytes(b"changed behind its back")
    info, _ = store.head("data", "x.csv")
    assert info.etag == f'"{hashlib.md5(b"changed behind its back").hexdigest()}"'


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/etc/passwd", "a\x00b", "a//b", "./a", ""])
def test_keys_never_escape_the_bucket(tmp_path: Path, key: str) -> None:
    store = ObjectStore(tmp_path / "s3")
    store.create_bucket("data")
    with pytest.raises(AwsServiceError) as err:
        store.put("data", key, b"x")
    assert err.value.code == "InvalidArgument" and err.value.status == 400
    assert sorted(p.name for p in (tmp_path / "s3").iterdir()) == [".tmp", "data"]
    assert not any((tmp_path / "s3" / "data").iterdir())


def test_bad_bucket_names(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    for name in ("..", ".meta", "a", "UPPER", "x" * 64, "a/b", "1.2.3.4"):
        with pytest.raises(AwsServiceError) as err:
            store.create_bucket(name)
        assert err.value.code == "InvalidBucketName"
    for name in ("..", ".meta", ".tmp", "../s3"):
        with pytest.raises(AwsServiceError) as err:
            store.head(name, "k")
        assert err.value.code == "NoSuchBucket"
    with pytest.raises(AwsServiceError) as err:
        store.put("data", "k" * 1025, b"")
    assert err.value.code == "NoSuchBucket"
    store.create_bucket("data")
    with pytest.raises(AwsServiceError) as err:
        store.put("data", "k" * 1025, b"")
    assert err.value.code == "KeyTooLongError"


def test_listing_prefix_delimiter_pages(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    store.create_bucket("data")
    keys = ["a/1", "a/2", "a/b/3", "b", "c/4", "é"]
    for key in keys:
        store.put("data", key, key.encode())
    assert store.keys("data") == keys
    page = store.list("data", delimiter="/")
    assert page.common_prefixes == ["a/", "c/"] and [i.key for i in page.contents] == ["b", "é"]
    page = store.list("data", prefix="a/", delimiter="/")
    assert page.common_prefixes == ["a/b/"] and [i.key for i in page.contents] == ["a/1", "a/2"]
    seen, after = [], ""
    while True:
        page = store.list("data", delimiter="/", after=after, max_keys=1)
        seen += [i.key for i in page.contents] + page.common_prefixes
        if not page.truncated:
            break
        assert page.next_marker is not None
        after = page.next_marker
    assert seen == ["a/", "b", "c/", "é"]


def test_folder_markers_conflicts_and_cleanup(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "s3")
    store.create_bucket("data")
    store.put("data", "folder/", b"")
    assert store.keys("data") == ["folder/"]
    with pytest.raises(AwsServiceError):
        store.put("data", "marker/", b"not empty")
    store.put("data", "x/y", b"1")
    with pytest.raises(AwsServiceError) as err:
        store.put("data", "x", b"2")
    assert err.value.code == "InvalidRequest"
    with pytest.raises(AwsServiceError):
        store.put("data", "x/y/z", b"3")
    store.delete("data", "x/y")
    assert not (tmp_path / "s3" / "data" / "x").exists()  # no empty folder left behind
    store.delete("data", "never-was")  # no error, as on S3
    store.put("data", "folder/inside", b"1")
    store.delete("data", "folder/inside")
    assert store.keys("data") == ["folder/"]  # the marker stays
    with pytest.raises(AwsServiceError) as err:
        store.delete_bucket("data")
    assert err.value.code == "BucketNotEmpty"
    store.delete("data", "folder/")
    store.delete_bucket("data")
    assert store.buckets() == []


# -- Tasks


def test_put_get_head_list_copy_delete_tasks(tmp_path: Path) -> None:
    definition = _steps(
        ("createBucket", {"Bucket": "data"}),
        ("putObject", {"Bucket": "data", "Key": "in/doc.json", "Body.$": "$.doc"}),
        ("putObject", {"Bucket": "data", "Key": "in/text", "Body": "text data", "ContentType": "text/plain"}),
        ("getObject", {"Bucket": "data", "Key": "in/text"}),
        ("headObject", {"Bucket": "data", "Key": "in/doc.json"}),
        ("copyObject", {"Bucket": "data", "Key": "out/copy", "CopySource": "data/in/doc.json"}),
        ("listObjectsV2", {"Bucket": "data", "Delimiter": "/"}),
        ("listObjectsV2", {"Bucket": "data", "Prefix": "in/", "MaxKeys": 1}),
        ("deleteObject", {"Bucket": "data", "Key": "out/copy"}),
        ("listObjects", {"Bucket": "data"}),
        ("listBuckets", {}),
        ("headBucket", {"Bucket": "data"}),
    )
    result = _go(tmp_path, definition, {"doc": {"Dict": "Value"}})
    assert result["status"] == "SUCCEEDED", result
    out = result["output"]
    assert out["r0"] == {"Location": "/data"}
    # A Body is stored as its JSON text: the ETag of {"Dict":"Value"} AWS recorded.
    assert out["r1"]["ETag"] == '"49e31cee5aec8faf3345893addb14346"'
    assert out["r1"]["ChecksumType"] == "FULL_OBJECT" and out["r1"]["ServerSideEncryption"] == "AES256"
    assert out["r2"]["ETag"] == '"2b5df3712557f503a9977a8ea893b2c9"'  # "text data", with its quotes
    assert out["r2"]["ChecksumCRC32"] == "KUmHvQ=="
    got = out["r3"]
    assert got["Body"] == '"text data"' and got["ContentType"] == "text/plain"
    assert set(got) == {"AcceptRanges", "Body", "ContentLength", "ContentType", "ETag", "LastModified",
                        "Metadata", "ServerSideEncryption"}  # fmt: skip
    assert got["LastModified"].endswith("Z")
    assert out["r4"]["ContentLength"] == 16 and "Body" not in out["r4"]
    assert out["r5"]["CopyObjectResult"]["ETag"] == out["r1"]["ETag"]
    listing = out["r6"]
    assert listing["CommonPrefixes"] == [{"Prefix": "in/"}, {"Prefix": "out/"}]
    assert listing["KeyCount"] == 2 and listing["IsTruncated"] is False and "Contents" not in listing
    page = out["r7"]
    assert page["IsTruncated"] is True and [c["Key"] for c in page["Contents"]] == ["in/doc.json"]
    assert "NextContinuationToken" in page
    assert out["r8"] == {}
    assert [c["Key"] for c in out["r9"]["Contents"]] == ["in/doc.json", "in/text"]
    assert [b["Name"] for b in out["r10"]["Buckets"]] == ["data"]
    assert out["r11"]["BucketRegion"] == "us-east-1"
    assert (tmp_path / "s3" / "data" / "in" / "doc.json").read_bytes() == b'{"Dict":"Value"}'


def test_errors_are_named_as_step_functions_names_them(tmp_path: Path) -> None:
    definition = json.dumps(
        {
            "StartAt": "Get",
            "States": {
                "Get": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket.$": "$.bucket", "Key": "missing"},
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Done"}],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        }
    )
    out = _go(tmp_path, definition, {"bucket": "nope"})["output"]["err"]
    assert out["Error"] == "S3.NoSuchBucketException"
    assert out["Cause"].startswith(
        "The specified bucket does not exist (Service: S3, Status Code: 404, Request ID: "
    )
    assert ", Extended Request ID: " in out["Cause"]
    (tmp_path / "s3" / "there").mkdir(parents=True)  # a folder is a bucket
    out = _go(tmp_path, definition, {"bucket": "there"})["output"]["err"]
    assert out["Error"] == "S3.NoSuchKeyException"
    assert out["Cause"].startswith("The specified key does not exist. (Service: S3, Status Code: 404, ")
    bad = _steps(("putObject", {"Bucket": "there", "Key": "../../escape", "Body": 1}), catch=True)
    result = _go(tmp_path, bad)
    assert result["status"] == "SUCCEEDED"
    assert not (tmp_path / "escape").exists()


def test_unconfigured_service_without_provider_says_how_to_configure(tmp_path: Path) -> None:
    definition = json.dumps(
        {
            "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:acmpca:listTags", "End": True}
            },
        }
    )
    result = _go(tmp_path, definition)
    assert result["status"] == "FAILED" and result["error"] == "States.Runtime"
    assert "services: {acmpca: {endpoint_url:" in result["cause"]


def test_service_error_names() -> None:
    assert _pascal_words("DynamoDB") == "DynamoDb"
    assert _pascal_words("ACM PCA") == "AcmPca"
    assert _pascal_words("EC2") == "Ec2"
    assert service_info("acmpca").error_prefix == "AcmPca"
    assert service_info("eventbridge").boto3_name == "events"
    err = sdk_error("s3", "BucketAlreadyExists", "msg", 409, request_id="R", extended_request_id="E")
    assert err.name == "S3.BucketAlreadyExistsException"
    assert err.cause == "msg (Service: S3, Status Code: 409, Request ID: R, Extended Request ID: E)"
    err = sdk_error("dynamodb", "ResourceNotFoundException", None, 400, request_id="R")
    assert (err.name, err.cause) == (
        "DynamoDb.ResourceNotFoundException",
        "null (Service: DynamoDb, Status Code: 400, Request ID: R)",
    )


def test_misconfigured_passthrough_fails_clearly(tmp_path: Path) -> None:
    sections = {
        "services": {"s3": {"endpoint_url": "http://127.0.0.1:9", "access_key_id_env": "LEGATO_NO_SUCH_VAR"}}
    }
    result = _go(tmp_path, _steps(("listBuckets", {})), sections=sections)
    assert result["status"] == "FAILED" and result["error"] == "States.Runtime"
    assert "LEGATO_NO_SUCH_VAR" in result["cause"]


# -- CLI


def test_buckets_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    source = tmp_path / "f.txt"
    source.write_bytes(b"hello")
    assert main(["buckets", "--data-dir", data, "create", "cli-bucket"]) == 0
    assert main(["buckets", "--data-dir", data, "put", str(source), "s3://cli-bucket/a/b.txt"]) == 0
    assert main(["buckets", "--data-dir", data, "list"]) == 0
    assert main(["buckets", "--data-dir", data, "ls", "s3://cli-bucket", "--delimiter", "/"]) == 0
    assert main(["buckets", "--data-dir", data, "get", "s3://cli-bucket/a/b.txt"]) == 0
    out = capsys.readouterr().out
    assert "cli-bucket" in out and "PRE  a/" in out and out.endswith("hello")
    assert main(["buckets", "--data-dir", data, "rm", "s3://cli-bucket"]) == 1
    assert "BucketNotEmpty" in capsys.readouterr().err
    assert main(["buckets", "--data-dir", data, "rm", "s3://cli-bucket/a/b.txt"]) == 0
    assert main(["buckets", "--data-dir", data, "rm", "s3://cli-bucket"]) == 0
    assert main(["buckets", "--data-dir", data, "get", "s3://cli-bucket/x"]) == 1


def test_puts_from_many_threads_under_a_new_prefix_all_land(tmp_path: Path) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    store = ObjectStore(tmp_path / "s3")
    store.create_bucket("parts")
    threads = 8
    barrier = threading.Barrier(threads)

    def put(key: str) -> None:
        barrier.wait()  # every thread makes the same new folders at once
        store.put("parts", key, key.encode())

    keys = []
    with ThreadPoolExecutor(threads) as pool:
        for r in range(30):
            batch = [f"tmp/round-{r}/a/b/c/part-{t}.json" for t in range(threads)]
            list(pool.map(put, batch))
            keys += batch
    for k in keys:
        assert store.read("parts", k)[1] == k.encode()
    # a key under an object is still refused
    store.put("parts", "solid", b"x")
    with pytest.raises(AwsServiceError):
        store.put("parts", "solid/under", b"y")
