"""An S3-compatible REST API on ``legato serve``'s port, over the embedded object store.

Path-style requests only (``http://HOST:PORT/BUCKET/KEY``; configure clients with
``addressing_style: path``), answered as S3 answers them (XML bodies, S3 error codes):

| request | operation |
| --- | --- |
| ``GET /`` (S3-signed) | ListBuckets |
| ``PUT / DELETE / HEAD /BUCKET`` | CreateBucket, DeleteBucket, HeadBucket |
| ``GET /BUCKET?list-type=2``, ``GET /BUCKET`` | ListObjectsV2, ListObjects |
| ``GET /BUCKET?location`` | GetBucketLocation |
| ``POST /BUCKET?delete`` | DeleteObjects |
| ``PUT /BUCKET/KEY`` (``x-amz-copy-source``: CopyObject) | PutObject |
| ``GET / HEAD / DELETE /BUCKET/KEY`` | GetObject (``Range``), HeadObject, DeleteObject |

The Step Functions API stays ``POST /`` with ``X-Amz-Target``; an unsigned ``GET /`` is
the console's. With ``legato serve --credentials``, S3 requests must carry a SigV4
signature for service ``s3`` (``x-amz-content-sha256`` is signed, and the body is checked
against it). Multipart uploads, versioning, ACLs and presigned URLs are not supported
(``NotImplemented``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from aiohttp import web

from legato.api.auth import SigV4Verifier
from legato.errors import ApiError
from legato.integrations import s3 as s3_provider
from legato.integrations._s3store import ObjectInfo, ObjectStore, Upload
from legato.integrations.aws_sdk import AwsServiceError

if TYPE_CHECKING:
    from legato.engine import Engine

__all__ = ["add_s3_routes", "is_s3_request", "root_handler"]

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_ROUTE_NAMES = ("s3-bucket", "s3-object")
_CHUNK = 1 << 16
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STORED_HEADERS = {
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "Expires": "Expires",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ENGINE: web.AppKey[Any] = web.AppKey("s3.engine", object)
_VERIFIER: web.AppKey[Any] = web.AppKey("s3.verifier", object)


def is_s3_request(request: web.Request) -> bool:
    """Whether the S3 API answers this request (it checks signatures itself)."""
    route = request.match_info.route
    if getattr(route, "name", None) in _ROUTE_NAMES:
        return True
    return request.path == "/" and request.method in ("GET", "HEAD") and _looks_s3(request)


def _looks_s3(request: web.Request) -> bool:
    auth = request.headers.get("Authorization", "")
    return "/s3/aws4_request" in auth or "x-amz-content-sha256" in request.headers


def _store(request: web.Request) -> ObjectStore:
    engine: Engine = request.app[_ENGINE]
    return s3_provider.object_store(engine.services)


def _ids() -> dict[str, str]:
    raw = uuid.uuid4().hex
    return {"x-amz-request-id": raw[:16].upper(), "x-amz-id-2": raw + raw}


def _xml(status: int, body: str, headers: dict[str, str] | None = None) -> web.Response:
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + body
    return web.Response(
        status=status,
        body=text.encode(),
        content_type="application/xml",
        headers={**_ids(), **(headers or {})},
    )


def _error(request: web.Request, code: str, message: str | None, status: int, **extra: str) -> web.Response:
    if request.method == "HEAD":
        return web.Response(status=status, headers=_ids())
    ids = _ids()
    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
    body = (
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message or '')}</Message>{fields}"
        f"<RequestId>{ids['x-amz-request-id']}</RequestId><HostId>{ids['x-amz-id-2']}</HostId></Error>"
    )
    return _xml(status, body)


def _http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


def _iso(seconds: float) -> str:
    from legato.integrations.aws_sdk import sdk_timestamp

    return sdk_timestamp(seconds)


def _split(request: web.Request) -> tuple[str, str | None]:
    raw = request.rel_url.raw_path
    bucket, slash, key = raw.lstrip("/").partition("/")
    return unquote(bucket), (unquote(key) if slash else None)


def _query(request: web.Request) -> dict[str, str]:
    return dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))


async def _verify(request: web.Request) -> None:
    verifier: SigV4Verifier | None = request.app.get(_VERIFIER)
    if verifier is None:
        return
    payload = request.headers.get("x-amz-content-sha256")
    if payload is None:
        body = await request.read()
        payload = hashlib.sha256(body).hexdigest()
    verifier.verify(
        request.method,
        request.rel_url.raw_path,
        request.rel_url.raw_query_string,
        request.headers.items(),
        b"",
        payload_hash=payload,
    )


_AUTH_CODES = {
    "MissingAuthenticationTokenException": ("AccessDenied", 403),
    "IncompleteSignatureException": ("AuthorizationHeaderMalformed", 400),
    "UnrecognizedClientException": ("InvalidAccessKeyId", 403),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
}


def _guarded(fn: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            await _verify(request)
        except ApiError as exc:
            code, status = _AUTH_CODES.get(exc.type, ("AccessDenied", 403))
            return _error(request, code, exc.message, status)
        try:
            return await fn(request)
        except AwsServiceError as exc:
            bucket, key = _split(request)
            extra = {"BucketName": bucket} if exc.code == "NoSuchBucket" else {}
            if exc.code == "NoSuchKey" and key is not None:
                extra = {"Key": key}
            return _error(request, exc.code, exc.message, exc.status, **extra)

    return handle


def root_handler(fallback: Handler) -> Handler:
    """``GET /``: ListBuckets for S3 clients, ``fallback`` (the console) for the rest."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.app.get(_ENGINE) is None or not _looks_s3(request):
            return await fallback(request)
        return await _guarded(_list_buckets)(request)

    return handle


async def _list_buckets(request: web.Request) -> web.StreamResponse:
    items = "".join(
        f"<Bucket><Name>{escape(b.name)}</Name><CreationDate>{_iso(b.created)}</CreationDate></Bucket>"
        for b in _store(request).buckets()
    )
    owner = f"<Owner><ID>{s3_provider.OWNER_ID}</ID><DisplayName>legato</DisplayName></Owner>"
    return _xml(
        200,
        f'<ListAllMyBucketsResult xmlns="{_XMLNS}">{owner}<Buckets>{items}</Buckets></ListAllMyBucketsResult>',
    )


def _not_implemented(request: web.Request, what: str) -> web.Response:
    return _error(
        request,
        "NotImplemented",
        f"A header or query you provided implies functionality that is not implemented: {what}",
        501,
    )


_BUCKET_SUBRESOURCES = {"location", "list-type", "delete", "prefix", "delimiter", "max-keys", "marker",
                        "continuation-token", "start-after", "encoding-type", "fetch-owner", "x-id"}  # fmt: skip


async def _bucket(request: web.Request) -> web.StreamResponse:
    bucket, _ = _split(request)
    store = _store(request)
    query = _query(request)
    unknown = sorted(set(query) - _BUCKET_SUBRESOURCES)
    if unknown:
        return _not_implemented(request, f"?{unknown[0]}")
    engine: Engine = request.app[_ENGINE]
    region = engine.services.region
    if request.method == "PUT":
        await request.read()
        s3_provider.create_bucket(store, bucket, region)
        return web.Response(status=200, headers={**_ids(), "Location": f"/{bucket}"})
    if request.method == "DELETE":
        store.delete_bucket(bucket)
        return web.Response(status=204, headers=_ids())
    if request.method == "HEAD":
        store.bucket_dir(bucket)
        return web.Response(status=200, headers={**_ids(), "x-amz-bucket-region": region})
    if request.method == "POST" and "delete" in query:
        return await _delete_objects(request, store, bucket)
    if request.method != "GET":
        return _not_implemented(request, f"{request.method} on a bucket")
    if "location" in query:
        store.bucket_dir(bucket)
        constraint = "" if region == "us-east-1" else escape(region)
        return _xml(200, f'<LocationConstraint xmlns="{_XMLNS}">{constraint}</LocationConstraint>')
    return _listing(store, bucket, query)


def _listing(store: ObjectStore, bucket: str, query: dict[str, str]) -> web.Response:
    params: dict[str, Any] = {"Bucket": bucket}
    for name, param in (("prefix", "Prefix"), ("delimiter", "Delimiter"), ("encoding-type", "EncodingType"),
                        ("continuation-token", "ContinuationToken"), ("start-after", "StartAfter"),
                        ("marker", "Marker")):  # fmt: skip
        if query.get(name):
            params[param] = query[name]
    if "max-keys" in query:
        try:
            params["MaxKeys"] = int(query["max-keys"])
        except ValueError:
            raise AwsServiceError(
                "InvalidArgument", "Provided max-keys not an integer or within integer range", 400
            ) from None
    v2 = query.get("list-type") == "2"
    if v2:
        params["FetchOwner"] = query.get("fetch-owner") == "true"
        result = s3_provider.list_v2(store, params)
    else:
        result = s3_provider.list_v1(store, params)
    parts = [f"<Name>{escape(bucket)}</Name>", f"<Prefix>{escape(result['Prefix'])}</Prefix>"]
    for name in ("Marker", "NextMarker", "ContinuationToken", "NextContinuationToken", "StartAfter",
                 "KeyCount", "Delimiter", "EncodingType"):  # fmt: skip
        if name in result:
            parts.append(f"<{name}>{escape(str(result[name]))}</{name}>")
    parts.append(f"<MaxKeys>{result['MaxKeys']}</MaxKeys>")
    parts.append(f"<IsTruncated>{'true' if result['IsTruncated'] else 'false'}</IsTruncated>")
    for item in result.get("Contents", []):
        owner = ""
        if "Owner" in item:
            owner = f"<Owner><ID>{item['Owner']['ID']}</ID><DisplayName>legato</DisplayName></Owner>"
        parts.append(
            f"<Contents><Key>{escape(item['Key'])}</Key><LastModified>{item['LastModified']}</LastModified>"
            f"<ETag>{escape(item['ETag'])}</ETag><Size>{item['Size']}</Size>{owner}"
            f"<StorageClass>STANDARD</StorageClass></Contents>"
        )
    for cp in result.get("CommonPrefixes", []):
        parts.append(f"<CommonPrefixes><Prefix>{escape(cp['Prefix'])}</Prefix></CommonPrefixes>")
    return _xml(200, f'<ListBucketResult xmlns="{_XMLNS}">{"".join(parts)}</ListBucketResult>')


async def _delete_objects(request: web.Request, store: ObjectStore, bucket: str) -> web.Response:
    store.bucket_dir(bucket)
    try:
        root = ElementTree.fromstring(await request.read())
    except ElementTree.ParseError:
        raise AwsServiceError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            400,
        ) from None
    quiet = False
    keys = []
    for el in root.iter():
        tag = el.tag.rpartition("}")[2]
        if tag == "Quiet":
            quiet = (el.text or "").strip() == "true"
        elif tag == "Key":
            keys.append(el.text or "")
    parts = []
    for key in keys:
        try:
            store.delete(bucket, key)
            if not quiet:
                parts.append(f"<Deleted><Key>{escape(key)}</Key></Deleted>")
        except AwsServiceError as exc:
            parts.append(
                f"<Error><Key>{escape(key)}</Key><Code>{exc.code}</Code>"
                f"<Message>{escape(exc.message or '')}</Message></Error>"
            )
    return _xml(200, f'<DeleteResult xmlns="{_XMLNS}">{"".join(parts)}</DeleteResult>')


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        **_ids(),
        "ETag": info.etag,
        "Last-Modified": _http_date(info.last_modified),
        "Accept-Ranges": "bytes",
        "Content-Type": info.content_type,
        "x-amz-server-side-encryption": "AES256",
    }
    for name, value in info.metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    for name, value in info.headers.items():
        if name in _STORED_HEADERS:
            headers[_STORED_HEADERS[name]] = value
    return headers


def _request_options(request: web.Request) -> dict[str, Any]:
    headers = request.headers
    metadata = {
        k[len("x-amz-meta-") :].lower(): v for k, v in headers.items() if k.lower().startswith("x-amz-meta-")
    }
    stored = {sdk: headers[http] for sdk, http in _STORED_HEADERS.items() if http in headers}
    if "ContentEncoding" in stored:
        parts = [p.strip() for p in stored["ContentEncoding"].split(",") if p.strip() != "aws-chunked"]
        if parts:
            stored["ContentEncoding"] = ",".join(parts)
        else:
            del stored["ContentEncoding"]
    return {"content_type": headers.get("Content-Type"), "metadata": metadata, "headers": stored}


def _decode_aws_chunked(data: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (chunk signatures and trailers are not checked)."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise AwsServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)
        size = int(data[pos:end].split(b";", 1)[0], 16)
        pos = end + 2
        if size == 0:
            return bytes(out)
        out += data[pos : pos + size]
        pos += size + 2


async def _receive(request: web.Request, store: ObjectStore) -> Upload:
    """Streams the request body into a staging file, checking what the client said of it."""
    upload = store.upload()
    try:
        content_sha = request.headers.get("x-amz-content-sha256", "")
        chunked = content_sha.startswith("STREAMING-") or "aws-chunked" in request.headers.get(
            "Content-Encoding", ""
        )
        if chunked:
            upload.write(_decode_aws_chunked(await request.read()))
        else:
            while chunk := await request.content.read(_CHUNK):
                upload.write(chunk)
        md5, sha, crc = upload.finish()
        if _HEX64.fullmatch(content_sha) and content_sha != sha:
            raise AwsServiceError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            )
        if "Content-MD5" in request.headers:
            import base64

            try:
                given = base64.b64decode(request.headers["Content-MD5"]).hex()
            except ValueError:
                given = ""
            if given != md5:
                raise AwsServiceError(
                    "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
                )
        given_crc = request.headers.get("x-amz-checksum-crc32")
        if given_crc is not None and given_crc != crc:
            raise AwsServiceError(
                "BadDigest", "The CRC32 you specified did not match the calculated checksum.", 400
            )
    except BaseException:
        upload.discard()
        raise
    return upload


async def _object(request: web.Request) -> web.StreamResponse:
    bucket, key = _split(request)
    assert key is not None
    store = _store(request)
    query = _query(request)
    unknown = sorted(set(query) - {"x-id", "versionId"})
    if unknown:
        return _not_implemented(request, f"?{unknown[0]}")
    if request.method == "PUT":
        source = request.headers.get("x-amz-copy-source")
        if source is not None:
            await request.read()
            source_bucket, source_key = s3_provider.parse_copy_source(source)
            replace = None
            if request.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE":
                replace = _request_options(request)
            info = store.copy(source_bucket, source_key, bucket, key, replace=replace)
            body = (
                f'<CopyObjectResult xmlns="{_XMLNS}"><LastModified>{_iso(info.last_modified)}</LastModified>'
                f"<ETag>{escape(info.etag)}</ETag></CopyObjectResult>"
            )
            return _xml(200, body, {"x-amz-server-side-encryption": "AES256"})
        store.bucket_dir(bucket)
        store.object_path(bucket, key)
        upload = await _receive(request, store)
        info = await asyncio.to_thread(store.put, bucket, key, upload, **_request_options(request))
        headers = {**_ids(), "ETag": info.etag, "x-amz-server-side-encryption": "AES256"}
        if "x-amz-checksum-crc32" in request.headers:
            headers["x-amz-checksum-crc32"] = info.crc32
            headers["x-amz-checksum-type"] = "FULL_OBJECT"
        return web.Response(status=200, headers=headers)
    if request.method == "DELETE":
        store.delete(bucket, key)
        return web.Response(status=204, headers=_ids())
    if request.method not in ("GET", "HEAD"):
        return _not_implemented(request, f"{request.method} on an object")
    info, _ = store.head(bucket, key)
    headers = _object_headers(info)
    span = s3_provider.parse_range(request.headers.get("Range"), info.size)
    if request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and span is None:
        headers["x-amz-checksum-crc32"] = info.crc32
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    if request.method == "HEAD":
        headers["Content-Length"] = str(info.size)
        return web.Response(status=200, headers=headers)
    if span is None:
        _, data = await asyncio.to_thread(store.read, bucket, key)
        return web.Response(status=200, body=data, headers=headers)
    _, data = await asyncio.to_thread(store.read, bucket, key, span[0], span[1])
    headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{info.size}"
    return web.Response(status=206, body=data, headers=headers)


def add_s3_routes(app: web.Application, engine: Engine, verifier: SigV4Verifier | None) -> None:
    """Adds the S3 routes; call it after every other route (``/{bucket}`` matches any path)."""
    app[_ENGINE] = engine
    if verifier is not None:
        app[_VERIFIER] = dataclasses.replace(verifier, service="s3")
    app.router.add_route("*", "/{bucket}", _guarded(_bucket), name="s3-bucket")
    app.router.add_route("*", "/{bucket}/{key:.*}", _guarded(_object), name="s3-object")
