"""The DynamoDB expression language: parsing, errors, and evaluation against items."""

from __future__ import annotations

import pytest

from legato.integrations.dynamodb.errors import DynamoDBError
from legato.integrations.dynamodb.evaluate import (
    Bindings,
    apply_update,
    check_condition,
    check_update,
    evaluate,
    project,
    resolve,
)
from legato.integrations.dynamodb.expressions import (
    And,
    Between,
    Compare,
    Function,
    In,
    Not,
    Or,
    Path,
    Size,
    Value,
    compile_condition,
    compile_projection,
    compile_update,
)

ITEM = {
    "id": {"S": "a"},
    "n": {"N": "5"},
    "s": {"S": "hello"},
    "b": {"B": "aGVsbG8="},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2.5"]},
    "l": {"L": [{"S": "p"}, {"N": "1"}]},
    "m": {"M": {"k": {"S": "v"}, "deep": {"M": {"z": {"N": "0"}}}}},
    "t": {"BOOL": True},
    "nul": {"NULL": True},
}


def _error(fn: object, *args: object) -> str:
    with pytest.raises(DynamoDBError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.code == "ValidationException"
    return info.value.message


def _cond(text: str, names: dict[str, str] | None = None, **values: dict[str, object]) -> bool:
    compiled = compile_condition(text)
    bound = Bindings(names or {}, {f":{k}": v for k, v in values.items()})
    check_condition(compiled, bound, "ConditionExpression")
    return evaluate(compiled.condition, ITEM, bound)


# -- parsing


def test_precedence_or_and_not() -> None:
    tree = compile_condition("a = :x OR NOT b = :y AND c = :z").condition
    assert isinstance(tree, Or)
    assert isinstance(tree.right, And)
    assert isinstance(tree.right.left, Not)


def test_parentheses_override_precedence() -> None:
    tree = compile_condition("(a = :x OR b = :y) AND c = :z").condition
    assert isinstance(tree, And)
    assert isinstance(tree.left, Or)


def test_paths_with_members_indexes_and_placeholders() -> None:
    tree = compile_condition("a.b[2].#c[0] = :v").condition
    assert tree == Compare("=", Path(("a", "b", 2, "#c", 0)), Value(":v"))


def test_functions_between_in_and_size() -> None:
    assert compile_condition("size(a) > :n").condition == Compare(">", Size(Path(("a",))), Value(":n"))
    assert compile_condition("a BETWEEN :lo AND :hi").condition == Between(
        Path(("a",)), Value(":lo"), Value(":hi")
    )
    assert compile_condition("a IN (:x, :y)").condition == In(Path(("a",)), (Value(":x"), Value(":y")))
    assert compile_condition("begins_with(a, :p)").condition == Function(
        "begins_with", (Path(("a",)), Value(":p"))
    )


def test_keywords_are_case_insensitive() -> None:
    assert isinstance(compile_condition("a = :x and b = :y").condition, And)
    assert compile_update("set a = :v remove b").remove == (Path(("b",)),)


def test_compiled_once_per_text() -> None:
    assert compile_condition("q = :x") is compile_condition("q = :x")


def test_names_and_values_used() -> None:
    compiled = compile_condition("#a = :x AND attribute_exists(#b.c)")
    assert compiled.names == {"#a", "#b"}
    assert compiled.values == {":x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = ", 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "= "'),
        ("a :x", 'Invalid ConditionExpression: Syntax error; token: ":x", near: "a :x"'),
        ("a = :x b", 'Invalid ConditionExpression: Syntax error; token: "b", near: ":x b"'),
        ("a $ b", 'Invalid ConditionExpression: Syntax error; token: "$", near: "a $ b"'),
        ("   ", "Invalid ConditionExpression: The expression can not be empty;"),
        (
            "data = :x",
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: data",
        ),
        (
            "Status = :x",
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Status",
        ),
        ("foo(a)", "Invalid ConditionExpression: Invalid function name; function: foo"),
        (
            "attribute_exists(a, b)",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
            "operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "attribute_exists(:v)",
            "Invalid ConditionExpression: Operator or function requires a document path; "
            "operator or function: attribute_exists",
        ),
        (
            "if_not_exists(a, :v) = :v",
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; "
            "function: if_not_exists",
        ),
    ],
)
def test_condition_errors(text: str, message: str) -> None:
    assert _error(compile_condition, text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "SET a = :v SET b = :v",
            'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;',
        ),
        (
            "SET a = size(b)",
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: size",
        ),
        ("SET a = :v,", 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ","'),
        ("UPSERT a = :v", 'Invalid UpdateExpression: Syntax error; token: "UPSERT", near: "UPSERT a"'),
        ("ADD a b", 'Invalid UpdateExpression: Syntax error; token: "b", near: "a b"'),
        (
            "SET name = :v",
            "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name",
        ),
        (
            "SET a = if_not_exists(:v, :w)",
            "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists",
        ),
    ],
)
def test_update_errors(text: str, message: str) -> None:
    assert _error(compile_update, text) == message


# -- conditions


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("n = :v", {"v": {"N": "5.0"}}, True),
        ("n <> :v", {"v": {"N": "5"}}, False),
        ("n < :v", {"v": {"N": "10"}}, True),
        ("n >= :v", {"v": {"N": "5"}}, True),
        ("s > :v", {"v": {"S": "hellO"}}, True),
        ("n = :v", {"v": {"S": "5"}}, False),
        ("n < :v", {"v": {"S": "9"}}, False),
        ("nothere = :v", {"v": {"S": "x"}}, False),
        ("nothere <> :v", {"v": {"S": "x"}}, True),
        ("n BETWEEN :a AND :b", {"a": {"N": "1"}, "b": {"N": "5"}}, True),
        ("n BETWEEN :a AND :b", {"a": {"N": "6"}, "b": {"N": "9"}}, False),
        ("s IN (:a, :b)", {"a": {"S": "x"}, "b": {"S": "hello"}}, True),
        ("s IN (:a)", {"a": {"S": "x"}}, False),
        ("begins_with(s, :p)", {"p": {"S": "he"}}, True),
        ("begins_with(b, :p)", {"p": {"B": "aGU="}}, True),
        ("contains(s, :p)", {"p": {"S": "ell"}}, True),
        ("contains(ss, :p)", {"p": {"S": "y"}}, True),
        ("contains(ns, :p)", {"p": {"N": "2.50"}}, True),
        ("contains(l, :p)", {"p": {"N": "1"}}, True),
        ("contains(l, :p)", {"p": {"S": "q"}}, False),
        ("size(s) = :v", {"v": {"N": "5"}}, True),
        ("size(ss) = :v", {"v": {"N": "2"}}, True),
        ("size(m) = :v", {"v": {"N": "2"}}, True),
        ("size(b) = :v", {"v": {"N": "5"}}, True),
        ("attribute_type(ss, :t)", {"t": {"S": "SS"}}, True),
        ("attribute_type(n, :t)", {"t": {"S": "S"}}, False),
        ("m.deep.z = :v", {"v": {"N": "0"}}, True),
        ("l[0] = :v", {"v": {"S": "p"}}, True),
        ("l[5] = :v", {"v": {"S": "p"}}, False),
        ("t = :v", {"v": {"BOOL": True}}, True),
        ("nul = :v", {"v": {"NULL": True}}, True),
        ("NOT (n = :v OR s = :v)", {"v": {"N": "1"}}, True),
        ("ss = :v", {"v": {"SS": ["y", "x"]}}, True),
    ],
)
def test_condition_evaluation(text: str, values: dict[str, dict[str, object]], expected: bool) -> None:
    assert _cond(text, **values) is expected


def test_exists_functions_and_names() -> None:
    assert _cond("attribute_exists(#d)", {"#d": "m"})
    assert _cond("attribute_not_exists(#d.nope)", {"#d": "m"})
    assert not _cond("attribute_exists(nope)")


@pytest.mark.parametrize(
    ("text", "names", "values", "message"),
    [
        (
            "#x = :v",
            {},
            {":v": {"S": "a"}},
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
            "attribute name: #x",
        ),
        (
            "a = :w",
            {},
            {":v": {"S": "a"}},
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
            "attribute value: :w",
        ),
        (
            "attribute_type(a, :t)",
            {},
            {":t": {"S": "STRING"}},
            "Invalid ConditionExpression: Invalid attribute type name found; type: STRING, "
            "valid types: { B, NULL, SS, BOOL, L, BS, N, NS, S, M }",
        ),
        (
            "begins_with(a, :n)",
            {},
            {":n": {"N": "1"}},
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N",
        ),
        (
            "a BETWEEN :hi AND :lo",
            {},
            {":hi": {"N": "5"}, ":lo": {"N": "1"}},
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal "
            "to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}",
        ),
    ],
)
def test_condition_binding_errors(
    text: str, names: dict[str, str], values: dict[str, dict[str, object]], message: str
) -> None:
    bound = Bindings(names, values)
    assert _error(check_condition, compile_condition(text), bound, "ConditionExpression") == message


# -- updates


def _update(
    text: str, item: dict[str, object], names: dict[str, str] | None = None, **values: object
) -> dict[str, object]:
    update = compile_update(text)
    bound = Bindings(names or {}, {f":{k}": v for k, v in values.items()})  # type: ignore[misc]
    paths = check_update(update, bound, ("id",))
    return apply_update(update, item, bound, paths)  # type: ignore[arg-type]


def test_set_arithmetic_reads_the_old_item() -> None:
    item = {"id": {"S": "a"}, "x": {"N": "1"}, "y": {"N": "10"}}
    out = _update("SET x = y + :one, y = x - :one", item, one={"N": "1"})
    assert out == {"id": {"S": "a"}, "x": {"N": "11"}, "y": {"N": "0"}}
    assert item["x"] == {"N": "1"}  # the old item is untouched


def test_set_if_not_exists_and_list_append() -> None:
    item = {"id": {"S": "a"}}
    out = _update(
        "SET c = if_not_exists(c, :zero), l = list_append(if_not_exists(l, :e), :x)",
        item,
        zero={"N": "0"},
        e={"L": []},
        x={"L": [{"S": "q"}]},
    )
    assert out == {"id": {"S": "a"}, "c": {"N": "0"}, "l": {"L": [{"S": "q"}]}}
    out = _update("SET l = list_append(:x, l)", out, x={"L": [{"S": "first"}]})
    assert out["l"] == {"L": [{"S": "first"}, {"S": "q"}]}


def test_nested_set_remove_and_list_indexes() -> None:
    item = {"id": {"S": "a"}, "m": {"M": {"k": {"S": "v"}}}, "l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]}}
    out = _update("SET m.fresh = :v, l[1] = :v, l[9] = :v REMOVE m.k", item, v={"S": "z"})
    assert out["m"] == {"M": {"fresh": {"S": "z"}}}
    assert out["l"] == {"L": [{"N": "0"}, {"S": "z"}, {"N": "2"}, {"S": "z"}]}
    out = _update("REMOVE l[0], l[2]", item)
    assert out["l"] == {"L": [{"N": "1"}]}


def test_add_and_delete() -> None:
    item = {"id": {"S": "a"}, "n": {"N": "1"}, "s": {"SS": ["a", "b"]}}
    out = _update("ADD n :two, s :c, fresh :two DELETE ss :c", item, two={"N": "2"}, c={"SS": ["c"]})
    assert out["n"] == {"N": "3"} and out["s"] == {"SS": ["a", "b", "c"]} and out["fresh"] == {"N": "2"}
    out = _update("DELETE s :ab", item, ab={"SS": ["a", "b"]})
    assert "s" not in out


@pytest.mark.parametrize(
    ("text", "values", "message"),
    [
        ("SET a = b", {}, "The provided expression refers to an attribute that does not exist in the item"),
        (
            "SET s = s + :one",
            {"one": {"N": "1"}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET x.y = :one",
            {"one": {"N": "1"}},
            "The document path provided in the update expression is invalid for update",
        ),
        ("ADD s :one", {"one": {"N": "1"}}, "An operand in the update expression has an incorrect data type"),
        (
            "SET id = :one",
            {"one": {"N": "1"}},
            "One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key",
        ),
        (
            "SET a = :one, a.b = :one",
            {"one": {"N": "1"}},
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
            "these paths; path one: [a], path two: [a, b]",
        ),
        (
            "ADD a :s",
            {"s": {"S": "x"}},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, "
            "operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND",
        ),
        (
            "DELETE a :n",
            {"n": {"N": "1"}},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, "
            "operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND",
        ),
        (
            "SET a = :s + :s",
            {"s": {"S": "x"}},
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, "
            "operand type: STRING",
        ),
    ],
)
def test_update_runtime_errors(text: str, values: dict[str, object], message: str) -> None:
    item = {"id": {"S": "a"}, "s": {"S": "text"}}
    with pytest.raises(DynamoDBError) as info:
        _update(text, item, **values)
    assert info.value.message == message


def test_arithmetic_precision_limit() -> None:
    item = {"id": {"S": "a"}, "n": {"N": "9" * 38}}
    with pytest.raises(DynamoDBError) as info:
        _update("SET n = n + :v", item, v={"N": "0.1"})
    assert "38 significant digits" in info.value.message


# -- projections


def test_projection_of_members_and_list_elements() -> None:
    compiled = compile_projection("s, m.k, l[1], #n, nope")
    bound = Bindings({"#n": "n"}, {})
    paths = [resolve(p, bound) for p in compiled.paths]
    assert project(ITEM, paths) == {
        "s": {"S": "hello"},
        "m": {"M": {"k": {"S": "v"}}},
        "l": {"L": [{"N": "1"}]},
        "n": {"N": "5"},
    }
