"""Plan studies: a study declared as data (:class:`Study`: one :class:`Cell` per network, dataset and device, each
with its policies, budgets, paired seeds, tuning budgets, tuning grid and long reference) that expands into runs on
the sweep executor, appends one row per finished run to its CSV, and renders its page and figure from the CSV alone.

The tuning rule: each policy is trained at each grid scale for each of the cell's ``tune_budgets`` with
``tune_seeds`` seeds and read on the validation split only; the best mean final validation accuracy (a diverged
seed counts 0; ties: the smaller scale) is the tuned scale; a tuned scale on the edge of the grid extends the grid
×2 (or ÷2) up to ``MAX_EXTENSIONS`` times; a final budget reuses the tuning of the nearest tuning budget on a log
scale. Finals use paired seeds ``FINAL_SEED0``...; the long reference is the best conventional policy on validation
at the longest tuning budget. Policies are :mod:`aihwkit_sc.experiments.policies`' (``POLICY+xd-MODE``: with
``xd_refresh``).

The built-in plan studies (``superconvergence``, ``xd-refresh``) declare their plans in ``benchmarks/``; a plugin
declares its own :class:`Study` and registers ``lambda argv: plans.main(argv, MY_STUDY)`` through
``register_studies``.

This module trains (rows in and out of the CSV, runs onto the executor) and is the command;
:mod:`~aihwkit_sc.experiments.plan_cells` holds the cells and the tuning rule (which runs a plan wants), and
:mod:`~aihwkit_sc.experiments.plan_page` the page and figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.executor import Job
from aihwkit_sc.experiments.plan_cells import (
    FIELDS,
    KEY,
    VALIDATION,
    Cell,
    Study,
    key,
    wanted_runs,
)
from aihwkit_sc.experiments.plan_page import plot, plot_pulses, report
from aihwkit_sc.experiments.policies import run_spec
from aihwkit_sc.experiments.studies import (
    StudyTable,
    add_study_options,
    missing,
    run_then_report,
    train_rows,
    write_page,
)
from aihwkit_sc.experiments.tables import collapsed
from aihwkit_sc.training import TrainConfig

__all__ = ["Cell", "Study", "main"]


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
    """Train the runs of ``wanted`` without a row in the CSV, appending each run's row as it ends. Longest budget
    first (the plan's order among equals): the pool finishes soonest that way, and when compute runs out the runs
    left over are short ones, not the long reference every comparison of its cell needs."""
    todo = sorted(missing(wanted, {key(r) for r in read_rows(args.csv)}, key), key=lambda r: -r["budget"])
    if not todo:
        return
    print(f"{cell.name}: {len(todo)} of {len(wanted)} runs to train", file=sys.stderr)
    train_rows(todo, lambda meta: to_job(meta, cell, args), lambda meta, record: [compact(record, meta)],
               table(args.csv), workers=args.workers, quiet=args.quiet)



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



def select(args: argparse.Namespace, plan: tuple[Cell, ...]) -> list[Cell]:
    """The plan's cells named by ``--cells`` (all by default), with the toy-size overrides applied."""
    names = [c.name for c in plan]
    unknown = [n for n in args.cells or [] if n not in names]
    if unknown:
        raise SystemExit(f"error: unknown cell {unknown[0]!r}: choose from {', '.join(names)}")
    cells = [c for c in plan if not args.cells or c.name in args.cells]
    withdrawn = [c for c in cells if c.withdrawn and args.cells]
    if withdrawn:
        raise SystemExit(f"error: cell {withdrawn[0].name!r} is withdrawn ({withdrawn[0].withdrawn}); its rows stay "
                         f"on the page and nothing more is trained for it")
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
        for cell in (c for c in cells if not c.withdrawn):
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
        active = [c for c in every if not c.withdrawn]
        plot(rows, active, args.out)
        plot_pulses(rows, active, args.out)
        return str(args.out)

    run_then_report(args, run_missing, lambda: read_rows(args.csv), write_report_for)
