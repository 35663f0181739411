"""ItemReader and ItemBatcher: every input type, limits, streaming and recorded causes."""

from __future__ import annotations

import asyncio
import gzip
import io
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from legato import _json
from legato.errors import StatesError
from legato.integrations._s3store import ObjectStore
from legato.maprun import batches, read_items
from legato.runtime.services import Services

GET = "arn:aws:states:::s3:getObject"
CSV_BODY = (
    b"Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"
)


def reader(input_type: str, key: str, **config: Any) -> dict[str, Any]:
    return {
        "Resource": GET,
        "ReaderConfig": {"InputType": input_type, **config},
        "Parameters": {"Bucket": "bucket-name", "Key": key},
    }


def collect(spec: dict[str, Any], services: Services, **kw: Any) -> list[Any]:
    async def go() -> list[Any]:
        return [item async for item in read_items(spec, services, **kw)]

    return asyncio.run(go())


def failure(spec: dict[str, Any], services: Services, **kw: Any) -> StatesError:
    with pytest.raises(StatesError) as info:
        collect(spec, services, **kw)
    assert info.value.name == "States.ItemReaderFailed"
    return info.value


def test_json_array(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.json", b'[{"a": 1}, "two", [3]]')
    assert collect(reader("JSON", "file.json"), services) == [{"a": 1}, "two", [3]]


def test_json_not_an_array(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.json", b'{"Hello": "world"}')
    assert failure(reader("JSON", "file.json"), services).cause == "Attempting to map over non-iterable node."


def test_json_items_pointer(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.json", b'{"data": {"rows": [1, 2]}}')
    assert collect(reader("JSON", "file.json", ItemsPointer="/data/rows"), services) == [1, 2]


def test_jsonata_arguments(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.json", b"[1, 2, 3]")
    spec = {
        "Resource": GET,
        "ReaderConfig": {"InputType": "JSON"},
        "Arguments": {"Bucket": "bucket-name", "Key": "file.json"},
    }
    assert collect(spec, services) == [1, 2, 3]


def test_jsonl(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "f.jsonl", b'{"a": 1}\n\n[2]\n"x"')
    assert collect(reader("JSONL", "f.jsonl"), services) == [{"a": 1}, [2], "x"]


def test_jsonl_bad_line(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "f.jsonl", b'{"a": 1}\n{oops\n')
    assert "line 2" in (failure(reader("JSONL", "f.jsonl"), services).cause or "")


def test_jsonl_streams_with_bounded_memory(services: Services, store: ObjectStore) -> None:
    line = b'{"id": 123456, "payload": "' + b"x" * 80 + b'"}\n'
    upload = store.upload()
    for _ in range(200):
        upload.write(line * 1000)  # 200,000 lines, about 21 MB
    store.put("bucket-name", "big.jsonl", upload)

    async def count() -> int:
        n = 0
        async for _ in read_items(reader("JSONL", "big.jsonl"), services):
            n += 1
        return n

    tracemalloc.start()
    try:
        assert asyncio.run(count()) == 200_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # the object is ~21 MB; reading it keeps a few slices


def test_csv_first_row(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.csv", CSV_BODY)
    assert collect(reader("CSV", "file.csv", CSVHeaderLocation="FIRST_ROW"), services) == [
        {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
        {"Col1": "Value4", "Col2": "Value5", "Col3": "Value6"},
        {"Col1": "", "Col2": "", "Col3": ""},
        {"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"},
        {"Col1": "Null", "Col2": "None", "Col3": ""},
        {"Col1": "   ", "Col2": "", "Col3": ""},
    ]


def test_csv_first_row_extra_fields(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.csv", b"H1,\nValue4,Value5,Value6\nNull,None,\n")
    assert collect(reader("CSV", "file.csv", CSVHeaderLocation="FIRST_ROW"), services) == [
        {"H1": "Value4", "": "Value5"},
        {"H1": "Null", "": "None"},
    ]


def test_csv_given_headers(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.csv", b'Value1,Value2,Value3\n"a,b",c\n')
    spec = reader("CSV", "file.csv", CSVHeaderLocation="GIVEN", CSVHeaders=["H1", "H2"])
    assert collect(spec, services) == [{"H1": "Value1", "H2": "Value2"}, {"H1": "a,b", "H2": "c"}]


def test_csv_duplicate_headers(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.csv", b"Value1,Value2,Value3\n")
    spec = reader("CSV", "file.csv", CSVHeaderLocation="GIVEN", CSVHeaders=["H1", "H1", "H3"])
    assert failure(spec, services).cause == "CSV headers cannot contain duplicates."
    store.put("bucket-name", "dup.csv", b"A,A\n1,2\n")
    assert failure(reader("CSV", "dup.csv"), services).cause == "CSV headers cannot contain duplicates."


@pytest.mark.parametrize(
    ("name", "char"), [("COMMA", ","), ("PIPE", "|"), ("SEMICOLON", ";"), ("SPACE", " "), ("TAB", "\t")]
)
def test_csv_delimiters(services: Services, store: ObjectStore, name: str, char: str) -> None:
    store.put("bucket-name", "file.csv", f"a{char}b\n1{char}2\n".encode())
    assert collect(reader("CSV", "file.csv", CSVDelimiter=name), services) == [{"a": "1", "b": "2"}]


def test_csv_bad_delimiter(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.csv", b"a\n1\n")
    failure(reader("CSV", "file.csv", CSVDelimiter="COLON"), services)


@pytest.mark.parametrize(("limit", "count"), [(None, 4), (0, 4), (2, 2), (100_000_001, 4)])
def test_max_items(services: Services, store: ObjectStore, limit: int | None, count: int) -> None:
    store.put("bucket-name", "file.csv", b"Col1,Col2\nV1,V2\nV3,V4\nV5,V6\nV7,V8\n")
    assert len(collect(reader("CSV", "file.csv", MaxItems=limit), services)) == count
    assert len(collect(reader("CSV", "file.csv"), services, max_items=limit)) == count


def test_max_items_negative(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "file.csv", b"Col1\nV1\n")
    assert (
        failure(reader("CSV", "file.csv"), services, max_items=-1).cause == "field MaxItems must be positive"
    )


def test_missing_object_is_s3_error(services: Services, store: ObjectStore) -> None:
    cause = failure(reader("JSON", "absent.json"), services).cause or ""
    assert cause.startswith("The specified key does not exist. (Service: S3, Status Code: 404")


def test_missing_bucket(services: Services) -> None:
    spec = {
        "Resource": GET,
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "nobucket", "Key": "k"},
    }
    assert (failure(spec, services).cause or "").startswith("The specified bucket does not exist")


def test_list_objects_v2(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "data/a.txt", b"hello")
    store.put("bucket-name", "data/b/c.txt", b"")
    store.put("bucket-name", "other.txt", b"x")
    spec = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "bucket-name", "Prefix": "data/"},
    }
    items = collect(spec, services)
    assert [i["Key"] for i in items] == ["data/a.txt", "data/b/c.txt"]
    first = items[0]
    assert set(first) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert first["Size"] == 5 and first["StorageClass"] == "STANDARD"
    assert first["Etag"] == '"5d41402abc4b2a76b9719d911017c592"'
    assert isinstance(first["LastModified"], int)


def test_list_objects_v2_pages(services: Services, store: ObjectStore) -> None:
    for n in range(1205):
        store.put("bucket-name", f"k/{n:05d}", b"")
    spec = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "bucket-name"}}
    assert len(collect(spec, services)) == 1205
    assert len(collect(spec, services, max_items=1001)) == 1001


def test_manifest(services: Services, store: ObjectStore) -> None:
    store.create_bucket("inventory")
    rows = b'"src","a.txt","10"\n"src","b/c.txt","20"\n'
    store.put("inventory", "inv/data/1.csv.gz", gzip.compress(rows))
    store.put("inventory", "inv/data/2.csv", b'"src","d.txt","30"\n')
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": "arn:aws:s3:::inventory",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size",
        "files": [{"key": "inv/data/1.csv.gz", "size": 1}, {"key": "inv/data/2.csv", "size": 1}],
    }
    store.put("bucket-name", "manifest.json", _json.dumps(manifest).encode())
    assert collect(reader("MANIFEST", "manifest.json"), services) == [
        {"Bucket": "src", "Key": "a.txt", "Size": "10"},
        {"Bucket": "src", "Key": "b/c.txt", "Size": "20"},
        {"Bucket": "src", "Key": "d.txt", "Size": "30"},
    ]


def test_parquet(services: Services, store: ObjectStore) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": list(range(10)), "name": [f"n{i}" for i in range(10)]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=3)
    store.put("bucket-name", "t.parquet", buffer.getvalue())
    items = collect(reader("PARQUET", "t.parquet"), services)
    assert items == [{"id": i, "name": f"n{i}"} for i in range(10)]
    assert collect(reader("PARQUET", "t.parquet", MaxItems=4), services) == items[:4]


def test_parquet_not_parquet(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "t.parquet", b"not parquet")
    failure(reader("PARQUET", "t.parquet"), services)


def test_unknown_input_type(services: Services, store: ObjectStore) -> None:
    store.put("bucket-name", "f", b"[]")
    failure(reader("XML", "f"), services)


# -- batching


async def _aiter(values: list[Any]) -> AsyncIterator[Any]:
    for v in values:
        yield v


def batched(values: list[Any], batcher: dict[str, Any] | None) -> list[Any]:
    async def go() -> list[Any]:
        return [b async for b in batches(_aiter(values), batcher)]

    return asyncio.run(go())


def test_no_batcher() -> None:
    assert batched([1, 2, 3], None) == [1, 2, 3]


def test_batch_by_count_with_batch_input() -> None:
    out = batched([1, 2, 3, 4, 5], {"MaxItemsPerBatch": 2, "BatchInput": {"k": "v"}})
    assert out == [
        {"BatchInput": {"k": "v"}, "Items": [1, 2]},
        {"BatchInput": {"k": "v"}, "Items": [3, 4]},
        {"BatchInput": {"k": "v"}, "Items": [5]},
    ]


def test_batch_by_bytes() -> None:
    items = ["x" * 10] * 10  # each item is 12 bytes of JSON
    out = batched(items, {"MaxInputBytesPerBatch": 50})
    for batch in out:
        assert _json.size(batch) <= 50
    assert sum(len(b["Items"]) for b in out) == 10
    assert len(out[0]["Items"]) == 3  # {"Items":[...]} is 11 bytes + 3*12 + 2 commas = 49


def test_batch_by_count_and_bytes() -> None:
    out = batched(list(range(10)), {"MaxItemsPerBatch": 4, "MaxInputBytesPerBatch": 262144})
    assert [b["Items"] for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batch_invalid() -> None:
    with pytest.raises(StatesError):
        batched([1], {"MaxItemsPerBatch": -1})
