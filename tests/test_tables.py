"""The one Markdown-table and mean ± std helper that the demo, Table 1 and the study pages share."""

from __future__ import annotations

import pytest

from aihwkit_sc.experiments.tables import markdown_table, mean_std


def test_markdown_table_plain_and_padded() -> None:
    assert markdown_table(["a", "bb"], [["1", "2"], ["333", "4"]]) == [
        "| a | bb |", "|---|---|", "| 1 | 2 |", "| 333 | 4 |"]
    assert markdown_table(["a", "bb"], [["1", "2"], ["333", "4"]], pad=True) == [
        "| a   | bb |", "|-----|----|", "| 1   | 2  |", "| 333 | 4  |"]
    with pytest.raises(ValueError, match=r"every row needs 2 cells, one per column of \['a', 'bb'\]"):
        markdown_table(["a", "bb"], [["1"]])


def test_mean_std_cells() -> None:
    assert mean_std([90.0, 92.0, 94.0]) == "92.00 ± 2.00"
    assert mean_std([91.234]) == "91.23"
    assert mean_std([]) == "–" and mean_std([], missing="-") == "-"
