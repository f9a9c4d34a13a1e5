"""Markdown tables, ``mean ± std`` cells and paired differences for results pages and terminal summaries (the demo,
Table 1, studies)."""

from __future__ import annotations

import math
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


def paired_difference(diffs: Sequence[float]) -> tuple[int, float, float, float] | None:
    """(n, mean, low, high): the mean of paired differences with its 95 % t confidence interval (scipy); ``None``
    below 2 pairs. Identical differences give a zero-width interval."""
    from scipy import stats

    if len(diffs) < 2:
        return None
    mean = statistics.mean(diffs)
    sd = statistics.stdev(diffs)
    if sd == 0:
        return len(diffs), mean, mean, mean
    low, high = stats.t.interval(0.95, len(diffs) - 1, loc=mean, scale=sd / math.sqrt(len(diffs)))
    return len(diffs), mean, float(low), float(high)


def paired_p_value(diffs: Sequence[float]) -> float | None:
    """Two-sided p-value of a paired t-test that the mean difference is 0 (scipy); ``None`` below 2 pairs, 1.0 or 0.0
    when every difference is the same (0 or not)."""
    from scipy import stats

    if len(diffs) < 2:
        return None
    if statistics.stdev(diffs) == 0:
        return 1.0 if diffs[0] == 0 else 0.0
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family's p-values, in the given order: the i-th smallest p times
    (m - i + 1), made monotone and capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


COLLAPSE_FACTOR = 1.5
"""A run is collapsed when no epoch's accuracy exceeds this multiple of chance (15 % on ten classes)."""


def collapsed(accuracies: Sequence[float], classes: int = 10) -> bool:
    """True for a run that trained every epoch but never left chance: each epoch's accuracy (a fraction) is at most
    ``COLLAPSE_FACTOR / classes``. Studies record such a run as ``collapsed``, not ``complete``; its accuracy still
    counts (it is the policy's result), it is only named."""
    return bool(accuracies) and max(accuracies) <= COLLAPSE_FACTOR / classes
