"""The errors of ``legato.graph``: a bad definition, or no Graphviz to lay it out."""

from __future__ import annotations

from collections.abc import Sequence

from legato.errors import Diagnostic, LegatoError


class GraphError(LegatoError):
    """Base class of the errors raised while drawing a state machine."""


class GraphDefinitionError(GraphError):
    """The definition cannot be drawn: it does not parse, or it is not a valid state machine."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(diagnostics)
        self.diagnostics = tuple(diagnostics)

    def __str__(self) -> str:
        shown = "; ".join(str(d) for d in self.diagnostics[:3])
        more = len(self.diagnostics) - 3
        suffix = f" (and {more} more; run `legato validate` to see them all)" if more > 0 else ""
        return f"cannot draw an invalid definition: {shown}{suffix}"


class GraphvizNotFound(GraphError):
    """Graphviz's ``dot`` program, which lays the graph out, is not installed."""

    def __init__(self, program: str = "dot") -> None:
        super().__init__(program)
        self.program = program

    def __str__(self) -> str:
        return (
            f"Graphviz's `{self.program}` program was not found on PATH; it lays out the graph. "
            "Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) "
            "or set LEGATO_DOT to the path of `dot`."
        )
