"""``legato validate FILE...``: one line per diagnostic, ``FILE:/location: CODE: message``."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence

from legato.cli._common import UsageError, read_text
from legato.errors import DefinitionError, Diagnostic


def diagnostics_of(text: str, filename: str | None = None) -> list[Diagnostic]:
    """Every diagnostic for one definition text (JSON or YAML)."""
    from legato.asl.load import load_document
    from legato.asl.validate import validate

    try:
        doc = load_document(text, filename=filename)
        found: Iterable[Diagnostic] = validate(doc)
    except DefinitionError as exc:
        return list(exc.diagnostics)
    return list(found)


_INDEX = re.compile(r"\[(\d+)\]")


def json_pointer(location: str) -> str:
    """A diagnostic's location as a JSON pointer: ``/States/C/Choices[0]/Next`` -> ``/States/C/Choices/0/Next``."""
    if not location.startswith("/"):
        return location or "/"
    return _INDEX.sub(r"/\1", location)


def validate_command(files: Sequence[str]) -> int:
    """Exit 0 when no file has an error, 1 when one has, 2 when a file cannot be read."""
    texts = {path: read_text(path, "definition file") for path in files}
    errors = 0
    for path, text in texts.items():
        try:
            found = diagnostics_of(text, path)
        except ImportError as exc:
            raise UsageError(f"the definition validator is not available: {exc}") from None
        for d in found:
            print(f"{path}:{json_pointer(d.location)}: {d.code}: {d.message}")
            if d.severity == "ERROR":
                errors += 1
    if errors:
        print(f"{errors} error(s) in {len(files)} file(s)", file=sys.stderr)
    return 1 if errors else 0
