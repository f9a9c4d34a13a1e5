"""Does the batched forward/backward of pulsed CPU tiles train like aihwkit's looped one? A paired-seed study.

Both paths run in the same aihwkit build (the ``batched`` variant of ``scripts/aihwkit_wheel.sh``): ``looped`` with
``AIHWKIT_LOOPED_MATRIX=1`` (one IO-managed matrix-vector product per sample and convolution patch, aihwkit's own
code), ``batched`` without it (one GEMM per batch, IO management applied to the whole batch, random numbers drawn in
the looped order). Under one seed the two differ only by the GEMM's summation order and the few outputs that rounding
moves across an ADC step; training then amplifies those differences like any other perturbation.

Each run is the user's command, ``aihwkit-sc train --preset gokmen-vlasov --epochs E --seed S`` (LeNet-5 on
mnist-5k, one-cycle at the default LR, 4,000 training and 1,000 test digits), in a fresh process with the build first
on ``PYTHONPATH`` and one thread per library; the looped and batched runs of a seed run side by side, so they share
the machine's load. The page reports per path the final test accuracy (mean ± std) and training samples/s, the paired
difference batched − looped in accuracy (95 % t interval, paired t-test p, Holm-adjusted across the study's stages,
``STAGES``) and the paired speed ratio (geometric mean, 95 % interval). A run whose test accuracy never left
chance is ``collapsed``.

Every run appends one row to ``--csv`` at once; a (path, seed) already there is not run again, so the study continues
where it stopped. The page and its figure are regenerated from the CSV alone:

    python benchmarks/study_batched.py                  # run what is missing (6 seeds), rewrite the page
    python benchmarks/study_batched.py --report-only    # the page from the committed CSV
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from variants import INSTALLED, variant_site, worker_env

from aihwkit_sc.experiments.studies import StudyTable, add_study_options, missing, run_then_report, write_page
from aihwkit_sc.experiments.tables import collapsed, holm, markdown_table, mean_std, paired_difference, paired_p_value

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
PATHS = ("looped", "batched")
FIELDS = ["path", "seed", "status", "final_test_accuracy", "final_test_loss", "train_loss", "samples_per_s",
          "test_accuracy_per_epoch", "preset", "model", "schedule", "lr", "epochs", "limit", "aihwkit_build",
          "machine"]
BOUND = 0.5
"""The fidelity goal: the accuracy difference's 95 % interval holds 0 and lies within ±BOUND points."""
SHARED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The CSV's complete rows, typed (a line torn by a crash is left out; its run is trained again)."""
    rows: list[dict[str, Any]] = []
    for raw in StudyTable(path, FIELDS, required=("path", "seed", "status", "machine")).read():
        row: dict[str, Any] = dict(raw)
        row["seed"] = int(raw["seed"])
        for key in ("final_test_accuracy", "final_test_loss", "train_loss", "samples_per_s"):
            row[key] = float(raw[key]) if raw[key] not in ("", "None") else math.nan
        row["test_accuracy_per_epoch"] = json.loads(raw["test_accuracy_per_epoch"])
        rows.append(row)
    return rows


def append_row(path: Path, row: dict[str, Any]) -> None:
    StudyTable(path, FIELDS).append([row])


def status_of(summary: dict[str, Any], accuracies: list[float]) -> str:
    status = str(summary["status"])
    if status == "complete" and collapsed(accuracies):  # never above 1.5x chance: named, still counted
        return "collapsed"
    return status


def train_one(site: Path | None, path: str, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One ``aihwkit-sc train`` process on the build at ``site`` (None: the installed one) on ``path``."""
    out = work / f"{path}-s{seed}"
    command = [sys.executable, "-m", "aihwkit_sc", "train", "--preset", args.preset, "--model", args.model,
               "--epochs", str(args.epochs), "--seed", str(seed), "--out", str(out), "--overwrite", "--quiet"]
    if args.limit:
        command += ["--limit", str(args.limit)]
    env = {**SHARED, "AIHWKIT_LOOPED_MATRIX": "1" if path == "looped" else "0"}
    proc = subprocess.run(command, capture_output=True, text=True, env=worker_env(site, env), timeout=6 * 3600)
    summary_file = out / "summary.json"
    if not summary_file.is_file():
        raise RuntimeError(f"train exited {proc.returncode} without a summary: {proc.stderr.strip()[-2000:]}")
    summary = json.loads(summary_file.read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    label = str(summary["aihwkit_build"])
    if ("looped forward/backward" in label) != (path == "looped") or not label.startswith("seeded"):
        raise RuntimeError(f"the {path} run was made by '{label}': not the seeded batched build on the {path} path")
    accuracies = [m["test_accuracy"] for m in metrics]
    config = json.loads((out / "config.json").read_text())
    return {
        "path": path, "seed": seed, "status": status_of(summary, accuracies),
        "final_test_accuracy": f"{summary['final_test_accuracy']:.4f}" if metrics else "",
        "final_test_loss": f"{summary['final_test_loss']:.6f}" if metrics else "",
        "train_loss": f"{metrics[-1]['train_loss']:.6f}" if metrics else "",
        "samples_per_s": f"{statistics.mean(m['samples_per_s'] for m in metrics):.2f}" if metrics else "",
        "test_accuracy_per_epoch": json.dumps([round(a, 4) for a in accuracies]),
        "preset": config["preset"], "model": config["model"], "schedule": config["schedule"], "lr": config["lr"],
        "epochs": args.epochs, "limit": args.limit or "", "aihwkit_build": label,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def run_missing(args: argparse.Namespace) -> None:
    done = {(r["path"], r["seed"]) for r in read_rows(args.csv)}
    site = None if args.build == INSTALLED else variant_site("batched")
    if args.build != INSTALLED and site is None:
        raise SystemExit("error: no batched aihwkit wheel in the cache; build it with "
                         "'PY=.venv/bin/python scripts/aihwkit_wheel.sh batched' (or 'make install')")
    todo = missing([(path, seed) for seed in range(args.seeds) for path in PATHS], done, lambda run: run)
    with tempfile.TemporaryDirectory(prefix="study-batched-") as tmp, ThreadPoolExecutor(args.workers) as pool:
        futures = [pool.submit(train_one, site, path, seed, args, Path(tmp)) for path, seed in todo]
        try:
            for i, future in enumerate(futures, 1):
                row = future.result()
                append_row(args.csv, row)
                if not args.quiet:
                    print(f"[{i}/{len(todo)}] {row['path']} seed {row['seed']}: {row['status']}, test accuracy "
                          f"{row['final_test_accuracy']}, {row['samples_per_s']} samples/s", file=sys.stderr)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def diff_cell(result: tuple[int, float, float, float] | None) -> str:
    if result is None:
        return "– (fewer than 2 pairs)"
    _, mean, low, high = result
    verdict = "no difference" if low <= 0 <= high else ("higher" if low > 0 else "lower")
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] ({verdict})"


FINISHED = ("complete", "collapsed")
"""Statuses of runs that trained every epoch; a collapsed run's accuracy counts (a path that collapses where the other
does not is a difference), a failed or interrupted run has none."""


STAGES = (6, 20, 40)
"""The study ran in stages, each declared before it ran: seeds 0-5 (the 6 the issue asked for; their interval was
wider than the ±0.5-point goal), 6-19 (to narrow it), 20-39 (a confirmation of the 0-19 result, whose interval
just excluded 0). Each stage is tested on its own (Holm across the stages) and all seeds together."""


def report(rows: list[dict[str, Any]], figure: str | None = None, source: str = "docs/results/batched-fidelity.csv"
           ) -> str:
    by = {(r["path"], r["seed"]): r for r in rows}
    seeds = sorted({s for p, s in by if p == "looped"} & {s for p, s in by if p == "batched"})
    complete = [s for s in seeds if by["looped", s]["status"] in FINISHED and by["batched", s]["status"] in FINISHED]
    body = []
    for path in PATHS:
        mine = [r for r in rows if r["path"] == path]
        statuses = ", ".join(f"{n} {k}" for k, n in sorted(_count(r["status"] for r in mine).items()))
        body.append([f"`{path}`", str(len(mine)), statuses,
                     mean_std([100 * r["final_test_accuracy"] for r in mine if r["status"] in FINISHED]),
                     mean_std([r["samples_per_s"] for r in mine if r["status"] in FINISHED])])

    def accuracy_diffs(chosen: list[int]) -> list[float]:
        return [100 * (by["batched", s]["final_test_accuracy"] - by["looped", s]["final_test_accuracy"])
                for s in chosen]

    stages = []
    for low, high in zip((0, *STAGES[:-1]), STAGES, strict=True):
        chosen = [s for s in complete if low <= s < high]
        if len(chosen) >= 2:
            stages.append((f"seeds {low}–{high - 1}", chosen))
    p_raw = [paired_p_value(accuracy_diffs(chosen)) or 1.0 for _, chosen in stages]
    p_holm = holm(p_raw)
    paired = [[f"final test accuracy (points), {name}", str(len(chosen)), diff_cell(paired_difference(
        accuracy_diffs(chosen))), f"{p:.3f}", f"{q:.3f}"] for (name, chosen), p, q in zip(stages, p_raw, p_holm,
                                                                                          strict=True)]
    accuracy = paired_difference(accuracy_diffs(complete))
    pooled_p = paired_p_value(accuracy_diffs(complete))
    paired.append(["final test accuracy (points), all seeds", str(len(complete)), diff_cell(accuracy),
                   "–" if pooled_p is None else f"{pooled_p:.3f}", "–"])
    speed = paired_difference([math.log(by["batched", s]["samples_per_s"] / by["looped", s]["samples_per_s"])
                               for s in complete])
    paired.append(["samples/s (ratio; geometric mean), all seeds", str(len(complete)),
                   "–" if speed is None else f"{math.exp(speed[1]):.2f}x [{math.exp(speed[2]):.2f}, "
                                             f"{math.exp(speed[3]):.2f}]", "–", "–"])
    identical = sum(by["batched", s]["test_accuracy_per_epoch"] == by["looped", s]["test_accuracy_per_epoch"]
                    for s in complete)
    paired.append(["seeds whose every epoch's test accuracy is identical", str(len(complete)), str(identical), "–",
                   "–"])
    goal = "–" if accuracy is None else (
        "met" if accuracy[2] <= 0 <= accuracy[3] and accuracy[2] >= -BOUND and accuracy[3] <= BOUND else "not met")
    first = rows[0]
    limit = (f"{first['limit']} training digits, tested on {int(first['limit']) // 4}" if first["limit"] else
             "all 4,000 training digits, tested on the 1,000 test digits")
    lines = [
        "# Batched against looped forward/backward: paired-seed training", "",
        f"Generated by `python benchmarks/study_batched.py --report-only` from `{source}` (one row per run). "
        f"Each run: `aihwkit-sc train --preset {first['preset']} --model {first['model']} "
        f"--epochs {first['epochs']} --seed S` ({first['schedule']}, LR {first['lr']}, {limit}), in the aihwkit "
        f"`batched` build ({first['machine']}, one thread per library), `looped` "
        "with `AIHWKIT_LOOPED_MATRIX=1`; the two runs of a seed ran side by side. Accuracy: final test accuracy. "
        "Speed: training samples/s averaged over the run's epochs. Means, std and pairs count complete and collapsed "
        "runs (a collapsed run's accuracy is a result).", "",
        *markdown_table(["path", "runs", "status", "final test accuracy (%)", "samples/s"], body), "",
        "Paired by seed, batched − looped, with 95 % t intervals. The study ran in stages, each declared before it "
        "ran (`STAGES` in the script): seeds 0–5, the six first asked for; 6–19, to narrow an interval wider than "
        "the goal; 20–39, to confirm or refute the 0–19 result. p: paired t-test; Holm: adjusted across the stages "
        "shown.", "",
        *markdown_table(["paired over seeds", "pairs", "batched − looped", "p", "p (Holm)"], paired), "",
        f"Fidelity goal (the all-seeds accuracy interval holds 0 and lies within ±{BOUND} points): **{goal}**.", ""]
    if figure:
        lines += [f"![test accuracy per epoch, looped and batched]({figure})", ""]
    return "\n".join(lines)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Test accuracy per epoch, mean ± std over seeds, one line per path."""
    from aihwkit_sc.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=120)
    for name in PATHS:
        curves = [r["test_accuracy_per_epoch"] for r in rows if r["path"] == name and r["status"] in FINISHED]
        if not curves:
            continue
        epochs = range(1, min(len(c) for c in curves) + 1)
        per_epoch = [[100 * c[e - 1] for c in curves] for e in epochs]
        means = [statistics.mean(v) for v in per_epoch]
        stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in per_epoch]
        ax.errorbar(list(epochs), means, yerr=stds, marker="o", markersize=3, capsize=3,
                    label=f"{name} ({len(curves)} seeds)")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("test accuracy (%), mean ± std")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    _save(plt, fig, path)


def _shown(path: Path) -> str:
    """``path`` as the page names it: relative to the repository when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--preset", default="gokmen-vlasov")
    p.add_argument("--model", default="lenet5")
    p.add_argument("--limit", type=int, default=0, help="training samples (0: the whole training set)")
    p.add_argument("--workers", type=int, default=2, help="runs side by side (a seed's two paths share the load)")
    p.add_argument("--build", choices=["batched", INSTALLED], default="batched",
                   help="the cached batched wheel, or the installed aihwkit (when it is the batched build)")
    add_study_options(p, csv=RESULTS / "batched-fidelity.csv", out=RESULTS / "batched-fidelity.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    def write(rows: list[dict[str, Any]]) -> str:
        figure = args.out.with_suffix(".png")
        plot(rows, figure)
        write_page(args.out, report(rows, figure.name, source=_shown(args.csv)))
        return f"{args.out} and {figure}"

    run_then_report(args, lambda: run_missing(args), lambda: read_rows(args.csv), write)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
