"""A plan study's page and figures, computed from its rows alone: per cell the tuning table, test accuracy against
budget, epochs to reach the long reference, paired differences (Holm-adjusted across the whole page) and update
telemetry; the accuracy and pulse figures' data (:func:`budget_panels`, :func:`pulse_series`), drawn by
:mod:`aihwkit_sc.plots`.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.plan_cells import (
    CHANCE,
    DATASETS,
    NETWORKS,
    VALIDATION,
    Cell,
    Study,
    key,
    reference_policy,
    tune_scores,
    tuned,
    wanted_runs,
)
from aihwkit_sc.experiments.policies import DIGITAL_LR
from aihwkit_sc.experiments.studies import missing
from aihwkit_sc.experiments.tables import (
    COLLAPSE_FACTOR,
    holm,
    markdown_table,
    mean_std,
    paired_difference,
    paired_p_value,
)
from aihwkit_sc.plots import Series, plot_budget_panels, plot_layer_panels


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def finals(rows: list[dict[str, Any]], cell: Cell) -> list[dict[str, Any]]:
    """The cell's final runs at the current tuned scales (finals left at an earlier tuned scale, before a grid was
    extended, stay in the CSV but are not reported)."""
    out = []
    ref = reference_policy(rows, cell)
    for r in rows:
        if (r["model"], r["device"], r["phase"]) != (cell.model, cell.device, "final"):
            continue
        wanted = (r["budget"] == cell.reference and r["policy"] == ref) or r["budget"] in cell.budgets
        if wanted and r["tuned_at"] and tuned(rows, cell, r["policy"], r["tuned_at"]) == r["scale"]:
            out.append(r)
    return out


def accuracy(r: dict[str, Any]) -> float:
    """Final test accuracy in points; a diverged run counts chance."""
    return 100 * (r["final_accuracy"] if r["final_accuracy"] is not None else CHANCE)


def cell_runs(final: list[dict[str, Any]], policy: str, budget: int) -> list[dict[str, Any]]:
    return sorted((r for r in final if r["policy"] == policy and r["budget"] == budget), key=lambda r: r["seed"])


def describe(rs: list[dict[str, Any]]) -> str:
    """mean ± std (n), with diverged and collapsed runs named."""
    if not rs:
        return "–"
    return f"{mean_std([accuracy(r) for r in rs])} (n={len(rs)})" + "".join(f", {n}" for n in failures(rs))


def failures(rs: list[dict[str, Any]]) -> list[str]:
    """"1 diverged", "2 collapsed": the runs of ``rs`` that did not train normally, by status."""
    return [f"{k} {status}" for status in ("diverged", "collapsed") if (k := sum(r["status"] == status for r in rs))]


def tune_failures(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int, scale: float) -> str:
    """" (1 diverged)"-style note for the tuning runs at ``scale`` that diverged or collapsed ("" for none): a
    diverged run scores 0 on validation, which the page must not show as a measured accuracy."""
    runs = [r for r in rows if (r["model"], r["device"], r["policy"], r["phase"], r["budget"], r["scale"])
            == (cell.model, cell.device, policy, "tune", budget, scale)]
    named = failures(runs)
    return f" ({', '.join(named)})" if named else ""


def reach_epoch(r: dict[str, Any], target: float) -> int | None:
    """The first epoch whose test accuracy reaches ``target`` (points); None when none does."""
    return next((i + 1 for i, a in enumerate(r["accuracies"]) if 100 * a >= target), None)


def long_reference(rows: list[dict[str, Any]], cell: Cell) -> tuple[str, int, bool] | None:
    """What the cell's budgets are measured against: (policy, budget, stands in). The long reference (the best
    conventional policy on validation at the longest tuning budget, trained for ``cell.reference`` epochs) where the
    cell has one; in a cell without one that compares one-cycle with the others, that policy at the cell's longest
    budget stands in for it (``True``); None when neither exists yet."""
    ref = reference_policy(rows, cell)
    if ref is None:
        return None
    if cell.reference:
        return ref, cell.reference, False
    if cell.baseline is None and len(cell.budgets) > 1:
        return ref, max(cell.budgets), True
    return None


def comparisons(rows: list[dict[str, Any]], cell: Cell) -> list[tuple[str, list[float]]]:
    """The cell's paired comparisons (label, differences in points by seed): one-cycle against each other policy at
    every budget, and each policy at every budget against the long reference (or, where it stands in for one, at
    every shorter budget against the best conventional policy's longest budget: :func:`long_reference`)."""
    final = finals(rows, cell)
    out = []

    def pair(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[float]:
        acc_b = {r["seed"]: accuracy(r) for r in b}
        return [accuracy(r) - acc_b[r["seed"]] for r in a if r["seed"] in acc_b]

    for budget in cell.budgets:
        for other in cell.policies:
            if cell.baseline is not None:
                if other != cell.baseline:
                    out.append((f"{budget} ep: {other} − {cell.baseline}",
                                pair(cell_runs(final, other, budget), cell_runs(final, cell.baseline, budget))))
            elif other != "one-cycle" and "one-cycle" in cell.policies:
                out.append((f"{budget} ep: one-cycle − {other}",
                            pair(cell_runs(final, "one-cycle", budget), cell_runs(final, other, budget))))
    long = long_reference(rows, cell)
    if long:
        ref, long_budget, stands_in = long
        reference = cell_runs(final, ref, long_budget)
        for policy in cell.policies:
            for budget in cell.budgets:
                if not stands_in:
                    out.append((f"{policy} {budget} ep − reference",
                                pair(cell_runs(final, policy, budget), reference)))
                elif budget < long_budget:
                    out.append((f"{policy} {budget} ep − {ref} {long_budget} ep",
                                pair(cell_runs(final, policy, budget), reference)))
    return out


def report(rows: list[dict[str, Any]], cells: list[Cell], csv_name: str, validation: int = VALIDATION, *,
           study: Study, figure: str | None = None) -> str:
    lines = [f"# {study.title}", "",
             f"Generated by `python benchmarks/{study.script} --report-only` from `{csv_name}` "
             f"(one row per run; `aihwkit-sc study report {study.name}` is the same command). Every number on "
             "this page is computed from that file. The plan (cells, budgets, seeds, tuning rule) is `PLAN` in "
             f"`benchmarks/{study.script}`; its docstring gives the protocol.", "",
             "Protocol in short: each policy starts every analog layer at its device peak (`scale` × `dw_min / s`; on "
             f"`pytorch` `scale` × {DIGITAL_LR:g} globally), tuned on the validation split ({validation} held-out "
             "training digits), then trained with paired seeds and read once on the test set. Accuracies are test "
             f"accuracy in % (mean ± std over seeds; a diverged run counts {100 * CHANCE:g} %). A run is *collapsed* "
             f"when no epoch exceeded {COLLAPSE_FACTOR:g}× chance; it still counts. Paired differences are in points "
             "with 95 % t intervals; p-values are Holm-adjusted across every comparison on this page (one family); "
             "a difference is called only when its adjusted p is below 0.05, otherwise the page says "
             "*no difference*.", ""]
    builds = sorted({r["build"] for r in rows if r.get("build")})
    lines += [f"Builds recorded in the rows: {', '.join(f'`{b}`' for b in builds)}.", ""]
    family: list[tuple[Cell, str, list[float]]] = []
    for cell in cells:
        if not cell.withdrawn:
            family += [(cell, label, d) for label, d in comparisons(rows, cell) if len(d) >= 2]
    raw = [paired_p_value(d) or 1.0 for _, _, d in family]
    adjusted = dict(zip((id(f) for f in family), holm(raw), strict=True)) if family else {}
    raw_of = dict(zip((id(f) for f in family), raw, strict=True))
    missing_lines: list[str] = []
    for cell in cells:
        if any(key(r)[:2] == (cell.model, cell.device) for r in rows):
            lines += section(rows, cell, family, raw_of, adjusted, missing_lines)
        elif not cell.withdrawn:
            missing_lines.append(f"- `{cell.name}`: not started. `--cells {cell.name}` trains this cell alone.")
    active = [c for c in cells if not c.withdrawn]
    if any(finals(rows, c) for c in active):  # plot() draws the cells with finals next to the page
        image = figure or study.out.stem + ".png"
        lines += [f"![Test accuracy against budget, mean with 95 % interval, per cell]({image})", ""]
    if any(r["bit_length"] for c in active for r in finals(rows, c)):  # plot_pulses() draws it
        image = pulses_figure(Path(figure or study.out.stem + ".png")).name
        lines += [f"![Pulses per cross-point per epoch and analog layer, at each cell's longest final budget: the "
                  f"pulses at a row's most-pulsed cross-point, or the mean bit length for rows recorded before that "
                  f"field]({image})", ""]
    lines += ["## Missing cells", ""]
    if missing_lines:
        lines += ["Runs the plan wants that have no row yet (compute ran out); this command trains exactly those and "
                  "rewrites this page:", "", f"    python benchmarks/{study.script}", "", *missing_lines]
    else:
        lines += ["None: every run of the plan has a row."]
    return "\n".join(lines) + "\n"


def section(rows: list[dict[str, Any]], cell: Cell, family: list[tuple[Cell, str, list[float]]],
            raw_of: dict[int, float], adjusted: dict[int, float], missing_lines: list[str]) -> list[str]:
    title = f"{NETWORKS.get(cell.model, cell.model)} on `{cell.device}`"
    lines = [f"## {title}", "", f"Data: {DATASETS.get(cell.dataset, cell.dataset)}.", ""]
    if cell.withdrawn:
        lines += [f"**Withdrawn:** {cell.withdrawn} Its rows are kept below; nothing more is trained for it, and its "
                  "comparisons are not in the page's family.", ""]
    want, waiting = wanted_runs(rows, cell)
    todo = missing(want, {key(r) for r in rows}, key)
    if (todo or waiting) and not cell.withdrawn:
        n_tune = sum(r["phase"] == "tune" for r in todo)
        missing_lines.append(f"- `{cell.name}`: {n_tune} tuning runs and {len(todo) - n_tune} final runs missing"
                             + (f"; waiting on tuning: {'; '.join(waiting)}" if waiting else "") + ". "
                             f"`--cells {cell.name}` trains this cell alone.")
    # tuning
    lines += ["### Tuning (validation accuracy %, mean over tuning seeds; ✓ the tuned scale)", ""]
    header = ["policy"] + [f"tuned at {b} epochs" for b in cell.tune_budgets]
    body = []
    for policy in cell.policies:
        row = [policy]
        for budget in cell.tune_budgets:
            scores = tune_scores(rows, cell, policy, budget)
            best = tuned(rows, cell, policy, budget)
            row.append(", ".join(f"×{s:g}: {100 * statistics.mean(v):.1f}"
                                 + tune_failures(rows, cell, policy, budget, s) + (" ✓" if s == best else "")
                                 for s, v in sorted(scores.items())) or "–")
        body.append(row)
    lines += [*markdown_table(header, body), ""]
    reuse = "; ".join(f"{b} epochs use the tuning at {cell.tuned_at(b)}" for b in cell.budgets)
    lines += [f"Which budgets reuse which tuning: {reuse}"
              + (f"; the {cell.reference}-epoch reference uses the tuning at {max(cell.tune_budgets)}." if
                 cell.reference else "."), ""]
    final = finals(rows, cell)
    long = long_reference(rows, cell)
    reference = cell_runs(final, long[0], long[1]) if long else []
    # accuracy against budget
    lines += ["### Test accuracy against budget", ""]
    header = ["policy"] + [f"{b} epochs" for b in cell.budgets]
    body = [[policy] + [describe(cell_runs(final, policy, b)) for b in cell.budgets] for policy in cell.policies]
    lines += [*markdown_table(header, body), ""]
    if cell.reference:
        if reference:
            lines += [f"Long reference: `{long[0] if long else ''}` (the best conventional policy on validation at "
                      f"{max(cell.tune_budgets)} epochs) for {cell.reference} epochs: {describe(reference)}.", ""]
        else:
            lines += [f"Long reference ({cell.reference} epochs): not trained yet.", ""]
    elif long and reference:
        lines += [f"No separate long reference: `{long[0]}` (the best conventional policy on validation at "
                  f"{max(cell.tune_budgets)} epochs) at the longest budget, {long[1]} epochs, stands in for it: "
                  f"{describe(reference)}.", ""]
    if reference:
        target = statistics.mean(accuracy(r) for r in reference)
        lines += [f"### Epochs to reach the reference's mean ({target:.2f} %)", "",
                  "Runs reaching it within the budget / runs, and the median first epoch at or above it among those "
                  "that reach it (a run that never does counts as not reached).", ""]
        body = []
        for policy in cell.policies:
            row = [policy]
            for b in cell.budgets:
                rs = cell_runs(final, policy, b)
                hits = [e for e in (reach_epoch(r, target) for r in rs) if e is not None]
                row.append(f"{len(hits)}/{len(rs)}" + (f", epoch {statistics.median(hits):g}" if hits else "")
                           if rs else "–")
            body.append(row)
        lines += [*markdown_table(["policy"] + [f"{b} epochs" for b in cell.budgets], body), ""]
    # paired differences
    mine = [f for f in family if f[0] is cell]
    if mine:
        lines += ["### Paired differences (points; raw 95 % interval; p raw and Holm-adjusted across the page)", ""]
        body = []
        for f in mine:
            n, mean, low, high = paired_difference(f[2]) or (0, 0.0, 0.0, 0.0)
            p_adj = adjusted[id(f)]
            verdict = "no difference" if p_adj >= 0.05 else ("higher" if mean > 0 else "lower")
            body.append([f[1], str(n), f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]", f"{raw_of[id(f)]:.3f}",
                         f"{p_adj:.3f}", verdict])
        header = ["comparison", "pairs", "difference [95 % CI]", "p", "p (Holm)", "verdict"]
        lines += [*markdown_table(header, body), ""]
    # telemetry
    tele = [r for r in final if r["bit_length"]]
    peaks = any(r["peak_pulses"] for r in tele)
    if tele:
        lines += ["### Update telemetry of the final runs (mean over seeds, per analog layer)", "",
                  "`x·d set`: the per-sample `max|x|·max|d|` (median over the batch's samples) measured on the first "
                  "training batch, which set the device LR; the same measurement after the first and after the last "
                  "epoch; bit length and capped fraction (rows whose update hit the bit-length cap) in the first "
                  "and the last epoch"
                  + ("; peak pulses: the pulses at a row's most-pulsed cross-point (below 1 when the device LR fires "
                     "less than one pulse there, where the bit length stays 1)." if peaks else "."), ""]
        body = []
        for policy in cell.policies:
            for b in cell.budgets:
                rs = list(cell_runs(tele, policy, b))
                if not rs:
                    continue
                layers = len(rs[0]["xd_set"])

                def mean_at(name: str, epoch: int, layer: int, rs: list[dict[str, Any]] = rs) -> float:
                    values = [r[name][epoch][layer] for r in rs if r[name] and r[name][epoch][layer] is not None]
                    return statistics.mean(values) if values else float("nan")

                body.append([policy, str(b),
                             " / ".join(f"{statistics.mean(r['xd_set'][i] for r in rs):.3g}" for i in range(layers)),
                             " / ".join(f"{mean_at('xd', 0, i):.2g}→{mean_at('xd', -1, i):.2g}" for i in range(layers)),
                             " / ".join(f"{mean_at('bit_length', 0, i):.2f}→{mean_at('bit_length', -1, i):.2f}"
                                        for i in range(layers)),
                             " / ".join(f"{mean_at('capped', 0, i):.2f}→{mean_at('capped', -1, i):.2f}"
                                        for i in range(layers))]
                            + ([" / ".join(f"{mean_at('peak_pulses', 0, i):.2f}→{mean_at('peak_pulses', -1, i):.2f}"
                                           for i in range(layers))] if peaks else []))
        header = ["policy", "epochs", "x·d set (per layer)", "x·d after the first→last epoch",
                  "bit length, first→last epoch", "capped fraction, first→last epoch"]
        header += ["peak pulses, first→last epoch"] if peaks else []
        lines += [*markdown_table(header, body), ""]
    return lines


def budget_panels(rows: list[dict[str, Any]], cells: list[Cell]
                  ) -> list[tuple[str, list[int], dict[str, Series], tuple[str, float, float] | None]]:
    """What :func:`plot` draws: per cell with finals, (title, budgets, policy -> test accuracy against budget as mean
    with 95 % t half-width (x nudged apart per policy), the long reference as (label, mean, half-width) or None)."""
    panels = []
    for cell in cells:
        final = finals(rows, cell)
        if not final:
            continue
        lines: dict[str, Series] = {}
        for k, policy in enumerate(cell.policies):
            xs, ys, errs = [], [], []
            for b in cell.budgets:
                acc = [accuracy(r) for r in cell_runs(final, policy, b)]
                if acc:
                    xs.append(b * (1 + 0.04 * (k - 1.5)))
                    ys.append(statistics.mean(acc))
                    errs.append(_half_width(acc))
            if xs:
                lines[policy] = (xs, ys, errs)
        ref = reference_policy(rows, cell)
        reference = [accuracy(r) for r in cell_runs(final, ref, cell.reference)] if ref and cell.reference else []
        band = None
        if reference:
            band = (f"{ref}, {cell.reference} ep", statistics.mean(reference), _half_width(reference))
        panels.append((f"{NETWORKS.get(cell.model, cell.model)}, {cell.device}", list(cell.budgets), lines, band))
    return panels


def plot(rows: list[dict[str, Any]], cells: list[Cell], out: Path) -> Path | None:
    """Test accuracy against budget (mean with 95 % t interval) per cell, the long reference as a band
    (:func:`budget_panels`), next to the page ``out``; None when no cell has finals."""
    panels = budget_panels(rows, cells)
    if not panels:
        return None
    path = out.with_suffix(".png")
    plot_budget_panels(panels, path)
    return path


def pulses_figure(out: Path) -> Path:
    """Where :func:`plot_pulses` draws, next to the page."""
    return out.with_name(out.stem + "-pulses.png")


PULSE_FIELDS = {"peak_pulses": "pulses at a row's\nmost-pulsed cross-point", "bit_length": "mean bit length"}
"""What :func:`plot_pulses` draws, in order of preference: the peak pulses where every row has them (rows from
before the field have only the bit length, which is at least 1 for any row that updates)."""


def pulse_series(rows: list[dict[str, Any]], cells: list[Cell]
                 ) -> list[tuple[Cell, int, str, dict[str, list[list[float]]]]]:
    """Pulses per cross-point over training, per analog cell with telemetry: (cell, its longest final budget with
    telemetry (not the reference's), the field drawn (:data:`PULSE_FIELDS`), policy -> per layer the mean of that
    field in each epoch over the seeds)."""
    out = []
    for cell in cells:
        tele = [r for r in finals(rows, cell) if r["bit_length"] and r["budget"] in cell.budgets]
        if not tele:
            continue
        budget = max(r["budget"] for r in tele)
        tele = [r for r in tele if r["budget"] == budget]
        name = "peak_pulses" if all(r["peak_pulses"] for r in tele) else "bit_length"
        series = {}
        for policy in cell.policies:
            rs = cell_runs(tele, policy, budget)
            if not rs:
                continue
            # a run that stopped early (diverged) counts in the epochs it trained
            epochs, layers = max(len(r[name]) for r in rs), min(len(r[name][0]) for r in rs)
            series[policy] = [[statistics.mean(v) if (v := [r[name][e][i] for r in rs
                                                            if e < len(r[name]) and r[name][e][i] is not None])
                               else math.nan for e in range(epochs)] for i in range(layers)]
        out.append((cell, budget, name, series))
    return out


def plot_pulses(rows: list[dict[str, Any]], cells: list[Cell], out: Path) -> Path | None:
    """:func:`pulse_series` drawn: analog cells in rows, layers in columns, one line per policy; 1 pulse dotted."""
    shown = pulse_series(rows, cells)
    if not shown:
        return None
    path = pulses_figure(out)
    plot_layer_panels([(f"{NETWORKS.get(cell.model, cell.model)}, {cell.device}", f"epoch (of {budget})",
                        PULSE_FIELDS[name], series) for cell, budget, name, series in shown], path)
    return path


def _half_width(values: list[float]) -> float:
    """Half-width of the 95 % t interval of the mean (0 for a single value)."""
    from scipy import stats

    if len(values) < 2:
        return 0.0
    return float(stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values)))

