"""The embedded SNS provider and the ``arn:aws:states:::sns:publish`` integration.

Topics, subscriptions and every published message are kept in the messaging
store under the data directory. A subscription delivers to an embedded SQS queue
(protocol ``sqs``, endpoint the queue's ARN or URL) or POSTs to an HTTP endpoint
(``http``/``https``), with SNS's notification envelope unless
``RawMessageDelivery`` is set. HTTP subscriptions are confirmed at once (there is
no SubscriptionConfirmation round trip locally); a failed HTTP delivery is retried
three times, a second apart on the engine's clock, and then dropped, as SNS drops
it after its retry policy.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import LegatoError, StatesError
from legato.integrations import _remote
from legato.integrations._aws_response import sdk_metadata
from legato.integrations._msgstore import MessagingStore, Provider, store_at, store_for
from legato.integrations.aws_sdk import AwsServiceError, embedded
from legato.integrations.registry import TaskCall, integration
from legato.integrations.sqs import Sqs, SqsError, message_body, queue_url
from legato.runtime.services import DEFAULT_ACCOUNT, DEFAULT_REGION

if TYPE_CHECKING:
    from legato.runtime.clock import Clock
    from legato.runtime.services import Services

__all__ = ["Sns", "SnsError", "for_engine", "for_services"]

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}(\.fifo)?)$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_DEDUP_WINDOW = 300.0
_PUBLISH_XML = (
    '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">\n'
    "  <PublishResult>\n"
    "    <MessageId>{id}</MessageId>\n"
    "{sequence}"
    "  </PublishResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>{request}</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</PublishResponse>\n"
)


class SnsError(LegatoError):
    """An SNS API error: the exception Step Functions names, the error code and message."""

    def __init__(self, exception: str, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.exception = exception
        self.code = code
        self.message = message
        self.status = status

    def states_error(self, services: Services) -> StatesError:
        """The Task's error: ``SNS.<exception>`` with the SDK's cause text."""
        cause = (
            f"{self.message} (Service: AmazonSNS; Status Code: {self.status}; Error Code: {self.code}; "
            f"Request ID: {services.ids.uuid()}; Proxy: null)"
        )
        return StatesError(f"SNS.{self.exception}", cause)


def _invalid(what: str) -> SnsError:
    return SnsError("InvalidParameterException", "InvalidParameter", f"Invalid parameter: {what}")


def _not_found() -> SnsError:
    return SnsError("NotFoundException", "NotFound", "Topic does not exist", 404)


class Sns(Provider):
    """Topics and subscriptions in one messaging store, with SNS's API semantics."""

    def __init__(
        self,
        store: MessagingStore,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        now: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        clock: Clock | None = None,
    ) -> None:
        super().__init__(store, region, account, now, new_id)
        self._clock = clock
        self.deliveries: set[asyncio.Task[None]] = set()
        """HTTP deliveries still under way (in an event loop)."""

    @classmethod
    def at(cls, data_dir: str | Path, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> Sns:
        """The topics of a data directory."""
        return cls(store_at(data_dir), region, account)

    def topic_arn(self, name: str) -> str:
        """The ARN of the topic ``name`` in this region and account."""
        return f"arn:aws:sns:{self.region}:{self.account}:{name}"

    def _sqs(self) -> Sqs:
        return Sqs(self.store, self.region, self.account, self._now, self._new_id)

    # -- topics and subscriptions

    def create_topic(self, name: str, attributes: dict[str, Any] | None = None) -> str:
        """CreateTopic (idempotent); returns the topic's ARN."""
        attrs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (attributes or {}).items()}
        base = name[:-5] if name.endswith(".fifo") else name
        if not _NAME.match(base):
            raise _invalid("Topic Name")
        if name.endswith(".fifo"):
            attrs["FifoTopic"] = "true"
            attrs.setdefault("ContentBasedDeduplication", "false")
        elif attrs.get("FifoTopic") == "true":
            raise _invalid(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and "
                "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 "
                "and 256 characters long."
            )
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM topics WHERE name = ?", (name,)).fetchone() is None:
                db.execute(
                    "INSERT INTO topics VALUES (?, ?, ?, ?, ?)",
                    (name, self.account, self.region, _json.dumps(attrs), self._now()),
                )
        return self.topic_arn(name)

    def list_topics(self) -> list[str]:
        """ListTopics: the topics' ARNs."""
        rows = self.store.query("SELECT name FROM topics ORDER BY name")
        return [self.topic_arn(n) for (n,) in rows]

    def _topic(self, arn: Any) -> tuple[str, dict[str, str]]:
        if not isinstance(arn, str):
            raise _invalid("TopicArn or TargetArn Reason: no value for required parameter")
        m = _TOPIC_ARN.match(arn)
        if m is None:
            raise _invalid("TopicArn")
        rows = self.store.query("SELECT attributes, account FROM topics WHERE name = ?", (m.group(3),))
        if not rows or rows[0][1] != m.group(2):
            raise _not_found()
        return m.group(3), _json.loads(rows[0][0])

    def delete_topic(self, arn: str) -> None:
        """DeleteTopic: the topic and its subscriptions."""
        name, _ = self._topic(arn)
        with self.store.transaction() as db:
            db.execute("DELETE FROM subscriptions WHERE topic = ?", (name,))
            db.execute("DELETE FROM topics WHERE name = ?", (name,))

    def subscribe(self, topic_arn: str, protocol: str, endpoint: str, *, raw: bool = False) -> str:
        """Subscribe: ``sqs`` (a queue ARN or URL) or ``http``/``https`` (a URL); returns the
        subscription's ARN."""
        name, _ = self._topic(topic_arn)
        if protocol not in ("sqs", "http", "https"):
            raise _invalid(f"Invalid protocol type: {protocol}")
        if protocol == "sqs" and not endpoint.startswith(("arn:", "http")):
            raise _invalid("SQS endpoint ARN")
        arn = f"{self.topic_arn(name)}:{self._new_id()}"
        self.store.execute(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?)", (arn, name, protocol, endpoint, int(raw))
        )
        return arn

    def unsubscribe(self, subscription_arn: str) -> None:
        """Unsubscribe."""
        self.store.execute("DELETE FROM subscriptions WHERE arn = ?", (subscription_arn,))

    def list_subscriptions(self, topic_arn: str | None = None) -> list[dict[str, Any]]:
        """ListSubscriptions(ByTopic), in SNS's shape."""
        rows = self.store.query("SELECT arn, topic, protocol, endpoint, raw FROM subscriptions ORDER BY arn")
        wanted = None if topic_arn is None else self._topic(topic_arn)[0]
        return [
            {
                "SubscriptionArn": arn,
                "Owner": self.account,
                "Protocol": protocol,
                "Endpoint": endpoint,
                "TopicArn": self.topic_arn(topic),
                "RawMessageDelivery": bool(raw),
            }
            for arn, topic, protocol, endpoint, raw in rows
            if wanted is None or topic == wanted
        ]

    def published(self, topic_arn: str) -> list[dict[str, Any]]:
        """Every message published to the topic, oldest first."""
        name, _ = self._topic(topic_arn)
        rows = self.store.query(
            "SELECT id, message, subject, attributes, published FROM published WHERE topic = ? ORDER BY seq",
            (name,),
        )
        return [
            {
                "MessageId": i,
                "Message": m,
                "Subject": s,
                "MessageAttributes": _json.loads(a),
                "Timestamp": _iso(t),
            }
            for i, m, s, a, t in rows
        ]

    # -- publishing

    def publish(
        self,
        topic_arn: Any,
        message: Any,
        *,
        subject: str | None = None,
        attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> dict[str, str]:
        """Publish: records the message, delivers it to the topic's subscriptions and returns
        ``MessageId`` (and a FIFO topic's ``SequenceNumber``)."""
        name, attrs = self._topic(topic_arn)
        if message is None:
            raise SnsError(
                "AmazonSNSException",
                "ValidationError",
                "1 validation error detected: Value null at 'message' failed to satisfy constraint: "
                "Member must not be null",
            )
        text = message_body(message)
        assert text is not None
        if text == "":
            raise _invalid("Empty message")
        fifo = attrs.get("FifoTopic") == "true"
        if fifo and not group_id:
            raise _invalid("The MessageGroupId parameter is required for FIFO topics")
        if fifo and deduplication_id is None:
            if attrs.get("ContentBasedDeduplication") != "true":
                raise _invalid(
                    "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                    "provided explicitly"
                )
            deduplication_id = hashlib.sha256(text.encode()).hexdigest()
        if not fifo and group_id is not None:
            raise _invalid(
                "MessageGroupId Reason: The request includes MessageGroupId parameter that is not "
                "valid for this topic type"
            )
        now = self._now()
        message_id = self._new_id()
        with self.store.transaction() as db:
            cur = db.execute(
                "INSERT INTO published (topic, id, message, subject, attributes, published) VALUES (?, ?, ?, ?, ?, ?)",
                (name, message_id, text, subject, _json.dumps(attributes or {}), now),
            )
            seq = int(cur.lastrowid or 0)
            subs = db.execute(
                "SELECT arn, protocol, endpoint, raw FROM subscriptions WHERE topic = ? ORDER BY arn", (name,)
            ).fetchall()
        result = {"MessageId": message_id}
        if fifo:
            result["SequenceNumber"] = f"{10_000_000_000_000_000_000 + seq:020d}"
        envelope: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": self.topic_arn(name),
        }
        if subject is not None:
            envelope["Subject"] = subject
        envelope["Message"] = text
        envelope["Timestamp"] = _iso(now)
        if fifo:
            envelope["SequenceNumber"] = result["SequenceNumber"]
        envelope.update(
            {
                "SignatureVersion": "1",
                "Signature": base64.b64encode(hashlib.sha256(message_id.encode()).digest()).decode(),
                "SigningCertURL": f"https://sns.{self.region}.amazonaws.com/SimpleNotificationService-local.pem",
            }
        )
        if attributes:
            envelope["MessageAttributes"] = {
                k: {"Type": v.get("DataType"), "Value": v.get("StringValue", v.get("BinaryValue"))}
                for k, v in attributes.items()
                if isinstance(v, dict)
            }
        http: list[tuple[str, dict[str, str], str]] = []
        for sub_arn, protocol, endpoint, raw in subs:
            body = (
                text if raw else _json.dumps({**envelope, "UnsubscribeURL": _unsubscribe_url(self, sub_arn)})
            )
            if protocol == "sqs":
                self._to_queue(endpoint, body, attributes if raw else None, group_id, deduplication_id)
            else:
                headers = {
                    "x-amz-sns-message-type": "Notification",
                    "x-amz-sns-message-id": message_id,
                    "x-amz-sns-topic-arn": self.topic_arn(name),
                    "x-amz-sns-subscription-arn": sub_arn,
                    "Content-Type": "text/plain; charset=UTF-8",
                }
                if raw:
                    headers["x-amz-sns-rawdelivery"] = "true"
                http.append((endpoint, headers, body))
        if http:
            self._deliver_http(http)
        return result

    def _to_queue(
        self,
        endpoint: str,
        body: str,
        attributes: dict[str, Any] | None,
        group: str | None,
        dedup: str | None,
    ) -> None:
        url = endpoint
        if endpoint.startswith("arn:"):
            parts = endpoint.split(":")
            url = queue_url(parts[-1], parts[3], parts[4])
        try:
            self._sqs().send_message(url, body, attributes=attributes, group_id=group, deduplication_id=dedup)
        except SqsError:
            pass  # SNS drops what it cannot deliver (a missing queue, a FIFO mismatch)

    def _deliver_http(self, posts: list[tuple[str, dict[str, str], str]]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(_post_all(posts, None))
            return
        task = loop.create_task(_post_all(posts, self._clock))
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)


def _unsubscribe_url(sns: Sns, sub_arn: str) -> str:
    return f"https://sns.{sns.region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={sub_arn}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


async def _post_all(posts: list[tuple[str, dict[str, str], str]], clock: Clock | None) -> None:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for url, headers, body in posts:
            for attempt in range(4):
                try:
                    async with session.post(url, data=body.encode(), headers=headers) as resp:
                        if resp.status < 500 and resp.status != 429:
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if attempt < 3:
                    await (clock.sleep(1) if clock is not None else asyncio.sleep(1))


def for_services(services: Services) -> Sns:
    """The topics of an engine's (or a ``legato.run``'s) data directory."""
    key = "sns.provider"
    provider = services.integrations.state.get(key)
    if provider is None:
        provider = Sns(
            store_for(services.integrations),
            services.region,
            services.account,
            services.clock.time,
            services.ids.uuid,
            services.clock,
        )
        services.integrations.state[key] = provider
    assert isinstance(provider, Sns)
    return provider


def for_engine(engine: Any) -> Sns:
    """The topics of a :class:`legato.Engine`'s data directory."""
    return Sns(store_for(engine.integrations), engine.region, engine.account)


@integration("sns", "publish")
async def publish(call: TaskCall) -> Any:
    """``sns:publish``: publishes the message; the result is Publish's response."""
    params = call.parameters if isinstance(call.parameters, dict) else {}
    services = call.services
    config = _remote.endpoint(services, "sns")
    if config is not None:
        request = dict(params)
        if "Message" in request:
            request["Message"] = message_body(request["Message"])
        response = await _remote.call(services, "sns", "publish", request, config)
        return {**response.output, **_remote.metadata(services, response, "text/xml")}
    try:
        result: dict[str, Any] = dict(
            for_services(services).publish(
                params.get("TopicArn", params.get("TargetArn")),
                params.get("Message"),
                subject=params.get("Subject"),
                attributes=params.get("MessageAttributes"),
                group_id=params.get("MessageGroupId"),
                deduplication_id=params.get("MessageDeduplicationId"),
            )
        )
    except SnsError as exc:
        raise exc.states_error(services) from None
    sequence = result.get("SequenceNumber")
    xml = _PUBLISH_XML.format(
        id=result["MessageId"],
        sequence=f"    <SequenceNumber>{sequence}</SequenceNumber>\n" if sequence else "",
        request="0" * 36,
    )
    result.update(sdk_metadata(services, "text/xml", len(xml.encode())))
    return result


# -- aws-sdk:sns:* on the embedded provider


def _sdk(fn: Callable[[Sns, dict[str, Any]], Any]) -> Callable[[TaskCall], Any]:
    async def handler(call: TaskCall) -> Any:
        params = call.parameters if isinstance(call.parameters, dict) else {}
        try:
            return fn(for_services(call.services), params)
        except SnsError as exc:
            raise AwsServiceError(exc.code, exc.message, exc.status) from None

    return handler


def _sdk_publish(s: Sns, p: dict[str, Any]) -> Any:
    return s.publish(
        p.get("TopicArn", p.get("TargetArn")),
        p.get("Message"),
        subject=p.get("Subject"),
        attributes=p.get("MessageAttributes"),
        group_id=p.get("MessageGroupId"),
        deduplication_id=p.get("MessageDeduplicationId"),
    )


def _sdk_subscribe(s: Sns, p: dict[str, Any]) -> Any:
    raw = str((p.get("Attributes") or {}).get("RawMessageDelivery", "false")).lower() == "true"
    return {
        "SubscriptionArn": s.subscribe(
            str(p.get("TopicArn")), str(p.get("Protocol")), str(p.get("Endpoint")), raw=raw
        )
    }


for _action, _fn in {
    "publish": _sdk_publish,
    "createTopic": lambda s, p: {"TopicArn": s.create_topic(str(p.get("Name")), p.get("Attributes"))},
    "listTopics": lambda s, p: {"Topics": [{"TopicArn": a} for a in s.list_topics()]},
    "subscribe": _sdk_subscribe,
    "deleteTopic": lambda s, p: s.delete_topic(str(p.get("TopicArn"))) or {},
}.items():
    embedded("sns", _action)(_sdk(_fn))
