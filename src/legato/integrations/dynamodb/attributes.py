"""DynamoDB's data model: typed AttributeValues, their validation, size, order and keys.

Values are kept as DynamoDB JSON (``{"S": "text"}``, ``{"N": "12.5"}``, ``{"B": "<base64>"}``,
``{"M": {...}}`` ...), the shape Step Functions passes and returns. Numbers are
canonicalised the way DynamoDB returns them (``"1.50"`` becomes ``"1.5"``).
"""

from __future__ import annotations

import base64
import binascii
import re
from decimal import Context, Decimal
from typing import Any

from legato.integrations.dynamodb.errors import DynamoDBError, validation

AttributeValue = dict[str, Any]
"""One typed value, ``{"S": "x"}``."""
Item = dict[str, AttributeValue]
"""An item: attribute name to typed value."""

SCALAR_TYPES = ("S", "N", "B")
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}
ALL_TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
ITEM_LIMIT = 400 * 1024

_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}
_JSON_KINDS = {str: "STRING_VALUE", bool: "VALUE_TRUE", int: "NUMBER_VALUE", float: "NUMBER_VALUE"}
CONTEXT = Context(prec=60)
"""Decimal context for DynamoDB arithmetic (results are checked against 38 digits)."""


def _serialization(value: Any, target: str) -> DynamoDBError:
    if isinstance(value, dict):
        return DynamoDBError("SerializationException", "Start of structure or map found where not expected.")
    if isinstance(value, list):
        return DynamoDBError("SerializationException", "Start of list found where not expected")
    kind = _JSON_KINDS.get(type(value), "VALUE")
    if kind == "VALUE_TRUE" and value is False:
        kind = "VALUE_FALSE"
    return DynamoDBError("SerializationException", f"{kind} can not be converted to {target}")


def canonical_number(text: Any) -> str:
    """``text`` as DynamoDB stores a Number, or the ValidationException it gives."""
    if not isinstance(text, str):
        raise _serialization(text, "a String")
    if not _NUMBER.match(text):
        raise validation(f"The parameter cannot be converted to a numeric value: {text}")
    return format_number(Decimal(text.strip()))


def format_number(value: Decimal) -> str:
    """A Decimal as DynamoDB prints a Number: no exponent, no trailing zeros, 38 digits at most."""
    if value.is_zero():
        return "0"
    value = value.normalize(CONTEXT)
    digits = value.as_tuple().digits
    if len(digits) > 38:
        raise validation("Attempting to store more than 38 significant digits in a Number")
    if value.adjusted() > 125:
        raise validation(
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        )
    if value.adjusted() < -130:
        raise validation(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
        )
    return format(value, "f")


def _binary(value: Any) -> str:
    if not isinstance(value, str):
        raise _serialization(value, "a Blob")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise DynamoDBError(
            "SerializationException",
            f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(value)}",
        ) from None
    return value


def validate_value(av: Any) -> AttributeValue:
    """Checks a typed value (recursively) and returns it with its numbers canonicalised."""
    if not isinstance(av, dict):
        raise _serialization(av, "an AttributeValue")
    present = [(k, v) for k, v in av.items() if v is not None]
    if not present:
        raise validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(present) > 1:
        raise validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
        )
    kind, value = present[0]
    if kind == "S":
        if not isinstance(value, str):
            raise _serialization(value, "a String")
        return av if len(av) == 1 else {"S": value}
    if kind == "N":
        return {"N": canonical_number(value)}
    if kind == "B":
        return {"B": _binary(value)}
    if kind == "BOOL":
        if not isinstance(value, bool):
            raise _serialization(value, "a Boolean")
        return {"BOOL": value}
    if kind == "NULL":
        if value is not True:
            if not isinstance(value, bool):
                raise _serialization(value, "a Boolean")
            raise validation(
                "One or more parameter values were invalid: Null attribute value types must have the value of true"
            )
        return {"NULL": True}
    if kind in SET_TYPES:
        if not isinstance(value, list):
            raise _serialization(value, "a List")
        if not value:
            raise validation(
                f"One or more parameter values were invalid: An {_SET_NAMES[kind]} set  may not be empty"
            )
        if kind == "SS":
            members = [v if isinstance(v, str) else _raise(_serialization(v, "a String")) for v in value]
        elif kind == "NS":
            members = [canonical_number(v) for v in value]
        else:
            members = [_binary(v) for v in value]
        if len(set(members)) != len(members):
            raise validation(f"Input collection [{', '.join(str(v) for v in value)}] contains duplicates.")
        return {kind: members}
    if kind == "L":
        if not isinstance(value, list):
            raise _serialization(value, "a List")
        return {"L": [validate_value(v) for v in value]}
    if kind == "M":
        if not isinstance(value, dict):
            raise _serialization(value, "a Map")
        return {"M": {k: validate_value(v) for k, v in value.items()}}
    raise DynamoDBError("SerializationException", f"Unexpected field type: {kind}")


def _raise(exc: Exception) -> Any:
    raise exc


def validate_item(item: Any, member: str = "item") -> Item:
    """Checks every attribute of an item (a map of name to typed value)."""
    if not isinstance(item, dict):
        raise _serialization(item, "a Map")
    out: Item = {}
    for name, value in item.items():
        if name == "":
            raise validation(
                "One or more parameter values were invalid: An AttributeValue may not contain an empty string"
            )
        out[name] = validate_value(value)
    return out


def type_of(av: AttributeValue) -> str:
    """The type descriptor of a typed value: ``S``, ``N``, ``M`` ..."""
    return next(iter(av))


def binary_bytes(text: str) -> bytes:
    """The bytes of a base64 ``B`` value."""
    return base64.b64decode(text)


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(av: AttributeValue) -> int:
    """The size DynamoDB counts for a value (UTF-8 strings, packed numbers, 3 bytes per container)."""
    kind, value = next(iter(av.items()))
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return len(binary_bytes(value))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(len(binary_bytes(v)) for v in value)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in value)
    return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in value.items())


def item_size(item: Item) -> int:
    """The size of an item: its names and values, as DynamoDB counts them."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def check_item_size(item: Item) -> None:
    """Raises DynamoDB's ValidationException for an item over 400 KB."""
    if item_size(item) > ITEM_LIMIT:
        raise validation("Item size has exceeded the maximum allowed size")


def scalar_key(av: AttributeValue) -> Any:
    """A Python value ordering S, N and B values the way DynamoDB does (None for other types)."""
    kind, value = next(iter(av.items()))
    if kind == "S":
        return value.encode()
    if kind == "N":
        return Decimal(value)
    if kind == "B":
        return binary_bytes(value)
    return None


def equal(a: AttributeValue, b: AttributeValue) -> bool:
    """DynamoDB equality: same type and value; sets compare as sets, numbers numerically."""
    ka, va = next(iter(a.items()))
    kb, vb = next(iter(b.items()))
    if ka != kb:
        return False
    if ka == "N":
        return bool(Decimal(va) == Decimal(vb))
    if ka == "NS":
        return {Decimal(v) for v in va} == {Decimal(v) for v in vb}
    if ka in ("SS", "BS"):
        return set(va) == set(vb)
    if ka == "L":
        return len(va) == len(vb) and all(equal(x, y) for x, y in zip(va, vb, strict=True))
    if ka == "M":
        return va.keys() == vb.keys() and all(equal(va[k], vb[k]) for k in va)
    return bool(va == vb)


def encode_key(av: AttributeValue) -> bytes:
    """An order-preserving byte string of a key value (S, N or B), for the SQLite index."""
    kind, value = next(iter(av.items()))
    if kind == "S":
        return bytes(value.encode())
    if kind == "B":
        return binary_bytes(value)
    number = Decimal(value)
    if number.is_zero():
        return b"\x01"
    sign, digits, _ = number.normalize(CONTEXT).as_tuple()
    exponent = number.normalize(CONTEXT).adjusted() + 1 + 512
    text = "".join(str(d) for d in digits)
    if not sign:
        return b"\x02" + exponent.to_bytes(2, "big") + text.encode()
    flipped = "".join(chr(ord("9") - int(d) + ord("0")) for d in text)
    return b"\x00" + (0xFFFF - exponent).to_bytes(2, "big") + flipped.encode() + b"~"


def number(av: AttributeValue) -> Decimal:
    """The Decimal of an ``N`` value."""
    return Decimal(av["N"])
