"""Plan studies: a study declared as data (:class:`Study`: one :class:`Cell` per network, dataset and device, each
with its policies, budgets, paired seeds, tuning budgets, tuning grid and long reference) that expands into runs on
the sweep executor, appends one row per finished run to its CSV, and renders its page and figure from the CSV alone.

The tuning rule: each policy is trained at each grid scale for each of the cell's ``tune_budgets`` with
``tune_seeds`` seeds and read on the validation split only; the best mean final validation accuracy (a diverged
seed counts 0; ties: the smaller scale) is the tuned scale; a tuned scale on the edge of the grid extends the grid
×2 (or ÷2) up to :data:`MAX_EXTENSIONS` times; a final budget reuses the tuning of the nearest tuning budget on a log
scale. Finals use paired seeds ``FINAL_SEED0``...; the long reference is the best conventional policy on validation
at the longest tuning budget. Policies are :mod:`aihwkit_sc.experiments.policies`' (``POLICY+xd-MODE``: with
``xd_refresh``).

The built-in plan studies (``superconvergence``, ``xd-refresh``) declare their plans in ``benchmarks/``; a plugin
declares its own :class:`Study` and registers ``lambda argv: plans.main(argv, MY_STUDY)`` through
``register_studies``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.executor import Job
from aihwkit_sc.experiments.policies import CONVENTIONAL, DIGITAL_LR, run_spec
from aihwkit_sc.experiments.studies import (
    StudyTable,
    add_study_options,
    missing,
    run_then_report,
    train_rows,
    write_page,
)
from aihwkit_sc.experiments.tables import (
    COLLAPSE_FACTOR,
    collapsed,
    holm,
    markdown_table,
    mean_std,
    paired_difference,
    paired_p_value,
)
from aihwkit_sc.plots import Series, plot_budget_panels, plot_layer_panels
from aihwkit_sc.training import TrainConfig

VALIDATION = 500
FINAL_SEED0 = 100
MAX_EXTENSIONS = 3
CHANCE = 0.1
NETWORKS = {"lenet5": "LeNet-5", "vgg8": "VGG-8"}
DATASETS = {"mnist-5k": "mnist-5k (28×28)",
            "mnist-5k-32": "mnist-5k padded to 32×32 and repeated to 3 channels (VGG-8 takes 32×32×3)"}


@dataclass(frozen=True)
class Cell:
    """One (network, dataset, device) of the plan and how it is run."""

    model: str
    dataset: str
    device: str
    policies: tuple[str, ...]
    budgets: tuple[int, ...]
    seeds: int
    tune_budgets: tuple[int, ...]
    tune_seeds: int
    grid: tuple[float, ...]
    reference: int | None = None
    baseline: str | None = None
    """The policy every other one is compared with at each budget (``other − baseline``); ``None``: one-cycle
    against every other policy (``one-cycle − other``)."""

    @property
    def name(self) -> str:
        return f"{self.model}/{self.device}"

    @property
    def digital(self) -> bool:
        return self.device == "pytorch"

    def tuned_at(self, budget: int) -> int:
        """The tuning budget whose tuned scale a final at ``budget`` uses: the nearest on a log scale (ties: the
        longer one)."""
        return min(sorted(self.tune_budgets, reverse=True), key=lambda t: abs(math.log(budget / t)))


@dataclass(frozen=True)
class Study:
    """A study built on this plan machinery: its name in the study registry, script, page title, plan and files."""

    name: str
    script: str
    title: str
    plan: tuple[Cell, ...]
    csv: Path
    out: Path


FIELDS = ("model", "dataset", "device", "policy", "phase", "scale", "budget", "seed", "status", "build", "tuned_at",
          "accuracies", "final_accuracy", "xd_set", "xd", "bit_length", "capped", "wall_time_s", "peak_pulses")
KEY = ("model", "device", "policy", "phase", "scale", "budget", "seed")


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["model"], row["device"], row["policy"], row["phase"], float(row["scale"]), int(row["budget"]),
            int(row["seed"]))


def table(path: Path) -> StudyTable:
    """The study's CSV; a row torn by a crash (key or status missing) is left out, so its run is trained again."""
    return StudyTable(path, FIELDS, required=(*KEY, "status"))


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for row in table(path).read():
        parsed: dict[str, Any] = dict(row)
        for name in ("accuracies", "xd_set", "xd", "bit_length", "capped", "peak_pulses"):
            parsed[name] = json.loads(row.get(name) or "[]")  # peak_pulses: empty in rows older than the field
        parsed["scale"], parsed["budget"], parsed["seed"] = float(row["scale"]), int(row["budget"]), int(row["seed"])
        parsed["tuned_at"] = int(row["tuned_at"]) if row["tuned_at"] else None
        parsed["final_accuracy"] = float(row["final_accuracy"]) if row["final_accuracy"] else None
        if parsed["status"] == "complete" and collapsed(parsed["accuracies"]):
            parsed["status"] = "collapsed"
        rows.append(parsed)
    return rows


def _sig(values: Iterable[float]) -> list[float]:
    return [float(f"{v:.4g}") for v in values]


def compact(record: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: per-epoch accuracies of the phase's split; per epoch and analog layer ``x·d``, bit length and
    capped fraction (finals); the ``x·d`` that set the device LR; the build."""
    from aihwkit_sc import seeding

    metrics, summary = record["metrics"], record["summary"]
    split = "val_accuracy" if meta["phase"] == "tune" else "test_accuracy"
    accuracies = [round(m[split], 4) for m in metrics]
    status = summary["status"]
    if status == "complete" and collapsed(accuracies):
        status = "collapsed"
    xd_set = (summary.get("schedule_options") or {}).get("xd_product")
    telemetry = [m.get("update_telemetry") or [] for m in metrics]
    return {**meta, "status": status, "build": summary.get("aihwkit_build") or seeding.build_label(),
            "accuracies": accuracies,
            "final_accuracy": accuracies[-1] if status in ("complete", "collapsed") else None,
            "xd_set": _sig(xd_set if isinstance(xd_set, list) else [xd_set]) if xd_set is not None else [],
            "xd": [_sig(m["xd_product"]) for m in metrics if m.get("xd_product")],
            "bit_length": [[round(layer["bit_length"], 3) if layer["bit_length"] is not None else None
                            for layer in t] for t in telemetry if t],
            "capped": [[round(layer["capped"], 4) if layer["capped"] is not None else None
                        for layer in t] for t in telemetry if t],
            "peak_pulses": [[round(layer["peak_pulses"], 3) if layer.get("peak_pulses") is not None else None
                             for layer in t] for t in telemetry if t],
            "wall_time_s": round(sum(m["wall_time_s"] for m in metrics), 1)}


XD_VARIANT = "+xd-"
"""``POLICY+xd-MODE`` is ``POLICY`` with ``xd_refresh=MODE`` (the device peak follows x·d)."""


def policy_spec(policy: str, scale: float, digital: bool) -> tuple[str, dict[str, Any], float]:
    """:func:`run_spec` of a policy name, variants (``anneal+xd-epoch``) included."""
    base, _, mode = policy.partition(XD_VARIANT)
    schedule, options, lr = run_spec(base, scale, digital=digital)
    return schedule, options | ({"xd_refresh": mode} if mode else {}), lr


def to_job(meta: dict[str, Any], cell: Cell, args: argparse.Namespace) -> Job:
    schedule, options, lr = policy_spec(meta["policy"], meta["scale"], cell.digital)
    config = TrainConfig(model=cell.model, preset=cell.device, dataset=cell.dataset, schedule=schedule,
                         schedule_options=options, epochs=meta["budget"], batch_size=64, lr=lr, momentum=0.9,
                         seed=meta["seed"], validation=args.validation, limit=args.limit,
                         count_pulses=meta["phase"] == "final" and not cell.digital)
    return Job(f"{meta['phase']}/{meta['policy']}", cell.name, meta["seed"], config,
               args.work_dir / cell.model / cell.device / meta["phase"]
               / f"{meta['policy']}-x{meta['scale']:g}-e{meta['budget']}" / f"s{meta['seed']}")


def train_missing(wanted: list[dict[str, Any]], cell: Cell, args: argparse.Namespace) -> None:
    """Train the runs of ``wanted`` without a row in the CSV, appending each run's row as it ends."""
    todo = missing(wanted, {key(r) for r in read_rows(args.csv)}, key)
    if not todo:
        return
    print(f"{cell.name}: {len(todo)} of {len(wanted)} runs to train", file=sys.stderr)
    train_rows(todo, lambda meta: to_job(meta, cell, args), lambda meta, record: [compact(record, meta)],
               table(args.csv), workers=args.workers, quiet=args.quiet)


def runs(cell: Cell, phase: str, policy: str, scales: Iterable[float], budgets: Iterable[int],
         seeds: Iterable[int], tuned_at: int | None = None) -> list[dict[str, Any]]:
    return [{"model": cell.model, "dataset": cell.dataset, "device": cell.device, "policy": policy, "phase": phase,
             "scale": float(scale), "budget": budget, "seed": seed, "tuned_at": tuned_at if tuned_at else ""}
            for scale in scales for budget in budgets for seed in seeds]


def tune_scores(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int) -> dict[float, list[float]]:
    """scale -> final validation accuracies of ``policy``'s tuning runs at ``budget`` (a diverged run counts 0)."""
    out: dict[float, list[float]] = {}
    for r in rows:
        if (r["model"], r["device"], r["policy"], r["phase"], r["budget"]) == (cell.model, cell.device, policy,
                                                                               "tune", budget):
            out.setdefault(r["scale"], []).append(r["final_accuracy"] or 0.0)
    return out


def best_scale(scores: dict[float, list[float]]) -> float | None:
    return max(sorted(scores), key=lambda s: statistics.mean(scores[s])) if scores else None


def grid_of(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int) -> list[float]:
    """The tuning grid of ``policy`` at ``budget``: the cell's grid, extended by x2 (or /2) while the best scale sits
    on its edge (at most ``MAX_EXTENSIONS`` times)."""
    grid = sorted(cell.grid)
    scores = tune_scores(rows, cell, policy, budget)
    for _ in range(MAX_EXTENSIONS):
        if not all(s in scores for s in grid):
            break
        best = best_scale({s: scores[s] for s in grid})
        if best == grid[-1]:
            grid.append(grid[-1] * 2)
        elif best == grid[0]:
            grid.insert(0, grid[0] / 2)
        else:
            break
    return grid


def tuned(rows: list[dict[str, Any]], cell: Cell, policy: str, budget: int) -> float | None:
    """The tuned scale of ``policy`` at tuning budget ``budget`` (None until its whole grid is trained)."""
    grid = grid_of(rows, cell, policy, budget)
    scores = tune_scores(rows, cell, policy, budget)
    if not all(len(scores.get(s, [])) >= cell.tune_seeds for s in grid):
        return None
    return best_scale({s: scores[s] for s in grid})


def reference_policy(rows: list[dict[str, Any]], cell: Cell) -> str | None:
    """The best conventional policy at the longest tuning budget (mean validation accuracy at its tuned scale)."""
    budget = max(cell.tune_budgets)
    best: tuple[float, str] | None = None
    for policy in CONVENTIONAL:
        if policy not in cell.policies:
            continue
        scale = tuned(rows, cell, policy, budget)
        if scale is None:
            return None
        score = statistics.mean(tune_scores(rows, cell, policy, budget)[scale])
        if best is None or score > best[0]:
            best = (score, policy)
    return best[1] if best else None


def final_seeds(cell: Cell) -> range:
    return range(FINAL_SEED0, FINAL_SEED0 + cell.seeds)


def wanted_runs(rows: list[dict[str, Any]], cell: Cell) -> tuple[list[dict[str, Any]], list[str]]:
    """The runs the plan wants now (tuning grids as far as they are known; finals whose tuning is done) and what
    is still waiting on tuning."""
    want: list[dict[str, Any]] = []
    waiting: list[str] = []
    for budget in cell.tune_budgets:
        for policy in cell.policies:
            want += runs(cell, "tune", policy, grid_of(rows, cell, policy, budget), [budget], range(cell.tune_seeds))
    for policy in cell.policies:
        for budget in cell.budgets:
            at = cell.tuned_at(budget)
            scale = tuned(rows, cell, policy, at)
            if scale is None:
                waiting.append(f"{policy} at {budget} epochs (tuning at {at})")
            else:
                want += runs(cell, "final", policy, [scale], [budget], final_seeds(cell), at)
    if cell.reference:
        best = reference_policy(rows, cell)
        if best is None:
            waiting.append(f"the {cell.reference}-epoch reference (tuning at {max(cell.tune_budgets)})")
        else:
            at = max(cell.tune_budgets)
            want += runs(cell, "final", best, [tuned(rows, cell, best, at) or 0.0], [cell.reference],
                         final_seeds(cell), at)
    return want, waiting


def run_cell(cell: Cell, args: argparse.Namespace) -> None:
    """Tune (extending grids while a best scale sits on an edge), then train the finals and the reference."""
    while True:
        want, _ = wanted_runs(read_rows(args.csv), cell)
        if not missing(want, {key(r) for r in read_rows(args.csv)}, key):
            return
        before = len(read_rows(args.csv))
        train_missing(want, cell, args)
        if len(read_rows(args.csv)) == before:  # nothing could be trained (every run failed to start)
            raise SystemExit(f"{cell.name}: no run finished; see the run folders under {args.work_dir}")


# ----------------------------------------------------------------------------------------------------------- page


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
    text = f"{mean_std([accuracy(r) for r in rs])} (n={len(rs)})"
    for status in ("diverged", "collapsed"):
        k = sum(r["status"] == status for r in rs)
        if k:
            text += f", {k} {status}"
    return text


def reach_epoch(r: dict[str, Any], target: float) -> int | None:
    """The first epoch whose test accuracy reaches ``target`` (points); None when none does."""
    return next((i + 1 for i, a in enumerate(r["accuracies"]) if 100 * a >= target), None)


def comparisons(rows: list[dict[str, Any]], cell: Cell) -> list[tuple[str, list[float]]]:
    """The cell's paired comparisons (label, differences in points by seed): one-cycle against each other policy at
    every budget, and each policy at every budget against the long reference."""
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
    ref = reference_policy(rows, cell)
    if cell.reference and ref:
        reference = cell_runs(final, ref, cell.reference)
        for policy in cell.policies:
            for budget in cell.budgets:
                out.append((f"{policy} {budget} ep − reference", pair(cell_runs(final, policy, budget), reference)))
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
        family += [(cell, label, d) for label, d in comparisons(rows, cell) if len(d) >= 2]
    raw = [paired_p_value(d) or 1.0 for _, _, d in family]
    adjusted = dict(zip((id(f) for f in family), holm(raw), strict=True)) if family else {}
    raw_of = dict(zip((id(f) for f in family), raw, strict=True))
    missing_lines: list[str] = []
    for cell in cells:
        if any(key(r)[:2] == (cell.model, cell.device) for r in rows):
            lines += section(rows, cell, family, raw_of, adjusted, missing_lines)
        else:
            missing_lines.append(f"- `{cell.name}`: not started. `--cells {cell.name}` trains this cell alone.")
    if any(finals(rows, c) for c in cells):  # plot() draws the cells with finals next to the page
        image = figure or study.out.stem + ".png"
        lines += [f"![Test accuracy against budget, mean with 95 % interval, per cell]({image})", ""]
    if any(r["bit_length"] for c in cells for r in finals(rows, c)):  # plot_pulses() draws it
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
    want, waiting = wanted_runs(rows, cell)
    todo = missing(want, {key(r) for r in rows}, key)
    if todo or waiting:
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
            row.append(", ".join(f"×{s:g}: {100 * statistics.mean(v):.1f}" + (" ✓" if s == best else "")
                                 for s, v in sorted(scores.items())) or "–")
        body.append(row)
    lines += [*markdown_table(header, body), ""]
    reuse = "; ".join(f"{b} epochs use the tuning at {cell.tuned_at(b)}" for b in cell.budgets)
    lines += [f"Which budgets reuse which tuning: {reuse}"
              + (f"; the {cell.reference}-epoch reference uses the tuning at {max(cell.tune_budgets)}." if
                 cell.reference else "."), ""]
    final = finals(rows, cell)
    ref = reference_policy(rows, cell)
    reference = cell_runs(final, ref, cell.reference) if ref and cell.reference else []
    # accuracy against budget
    lines += ["### Test accuracy against budget", ""]
    header = ["policy"] + [f"{b} epochs" for b in cell.budgets]
    body = [[policy] + [describe(cell_runs(final, policy, b)) for b in cell.budgets] for policy in cell.policies]
    lines += [*markdown_table(header, body), ""]
    if cell.reference:
        if reference:
            lines += [f"Long reference: `{ref}` (the best conventional policy on validation at "
                      f"{max(cell.tune_budgets)} epochs) for {cell.reference} epochs: {describe(reference)}.", ""]
        else:
            lines += [f"Long reference ({cell.reference} epochs): not trained yet.", ""]
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


def select(args: argparse.Namespace, plan: tuple[Cell, ...]) -> list[Cell]:
    """The plan's cells named by ``--cells`` (all by default), with the toy-size overrides applied."""
    names = [c.name for c in plan]
    unknown = [n for n in args.cells or [] if n not in names]
    if unknown:
        raise SystemExit(f"error: unknown cell {unknown[0]!r}: choose from {', '.join(names)}")
    cells = [c for c in plan if not args.cells or c.name in args.cells]
    given = (("policies", args.policies), ("budgets", args.budgets), ("tune_budgets", args.tune_budgets),
             ("seeds", args.seeds), ("tune_seeds", args.tune_seeds), ("grid", args.grid), ("reference", args.reference))
    overrides: dict[str, Any] = {k: v for k, v in given if v is not None}
    changes: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return [replace(c, **changes) for c in cells]


def parse(argv: list[str] | None, study: Study) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=study.title)
    p.add_argument("--cells", nargs="+", metavar="MODEL/DEVICE", help="train only these cells of the plan")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work-dir", type=Path, default=Path("runs") / study.name)
    p.add_argument("--validation", type=int, default=VALIDATION)
    p.add_argument("--limit", type=int, default=None, help="training samples per run (toy runs)")
    toy = p.add_argument_group("toy-size overrides of every selected cell (tests)")
    toy.add_argument("--policies", nargs="+", choices=sorted({p for c in study.plan for p in c.policies}))
    toy.add_argument("--budgets", nargs="+", type=int)
    toy.add_argument("--tune-budgets", nargs="+", type=int)
    toy.add_argument("--seeds", type=int)
    toy.add_argument("--tune-seeds", type=int)
    toy.add_argument("--grid", nargs="+", type=float)
    toy.add_argument("--reference", type=int)
    add_study_options(p, csv=study.csv, out=study.out)
    return p.parse_args(argv)


def main(argv: list[str] | None, study: Study) -> None:
    """A plan study's command: train what the CSV lacks, cell by cell (the page rewritten after each), then the page
    (``--report-only``: only the page). Options: ``--cells``, ``--workers``, ``--work-dir``, ``--validation``,
    ``--limit``, toy-size overrides of every cell, and the study options (``--csv``, ``--out``, ``--quiet``)."""
    args = parse(argv, study)
    cells = select(args, study.plan)

    def run_missing() -> None:
        for cell in cells:
            try:
                run_cell(cell, args)
            finally:  # the page follows the rows, whatever stops the cell
                rows = read_rows(args.csv)
                if rows:
                    write_report_for(rows)

    def write_report_for(rows: list[dict[str, Any]]) -> str:
        every = select(argparse.Namespace(**{**vars(args), "cells": None}), study.plan)  # the page: the whole plan
        write_page(args.out, report(rows, every, args.csv.name, args.validation, study=study,
                                           figure=args.out.with_suffix(".png").name), findings=True)
        plot(rows, every, args.out)
        plot_pulses(rows, every, args.out)
        return str(args.out)

    run_then_report(args, run_missing, lambda: read_rows(args.csv), write_report_for)
