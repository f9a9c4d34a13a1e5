"""The super-convergence study: its plan (which tuning a budget reuses, grids that grow at an edge, the long reference
chosen on validation), its page (paired differences, Holm, epochs to reach the reference, collapsed and diverged runs
named) and the study end to end at toy size, resumed and rebuilt."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from aihwkit_sc import data
from aihwkit_sc.experiments import plan_cells, plan_page, plans
from aihwkit_sc.experiments.policies import POLICIES

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "study_superconvergence.py"
_spec = importlib.util.spec_from_file_location("study_superconvergence", SCRIPT)
assert _spec is not None and _spec.loader is not None
sc = importlib.util.module_from_spec(_spec)
sys.modules["study_superconvergence"] = sc
_spec.loader.exec_module(sc)

CELL = plans.Cell("lenet5", "mnist-5k", "gokmen-vlasov", POLICIES, (3, 6, 12, 24), 3, (3, 24), 2, (0.5, 1.0, 2.0),
               48)


def row(policy: str, phase: str, scale: float, budget: int, seed: int, accuracies: list[float],
        status: str = "complete", tuned_at: int | None = None, cell: Any = CELL) -> dict[str, Any]:
    return {"model": cell.model, "dataset": cell.dataset, "device": cell.device, "policy": policy, "phase": phase,
            "scale": scale, "budget": budget, "seed": seed, "status": status, "build": "seeded (batched build)",
            "tuned_at": tuned_at, "accuracies": accuracies,
            "final_accuracy": accuracies[-1] if status != "diverged" else None, "xd_set": [], "xd": [],
            "bit_length": [], "capped": [], "wall_time_s": 1.0, "peak_pulses": []}


def tuning(scores: dict[tuple[str, int], dict[float, list[float | None]]]) -> list[dict[str, Any]]:
    """Tuning rows: (policy, budget) -> scale -> final validation accuracy per seed (None: diverged)."""
    out = []
    for (policy, budget), by_scale in scores.items():
        for scale, values in by_scale.items():
            for seed, value in enumerate(values):
                out.append(row(policy, "tune", scale, budget, seed, [] if value is None else [value],
                               "diverged" if value is None else "complete"))
    return out


def test_a_budget_reuses_the_tuning_nearest_on_a_log_scale() -> None:
    assert [CELL.tuned_at(b) for b in (3, 6, 12, 24, 48)] == [3, 3, 24, 24, 24]
    vgg = plans.Cell("vgg8", "mnist-5k-32", "pytorch", ("one-cycle",), (3, 12), 3, (3,), 1, (1.0,))
    assert vgg.tuned_at(12) == 3


def test_a_tuned_scale_on_the_edge_of_its_grid_extends_the_grid() -> None:
    # best at the top edge: x4 is added; once x4 is trained and worse, x2 is the tuned scale
    rows = tuning({("constant", 3): {0.5: [0.90, 0.90], 1.0: [0.92, 0.92], 2.0: [0.95, 0.95]}})
    assert plan_cells.grid_of(rows, CELL, "constant", 3) == [0.5, 1.0, 2.0, 4.0]
    assert plan_cells.tuned(rows, CELL, "constant", 3) is None  # x4 is not trained yet: no tuned scale, no finals
    rows += tuning({("constant", 3): {4.0: [0.97, None]}})  # a diverged seed counts 0: mean 0.485
    assert plan_cells.grid_of(rows, CELL, "constant", 3) == [0.5, 1.0, 2.0, 4.0]
    assert plan_cells.tuned(rows, CELL, "constant", 3) == 2.0
    # best at the bottom edge: /2 is added; ties go to the smaller scale
    rows = tuning({("anneal", 24): {0.25: [0.9, 0.9], 0.5: [0.9, 0.9], 1.0: [0.9, 0.9], 2.0: [0.8, 0.8]}})
    assert plan_cells.grid_of(rows, CELL, "anneal", 24) == [0.125, 0.25, 0.5, 1.0, 2.0]
    # at most MAX_EXTENSIONS extensions
    grid = {0.5 * 2 ** k: [0.5 + 0.01 * k] * 2 for k in range(3 + plan_cells.MAX_EXTENSIONS)}
    rows = tuning({("multistep", 3): grid})
    assert len(plan_cells.grid_of(rows, CELL, "multistep", 3)) == 3 + plan_cells.MAX_EXTENSIONS
    assert plan_cells.tuned(rows, CELL, "multistep", 3) == max(grid)


def test_finals_wait_for_their_tuning_and_the_reference_is_the_best_conventional_policy_on_validation() -> None:
    interior = {0.5: [0.90, 0.90], 1.0: [0.95, 0.95], 2.0: [0.91, 0.91]}
    rows = tuning({(p, 24): interior for p in POLICIES})
    want, waiting = plan_cells.wanted_runs(rows, CELL)
    finals = [r for r in want if r["phase"] == "final"]
    # 12 and 24 epochs reuse the 24-epoch tuning; 3 and 6 wait for the 3-epoch one
    assert {(r["policy"], r["budget"]) for r in finals if r["budget"] != 48} == {
        (p, b) for p in POLICIES for b in (12, 24)}
    assert all(r["scale"] == 1.0 and r["tuned_at"] == 24 for r in finals)
    assert sorted(r["seed"] for r in finals if (r["policy"], r["budget"]) == ("anneal", 12)) == [100, 101, 102]
    assert sum("(tuning at 3)" in w for w in waiting) == 8
    # the reference: multistep has the best tuned validation mean among the conventional policies (one-cycle's is
    # higher but it is not a conventional schedule)
    rows = tuning({("constant", 24): interior, ("anneal", 24): interior,
                   ("multistep", 24): {0.5: [0.9, 0.9], 1.0: [0.96, 0.96], 2.0: [0.9, 0.9]},
                   ("one-cycle", 24): {0.5: [0.9, 0.9], 1.0: [0.99, 0.99], 2.0: [0.9, 0.9]}})
    assert plan_cells.reference_policy(rows, CELL) == "multistep"
    want, _ = plan_cells.wanted_runs(rows, CELL)
    ref = [r for r in want if r["budget"] == 48]
    assert {(r["policy"], r["scale"], r["tuned_at"]) for r in ref} == {("multistep", 1.0, 24)}
    assert [r["seed"] for r in ref] == [100, 101, 102]  # the finals' seeds: paired with every final


def test_the_page_pairs_by_seed_adjusts_across_the_page_and_names_what_did_not_reach_or_collapsed(tmp_path: Path
                                                                                                 ) -> None:
    cell = plans.Cell("lenet5", "mnist-5k", "gokmen-vlasov", ("anneal", "one-cycle"), (3, 6), 3, (3,), 1, (0.5, 1.0,
                                                                                                         2.0), 12)
    rows = [row(p, "tune", s, 3, 0, [v]) for p in ("anneal", "one-cycle") for s, v in ((0.5, .9), (1.0, .95),
                                                                                      (2.0, .9))]
    curves = {("anneal", 3): [[.90, .95, .960], [.91, .95, .966], [.90, .94, .961]],
              ("anneal", 6): [[.90, .95, .96, .97, .97, .98], [.9, .9, .9, .9, .9, .9], [.1, .1, .1, .1, .1, .1]],
              ("one-cycle", 3): [[.80, .90, .97], [.85, .93, .975], [.8, .9, .96]],
              ("one-cycle", 6): [[.9, .95, .96, .97, .98, .985], [.9, .95, .96, .97, .98, .99], [.9, .95, .96]],
              ("anneal", 12): [[.9] * 11 + [.97], [.9] * 11 + [.975], [.9] * 11 + [.97]]}
    for (policy, budget), runs in curves.items():
        for i, acc in enumerate(runs):
            status = "collapsed" if max(acc) <= 0.15 else "diverged" if len(acc) < budget else "complete"
            rows.append(row(policy, "final", 1.0, budget, 100 + i, acc, status, tuned_at=3, cell=cell))
    page = plan_page.report(rows, [cell], "x.csv", study=sc.SUPERCONVERGENCE)
    assert "| anneal | 96.23 ± 0.32 (n=3) | 66.00 ± 48.66 (n=3), 1 collapsed |" in page
    assert "| one-cycle | 96.83 ± 0.76 (n=3) | 69.17 ± 51.24 (n=3), 1 diverged |" in page  # diverged counts 10 %
    assert "Long reference: `anneal`" in page and "for 12 epochs: 97.17 ± 0.29 (n=3)" in page
    # epochs to reach 97.17 %: one-cycle at 6 epochs in 2 of 3 runs, at epoch 5 both times (the diverged one never)
    assert "| one-cycle | 1/3, epoch 3 | 2/3, epoch 5 |" in page
    assert "| anneal | 0/3 | 1/3, epoch 6 |" in page  # nor does the collapsed run
    # every paired difference on the page: scipy's t interval and p, Holm across the page's family
    family = plan_page.comparisons(rows, cell)
    assert [label for label, _ in family] == ["3 ep: one-cycle − anneal", "6 ep: one-cycle − anneal",
                                              "anneal 3 ep − reference", "anneal 6 ep − reference",
                                              "one-cycle 3 ep − reference", "one-cycle 6 ep − reference"]
    p_raw = [stats.ttest_1samp(d, 0).pvalue for _, d in family]
    order = sorted(range(len(p_raw)), key=lambda i: p_raw[i])
    holm, running = [0.0] * len(p_raw), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_raw) - rank) * p_raw[i]))
        holm[i] = running
    for (label, d), p, h in zip(family, p_raw, holm, strict=True):
        mean = statistics.mean(d)
        low, high = stats.t.interval(0.95, len(d) - 1, loc=mean, scale=statistics.stdev(d) / math.sqrt(len(d)))
        verdict = "no difference" if h >= 0.05 else ("higher" if mean > 0 else "lower")
        assert (f"| {label} | {len(d)} | {mean:+.2f} [{low:+.2f}, {high:+.2f}] | {p:.3f} | {h:.3f} | {verdict} |"
                in page), label
    assert min(holm) < 0.05 and "lower" in page  # anneal at 3 epochs falls short of the reference, seed by seed
    assert "None: every run of the plan has a row." in page
    # the figure's data: per policy mean and 95 % t half-width per budget, the reference as a band
    ((title, budgets, lines, band),) = plan_page.budget_panels(rows, [cell])
    assert title == "LeNet-5, gokmen-vlasov" and budgets == [3, 6]
    xs, ys, errs = lines["anneal"]
    assert xs == pytest.approx([3 * 0.94, 6 * 0.94]) and ys == pytest.approx([96.2333, 66.0], abs=1e-3)
    assert errs[1] == pytest.approx(stats.t.ppf(0.975, 2) * 48.6621 / 3 ** 0.5, rel=1e-4)
    assert band[0] == "anneal, 12 ep" and band[1] == pytest.approx(97.1667, abs=1e-3)
    assert plan_page.plot(rows, [cell], tmp_path / "p.md").read_bytes()[:4] == b"\x89PNG"
    assert plan_page.budget_panels([r for r in rows if r["phase"] == "tune"], [cell]) == []  # no finals: no figure


def test_the_tuning_table_names_diverged_and_collapsed_runs_beside_their_zero() -> None:
    cell = plans.Cell("vgg8", "mnist-5k-32", "gokmen-vlasov", ("anneal",), (3,), 1, (3,), 2, (0.5, 1.0, 2.0))
    rows = tuning({("anneal", 3): {0.5: [0.18, 0.20], 1.0: [0.21, None], 2.0: [None, None]}})
    rows = [r | {"model": "vgg8", "dataset": "mnist-5k-32"} for r in rows]
    rows += [row("anneal", "tune", 0.25, 3, seed, [0.1, 0.1, acc], "collapsed" if acc <= 0.15 else "complete",
                 cell=cell) for seed, acc in ((0, 0.1), (1, 0.16))]  # the grid's extension below its best edge
    page = plan_page.report(rows, [cell], "x.csv", study=sc.SUPERCONVERGENCE)
    assert ("| anneal | ×0.25: 13.0 (1 collapsed), ×0.5: 19.0 ✓, ×1: 10.5 (1 diverged), ×2: 0.0 (2 diverged) |"
            in page)


def test_without_a_long_reference_the_conventional_policys_longest_budget_stands_in_for_it() -> None:
    cell = plans.Cell("vgg8", "mnist-5k-32", "pytorch", ("one-cycle", "anneal"), (2, 8), 2, (2,), 1, (0.5, 1.0, 2.0))
    rows = [row(p, "tune", s, 2, 0, [v], cell=cell) for p in cell.policies for s, v in ((0.5, .9), (1.0, .95),
                                                                                         (2.0, .9))]
    finals = {("one-cycle", 2): (.96, .97), ("anneal", 2): (.95, .955), ("one-cycle", 8): (.979, .985),
              ("anneal", 8): (.97, .99)}
    for (policy, budget), accs in finals.items():
        for i, acc in enumerate(accs):
            curve = [0.9] * (budget - 1) + [acc]
            rows.append(row(policy, "final", 1.0, budget, 100 + i, curve, tuned_at=2, cell=cell))
    assert plan_page.long_reference(rows, cell) == ("anneal", 8, True)
    family = dict(plan_page.comparisons(rows, cell))
    # shorter budgets only, each seed against the same seed's long anneal; the long anneal is not compared with itself
    assert list(family) == ["2 ep: one-cycle − anneal", "8 ep: one-cycle − anneal",
                            "one-cycle 2 ep − anneal 8 ep", "anneal 2 ep − anneal 8 ep"]
    assert family["one-cycle 2 ep − anneal 8 ep"] == [pytest.approx(-1.0), pytest.approx(-2.0)]
    assert family["anneal 2 ep − anneal 8 ep"] == [pytest.approx(-2.0), pytest.approx(-3.5)]
    page = plan_page.report(rows, [cell], "x.csv", study=sc.SUPERCONVERGENCE)
    assert ("No separate long reference: `anneal` (the best conventional policy on validation at 2 epochs) at the "
            "longest budget, 8 epochs, stands in for it: 98.00 ± 1.41 (n=2).") in page
    assert "### Epochs to reach the reference's mean (98.00 %)" in page
    assert "| one-cycle | 0/2 | 1/2, epoch 8 |" in page and "| anneal | 0/2 | 1/2, epoch 8 |" in page
    # a cell with one budget, or one that compares every arm with a baseline, has nothing to stand in
    assert plan_page.long_reference(rows, replace(cell, budgets=(2,))) is None
    assert plan_page.long_reference(rows, replace(cell, baseline="anneal")) is None


def test_missing_runs_are_trained_longest_budget_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[tuple[str, int]]] = []
    monkeypatch.setattr(plans, "train_rows", lambda todo, *a, **k: seen.append([(r["policy"], r["budget"])
                                                                               for r in todo]))
    wanted = plan_cells.runs(CELL, "final", "anneal", [1.0], [3, 24], [100]) + plan_cells.runs(
        CELL, "final", "constant", [1.0], [48, 6], [100])
    args = argparse.Namespace(csv=tmp_path / "none.csv", workers=1, quiet=True, work_dir=tmp_path,
                              validation=500, limit=None)
    plans.train_missing(wanted, CELL, args)
    assert seen == [[("constant", 48), ("anneal", 24), ("constant", 6), ("anneal", 3)]]


def test_a_policy_variant_follows_xd_and_a_baseline_cell_compares_every_arm_with_it() -> None:
    assert plans.policy_spec("anneal+xd-step", 2.0, False) == (
        "cosine", {"lr": 0.1, "min_lr": 0.0, "analog_lr": "device", "device_pulses": 2.0, "xd_refresh": "step"}, 0.1)
    assert plans.policy_spec("one-cycle", 1.0, True)[1] == {"max_lr": 0.1, "analog_max_lr": None}
    cell = plans.Cell("lenet5", "mnist-5k", "gokmen-vlasov", ("anneal", "anneal+xd-epoch"), (6,), 2, (6,), 1,
                   (0.5, 1.0, 2.0), baseline="anneal")
    rows = [row(p, "tune", s, 6, 0, [acc]) for p in cell.policies for s, acc in ((0.5, .8), (1.0, .9), (2.0, .8))]
    rows += [row(p, "final", 1.0, 6, 100 + i, [acc], tuned_at=6) for p, accs in
             (("anneal", (0.90, 0.92)), ("anneal+xd-epoch", (0.93, 0.96))) for i, acc in enumerate(accs)]
    rows = [r | {"device": "gokmen-vlasov"} for r in rows]
    assert plan_page.comparisons(rows, cell) == [("6 ep: anneal+xd-epoch − anneal", [pytest.approx(3.0),
                                                                              pytest.approx(4.0)])]


def test_pulses_over_training_are_the_seed_mean_per_layer_and_epoch_at_the_longest_budget(tmp_path: Path) -> None:
    cell = plans.Cell("lenet5", "mnist-5k", "gokmen-vlasov", ("anneal", "anneal+xd-epoch"), (2, 4), 2, (2,), 1,
                      (0.5, 1.0, 2.0), baseline="anneal")
    rows = [row(p, "tune", s, 2, 0, [acc]) for p in cell.policies for s, acc in ((0.5, .8), (1.0, .9), (2.0, .8))]

    def final(policy: str, budget: int, seed: int, bits: list[list[float | None]]) -> dict[str, Any]:
        return row(policy, "final", 1.0, budget, seed, [0.9] * budget, tuned_at=2) | {"bit_length": bits}

    rows += [final("anneal", 2, 100, [[9.0, 9.0], [9.0, 9.0]]),  # a shorter budget: not drawn
             final("anneal", 4, 100, [[2.0, 4.0], [1.0, 2.0], [0.5, 1.0], [0.25, None]]),
             final("anneal", 4, 101, [[4.0, 4.0], [1.0, 2.0], [0.5, 1.0], [0.25, 0.5]]),
             final("anneal+xd-epoch", 4, 100, [[2.0, 2.0]] * 4)]
    ((drawn, budget, name, series),) = plan_page.pulse_series(rows, [cell])
    assert drawn is cell and budget == 4 and name == "bit_length"  # rows without peak pulses
    assert series["anneal"] == [[3.0, 1.0, 0.5, 0.25], [4.0, 2.0, 1.0, 0.5]]  # per layer; a missing value skipped
    assert series["anneal+xd-epoch"] == [[2.0] * 4, [2.0] * 4]
    peaks = [r | {"peak_pulses": [[v / 4 if v is not None else None for v in e] for e in r["bit_length"]]}
             if r["phase"] == "final" else r for r in rows]
    ((_, _, name, series),) = plan_page.pulse_series(peaks, [cell])  # every row has them: they are drawn
    assert name == "peak_pulses" and series["anneal"] == [[0.75, 0.25, 0.125, 0.0625], [1.0, 0.5, 0.25, 0.125]]
    assert plan_page.plot_pulses(rows, [cell], tmp_path / "p.md") == tmp_path / "p-pulses.png"
    assert (tmp_path / "p-pulses.png").read_bytes()[:4] == b"\x89PNG"
    digital = plans.Cell("lenet5", "mnist-5k", "pytorch", ("anneal",), (2,), 1, (2,), 1, (0.5, 1.0, 2.0))
    assert plan_page.pulse_series([r | {"device": "pytorch", "bit_length": []} for r in rows], [digital]) == []


def test_the_padded_digits_are_the_same_digits() -> None:
    small, small_test = data.mnist_5k()
    big, big_test = data.mnist_5k_32()
    assert big.tensors[0].shape == (4000, 3, 32, 32) and big_test.tensors[0].shape == (1000, 3, 32, 32)
    assert (big.tensors[0][:, :, 2:30, 2:30] == small.tensors[0]).all()  # every channel, the same pixels
    assert (big.tensors[0][:, :, :2] == small.tensors[0].min()).all()  # the border is background
    assert (big.tensors[1] == small.tensors[1]).all() and (big_test.tensors[1] == small_test.tensors[1]).all()


def run_study(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(SCRIPT), "--cells", "lenet5/gokmen-vlasov", "--policies", "constant", "one-cycle",
            "--budgets", "1", "2", "--tune-budgets", "1", "--seeds", "2", "--tune-seeds", "1", "--grid", "1", "2",
            "--reference", "3", "--limit", "64", "--validation", "50", "--workers", "2", "--quiet",
            "--work-dir", str(tmp_path / "runs"), "--csv", str(tmp_path / "s.csv"), "--out", str(tmp_path / "s.md"),
            *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path)


@pytest.mark.slow
def test_superconvergence_study_end_to_end(tmp_path: Path) -> None:
    done = run_study(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "s.csv").read_text().splitlines()))
    typed = plans.read_rows(tmp_path / "s.csv")
    given = ["--cells", "lenet5/gokmen-vlasov", "--policies", "constant", "one-cycle", "--budgets", "1", "2",
             "--tune-budgets", "1", "--seeds", "2", "--tune-seeds", "1", "--grid", "1", "2", "--reference", "3"]
    cell = plans.select(plans.parse(given, sc.SUPERCONVERGENCE), sc.PLAN)[0]
    for policy in ("constant", "one-cycle"):
        tune = {r["scale"]: r["final_accuracy"] or 0.0 for r in typed if (r["policy"], r["phase"]) == (policy, "tune")}
        best = max(sorted(tune), key=lambda s: tune[s])
        grid = sorted(tune)
        # the tuned scale is the best trained one, and inside the grid unless the grid grew as far as it may
        assert plan_cells.tuned(typed, cell, policy, 1) == best
        assert grid[0] < best < grid[-1] or len(grid) == 2 + plan_cells.MAX_EXTENSIONS
        finals = [r for r in typed if (r["policy"], r["phase"]) == (policy, "final") and r["budget"] in (1, 2)]
        assert {(r["scale"], r["budget"], r["seed"]) for r in finals} == {(best, b, s) for b in (1, 2)
                                                                           for s in (100, 101)}
        for r in finals:  # per-run telemetry: x.d that set the LR, per epoch x.d, bit length and capped fraction
            assert len(r["xd_set"]) == 4 and all(x > 0 for x in r["xd_set"])
            assert len(r["xd"]) == len(r["bit_length"]) == len(r["capped"]) == len(r["peak_pulses"]) == r["budget"]
            assert all(p >= 0 for epoch in r["peak_pulses"] for p in epoch if p is not None)
            assert all(0 <= c <= 1 for epoch in r["capped"] for c in epoch if c is not None)
            assert r["build"] and r["tuned_at"] == 1
    assert all(r["status"] in ("complete", "collapsed", "diverged") for r in rows)
    for r in typed:
        assert (r["status"] == "collapsed") == (r["status"] != "diverged" and max(r["accuracies"]) <= 0.15)
    reference = [r for r in typed if r["budget"] == 3]
    assert {r["policy"] for r in reference} == {"constant"} and len(reference) == 2  # the only conventional one
    page = (tmp_path / "s.md").read_text()
    assert "## LeNet-5 on `gokmen-vlasov`" in page and "Long reference: `constant`" in page
    assert "- `lenet5/pytorch`: not started." in page  # the rest of the plan is listed as missing
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    # a re-run trains nothing; a torn last row is trained again and cut off; the page rebuilds byte for byte
    text = (tmp_path / "s.csv").read_text()
    (tmp_path / "s.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + "lenet5,mnist-5k,gokm")
    (tmp_path / "s.md").write_text(page + "Our reading: keep me.\n")
    again = run_study(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.strip().splitlines() == ["lenet5/gokmen-vlasov: 1 of " + again.stderr.split(" of ")[1]
                                                 .split()[0] + " runs to train"]
    assert len(list(csv.DictReader((tmp_path / "s.csv").read_text().splitlines()))) == len(rows)
    assert "gokm\n" not in (tmp_path / "s.csv").read_text()
    rebuilt = (tmp_path / "s.md").read_text()
    assert rebuilt.endswith("Our reading: keep me.\n")
    assert run_study(tmp_path, "--report-only").returncode == 0
    assert (tmp_path / "s.md").read_text() == rebuilt
    assert json.loads(rows[0]["xd_set"])


@pytest.mark.slow
def test_xd_refresh_study_end_to_end(tmp_path: Path) -> None:
    script = SCRIPT.with_name("study_xd_refresh.py")
    args = [sys.executable, str(script), "--cells", "lenet5/gokmen-vlasov", "--budgets", "2", "--tune-budgets", "1",
            "--seeds", "2", "--tune-seeds", "1", "--grid", "1", "2", "--limit", "64", "--validation", "50", "--quiet",
            "--work-dir", str(tmp_path / "runs"), "--csv", str(tmp_path / "x.csv"), "--out", str(tmp_path / "x.md")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = plans.read_rows(tmp_path / "x.csv")
    finals = [r for r in rows if r["phase"] == "final"]
    assert sorted({r["policy"] for r in finals}) == ["anneal", "anneal+xd-epoch", "anneal+xd-step"]
    for r in finals:  # the arm reached the run: its summary says which x·d refresh it trained with
        summary = json.loads((tmp_path / "runs" / "lenet5" / "gokmen-vlasov" / "final"
                              / f"{r['policy']}-x{r['scale']:g}-e2" / f"s{r['seed']}" / "summary.json").read_text())
        assert summary["schedule_options"].get("xd_refresh", "none") == r["policy"].partition("+xd-")[2] or (
            r["policy"] == "anneal" and "xd_refresh" not in summary["schedule_options"])
        assert len(r["bit_length"]) == 2
    page = (tmp_path / "x.md").read_text()
    assert page.startswith("# A device LR that follows x·d") and "2 ep: anneal+xd-step − anneal" in page
    assert "- `lenet5/semi-ideal`: not started." in page
    assert "](x-pulses.png)" in page and (tmp_path / "x-pulses.png").read_bytes()[:4] == b"\x89PNG"


def test_a_withdrawn_cell_keeps_its_rows_and_reason_but_leaves_the_family_the_figures_and_the_training(
        tmp_path: Path) -> None:
    kept = plans.Cell("vgg8", "mnist-5k-32", "pytorch", ("one-cycle", "anneal"), (2, 8), 2, (2,), 1, (0.5, 1.0, 2.0))
    gone = replace(kept, device="gokmen-vlasov", withdrawn="Its backward pass carried no signal.")
    rows = []
    for cell in (kept, gone):
        rows += [row(p, "tune", s, 2, 0, [v], cell=cell) for p in cell.policies for s, v in ((0.5, .9), (1.0, .95),
                                                                                              (2.0, .9))]
        rows += [row(p, "final", 1.0, b, 100 + i, [0.9] * (b - 1) + [acc], tuned_at=2, cell=cell)
                 for p in cell.policies for b in (2, 8) for i, acc in enumerate((.95, .97))]
    rows = rows[:-1]  # the withdrawn cell lacks one final: not listed as missing
    both = plan_page.report(rows, [kept, gone], "x.csv", study=sc.SUPERCONVERGENCE)
    alone = plan_page.report([r for r in rows if r["device"] == "pytorch"], [kept], "x.csv",
                             study=sc.SUPERCONVERGENCE)
    assert "## VGG-8 on `gokmen-vlasov`" in both and "**Withdrawn:** Its backward pass carried no signal. " in both
    gone_part = both[both.index("## VGG-8 on `gokmen-vlasov`"):]
    assert "| one-cycle | 96.00 ± 1.41 (n=2) | 96.00 ± 1.41 (n=2) |" in gone_part  # its rows are shown
    # its comparisons are not in the family: the kept cell's Holm p-values are those it has alone
    kept_part = both[both.index("## VGG-8 on `pytorch`"):both.index("## VGG-8 on `gokmen-vlasov`")]
    assert kept_part in alone
    assert "None: every run of the plan has a row." in both
    assert [panel[0] for panel in plan_page.budget_panels(rows, [kept])] == ["VGG-8, pytorch"]
    # nothing more is trained for it: named, it is a one-line error; the whole plan skips it
    args = argparse.Namespace(cells=[gone.name], policies=None, budgets=None, tune_budgets=None, seeds=None,
                              tune_seeds=None, grid=None, reference=None)
    with pytest.raises(SystemExit, match=r"cell 'vgg8/gokmen-vlasov' is withdrawn \(Its backward pass carried no "
                                         r"signal.\); its rows stay on the page"):
        plans.select(args, (kept, gone))
