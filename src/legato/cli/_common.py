"""What the CLI commands share: reading files and input, loading functions."""

from __future__ import annotations

import re
from pathlib import Path

from legato import _json
from legato.integrations.functions import FunctionRegistry


class UsageError(Exception):
    """Bad input to a command: reported on one line, exit status 2."""


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of a file, or a UsageError saying why it cannot be read."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {p}") from None
    except IsADirectoryError:
        raise UsageError(f"{what} is a directory: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {p}: {exc}") from None


def definition_text(path: str | Path) -> str:
    """A definition file as JSON text; YAML files (``.yaml``/``.yml``) are converted."""
    p = Path(path)
    text = read_text(p, "definition file")
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise UsageError(f"{p}: not valid YAML{where}") from None
        return _json.dumps(doc)
    return text


def input_text(value: str | None) -> str | None:
    """``--input``: JSON text, or ``@FILE`` for a file's content; checked to be JSON."""
    if value is None:
        return None
    text = read_text(value[1:], "input file") if value.startswith("@") else value
    try:
        _json.loads(text)
    except ValueError:
        source = value if value.startswith("@") else "--input"
        raise UsageError(f"{source}: the input is not valid JSON") from None
    return text


def load_functions(path: str | None) -> FunctionRegistry:
    """A registry with the functions of ``path`` (none when ``path`` is None)."""
    registry = FunctionRegistry()
    if path is not None:
        registry.load_file(path)
    return registry


def machine_name(path: str | Path) -> str:
    """A valid state machine name derived from a file name."""
    stem = Path(path).name.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9_-]", "-", stem)[:80]
    return name or "state-machine"
