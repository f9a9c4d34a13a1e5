"""Study (issue 8): does one-cycle beat a well-chosen step schedule on analog devices at equal epoch budgets?

LeNet-5 on mnist-5k (4,000 train / 1,000 test), batch 64, SGD momentum 0.9 (cycled 0.95-0.85 by one-cycle on digital
groups; the pulsed analog update ignores momentum). Policies, each at every epoch budget:

========================  ==========================================================================================
``step@poster``           step 0.01, x0.94 every 2 epochs (the poster's MNIST baseline)
``step@range-test``       the same shape at the range test's LR (fastai valley, measured once per device, seed 0)
``step@device``           the same, but every analog layer starts at its own device LR (``analog_lr="device"``,
                          ``STEP_PULSES`` device LR units): the tuned step baseline for analog
``one-cycle``             one-cycle 0.01-0.1, no analog options: exactly torch's ``OneCycleLR``
``one-cycle@range-test``  one-cycle up to the range-test LR (start at a tenth of it)
``one-cycle+analog-max``  analog layers' peak ``analog_max_lr`` = the median of the layers' device peaks (one value)
``one-cycle+clamp``       ``analog_lr_bounds="device"``: analog LR clamped into [device floor, saturation]
``one-cycle@device``      ``analog_max_lr="device"``: each analog layer peaks at ``device_pulses`` x its device LR
                          unit (the default of the ``one-cycle`` schedule)
========================  ==========================================================================================

On the ``pytorch`` preset the analog variants are the same run as their digital parent and are skipped.

Every run keeps its ``result.json`` (and checkpoint while running) under ``--work-dir``: re-running the command skips
finished runs and resumes interrupted ones, then rewrites ``docs/results/super-convergence.md`` (+ ``.csv`` and one
accuracy figure per device) from all results. Final and best test accuracy are mean ± std over seeds; epochs to 95 %
per seed (a seed whose loss went NaN is listed as diverged; final/best are over the other seeds); update pulses
fired until 95 % are aihwkit-sc's CPU estimate (mean over the seeds that got there).

    python benchmarks/study_super_convergence.py                       # 3 devices x budgets 3 5 10 x 3 seeds
    python benchmarks/study_super_convergence.py --devices gokmen-vlasov --budgets 5 --seeds 3
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.report import cell
from aihwkit_sc.experiments.sweep import Job, execute, load_result
from aihwkit_sc.schedules.one_cycle import ANALOG_MODES
from aihwkit_sc.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "super-convergence.md"
ANALOG_ONLY = ("step@device", "one-cycle+analog-max", "one-cycle+clamp", "one-cycle@device")
TARGET = 0.95
STEP_PULSES = 1.0  # step@device tuned on GV (5 and 10 epochs, 2 seeds): 0.5, 1, 2 and 4 pulses tried, 1 best
FINDINGS = "<!-- findings: written by hand, kept when the tables above are regenerated -->"


def policies(range_lr: float, analog_max: float, pulses: float,
             step_pulses: float = STEP_PULSES) -> dict[str, tuple[str, dict[str, Any], float]]:
    """name -> (schedule, options, optimizer LR)."""
    step = {"gamma": 0.94, "step_size": 2}
    cycle = {"max_lr": 0.1, "div_factor": 10.0, "max_momentum": 0.95, "base_momentum": 0.85}
    return {
        "step@poster": ("step", step | {"lr": 0.01}, 0.01),
        "step@range-test": ("step", step | {"lr": range_lr}, range_lr),
        "step@device": ("step", step | {"lr": range_lr, "analog_lr": "device", "device_pulses": step_pulses},
                        range_lr),
        "one-cycle": ("one-cycle", cycle | ANALOG_MODES["plain"], 0.1),
        "one-cycle@range-test": ("one-cycle", cycle | ANALOG_MODES["plain"] | {"max_lr": range_lr}, range_lr),
        "one-cycle+analog-max": ("one-cycle", cycle | {"analog_max_lr": analog_max}, 0.1),
        "one-cycle+clamp": ("one-cycle", cycle | ANALOG_MODES["clamp"], 0.1),
        "one-cycle@device": ("one-cycle", cycle | ANALOG_MODES["device"] | {"device_pulses": pulses}, 0.1),
    }


POLICY_NAMES = tuple(policies(0.1, 0.1, 1.0))


def calibrate(device: str, pulses: float, cache: Path, limit: int | None = None) -> dict[str, Any]:
    """Range-test LR and the device peaks of every analog layer (seed 0), cached in ``cache``."""
    if cache.is_file():
        stored: dict[str, Any] = json.loads(cache.read_text())
        if stored.get("pulses") == pulses:
            return stored
    from aihwkit_sc.lr_finder import lr_find
    from aihwkit_sc.schedules.device import device_lrs
    from aihwkit_sc.training import Run

    probe = Run(TrainConfig(preset=device, schedule="constant", lr=1e-4, limit=limit))
    found = lr_find(probe.model, probe.optimizer, probe.train_loader, start_lr=1e-4, end_lr=10,
                    num_iter=min(100, 3 * len(probe.train_loader)))
    peaks = list(device_lrs(probe.optimizer, probe.measure_xd(), pulses, option="study").values())
    result = {"pulses": pulses, "range_lr": found.valley, "steepest": found.steepest, "device_peaks": peaks,
              "analog_max": statistics.median(peaks) if peaks else 0.1}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=1))
    return result


def first_at(metrics: list[dict[str, Any]], target: float = TARGET) -> int | None:
    return next((m["epoch"] for m in metrics if m["test_accuracy"] >= target), None)


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    final, final_std = cell([r["metrics"][-1]["test_accuracy"] for r in records])
    best, best_std = cell([max(m["test_accuracy"] for m in r["metrics"]) for r in records])
    reach = [first_at(r["metrics"]) for r in records]
    pulses = [sum(m.get("pulses") or 0 for m in r["metrics"][:e]) for r, e in zip(records, reach, strict=True)
              if e is not None and r["metrics"][0].get("pulses") is not None]
    return {"n": len(records), "final": final, "final_std": final_std, "best": best, "best_std": best_std,
            "reach": reach, "pulses": statistics.mean(pulses) if pulses else None}


def run_status(out_dir: Path) -> str | None:
    summary = out_dir / "summary.json"
    return json.loads(summary.read_text()).get("status") if summary.is_file() else None


def epochs_to_target(per_budget: list[list[dict[str, Any]]]) -> int | None:
    """Fewest epochs at which every seed of some budget had reached the target (None: never)."""
    worst: list[int] = []
    for records in per_budget:
        reach = [first_at(r["metrics"]) for r in records]
        if reach and None not in reach:
            worst.append(max(e for e in reach if e is not None))
    return min(worst) if worst else None


def verdict(touch: dict[str, int | None], end: dict[str, int | None]) -> str:
    """one-cycle@device against the best step policy, on both measures."""
    parts = []
    for label, need in (("touch", touch), ("end", end)):
        cycle = need.get("one-cycle@device")
        steps = [e for name, e in need.items() if name.startswith("step") and e]
        if cycle and steps:
            parts.append(f"{label} {cycle}/{min(steps)} = {cycle / min(steps):.2f}")
        elif cycle:
            parts.append(f"{label}: no step policy within the budgets")
    return f"; one-cycle@device / best step: {', '.join(parts)}" if parts else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["pytorch", "semi-ideal", "gokmen-vlasov"])
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--policies", nargs="+", default=None, help="subset of policy names (default: all)")
    parser.add_argument("--device-pulses", type=float, default=None,
                        help="device_pulses of the @device policies (default: the one-cycle schedule's)")
    parser.add_argument("--step-pulses", type=float, default=STEP_PULSES, help="device_pulses of step@device")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="training samples per run (smoke tests)")
    parser.add_argument("--out", type=Path, default=OUT, help="results page (the .csv and figures go beside it)")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rewrite the page from the finished runs of this selection")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "super-convergence")
    args = parser.parse_args()
    from aihwkit_sc.plots import plot_curves
    from aihwkit_sc.schedules.one_cycle import DEVICE_PULSES

    pulses = args.device_pulses or DEVICE_PULSES
    jobs: list[Job] = []
    calibration = {}
    for device in args.devices:
        cache = args.work_dir / device / "calibration.json"
        if args.report_only and not cache.is_file():
            continue
        cal = calibration[device] = calibrate(device, pulses, cache, args.limit)
        print(f"{device}: range-test LR {cal['range_lr']:.3g}, device peaks {cal['device_peaks']}", flush=True)
        table = policies(cal["range_lr"], cal["analog_max"], pulses, args.step_pulses)
        for name, (schedule, options, lr) in table.items():
            if (args.policies and name not in args.policies) or (device == "pytorch" and name in ANALOG_ONLY):
                continue
            for budget in args.budgets:
                for seed in range(args.seeds):
                    config = TrainConfig(preset=device, schedule=schedule, schedule_options=dict(options), lr=lr,
                                         epochs=budget, seed=seed, count_pulses=device != "pytorch",
                                         limit=args.limit)
                    jobs.append(Job(name, device, seed, config,
                                    args.work_dir / device / f"{name}-e{budget}-s{seed}"))
    records = [load_result(job) for job in jobs] if args.report_only else execute(jobs, workers=args.workers)
    cells: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    diverged: dict[tuple[str, int, str], int] = {}
    for job, record in zip(jobs, records, strict=True):
        key = (job.device, job.config.epochs, job.row)
        if record is not None:
            cells.setdefault(key, []).append(record)
        elif run_status(job.out_dir) == "diverged":  # loss went NaN/inf: a result, not a gap
            diverged[key] = diverged.get(key, 0) + 1
    write_report(args, calibration, cells, pulses, diverged)
    for device in args.devices:  # accuracy against epoch at the largest budget, seed 0
        budget = max(args.budgets)
        runs = {row: recs[0]["metrics"] for (d, b, row), recs in cells.items() if d == device and b == budget}
        if runs:
            plot_curves(runs, args.out.with_name(f"{args.out.stem}-{device}-{budget}ep.png"),
                        title=f"LeNet-5 on mnist-5k, {device}, {budget} epochs (seed 0)")


def write_report(args: argparse.Namespace, calibration: dict[str, Any],
                 cells: dict[tuple[str, int, str], list[dict[str, Any]]], pulses: float,
                 diverged: dict[tuple[str, int, str], int]) -> None:
    lines = [
        "# Super-convergence on analog devices: policies at equal epoch budgets", "",
        "LeNet-5 on `mnist-5k` (4,000 train / 1,000 test), batch 64; policies as defined in "
        "`benchmarks/study_super_convergence.py`. Regenerate (finished runs are reused from `--work-dir`):", "",
        "```", f"python benchmarks/study_super_convergence.py --devices {' '.join(args.devices)} --budgets "
        f"{' '.join(map(str, args.budgets))} --seeds {args.seeds}", "```", "",
        f"Calibration (seed 0): range-test LR (fastai valley) and the analog layers' device peaks at "
        f"`device_pulses={pulses:g}` (conv1, conv2, fc1, fc2):", "",
    ]
    for device, cal in calibration.items():
        peaks = ", ".join(f"{p:.3g}" for p in cal["device_peaks"]) or "–"
        lines.append(f"- {device}: range-test LR {cal['range_lr']:.3g}; device peaks {peaks}")
    lines += ["", "| device | epochs | policy | final (%) | best (%) | epochs to 95 % (per seed) | pulses to 95 % |",
              "|---|---|---|---|---|---|---|"]
    rows = []
    stats = {key: summarize(records) for key, records in cells.items()}
    for (device, budget, name), s in sorted(stats.items(), key=lambda kv: (
            args.devices.index(kv[0][0]), kv[0][1], POLICY_NAMES.index(kv[0][2]))):
        lost = diverged.get((device, budget, name), 0)
        reach = ", ".join([str(e) if e else "–" for e in s["reach"]] + ["diverged"] * lost)
        pulse_text = f"{s['pulses']:.3g}" if s["pulses"] else "–"
        lines.append(f"| {device} | {budget} | {name} | {s['final']:.2f} ± {s['final_std']:.2f} | "
                     f"{s['best']:.2f} ± {s['best_std']:.2f} | {reach} | {pulse_text} |")
        rows.append({"device": device, "epochs": budget, "policy": name, "seeds": s["n"], "diverged": lost,
                     "final_mean": round(s["final"], 3), "final_std": round(s["final_std"], 3),
                     "best_mean": round(s["best"], 3), "best_std": round(s["best_std"], 3),
                     "epochs_to_95": " ".join(str(e or "-") for e in s["reach"]), "pulses_to_95": s["pulses"]})
    lines += ["", "Epochs each policy needs for 95 %, per device: *touch* = fewest epochs after which every seed "
              "had been at 95 % once (in any budget); *end* = smallest budget whose final accuracy is ≥ 95 % on "
              "average (– : not within the budgets run).", ""]
    for device in calibration:
        ran = [name for name in POLICY_NAMES if any(d == device and n == name for d, _, n in cells)]
        touch = {n: epochs_to_target([v for (d, b, p), v in cells.items() if d == device and p == n
                                      and not diverged.get((d, b, p))]) for n in ran}
        end = {n: min((b for (d, b, p), v in stats.items() if d == device and p == n and not diverged.get((d, b, p))
                       and v["final"] >= 100 * TARGET), default=None) for n in ran}
        lines.append(f"- {device}: " + ", ".join(f"{n} {touch[n] or '–'}/{end[n] or '–'}" for n in ran)
                     + " (touch/end)" + verdict(touch, end))
    out: Path = args.out
    previous = out.read_text() if out.is_file() else ""
    kept = previous[previous.index(FINDINGS):] if FINDINGS in previous else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n\n" + (kept or FINDINGS + "\n"))
    with out.with_suffix(".csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["device"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out} and {out.with_suffix('.csv').name}")


if __name__ == "__main__":
    main()
