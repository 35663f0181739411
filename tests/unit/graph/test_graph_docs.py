"""docs/graph.md's Python examples run."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_graph_docs_examples_run() -> None:
    page = DOCS / "graph.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "graph.md", "exec"), {})
    for image in re.findall(r"\]\((images/[^)]+)\)", page.read_text()):
        assert (DOCS / image).stat().st_size > 10_000
