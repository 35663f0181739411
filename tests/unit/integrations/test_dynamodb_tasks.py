"""DynamoDB Task resources in workflows (optimised and aws-sdk forms), and ``legato tables``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import legato
from legato.cli import main

CREATE = {
    "Type": "Task",
    "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
    "Parameters": {
        "TableName": "orders",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    },
    "ResultPath": "$.created",
}


def _machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    names = [n for n, _ in states]
    out: dict[str, Any] = {}
    for i, (name, state) in enumerate(states):
        state = dict(state)
        if i + 1 < len(names):
            state["Next"] = names[i + 1]
        else:
            state["End"] = True
        out[name] = state
    return {"StartAt": names[0], "States": out}


def _task(resource: str, params: dict[str, Any], result_path: str | None = "$.r") -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": params, "ResultPath": result_path}


def test_optimised_put_update_get_with_sdk_metadata() -> None:
    item = {"id": {"S": "a"}, "n": {"N": "1"}}
    result = legato.run(
        functions={},  # a fresh data directory
        definition=_machine(
            ("Create", CREATE),
            (
                "Put",
                _task("arn:aws:states:::dynamodb:putItem", {"TableName": "orders", "Item": item}, "$.put"),
            ),
            (
                "Update",
                _task(
                    "arn:aws:states:::dynamodb:updateItem",
                    {
                        "TableName": "orders",
                        "Key": {"id": {"S": "a"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                        "ReturnValues": "UPDATED_NEW",
                    },
                    "$.update",
                ),
            ),
            (
                "Get",
                _task(
                    "arn:aws:states:::dynamodb:getItem",
                    {"TableName": "orders", "Key": {"id": {"S": "a"}}},
                    "$.get",
                ),
            ),
        ),
    )
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert out["created"]["TableDescription"]["TableStatus"] == "ACTIVE"
    assert out["created"]["TableDescription"]["CreationDateTime"].endswith("Z")
    assert set(out["put"]) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    assert out["put"]["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "2"
    assert out["update"]["Attributes"] == {"n": {"N": "2"}}
    assert out["get"]["Item"] == {"id": {"S": "a"}, "n": {"N": "2"}}
    body = json.dumps({"Item": out["get"]["Item"]}, separators=(",", ":"))
    assert out["get"]["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == str(len(body))
    assert out["get"]["SdkHttpMetadata"]["HttpStatusCode"] == 200


def test_sdk_query_scan_and_batches() -> None:
    writes = [{"PutRequest": {"Item": {"id": {"S": f"k{i}"}, "n": {"N": str(i)}}}} for i in range(4)]
    result = legato.run(
        functions={},  # a fresh data directory
        definition=_machine(
            ("Create", CREATE),
            (
                "Batch",
                _task(
                    "arn:aws:states:::aws-sdk:dynamodb:batchWriteItem",
                    {"RequestItems": {"orders": writes}},
                    None,
                ),
            ),
            (
                "Query",
                _task(
                    "arn:aws:states:::aws-sdk:dynamodb:query",
                    {
                        "TableName": "orders",
                        "KeyConditionExpression": "id = :id",
                        "ExpressionAttributeValues": {":id": {"S": "k2"}},
                    },
                    "$.query",
                ),
            ),
            (
                "Scan",
                _task(
                    "arn:aws:states:::aws-sdk:dynamodb:scan",
                    {
                        "TableName": "orders",
                        "FilterExpression": "n >= :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    },
                    "$.scan",
                ),
            ),
            (
                "BatchGet",
                _task(
                    "arn:aws:states:::aws-sdk:dynamodb:batchGetItem",
                    {
                        "RequestItems": {
                            "orders": {"Keys": [{"id": {"S": "k0"}}], "ProjectionExpression": "n"}
                        }
                    },
                    "$.get",
                ),
            ),
        ),
    )
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert out["query"] == {"Count": 1, "Items": [{"id": {"S": "k2"}, "n": {"N": "2"}}], "ScannedCount": 1}
    assert out["scan"]["Count"] == 2 and out["scan"]["ScannedCount"] == 4
    assert out["get"] == {"Responses": {"orders": [{"n": {"N": "0"}}]}, "UnprocessedKeys": {}}


def _failure(*states: tuple[str, dict[str, Any]]) -> tuple[str | None, str | None]:
    result = legato.run(functions={}, definition=_machine(*states))
    assert result.status == "FAILED"
    return result.error, result.cause


def test_optimised_errors() -> None:
    put = {
        "TableName": "orders",
        "Item": {"id": {"S": "a"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }
    error, cause = _failure(
        ("Create", CREATE),
        ("Put1", _task("arn:aws:states:::dynamodb:putItem", put)),
        ("Put2", _task("arn:aws:states:::dynamodb:putItem", put)),
    )
    assert error == "DynamoDB.ConditionalCheckFailedException"
    assert cause is not None and cause.startswith(
        "The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400; "
        "Error Code: ConditionalCheckFailedException; Request ID: "
    )
    assert cause.endswith("; Proxy: null)")
    error, cause = _failure(
        ("Get", _task("arn:aws:states:::dynamodb:getItem", {"TableName": "nope", "Key": {"id": {"S": "a"}}}))
    )
    assert error == "DynamoDB.ResourceNotFoundException"
    assert cause is not None and cause.startswith(
        "Requested resource not found (Service: AmazonDynamoDBv2; Status Code: 400;"
    )
    error, cause = _failure(
        ("Create", CREATE),
        (
            "Update",
            _task(
                "arn:aws:states:::dynamodb:updateItem",
                {
                    "TableName": "orders",
                    "Key": {"id": {"S": "a"}},
                    "UpdateExpression": "SET data = :v",
                    "ExpressionAttributeValues": {":v": {"S": "x"}},
                },
            ),
        ),
    )
    assert error == "DynamoDB.AmazonDynamoDBException"
    assert cause is not None and cause.startswith(
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: data "
        "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ValidationException; Request ID: "
    )


def test_sdk_errors_and_catch() -> None:
    error, cause = _failure(
        (
            "Put",
            _task(
                "arn:aws:states:::aws-sdk:dynamodb:putItem", {"TableName": "nope", "Item": {"id": {"S": "a"}}}
            ),
        )
    )
    assert error == "DynamoDb.ResourceNotFoundException"
    assert cause is not None and cause.startswith(
        "Requested resource not found (Service: DynamoDb, Status Code: 400, Request ID: "
    )
    error, cause = _failure(
        ("Put", _task("arn:aws:states:::aws-sdk:dynamodb:putItem", {"TableName": "orders", "Item": None}))
    )
    assert error == "DynamoDb.DynamoDbException"
    assert cause is not None and cause.startswith(
        "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null "
        "(Service: DynamoDb, Status Code: 400, Request ID: "
    )
    caught = {
        **_task("arn:aws:states:::aws-sdk:dynamodb:createTable", CREATE["Parameters"]),
        "Catch": [
            {"ErrorEquals": ["DynamoDb.ResourceInUseException"], "ResultPath": "$.err", "Next": "Done"}
        ],
    }
    result = legato.run(
        functions={},
        definition={
            "StartAt": "C1",
            "States": {
                "C1": {**CREATE, "Next": "C2"},
                "C2": {**caught, "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        },
    )
    assert result.status == "SUCCEEDED"
    assert result.output["err"]["Error"] == "DynamoDb.ResourceInUseException"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tables_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(tmp_path)]
    code, out, _ = _cli(capsys, "tables", "create", "orders", "--hash", "id:S", "--range", "ts:N", *d)
    assert code == 0 and json.loads(out)["KeySchema"][1] == {"AttributeName": "ts", "KeyType": "RANGE"}
    items = tmp_path / "items.json"
    items.write_text(json.dumps([{"id": "a", "ts": 2, "tags": ["x"], "ok": True}, {"id": "a", "ts": 1}]))
    assert _cli(capsys, "tables", "put", "orders", f"@{items}", "--plain", *d)[1].strip() == '{"put":2}'
    code, out, _ = _cli(capsys, "tables", "get", "orders", '{"id": "a", "ts": 2}', "--plain", *d)
    assert json.loads(out) == {"id": "a", "ts": 2, "tags": ["x"], "ok": True}
    code, out, _ = _cli(capsys, "tables", "get", "orders", '{"id": {"S": "a"}, "ts": {"N": "1"}}', *d)
    assert json.loads(out) == {"id": {"S": "a"}, "ts": {"N": "1"}}
    code, out, _ = _cli(capsys, "tables", "scan", "orders", "--plain", *d)
    assert [i["ts"] for i in json.loads(out)] == [1, 2]
    assert json.loads(_cli(capsys, "tables", "list", *d)[1]) == ["orders"]
    assert json.loads(_cli(capsys, "tables", "describe", "orders", *d)[1])["ItemCount"] == 2
    code, out, err = _cli(capsys, "tables", "put", "orders", '{"id": "a"}', "--plain", *d)
    assert code == 1 and "Missing the key ts in the item" in err
    code, _, err = _cli(capsys, "tables", "create", "bad", "--hash", "id:X", *d)
    assert code == 2 and "NAME:TYPE" in err
    assert _cli(capsys, "tables", "delete", "orders", "--key", '{"id": "a", "ts": 1}', "--plain", *d)[0] == 0
    assert len(json.loads(_cli(capsys, "tables", "scan", "orders", *d)[1])) == 1
    assert _cli(capsys, "tables", "delete", "orders", *d)[0] == 0
    assert json.loads(_cli(capsys, "tables", "list", *d)[1]) == []


def test_docs_examples_run() -> None:
    import re

    page = Path(__file__).resolve().parents[3] / "docs" / "dynamodb.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "dynamodb.md", "exec"), {})
