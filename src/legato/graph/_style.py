"""How the diagram looks: shapes and colours per state type, edge kind and status."""

from __future__ import annotations

__all__ = ["BOX_STYLE", "EDGE_STYLE", "STATUS_COLOURS", "TYPE_STYLE", "svg_stylesheet"]

FONT = "Helvetica"

# Type: (shape, style, fill, border)
TYPE_STYLE: dict[str, tuple[str, str, str, str]] = {
    "Task": ("box", "rounded,filled", "#dbeafe", "#1e40af"),
    "Pass": ("box", "rounded,filled", "#f1f5f9", "#475569"),
    "Choice": ("diamond", "filled", "#fef9c3", "#a16207"),
    "Wait": ("box", "rounded,filled,diagonals", "#ede9fe", "#6d28d9"),
    "Succeed": ("box", "rounded,filled", "#dcfce7", "#15803d"),
    "Fail": ("octagon", "filled", "#fee2e2", "#b91c1c"),
    "Parallel": ("box", "filled", "#e0e7ff", "#4338ca"),
    "Map": ("box", "filled", "#ccfbf1", "#0f766e"),
}

# Status: (fill, border, text)
STATUS_COLOURS: dict[str, tuple[str, str, str]] = {
    "succeeded": ("#bbf7d0", "#15803d", "#052e16"),
    "failed": ("#fecaca", "#b91c1c", "#450a0a"),
    "caught": ("#fed7aa", "#c2410c", "#431407"),
    "running": ("#bfdbfe", "#1d4ed8", "#172554"),
    "not-reached": ("#ffffff", "#9ca3af", "#6b7280"),
}

# Edge kind: DOT attributes
EDGE_STYLE: dict[str, dict[str, str]] = {
    "start": {"color": "#334155"},
    "next": {"color": "#475569"},
    "choice": {"color": "#a16207", "fontcolor": "#713f12"},
    "default": {"color": "#a16207", "fontcolor": "#713f12", "style": "dotted", "penwidth": "1.4"},
    "catch": {"color": "#b91c1c", "fontcolor": "#991b1b", "style": "dashed"},
    "end": {"color": "#334155"},
}

# Box kind: DOT attributes
BOX_STYLE: dict[str, dict[str, str]] = {
    "parallel": {"style": "rounded,dashed", "color": "#4338ca", "bgcolor": "#fafaff"},
    "map": {"style": "rounded,dashed", "color": "#0f766e", "bgcolor": "#f7fefc"},
    "branch": {"style": "rounded", "color": "#c7d2fe", "bgcolor": "#ffffff"},
}


def svg_stylesheet() -> str:
    """CSS for the SVG: a node's ``status-*`` class sets its colours, so a page can swap it live."""
    rules = []
    for status, (fill, border, text) in STATUS_COLOURS.items():
        node = f".legato-graph g.state.status-{status}"
        rules.append(
            f"{node} > path, {node} > polygon, {node} > ellipse {{ fill: {fill}; stroke: {border}; }}\n"
            f"{node} text {{ fill: {text}; }}"
        )
    rules.append(
        ".legato-graph g.state.status-running > path, .legato-graph g.state.status-running > polygon "
        "{ stroke-width: 2.5; }"
    )
    return "\n".join(rules)
