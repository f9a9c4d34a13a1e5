"""Markdown tables and ``mean ± std`` cells for results pages and terminal summaries (the demo, Table 1, studies)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, pad: bool = False) -> list[str]:
    """The lines of a Markdown table; ``pad`` aligns the columns for reading in a terminal."""
    table = [list(header), *(list(r) for r in rows)]
    if any(len(r) != len(header) for r in table):
        raise ValueError(f"every row needs {len(header)} cells, one per column of {list(header)}")
    widths = [max(len(r[i]) for r in table) for i in range(len(header))] if pad else [0] * len(header)
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in table]
    lines.insert(1, "|" + "|".join(("-" * (w + 2)) if pad else "---" for w in widths) + "|")
    return lines


def mean_std(values: Sequence[float], missing: str = "–") -> str:
    """``mean ± std`` to two decimals (one value: itself; none: ``missing``)."""
    if not values:
        return missing
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"
