"""The embedded DynamoDB: the API operations over :class:`~legato.integrations.dynamodb.store.TableStore`.

Requests and responses are the DynamoDB JSON API's (``{"TableName": ..., "Item": {"id": {"S": "a"}}}``);
failures raise :class:`~legato.integrations.dynamodb.errors.DynamoDBError` with AWS's code and message.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from legato.integrations.dynamodb import _requests as req
from legato.integrations.dynamodb.attributes import (
    Item,
    check_item_size,
    item_size,
    validate_item,
)
from legato.integrations.dynamodb.errors import DynamoDBError, condition_failed, not_found, validation
from legato.integrations.dynamodb.evaluate import (
    Bindings,
    Resolved,
    apply_update,
    check_condition,
    check_defined,
    check_overlaps,
    check_update,
    evaluate,
    project,
    resolve,
)
from legato.integrations.dynamodb.expressions import compile_condition, compile_projection, compile_update
from legato.integrations.dynamodb.keys import KeyCondition, key_condition
from legato.integrations.dynamodb.store import TableStore

PAGE_LIMIT = 1024 * 1024
"""A Query or Scan page stops after this many bytes of items, as on AWS."""
_RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
_SELECT = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT")


class _Projector:
    """A request's ProjectionExpression, bound to its names."""

    def __init__(self, text: str | None, bound: Bindings, used: set[str]) -> None:
        self.paths: list[Resolved] | None = None
        if text is not None:
            compiled = compile_projection(text)
            check_defined(compiled.names, frozenset(), bound, "ProjectionExpression")
            self.paths = [resolve(p, bound) for p in compiled.paths]
            check_overlaps(self.paths, "ProjectionExpression")
            used.update(compiled.names)

    def __call__(self, item: Item) -> Item:
        return item if self.paths is None else project(item, self.paths)


class DynamoDB:
    """The embedded DynamoDB provider: tables in one SQLite file, DynamoDB's operations and errors."""

    def __init__(
        self,
        path: str | Path,
        *,
        region: str = "us-east-1",
        account: str = "123456789012",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = TableStore(path)
        self.region = region
        self.account = account
        self._now = now

    def close(self) -> None:
        """Closes the database."""
        self.store.close()

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Runs an operation by its API name (``PutItem``) on a request; returns the response."""
        handler = _OPERATIONS.get(operation)
        if handler is None:
            raise DynamoDBError("UnknownOperationException", f"Unknown operation: {operation}")
        if not isinstance(request, dict):
            raise DynamoDBError("SerializationException", "Start of structure or map expected")
        return handler(self, request)

    # -- tables -------------------------------------------------------------
    def _table(self, name: Any) -> dict[str, Any]:
        table = self.store.describe(name)
        if table is None:
            raise not_found()
        return table

    def create_table(self, request: dict[str, Any]) -> dict[str, Any]:
        """CreateTable: KeySchema and AttributeDefinitions; the table is ACTIVE at once."""
        m = req.Members()
        name = request.get("TableName")
        m.table_name(name)
        schema = request.get("KeySchema")
        definitions = request.get("AttributeDefinitions")
        m.not_null(schema, "keySchema")
        m.not_null(definitions, "attributeDefinitions")
        for i, d in enumerate(definitions or [], 1):
            m.enum(d.get("AttributeType"), f"attributeDefinitions.{i}.member.attributeType", ("B", "N", "S"))
        for i, k in enumerate(schema or [], 1):
            m.enum(k.get("KeyType"), f"keySchema.{i}.member.keyType", ("HASH", "RANGE"))
        m.enum(request.get("BillingMode"), "billingMode", ("PROVISIONED", "PAY_PER_REQUEST"))
        m.check()
        assert isinstance(name, str) and schema is not None and definitions is not None
        if not 1 <= len(schema) <= 2:
            raise validation(
                "1 validation error detected: Value at 'keySchema' failed to satisfy constraint: "
                "Member must have length less than or equal to 2"
            )
        if schema[0].get("KeyType") != "HASH":
            raise validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
        if len(schema) == 2:
            if schema[1].get("KeyType") != "RANGE":
                raise validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
            if schema[0].get("AttributeName") == schema[1].get("AttributeName"):
                raise validation(
                    "Both the Hash Key and the Range Key element in the KeySchema have the same name"
                )
        defined = [d.get("AttributeName") for d in definitions]
        keys = [k.get("AttributeName") for k in schema]
        if request.get("GlobalSecondaryIndexes") or request.get("LocalSecondaryIndexes"):
            raise validation("Legato's embedded DynamoDB does not support secondary indexes")
        missing = [k for k in keys if k not in defined]
        if missing:
            raise validation(
                "One or more parameter values were invalid: Some index key attributes are not defined in "
                f"AttributeDefinitions. Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(defined)}]"
            )
        if len(defined) != len(keys):
            raise validation(
                "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly "
                "match number of attributes defined in AttributeDefinitions"
            )
        billing = request.get("BillingMode") or "PROVISIONED"
        throughput = request.get("ProvisionedThroughput")
        if billing == "PROVISIONED" and not throughput:
            raise validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
                "must both be specified when BillingMode is PROVISIONED"
            )
        if billing == "PAY_PER_REQUEST" and throughput:
            raise validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
            )
        description: dict[str, Any] = {
            "AttributeDefinitions": [
                {"AttributeName": d["AttributeName"], "AttributeType": d["AttributeType"]}
                for d in definitions
            ],
            "TableName": name,
            "KeySchema": [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in schema],
            "TableStatus": "ACTIVE",
            "CreationDateTime": self._now(),
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": (throughput or {}).get("ReadCapacityUnits", 0),
                "WriteCapacityUnits": (throughput or {}).get("WriteCapacityUnits", 0),
            },
            "TableArn": f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}",
            "TableId": str(uuid.uuid4()),
            "DeletionProtectionEnabled": bool(request.get("DeletionProtectionEnabled", False)),
        }
        if billing == "PAY_PER_REQUEST":
            description["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST"}
        if not self.store.create(name, description):
            raise DynamoDBError("ResourceInUseException", f"Table already exists: {name}")
        return {"TableDescription": {**description, "TableSizeBytes": 0, "ItemCount": 0}}

    def _described(self, name: str) -> dict[str, Any]:
        table = self.store.describe(name)
        if table is None:
            raise not_found(f"Requested resource not found: Table: {name} not found")
        count, size = self.store.stats(name)
        return {**table, "ItemCount": count, "TableSizeBytes": size}

    def describe_table(self, request: dict[str, Any]) -> dict[str, Any]:
        """DescribeTable, with the current ItemCount and TableSizeBytes."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.check()
        return {"Table": self._described(request["TableName"])}

    def delete_table(self, request: dict[str, Any]) -> dict[str, Any]:
        """DeleteTable: the table and its items are gone at once."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.check()
        description = self._described(request["TableName"])
        if description.get("DeletionProtectionEnabled"):
            raise validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion "
                "protection first."
            )
        self.store.drop(request["TableName"])
        return {"TableDescription": {**description, "TableStatus": "DELETING"}}

    def list_tables(self, request: dict[str, Any]) -> dict[str, Any]:
        """ListTables, paginated by ExclusiveStartTableName and Limit (at most 100)."""
        m = req.Members()
        limit = request.get("Limit")
        m.minimum(limit, "limit", 1)
        m.check()
        names = self.store.names()
        start = request.get("ExclusiveStartTableName")
        if start is not None:
            names = [n for n in names if n > start]
        page = min(int(limit or 100), 100)
        out: dict[str, Any] = {"TableNames": names[:page]}
        if len(names) > page:
            out["LastEvaluatedTableName"] = names[page - 1]
        return out

    # -- single items -------------------------------------------------------
    def _condition(
        self, request: dict[str, Any], bound: Bindings, used_names: set[str], used_values: set[str]
    ) -> Any:
        text = request.get("ConditionExpression")
        if text is None:
            return None
        compiled = compile_condition(text, "ConditionExpression")
        check_condition(compiled, bound, "ConditionExpression")
        used_names.update(compiled.names)
        used_values.update(compiled.values)
        return compiled.condition

    def put_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """PutItem, with ConditionExpression and ReturnValues NONE or ALL_OLD."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.not_null(request.get("Item"), "item")
        m.enum(request.get("ReturnValues"), "returnValues", _RETURN_VALUES)
        m.check()
        req.no_legacy(request, "Expected", "ConditionalOperator")
        returns = request.get("ReturnValues") or "NONE"
        if returns not in ("NONE", "ALL_OLD"):
            raise validation("ReturnValues can only be ALL_OLD or NONE")
        bound = req.bindings(
            request, {"c": request.get("ConditionExpression")}, "ConditionExpression is null"
        )
        names: set[str] = set()
        values: set[str] = set()
        condition = self._condition(request, bound, names, values)
        req.check_unused(bound, names, values)
        item = validate_item(request["Item"])
        table = self._table(request["TableName"])
        hk, rk = req.item_keys(table, item)
        size = item_size(item)
        check_item_size(item)
        with self.store.transaction():
            old = self.store.get(table["TableName"], hk, rk)
            if condition is not None and not evaluate(condition, old or {}, bound):
                raise condition_failed()
            self.store.put(table["TableName"], hk, rk, item, size)
        return {"Attributes": old} if returns == "ALL_OLD" and old else {}

    def get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """GetItem, with ProjectionExpression; ConsistentRead is accepted (reads are always consistent)."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.not_null(request.get("Key"), "key")
        m.check()
        req.no_legacy(request, "AttributesToGet")
        if request.get("ExpressionAttributeValues") is not None:
            raise validation("ExpressionAttributeValues can only be specified when using expressions")
        bound = req.bindings(
            request, {"p": request.get("ProjectionExpression")}, "ProjectionExpression is null"
        )
        names: set[str] = set()
        projector = _Projector(request.get("ProjectionExpression"), bound, names)
        req.check_unused(bound, names, set())
        table = self._table(request["TableName"])
        hk, rk, _ = req.key_of(table, request["Key"])
        item = self.store.get(table["TableName"], hk, rk)
        return {} if item is None else {"Item": projector(item)}

    def delete_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """DeleteItem, with ConditionExpression and ReturnValues NONE or ALL_OLD."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.not_null(request.get("Key"), "key")
        m.enum(request.get("ReturnValues"), "returnValues", _RETURN_VALUES)
        m.check()
        req.no_legacy(request, "Expected", "ConditionalOperator")
        returns = request.get("ReturnValues") or "NONE"
        if returns not in ("NONE", "ALL_OLD"):
            raise validation("ReturnValues can only be ALL_OLD or NONE")
        bound = req.bindings(
            request, {"c": request.get("ConditionExpression")}, "ConditionExpression is null"
        )
        names: set[str] = set()
        values: set[str] = set()
        condition = self._condition(request, bound, names, values)
        req.check_unused(bound, names, values)
        table = self._table(request["TableName"])
        hk, rk, _ = req.key_of(table, request["Key"])
        with self.store.transaction():
            old = self.store.get(table["TableName"], hk, rk)
            if condition is not None and not evaluate(condition, old or {}, bound):
                raise condition_failed()
            if old is not None:
                self.store.delete(table["TableName"], hk, rk)
        return {"Attributes": old} if returns == "ALL_OLD" and old else {}

    def update_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """UpdateItem: UpdateExpression (SET, REMOVE, ADD, DELETE), ConditionExpression, all ReturnValues."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.not_null(request.get("Key"), "key")
        m.enum(request.get("ReturnValues"), "returnValues", _RETURN_VALUES)
        m.check()
        req.no_legacy(request, "AttributeUpdates", "Expected", "ConditionalOperator")
        returns = request.get("ReturnValues") or "NONE"
        bound = req.bindings(
            request,
            {"u": request.get("UpdateExpression"), "c": request.get("ConditionExpression")},
            "UpdateExpression and ConditionExpression are null",
        )
        names: set[str] = set()
        values: set[str] = set()
        update = None
        text = request.get("UpdateExpression")
        if text is not None:
            update = compile_update(text)
            names.update(update.names)
            values.update(update.values)
        condition = self._condition(request, bound, names, values)
        req.check_unused(bound, names, values)
        table = self._table(request["TableName"])
        hk, rk, key = req.key_of(table, request["Key"])
        key_names = tuple(name for name, _ in req.key_schema(table))
        paths = check_update(update, bound, key_names) if update is not None else []
        with self.store.transaction():
            old = self.store.get(table["TableName"], hk, rk)
            if condition is not None and not evaluate(condition, old or {}, bound):
                raise condition_failed()
            base = old if old is not None else dict(key)
            new = apply_update(update, base, bound, paths) if update is not None else base
            check_item_size(new)
            self.store.put(table["TableName"], hk, rk, new, item_size(new))
        if returns == "ALL_OLD":
            return {"Attributes": old} if old else {}
        if returns == "ALL_NEW":
            return {"Attributes": new}
        if returns in ("UPDATED_OLD", "UPDATED_NEW"):
            source = (old or {}) if returns == "UPDATED_OLD" else new
            changed = project(source, paths)
            return {"Attributes": changed} if changed else {}
        return {}

    # -- many items ---------------------------------------------------------
    def _read_request(
        self, request: dict[str, Any], key_text: str | None
    ) -> tuple[Bindings, Any, _Projector]:
        """Binds a Query or Scan's expressions; returns the bindings, filter and projector."""
        bound = req.bindings(
            request,
            {
                "k": key_text,
                "f": request.get("FilterExpression"),
                "p": request.get("ProjectionExpression"),
            },
            "KeyConditionExpression, FilterExpression and ProjectionExpression are null",
        )
        names: set[str] = set()
        values: set[str] = set()
        if key_text is not None:
            compiled_key = compile_condition(key_text, "KeyConditionExpression")
            check_defined(compiled_key.names, compiled_key.values, bound, "KeyConditionExpression")
            names.update(compiled_key.names)
            values.update(compiled_key.values)
        filter_condition = None
        filter_text = request.get("FilterExpression")
        if filter_text is not None:
            compiled = compile_condition(filter_text, "FilterExpression")
            check_condition(compiled, bound, "FilterExpression")
            names.update(compiled.names)
            values.update(compiled.values)
            filter_condition = compiled
        projector = _Projector(request.get("ProjectionExpression"), bound, names)
        req.check_unused(bound, names, values)
        return bound, filter_condition, projector

    def _page(
        self,
        rows: Any,
        request: dict[str, Any],
        table: dict[str, Any],
        bound: Bindings,
        filter_condition: Any,
        projector: _Projector,
    ) -> dict[str, Any]:
        limit = request.get("Limit")
        select = request.get("Select") or (
            "SPECIFIC_ATTRIBUTES" if projector.paths is not None else "ALL_ATTRIBUTES"
        )
        if select == "SPECIFIC_ATTRIBUTES" and projector.paths is None:
            raise validation(
                "1 validation error detected: SPECIFIC_ATTRIBUTES requires AttributesToGet or "
                "ProjectionExpression"
            )
        if select != "SPECIFIC_ATTRIBUTES" and projector.paths is not None:
            raise validation(f"Cannot specify the ProjectionExpression when choosing to get {select}")
        items: list[Item] = []
        scanned = 0
        size = 0
        last: Item | None = None
        more = False
        for item in rows:
            if (limit is not None and scanned >= limit) or size >= PAGE_LIMIT:
                more = True
                break
            scanned += 1
            size += item_size(item)
            last = item
            if filter_condition is None or evaluate(filter_condition.condition, item, bound):
                items.append(projector(item))
        if limit is not None and scanned >= limit:
            more = True
        out: dict[str, Any] = {"Count": len(items), "ScannedCount": scanned}
        if select != "COUNT":
            out = {"Items": items, **out}
        if more and last is not None:
            out["LastEvaluatedKey"] = req.key_attributes(table, last)
        return out

    def query(self, request: dict[str, Any]) -> dict[str, Any]:
        """Query a partition: KeyConditionExpression, FilterExpression, pagination, ScanIndexForward."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.minimum(request.get("Limit"), "limit", 1)
        m.enum(request.get("Select"), "select", _SELECT)
        m.check()
        req.no_legacy(request, "KeyConditions", "QueryFilter", "AttributesToGet", "ConditionalOperator")
        key_text = request.get("KeyConditionExpression")
        if key_text is None:
            raise validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."
            )
        bound, filter_condition, projector = self._read_request(request, key_text)
        table = self._table(request["TableName"])
        if request.get("IndexName") is not None:
            raise validation(f"The table does not have the specified index: {request['IndexName']}")
        schema = req.key_schema(table)
        condition: KeyCondition = key_condition(
            compile_condition(key_text, "KeyConditionExpression"), bound, schema
        )
        if filter_condition is not None:
            for parts in _top_names(filter_condition.condition, bound):
                if parts in dict(schema):
                    raise validation(
                        f"Filter Expression can only contain non-primary key attributes: Primary key attribute: {parts}"
                    )
        forward = request.get("ScanIndexForward", True) is not False
        lower, upper = condition.lower, condition.upper
        start = request.get("ExclusiveStartKey")
        if start is not None:
            s_hk, s_rk, _ = req.key_of(table, start, "The provided starting key is invalid: ")
            if s_hk != condition.hash_key:
                raise validation(
                    "The provided starting key is invalid: Query condition missed key schema element"
                )
            if forward and (lower is None or s_rk >= lower[0]):
                lower = (s_rk, False)
            elif not forward and (upper is None or s_rk <= upper[0]):
                upper = (s_rk, False)
        rows = (
            item
            for _, item in self.store.partition(
                table["TableName"], condition.hash_key, lower=lower, upper=upper, forward=forward
            )
        )
        return self._page(rows, request, table, bound, filter_condition, projector)

    def scan(self, request: dict[str, Any]) -> dict[str, Any]:
        """Scan a table in key order, with FilterExpression, pagination and parallel segments."""
        m = req.Members()
        m.table_name(request.get("TableName"))
        m.minimum(request.get("Limit"), "limit", 1)
        m.enum(request.get("Select"), "select", _SELECT)
        m.check()
        req.no_legacy(request, "ScanFilter", "AttributesToGet", "ConditionalOperator")
        bound, filter_condition, projector = self._read_request(request, None)
        table = self._table(request["TableName"])
        if request.get("IndexName") is not None:
            raise validation(f"The table does not have the specified index: {request['IndexName']}")
        segment, total = request.get("Segment"), request.get("TotalSegments")
        if (segment is None) != (total is None):
            missing = "Segment" if segment is None else "TotalSegments"
            present = "TotalSegments" if segment is None else "Segment"
            raise validation(
                f"The {missing} parameter is required but was not present in the request when "
                f"parameter {present} is present"
            )
        if total is not None and segment is not None and not 0 <= segment < total:
            raise validation(
                f"The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                f"Segment: {segment} is not less than TotalSegments: {total}"
            )
        after = None
        start = request.get("ExclusiveStartKey")
        if start is not None:
            s_hk, s_rk, _ = req.key_of(table, start, "The provided starting key is invalid: ")
            after = (s_hk, s_rk)
        rows = (
            item
            for hk, _, item in self.store.scan(table["TableName"], after)
            if total is None or zlib.crc32(hk) % total == segment
        )
        return self._page(rows, request, table, bound, filter_condition, projector)

    def batch_get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """BatchGetItem: up to 100 keys across tables; every key is processed."""
        items = request.get("RequestItems")
        m = req.Members()
        m.not_null(items, "requestItems")
        m.check()
        assert isinstance(items, dict)
        total = sum(len(spec.get("Keys") or []) for spec in items.values())
        if total > 100:
            raise validation("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[Item]] = {}
        for name, spec in items.items():
            m = req.Members()
            m.table_name(name, "requestItems.key")
            m.check()
            req.no_legacy(spec, "AttributesToGet")
            bound = req.bindings(
                spec, {"p": spec.get("ProjectionExpression")}, "ProjectionExpression is null"
            )
            names: set[str] = set()
            projector = _Projector(spec.get("ProjectionExpression"), bound, names)
            req.check_unused(bound, names, set())
            table = self._table(name)
            seen: set[tuple[bytes, bytes]] = set()
            found: list[Item] = []
            for key in spec.get("Keys") or []:
                hk, rk, _ = req.key_of(table, key)
                if (hk, rk) in seen:
                    raise validation("Provided list of item keys contains duplicates")
                seen.add((hk, rk))
                item = self.store.get(name, hk, rk)
                if item is not None:
                    found.append(projector(item))
            responses[name] = found
        return {"Responses": responses, "UnprocessedKeys": {}}

    def batch_write_item(self, request: dict[str, Any]) -> dict[str, Any]:
        """BatchWriteItem: up to 25 puts and deletes across tables, written together."""
        items = request.get("RequestItems")
        m = req.Members()
        m.not_null(items, "requestItems")
        m.check()
        assert isinstance(items, dict)
        if sum(len(v or []) for v in items.values()) > 25:
            raise validation("Too many items requested for the BatchWriteItem call")
        writes: list[tuple[str, bytes, bytes, Item | None]] = []
        for name, requests in items.items():
            m = req.Members()
            m.table_name(name, "requestItems.key")
            m.check()
            table = self._table(name)
            seen: set[tuple[bytes, bytes]] = set()
            for entry in requests or []:
                put, delete = entry.get("PutRequest"), entry.get("DeleteRequest")
                if (put is None) == (delete is None):
                    raise validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly "
                        "one of the supported datatypes"
                    )
                if put is not None:
                    item = validate_item(put.get("Item"))
                    hk, rk = req.item_keys(table, item)
                    check_item_size(item)
                    value: Item | None = item
                else:
                    hk, rk, _ = req.key_of(table, delete.get("Key"))
                    value = None
                if (hk, rk) in seen:
                    raise validation("Provided list of item keys contains duplicates")
                seen.add((hk, rk))
                writes.append((name, hk, rk, value))
        with self.store.transaction():
            for name, hk, rk, value in writes:
                if value is None:
                    self.store.delete(name, hk, rk)
                else:
                    self.store.put(name, hk, rk, value, item_size(value))
        return {"UnprocessedItems": {}}


def _top_names(node: Any, bound: Bindings) -> list[str]:
    """The top-level attribute names a condition reads."""
    from legato.integrations.dynamodb.expressions import Path

    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Path):
            first = resolve(value, bound)[0]
            if isinstance(first, str):
                found.append(first)
        elif isinstance(value, tuple):
            for v in value:
                walk(v)
        elif hasattr(value, "__slots__"):
            for slot in value.__slots__:
                walk(getattr(value, slot))

    walk(node)
    return found


_OPERATIONS: dict[str, Callable[[DynamoDB, dict[str, Any]], dict[str, Any]]] = {
    "CreateTable": DynamoDB.create_table,
    "DescribeTable": DynamoDB.describe_table,
    "DeleteTable": DynamoDB.delete_table,
    "ListTables": DynamoDB.list_tables,
    "PutItem": DynamoDB.put_item,
    "GetItem": DynamoDB.get_item,
    "UpdateItem": DynamoDB.update_item,
    "DeleteItem": DynamoDB.delete_item,
    "Query": DynamoDB.query,
    "Scan": DynamoDB.scan,
    "BatchGetItem": DynamoDB.batch_get_item,
    "BatchWriteItem": DynamoDB.batch_write_item,
}
OPERATIONS = tuple(_OPERATIONS)
"""The operations the embedded provider implements, by API name."""
