"""What an expression can see: the state input, the context object, variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Scope:
    """The values an expression reads, as of state entry.

    ``variables`` maps variable names visible to the state (workflow variables
    of enclosing scopes included) to their values.
    """

    input: Any
    context: Any
    variables: Mapping[str, Any]
