"""The embedded SQS provider and the ``arn:aws:states:::sqs:sendMessage`` integration.

Queues live in the messaging store under the data directory (see
:mod:`legato.integrations._msgstore`), so they and their messages survive a
restart. A queue's URL has AWS's form, ``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``;
the provider also accepts ``REGION.queue.amazonaws.com``, ``localhost`` and
``127.0.0.1`` hosts. A URL on any other host fails as the SDK does when the host
cannot be resolved (``SQS.SdkClientException``). Queues are never created on the
fly: ``legato queues create`` or :meth:`Sqs.create_queue` make them, as
``CreateQueue`` does on AWS.

Python API::

    from legato.integrations import sqs
    queues = sqs.Sqs.at("data")              # or sqs.for_engine(engine)
    url = queues.create_queue("orders")
    queues.send_message(url, "hello")
    [message] = queues.receive_message(url)
    queues.delete_message(url, message["ReceiptHandle"])
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from legato import _json
from legato.errors import LegatoError, StatesError
from legato.integrations import _remote
from legato.integrations._aws_response import sdk_metadata
from legato.integrations._msgstore import Provider, store_at, store_for
from legato.integrations.aws_sdk import AwsServiceError, embedded
from legato.integrations.registry import TaskCall, integration
from legato.runtime.services import DEFAULT_ACCOUNT, DEFAULT_REGION

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["Sqs", "SqsError", "for_engine", "for_services", "md5_of_attributes", "queue_url"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_HOSTS = re.compile(
    r"^(sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?|[a-z0-9-]+\.queue\.amazonaws\.com|queue\.amazonaws\.com"
    r"|sqs\.[a-z0-9-]+\.localhost(\.localstack\.cloud)?|localhost|127\.0\.0\.1)$"
)
_DEFAULTS = {
    "VisibilityTimeout": "30",
    "DelaySeconds": "0",
    "MessageRetentionPeriod": "345600",
    "MaximumMessageSize": "262144",
    "ReceiveMessageWaitTimeSeconds": "0",
}
_DEDUP_WINDOW = 300.0


class SqsError(LegatoError):
    """An SQS API error: the exception Step Functions names, AWS's error code and message."""

    def __init__(self, exception: str, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.exception = exception
        """``QueueDoesNotExistException``, ``AmazonSQSException`` or ``SdkClientException``."""
        self.code = code
        self.message = message
        self.status = status

    def states_error(self, services: Services) -> StatesError:
        """The error a Task reports: ``SQS.<exception>`` with the SDK's cause text."""
        if self.exception == "SdkClientException":
            return StatesError("SQS.SdkClientException", self.message)
        cause = (
            f"{self.message} (Service: AmazonSQS; Status Code: {self.status}; Error Code: {self.code}; "
            f"Request ID: {services.ids.uuid()}; Proxy: null)"
        )
        return StatesError(f"SQS.{self.exception}", cause)


def _missing(name: str) -> SqsError:
    return SqsError(
        "AmazonSQSException", "MissingParameter", f"The request must contain the parameter {name}."
    )


def _invalid(message: str) -> SqsError:
    return SqsError("AmazonSQSException", "InvalidParameterValue", message)


def _no_queue() -> SqsError:
    return SqsError(
        "QueueDoesNotExistException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
    )


def queue_url(name: str, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> str:
    """The URL AWS gives the queue ``name``."""
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def md5_of_attributes(attributes: dict[str, Any]) -> str:
    """``MD5OfMessageAttributes``: SQS's digest of the attributes, sorted by name."""
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)

    for name in sorted(attributes):
        attr = attributes[name]
        put(name.encode())
        put(str(attr.get("DataType", "")).encode())
        if attr.get("StringValue") is not None:
            digest.update(b"\x01")
            put(str(attr["StringValue"]).encode())
        else:
            digest.update(b"\x02")
            put(_binary(attr.get("BinaryValue")))
    return digest.hexdigest()


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except ValueError:
        return str(value).encode()


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue and its attributes."""

    name: str
    account: str
    region: str
    attributes: dict[str, str]

    @property
    def url(self) -> str:
        """The queue's URL."""
        return queue_url(self.name, self.region, self.account)

    @property
    def arn(self) -> str:
        """The queue's ARN."""
        return f"arn:aws:sqs:{self.region}:{self.account}:{self.name}"

    @property
    def fifo(self) -> bool:
        """True for a FIFO queue (its name ends with ``.fifo``)."""
        return self.name.endswith(".fifo")

    def number(self, key: str) -> float:
        """An attribute as a number."""
        return float(self.attributes.get(key, _DEFAULTS.get(key, "0")))


class Sqs(Provider):
    """Queues and messages in one messaging store, with SQS's API semantics."""

    @classmethod
    def at(cls, data_dir: str | Path, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> Sqs:
        """The queues of a data directory (the one ``legato serve --data-dir`` uses)."""
        return cls(store_at(data_dir), region, account)

    # -- queues

    def create_queue(self, name: str, attributes: dict[str, Any] | None = None) -> str:
        """CreateQueue: makes the queue (idempotent with the same attributes); returns its URL."""
        attrs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (attributes or {}).items()}
        base = name[:-5] if name.endswith(".fifo") else name
        if not _NAME.match(base) or len(name) > 80:
            raise _invalid(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
            )
        fifo = name.endswith(".fifo")
        if attrs.get("FifoQueue", "false") == "true" and not fifo:
            raise _invalid(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
        if fifo:
            attrs["FifoQueue"] = "true"
            attrs.setdefault("ContentBasedDeduplication", "false")
        with self.store.transaction() as db:
            row = db.execute("SELECT attributes FROM queues WHERE name = ?", (name,)).fetchone()
            if row is not None:
                if any(_json.loads(row[0]).get(k) != v for k, v in attrs.items()):
                    raise SqsError(
                        "QueueNameExistsException",
                        "QueueAlreadyExists",
                        "A queue already exists with the same name and a different value for attribute(s)",
                    )
            else:
                db.execute(
                    "INSERT INTO queues VALUES (?, ?, ?, ?, ?)",
                    (name, self.account, self.region, _json.dumps(attrs), self._now()),
                )
        return queue_url(name, self.region, self.account)

    def list_queues(self, prefix: str = "") -> list[str]:
        """ListQueues: the URLs of the queues whose names start with ``prefix``."""
        rows = self.store.query("SELECT name, account, region FROM queues ORDER BY name")
        return [queue_url(n, r, a) for n, a, r in rows if n.startswith(prefix)]

    def queue(self, url: str) -> Queue:
        """The queue a URL (or a bare queue name) addresses; SqsError when there is none."""
        name, account = self._parse(url)
        rows = self.store.query(
            "SELECT name, account, region, attributes FROM queues WHERE name = ?", (name,)
        )
        if not rows or (account is not None and rows[0][1] != account):
            raise _no_queue()
        n, a, r, attrs = rows[0]
        return Queue(n, a, r, _json.loads(attrs))

    def _parse(self, url: str) -> tuple[str, str | None]:
        if "/" not in url and _NAME.match(url.removesuffix(".fifo")):
            return url, None
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not parts.scheme or not host:
            raise SqsError(
                "SdkClientException", "", f"Unable to execute HTTP request: {url}: Name or service not known"
            )
        if not _HOSTS.match(host):
            raise SqsError(
                "SdkClientException", "", f"Unable to execute HTTP request: {host}: Name or service not known"
            )
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) != 2:
            raise _no_queue()
        return segments[1], segments[0]

    def get_queue_attributes(self, url: str) -> dict[str, str]:
        """GetQueueAttributes (All): the attributes plus the message counts."""
        q = self.queue(url)
        now = self._now()
        visible, in_flight, delayed = self.store.query(
            "SELECT COALESCE(SUM(visible_at <= ? AND receipt IS NULL), 0),"
            " COALESCE(SUM(receipt IS NOT NULL AND visible_at > ?), 0),"
            " COALESCE(SUM(receipt IS NULL AND visible_at > ?), 0) FROM messages WHERE queue = ?",
            (now, now, now, q.name),
        )[0]
        return {
            **_DEFAULTS,
            **q.attributes,
            "QueueArn": q.arn,
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(in_flight),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
        }

    def purge_queue(self, url: str) -> int:
        """PurgeQueue: deletes every message; returns how many there were."""
        q = self.queue(url)
        return self.store.execute("DELETE FROM messages WHERE queue = ?", (q.name,))

    def delete_queue(self, url: str) -> None:
        """DeleteQueue: the queue and its messages."""
        q = self.queue(url)
        with self.store.transaction() as db:
            db.execute("DELETE FROM messages WHERE queue = ?", (q.name,))
            db.execute("DELETE FROM queues WHERE name = ?", (q.name,))

    # -- messages

    def send_message(
        self,
        url: str,
        body: str | None,
        *,
        attributes: dict[str, Any] | None = None,
        delay_seconds: int | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> dict[str, str]:
        """SendMessage: returns ``MessageId``, ``MD5OfMessageBody`` (and the attributes' MD5,
        a FIFO queue's ``SequenceNumber``), as SQS does."""
        if body is None:
            raise _missing("MessageBody")
        q = self.queue(url)
        if body == "":
            raise _invalid("The request must contain a non-empty message body.")
        attrs = dict(attributes or {})
        for name, attr in attrs.items():
            if not isinstance(attr, dict) or not attr.get("DataType"):
                raise _invalid(f"The message attribute '{name}' must contain a non-empty attribute type.")
            if attr.get("StringValue") is None and attr.get("BinaryValue") is None:
                raise _invalid(
                    f"The message attribute '{name}' must contain a non-empty message attribute value."
                )
        now = self._now()
        if q.fifo:
            if delay_seconds:
                raise _invalid(
                    f"Value {delay_seconds} for parameter DelaySeconds is invalid. Reason: The request include "
                    "parameter that is not valid for this queue type."
                )
            if not group_id:
                raise _missing("MessageGroupId")
            if deduplication_id is None:
                if q.attributes.get("ContentBasedDeduplication") != "true":
                    raise _invalid(
                        "The queue should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly"
                    )
                deduplication_id = hashlib.sha256(body.encode()).hexdigest()
        elif group_id is not None and group_id != "":
            pass  # standard queues accept MessageGroupId (fair queues) and ignore it here
        delay = q.number("DelaySeconds") if delay_seconds is None else float(delay_seconds)
        if not 0 <= delay <= 900:
            raise _invalid(
                f"Value {delay_seconds} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, "
                "if provided."
            )
        result: dict[str, str] = {"MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}
        if attrs:
            result["MD5OfMessageAttributes"] = md5_of_attributes(attrs)
        with self.store.transaction() as db:
            if q.fifo:
                seen = db.execute(
                    "SELECT id, sequence_number FROM messages WHERE queue = ? AND dedup_id = ? AND sent > ?",
                    (q.name, deduplication_id, now - _DEDUP_WINDOW),
                ).fetchone()
                if seen is not None:
                    result["MessageId"], result["SequenceNumber"] = seen
                    return result
            message_id = self._new_id()
            cur = db.execute(
                "INSERT INTO messages (queue, id, body, attributes, group_id, dedup_id, sent, visible_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (q.name, message_id, body, _json.dumps(attrs), group_id, deduplication_id, now, now + delay),
            )
            result["MessageId"] = message_id
            if q.fifo:
                sequence = f"{18_000_000_000_000_000_000 + int(cur.lastrowid or 0):020d}"
                db.execute("UPDATE messages SET sequence_number = ? WHERE seq = ?", (sequence, cur.lastrowid))
                result["SequenceNumber"] = sequence
        return result

    def receive_message(
        self, url: str, max_messages: int = 1, visibility_timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """ReceiveMessage (no waiting): up to ``max_messages`` visible messages, in SQS's shape.

        A received message stays invisible for the visibility timeout; delete it with
        its ``ReceiptHandle``. A FIFO queue hands out a group's messages in order and
        none of a group while one of its messages is in flight.
        """
        if not 1 <= max_messages <= 10:
            raise _invalid(
                f"Value {max_messages} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
                "if provided."
            )
        q = self.queue(url)
        now = self._now()
        timeout = q.number("VisibilityTimeout") if visibility_timeout is None else float(visibility_timeout)
        out: list[dict[str, Any]] = []
        with self.store.transaction() as db:
            db.execute(
                "DELETE FROM messages WHERE queue = ? AND sent < ?",
                (q.name, now - q.number("MessageRetentionPeriod")),
            )
            rows = db.execute(
                "SELECT seq, id, body, attributes, group_id, sequence_number, sent, visible_at, receive_count,"
                " first_received FROM messages WHERE queue = ? ORDER BY seq",
                (q.name,),
            ).fetchall()
            blocked: set[str] = set()
            for seq, mid, body, attrs, group, sequence, sent, visible_at, count, first in rows:
                if len(out) >= max_messages:
                    break
                if q.fifo and group in blocked:
                    continue
                if visible_at > now:
                    if q.fifo:
                        blocked.add(group)
                    continue
                receipt = base64.b64encode(f"{q.name} {mid} {self._new_id()}".encode()).decode()
                first = first if first is not None else now
                db.execute(
                    "UPDATE messages SET receipt = ?, visible_at = ?, receive_count = ?, first_received = ?"
                    " WHERE seq = ?",
                    (receipt, now + timeout, count + 1, first, seq),
                )
                system = {
                    "SenderId": self.account,
                    "SentTimestamp": str(int(sent * 1000)),
                    "ApproximateReceiveCount": str(count + 1),
                    "ApproximateFirstReceiveTimestamp": str(int(first * 1000)),
                }
                if q.fifo:
                    system["MessageGroupId"] = group
                    system["SequenceNumber"] = sequence
                message: dict[str, Any] = {
                    "MessageId": mid,
                    "ReceiptHandle": receipt,
                    "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                    "Body": body,
                    "Attributes": system,
                }
                attributes = _json.loads(attrs)
                if attributes:
                    message["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
                    message["MessageAttributes"] = attributes
                out.append(message)
        return out

    def delete_message(self, url: str, receipt_handle: str) -> None:
        """DeleteMessage: removes the message that ``receipt_handle`` was given for."""
        q = self.queue(url)
        if (
            self.store.execute(
                "DELETE FROM messages WHERE queue = ? AND receipt = ?", (q.name, receipt_handle)
            )
            == 0
        ):
            try:
                base64.b64decode(receipt_handle, validate=True).decode().split(" ")[2]
            except (ValueError, IndexError):
                raise SqsError(
                    "ReceiptHandleIsInvalidException",
                    "ReceiptHandleIsInvalid",
                    f'The input receipt handle "{receipt_handle}" is not a valid receipt handle.',
                ) from None

    def change_message_visibility(self, url: str, receipt_handle: str, timeout: float) -> None:
        """ChangeMessageVisibility: makes an in-flight message visible again after ``timeout``."""
        q = self.queue(url)
        self.store.execute(
            "UPDATE messages SET visible_at = ? WHERE queue = ? AND receipt = ?",
            (self._now() + timeout, q.name, receipt_handle),
        )


def for_services(services: Services) -> Sqs:
    """The queues of an engine's (or a ``legato.run``'s) data directory, on its clock and ids."""
    return Sqs(
        store_for(services.integrations),
        services.region,
        services.account,
        services.clock.time,
        services.ids.uuid,
    )


def for_engine(engine: Any) -> Sqs:
    """The queues of a :class:`legato.Engine`'s data directory."""
    return Sqs(store_for(engine.integrations), engine.region, engine.account)


def message_body(value: Any) -> str | None:
    """A ``MessageBody`` (or SNS ``Message``) as it is sent: objects become JSON text."""
    if value is None or isinstance(value, str):
        return value
    return _json.dumps(value)


@integration("sqs", "sendMessage")
async def send_message(call: TaskCall) -> Any:
    """``sqs:sendMessage``: sends the message; the result is SendMessage's response."""
    params = call.parameters if isinstance(call.parameters, dict) else {}
    services = call.services
    config = _remote.endpoint(services, "sqs")
    if config is not None:
        return await _remote_send_message(services, params, config)
    queues = for_services(services)
    try:
        url = params.get("QueueUrl")
        if not isinstance(url, str):
            raise _missing("QueueUrl")
        delay = params.get("DelaySeconds")
        result: dict[str, Any] = dict(
            queues.send_message(
                url,
                message_body(params.get("MessageBody")),
                attributes=params.get("MessageAttributes"),
                delay_seconds=int(delay) if delay is not None else None,
                group_id=params.get("MessageGroupId"),
                deduplication_id=params.get("MessageDeduplicationId"),
            )
        )
    except SqsError as exc:
        raise exc.states_error(services) from None
    length = len(_json.dumps(dict(sorted(result.items()))).encode())
    result.update(sdk_metadata(services, "application/x-amz-json-1.0", length))
    return result


async def _remote_send_message(services: Services, params: dict[str, Any], config: dict[str, Any]) -> Any:
    request = dict(params)
    if "MessageBody" in request:
        request["MessageBody"] = message_body(request["MessageBody"])
    response = await _remote.call(services, "sqs", "sendMessage", request, config)
    return {**response.output, **_remote.metadata(services, response, "application/x-amz-json-1.0")}


# -- aws-sdk:sqs:* on the embedded provider


def _sdk(fn: Callable[[Sqs, dict[str, Any]], Any]) -> Callable[[TaskCall], Any]:
    async def handler(call: TaskCall) -> Any:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        try:
            return fn(for_services(call.services), params)
        except SqsError as exc:
            code = exc.code if exc.exception == "AmazonSQSException" else exc.exception
            raise AwsServiceError(code, exc.message, exc.status) from None

    return handler


def _sdk_send(q: Sqs, p: dict[str, Any]) -> Any:
    return q.send_message(
        str(p.get("QueueUrl")),
        p.get("MessageBody"),
        attributes=p.get("MessageAttributes"),
        delay_seconds=p.get("DelaySeconds"),
        group_id=p.get("MessageGroupId"),
        deduplication_id=p.get("MessageDeduplicationId"),
    )


def _sdk_receive(q: Sqs, p: dict[str, Any]) -> Any:
    messages = q.receive_message(
        str(p.get("QueueUrl")), int(p.get("MaxNumberOfMessages", 1)), p.get("VisibilityTimeout")
    )
    return {"Messages": messages} if messages else {}


def _sdk_delete(q: Sqs, p: dict[str, Any]) -> Any:
    q.delete_message(str(p.get("QueueUrl")), str(p.get("ReceiptHandle")))
    return {}


def _sdk_create(q: Sqs, p: dict[str, Any]) -> Any:
    return {"QueueUrl": q.create_queue(str(p.get("QueueName")), p.get("Attributes"))}


def _sdk_get_url(q: Sqs, p: dict[str, Any]) -> Any:
    return {"QueueUrl": q.queue(str(p.get("QueueName"))).url}


def _sdk_list(q: Sqs, p: dict[str, Any]) -> Any:
    return {"QueueUrls": q.list_queues(str(p.get("QueueNamePrefix") or ""))}


def _sdk_attributes(q: Sqs, p: dict[str, Any]) -> Any:
    attrs = q.get_queue_attributes(str(p.get("QueueUrl")))
    names = p.get("AttributeNames") or ["All"]
    return {"Attributes": attrs if "All" in names else {k: v for k, v in attrs.items() if k in names}}


def _sdk_purge(q: Sqs, p: dict[str, Any]) -> Any:
    q.purge_queue(str(p.get("QueueUrl")))
    return {}


def _sdk_delete_queue(q: Sqs, p: dict[str, Any]) -> Any:
    q.delete_queue(str(p.get("QueueUrl")))
    return {}


for _action, _fn in {
    "sendMessage": _sdk_send,
    "receiveMessage": _sdk_receive,
    "deleteMessage": _sdk_delete,
    "createQueue": _sdk_create,
    "getQueueUrl": _sdk_get_url,
    "listQueues": _sdk_list,
    "getQueueAttributes": _sdk_attributes,
    "purgeQueue": _sdk_purge,
    "deleteQueue": _sdk_delete_queue,
}.items():
    embedded("sqs", _action)(_sdk(_fn))
