"""The embedded S3 provider: ``arn:aws:states:::aws-sdk:s3:ACTION`` Tasks on local folders.

Objects live in ``DATA_DIR/s3/BUCKET/KEY`` (see :mod:`legato.integrations._s3store`).
Supported actions: putObject, getObject, headObject, deleteObject, deleteObjects,
copyObject, listObjectsV2, listObjects, createBucket, deleteBucket, headBucket,
listBuckets. Parameters and results have the SDK's shapes as Step Functions shows them
(PascalCase keys; ``Body`` of getObject as text; a putObject ``Body`` is stored as the
JSON text of its value, quotes and all for a string, as on AWS). Errors are S3's, named as Step Functions names them:
``S3.NoSuchKeyException``, ``S3.NoSuchBucketException`` ...

S3 has no optimised Step Functions integration; Distributed Map's ItemReader and
ResultWriter can use :func:`object_store` to read and write the same objects.

When the integrations file routes ``s3`` to an endpoint, these handlers are not used:
the call goes through boto3 (:mod:`legato.integrations.aws_sdk`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from legato.integrations._s3store import ListPage, ObjectInfo, ObjectStore
from legato.integrations.aws_sdk import AwsServiceError, embedded, sdk_timestamp
from legato.integrations.registry import TaskCall

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["OWNER_ID", "ObjectStore", "object_store", "parse_range"]

OWNER_ID = hashlib.sha256(b"legato").hexdigest()
"""The canonical user id that owns every local bucket."""

_HEADER_PARAMS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")


def object_store(services: Services) -> ObjectStore:
    """The engine's object store, under ``DATA_DIR/s3`` (made on first use)."""
    state = services.integrations.state
    store = state.get("s3.store")
    if store is None:
        store = ObjectStore(services.integrations.directory("s3"), clock=services.clock.time)
        state["s3.store"] = store
    assert isinstance(store, ObjectStore)
    return store


def _params(call: TaskCall) -> dict[str, Any]:
    params = call.parameters if call.parameters is not None else {}
    if not isinstance(params, dict):
        raise AwsServiceError("S3Exception", "The Parameters of an aws-sdk:s3 Task must be an object.", 400)
    return params


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise AwsServiceError(
            "S3Exception",
            f"1 validation error detected: Value null at '{name[:1].lower() + name[1:]}' failed to "
            "satisfy constraint: Member must not be null",
            400,
        )
    if not isinstance(value, str):
        raise AwsServiceError("S3Exception", f"The parameter {name} must be a string.", 400)
    return value


def _max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys", 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AwsServiceError(
            "InvalidArgument", "Provided max-keys not an integer or within integer range", 400
        )
    return min(int(value), 1000)


def body_bytes(params: dict[str, Any]) -> bytes:
    """A putObject ``Body`` as Step Functions sends it: the value's JSON text (a string
    too: ``"text"`` is stored with its quotes, as the recorded ETags show)."""
    if "Body" not in params:
        return b""
    from legato import _json

    return _json.dumps(params["Body"]).encode("utf-8")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=A-B`` (or ``A-``, ``-N``) as an inclusive (start, end); None for the whole object.

    Raises ``InvalidRange`` when it cannot be satisfied."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None  # S3 ignores what it does not understand
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            start, end = max(size - n, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or (first == "" and int(last) == 0):
        raise AwsServiceError("InvalidRange", "The requested range is not satisfiable", 416)
    return start, min(end, size - 1)


def _object_fields(info: ObjectInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "ContentLength": info.size,
        "ContentType": info.content_type,
        "ETag": info.etag,
        "LastModified": sdk_timestamp(info.last_modified),
        "Metadata": dict(info.metadata),
        "ServerSideEncryption": "AES256",
    }
    for name, value in info.headers.items():
        out[name] = value
    return out


def _store_options(params: dict[str, Any]) -> dict[str, Any]:
    metadata = params.get("Metadata") or {}
    if not isinstance(metadata, dict):
        raise AwsServiceError("S3Exception", "The parameter Metadata must be an object.", 400)
    return {
        "content_type": params.get("ContentType"),
        "metadata": {str(k): str(v) for k, v in metadata.items()},
        "headers": {k: str(params[k]) for k in _HEADER_PARAMS if params.get(k) is not None},
    }


@embedded("s3", "putObject")
async def put_object(call: TaskCall) -> Any:
    """``s3:putObject``: stores ``Body`` as the object ``Bucket``/``Key``."""
    params = _params(call)
    bucket, key = _required(params, "Bucket"), _required(params, "Key")
    store, body, options = object_store(call.services), body_bytes(params), _store_options(params)
    # The files are written off the event loop; the clock holds still meanwhile.
    loop = asyncio.get_running_loop()
    with call.services.clock.busy():
        info = await loop.run_in_executor(
            call.services.executor, functools.partial(store.put, bucket, key, body, **options)
        )
    return {
        "ChecksumCRC32": info.crc32,
        "ChecksumType": "FULL_OBJECT",
        "ETag": info.etag,
        "ServerSideEncryption": "AES256",
    }


@embedded("s3", "getObject")
async def get_object(call: TaskCall) -> Any:
    """``s3:getObject``: the object's metadata, and its content as text in ``Body``."""
    params = _params(call)
    bucket, key = _required(params, "Bucket"), _required(params, "Key")
    store = object_store(call.services)
    info, _ = store.head(bucket, key)
    span = parse_range(params.get("Range"), info.size)
    info, data = store.read(bucket, key, *(span or (0, None)))
    out = _object_fields(info)
    if span is not None:
        out["ContentLength"] = len(data)
        out["ContentRange"] = f"bytes {span[0]}-{span[1]}/{info.size}"
    if params.get("ChecksumMode") == "ENABLED":
        out["ChecksumCRC32"] = info.crc32
        out["ChecksumType"] = "FULL_OBJECT"
    out["Body"] = data.decode("utf-8", errors="replace")
    return out


@embedded("s3", "headObject")
async def head_object(call: TaskCall) -> Any:
    """``s3:headObject``: the object's metadata."""
    params = _params(call)
    info, _ = object_store(call.services).head(_required(params, "Bucket"), _required(params, "Key"))
    return _object_fields(info)


@embedded("s3", "deleteObject")
async def delete_object(call: TaskCall) -> Any:
    """``s3:deleteObject``: removes the object (no error when it is missing, as on S3)."""
    params = _params(call)
    object_store(call.services).delete(_required(params, "Bucket"), _required(params, "Key"))
    return {}


@embedded("s3", "deleteObjects")
async def delete_objects(call: TaskCall) -> Any:
    """``s3:deleteObjects``: removes the objects of ``Delete.Objects``."""
    params = _params(call)
    bucket = _required(params, "Bucket")
    spec = params.get("Delete") or {}
    objects = spec.get("Objects") if isinstance(spec, dict) else None
    if not isinstance(objects, list):
        raise AwsServiceError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        )
    store = object_store(call.services)
    deleted, errors = [], []
    for item in objects:
        key = item.get("Key") if isinstance(item, dict) else None
        try:
            store.delete(bucket, key if isinstance(key, str) else "")
            deleted.append({"Key": key})
        except AwsServiceError as exc:
            if exc.code == "NoSuchBucket":
                raise
            errors.append({"Code": exc.code, "Key": key, "Message": exc.message})
    out: dict[str, Any] = {}
    if deleted and not spec.get("Quiet"):
        out["Deleted"] = deleted
    if errors:
        out["Errors"] = errors
    return out


def parse_copy_source(source: str) -> tuple[str, str]:
    """``BUCKET/KEY`` (URL-encoded, maybe with a leading ``/``) as (bucket, key)."""
    text = unquote(source.split("?versionId=", 1)[0]).lstrip("/")
    bucket, slash, key = text.partition("/")
    if not slash or not bucket or not key:
        raise AwsServiceError("InvalidArgument", "Invalid copy source object key", 400)
    return bucket, key


@embedded("s3", "copyObject")
async def copy_object(call: TaskCall) -> Any:
    """``s3:copyObject``: copies ``CopySource`` (``BUCKET/KEY``) to ``Bucket``/``Key``."""
    params = _params(call)
    bucket, key = _required(params, "Bucket"), _required(params, "Key")
    source_bucket, source_key = parse_copy_source(_required(params, "CopySource"))
    directive = params.get("MetadataDirective") or "COPY"
    replace = _store_options(params) if directive == "REPLACE" else None
    info = object_store(call.services).copy(source_bucket, source_key, bucket, key, replace=replace)
    return {
        "CopyObjectResult": {"ETag": info.etag, "LastModified": sdk_timestamp(info.last_modified)},
        "ServerSideEncryption": "AES256",
    }


def _encode(key: str, encoding: Any) -> str:
    return quote(key, safe="/") if encoding == "url" else key


def _listing(page: ListPage, params: dict[str, Any], owner: bool) -> dict[str, Any]:
    encoding = params.get("EncodingType")
    out: dict[str, Any] = {}
    if page.contents:
        contents = []
        for info in page.contents:
            item: dict[str, Any] = {
                "ETag": info.etag,
                "Key": _encode(info.key, encoding),
                "LastModified": sdk_timestamp(info.last_modified),
                "Size": info.size,
                "StorageClass": "STANDARD",
            }
            if owner:
                item["Owner"] = {"DisplayName": "legato", "ID": OWNER_ID}
            contents.append(item)
        out["Contents"] = contents
    if page.common_prefixes:
        out["CommonPrefixes"] = [{"Prefix": _encode(p, encoding)} for p in page.common_prefixes]
    if params.get("Delimiter"):
        out["Delimiter"] = _encode(params["Delimiter"], encoding)
    if encoding:
        out["EncodingType"] = encoding
    return out


def continuation_token(marker: str) -> str:
    """The opaque token that continues a listing after ``marker``."""
    return base64.urlsafe_b64encode(marker.encode("utf-8", errors="surrogatepass")).decode()


def marker_of_token(token: str) -> str:
    """The marker a continuation token stands for; ``InvalidArgument`` for a foreign token."""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode("utf-8", errors="surrogatepass")
    except (binascii.Error, ValueError):
        raise AwsServiceError(
            "InvalidArgument", "The continuation token provided is incorrect", 400
        ) from None


def list_v2(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjectsV2 over ``store`` with the SDK's parameters and result shape."""
    bucket = _required(params, "Bucket")
    prefix = str(params.get("Prefix") or "")
    token = params.get("ContinuationToken")
    start_after = str(params.get("StartAfter") or "")
    after = marker_of_token(token) if token else start_after
    max_keys = _max_keys(params)
    page = store.list(
        bucket, prefix=prefix, delimiter=str(params.get("Delimiter") or ""), after=after, max_keys=max_keys
    )
    out = {
        **_listing(page, params, bool(params.get("FetchOwner"))),
        "IsTruncated": page.truncated,
        "KeyCount": len(page.contents) + len(page.common_prefixes),
        "MaxKeys": max_keys,
        "Name": bucket,
        "Prefix": _encode(prefix, params.get("EncodingType")),
    }
    if token:
        out["ContinuationToken"] = token
    if page.next_marker is not None:
        out["NextContinuationToken"] = continuation_token(page.next_marker)
    if start_after:
        out["StartAfter"] = _encode(start_after, params.get("EncodingType"))
    return out


def list_v1(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjects (version 1) over ``store``."""
    bucket = _required(params, "Bucket")
    prefix = str(params.get("Prefix") or "")
    marker = str(params.get("Marker") or "")
    delimiter = str(params.get("Delimiter") or "")
    max_keys = _max_keys(params)
    page = store.list(bucket, prefix=prefix, delimiter=delimiter, after=marker, max_keys=max_keys)
    out = {
        **_listing(page, params, True),
        "IsTruncated": page.truncated,
        "Marker": _encode(marker, params.get("EncodingType")),
        "MaxKeys": max_keys,
        "Name": bucket,
        "Prefix": _encode(prefix, params.get("EncodingType")),
    }
    if page.next_marker is not None and delimiter:
        out["NextMarker"] = _encode(page.next_marker, params.get("EncodingType"))
    return out


@embedded("s3", "listObjectsV2")
async def list_objects_v2(call: TaskCall) -> Any:
    """``s3:listObjectsV2``: Prefix, Delimiter, MaxKeys, ContinuationToken, StartAfter."""
    return list_v2(object_store(call.services), _params(call))


@embedded("s3", "listObjects")
async def list_objects(call: TaskCall) -> Any:
    """``s3:listObjects``: Prefix, Delimiter, MaxKeys, Marker."""
    return list_v1(object_store(call.services), _params(call))


def create_bucket(store: ObjectStore, bucket: str, region: str) -> None:
    """Makes a bucket; an existing one is no error in us-east-1 and
    ``BucketAlreadyOwnedByYou`` elsewhere, as on S3."""
    if not store.create_bucket(bucket) and region != "us-east-1":
        raise AwsServiceError(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            409,
        )


@embedded("s3", "createBucket")
async def create_bucket_task(call: TaskCall) -> Any:
    """``s3:createBucket``: makes the bucket's folder."""
    bucket = _required(_params(call), "Bucket")
    create_bucket(object_store(call.services), bucket, call.services.region)
    return {"Location": f"/{bucket}"}


@embedded("s3", "deleteBucket")
async def delete_bucket(call: TaskCall) -> Any:
    """``s3:deleteBucket``: removes an empty bucket."""
    object_store(call.services).delete_bucket(_required(_params(call), "Bucket"))
    return {}


@embedded("s3", "headBucket")
async def head_bucket(call: TaskCall) -> Any:
    """``s3:headBucket``: succeeds when the bucket exists."""
    object_store(call.services).bucket_dir(_required(_params(call), "Bucket"))
    return {"AccessPointAlias": False, "BucketRegion": call.services.region}


@embedded("s3", "listBuckets")
async def list_buckets(call: TaskCall) -> Any:
    """``s3:listBuckets``: every bucket, with its creation date."""
    buckets = object_store(call.services).buckets()
    return {
        "Buckets": [{"CreationDate": sdk_timestamp(b.created), "Name": b.name} for b in buckets],
        "Owner": {"DisplayName": "legato", "ID": OWNER_ID},
    }
