"""AWS SDK integrations, ``arn:aws:states:::aws-sdk:SERVICE:ACTION``: routing, the boto3
passthrough, and the interface embedded providers plug into.

Routing, decided on every call for the Task's SERVICE (the name in the ARN: ``s3``,
``dynamodb``, ``sqs``, ``sns``, ``eventbridge``, ``glue``, ``sfn`` ...):

1. the integrations file names the service with a mapping (``services: {s3: {endpoint_url:
   ...}}``): the call goes through boto3 to that endpoint (or to AWS when there is no
   ``endpoint_url``);
2. otherwise an embedded provider that registered the action with :func:`embedded` serves it;
3. otherwise a handler registered for the exact ``("aws-sdk:SERVICE", ACTION)`` with
   :func:`legato.integrations.registry.integration` serves it;
4. otherwise the Task fails with ``States.Runtime`` and a cause saying how to configure
   the service.

The optimised integrations of a routed service (``sqs:sendMessage``, ``events:putEvents``
...) go through the same clients with :func:`sdk_call`; :mod:`legato.integrations._remote`
maps their requests, results and errors.

Embedded providers (the interface other integrations use)
---------------------------------------------------------

An embedded provider is a module listed in
:data:`legato.integrations.registry.BUILTIN_MODULES` whose import registers coroutine
functions for its actions::

    from legato.integrations.aws_sdk import AwsServiceError, embedded
    from legato.integrations.registry import TaskCall

    @embedded("dynamodb", "getItem")
    async def get_item(call: TaskCall) -> Any:
        table = ...                                  # call.parameters: PascalCase, as written
        if table is None:
            raise AwsServiceError("ResourceNotFoundException", "Requested resource not found")
        return {"Item": ...}                         # the SDK's output shape, PascalCase keys

- The handler receives the same :class:`~legato.integrations.registry.TaskCall` as any
  Task handler; its data goes under ``call.services.integrations.directory("dynamodb")``
  and live objects in ``call.services.integrations.state``.
- It returns the result the way Step Functions shows it: PascalCase keys, timestamps as
  ISO-8601 text (:func:`sdk_timestamp`), no ``ResponseMetadata``.
- A service error is raised as :class:`AwsServiceError` with the service's own error code
  (``NoSuchKey``, ``ResourceNotFoundException``), its message and HTTP status. The router
  turns it into the :class:`~legato.errors.StatesError` Step Functions reports:
  ``S3.NoSuchKeyException`` with the cause ``The specified key does not exist. (Service:
  S3, Status Code: 404, Request ID: ..., Extended Request ID: ...)`` (see
  :func:`sdk_error`). A handler may also raise ``StatesError`` itself.
- The error prefix (``DynamoDb``, ``Sqs``, ``EventBridge``) and the boto3 name of a
  service come from :data:`SERVICES`; :func:`register_service` adds or replaces one.

The passthrough
---------------

A configured service's calls run on boto3 in the engine's thread pool. Parameters are
matched to the operation's input shape case-insensitively (Step Functions writes them in
PascalCase, some services spell them in camelCase), a streaming body (putObject's
``Body``) is sent as the JSON text of its value as Step Functions does (a string keeps its
quotes), other blobs as base64 text, and the response is converted back: structure members in PascalCase,
timestamps as ISO-8601 text, streaming bodies (``getObject``'s ``Body``) as UTF-8 text,
other blobs as base64. A ``ClientError`` becomes ``Service.CodeException`` with the cause
in the SDK's format. Settings per service::

    services:
      s3:
        endpoint_url: http://127.0.0.1:9000     # omit for AWS itself
        region: us-east-1                       # default: the engine's region
        access_key_id_env: MINIO_KEY            # names of environment variables;
        secret_access_key_env: MINIO_SECRET     # omitted: boto3's usual credential chain
        session_token_env: MINIO_TOKEN
        addressing_style: path                  # S3 only; default path with an endpoint_url
      dynamodb: embedded                        # the default
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from legato.errors import StatesError
from legato.integrations.registry import Handler, TaskCall, registered, router

if TYPE_CHECKING:
    from legato.runtime.services import Services

__all__ = [
    "SERVICES",
    "AwsServiceError",
    "SdkResponse",
    "ServiceInfo",
    "aws_sdk_task",
    "embedded",
    "register_service",
    "sdk_call",
    "sdk_error",
    "sdk_timestamp",
    "service_info",
]


class AwsServiceError(Exception):
    """A service's own error, as its API reports it: what an embedded provider raises."""

    def __init__(self, code: str, message: str | None, status: int = 400) -> None:
        super().__init__(code, message, status)
        self.code = code
        """The service's error code: ``NoSuchKey``, ``ResourceNotFoundException`` ..."""
        self.message = message
        """The error message; None prints as ``null``, as the Java SDK does."""
        self.status = status
        """The HTTP status code of the service's response."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """How Step Functions names one service."""

    name: str
    """The name in ``arn:aws:states:::aws-sdk:NAME:ACTION`` (the Java SDK's module name)."""
    error_prefix: str
    """What error names start with: ``S3``, ``DynamoDb``, ``Sfn``."""
    boto3_name: str
    """The name of the service in boto3 (``events`` for ``eventbridge``)."""
    extended_request_id: bool = False
    """Whether its error causes carry an ``Extended Request ID`` (S3 does)."""


SERVICES: dict[str, ServiceInfo] = {
    info.name: info
    for info in (
        ServiceInfo("s3", "S3", "s3", extended_request_id=True),
        ServiceInfo("dynamodb", "DynamoDb", "dynamodb"),
        ServiceInfo("sqs", "Sqs", "sqs"),
        ServiceInfo("sns", "Sns", "sns"),
        ServiceInfo("eventbridge", "EventBridge", "events"),
        ServiceInfo("glue", "Glue", "glue"),
        ServiceInfo("sfn", "Sfn", "stepfunctions"),
        ServiceInfo("lambda", "Lambda", "lambda"),
        ServiceInfo("secretsmanager", "SecretsManager", "secretsmanager"),
        ServiceInfo("cloudwatchlogs", "CloudWatchLogs", "logs"),
        ServiceInfo("cloudwatch", "CloudWatch", "cloudwatch"),
        ServiceInfo("ssm", "Ssm", "ssm"),
        ServiceInfo("kms", "Kms", "kms"),
        ServiceInfo("athena", "Athena", "athena"),
        ServiceInfo("ecs", "Ecs", "ecs"),
        ServiceInfo("ec2", "Ec2", "ec2"),
        ServiceInfo("iam", "Iam", "iam"),
        ServiceInfo("sts", "Sts", "sts"),
    )
}
"""Services by their Step Functions name; others are derived from botocore's models."""

_EMBEDDED: dict[tuple[str, str], Handler] = {}
_LOCK = threading.Lock()


def register_service(info: ServiceInfo) -> None:
    """Adds (or replaces) how Step Functions names a service."""
    SERVICES[info.name] = info


def embedded(service: str, *actions: str) -> Callable[[Handler], Handler]:
    """Registers the decorated coroutine function as the embedded provider of ``service``'s
    ``actions`` (``service`` as in the resource ARN: ``s3``, ``dynamodb`` ...)."""

    def register(fn: Handler) -> Handler:
        for action in actions:
            _EMBEDDED[(service, action)] = fn
        return fn

    return register


def _pascal_words(text: str) -> str:
    # "DynamoDB" -> "DynamoDb", "ACM PCA" -> "AcmPca", "S3" -> "S3", "EC2" -> "Ec2"
    out = []
    for word in re.split(r"[^A-Za-z0-9]+", text):
        for token in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", word):
            out.append(token[:1].upper() + token[1:].lower())
    return "".join(out)


def service_info(name: str) -> ServiceInfo:
    """How Step Functions names the service ``name`` (as in the resource ARN)."""
    info = SERVICES.get(name)
    if info is not None:
        return info
    boto3_name = name
    prefix = name[:1].upper() + name[1:]
    try:
        import botocore.session

        session = botocore.session.get_session()
        available = {s.replace("-", ""): s for s in session.get_available_services()}
        boto3_name = available.get(name.replace("-", ""), name)
        model = session.get_service_model(boto3_name)
        prefix = _pascal_words(model.service_id)
    except Exception:  # an unknown service: keep the name as written
        pass
    info = ServiceInfo(name, prefix, boto3_name)
    SERVICES[name] = info
    return info


def sdk_timestamp(seconds: float | dt.datetime) -> str:
    """A timestamp as Step Functions prints the SDK's: ``2024-05-01T12:00:00Z``,
    with milliseconds when there are any."""
    when = (
        seconds.astimezone(dt.UTC)
        if isinstance(seconds, dt.datetime)
        else dt.datetime.fromtimestamp(seconds, dt.UTC)
    )
    ms = when.microsecond // 1000
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def _request_ids(services: Services, info: ServiceInfo) -> tuple[str, str | None]:
    raw = services.ids.uuid().replace("-", "")
    if not info.extended_request_id:
        return services.ids.uuid(), None
    extended = base64.b64encode(bytes.fromhex(raw + raw[:16])).decode()
    return raw[:16].upper(), extended


def sdk_error(
    service: str,
    code: str,
    message: str | None,
    status: int,
    *,
    request_id: str,
    extended_request_id: str | None = None,
) -> StatesError:
    """The error Step Functions reports for a service's error ``code``: ``Prefix.CodeException``
    with the cause ``MESSAGE (Service: Prefix, Status Code: N, Request ID: ...)``."""
    info = service_info(service)
    suffix = "" if code.endswith("Exception") else "Exception"
    details = [f"Service: {info.error_prefix}", f"Status Code: {status}", f"Request ID: {request_id}"]
    if extended_request_id is not None:
        details.append(f"Extended Request ID: {extended_request_id}")
    text = "null" if message is None else message
    return StatesError(f"{info.error_prefix}.{code}{suffix}", f"{text} ({', '.join(details)})")


def _embedded_error(services: Services, service: str, exc: AwsServiceError) -> StatesError:
    info = service_info(service)
    request_id, extended = _request_ids(services, info)
    return sdk_error(
        service, exc.code, exc.message, exc.status, request_id=request_id, extended_request_id=extended
    )


async def aws_sdk_task(call: TaskCall) -> Any:
    """Runs an ``aws-sdk:SERVICE:ACTION`` Task where the configuration routes it."""
    service = call.service.partition(":")[2]
    settings = call.services.integrations
    info = service_info(service)
    configured = settings.service(service)
    if configured is None and info.boto3_name != service:
        configured = settings.service(info.boto3_name)
    if configured is not None:
        return await _passthrough(call, info, configured)
    handler = _EMBEDDED.get((service, call.action)) or registered(call.service, call.action)
    if handler is None:
        provided = sorted(a for s, a in _EMBEDDED if s == service)
        which = (
            f"Legato's embedded {service} provider supports {', '.join(provided)}; "
            if provided
            else f"Legato has no embedded {service} provider; "
        )
        raise StatesError(
            "States.Runtime",
            f"The resource '{call.resource}' cannot run: {which}route the service to AWS or a "
            f"compatible endpoint in the integrations file (legato serve --integrations FILE) with "
            f"'services: {{{service}: {{endpoint_url: URL, region: REGION}}}}'.",
        )
    try:
        return await handler(call)
    except AwsServiceError as exc:
        raise _embedded_error(call.services, service, exc) from None


router("aws-sdk", aws_sdk_task)


# -- the boto3 passthrough


def _client(services: Services, info: ServiceInfo, config: dict[str, Any], validate: bool = True) -> Any:
    """A boto3 client for the configured service, made once per configuration."""
    key = ("aws_sdk.client", info.boto3_name, json.dumps(config, sort_keys=True, default=str), validate)
    clients: dict[Any, Any] = services.integrations.state.setdefault("aws_sdk.clients", {})
    with _LOCK:
        client = clients.get(key)
        if client is not None:
            return client
        import boto3
        from botocore.config import Config

        def env(name: str) -> str | None:
            var = config.get(name)
            if var is None:
                return None
            value = os.environ.get(str(var))
            if value is None:
                raise StatesError(
                    "States.Runtime",
                    f"integrations file: services.{info.name}.{name} names the environment variable "
                    f"{var}, which is not set",
                )
            return value

        options: dict[str, Any] = {
            "retries": {"max_attempts": 1, "mode": "standard"},
            "parameter_validation": validate,
        }
        endpoint = config.get("endpoint_url")
        if info.boto3_name == "s3":
            style = config.get("addressing_style") or ("path" if endpoint else "auto")
            options["s3"] = {"addressing_style": style}
        session = boto3.session.Session()
        client = session.client(
            info.boto3_name,
            endpoint_url=endpoint,
            region_name=config.get("region") or services.region,
            aws_access_key_id=env("access_key_id_env"),
            aws_secret_access_key=env("secret_access_key_env"),
            aws_session_token=env("session_token_env"),
            config=Config(**options),
        )
        clients[key] = client
        return client


def _operation(client: Any, info: ServiceInfo, action: str) -> Any:
    model = client.meta.service_model
    wanted = action.lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            return model.operation_model(name)
    raise StatesError(
        "States.Runtime",
        f"The service {info.name} has no API action '{action}' (boto3 {info.boto3_name} knows "
        f"{len(model.operation_names)} operations).",
    )


def _to_request(value: Any, shape: Any, streaming: bool = False) -> Any:
    """A Step Functions parameter value in the shape botocore expects."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        payload = shape.serialization.get("payload")
        out = {}
        for key, item in value.items():
            name = members.get(key.lower(), key)
            out[name] = _to_request(item, shape.members.get(name), name == payload)
        return out
    if kind == "list" and isinstance(value, list):
        return [_to_request(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _to_request(v, shape.value) for k, v in value.items()}
    if kind == "blob":
        if shape.serialization.get("streaming") or shape.metadata.get("streaming") or streaming:
            # A payload (putObject's Body) is sent as the value's JSON text, strings included.
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                return value.encode("utf-8")
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return value


def _from_response(value: Any, shape: Any) -> Any:
    """A botocore response value as Step Functions shows it."""
    if hasattr(value, "read"):  # a streaming body
        data = value.read()
        return data.decode("utf-8", errors="replace")
    if isinstance(value, dt.datetime):
        return sdk_timestamp(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    kind = getattr(shape, "type_name", None)
    if isinstance(value, dict):
        if kind == "map":
            return {k: _from_response(v, shape.value) for k, v in value.items()}
        members = shape.members if kind == "structure" else {}
        return {
            key[:1].upper() + key[1:]: _from_response(item, members.get(key))
            for key, item in value.items()
            if key != "ResponseMetadata"
        }
    if isinstance(value, list):
        return [_from_response(item, shape.member if kind == "list" else None) for item in value]
    return value


def _client_error(info: ServiceInfo, exc: Any) -> StatesError:
    response = exc.response
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = int(meta.get("HTTPStatusCode") or 400)
    # A query-compatible service (SQS) puts its legacy code in Code and the modeled error in QueryErrorCode.
    code = str(error.get("QueryErrorCode") or error.get("Code") or status)
    message = error.get("Message")
    if code.isdigit() and not message:  # HEAD errors carry no body
        code, message = {"404": ("NoSuchKey" if info.name == "s3" else "NotFound", None)}.get(
            code, (f"{info.error_prefix}", None)
        )
    headers = meta.get("HTTPHeaders") or {}
    request_id = meta.get("RequestId") or headers.get("x-amz-request-id") or headers.get("x-amzn-requestid")
    extended = meta.get("HostId") or headers.get("x-amz-id-2")
    return sdk_error(
        info.name,
        code,
        message,
        status,
        request_id=str(request_id or "null"),
        extended_request_id=extended if info.extended_request_id else None,
    )


@dataclass(frozen=True, slots=True)
class SdkResponse:
    """What a boto3 call returned."""

    output: dict[str, Any]
    """The response as Step Functions shows it: PascalCase members, ISO-8601 timestamps."""
    raw: dict[str, Any]
    """botocore's parsed response (datetimes as datetimes), without ``ResponseMetadata``."""
    request_id: str | None
    """The service's request id."""
    headers: dict[str, str]
    """The HTTP response headers (names in lower case)."""


async def sdk_call(
    services: Services,
    service: str,
    action: str,
    params: dict[str, Any],
    config: dict[str, Any],
    *,
    validate: bool = True,
) -> SdkResponse:
    """Calls ``action`` of ``service`` (its name in aws-sdk ARNs) through boto3 with the
    service's settings, in the engine's thread pool.

    ``params`` are matched to the operation's input shape case-insensitively; with
    ``validate=False`` parameters the operation does not know are dropped and the rest go
    unchecked to the service, which answers as it would to the AWS SDK for Java (the
    optimised integrations). botocore's exceptions (``ClientError``, ``BotoCoreError``)
    propagate.
    """
    info = service_info(service)

    def invoke() -> SdkResponse:
        client = _client(services, info, config, validate)
        operation = _operation(client, info, action)
        kwargs = _to_request(params, operation.input_shape)
        if not validate and operation.input_shape is not None:
            kwargs = {k: v for k, v in kwargs.items() if k in operation.input_shape.members}
        response = dict(getattr(client, _snake(operation.name))(**kwargs))
        meta = response.pop("ResponseMetadata", None) or {}
        return SdkResponse(
            output=_from_response(response, operation.output_shape),
            raw=response,
            request_id=meta.get("RequestId"),
            headers=dict(meta.get("HTTPHeaders") or {}),
        )

    loop = asyncio.get_running_loop()
    with services.clock.busy():
        return await loop.run_in_executor(services.executor, invoke)


async def _passthrough(call: TaskCall, info: ServiceInfo, config: dict[str, Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    params = call.parameters if call.parameters is not None else {}
    if not isinstance(params, dict):
        raise StatesError(
            "States.Runtime", f"The Parameters of an aws-sdk:{info.name} Task must be an object."
        )
    try:
        return (await sdk_call(call.services, info.name, call.action, params, config)).output
    except ClientError as exc:
        raise _client_error(info, exc) from None
    except ParamValidationError as exc:
        raise sdk_error(
            info.name,
            f"{info.error_prefix}Exception",
            str(exc).replace("\n", " "),
            400,
            request_id="null",
        ) from None
    except BotoCoreError as exc:
        raise StatesError(
            f"{info.error_prefix}.SdkClientException", f"Unable to execute HTTP request: {exc}"
        ) from None


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))
