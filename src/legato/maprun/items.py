"""ItemReader and ItemBatcher: a Distributed Map's items, streamed from S3.

Items are read lazily: a JSONL or CSV object is read line by line from the embedded
store's file (or from the passthrough's streaming body), never loaded whole. The
readers are plain synchronous generators; :func:`read_items` pulls them in small
slices, on the event loop for local files and in the thread pool for the passthrough
(whose reads wait on the network).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import decimal
import gzip
import io
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from legato import _json
from legato.errors import StatesError
from legato.integrations.aws_sdk import AwsServiceError

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["MAX_ITEMS_LIMIT", "batches", "read_items"]

GET_OBJECT = "arn:aws:states:::s3:getObject"
LIST_OBJECTS_V2 = "arn:aws:states:::s3:listObjectsV2"
MAX_ITEMS_LIMIT = 100_000_000
"""The most items a Map Run reads; a larger MaxItems is taken as this many."""
MAX_BATCH_BYTES = 256 * 1024
"""The largest batch input, the Step Functions payload limit."""
ITEM_READER_FAILED = "States.ItemReaderFailed"

_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_SLICE = 256  # items pulled per step from a reader (per thread hop for the passthrough)
_CHUNK = 64 * 1024


def _failed(cause: str) -> StatesError:
    return StatesError(ITEM_READER_FAILED, cause)


def _limit(reader: Mapping[str, Any], max_items: int | None) -> int | None:
    """The item limit: ``max_items`` or ReaderConfig.MaxItems; 0 or absent means none."""
    value: Any = max_items
    if value is None:
        value = (reader.get("ReaderConfig") or {}).get("MaxItems")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _failed("field MaxItems must be an integer")
    if value < 0:
        raise _failed("field MaxItems must be positive")
    return min(int(value), MAX_ITEMS_LIMIT) or None


# -- where the bytes come from


class _Source:
    """Opens S3 objects and lists keys, from the embedded store or through boto3."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.config = services.integrations.service("s3")

    @property
    def remote(self) -> bool:
        return self.config is not None

    def _client(self) -> Any:
        from legato.integrations.aws_sdk import _client, service_info

        assert self.config is not None
        return _client(self.services, service_info("s3"), self.config)

    def _error(self, exc: Exception) -> StatesError:
        from legato.integrations.aws_sdk import _client_error, _embedded_error, service_info

        if isinstance(exc, AwsServiceError):
            error = _embedded_error(self.services, "s3", exc)
        else:
            error = _client_error(service_info("s3"), exc)
        return _failed(error.cause or error.name)

    def open(self, bucket: str, key: str, version: str | None = None) -> BinaryIO:
        """The object's bytes as a binary stream."""
        try:
            if not self.remote:
                from legato.integrations.s3 import object_store

                _, path = object_store(self.services).head(bucket, key)
                return open(path, "rb")
            from botocore.exceptions import ClientError

            kwargs = {"Bucket": bucket, "Key": key}
            if version:
                kwargs["VersionId"] = version
            try:
                body = self._client().get_object(**kwargs)["Body"]
            except ClientError as exc:
                raise self._error(exc) from None
            return io.BufferedReader(_BodyStream(body), _CHUNK)
        except AwsServiceError as exc:
            raise self._error(exc) from None

    def listing(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under ``prefix`` as ``(Key, Size, ETag, LastModified epoch, StorageClass)``."""
        if not self.remote:
            from legato.integrations.s3 import object_store

            store = object_store(self.services)
            after = ""
            while True:
                try:
                    page = store.list(bucket, prefix=prefix, after=after, max_keys=1000)
                except AwsServiceError as exc:
                    raise self._error(exc) from None
                for info in page.contents:
                    yield {
                        "Etag": info.etag,
                        "Key": info.key,
                        "LastModified": int(info.last_modified),
                        "Size": info.size,
                        "StorageClass": "STANDARD",
                    }
                if not page.truncated or page.next_marker is None:
                    return
                after = page.next_marker
        from botocore.exceptions import ClientError

        paginator = self._client().get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents") or ():
                    modified = obj.get("LastModified")
                    yield {
                        "Etag": obj.get("ETag"),
                        "Key": obj["Key"],
                        "LastModified": int(modified.timestamp()) if modified else None,
                        "Size": obj.get("Size"),
                        "StorageClass": obj.get("StorageClass", "STANDARD"),
                    }
        except ClientError as exc:
            raise self._error(exc) from None


class _BodyStream(io.RawIOBase):
    """A botocore streaming body as a raw stream, so it can be buffered and decoded."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        self._body.close()
        super().close()


# -- the readers (synchronous generators)


def _params(reader: Mapping[str, Any]) -> dict[str, Any]:
    params = reader.get("Parameters")
    if params is None:
        params = reader.get("Arguments")
    if not isinstance(params, dict):
        raise _failed("The ItemReader's Parameters must be an object with Bucket and Key or Prefix.")
    return params


def _text(params: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str):
        raise _failed(f"The ItemReader's Parameters.{name} must be a string.")
    return value


def _json_items(source: _Source, params: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Any]:
    # A JSON object is one document: AWS parses it whole and maps over its array.
    with source.open(_text(params, "Bucket"), _text(params, "Key"), params.get("VersionId")) as f:
        data = f.read()
    try:
        value = _json.loads(data)
    except ValueError:
        raise _failed("The ItemReader could not parse the object as JSON.") from None
    pointer = config.get("ItemsPointer")
    if isinstance(pointer, str) and pointer:
        value = _pointer(value, pointer)
    if not isinstance(value, list):
        raise _failed("Attempting to map over non-iterable node.")
    yield from value


def _pointer(value: Any, pointer: str) -> Any:
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise _failed(f"The ItemsPointer '{pointer}' does not point at a value of the object.")
    return value


def _jsonl_items(source: _Source, params: dict[str, Any]) -> Iterator[Any]:
    with source.open(_text(params, "Bucket"), _text(params, "Key"), params.get("VersionId")) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield _json.loads(line)
            except ValueError:
                raise _failed(
                    f"The ItemReader could not parse line {number} of the object as JSON."
                ) from None


def _csv_headers(config: Mapping[str, Any]) -> list[str] | None:
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    if location == "FIRST_ROW":
        return None
    if location != "GIVEN":
        raise _failed(f"CSVHeaderLocation must be FIRST_ROW or GIVEN, not {location!r}.")
    headers = config.get("CSVHeaders")
    if not isinstance(headers, list) or not headers or not all(isinstance(h, str) for h in headers):
        raise _failed("CSVHeaders must be a non-empty list of strings when CSVHeaderLocation is GIVEN.")
    return list(headers)


def _rows(stream: BinaryIO, delimiter: str, headers: list[str] | None) -> Iterator[dict[str, str]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield from _records(csv.reader(text, delimiter=delimiter), headers)
    finally:
        text.detach()  # the caller closes the stream


def _records(rows: Iterator[list[str]], headers: list[str] | None) -> Iterator[dict[str, str]]:
    if headers is None:
        headers = next((row for row in rows if row), None)
        if headers is None:
            return
    if len(set(headers)) != len(headers):
        raise _failed("CSV headers cannot contain duplicates.")
    width = len(headers)
    for row in rows:
        if not row:
            continue  # a blank line is no item
        if len(row) < width:
            row = row + [""] * (width - len(row))
        yield dict(zip(headers, row, strict=False))


def _csv_items(source: _Source, params: dict[str, Any], config: Mapping[str, Any]) -> Iterator[Any]:
    name = config.get("CSVDelimiter", "COMMA")
    delimiter = _DELIMITERS.get(name) if isinstance(name, str) else None
    if delimiter is None:
        raise _failed(f"CSVDelimiter must be one of {', '.join(_DELIMITERS)}, not {name!r}.")
    headers = _csv_headers(config)
    with source.open(_text(params, "Bucket"), _text(params, "Key"), params.get("VersionId")) as f:
        yield from _rows(f, delimiter, headers)


def _manifest_items(source: _Source, params: dict[str, Any]) -> Iterator[Any]:
    """An S3 Inventory: manifest.json names gzipped CSV files without a header row whose
    columns are the manifest's ``fileSchema``."""
    with source.open(_text(params, "Bucket"), _text(params, "Key"), params.get("VersionId")) as f:
        data = f.read()
    try:
        manifest = _json.loads(data)
    except ValueError:
        raise _failed("The ItemReader could not parse the manifest as JSON.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise _failed("The S3 Inventory manifest has no 'files' list.")
    file_format = manifest.get("fileFormat", "CSV")
    if file_format != "CSV":
        raise _failed(f"S3 Inventory file format {file_format} is not supported: use CSV.")
    schema = manifest.get("fileSchema")
    if not isinstance(schema, str) or not schema.strip():
        raise _failed("The S3 Inventory manifest has no 'fileSchema'.")
    headers = [name.strip() for name in schema.split(",")]
    destination = str(manifest.get("destinationBucket") or params["Bucket"])
    bucket = destination.removeprefix("arn:aws:s3:::")
    for entry in manifest["files"]:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str):
            raise _failed("An entry of the S3 Inventory manifest's 'files' has no 'key'.")
        with source.open(bucket, key) as raw:
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if key.endswith(".gz") else raw  # type: ignore[assignment]
            yield from _rows(stream, ",", headers)


def _plain(value: Any) -> Any:
    """A Parquet cell as a JSON value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def _parquet_items(source: _Source, params: dict[str, Any]) -> Iterator[Any]:
    import pyarrow.parquet as pq

    bucket, key = _text(params, "Bucket"), _text(params, "Key")
    with source.open(bucket, key, params.get("VersionId")) as f:
        if source.remote:  # Parquet needs to seek: keep a local copy
            spool = tempfile.TemporaryFile()
            while chunk := f.read(_CHUNK):
                spool.write(chunk)
            spool.seek(0)
            target: BinaryIO = spool
        else:
            target = f
        try:
            parquet = pq.ParquetFile(target)
        except Exception as exc:  # pyarrow raises its own ArrowInvalid
            raise _failed(f"The ItemReader could not read the object as Parquet: {exc}") from None
        for group in range(parquet.num_row_groups):
            for row in parquet.read_row_group(group).to_pylist():
                yield {str(k): _plain(v) for k, v in row.items()}
        if target is not f:
            target.close()


def _items(reader: Mapping[str, Any], source: _Source) -> Generator[Any, None, None]:
    resource = reader.get("Resource")
    config = reader.get("ReaderConfig") or {}
    params = _params(reader)
    if resource == LIST_OBJECTS_V2:
        yield from source.listing(_text(params, "Bucket"), _text(params, "Prefix", ""))
        return
    if resource != GET_OBJECT:
        raise _failed(
            f"The ItemReader resource {resource!r} is not supported: use {GET_OBJECT} or {LIST_OBJECTS_V2}."
        )
    kind = config.get("InputType", "JSON")
    if kind == "JSON":
        yield from _json_items(source, params, config)
    elif kind == "JSONL":
        yield from _jsonl_items(source, params)
    elif kind == "CSV":
        yield from _csv_items(source, params, config)
    elif kind == "MANIFEST":
        yield from _manifest_items(source, params)
    elif kind == "PARQUET":
        yield from _parquet_items(source, params)
    else:
        raise _failed(f"InputType {kind!r} is not supported: use CSV, JSON, JSONL, MANIFEST or PARQUET.")


def _take(items: Iterator[Any], n: int) -> list[Any]:
    out = []
    for item in items:
        out.append(item)
        if len(out) >= n:
            break
    return out


async def read_items(
    reader: Mapping[str, Any], services: Services, *, max_items: int | None = None
) -> AsyncIterator[Any]:
    """The items of an evaluated ItemReader, one at a time.

    ``reader`` has ``Resource`` (``arn:aws:states:::s3:getObject`` or
    ``arn:aws:states:::s3:listObjectsV2``), ``ReaderConfig`` (InputType JSON, JSONL, CSV,
    MANIFEST or PARQUET; CSVHeaderLocation, CSVHeaders, CSVDelimiter; MaxItems) and
    ``Parameters`` (or ``Arguments``) with Bucket and Key or Prefix, already evaluated.
    ``max_items`` overrides ReaderConfig.MaxItems (an evaluated MaxItemsPath).

    Raises ``StatesError("States.ItemReaderFailed", cause)`` with AWS's causes.
    """
    limit = _limit(reader, max_items)
    source = _Source(services)
    items = _items(reader, source)
    remaining = limit if limit is not None else -1
    loop = asyncio.get_running_loop()
    try:
        while remaining:
            want = _SLICE if remaining < 0 else min(_SLICE, remaining)
            if source.remote:
                chunk = await loop.run_in_executor(services.executor, _take, items, want)
            else:
                chunk = _take(items, want)
            for item in chunk:
                yield item
            if len(chunk) < want:
                return
            if remaining > 0:
                remaining -= len(chunk)
    finally:
        items.close()


def _positive(batcher: Mapping[str, Any], name: str) -> int | None:
    value = batcher.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise StatesError(
            "States.Runtime", f"The ItemBatcher field {name} must be a positive integer, not {value!r}."
        )
    return int(value) or None


async def batches(items: AsyncIterator[Any], batcher: Mapping[str, Any] | None) -> AsyncIterator[Any]:
    """Groups ``items`` as an evaluated ItemBatcher does: ``{"Items": [...]}`` (plus
    ``"BatchInput"`` when given) of at most MaxItemsPerBatch items and
    MaxInputBytesPerBatch bytes (256 KiB at most, counting the whole batch's JSON);
    with no batcher, the items unchanged."""
    if batcher is None:
        async for item in items:
            yield item
        return
    max_items = _positive(batcher, "MaxItemsPerBatch")
    max_bytes = min(_positive(batcher, "MaxInputBytesPerBatch") or MAX_BATCH_BYTES, MAX_BATCH_BYTES)
    extra: dict[str, Any] = {}
    if "BatchInput" in batcher and batcher["BatchInput"] is not None:
        extra["BatchInput"] = batcher["BatchInput"]
    base = _json.size({**extra, "Items": []})
    current: list[Any] = []
    size = base
    async for item in items:
        item_size = _json.size(item) + (1 if current else 0)
        if current and (
            size + item_size > max_bytes or (max_items is not None and len(current) >= max_items)
        ):
            yield {**extra, "Items": current}
            current, size = [], base
            item_size -= 1
        current.append(item)
        size += item_size
    if current:
        yield {**extra, "Items": current}
