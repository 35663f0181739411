"""Runs compiled expressions against items: conditions, updates, projections, key conditions.

Placeholders are bound here, per request: a ``#name`` or ``:value`` the request
does not define is DynamoDB's ValidationException, raised before anything is read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from legato.integrations.dynamodb.attributes import (
    ALL_TYPES,
    CONTEXT,
    SET_TYPES,
    AttributeValue,
    Item,
    binary_bytes,
    equal,
    format_number,
    scalar_key,
    type_of,
)
from legato.integrations.dynamodb.errors import validation
from legato.integrations.dynamodb.expressions import (
    And,
    Arithmetic,
    Between,
    Compare,
    CompiledCondition,
    Condition,
    Function,
    IfNotExists,
    In,
    ListAppend,
    Not,
    Operand,
    Or,
    Path,
    Size,
    Update,
    Value,
    update_paths,
)

Resolved = tuple[str | int, ...]
"""A document path with its ``#name`` placeholders replaced by the names they stand for."""

_LONG_TYPES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "M": "MAP",
    "L": "LIST",
    "SS": "STRING_SET",
    "NS": "NUMBER_SET",
    "BS": "BINARY_SET",
}
_BAD_OPERAND = "An operand in the update expression has an incorrect data type"
_INVALID_PATH = "The document path provided in the update expression is invalid for update"


@dataclass(frozen=True, slots=True)
class Bindings:
    """A request's ExpressionAttributeNames and ExpressionAttributeValues."""

    names: dict[str, str]
    values: dict[str, AttributeValue]


def check_defined(names: frozenset[str], values: frozenset[str], bindings: Bindings, kind: str) -> None:
    """Every placeholder an expression uses must be defined by the request."""
    for name in sorted(names):
        if name not in bindings.names:
            raise validation(
                f"Invalid {kind}: An expression attribute name used in the document path is not defined; "
                f"attribute name: {name}"
            )
    for value in sorted(values):
        if value not in bindings.values:
            raise validation(
                f"Invalid {kind}: An expression attribute value used in expression is not defined; "
                f"attribute value: {value}"
            )


def resolve(path: Path, bindings: Bindings) -> Resolved:
    """The path with its placeholders replaced."""
    return tuple(bindings.names[p] if isinstance(p, str) and p.startswith("#") else p for p in path.parts)


def format_resolved(parts: Resolved) -> str:
    """A path as DynamoDB prints it in messages: ``[a, b, [2]]``."""
    return "[" + ", ".join(f"[{p}]" if isinstance(p, int) else p for p in parts) + "]"


def check_overlaps(paths: list[Resolved], kind: str) -> None:
    """DynamoDB refuses two paths of which one is a prefix of (or equal to) the other."""
    for i, one in enumerate(paths):
        for two in paths[i + 1 :]:
            shorter = min(len(one), len(two))
            if one[:shorter] == two[:shorter]:
                raise validation(
                    f"Invalid {kind}: Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: {format_resolved(one)}, path two: {format_resolved(two)}"
                )


def get_path(item: Item, parts: Resolved) -> AttributeValue | None:
    """The value at a document path, or None when any step is missing or of the wrong type."""
    first = parts[0]
    current = item.get(first) if isinstance(first, str) else None
    for part in parts[1:]:
        if current is None:
            return None
        if isinstance(part, int):
            items = current.get("L")
            current = items[part] if items is not None and part < len(items) else None
        else:
            members = current.get("M")
            current = members.get(part) if members is not None else None
    return current


# ---------------------------------------------------------------------------
# Conditions


def check_condition(compiled: CompiledCondition, bindings: Bindings, kind: str) -> None:
    """Binds a condition's placeholders and checks the types DynamoDB checks before reading."""
    check_defined(compiled.names, compiled.values, bindings, kind)
    _static(compiled.condition, bindings, kind)


def _operand_error(kind: str, function: str, type_name: str) -> Exception:
    return validation(
        f"Invalid {kind}: Incorrect operand type for operator or function; operator or function: {function}, "
        f"operand type: {type_name}"
    )


def _static(node: Condition, bindings: Bindings, kind: str) -> None:
    match node:
        case And(left, right) | Or(left, right):
            _static(left, bindings, kind)
            _static(right, bindings, kind)
        case Not(operand):
            _static(operand, bindings, kind)
        case Function("attribute_type", (_, type_arg)):
            if not isinstance(type_arg, Value):
                raise _operand_error(kind, "attribute_type", "PATH")
            av = bindings.values[type_arg.name]
            if type_of(av) != "S":
                raise _operand_error(kind, "attribute_type", type_of(av))
            if av["S"] not in ALL_TYPES:
                raise validation(
                    f"Invalid {kind}: Invalid attribute type name found; type: {av['S']}, "
                    "valid types: { B, NULL, SS, BOOL, L, BS, N, NS, S, M }"
                )
        case Function("begins_with", (_, prefix)):
            if isinstance(prefix, Value) and type_of(bindings.values[prefix.name]) not in ("S", "B"):
                raise _operand_error(kind, "begins_with", type_of(bindings.values[prefix.name]))
        case Between(_, Value(low), Value(high)):
            lo, hi = bindings.values[low], bindings.values[high]
            if (
                type_of(lo) == type_of(hi)
                and type_of(lo) in ("S", "N", "B")
                and scalar_key(lo) > scalar_key(hi)
            ):
                raise validation(
                    f"Invalid {kind}: The BETWEEN operator requires upper bound to be greater than or equal to "
                    f"lower bound; lower bound operand: AttributeValue: {{{type_of(lo)}:{lo[type_of(lo)]}}}, "
                    f"upper bound operand: AttributeValue: {{{type_of(hi)}:{hi[type_of(hi)]}}}"
                )
        case _:
            pass


def _operand(node: Operand, item: Item, bindings: Bindings) -> AttributeValue | None:
    match node:
        case Value(name):
            return bindings.values[name]
        case Path():
            return get_path(item, resolve(node, bindings))
        case Size(path):
            value = get_path(item, resolve(path, bindings))
            if value is None:
                return None
            kind, inner = next(iter(value.items()))
            if kind == "S":
                return {"N": str(len(inner))}
            if kind == "B":
                return {"N": str(len(binary_bytes(inner)))}
            if kind in ("SS", "NS", "BS", "L", "M"):
                return {"N": str(len(inner))}
            return None
    raise validation("Invalid expression operand")  # pragma: no cover - the parser allows no other


def _ordered(a: AttributeValue, b: AttributeValue) -> tuple[Any, Any] | None:
    ka, kb = type_of(a), type_of(b)
    if ka != kb or ka not in ("S", "N", "B"):
        return None
    return scalar_key(a), scalar_key(b)


def _compare(op: str, a: AttributeValue | None, b: AttributeValue | None) -> bool:
    if op == "<>":
        if a is None or b is None:
            return (a is None) != (b is None)
        return not equal(a, b)
    if a is None or b is None:
        return False
    if op == "=":
        return equal(a, b)
    pair = _ordered(a, b)
    if pair is None:
        return False
    x, y = pair
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


def evaluate(node: Condition, item: Item, bindings: Bindings) -> bool:
    """Whether ``item`` satisfies the condition (an absent item is ``{}``)."""
    match node:
        case And(left, right):
            return evaluate(left, item, bindings) and evaluate(right, item, bindings)
        case Or(left, right):
            return evaluate(left, item, bindings) or evaluate(right, item, bindings)
        case Not(operand):
            return not evaluate(operand, item, bindings)
        case Compare(op, left, right):
            return _compare(op, _operand(left, item, bindings), _operand(right, item, bindings))
        case Between(operand, low, high):
            value = _operand(operand, item, bindings)
            lo = _operand(low, item, bindings)
            hi = _operand(high, item, bindings)
            if value is None or lo is None or hi is None:
                return False
            one, two = _ordered(lo, value), _ordered(value, hi)
            return one is not None and two is not None and one[0] <= one[1] and two[0] <= two[1]
        case In(operand, options):
            value = _operand(operand, item, bindings)
            if value is None:
                return False
            return any(
                (o := _operand(opt, item, bindings)) is not None and equal(value, o) for opt in options
            )
        case Function(name, args):
            return _function(name, args, item, bindings)
    return False  # pragma: no cover


def _function(name: str, args: tuple[Operand, ...], item: Item, bindings: Bindings) -> bool:
    assert isinstance(args[0], Path)
    value = get_path(item, resolve(args[0], bindings))
    if name == "attribute_exists":
        return value is not None
    if name == "attribute_not_exists":
        return value is None
    if value is None:
        return False
    other = _operand(args[1], item, bindings)
    if other is None:
        return False
    kind, inner = next(iter(value.items()))
    okind, oinner = next(iter(other.items()))
    if name == "attribute_type":
        return bool(kind == oinner)
    if name == "begins_with":
        if kind == okind == "S":
            return bool(inner.startswith(oinner))
        if kind == okind == "B":
            return binary_bytes(inner).startswith(binary_bytes(oinner))
        return False
    # contains
    if kind == okind == "S":
        return bool(oinner in inner)
    if kind in SET_TYPES and SET_TYPES[kind] == okind:
        if okind == "N":
            return Decimal(oinner) in {Decimal(v) for v in inner}
        return bool(oinner in inner)
    if kind == "L":
        return any(equal(element, other) for element in inner)
    return False


# ---------------------------------------------------------------------------
# Updates


def check_update(update: Update, bindings: Bindings, key_names: tuple[str, ...]) -> list[Resolved]:
    """Binds an UpdateExpression and checks what DynamoDB checks before reading the item."""
    kind = "UpdateExpression"
    check_defined(update.names, update.values, bindings, kind)
    paths = [resolve(p, bindings) for p in update_paths(update)]
    check_overlaps(paths, kind)
    for parts in paths:
        if parts[0] in key_names:
            raise validation(
                f"One or more parameter values were invalid: Cannot update attribute {parts[0]}. "
                "This attribute is part of the key"
            )
    for action in update.set:
        _static_update(action.value, bindings)
    for operator, actions, allowed in (
        ("ADD", update.add, ("N", "SS", "NS", "BS")),
        ("DELETE", update.delete, ("SS", "NS", "BS")),
    ):
        for _, value in actions:
            kind_of = type_of(bindings.values[value.name])
            if kind_of not in allowed:
                raise validation(
                    f"Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
                    f"{operator}, operand type: {_LONG_TYPES[kind_of]}, typeSet: ALLOWED_FOR_{operator}_OPERAND"
                )
    return paths


def _static_update(node: Operand, bindings: Bindings) -> None:
    match node:
        case Arithmetic(op, left, right):
            for side in (left, right):
                if isinstance(side, Value) and type_of(bindings.values[side.name]) != "N":
                    raise _operand_error(
                        "UpdateExpression", op, _LONG_TYPES[type_of(bindings.values[side.name])]
                    )
                _static_update(side, bindings)
        case ListAppend(first, second):
            for side in (first, second):
                if isinstance(side, Value) and type_of(bindings.values[side.name]) != "L":
                    raise _operand_error(
                        "UpdateExpression", "list_append", _LONG_TYPES[type_of(bindings.values[side.name])]
                    )
                _static_update(side, bindings)
        case IfNotExists(_, default):
            _static_update(default, bindings)
        case _:
            pass


def _update_value(node: Operand, item: Item, bindings: Bindings) -> AttributeValue:
    match node:
        case Value(name):
            return bindings.values[name]
        case Path():
            value = get_path(item, resolve(node, bindings))
            if value is None:
                raise validation(
                    "The provided expression refers to an attribute that does not exist in the item"
                )
            return value
        case IfNotExists(path, default):
            value = get_path(item, resolve(path, bindings))
            return value if value is not None else _update_value(default, item, bindings)
        case ListAppend(first, second):
            a, b = _update_value(first, item, bindings), _update_value(second, item, bindings)
            if type_of(a) != "L" or type_of(b) != "L":
                raise validation(_BAD_OPERAND)
            return {"L": a["L"] + b["L"]}
        case Arithmetic(op, left, right):
            a, b = _update_value(left, item, bindings), _update_value(right, item, bindings)
            if type_of(a) != "N" or type_of(b) != "N":
                raise validation(_BAD_OPERAND)
            x, y = Decimal(a["N"]), Decimal(b["N"])
            result = CONTEXT.add(x, y) if op == "+" else CONTEXT.subtract(x, y)
            return {"N": format_number(result)}
    raise validation(_BAD_OPERAND)  # pragma: no cover


def _parent(item: Item, parts: Resolved) -> AttributeValue | None:
    return get_path(item, parts[:-1]) if len(parts) > 1 else None


def _put(item: Item, parts: Resolved, value: AttributeValue) -> None:
    last = parts[-1]
    if len(parts) == 1:
        assert isinstance(last, str)
        item[last] = value
        return
    parent = _parent(item, parts)
    if isinstance(last, int) and parent is not None and "L" in parent:
        elements = parent["L"]
        if last < len(elements):
            elements[last] = value
        else:
            elements.append(value)
        return
    if isinstance(last, str) and parent is not None and "M" in parent:
        parent["M"][last] = value
        return
    raise validation(_INVALID_PATH)


def _remove(item: Item, parts: Resolved) -> None:
    last = parts[-1]
    if len(parts) == 1:
        item.pop(str(last), None)
        return
    parent = _parent(item, parts)
    if parent is None:
        raise validation(_INVALID_PATH)
    if isinstance(last, int) and "L" in parent:
        if last < len(parent["L"]):
            del parent["L"][last]
    elif isinstance(last, str) and "M" in parent:
        parent["M"].pop(last, None)
    else:
        raise validation(_INVALID_PATH)


def apply_update(update: Update, old: Item, bindings: Bindings, paths: list[Resolved]) -> Item:
    """The item after the update (``old`` is left as it was); all SET values are read from ``old``."""
    item = copy.deepcopy(old)
    count = len(update.set)
    new_values = [_update_value(action.value, old, bindings) for action in update.set]
    for parts, value in zip(paths[:count], new_values, strict=True):
        _put(item, parts, copy.deepcopy(value))
    removals = paths[count : count + len(update.remove)]
    # Indexes of one list are removed from the highest down, so each refers to the original list.
    for parts in sorted(removals, key=lambda p: [(-x if isinstance(x, int) else 0) for x in p]):
        _remove(item, parts)
    offset = count + len(update.remove)
    for parts, (_, value_ref) in zip(paths[offset : offset + len(update.add)], update.add, strict=True):
        _add(item, parts, bindings.values[value_ref.name])
    offset += len(update.add)
    for parts, (_, value_ref) in zip(paths[offset:], update.delete, strict=True):
        _delete(item, parts, bindings.values[value_ref.name])
    return item


def _add(item: Item, parts: Resolved, value: AttributeValue) -> None:
    current = get_path(item, parts)
    if current is None:
        _put(item, parts, copy.deepcopy(value))
        return
    kind = type_of(value)
    if type_of(current) != kind:
        raise validation(_BAD_OPERAND)
    if kind == "N":
        _put(item, parts, {"N": format_number(CONTEXT.add(Decimal(current["N"]), Decimal(value["N"])))})
        return
    merged = list(current[kind])
    for member in value[kind]:
        if member not in merged:
            merged.append(member)
    _put(item, parts, {kind: merged})


def _delete(item: Item, parts: Resolved, value: AttributeValue) -> None:
    current = get_path(item, parts)
    if current is None:
        return
    kind = type_of(value)
    if type_of(current) != kind:
        raise validation(_BAD_OPERAND)
    remaining = [m for m in current[kind] if m not in value[kind]]
    if remaining:
        _put(item, parts, {kind: remaining})
    else:
        _remove(item, parts)


# ---------------------------------------------------------------------------
# Projections


def project(item: Item, paths: list[Resolved]) -> Item:
    """The parts of ``item`` the paths name (list elements keep their order, compacted)."""
    tree: dict[Any, Any] = {}
    for parts in paths:
        value = get_path(item, parts)
        if value is None:
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = ("leaf", value)
    return {name: _built(sub) for name, sub in tree.items()}


def _built(node: Any) -> AttributeValue:
    if isinstance(node, tuple):
        return copy.deepcopy(node[1])
    if all(isinstance(k, int) for k in node):
        return {"L": [_built(node[k]) for k in sorted(node)]}
    return {"M": {k: _built(v) for k, v in node.items()}}
