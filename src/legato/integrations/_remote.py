"""Optimised integrations routed to AWS or a compatible endpoint through boto3.

``sqs:sendMessage``, ``sns:publish``, ``events:putEvents``, ``glue:startJobRun`` (and
``.sync``) and ``dynamodb:getItem|putItem|updateItem|deleteItem`` read the same per-service
settings as the ``aws-sdk`` passthrough (:mod:`legato.integrations.aws_sdk`)::

    services:
      sqs: {endpoint_url: "http://127.0.0.1:4566", region: us-east-1}
      events: {region: eu-west-1}            # ``eventbridge``, the aws-sdk name, works too
      glue: {endpoint_url: "...", poll_interval: 5}

A routed Task sends the optimised integration's parameters to the API action it stands
for (parameters the action does not know are dropped; the rest go unchecked, so the
service judges them as it judges the AWS SDK for Java's requests, which Step Functions
uses). Its result is the response the way the optimised integration shows it, and a
service error is named as the optimised integrations name it, after the exception classes
of the AWS SDK for Java 1.x: ``SQS.QueueDoesNotExistException`` with the cause ``MESSAGE
(Service: AmazonSQS; Status Code: 400; Error Code: AWS.SimpleQueueService.NonExistentQueue;
Request ID: ID; Proxy: null)``. An error the service's model does not name is the service's
generic exception (``SQS.AmazonSQSException``); a connection that fails is
``SQS.SdkClientException``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import StatesError
from legato.integrations._aws_response import sdk_metadata
from legato.integrations.aws_sdk import SdkResponse, sdk_call, service_info

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = ["OPTIMISED", "Optimised", "call", "client_error", "endpoint", "json_text", "metadata"]


@dataclass(frozen=True, slots=True)
class Optimised:
    """How the optimised integration of one service is named."""

    name: str
    """The service in ``arn:aws:states:::NAME:ACTION``: ``sqs``, ``events`` ..."""
    sdk_name: str
    """The service in ``arn:aws:states:::aws-sdk:NAME:ACTION``: ``sqs``, ``eventbridge`` ..."""
    prefix: str
    """What its error names start with: ``SQS``, ``EventBridge`` ..."""
    client: str
    """The Java SDK's name of the service in error causes: ``AmazonSQS``, ``AWSGlue`` ..."""
    generic: str
    """The exception of the errors its model does not name: ``AmazonSQSException`` ..."""


OPTIMISED: dict[str, Optimised] = {
    o.name: o
    for o in (
        Optimised("sqs", "sqs", "SQS", "AmazonSQS", "AmazonSQSException"),
        Optimised("sns", "sns", "SNS", "AmazonSNS", "AmazonSNSException"),
        Optimised("events", "eventbridge", "EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
        Optimised("glue", "glue", "Glue", "AWSGlue", "AWSGlueException"),
        Optimised("dynamodb", "dynamodb", "DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
    )
}
"""The optimised integrations that can be routed, by the service name in their ARN."""


def endpoint(services: Services, name: str) -> dict[str, Any] | None:
    """The settings that route the optimised integration ``name`` to an endpoint, or None
    when Legato's embedded provider serves it.

    The service may be named as in the optimised ARN (``events``), as in aws-sdk ARNs
    (``eventbridge``) or as boto3 names it."""
    o = OPTIMISED[name]
    settings = services.integrations
    for key in dict.fromkeys((o.name, o.sdk_name, service_info(o.sdk_name).boto3_name)):
        config = settings.service(key)
        if config is not None:
            return config
    return None


async def call(
    services: Services, name: str, action: str, params: dict[str, Any], config: dict[str, Any]
) -> SdkResponse:
    """Calls ``action`` on the endpoint ``config`` names; raises the optimised integration's errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    o = OPTIMISED[name]
    try:
        return await sdk_call(services, o.sdk_name, action, params, config, validate=False)
    except ClientError as exc:
        raise client_error(o, exc) from None
    except BotoCoreError as exc:
        raise StatesError(
            f"{o.prefix}.SdkClientException", f"Unable to execute HTTP request: {exc}"
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Unchecked parameters botocore cannot put into a request (a number where a
        # structure belongs): the request is never sent, as the Java SDK fails to marshal it.
        raise StatesError(
            f"{o.prefix}.SdkClientException",
            f"Unable to marshall request to JSON: {type(exc).__name__}: {exc}",
        ) from None


def client_error(o: Optimised, exc: Any) -> StatesError:
    """A botocore ``ClientError`` as the optimised integration ``o`` reports it."""
    response = exc.response
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = int(meta.get("HTTPStatusCode") or 400)
    code = str(error.get("Code") or status)
    message = error.get("Message")
    # botocore raises a modeled error as a class named after its shape (QueueDoesNotExist,
    # NotFoundException); anything else is a plain ClientError.
    modeled = type(exc).__name__
    exception = o.generic if modeled == "ClientError" else modeled
    if not exception.endswith("Exception"):
        exception += "Exception"
    headers = meta.get("HTTPHeaders") or {}
    request_id = meta.get("RequestId") or headers.get("x-amzn-requestid") or "null"
    cause = (
        f"{'null' if message is None else message} (Service: {o.client}; Status Code: {status}; "
        f"Error Code: {code}; Request ID: {request_id}; Proxy: null)"
    )
    return StatesError(f"{o.prefix}.{exception}", cause)


def metadata(services: Services, response: SdkResponse, content_type: str) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` of a real response, as the optimised
    integrations add them to their result."""
    headers = response.headers
    length = headers.get("content-length", "")
    return sdk_metadata(
        services,
        headers.get("content-type") or content_type,
        int(length) if length.isdigit() else len(_json.dumps(response.raw).encode()),
        request_id=response.request_id,
        date=headers.get("date"),
    )


def json_text(value: Any) -> Any:
    """A message body, message or event detail as it is sent: an object becomes JSON text."""
    if value is None or isinstance(value, str):
        return value
    return _json.dumps(value)
