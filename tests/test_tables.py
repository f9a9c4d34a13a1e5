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


def test_paired_difference_is_a_t_interval_and_says_none_below_two_pairs() -> None:
    from aihwkit_sc.experiments.tables import paired_difference

    n, mean, low, high = paired_difference([1.0, 2.0, 3.0])  # type: ignore[misc]
    assert (n, mean) == (3, 2.0)
    assert (low, high) == pytest.approx((2.0 - 4.302653 / 3 ** 0.5, 2.0 + 4.302653 / 3 ** 0.5))  # t(0.975, 2) = 4.3027
    assert paired_difference([0.5, 0.5]) == (2, 0.5, 0.5, 0.5)
    assert paired_difference([1.0]) is None


def test_holm_adjusts_in_step_down_order_and_keeps_the_given_order() -> None:
    from aihwkit_sc.experiments.tables import holm

    # sorted 0.01, 0.02, 0.04 -> 3 x 0.01, 2 x 0.02, 1 x 0.04; monotone; returned in the input order
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])  # 2 x 0.4 = 0.8, then max(0.8, 0.5)
    assert holm([0.9, 0.6]) == [1.0, 1.0]  # capped
    assert holm([]) == []


def test_paired_p_value_is_scipys_paired_t_test() -> None:
    from scipy import stats

    from aihwkit_sc.experiments.tables import paired_p_value

    diffs = [0.2, -0.1, 0.5, 0.3]
    assert paired_p_value(diffs) == pytest.approx(stats.ttest_rel([d + 1 for d in diffs], [1.0] * 4).pvalue)
    assert paired_p_value([0.3]) is None
    assert paired_p_value([0.0, 0.0]) == 1.0 and paired_p_value([0.2, 0.2]) == 0.0


def test_a_run_that_never_leaves_chance_is_collapsed() -> None:
    from aihwkit_sc.experiments.tables import collapsed

    assert collapsed([0.1, 0.098, 0.15])  # at most 1.5x chance in every epoch
    assert not collapsed([0.1, 0.151])
    assert not collapsed([0.95]) and not collapsed([])
    assert collapsed([0.3, 0.2], classes=2) and not collapsed([0.76], classes=2)
