"""Does the range test find the device peak that validation tuning found? The analog range test in device pulses
(``device_pulses="auto"``, :func:`aihwkit_sc.lr_finder.pulse_find`) and, on ``pytorch``, the LR range test
(``lr``/``max_lr="auto"``), against the ablation's validation-tuned scale.

For each device and policy (``one-cycle`` and ``anneal``, :mod:`aihwkit_sc.experiments.policies`), LeNet-5 on
mnist-5k (500 training digits held out for validation, as in the ablation) is trained for ``BUDGET`` epochs with
paired seeds ``FINAL_SEED0``... in two arms, both here, on the installed build:

* ``tuned``: at the scale the ablation tuned on validation at 3 epochs (``docs/results/ablation.csv``, its ``tune``
  rows; a diverged tuning seed counts 0);
* ``auto``: the run's own range test picks the scale before training (analog: device pulses, fastai's valley of loss
  against pulses; ``pytorch``: the LR, reported as a multiple of 0.1), recorded in the row.

Every finished run appends one row to ``docs/results/pulse-pick.csv`` at once (resume by key); the page
``docs/results/pulse-pick.md`` is rebuilt from it:

    python benchmarks/study_pulse_pick.py                 # train what is missing, rewrite the page
    python benchmarks/study_pulse_pick.py --report-only   # the page from the committed CSV
    aihwkit-sc study run pulse-pick [ARGS]                # the same, through the study registry
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.executor import Job
from aihwkit_sc.experiments.policies import DIGITAL_LR, run_spec
from aihwkit_sc.experiments.studies import (
    StudyTable,
    add_study_options,
    missing,
    run_then_report,
    train_rows,
    write_page,
)
from aihwkit_sc.experiments.tables import collapsed, holm, markdown_table, mean_std, paired_difference, paired_p_value
from aihwkit_sc.training import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the ablation's tuned scales
import study_ablation

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
DEVICES = ("gokmen-vlasov", "semi-ideal", "ecram", "pytorch")
POLICIES = ("one-cycle", "anneal")
ARMS = ("tuned", "auto")
BUDGET = 3
SEEDS = 6
FINAL_SEED0 = 100
VALIDATION = 500
CHANCE = 0.1
FIELDS = ("device", "policy", "arm", "budget", "seed", "status", "build", "scale", "pick", "accuracies",
          "final_accuracy", "xd_set", "wall_time_s")
KEY = ("device", "policy", "arm", "budget", "seed")


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["device"], row["policy"], row["arm"], int(row["budget"]), int(row["seed"]))


def table(path: Path) -> StudyTable:
    return StudyTable(path, FIELDS, required=(*KEY, "status"))


def read_rows(path: Path) -> list[dict[str, Any]]:
    out = []
    for row in table(path).read():
        r: dict[str, Any] = dict(row)
        r["budget"], r["seed"] = int(row["budget"]), int(row["seed"])
        r["accuracies"] = json.loads(row["accuracies"] or "[]")
        r["xd_set"] = json.loads(row["xd_set"] or "[]")
        r["final_accuracy"] = float(row["final_accuracy"]) if row["final_accuracy"] else None
        r["scale"] = float(row["scale"]) if row["scale"] else None
        r["pick"] = float(row["pick"]) if row["pick"] else None
        out.append(r)
    return out


def tuned_scales(ablation_csv: Path) -> dict[str, float]:
    """device/policy -> the scale the ablation tuned on validation."""
    return study_ablation.tuned_scales(study_ablation.read_rows(ablation_csv))


def to_job(meta: dict[str, Any], scale: float | str, args: argparse.Namespace) -> Job:
    digital = meta["device"] == "pytorch"
    schedule, options, lr = run_spec(meta["policy"], scale, digital=digital)
    config = TrainConfig(model="lenet5", preset=meta["device"], dataset="mnist-5k", schedule=schedule,
                         schedule_options=options, epochs=meta["budget"], batch_size=64, lr=lr, momentum=0.9,
                         seed=meta["seed"], validation=args.validation, limit=args.limit)
    return Job(f"{meta['arm']}/{meta['policy']}", meta["device"], meta["seed"], config,
               args.work_dir / meta["device"] / f"{meta['policy']}-{meta['arm']}-e{meta['budget']}"
               / f"s{meta['seed']}")


def compact(record: dict[str, Any], meta: dict[str, Any], scale: float | str) -> dict[str, Any]:
    """One row: test accuracy per epoch, the scale trained (the range test's pick, in the tuned scale's units, for
    ``auto``), the x·d that set the device LR and the build."""
    metrics, summary = record["metrics"], record["summary"]
    accuracies = [round(m["test_accuracy"], 4) for m in metrics]
    status = summary["status"]
    if status == "complete" and collapsed(accuracies):
        status = "collapsed"
    found = summary.get("lr_find") or {}
    pick = found.get("suggestion")
    if pick is not None and found.get("unit") != "device pulses":
        pick = pick / DIGITAL_LR  # the LR range test's pick, as a multiple of the studies' digital LR
    xd = (summary.get("schedule_options") or {}).get("xd_product")
    return {**meta, "status": status, "build": summary.get("aihwkit_build"),
            "scale": scale if scale != "auto" else (float(f"{pick:.4g}") if pick is not None else ""),
            "pick": float(f"{pick:.4g}") if pick is not None else "", "accuracies": accuracies,
            "final_accuracy": accuracies[-1] if status in ("complete", "collapsed") else None,
            "xd_set": [float(f"{v:.4g}") for v in xd] if isinstance(xd, list) else [],
            "wall_time_s": round(sum(m["wall_time_s"] for m in metrics), 1)}


def planned(args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"device": d, "policy": p, "arm": a, "budget": args.budget, "seed": FINAL_SEED0 + s}
            for d in args.devices for p in POLICIES for s in range(args.seeds) for a in ARMS]


def train_missing(args: argparse.Namespace) -> None:
    scales = tuned_scales(args.ablation_csv)
    want = planned(args)
    untuned = sorted({f"{m['device']}/{m['policy']}" for m in want} - set(scales))
    if untuned:
        raise SystemExit(f"error: the ablation ({args.ablation_csv}) has no tuning for {', '.join(untuned)}")
    todo = missing(want, {key(r) for r in read_rows(args.csv)}, key)
    if not todo:
        return
    print(f"{len(todo)} of {len(want)} runs to train", file=sys.stderr)

    def scale_of(meta: dict[str, Any]) -> float | str:
        return "auto" if meta["arm"] == "auto" else scales[f"{meta['device']}/{meta['policy']}"]

    train_rows(todo, lambda meta: to_job(meta, scale_of(meta), args),
               lambda meta, record: [compact(record, meta, scale_of(meta))], table(args.csv), workers=args.workers,
               quiet=args.quiet)


def accuracy(r: dict[str, Any]) -> float:
    return 100 * (r["final_accuracy"] if r["final_accuracy"] is not None else CHANCE)


def report(rows: list[dict[str, Any]], tuned: dict[str, float], csv_name: str, figure: str = "pulse-pick.png") -> str:
    lines = ["# Does the range test find the tuned device peak?", "",
             f"Generated by `python benchmarks/study_pulse_pick.py --report-only` from `{csv_name}` (one row per run; "
             "`aihwkit-sc study report pulse-pick` is the same command). LeNet-5 on mnist-5k, test accuracy (%) "
             "after each budget, mean ± std over paired seeds (a diverged run counts 10 %). `tuned`: the scale the "
             "ablation tuned on validation (`docs/results/ablation.csv`); `auto`: the run's own range test picks it "
             "(device pulses on analog layers; on `pytorch` the LR, shown as a multiple of 0.1). Differences are "
             "auto − tuned in points with 95 % t intervals, p-values Holm-adjusted across the page; *no difference* "
             "unless the adjusted p is below 0.05.", ""]
    builds = sorted({r["build"] for r in rows if r.get("build")})
    lines += [f"Builds recorded in the rows: {', '.join(f'`{b}`' for b in builds)}.", ""]
    cells = sorted({(r["device"], r["policy"], r["budget"]) for r in rows},
                   key=lambda c: (DEVICES.index(c[0]) if c[0] in DEVICES else len(DEVICES), c[1], c[2]))
    family = []
    for device, policy, budget in cells:
        arms = {a: {r["seed"]: r for r in rows if (r["device"], r["policy"], r["budget"], r["arm"]) ==
                    (device, policy, budget, a)} for a in ARMS}
        seeds = sorted(set(arms["tuned"]) & set(arms["auto"]))
        family.append(((device, policy, budget), arms, [accuracy(arms["auto"][s]) - accuracy(arms["tuned"][s])
                                                        for s in seeds]))
    raw = [paired_p_value(d) if len(d) >= 2 else None for _, _, d in family]
    tested = [p for p in raw if p is not None]
    adjusted = iter(holm(tested))
    body = []
    met = judged = 0
    for ((device, policy, budget), arms, diffs), p in zip(family, raw, strict=True):
        picks = [r["pick"] for r in arms["auto"].values() if r["pick"] is not None]
        pick_text = (f"{statistics.median(picks):.3g} [{min(picks):.3g}–{max(picks):.3g}]" if picks else "–")
        stats = paired_difference(diffs) if len(diffs) >= 2 else None
        if stats is None or p is None:
            diff_text, p_text, verdict = "–", "–", "too few pairs"
        else:
            _, mean, low, high = stats
            p_adj = next(adjusted)
            diff_text = f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"
            p_text = f"{p:.3f} / {p_adj:.3f}"
            verdict = "no difference" if p_adj >= 0.05 else ("auto higher" if mean > 0 else "auto lower")

        def described(arm: str, arms: dict[str, dict[int, dict[str, Any]]] = arms) -> str:
            runs = list(arms[arm].values())
            text = f"{mean_std([accuracy(r) for r in runs])} (n={len(runs)})" if runs else "–"
            for status in ("diverged", "collapsed"):
                k = sum(r["status"] == status for r in runs)
                text += f", {k} {status}" if k else ""
            return text

        inside = within(list(arms["tuned"].values()), list(arms["auto"].values()))
        met += inside is not None and inside[2]
        judged += inside is not None
        body.append([f"`{device}`", policy, str(budget), f"{tuned.get(f'{device}/{policy}', float('nan')):g}",
                     pick_text, described("tuned"), described("auto"),
                     "–" if inside is None else f"{'yes' if inside[2] else 'no'} [{inside[0]:.2f}, {inside[1]:.2f}]",
                     diff_text, p_text, verdict])
    header = ["device", "policy", "epochs", "tuned scale", "auto pick, median [range]", "tuned", "auto",
              "auto mean in tuned's 95 % CI", "auto − tuned [95 % CI]", "p raw / Holm", "verdict"]
    lines += [*markdown_table(header, body), ""]
    lines += [f"The auto arm's mean lies inside the tuned arm's 95 % interval (t, over its seeds) in {met} of {judged} "
              "cells with at least 2 runs per arm.", ""]
    if any(arms["tuned"] and arms["auto"] for _, arms, _ in family):
        lines += [f"![Test accuracy of the tuned and the auto arm, mean with 95 % interval, per cell]({figure})", ""]
    return "\n".join(lines) + "\n"


def within(tuned: list[dict[str, Any]], auto: list[dict[str, Any]]) -> tuple[float, float, bool] | None:
    """(low, high, inside): the tuned arm's 95 % t interval of its mean accuracy and whether the auto arm's mean lies
    in it; ``None`` below 2 runs in either arm."""
    if len(tuned) < 2 or len(auto) < 2:
        return None
    mean, half = interval([accuracy(r) for r in tuned])
    return mean - half, mean + half, mean - half <= statistics.mean(accuracy(r) for r in auto) <= mean + half


def interval(values: list[float]) -> tuple[float, float]:
    """(mean, half width of its 95 % t interval)."""
    from scipy import stats

    sd = statistics.stdev(values)
    return statistics.mean(values), float(stats.t.ppf(0.975, len(values) - 1)) * sd / len(values) ** 0.5


def plot(rows: list[dict[str, Any]], out: Path) -> Path | None:
    """Tuned and auto arm per device and policy: mean test accuracy with 95 % t intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted({(r["device"], r["policy"]) for r in rows},
                   key=lambda c: (DEVICES.index(c[0]) if c[0] in DEVICES else len(DEVICES), c[1]))
    if not cells:
        return None
    fig, ax = plt.subplots(figsize=(1.3 * len(cells) + 2, 3.6), dpi=110)
    for k, arm in enumerate(ARMS):
        xs, ys, errs = [], [], []
        for i, (device, policy) in enumerate(cells):
            acc = [accuracy(r) for r in rows if (r["device"], r["policy"], r["arm"]) == (device, policy, arm)]
            if len(acc) >= 2:
                mean, half = interval(acc)
                xs.append(i + (k - 0.5) * 0.25)
                ys.append(mean)
                errs.append(half)
        ax.errorbar(xs, ys, yerr=errs, marker="o", markersize=4, capsize=3, ls="none", label=arm)
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels([f"{d}\n{p}" for d, p in cells], fontsize=7)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out.with_suffix(".png")
    fig.savefig(path)
    plt.close(fig)
    return path


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--devices", nargs="+", default=list(DEVICES), choices=DEVICES)
    p.add_argument("--budget", type=int, default=BUDGET)
    p.add_argument("--seeds", type=int, default=SEEDS)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--validation", type=int, default=VALIDATION)
    p.add_argument("--limit", type=int, default=None, help="training samples per run (toy runs)")
    p.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "pulse-pick")
    p.add_argument("--ablation-csv", type=Path, default=RESULTS / "ablation.csv",
                   help="the ablation's CSV, whose tuning rows give the tuned scales")
    add_study_options(p, csv=RESULTS / "pulse-pick.csv", out=RESULTS / "pulse-pick.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    def write(rows: list[dict[str, Any]]) -> str:
        write_page(args.out, report(rows, tuned_scales(args.ablation_csv), args.csv.name,
                                    args.out.with_suffix(".png").name), findings=True)
        plot(rows, args.out)
        return str(args.out)

    run_then_report(args, lambda: train_missing(args), lambda: read_rows(args.csv), write)


if __name__ == "__main__":
    main()
