"""Do aihwkit build variants train analog networks faster, and do they still train the same?

LeNet-5 on Gokmen-Vlasov (stochastic pulses, cycle-to-cycle and I/O noise), the real training loop on mnist-5k:
``--batches`` batches of 64 per epoch, one warm-up epoch and ``--epochs`` timed epochs, one torch thread, one process
at a time (``throughput_worker.py`` under each variant's wheel, ``variants.py``). For every seed, every variant runs
once, back to back, so a seed's runs share the machine's load and its data order and device-to-device draws.

Variants (``scripts/aihwkit_wheel.sh``): ``stock`` (aihwkit 1.2.0 as published), ``seeded`` (+ the seed patch),
``native`` (seeded, ``-march=native``), ``fastrand`` (seeded, aihwkit's ``RPU_USE_FASTRAND``/``RPU_USE_FASTMOD``:
another random stream; what ``make install`` builds). The page reports, per variant, training samples/s
(the epochs' training part) as a ratio to stock paired by seed (geometric mean, 95 % t interval on the log ratios),
and test accuracy on the 1,000 test digits after the run, with the paired difference to the seeded build (95 % t
interval; "no difference" when it holds 0), and whether a variant's metrics are bit-identical to the seeded build's.

Every run appends one row to ``docs/results/aihwkit-builds.csv`` (``--csv``) at once; a (variant, seed) already there
is not run again, so the study continues where it stopped. The page is regenerated from the CSV alone:

    python benchmarks/study_builds.py                   # run what is missing, rewrite the page
    python benchmarks/study_builds.py --report-only     # the page from the committed CSV
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from variants import INSTALLED, VARIANTS, measure, variant_site

from aihwkit_sc.experiments.studies import StudyTable, add_study_options, missing, run_then_report, write_page
from aihwkit_sc.experiments.tables import markdown_table, mean_std, paired_difference

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
FIELDS = ["variant", "seed", "samples_per_s", "train_loss", "test_accuracy", "metrics_json", "batches", "epochs",
          "machine"]
BASE, REFERENCE = "stock", "seeded"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The complete rows, typed (a line torn by a crash is left out: its run is measured again)."""
    rows: list[dict[str, Any]] = []
    for row in StudyTable(path, FIELDS).read():
        row_: dict[str, Any] = dict(row)
        row_["seed"] = int(row["seed"])
        for key in ("samples_per_s", "train_loss", "test_accuracy"):
            row_[key] = float(row[key])
        rows.append(row_)
    return rows


def append_row(path: Path, row: dict[str, Any]) -> None:
    StudyTable(path, FIELDS).append([row])


def run_missing(args: argparse.Namespace) -> None:
    done = {(r["variant"], r["seed"]) for r in read_rows(args.csv)}
    sites = {v: (None if v == INSTALLED else variant_site(v)) for v in args.variants}
    unbuilt = [v for v, site in sites.items() if site is None and v != INSTALLED]
    if unbuilt:
        raise SystemExit(f"error: no {', '.join(unbuilt)} aihwkit wheel in the cache; build it with "
                         f"'PY=.venv/bin/python scripts/aihwkit_wheel.sh {unbuilt[0]}' (or 'make wheels')")
    todo = missing([(seed, v) for seed in range(args.seeds) for v in args.variants], done, lambda t: (t[1], t[0]))
    for i, (seed, variant) in enumerate(todo, 1):
        result = measure(sites[variant], seed=seed, batches=args.batches, epochs=args.epochs, test_size=0)
        metrics = result["metrics"]
        rate = statistics.median(result["samples_per_s"])
        append_row(args.csv, {
            "variant": variant, "seed": seed, "samples_per_s": f"{rate:.2f}",
            "train_loss": f"{metrics['train_loss']:.6f}", "test_accuracy": f"{metrics['test_accuracy']:.4f}",
            "metrics_json": json.dumps(metrics, sort_keys=True), "batches": args.batches, "epochs": args.epochs,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip()})
        if not args.quiet:
            print(f"[{i}/{len(todo)}] {variant} seed {seed}: {rate:.0f} samples/s, test accuracy "
                  f"{100 * metrics['test_accuracy']:.2f} %", file=sys.stderr)


def ratio_cell(result: tuple[int, float, float, float] | None) -> str:
    if result is None:
        return "–"
    _, mean, low, high = result
    return f"{math.exp(mean):.2f}x [{math.exp(low):.2f}, {math.exp(high):.2f}]"


def diff_cell(result: tuple[int, float, float, float] | None) -> str:
    if result is None:
        return "–"
    _, mean, low, high = result
    verdict = "no difference" if low <= 0 <= high else ("higher" if low > 0 else "lower")
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] ({verdict})"


def report(rows: list[dict[str, Any]]) -> str:
    by = {(r["variant"], r["seed"]): r for r in rows}
    variants = [v for v in (*VARIANTS, INSTALLED) if any(r["variant"] == v for r in rows)]
    body = []
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        seeds = sorted(r["seed"] for r in mine)
        speed = paired_difference([math.log(by[variant, s]["samples_per_s"] / by[BASE, s]["samples_per_s"])
                                   for s in seeds if (BASE, s) in by]) if variant != BASE else None
        accuracy = paired_difference([100 * (by[variant, s]["test_accuracy"] - by[REFERENCE, s]["test_accuracy"])
                                      for s in seeds if (REFERENCE, s) in by]) if variant != REFERENCE else None
        same = [by[variant, s]["metrics_json"] == by[REFERENCE, s]["metrics_json"] for s in seeds
                if (REFERENCE, s) in by]
        identical = "–" if variant == REFERENCE or not same else (
            "all" if all(same) else ("none" if not any(same) else f"{sum(same)} of {len(same)}"))
        body.append([f"`{variant}`", str(len(mine)), mean_std([r["samples_per_s"] for r in mine]),
                     "1" if variant == BASE else ratio_cell(speed),
                     mean_std([100 * r["test_accuracy"] for r in mine]),
                     "–" if variant == REFERENCE else diff_cell(accuracy), identical])
    first = rows[0] if rows else {"batches": "?", "epochs": "?", "machine": "?"}
    lines = [
        "# aihwkit build variants: analog training speed and sameness", "",
        "Generated by `python benchmarks/study_builds.py --report-only` from `docs/results/aihwkit-builds.csv` "
        "(one row per run). LeNet-5 on Gokmen-Vlasov, mnist-5k, batch 64, "
        f"{first['batches']} batches per epoch, one warm-up epoch and {first['epochs']} timed epochs, one torch "
        f"thread, one process at a time ({first['machine']}); every seed runs every variant back to back. Speed: "
        "training samples/s, and its ratio to the stock build paired by seed (geometric mean, 95 % interval). "
        "Accuracy: test accuracy on the 1,000 test digits after the run, and its paired difference to the seeded "
        "build (percentage points, 95 % interval). Identical: seeds whose every metric equals the seeded build's.", "",
        *markdown_table(["variant", "runs", "samples/s", "vs stock", "test accuracy (%)", "− seeded (points)",
                         "identical to seeded"], body), ""]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=[*VARIANTS, INSTALLED])
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--batches", type=int, default=31, help="batches of 64 per epoch")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up epoch")
    add_study_options(p, csv=RESULTS / "aihwkit-builds.csv", out=RESULTS / "aihwkit-builds.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    def write(rows: list[dict[str, Any]]) -> str:
        write_page(args.out, report(rows))
        return str(args.out)

    run_then_report(args, lambda: run_missing(args), lambda: read_rows(args.csv), write)


if __name__ == "__main__":
    main()
