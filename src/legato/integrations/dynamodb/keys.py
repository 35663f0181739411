"""KeyConditionExpression: which partition a Query reads, and the sort-key range within it."""

from __future__ import annotations

from dataclasses import dataclass

from legato.integrations.dynamodb.attributes import AttributeValue, encode_key, type_of
from legato.integrations.dynamodb.errors import validation
from legato.integrations.dynamodb.evaluate import Bindings, resolve
from legato.integrations.dynamodb.expressions import (
    And,
    Between,
    Compare,
    CompiledCondition,
    Condition,
    Function,
    In,
    Not,
    Or,
    Path,
    Value,
)

Bound = tuple[bytes, bool]
"""A storage key and whether the bound includes it."""

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """A Query's partition (encoded hash key) and sort-key bounds."""

    hash_key: bytes
    lower: Bound | None = None
    upper: Bound | None = None


def _parts(node: Condition) -> list[Condition]:
    if isinstance(node, And):
        return _parts(node.left) + _parts(node.right)
    if isinstance(node, Or):
        raise validation("Invalid operator used in KeyConditionExpression: OR")
    if isinstance(node, Not):
        raise validation("Invalid operator used in KeyConditionExpression: NOT")
    if isinstance(node, In):
        raise validation("Invalid operator used in KeyConditionExpression: IN")
    return [node]


def _name(node: object, bound: Bindings) -> str | None:
    if isinstance(node, Path):
        parts = resolve(node, bound)
        if len(parts) == 1 and isinstance(parts[0], str):
            return parts[0]
    return None


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def key_condition(
    compiled: CompiledCondition, bound: Bindings, schema: list[tuple[str, str]]
) -> KeyCondition:
    """Checks a KeyConditionExpression against the key schema and returns what the Query reads."""
    hash_name, hash_type = schema[0]
    range_name, range_type = schema[1] if len(schema) > 1 else (None, None)
    conditions: dict[str, tuple[str, list[AttributeValue]]] = {}
    for part in _parts(compiled.condition):
        if isinstance(part, Compare):
            op, left, right = part.op, part.left, part.right
            if isinstance(left, Value) and not isinstance(right, Value):
                op, left, right = _FLIP.get(op, op), right, left
            if op == "<>":
                raise validation("Unsupported operator on KeyConditionExpression: operator: <>")
            name = _name(left, bound)
            if name is None or not isinstance(right, Value):
                raise validation(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
                )
            entry = (op, [bound.values[right.name]])
        elif isinstance(part, Between):
            name = _name(part.operand, bound)
            if name is None or not isinstance(part.low, Value) or not isinstance(part.high, Value):
                raise validation(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
                )
            entry = ("BETWEEN", [bound.values[part.low.name], bound.values[part.high.name]])
        elif isinstance(part, Function) and part.name == "begins_with":
            name = _name(part.args[0], bound)
            prefix = part.args[1]
            if name is None or not isinstance(prefix, Value):
                raise validation(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
                )
            entry = ("begins_with", [bound.values[prefix.name]])
        elif isinstance(part, Function):
            raise validation(f"Invalid operator used in KeyConditionExpression: {part.name}")
        else:
            raise validation("Query key condition not supported")
        if name in conditions:
            raise validation("KeyConditionExpressions must only contain one condition per key")
        conditions[name] = entry
    if hash_name not in conditions:
        raise validation(f"Query condition missed key schema element: {hash_name}")
    for name in conditions:
        if name not in (hash_name, range_name):
            raise validation("Query key condition not supported")
    op, (value,) = conditions[hash_name]
    if op != "=":
        raise validation("Query key condition not supported")
    if type_of(value) != hash_type:
        raise validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type"
        )
    result = KeyCondition(encode_key(value))
    if range_name is None or range_name not in conditions:
        return result
    op, values = conditions[range_name]
    assert range_type is not None
    for v in values:
        if type_of(v) != range_type:
            raise validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type"
            )
    if op == "begins_with" and range_type == "N":
        raise validation(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N"
        )
    keys = [encode_key(v) for v in values]
    if op == "=":
        return KeyCondition(result.hash_key, (keys[0], True), (keys[0], True))
    if op == "<":
        return KeyCondition(result.hash_key, None, (keys[0], False))
    if op == "<=":
        return KeyCondition(result.hash_key, None, (keys[0], True))
    if op == ">":
        return KeyCondition(result.hash_key, (keys[0], False), None)
    if op == ">=":
        return KeyCondition(result.hash_key, (keys[0], True), None)
    if op == "BETWEEN":
        if keys[0] > keys[1]:
            raise validation(
                "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or "
                f"equal to lower bound; lower bound operand: AttributeValue: {{{range_type}:{values[0][range_type]}}}, "
                f"upper bound operand: AttributeValue: {{{range_type}:{values[1][range_type]}}}"
            )
        return KeyCondition(result.hash_key, (keys[0], True), (keys[1], True))
    upper = _successor(keys[0])
    return KeyCondition(result.hash_key, (keys[0], True), None if upper is None else (upper, False))
