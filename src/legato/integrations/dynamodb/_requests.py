"""Request checks DynamoDB makes before it touches a table: members, keys, expression placeholders."""

from __future__ import annotations

import re
from typing import Any

from legato.integrations.dynamodb.attributes import (
    AttributeValue,
    Item,
    encode_key,
    type_of,
    validate_item,
    validate_value,
)
from legato.integrations.dynamodb.errors import DynamoDBError, validation
from legato.integrations.dynamodb.evaluate import Bindings

_TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")


class Members:
    """Collects the ``1 validation error detected: ...`` member constraint failures of a request."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def not_null(self, value: Any, member: str) -> None:
        """The member must be present."""
        if value is None:
            self.errors.append(
                f"Value null at '{member}' failed to satisfy constraint: Member must not be null"
            )

    def table_name(self, value: Any, member: str = "tableName") -> None:
        """A table name: 3 to 255 characters of ``[a-zA-Z0-9_.-]``."""
        if value is None:
            self.not_null(value, member)
            return
        if not isinstance(value, str):
            raise DynamoDBError(
                "SerializationException", f"{type(value).__name__} can not be converted to a String"
            )
        if not _TABLE_NAME.match(value):
            self.errors.append(
                f"Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: [a-zA-Z0-9_.-]+"
            )
        if len(value) < 3:
            self.errors.append(
                f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have length greater "
                "than or equal to 3"
            )
        if len(value) > 255:
            self.errors.append(
                f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have length less "
                "than or equal to 255"
            )

    def enum(self, value: Any, member: str, allowed: tuple[str, ...]) -> None:
        """An enum member, when present."""
        if value is not None and value not in allowed:
            self.errors.append(
                f"Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(allowed)}]"
            )

    def minimum(self, value: Any, member: str, low: int) -> None:
        """An integer member with a lower bound, when present."""
        if value is not None and (not isinstance(value, int) or value < low):
            self.errors.append(
                f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater "
                f"than or equal to {low}"
            )

    def check(self) -> None:
        """Raises the collected failures as one ValidationException."""
        if self.errors:
            n = len(self.errors)
            noun = "error" if n == 1 else "errors"
            raise validation(f"{n} validation {noun} detected: " + "; ".join(self.errors))


def key_schema(table: dict[str, Any]) -> list[tuple[str, str]]:
    """[(name, type)] of a table's hash key and, if any, range key."""
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    return [(k["AttributeName"], types[k["AttributeName"]]) for k in table["KeySchema"]]


def _empty_key(name: str, value: AttributeValue) -> None:
    kind = type_of(value)
    if (kind == "S" and value["S"] == "") or (kind == "B" and value["B"] == ""):
        word = "string" if kind == "S" else "binary"
        raise validation(
            f"One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
            f"an empty {word} value. Key: {name}"
        )


def item_keys(table: dict[str, Any], item: Item) -> tuple[bytes, bytes]:
    """The (hash, range) storage keys of an item written by PutItem or BatchWriteItem."""
    encoded: list[bytes] = []
    for name, kind in key_schema(table):
        value = item.get(name)
        if value is None:
            raise validation(f"One or more parameter values were invalid: Missing the key {name} in the item")
        if type_of(value) != kind:
            raise validation(
                f"One or more parameter values were invalid: Type mismatch for key {name} expected: {kind} "
                f"actual: {type_of(value)}"
            )
        _empty_key(name, value)
        encoded.append(encode_key(value))
    return encoded[0], encoded[1] if len(encoded) > 1 else b""


def key_of(table: dict[str, Any], key: Any, prefix: str = "") -> tuple[bytes, bytes, Item]:
    """The storage keys of a ``Key`` parameter; it must name exactly the key attributes."""
    schema = key_schema(table)
    checked = validate_item(key)
    mismatch = validation(f"{prefix}The provided key element does not match the schema")
    if len(checked) != len(schema):
        raise mismatch
    encoded: list[bytes] = []
    for name, kind in schema:
        value = checked.get(name)
        if value is None or type_of(value) != kind:
            raise mismatch
        _empty_key(name, value)
        encoded.append(encode_key(value))
    return encoded[0], encoded[1] if len(encoded) > 1 else b"", checked


def key_attributes(table: dict[str, Any], item: Item) -> Item:
    """The key attributes of an item (for LastEvaluatedKey)."""
    return {name: item[name] for name, _ in key_schema(table)}


def bindings(request: dict[str, Any], expressions: dict[str, Any], what: str) -> Bindings:
    """Checks ExpressionAttributeNames/Values as DynamoDB does before the expressions are parsed.

    ``expressions`` maps each expression parameter the operation accepts to its text (or None);
    ``what`` names them in the "can only be specified when using expressions" message.
    """
    names = request.get("ExpressionAttributeNames")
    values = request.get("ExpressionAttributeValues")
    used = any(v is not None for v in expressions.values())
    if names is not None:
        if not isinstance(names, dict):
            raise DynamoDBError("SerializationException", "Unexpected value for ExpressionAttributeNames")
        if not names:
            raise validation("ExpressionAttributeNames must not be empty")
        if not used:
            raise validation(f"ExpressionAttributeNames can only be specified when using expressions: {what}")
        for name, value in names.items():
            if not name.startswith("#") or len(name) < 2:
                raise validation(
                    f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{name}"'
                )
            if not isinstance(value, str) or value == "":
                raise validation(
                    f"ExpressionAttributeNames contains invalid value: Empty attribute name for key {name}"
                )
    checked_values: dict[str, AttributeValue] = {}
    if values is not None:
        if not isinstance(values, dict):
            raise DynamoDBError("SerializationException", "Unexpected value for ExpressionAttributeValues")
        if not values:
            raise validation("ExpressionAttributeValues must not be empty")
        if not used:
            raise validation(
                f"ExpressionAttributeValues can only be specified when using expressions: {what}"
            )
        for name, value in values.items():
            if not name.startswith(":") or len(name) < 2:
                raise validation(
                    f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{name}"'
                )
            try:
                checked_values[name] = validate_value(value)
            except DynamoDBError as exc:
                if exc.code != "ValidationException":
                    raise
                raise validation(
                    f"ExpressionAttributeValues contains invalid value: {exc.message} for key {name}"
                ) from None
    return Bindings(names or {}, checked_values)


def check_unused(bound: Bindings, names: set[str], values: set[str]) -> None:
    """Every ExpressionAttributeNames/Values entry must be used by some expression of the request."""
    unused_names = [n for n in bound.names if n not in names]
    if unused_names:
        raise validation(
            f"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{', '.join(unused_names)}}}"
        )
    unused_values = [v for v in bound.values if v not in values]
    if unused_values:
        raise validation(
            f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{', '.join(unused_values)}}}"
        )


def no_legacy(request: dict[str, Any], *members: str) -> None:
    """The legacy (pre-expression) parameters are not supported by the embedded provider."""
    for member in members:
        if request.get(member) is not None:
            raise validation(
                f"{member} is a legacy parameter that Legato's embedded DynamoDB does not support; "
                "use the expression parameters instead"
            )
