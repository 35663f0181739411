"""The embedded S3 object store: a folder per bucket, ``ROOT/BUCKET/KEY`` per object.

``ROOT`` is ``DATA_DIR/s3``, so ``s3://BUCKET/KEY`` is the file ``DATA_DIR/s3/BUCKET/KEY``
(DESIGN.md's contract): files put there by other tools are objects, and objects are files
any tool can read. What a file cannot hold (content type, user metadata, the checksum) is
kept in a sidecar ``ROOT/.meta/BUCKET/HH/SHA256(KEY).json``; bucket names never start
with a dot, so neither ``.meta`` nor ``.tmp`` (where writes are staged) can collide with a
bucket or a key. A sidecar records the size and mtime of the file it describes; a file
changed behind the store's back gets its ETag recomputed and the default content type.

Keys are checked before any path is made from them: a key that is empty, absolute, has a
NUL, an empty, ``.`` or ``..`` segment, or resolves outside its bucket's folder is
rejected. The folder layout has two limits S3 has not: a key cannot be both an object and
a "folder" of other objects (``a`` and ``a/b``), and a key ending in ``/`` names an empty
folder marker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legato.integrations.aws_sdk import AwsServiceError

__all__ = ["BucketInfo", "ListPage", "ObjectInfo", "ObjectStore", "Upload"]

MAX_KEY_BYTES = 1024
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SAFE_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_IP = re.compile(r"\d+\.\d+\.\d+\.\d+")


def no_such_bucket() -> AwsServiceError:
    """S3's ``NoSuchBucket``."""
    return AwsServiceError("NoSuchBucket", "The specified bucket does not exist", 404)


def no_such_key() -> AwsServiceError:
    """S3's ``NoSuchKey``."""
    return AwsServiceError("NoSuchKey", "The specified key does not exist.", 404)


def _invalid(message: str) -> AwsServiceError:
    return AwsServiceError("InvalidArgument", message, 400)


@dataclass(slots=True)
class ObjectInfo:
    """What S3 knows of one object."""

    key: str
    size: int
    etag: str
    """The MD5 of the content in hex, in double quotes."""
    last_modified: float
    crc32: str
    """The CRC32 checksum, base64 of its four big-endian bytes."""
    content_type: str = DEFAULT_CONTENT_TYPE
    metadata: dict[str, str] = field(default_factory=dict)
    """User metadata (``x-amz-meta-*``), names in lower case."""
    headers: dict[str, str] = field(default_factory=dict)
    """Stored representation headers: CacheControl, ContentDisposition, ContentEncoding,
    ContentLanguage, Expires (SDK names)."""


@dataclass(frozen=True, slots=True)
class BucketInfo:
    """A bucket and when it was made."""

    name: str
    created: float


@dataclass(slots=True)
class ListPage:
    """One page of a listing."""

    contents: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    next_marker: str | None
    """The last key or common prefix of the page, when truncated."""


class Upload:
    """An object being written: bytes go to a staging file, hashed on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "wb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha = hashlib.sha256()
        self._crc = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        """Appends ``data``."""
        self._file.write(data)
        self._md5.update(data)
        self._sha.update(data)
        self._crc = zlib.crc32(data, self._crc)
        self.size += len(data)

    def finish(self) -> tuple[str, str, str]:
        """Closes the file; returns (md5 hex, sha256 hex, crc32 base64)."""
        self._file.close()
        crc = base64.b64encode(self._crc.to_bytes(4, "big")).decode()
        return self._md5.hexdigest(), self._sha.hexdigest(), crc

    def discard(self) -> None:
        """Throws the staged bytes away."""
        self._file.close()
        self.path.unlink(missing_ok=True)


class ObjectStore:
    """Buckets and objects under one folder; every method is synchronous and thread-safe
    in the way files are: each write lands whole (staged, then renamed)."""

    def __init__(self, root: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        (self.root / ".tmp").mkdir(exist_ok=True)

    # -- buckets

    def bucket_dir(self, bucket: str) -> Path:
        """The folder of an existing bucket; ``NoSuchBucket`` otherwise."""
        if not isinstance(bucket, str) or not _SAFE_BUCKET.fullmatch(bucket):
            raise no_such_bucket()
        path = self.root / bucket
        if not path.is_dir():
            raise no_such_bucket()
        return path

    def create_bucket(self, bucket: str) -> bool:
        """Makes a bucket; False when it already exists."""
        if (
            not isinstance(bucket, str)
            or not _BUCKET_NAME.fullmatch(bucket)
            or ".." in bucket
            or _IP.fullmatch(bucket)
        ):
            raise AwsServiceError("InvalidBucketName", "The specified bucket is not valid.", 400)
        path = self.root / bucket
        if path.is_dir():
            return False
        path.mkdir()
        return True

    def delete_bucket(self, bucket: str) -> None:
        """Removes an empty bucket."""
        path = self.bucket_dir(bucket)
        if self.list(bucket, max_keys=1).contents:
            raise AwsServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409)
        shutil.rmtree(path)
        shutil.rmtree(self.root / ".meta" / bucket, ignore_errors=True)

    def buckets(self) -> list[BucketInfo]:
        """Every bucket, by name."""
        out = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            if _SAFE_BUCKET.fullmatch(entry.name):
                out.append(BucketInfo(entry.name, entry.stat().st_mtime))
        return out

    # -- keys and paths

    def object_path(self, bucket: str, key: Any) -> Path:
        """The file of ``key`` in an existing bucket; refuses keys that could escape it."""
        root = self.bucket_dir(bucket)
        if not isinstance(key, str) or key == "":
            raise _invalid("An object key must be a non-empty string.")
        if len(key.encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
            raise AwsServiceError("KeyTooLongError", "Your key is too long", 400)
        if "\x00" in key:
            raise _invalid("An object key cannot contain the NUL character.")
        if key.startswith("/"):
            raise _invalid(
                f"Object key '{key}' is absolute: Legato keeps objects as files in their bucket's folder."
            )
        parts = key.split("/")
        if parts[-1] == "":
            parts = parts[:-1]
        for part in parts:
            if part in ("", ".", ".."):
                raise _invalid(
                    f"Object key '{key}' has an empty, '.' or '..' segment, which would name another "
                    "file than the key: Legato keeps objects as files in their bucket's folder."
                )
            if len(part.encode("utf-8", errors="surrogatepass")) > 255:
                raise AwsServiceError("KeyTooLongError", "Your key is too long", 400)
        path = root.joinpath(*parts)
        real_root = os.path.realpath(root)
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            raise _invalid(f"Object key '{key}' resolves outside its bucket.")
        return path

    def _meta_path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()
        return self.root / ".meta" / bucket / digest[:2] / f"{digest}.json"

    def _read_meta(self, bucket: str, key: str, st: os.stat_result | None) -> dict[str, Any] | None:
        try:
            meta: dict[str, Any] = json.loads(self._meta_path(bucket, key).read_bytes())
        except (OSError, ValueError):
            return None
        if meta.get("key") != key:
            return None
        if st is not None and (meta.get("size") != st.st_size or meta.get("mtime_ns") != st.st_mtime_ns):
            return None
        return meta

    def _write_meta(self, bucket: str, key: str, meta: dict[str, Any]) -> None:
        path = self._meta_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(meta, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))
        os.replace(tmp, path)

    def _info(self, bucket: str, key: str, path: Path, st: os.stat_result) -> ObjectInfo:
        meta = self._read_meta(bucket, key, st)
        if meta is None:  # a file put there by another tool, or changed behind our back
            md5 = hashlib.md5(usedforsecurity=False)
            crc = 0
            if not key.endswith("/"):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        md5.update(chunk)
                        crc = zlib.crc32(chunk, crc)
            return ObjectInfo(
                key,
                0 if key.endswith("/") else st.st_size,
                f'"{md5.hexdigest()}"',
                st.st_mtime,
                base64.b64encode(crc.to_bytes(4, "big")).decode(),
            )
        return ObjectInfo(
            key,
            int(meta["stored_size"]),
            str(meta["etag"]),
            float(meta["last_modified"]),
            str(meta["crc32"]),
            str(meta.get("content_type") or DEFAULT_CONTENT_TYPE),
            dict(meta.get("metadata") or {}),
            dict(meta.get("headers") or {}),
        )

    # -- objects

    def upload(self) -> Upload:
        """A staging file for a new object's bytes; pass it to :meth:`put`."""
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp")
        os.close(fd)
        return Upload(Path(tmp))

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes | Upload,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Stores an object (``body`` as bytes or a finished-writing :class:`Upload`)."""
        try:
            path = self.object_path(bucket, key)
        except AwsServiceError:
            if isinstance(body, Upload):
                body.discard()
            raise
        upload = body if isinstance(body, Upload) else self.upload()
        if not isinstance(body, Upload):
            upload.write(body)
        md5, _, crc = upload.finish()
        try:
            if key.endswith("/"):
                if upload.size:
                    raise _invalid(
                        f"Object key '{key}' ends in '/', which Legato keeps as a folder: such an "
                        "object (a folder marker) must be empty."
                    )
                self._make_parents(bucket, key, path / "x")
                if path.exists() and not path.is_dir():
                    raise self._conflict(key, key.rstrip("/"))
                path.mkdir(exist_ok=True)
            else:
                self._make_parents(bucket, key, path)
                if path.is_dir():
                    raise self._conflict(key, key + "/...")
                os.replace(upload.path, path)
        finally:
            upload.path.unlink(missing_ok=True)
        st = path.stat()
        now = self.clock()
        meta = {
            "key": key,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "stored_size": upload.size,
            "etag": f'"{md5}"',
            "crc32": crc,
            "last_modified": now,
            "content_type": content_type or DEFAULT_CONTENT_TYPE,
            "metadata": {k.lower(): v for k, v in (metadata or {}).items()},
            "headers": dict(headers or {}),
        }
        self._write_meta(bucket, key, meta)
        return self._info(bucket, key, path, st)

    def _make_parents(self, bucket: str, key: str, path: Path) -> None:
        root = self.root / bucket
        parent = path.parent
        missing = []
        while parent != root and not parent.is_dir():
            # Checked again: another put (in another thread) may have just made it a folder.
            if parent.exists() and not parent.is_dir():
                raise self._conflict(key, parent.relative_to(root).as_posix())
            missing.append(parent)
            parent = parent.parent
        for p in reversed(missing):
            try:
                p.mkdir(exist_ok=True)
            except FileExistsError:  # an object's file got there first
                raise self._conflict(key, p.relative_to(root).as_posix()) from None

    @staticmethod
    def _conflict(key: str, other: str) -> AwsServiceError:
        return AwsServiceError(
            "InvalidRequest",
            f"Object key '{key}' conflicts with '{other}': Legato keeps objects as files, so a key "
            "cannot be both an object and a folder of other objects.",
            400,
        )

    def head(self, bucket: str, key: str) -> tuple[ObjectInfo, Path]:
        """An object's information and file; ``NoSuchKey`` when there is none."""
        path = self.object_path(bucket, key)
        try:
            st = path.stat()
        except OSError:
            raise no_such_key() from None
        is_dir = os.path.isdir(path)
        if key.endswith("/"):
            if not is_dir or self._read_meta(bucket, key, None) is None:
                raise no_such_key()
            st = os.stat(path)
            meta = self._read_meta(bucket, key, None)
            assert meta is not None
            meta.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
            info = ObjectInfo(
                key, 0, str(meta["etag"]), float(meta["last_modified"]), str(meta["crc32"]),
                str(meta.get("content_type") or DEFAULT_CONTENT_TYPE), dict(meta.get("metadata") or {}),
                dict(meta.get("headers") or {}),
            )  # fmt: skip
            return info, path
        if is_dir:
            raise no_such_key()
        return self._info(bucket, key, path, st), path

    def read(self, bucket: str, key: str, start: int = 0, end: int | None = None) -> tuple[ObjectInfo, bytes]:
        """An object's information and bytes ``[start, end]`` (inclusive; all by default)."""
        info, path = self.head(bucket, key)
        if key.endswith("/"):
            return info, b""
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(end - start + 1)
        return info, data

    def delete(self, bucket: str, key: str) -> None:
        """Removes an object; a missing one is no error (as on S3)."""
        path = self.object_path(bucket, key)
        root = self.root / bucket
        if key.endswith("/"):
            self._meta_path(bucket, key).unlink(missing_ok=True)
            target = path
        else:
            if path.is_dir():
                return
            path.unlink(missing_ok=True)
            self._meta_path(bucket, key).unlink(missing_ok=True)
            target = path.parent
        # S3 has no folders: drop the ones left empty, but not a folder marker's.
        while target != root:
            rel = target.relative_to(root).as_posix() + "/"
            if self._read_meta(bucket, rel, None) is not None and rel != key:
                break
            try:
                target.rmdir()
            except OSError:
                break
            target = target.parent

    def copy(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        *,
        replace: dict[str, Any] | None = None,
    ) -> ObjectInfo:
        """Copies an object; ``replace`` (content_type, metadata, headers) replaces its metadata."""
        info, data = self.read(source_bucket, source_key)
        self.object_path(bucket, key)
        if replace is None:
            if (source_bucket, source_key) == (bucket, key):
                raise AwsServiceError(
                    "InvalidRequest",
                    "This copy request is illegal because it is trying to copy an object to itself "
                    "without changing the object's metadata, storage class, website redirect location "
                    "or encryption attributes.",
                    400,
                )
            replace = {"content_type": info.content_type, "metadata": info.metadata, "headers": info.headers}
        return self.put(bucket, key, data, **replace)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in the bucket starting with ``prefix``, in S3's order (UTF-8 bytes)."""
        root = self.bucket_dir(bucket)
        base = prefix.rpartition("/")[0]
        start = root
        if base:
            parts = base.split("/")
            if any(p in ("", ".", "..") or "\x00" in p for p in parts):
                return []
            start = root.joinpath(*parts)
            if not start.is_dir() or start.is_symlink():
                return []
        found: list[str] = []
        stack = [(str(start), base + "/" if base else "")]
        while stack:
            folder, rel = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                name = rel + entry.name
                if entry.is_dir(follow_symlinks=False):
                    sub = name + "/"
                    if sub.startswith(prefix) or prefix.startswith(sub):
                        if sub.startswith(prefix) and self._read_meta(bucket, sub, None) is not None:
                            found.append(sub)
                        stack.append((entry.path, sub))
                elif entry.is_file(follow_symlinks=False) and name.startswith(prefix):
                    found.append(name)
        found.sort(key=lambda k: k.encode("utf-8", errors="surrogatepass"))
        return found

    def list(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        """A page of keys after ``after``, grouped into common prefixes by ``delimiter``."""
        keys = self.keys(bucket, prefix)
        contents: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: str | None = None
        skip_under = after if delimiter and after.endswith(delimiter) and after.startswith(prefix) else None
        root = self.root / bucket
        truncated = False
        for key in keys:
            if after and key.encode("utf-8", "surrogatepass") <= after.encode("utf-8", "surrogatepass"):
                continue
            if skip_under and key.startswith(skip_under):
                continue
            group = None
            if delimiter:
                i = key.find(delimiter, len(prefix))
                if i >= 0:
                    group = key[: i + len(delimiter)]
            if group is not None and prefixes and prefixes[-1] == group:
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if group is not None:
                prefixes.append(group)
                last = group
                continue
            path = root.joinpath(*key.rstrip("/").split("/"))
            try:
                if key.endswith("/"):
                    info, _ = self.head(bucket, key)
                else:
                    info = self._info(bucket, key, path, path.stat())
            except (OSError, AwsServiceError):
                continue  # deleted while listing
            contents.append(info)
            last = key
        return ListPage(contents, prefixes, truncated, last if truncated else None)
