"""Docs are code: the examples run, and every command and operation is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import legato
from legato.cli import _parser as build_parser
from legato.engine import OPERATIONS

DOCS = Path(__file__).resolve().parents[2] / "docs"
README = DOCS.parent / "README.md"


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def _all_docs() -> str:
    return "\n".join(p.read_text() for p in sorted(DOCS.glob("*.md"))) + README.read_text()


@pytest.mark.parametrize("page", ["running.md", "validation.md"])
def test_python_examples_run(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _python_blocks(DOCS / page)
    assert blocks, f"{page} opens with a runnable example"
    for block in blocks:
        exec(compile(block, f"{page}", "exec"), {})


def test_readme_python_example_runs() -> None:
    block = _python_blocks(README)[0]
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, legato.ExecutionResult)
    assert result.status == "SUCCEEDED"


def test_every_cli_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    text = (DOCS / "cli.md").read_text()
    for name in commands:
        assert f"## `legato {name}`" in text, f"legato {name} has no section in docs/cli.md"


def test_every_api_operation_is_documented() -> None:
    text = (DOCS / "api.md").read_text()
    for operation in OPERATIONS:
        assert operation in text, f"{operation} is not documented in docs/api.md"


def test_every_doc_page_opens_with_an_example() -> None:
    for page in DOCS.glob("*.md"):
        body = page.read_text().split("\n", 2)[2].lstrip()
        assert body.startswith("```"), f"{page.name} should open with a runnable example"
