"""The embedded DynamoDB's operations: data model, validation errors as AWS words them, pagination."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legato.integrations.dynamodb import DynamoDB, DynamoDBError


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DynamoDB]:
    d = DynamoDB(tmp_path / "tables.sqlite")
    d.call(
        "CreateTable",
        {
            "TableName": "events",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    d.call(
        "CreateTable",
        {
            "TableName": "simple",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        },
    )
    yield d
    d.close()


def _fails(db: DynamoDB, operation: str, request: dict[str, Any], code: str = "ValidationException") -> str:
    with pytest.raises(DynamoDBError) as info:
        db.call(operation, request)
    assert info.value.code == code, info.value.message
    return info.value.message


def _put(db: DynamoDB, pk: str, sk: Any, **extra: Any) -> None:
    db.call("PutItem", {"TableName": "events", "Item": {"pk": {"S": pk}, "sk": {"N": str(sk)}, **extra}})


def test_put_get_delete_with_return_values(db: DynamoDB) -> None:
    item = {"id": {"S": "a"}, "n": {"N": "01.50"}}
    assert db.call("PutItem", {"TableName": "simple", "Item": item}) == {}
    got = db.call("GetItem", {"TableName": "simple", "Key": {"id": {"S": "a"}}, "ConsistentRead": True})
    assert got == {"Item": {"id": {"S": "a"}, "n": {"N": "1.5"}}}
    old = db.call("PutItem", {"TableName": "simple", "Item": {"id": {"S": "a"}}, "ReturnValues": "ALL_OLD"})
    assert old == {"Attributes": {"id": {"S": "a"}, "n": {"N": "1.5"}}}
    gone = db.call(
        "DeleteItem", {"TableName": "simple", "Key": {"id": {"S": "a"}}, "ReturnValues": "ALL_OLD"}
    )
    assert gone == {"Attributes": {"id": {"S": "a"}}}
    assert db.call("GetItem", {"TableName": "simple", "Key": {"id": {"S": "a"}}}) == {}


def test_conditional_writes(db: DynamoDB) -> None:
    put = {
        "TableName": "simple",
        "Item": {"id": {"S": "a"}, "v": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }
    db.call("PutItem", put)
    assert _fails(db, "PutItem", put, "ConditionalCheckFailedException") == "The conditional request failed"
    delete = {
        "TableName": "simple",
        "Key": {"id": {"S": "a"}},
        "ConditionExpression": "v = :two",
        "ExpressionAttributeValues": {":two": {"N": "2"}},
    }
    _fails(db, "DeleteItem", delete, "ConditionalCheckFailedException")


def test_update_item_upserts_and_return_values(db: DynamoDB) -> None:
    request = {
        "TableName": "simple",
        "Key": {"id": {"S": "c"}},
        "UpdateExpression": "SET #c = if_not_exists(#c, :zero) + :one, extra = :one",
        "ExpressionAttributeNames": {"#c": "count"},
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
    }
    assert db.call("UpdateItem", {**request, "ReturnValues": "UPDATED_NEW"}) == {
        "Attributes": {"count": {"N": "1"}, "extra": {"N": "1"}}
    }
    assert db.call("UpdateItem", {**request, "ReturnValues": "UPDATED_OLD"}) == {
        "Attributes": {"count": {"N": "1"}, "extra": {"N": "1"}}
    }
    assert db.call("UpdateItem", {**request, "ReturnValues": "ALL_NEW"}) == {
        "Attributes": {"id": {"S": "c"}, "count": {"N": "3"}, "extra": {"N": "1"}}
    }
    assert db.call("UpdateItem", {**request, "ReturnValues": "NONE"}) == {}
    cond = {**request, "ConditionExpression": "#c > :one"}
    db.call("UpdateItem", cond)
    cond["ExpressionAttributeValues"] = {":zero": {"N": "0"}, ":one": {"N": "100"}}
    _fails(db, "UpdateItem", cond, "ConditionalCheckFailedException")


def test_query_order_bounds_and_pagination(db: DynamoDB) -> None:
    for sk in (10, -2, 3, 0.5, 1, 2, 100):
        _put(db, "a", sk)
    _put(db, "b", 1)

    def query(condition: str, **values: Any) -> list[str]:
        request = {
            "TableName": "events",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {
                ":p": {"S": "a"},
                **{f":{k}": {"N": str(v)} for k, v in values.items()},
            },
        }
        return [i["sk"]["N"] for i in db.call("Query", request)["Items"]]

    assert query("pk = :p") == ["-2", "0.5", "1", "2", "3", "10", "100"]
    assert query("pk = :p AND sk > :x", x=2) == ["3", "10", "100"]
    assert query("pk = :p AND sk <= :x", x=1) == ["-2", "0.5", "1"]
    assert query("pk = :p AND sk BETWEEN :x AND :y", x=1, y=10) == ["1", "2", "3", "10"]
    assert query("pk = :p AND sk = :x", x=3) == ["3"]
    assert query(":x < sk AND pk = :p", x=10) == ["100"]

    seen: list[str] = []
    request: dict[str, Any] = {
        "TableName": "events",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "a"}},
        "Limit": 3,
        "ScanIndexForward": False,
    }
    while True:
        page = db.call("Query", request)
        seen += [i["sk"]["N"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == ["100", "10", "3", "2", "1", "0.5", "-2"]


def test_query_begins_with_filter_projection_and_count(db: DynamoDB) -> None:
    db.call(
        "CreateTable",
        {
            "TableName": "names",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    for sk, n in (("user#1", 1), ("user#2", 2), ("usez", 3), ("order#1", 4)):
        db.call(
            "PutItem", {"TableName": "names", "Item": {"pk": {"S": "p"}, "sk": {"S": sk}, "n": {"N": str(n)}}}
        )
    base = {
        "TableName": "names",
        "KeyConditionExpression": "pk = :p AND begins_with(sk, :pre)",
        "ExpressionAttributeValues": {":p": {"S": "p"}, ":pre": {"S": "user#"}},
    }
    assert [i["sk"]["S"] for i in db.call("Query", base)["Items"]] == ["user#1", "user#2"]
    filtered = db.call(
        "Query",
        {
            **base,
            "FilterExpression": "n > :one",
            "ProjectionExpression": "n",
            "ExpressionAttributeValues": {**base["ExpressionAttributeValues"], ":one": {"N": "1"}},
        },
    )
    assert filtered == {"Items": [{"n": {"N": "2"}}], "Count": 1, "ScannedCount": 2}
    assert db.call("Query", {**base, "Select": "COUNT"}) == {"Count": 2, "ScannedCount": 2}
    message = _fails(
        db,
        "Query",
        {**base, "FilterExpression": "sk = :p"},
    )
    assert (
        message == "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    )


def test_scan_pagination_segments_and_filter(db: DynamoDB) -> None:
    for i in range(25):
        db.call("PutItem", {"TableName": "simple", "Item": {"id": {"S": f"k{i:02d}"}, "n": {"N": str(i)}}})
    ids: list[str] = []
    request: dict[str, Any] = {"TableName": "simple", "Limit": 7}
    while True:
        page = db.call("Scan", request)
        ids += [i["id"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(ids) == [f"k{i:02d}" for i in range(25)] and len(ids) == 25
    segments = [
        {
            i["id"]["S"]
            for i in db.call("Scan", {"TableName": "simple", "Segment": s, "TotalSegments": 3})["Items"]
        }
        for s in range(3)
    ]
    assert set().union(*segments) == set(ids) and sum(len(s) for s in segments) == 25
    even = db.call(
        "Scan",
        {
            "TableName": "simple",
            "FilterExpression": "n < :five",
            "ExpressionAttributeValues": {":five": {"N": "5"}},
        },
    )
    assert even["Count"] == 5 and even["ScannedCount"] == 25


def test_batch_write_and_get(db: DynamoDB) -> None:
    writes = [{"PutRequest": {"Item": {"id": {"S": f"b{i}"}}}} for i in range(5)]
    assert db.call("BatchWriteItem", {"RequestItems": {"simple": writes}}) == {"UnprocessedItems": {}}
    db.call("BatchWriteItem", {"RequestItems": {"simple": [{"DeleteRequest": {"Key": {"id": {"S": "b0"}}}}]}})
    got = db.call(
        "BatchGetItem",
        {
            "RequestItems": {
                "simple": {"Keys": [{"id": {"S": "b0"}}, {"id": {"S": "b1"}}, {"id": {"S": "b4"}}]}
            }
        },
    )
    assert sorted(i["id"]["S"] for i in got["Responses"]["simple"]) == ["b1", "b4"]
    assert got["UnprocessedKeys"] == {}
    too_many = [{"PutRequest": {"Item": {"id": {"S": f"x{i}"}}}} for i in range(26)]
    assert _fails(db, "BatchWriteItem", {"RequestItems": {"simple": too_many}}) == (
        "Too many items requested for the BatchWriteItem call"
    )
    dupes = [{"PutRequest": {"Item": {"id": {"S": "x"}}}}] * 2
    assert _fails(db, "BatchWriteItem", {"RequestItems": {"simple": dupes}}) == (
        "Provided list of item keys contains duplicates"
    )


def test_tables(db: DynamoDB) -> None:
    assert db.call("ListTables", {}) == {"TableNames": ["events", "simple"]}
    assert db.call("ListTables", {"Limit": 1}) == {
        "TableNames": ["events"],
        "LastEvaluatedTableName": "events",
    }
    _put(db, "a", 1)
    table = db.call("DescribeTable", {"TableName": "events"})["Table"]
    assert table["ItemCount"] == 1 and table["TableStatus"] == "ACTIVE"
    assert table["TableArn"] == "arn:aws:dynamodb:us-east-1:123456789012:table/events"
    assert _fails(
        db,
        "CreateTable",
        {
            **{k: table[k] for k in ("TableName", "KeySchema", "AttributeDefinitions")},
            "BillingMode": "PAY_PER_REQUEST",
        },
        "ResourceInUseException",
    ) == ("Table already exists: events")
    assert db.call("DeleteTable", {"TableName": "events"})["TableDescription"]["TableStatus"] == "DELETING"
    assert _fails(db, "DescribeTable", {"TableName": "events"}, "ResourceNotFoundException") == (
        "Requested resource not found: Table: events not found"
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"TableName": "/bad", "Item": None},
            "2 validation errors detected: Value '/bad' at 'tableName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value null at 'item' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"N": "1"}}},
            "One or more parameter values were invalid: Type mismatch for key id expected: S actual: N",
        ),
        (
            {"TableName": "simple", "Item": {"x": {"S": "1"}}},
            "One or more parameter values were invalid: Missing the key id in the item",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": ""}}},
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
            "empty string value. Key: id",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}, "n": {"N": "abc"}}},
            "The parameter cannot be converted to a numeric value: abc",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}, "s": {"SS": []}}},
            "One or more parameter values were invalid: An string set  may not be empty",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}, "s": {"SS": ["x", "x"]}}},
            "Input collection [x, x] contains duplicates.",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}, "v": {}}},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}, "v": {"S": "x", "N": "1"}}},
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}, "big": {"S": "x" * 410_000}}},
            "Item size has exceeded the maximum allowed size",
        ),
        (
            {"TableName": "simple", "Item": {"id": {"S": "a"}}, "ReturnValues": "ALL_NEW"},
            "ReturnValues can only be ALL_OLD or NONE",
        ),
        (
            {
                "TableName": "simple",
                "Item": {"id": {"S": "a"}},
                "ExpressionAttributeValues": {":v": {"S": "x"}},
            },
            "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null",
        ),
        (
            {
                "TableName": "simple",
                "Item": {"id": {"S": "a"}},
                "ConditionExpression": "attribute_exists(id)",
                "ExpressionAttributeNames": {"#unused": "x"},
            },
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
        ),
        (
            {
                "TableName": "simple",
                "Item": {"id": {"S": "a"}},
                "ConditionExpression": "attribute_exists(id)",
                "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"S": "y"}},
            },
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b}",
        ),
        (
            {
                "TableName": "simple",
                "Item": {"id": {"S": "a"}},
                "ConditionExpression": "x = :v",
                "ExpressionAttributeValues": {},
            },
            "ExpressionAttributeValues must not be empty",
        ),
        (
            {
                "TableName": "simple",
                "Item": {"id": {"S": "a"}},
                "ConditionExpression": "x = :v",
                "ExpressionAttributeValues": {":v": {"N": "x"}},
            },
            "ExpressionAttributeValues contains invalid value: The parameter cannot be converted to a numeric value: x for key :v",
        ),
    ],
)
def test_put_item_validation(db: DynamoDB, request_: dict[str, Any], message: str) -> None:
    assert _fails(db, "PutItem", request_) == message


@pytest.mark.parametrize(
    ("operation", "request_", "message"),
    [
        (
            "GetItem",
            {"TableName": "simple", "Key": {"id": {"N": "1"}}},
            "The provided key element does not match the schema",
        ),
        (
            "GetItem",
            {"TableName": "events", "Key": {"pk": {"S": "a"}}},
            "The provided key element does not match the schema",
        ),
        (
            "GetItem",
            {"TableName": "simple"},
            "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
        ),
        (
            "Query",
            {"TableName": "events"},
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ),
        (
            "Query",
            {
                "TableName": "events",
                "KeyConditionExpression": "sk = :v",
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            },
            "Query condition missed key schema element: pk",
        ),
        (
            "Query",
            {
                "TableName": "events",
                "KeyConditionExpression": "pk > :v",
                "ExpressionAttributeValues": {":v": {"S": "1"}},
            },
            "Query key condition not supported",
        ),
        (
            "Query",
            {
                "TableName": "events",
                "KeyConditionExpression": "pk = :v",
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            },
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            "Query",
            {
                "TableName": "events",
                "KeyConditionExpression": "pk = :v OR sk = :n",
                "ExpressionAttributeValues": {":v": {"S": "1"}, ":n": {"N": "1"}},
            },
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "UpdateItem",
            {
                "TableName": "simple",
                "Key": {"id": {"S": "a"}},
                "UpdateExpression": "SET #a = :v",
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            },
            "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #a",
        ),
        (
            "UpdateItem",
            {
                "TableName": "simple",
                "Key": {"id": {"S": "a"}},
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            },
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null",
        ),
        (
            "Scan",
            {"TableName": "simple", "Limit": 0},
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
    ],
)
def test_read_and_update_validation(
    db: DynamoDB, operation: str, request_: dict[str, Any], message: str
) -> None:
    assert _fails(db, operation, request_) == message


def test_missing_table(db: DynamoDB) -> None:
    for operation, request in (
        ("PutItem", {"TableName": "nope", "Item": {"id": {"S": "a"}}}),
        ("GetItem", {"TableName": "nope", "Key": {"id": {"S": "a"}}}),
        ("Scan", {"TableName": "nope"}),
    ):
        assert _fails(db, operation, request, "ResourceNotFoundException") == "Requested resource not found"


def test_create_table_validation(db: DynamoDB) -> None:
    schema = [{"AttributeName": "a", "KeyType": "HASH"}]
    assert _fails(
        db,
        "CreateTable",
        {
            "TableName": "t1x",
            "KeySchema": schema,
            "AttributeDefinitions": [],
            "BillingMode": "PAY_PER_REQUEST",
        },
    ) == (
        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. "
        "Keys: [a], AttributeDefinitions: []"
    )
    assert _fails(
        db,
        "CreateTable",
        {
            "TableName": "t1x",
            "KeySchema": schema,
            "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
        },
    ) == (
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified "
        "when BillingMode is PROVISIONED"
    )


def test_durable_and_thread_safe(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    one = DynamoDB(path)
    one.call(
        "CreateTable",
        {
            "TableName": "counter",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    bump = {
        "TableName": "counter",
        "Key": {"id": {"S": "c"}},
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }

    def work() -> None:
        for _ in range(50):
            one.call("UpdateItem", bump)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    one.close()
    two = DynamoDB(path)
    assert two.call("GetItem", {"TableName": "counter", "Key": {"id": {"S": "c"}}})["Item"]["n"] == {
        "N": "200"
    }
    two.close()
