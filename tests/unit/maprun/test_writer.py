"""ResultWriter: the file layout under Prefix/MAP_RUN_ID/, transformations, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from legato import _json
from legato.errors import StatesError
from legato.integrations._s3store import ObjectStore
from legato.maprun import ChildResult, ResultWriter
from legato.runtime.services import Services

RUN = "arn:aws:states:us-east-1:123456789012:mapRun:sm/TestMap:0b5ae9f3-1d4c-3a5b-8c0e-6f1a2b3c4d5e"
RUN_ID = "0b5ae9f3-1d4c-3a5b-8c0e-6f1a2b3c4d5e"


def child(index: int, status: str = "SUCCEEDED", output: Any = None) -> ChildResult:
    failed = status != "SUCCEEDED"
    return ChildResult(
        index=index,
        status=status,
        input={"n": index},
        output=None if failed else (output if output is not None else {"r": index}),
        error="Boom" if failed and status != "PENDING" else None,
        cause="it broke" if failed and status != "PENDING" else None,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:sm/TestMap:child{index}",
        name=f"child{index}",
        start_date=1_700_000_000.25,
        stop_date=None if status == "PENDING" else 1_700_000_001.5,
    )


def config(**writer: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "result-bucket", "Prefix": "mapJobs"},
    }
    if writer:
        out["WriterConfig"] = writer
    return out


def write(writer: ResultWriter, results: list[ChildResult]) -> Any:
    async def go() -> Any:
        for r in results:
            await writer.add(r)
        return await writer.finish()

    return asyncio.run(go())


@pytest.fixture
def bucket(store: ObjectStore) -> ObjectStore:
    store.create_bucket("result-bucket")
    return store


def read(store: ObjectStore, key: str) -> Any:
    return _json.loads(store.read("result-bucket", key)[1])


def test_layout_and_none_transformation(services: Services, bucket: ObjectStore) -> None:
    results = [child(0), child(1, "FAILED"), child(2), child(3, "PENDING")]
    out = write(ResultWriter(config(), RUN, services), results)
    manifest_key = f"mapJobs/{RUN_ID}/manifest.json"
    assert out == {"MapRunArn": RUN, "ResultWriterDetails": {"Bucket": "result-bucket", "Key": manifest_key}}
    manifest = read(bucket, manifest_key)
    assert manifest["DestinationBucket"] == "result-bucket"
    assert manifest["MapRunArn"] == RUN
    files = manifest["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"mapJobs/{RUN_ID}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"mapJobs/{RUN_ID}/FAILED_0.json"]
    assert [f["Key"] for f in files["PENDING"]] == [f"mapJobs/{RUN_ID}/PENDING_0.json"]
    for entry in files.values():
        for f in entry:
            assert f["Size"] == len(bucket.read("result-bucket", f["Key"])[1])
    succeeded = read(bucket, files["SUCCEEDED"][0]["Key"])
    assert [e["Name"] for e in succeeded] == ["child0", "child2"]
    first = succeeded[0]
    assert first["Input"] == '{"n":0}' and first["Output"] == '{"r":0}'
    assert first["Status"] == "SUCCEEDED"
    assert first["StateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:sm/TestMap"
    assert first["StartDate"] == "2023-11-14T22:13:20.250Z"
    assert first["StopDate"] == "2023-11-14T22:13:21.500Z"
    failed = read(bucket, files["FAILED"][0]["Key"])[0]
    assert (failed["Error"], failed["Cause"], failed["Status"]) == ("Boom", "it broke", "FAILED")
    assert "Output" not in failed
    pending = read(bucket, files["PENDING"][0]["Key"])[0]
    assert pending["Status"] == "PENDING" and "StopDate" not in pending


def test_empty_groups_are_listed_empty(services: Services, bucket: ObjectStore) -> None:
    write(ResultWriter(config(), RUN, services), [child(0)])
    files = read(bucket, f"mapJobs/{RUN_ID}/manifest.json")["ResultFiles"]
    assert files["FAILED"] == [] and files["PENDING"] == []
    assert bucket.keys("result-bucket") == [
        f"mapJobs/{RUN_ID}/SUCCEEDED_0.json",
        f"mapJobs/{RUN_ID}/manifest.json",
    ]


def test_compact_and_flatten(services: Services, bucket: ObjectStore) -> None:
    results = [child(0, output=[1, 2]), child(1, output={"a": 1}), child(2, "FAILED")]
    write(ResultWriter(config(Transformation="COMPACT"), RUN, services), results)
    assert read(bucket, f"mapJobs/{RUN_ID}/SUCCEEDED_0.json") == [[1, 2], {"a": 1}]
    assert read(bucket, f"mapJobs/{RUN_ID}/FAILED_0.json")[0]["Error"] == "Boom"  # failures as NONE
    write(ResultWriter(config(Transformation="FLATTEN"), RUN, services), results)
    assert read(bucket, f"mapJobs/{RUN_ID}/SUCCEEDED_0.json") == [1, 2, {"a": 1}]


def test_jsonl_output(services: Services, bucket: ObjectStore) -> None:
    write(
        ResultWriter(config(Transformation="COMPACT", OutputType="JSONL"), RUN, services),
        [child(0), child(1)],
    )
    data = bucket.read("result-bucket", f"mapJobs/{RUN_ID}/SUCCEEDED_0.json")[1]
    assert data == b'{"r":0}\n{"r":1}\n'


def test_files_split_at_the_limit(services: Services, bucket: ObjectStore) -> None:
    writer = ResultWriter(config(Transformation="COMPACT"), RUN, services)
    writer.file_limit = 20
    write(writer, [child(n) for n in range(5)])  # each entry is 7 bytes
    files = read(bucket, f"mapJobs/{RUN_ID}/manifest.json")["ResultFiles"]["SUCCEEDED"]
    assert len(files) == 3
    values = [v for f in files for v in read(bucket, f["Key"])]
    assert values == [{"r": n} for n in range(5)]
    assert all(f["Size"] <= 20 for f in files)


def test_no_prefix(services: Services, bucket: ObjectStore) -> None:
    spec = {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Bucket": "result-bucket"}}
    out = write(ResultWriter(spec, RUN, services), [child(0)])
    assert out["ResultWriterDetails"]["Key"] == f"{RUN_ID}/manifest.json"


def test_not_configured(services: Services) -> None:
    assert write(ResultWriter(None, RUN, services), [child(0)]) is None
    assert (
        write(ResultWriter({"WriterConfig": {"Transformation": "FLATTEN"}}, RUN, services), [child(0)])
        is None
    )


def test_missing_bucket_fails(services: Services) -> None:
    with pytest.raises(StatesError) as info:
        write(ResultWriter(config(), RUN, services), [child(0)])
    assert info.value.name == "States.ResultWriterFailed"
    assert (info.value.cause or "").startswith(
        "The specified bucket does not exist (Service: S3, Status Code: 404"
    )
