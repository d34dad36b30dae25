"""Optional dependencies, imported only when a feature that needs them is used."""

from __future__ import annotations

from typing import Any

from .errors import ToolNotFoundError


def pyplot() -> Any:
    """``matplotlib.pyplot`` on a file-only backend, or a ToolNotFoundError saying how to get it."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ToolNotFoundError("plotting needs matplotlib: pip install 'abrkit[plot]'") from None
    return plt
