"""Reading definitions from JSON and YAML text."""

from __future__ import annotations

import pytest

from legato.asl.load import load_document
from legato.errors import DefinitionError, Diagnostic

DOC = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def test_json_text_and_bytes() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    assert load_document(text) == DOC
    assert load_document(text.encode()) == DOC


def test_mapping_is_returned_as_is() -> None:
    assert load_document(DOC) is DOC


def test_yaml_by_file_name_and_by_fallback() -> None:
    text = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n"
    assert load_document(text, filename="machine.yaml") == DOC
    assert load_document(text) == DOC


def test_not_json_is_reported_as_aws_does() -> None:
    with pytest.raises(DefinitionError) as info:
        load_document("not a definition")
    location = '[Source: (String)"not a definition"; line: 1, column: 4]'
    assert info.value.diagnostics == (
        Diagnostic(
            "INVALID_JSON_DESCRIPTION",
            "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', "
            f"'true' or 'false')\n at {location}",
            location,
        ),
    )


def test_single_quotes() -> None:
    with pytest.raises(DefinitionError) as info:
        load_document("{'not': 'json'")
    [diag] = info.value.diagnostics
    assert diag.code == "INVALID_JSON_DESCRIPTION"
    assert diag.message.startswith(
        "Unexpected character (''' (code 39)): was expecting double-quote to start field name"
    )


def test_blank_text() -> None:
    with pytest.raises(DefinitionError) as info:
        load_document(" ")
    assert info.value.diagnostics == (
        Diagnostic("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object", ""),
    )


def test_bad_yaml_file() -> None:
    with pytest.raises(DefinitionError) as info:
        load_document("a: [1,\n", filename="m.yml")
    assert info.value.diagnostics[0].code == "INVALID_JSON_DESCRIPTION"
