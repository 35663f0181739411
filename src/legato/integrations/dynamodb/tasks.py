"""DynamoDB Task resources: the optimised ``dynamodb:getItem|putItem|updateItem|deleteItem`` and
``aws-sdk:dynamodb:*``, served by the embedded provider.

The two forms report errors differently, as on AWS:

- optimised: ``DynamoDB.ConditionalCheckFailedException``, ``DynamoDB.ResourceNotFoundException``,
  or ``DynamoDB.AmazonDynamoDBException`` for the errors the SDK has no class for (validation),
  with the cause ``MESSAGE (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: CODE;
  Request ID: ID; Proxy: null)``; the result carries ``SdkHttpMetadata`` and ``SdkResponseMetadata``;
- ``aws-sdk:dynamodb:*``: ``DynamoDb.ResourceNotFoundException`` ..., or ``DynamoDb.DynamoDbException``,
  with the cause ``MESSAGE (Service: DynamoDb, Status Code: 400, Request ID: ID)``; the result is
  the API response alone.

When the integrations file routes ``dynamodb`` to an endpoint, both forms go through boto3
(:mod:`legato.integrations.aws_sdk`, :mod:`legato.integrations._remote`), with the same error names.
"""

from __future__ import annotations

import zlib
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import StatesError
from legato.integrations import _remote
from legato.integrations.aws_sdk import AwsServiceError, embedded, sdk_timestamp
from legato.integrations.dynamodb.api import DynamoDB
from legato.integrations.dynamodb.errors import DynamoDBError
from legato.integrations.registry import TaskCall, integration

if TYPE_CHECKING:
    from legato.runtime.services import Services

MODELED_ERRORS = frozenset(
    {
        "ConditionalCheckFailedException",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "ProvisionedThroughputExceededException",
        "ItemCollectionSizeLimitExceededException",
        "LimitExceededException",
        "InternalServerErrorException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)
"""Error codes the AWS SDKs have an exception class for; others are the service's generic exception."""

SDK_ACTIONS = {
    "createTable": "CreateTable",
    "describeTable": "DescribeTable",
    "deleteTable": "DeleteTable",
    "listTables": "ListTables",
    "putItem": "PutItem",
    "getItem": "GetItem",
    "updateItem": "UpdateItem",
    "deleteItem": "DeleteItem",
    "query": "Query",
    "scan": "Scan",
    "batchWriteItem": "BatchWriteItem",
    "batchGetItem": "BatchGetItem",
}
"""``aws-sdk:dynamodb`` actions the embedded provider serves, with their API names."""

_STATE_KEY = "dynamodb.provider"


def provider(services: Services) -> DynamoDB:
    """The engine's embedded DynamoDB (``DATA_DIR/dynamodb/tables.sqlite``), opened on first use."""
    state = services.integrations.state
    db = state.get(_STATE_KEY)
    if db is None:
        path = services.integrations.directory("dynamodb") / "tables.sqlite"
        db = DynamoDB(path, region=services.region, account=services.account, now=services.clock.time)
        state[_STATE_KEY] = db
    return db


def _request(call: TaskCall) -> dict[str, Any]:
    params = call.parameters if call.parameters is not None else {}
    if not isinstance(params, dict):
        raise StatesError(
            "States.Runtime", f"The Parameters of a dynamodb:{call.action} Task must be an object."
        )
    return params


def _request_id(services: Services) -> str:
    return (services.ids.uuid() + services.ids.uuid()).replace("-", "").upper()[:52]


def _metadata(services: Services, response: dict[str, Any], request_id: str) -> dict[str, Any]:
    """What the Java SDK adds to an optimised DynamoDB result: DynamoDB's response headers.

    (Some of AWS's GetItem responses spell the request id header ``x-amzn-requestid``;
    this uses the ``x-amzn-RequestId`` the other recordings show.)
    """
    id_header = "x-amzn-RequestId"
    body = _json.dumps(response).encode()
    length = str(len(body))
    crc = str(zlib.crc32(body))
    date = formatdate(services.clock.time(), usegmt=True)
    content_type = "application/x-amz-json-1.0"
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "Server": ["Server"],
                "Connection": ["keep-alive"],
                id_header: [request_id],
                "x-amz-crc32": [crc],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": [content_type],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": content_type,
                "Date": date,
                "Server": "Server",
                "x-amz-crc32": crc,
                id_header: request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def optimised_error(code: str, message: str, status: int, request_id: str) -> StatesError:
    """A DynamoDB error as the optimised integration reports it."""
    name = code if code in MODELED_ERRORS else "AmazonDynamoDBException"
    return StatesError(
        f"DynamoDB.{name}",
        f"{message} (Service: AmazonDynamoDBv2; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {request_id}; Proxy: null)",
    )


@integration("dynamodb", "getItem", "putItem", "updateItem", "deleteItem")
async def optimised_task(call: TaskCall) -> Any:
    """``arn:aws:states:::dynamodb:ACTION``: the API response plus the SDK's HTTP metadata."""
    services = call.services
    operation = SDK_ACTIONS[call.action]
    config = _remote.endpoint(services, "dynamodb")
    if config is not None:
        return await _optimised_passthrough(call, config)
    request_id = _request_id(services)
    try:
        response = provider(services).call(operation, _request(call))
    except DynamoDBError as exc:
        raise optimised_error(exc.code, exc.message, exc.status, request_id) from None
    return {**response, **_metadata(services, response, request_id)}


async def _optimised_passthrough(call: TaskCall, config: dict[str, Any]) -> Any:
    """Sends an optimised Task through boto3 to the endpoint ``config`` names."""
    response = await _remote.call(call.services, "dynamodb", call.action, _request(call), config)
    request_id = response.request_id or _request_id(call.services)
    return {**response.output, **_metadata(call.services, response.output, request_id)}


def _sdk_handler(operation: str) -> Any:
    async def handler(call: TaskCall) -> Any:
        try:
            response = provider(call.services).call(operation, _request(call))
        except DynamoDBError as exc:
            code = exc.code if exc.code in MODELED_ERRORS else "DynamoDbException"
            raise AwsServiceError(code, exc.message, exc.status) from None
        for key in ("Table", "TableDescription"):
            table = response.get(key)
            if isinstance(table, dict) and "CreationDateTime" in table:
                # The SDK integrations print timestamps as ISO-8601 text.
                response[key] = {**table, "CreationDateTime": sdk_timestamp(table["CreationDateTime"])}
        return response

    handler.__name__ = f"dynamodb_{operation}"
    handler.__doc__ = f"``aws-sdk:dynamodb:{operation}`` on the embedded provider."
    return handler


for _action, _operation in SDK_ACTIONS.items():
    embedded("dynamodb", _action)(_sdk_handler(_operation))
