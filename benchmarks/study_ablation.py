"""Ablation: at the same per-layer device LR, does the one-cycle *shape* help analog training beyond a
constant LR and beyond annealing alone? And is the per-layer device LR a device effect?

LeNet-5 on mnist-5k: the 4,000 training digits are split, stratified and fixed, into ``TRAIN`` for training and
``VALIDATION`` held out (``TrainConfig.validation``); the 1,000 test digits are read only by the final runs. Batch 64,
SGD momentum 0.9 (cycled 0.95-0.85 by one-cycle on digital groups; the pulsed update ignores momentum).

Policies (every analog layer's LR follows the policy's shape from its own device peak ``scale`` x ``dw_min / s``,
``s`` its measured per-sample ``max|x|·max|d|``; the digital biases follow the same shape from ``DIGITAL_LR``):

==============  ===========================================================================================
``constant``    the peak throughout
``anneal``      cosine from the peak to 0, no warm-up
``multistep``   the peak, x0.1 at 50 % and 75 % of the budget
``one-cycle``   torch's one-cycle shape (``AnalogOneCycleLR`` defaults: warm-up 30 % from peak/25, anneal to
                peak/25e4) with the device peak
==============  ===========================================================================================

On ``pytorch`` (the digital control) ``scale`` multiplies ``DIGITAL_LR`` for every layer: a tuned global LR.

Is the per-layer device LR a device effect? ``floating-point-tile`` trains the same network on aihwkit's
floating-point tiles (exact updates through the tile path: the tile takes its LR from the schedule, no pulses, no
noise, no momentum on weights, as on a pulsed device) with one tuned global LR (``scale`` x ``DIGITAL_LR``, grid
``GRIDS``); ``floating-point-tile+gv-rule`` trains the same tiles with Gokmen-Vlasov's per-layer rule (every tile at
``scale`` x Gokmen-Vlasov's ``dw_min / s``, ``s`` measured on this network; ``device_reference``). The page pairs
them by seed, policy by policy. References,
final phase only at ``REF_BUDGET`` epochs, untuned: ``ref:torch-one-cycle`` (torch's ``OneCycleLR`` 0.004-0.1 on every
layer) and ``ref:poster-step`` (step 0.01 x0.94 every 2 epochs).

Phases: ``tune`` trains each policy at each ``scale`` for ``--tune-budget`` epochs with ``--tune-seeds`` seeds and reads
only validation accuracy; the scale with the best mean final validation accuracy (a diverged seed counts 0) is the
policy's tuned scale. ``final`` trains each policy at its tuned scale for every ``--budgets`` with ``--seeds`` seeds
(seeds ``FINAL_SEED0``...: the same data order and device-to-device draw for every policy, so differences are paired)
and reads test accuracy.

``telemetry`` trains each analog policy once more at its tuned scale (seed ``FINAL_SEED0``, ``--tune-budget``
epochs, validation split) with pulse counting on, and writes per epoch and analog layer the measured ``x·d``, the
mean bit length of an update row, the fraction of rows at the bit-length cap and the pulses per training sample to
``docs/results/ablation-telemetry.csv`` (``--telemetry-csv``).

Every finished run appends one row to ``docs/results/ablation.csv`` (``--csv``) at once; a row already there is never
trained again, so the study can be stopped at any point and continued by the same command, on any machine. The page
``docs/results/ablation.md`` (``--out``) and its figures are regenerated from that file alone:

    python benchmarks/study_ablation.py                       # tune, final and telemetry runs; rewrites the page
    python benchmarks/study_ablation.py --report-only         # the page from the committed CSV, no training
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.executor import Job
from aihwkit_sc.experiments.policies import DIGITAL_LR, POLICIES
from aihwkit_sc.experiments.policies import run_spec as policy_spec
from aihwkit_sc.experiments.studies import (
    StudyTable,
    add_study_options,
    missing,
    run_then_report,
    train_rows,
    write_page,
)
from aihwkit_sc.experiments.tables import COLLAPSE_FACTOR, collapsed, markdown_table, mean_std, paired_difference
from aihwkit_sc.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
DEVICES = ("gokmen-vlasov", "semi-ideal", "ecram", "reram-es", "pytorch", "floating-point-tile",
           "floating-point-tile+gv-rule", "gokmen-vlasov+global")
DIGITAL = ("pytorch", "floating-point-tile", "gokmen-vlasov+global")
"""Devices tuned with one global LR (``scale`` x ``DIGITAL_LR`` on every layer, analog ones included)."""
GLOBAL = {"gokmen-vlasov+global": "gokmen-vlasov"}
"""Pseudo-devices: a pulsed preset trained with one tuned global LR instead of its per-layer device peak."""
RULE_VS_GLOBAL = (("floating-point-tile+gv-rule", "floating-point-tile"), ("gokmen-vlasov", "gokmen-vlasov+global"))
"""(per-layer device rule, one tuned global LR) pairs the page compares by seed."""
TRANSPLANTS = {"floating-point-tile+gv-rule": ("floating-point-tile", "gokmen-vlasov")}
"""Pseudo-devices: (preset trained, pulsed preset whose per-layer device rule sets every tile's LR)."""
REFERENCES = ("ref:torch-one-cycle", "ref:poster-step")
SCALES = (0.5, 1.0, 2.0, 4.0)
DIGITAL_SCALES = (0.25, 0.5, 1.0, 2.0)
GRIDS = {"floating-point-tile": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
         "floating-point-tile+gv-rule": (0.25, 0.5, 1.0, 2.0, 4.0), "gokmen-vlasov+global": (0.5, 1.0, 2.0, 4.0, 8.0)}
"""Scale grids that differ from ``--scales``/``--digital-scales``: tiles take no momentum, so the floating-point tile's
global LR reaches higher (used when the grid options keep their defaults)."""
VALIDATION = 500
TARGET = 0.95
FINAL_SEED0 = 100
COMPARISONS = (("one-cycle", "anneal"), ("one-cycle", "constant"), ("anneal", "constant"),
               ("multistep", "constant"), ("one-cycle", "multistep"), ("one-cycle", "ref:torch-one-cycle"))
"""Paired comparisons on the page; the last is the same shape at the per-layer device peak against torch's one global
peak (identical on ``pytorch`` when its tuned scale is 1)."""
FIELDS = ("device", "policy", "phase", "scale", "budget", "seed", "status", "accuracies", "final_accuracy",
          "xd_first", "xd_last", "wall_time_s")
TELEMETRY_FIELDS = ("device", "policy", "phase", "scale", "budget", "seed", "epoch", "layer", "xd", "bit_length",
                    "capped", "pulses_per_sample")


def run_spec(device: str, policy: str, scale: float) -> tuple[str, dict[str, Any], float]:
    """(schedule, options, optimizer LR) of ``policy`` at ``scale`` on ``device`` (the shared policies,
    :mod:`aihwkit_sc.experiments.policies`, and this study's untuned references)."""
    if policy == "ref:torch-one-cycle":
        return "one-cycle", {"max_lr": DIGITAL_LR, "analog_max_lr": None}, DIGITAL_LR
    if policy == "ref:poster-step":
        return "step", {"lr": 0.01, "gamma": 0.94, "step_size": 2}, 0.01
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: choose from {', '.join(POLICIES + REFERENCES)}")
    return policy_spec(policy, scale, digital=device in DIGITAL,
                       reference=TRANSPLANTS[device][1] if device in TRANSPLANTS else None)


def key(row: dict[str, Any]) -> tuple[str, str, str, float, int, int]:
    return (row["device"], row["policy"], row["phase"], float(row["scale"]), int(row["budget"]), int(row["seed"]))


def runs_table(path: Path) -> StudyTable:
    """The study's CSV: a row torn by a crash (key or status missing) is left out, so its run is trained again."""
    return StudyTable(path, FIELDS, required=("device", "policy", "phase", "scale", "budget", "seed", "status"))


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The committed rows, typed."""
    rows: list[dict[str, Any]] = []
    for row in runs_table(path).read():
        for name in ("accuracies", "xd_first", "xd_last"):
            row[name] = json.loads(row[name] or "[]")
        row["final_accuracy"] = float(row["final_accuracy"]) if row["final_accuracy"] else None
        row["scale"], row["budget"], row["seed"] = float(row["scale"]), int(row["budget"]), int(row["seed"])
        row["status"] = status_of(row["status"], row["accuracies"])  # rows written before the label existed
        rows.append(row)
    return rows


def append_row(path: Path, row: dict[str, Any]) -> None:
    runs_table(path).append([row])


def status_of(status: str, accuracies: list[float]) -> str:
    """A run's status as the CSV records it: ``collapsed`` for a complete run that never left chance."""
    return "collapsed" if status == "complete" and collapsed(accuracies) else status


def compact(record: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """One CSV row of a finished (or diverged) run: per-epoch accuracies of its phase's split, x·d telemetry."""
    metrics = record["metrics"]
    split = "val_accuracy" if meta["phase"] == "tune" else "test_accuracy"
    accuracies = [round(m[split], 4) for m in metrics]
    xd = [m.get("xd_product") for m in metrics if m.get("xd_product")]
    status = status_of(record["summary"]["status"], accuracies)
    return {**meta, "status": status, "accuracies": accuracies,
            "final_accuracy": accuracies[-1] if status in ("complete", "collapsed") else None,
            "xd_first": _sig(xd[0]) if xd else [], "xd_last": _sig(xd[-1]) if xd else [],
            "wall_time_s": round(sum(m["wall_time_s"] for m in metrics), 1)}


def _sig(values: list[float]) -> list[float]:
    """Four significant digits (x·d spans 1e-6 to 1e-2 across layers)."""
    return [float(f"{v:.4g}") for v in values]


def plan(phase: str, devices: Iterable[str], policies: Iterable[str], scales: dict[str, float] | None,
         budgets: Iterable[int], seeds: Iterable[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The runs of a phase as CSV keys (scale per device and policy: the grid when tuning, the tuned one after)."""
    out = []
    for device in devices:
        for policy in policies:
            grid = ([1.0] if policy in REFERENCES else scale_grid(device, args) if scales is None else
                    [scales[f"{device}/{policy}"]])
            for scale in grid:
                for budget in budgets:
                    if policy in REFERENCES and budget != args.ref_budget:
                        continue
                    for seed in seeds:
                        out.append({"device": device, "policy": policy, "phase": phase, "scale": scale,
                                    "budget": budget, "seed": seed})
    return out


def preset_of(device: str) -> str:
    """The preset a study device trains (a transplant pseudo-device trains its base preset)."""
    return TRANSPLANTS[device][0] if device in TRANSPLANTS else GLOBAL.get(device, device)


def scale_grid(device: str, args: argparse.Namespace) -> list[float]:
    """The tuning grid of ``device``: ``GRIDS`` unless the grid options were given, else the analog or digital grid."""
    digital = device in DIGITAL
    given = args.digital_scales if digital else args.scales
    if device in GRIDS and list(given) == list(DIGITAL_SCALES if digital else SCALES):
        return list(GRIDS[device])
    return list(given)


def to_job(meta: dict[str, Any], args: argparse.Namespace) -> Job:
    schedule, options, lr = run_spec(meta["device"], meta["policy"], meta["scale"])
    config = TrainConfig(model="lenet5", preset=preset_of(meta["device"]), dataset="mnist-5k", schedule=schedule,
                         schedule_options=options, epochs=meta["budget"], batch_size=64, lr=lr, momentum=0.9,
                         seed=meta["seed"], validation=args.validation, limit=args.limit,
                         count_pulses=meta["phase"] == "telemetry")
    name = meta["policy"].replace(":", "-")
    return Job(f"{meta['phase']}/{name}", meta["device"], meta["seed"], config,
               args.work_dir / meta["phase"] / meta["device"] / f"{name}-x{meta['scale']:g}-e{meta['budget']}"
               / f"s{meta['seed']}")


def telemetry_rows(record: dict[str, Any], meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Per epoch and analog layer of a telemetry run: x·d, mean bit length, fraction capped, pulses per sample."""
    out = []
    for m in record["metrics"]:
        layers = m.get("update_telemetry") or []
        samples = layers[-1]["rows"] if layers else 0  # the last layer is linear: one update row per sample
        for i, layer in enumerate(layers):
            if not layer["rows"]:
                continue
            out.append({**meta, "epoch": m["epoch"], "layer": i, "xd": float(f"{m['xd_product'][i]:.4g}"),
                        "bit_length": round(layer["bit_length"], 3), "capped": round(layer["capped"], 4),
                        "pulses_per_sample": round(layer["pulses_per_row"] * layer["rows"] / samples, 1)})
    return out


def read_telemetry(path: Path) -> list[dict[str, Any]]:
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in StudyTable(path, TELEMETRY_FIELDS).read():  # a row torn by a crash is left out
        parsed = {f: row[f] if f in ("device", "policy", "phase") else
                  int(row[f]) if f in ("budget", "seed", "epoch", "layer") else float(row[f]) for f in TELEMETRY_FIELDS}
        rows[(*key(parsed), parsed["epoch"], parsed["layer"])] = parsed  # a run trained again: its last rows count
    return list(rows.values())


def telemetry_done(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Runs whose every epoch has every analog layer of the device (a crash mid-append leaves the last epoch short:
    trained again)."""
    layers: dict[tuple[Any, ...], dict[int, int]] = {}
    n_layers: dict[str, int] = {}
    for r in rows:
        per_epoch = layers.setdefault(key(r), {})
        per_epoch[r["epoch"]] = per_epoch.get(r["epoch"], 0) + 1
        n_layers[r["device"]] = max(n_layers.get(r["device"], 0), r["layer"] + 1)
    return {k for k, e in layers.items()
            if sorted(e) == list(range(1, k[4] + 1)) and set(e.values()) == {n_layers[k[0]]}}


def train_missing(wanted: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Train the runs of ``wanted`` that have no row in their CSV yet, appending each run's rows as it ends."""
    telemetry = bool(wanted) and wanted[0]["phase"] == "telemetry"
    path = args.telemetry_csv if telemetry else args.csv
    done = telemetry_done(read_telemetry(path)) if telemetry else {key(r) for r in read_rows(path)}
    todo = missing(wanted, done, key)
    if not todo:
        return
    print(f"{len(todo)} of {len(wanted)} runs to train", file=sys.stderr)

    def rows_of(meta: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
        if not telemetry:
            return [compact(record, meta)]
        return telemetry_rows(record, meta) if record["summary"]["status"] == "complete" else []

    train_rows(todo, lambda meta: to_job(meta, args), rows_of,
               StudyTable(path, TELEMETRY_FIELDS) if telemetry else runs_table(path), workers=args.workers,
               quiet=args.quiet)


def tuned_scales(rows: list[dict[str, Any]]) -> dict[str, float]:
    """device/policy -> the scale with the best mean final validation accuracy (diverged seeds count 0; ties: the
    smaller scale)."""
    scores: dict[str, dict[float, list[float]]] = {}
    for r in rows:
        if r["phase"] == "tune":
            scores.setdefault(f"{r['device']}/{r['policy']}", {}).setdefault(r["scale"], []).append(
                r["final_accuracy"] or 0.0)
    return {k: max(sorted(v), key=lambda s: statistics.mean(v[s])) for k, v in scores.items()}


def current_finals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The final runs at each policy's tuned scale (and the references): finals left at an earlier tuned scale,
    before the grid was extended, stay in the CSV but are not compared."""
    scales = tuned_scales(rows)
    return [r for r in rows if r["phase"] == "final"
            and (r["policy"] in REFERENCES or scales.get(f"{r['device']}/{r['policy']}") == r["scale"])]


def paired(rows: list[dict[str, Any]], a: str, b: str) -> tuple[int, float, float, float] | None:
    """(n, mean, CI low, CI high) of the paired differences a - b in final test accuracy (points), over the seeds both
    ran; a diverged seed counts 10 % (chance)."""
    return paired_runs([r for r in rows if r["policy"] == a], [r for r in rows if r["policy"] == b])


def paired_runs(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]) -> tuple[int, float, float, float] | None:
    """:func:`paired` between two sets of runs, matched by seed."""
    acc = [{r["seed"]: 100 * (r["final_accuracy"] if r["final_accuracy"] is not None else 0.1) for r in rows}
           for rows in (rows_a, rows_b)]
    seeds = sorted(set(acc[0]) & set(acc[1]))
    return paired_difference([acc[0][s] - acc[1][s] for s in seeds])


def reached(accuracies: list[float]) -> int | None:
    return next((i + 1 for i, a in enumerate(accuracies) if a >= TARGET), None)


def fmt_mean_std(values: list[float]) -> str:
    return mean_std(values, missing="-")


def table(header: list[str], body: list[list[str]]) -> list[str]:
    return markdown_table(header, body)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, telemetry: list[dict[str, Any]] | None = None) -> str:
    """The results page, from the CSV rows alone."""
    scales = tuned_scales(rows)
    devices = [d for d in DEVICES if any(r["device"] == d for r in rows)] + sorted(
        {r["device"] for r in rows} - set(DEVICES))
    lines = ["# Ablation: what helps analog training?", "",
             "Generated by `python benchmarks/study_ablation.py --report-only` from "
             f"[`{args.csv.name}`]({args.csv.name}) (one row per run); the protocol is in the script's docstring. "
             "Accuracies in %. Tuning reads validation accuracy only; the final runs read test accuracy only. "
             "Diverged: runs whose loss stopped being finite (counted as chance in the paired differences). "
             f"Collapsed: runs that trained every epoch without any epoch above {100 * COLLAPSE_FACTOR / 10:g} % "
             "(chance is 10 %); their accuracy counts as it is.", ""]
    lines += at_a_glance(rows, devices)
    lines += transplant_section(rows)
    for device in devices:
        dev = [r for r in rows if r["device"] == device]
        tuned_at = sorted({r["budget"] for r in dev if r["phase"] == "tune"})
        final_at = sorted({r["budget"] for r in dev if r["phase"] == "final" and r["policy"] in POLICIES})
        reuse = (f" Every final budget ({', '.join(map(str, final_at))} epochs) reuses the scales tuned at "
                 f"{', '.join(map(str, tuned_at))} epochs." if final_at else "")
        lines += [f"## {device}", "", f"### Tuning ({', '.join(map(str, tuned_at))} epochs; validation accuracy, mean "
                  "over seeds)", "", *([reuse.strip(), ""] if reuse else [])]
        tune = [r for r in dev if r["phase"] == "tune"]
        grid = sorted({r["scale"] for r in tune})
        body = []
        for policy in [p for p in POLICIES if any(r["policy"] == p for r in tune)]:
            cells = []
            for s in grid:
                v = [100 * (r["final_accuracy"] or 0.0) for r in tune if r["policy"] == policy and r["scale"] == s]
                mark = " **←**" if scales.get(f"{device}/{policy}") == s else ""
                cells.append(f"{statistics.mean(v):.2f} (n={len(v)}){mark}" if v else "-")
            body.append([policy, *cells])
        what = "global LR ×" if device in DIGITAL else "device pulses"
        lines += [*table(["policy", *(f"{what} {s:g}" for s in grid)], body), ""]
        final = [r for r in current_finals(rows) if r["device"] == device]
        for budget in sorted({r["budget"] for r in final}):
            at = [r for r in final if r["budget"] == budget]
            lines += [f"### Final, {budget} epochs (test accuracy)", ""]
            body = []
            for policy in [p for p in POLICIES + REFERENCES if any(r["policy"] == p for r in at)]:
                runs = sorted((r for r in at if r["policy"] == policy), key=lambda r: r["seed"])
                finals = [100 * r["final_accuracy"] for r in runs if r["final_accuracy"] is not None]
                diverged = sum(r["final_accuracy"] is None for r in runs)
                collapsed_runs = sum(r["status"] == "collapsed" for r in runs)
                hits = [reached(r["accuracies"]) for r in runs]
                got = [h for h in hits if h is not None]
                to95 = (f"{len(got)}/{len(runs)} reached" + (f"; epochs {fmt_mean_std([float(h) for h in got])}"
                                                            if got else ""))
                grid = sorted({r["scale"] for r in dev if r["phase"] == "tune" and r["policy"] == policy})
                edge = " (grid edge)" if policy in POLICIES and len(grid) > 1 and runs[0]["scale"] in (
                    grid[0], grid[-1]) else ""
                body.append([policy, f"{runs[0]['scale']:g}{edge}", str(len(runs)), fmt_mean_std(finals),
                             str(diverged), str(collapsed_runs), to95])
            header = ["policy", "scale", "seeds", "final test acc", "diverged", "collapsed", f"≥ {100 * TARGET:g} %"]
            lines += [*table(header, body), ""]
            body = []
            for a, b in COMPARISONS:
                result = paired([r for r in at if r["policy"] in (a, b)], a, b)
                if result is None:
                    continue
                n, mean, low, high = result
                body.append([f"{a} − {b}", str(n), f"{mean:+.2f}", f"[{low:+.2f}, {high:+.2f}]",
                             verdict(low, high, a, b)])
            if body:
                lines += ["Paired differences (same seeds), final test accuracy in points, 95 % t interval:", ""]
                lines += [*table(["difference", "pairs", "mean", "95 % CI", "verdict"], body), ""]
        tele = [r for r in final if r["xd_first"] and r["xd_last"]]
        if tele:
            lines += ["### Telemetry: measured x·d per analog layer, first and last epoch (mean over final runs; "
                      "the last epoch is the budget's)", ""]
            body = []
            for budget in sorted({r["budget"] for r in tele}):
                for policy in [p for p in POLICIES if any(r["policy"] == p and r["budget"] == budget for r in tele)]:
                    runs = [r for r in tele if r["policy"] == policy and r["budget"] == budget]
                    first = [statistics.mean(r["xd_first"][i] for r in runs) for i in range(len(runs[0]["xd_first"]))]
                    last = [statistics.mean(r["xd_last"][i] for r in runs) for i in range(len(runs[0]["xd_last"]))]
                    body.append([policy, str(budget), ", ".join(f"{v:.3g}" for v in first),
                                 ", ".join(f"{v:.3g}" for v in last),
                                 ", ".join(f"{b / a:.2f}" for a, b in zip(first, last, strict=True))])
            lines += [*table(["policy", "epochs", "x·d epoch 1", "x·d last epoch", "last / first"], body), ""]
        lines += telemetry_section([r for r in telemetry or [] if r["device"] == device], args)
    lines += other_scales_section(rows)
    return "\n".join(lines) + "\n"


def other_scales_section(rows: list[dict[str, Any]]) -> list[str]:
    """Final runs of a policy at a scale other than its tuned one (kept from before a grid was extended, or re-run at
    a pinned scale with ``--pin``), paired by seed with the tuned runs of the same device and budget."""
    scales = tuned_scales(rows)
    current = current_finals(rows)
    other = [r for r in rows if r["phase"] == "final" and r["policy"] in POLICIES
             and scales.get(f"{r['device']}/{r['policy']}") not in (None, r["scale"])]
    groups = sorted({(r["device"], r["policy"], r["scale"], r["budget"]) for r in other})
    if not groups:
        return []
    body = []
    for device, policy, scale, budget in groups:
        runs = [r for r in other if (r["device"], r["policy"], r["scale"], r["budget"]) == (device, policy, scale,
                                                                                              budget)]
        tuned = [r for r in current if r["device"] == device and r["budget"] == budget]
        cells = []
        for against in ("one-cycle", policy):
            result = paired_runs([r for r in tuned if r["policy"] == against], runs)
            cells.append("-" if result is None else
                         f"{result[1]:+.2f} [{result[2]:+.2f}, {result[3]:+.2f}] "
                         f"{verdict(result[2], result[3], f'tuned {against}', f'{policy} ×{scale:g}')}")
        body.append([device, policy, f"{scale:g} (tuned {scales[f'{device}/{policy}']:g})", str(budget),
                     str(len(runs)), fmt_mean_std([100 * r["final_accuracy"] for r in runs
                                                   if r["final_accuracy"] is not None]), *cells])
    return ["## Finals at a scale other than the tuned one", "",
            "Not in the tables above: runs kept from before a grid was extended, or re-run at a pinned scale "
            "(`--pin`). Paired by seed with the runs at the tuned scales of the same device and budget (final test "
            "accuracy, points, 95 % t interval):", "",
            *table(["device", "policy", "scale", "epochs", "seeds", "final test acc", "tuned one-cycle − this",
                    "tuned same policy − this"], body), ""]


def verdict(low: float, high: float, a: str, b: str) -> str:
    return "no difference" if low <= 0 <= high else (f"{a} better" if low > 0 else f"{b} better")


def transplant_section(rows: list[dict[str, Any]]) -> list[str]:
    """Per (rule, global) pair of :data:`RULE_VS_GLOBAL`, budget and policy: the per-layer device rule against one
    tuned global LR on the same preset, paired by seed."""
    body = []
    for device, base in RULE_VS_GLOBAL:
        final = [r for r in current_finals(rows) if r["device"] in (device, base)]
        for budget in sorted({r["budget"] for r in final if r["device"] == device}):
            for policy in POLICIES:
                pick = [[r for r in final if r["device"] == d and r["budget"] == budget and r["policy"] == policy]
                        for d in (device, base)]
                result = paired_runs(*pick)
                if result is None:
                    continue
                n, mean, low, high = result
                body.append([preset_of(device), str(budget), policy, f"{pick[0][0]['scale']:g}",
                             f"{pick[1][0]['scale']:g}", str(n), fmt_mean_std([100 * r["final_accuracy"] for r in
                                                                                pick[0] if r["final_accuracy"]]),
                             fmt_mean_std([100 * r["final_accuracy"] for r in pick[1] if r["final_accuracy"]]),
                             f"{mean:+.2f}", f"[{low:+.2f}, {high:+.2f}]",
                             verdict(low, high, "per-layer rule", "global LR")])
    if not body:
        return []
    return ["## Is the per-layer LR a device effect?", "",
            "Each row trains one preset two ways, each tuned on validation: every layer at Gokmen-Vlasov's per-layer "
            "rule (device pulses × `dw_min / s`, `s` measured on that network; on `floating-point-tile` through "
            "`device_reference`) and every layer at one global LR (× `DIGITAL_LR`). Paired differences (rule − "
            "global, same seeds), final test accuracy in points, 95 % t interval:", "",
            *table(["preset", "epochs", "policy", "rule pulses", "global LR ×", "pairs", "rule", "global", "mean",
                    "95 % CI", "verdict"], body), ""]


def at_a_glance(rows: list[dict[str, Any]], devices: list[str]) -> list[str]:
    """One line per device and budget: each paired comparison as mean [95 % CI] in points, and its verdict."""
    body = []
    for device in devices:
        final = [r for r in current_finals(rows) if r["device"] == device]
        for budget in sorted({r["budget"] for r in final}):
            cells = []
            for a, b in COMPARISONS:
                result = paired([r for r in final if r["budget"] == budget and r["policy"] in (a, b)], a, b)
                if result is None:
                    cells.append("-")
                    continue
                _, mean, low, high = result
                cells.append(f"{mean:+.2f} [{low:+.2f}, {high:+.2f}] {verdict(low, high, a, b)}")
            body.append([device, str(budget), *cells])
    if not body:
        return []
    header = ["device", "epochs", *(f"{a} − {b}" for a, b in COMPARISONS)]
    return ["## At a glance: paired differences in final test accuracy (points, 95 % CI)", "",
            *table(header, body), ""]


def desired_bl(device: str) -> int | None:
    """The device preset's bit-length cap, or ``None`` when it has none (or cannot be built here)."""
    try:
        from aihwkit_sc import presets

        return int(presets.get(device).rpu_config().update.desired_bl)
    except Exception:  # a digital or plugin preset without an update configuration
        return None


def telemetry_section(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """Per policy and analog layer, epoch by epoch: x·d, mean bit length, % of rows capped, pulses per sample."""
    if not rows:
        return []
    run = rows[0]
    lines = [f"### Update telemetry (seed {run['seed']}, {run['budget']} epochs, validation split; per analog layer, "
             f"epochs separated by /; from [`{args.telemetry_csv.name}`]({args.telemetry_csv.name}))", "",
             "Bit length: mean over update rows (a sample of a linear layer, a patch of a convolution). Capped: "
             "% of rows whose lr·max|x|·max|d| / dw_min exceeds the bit-length cap "
             f"(desired_bl = {desired_bl(run['device'])}; their d side clips). "
             "Pulses: coincidences per training sample.", ""]
    body = []
    for policy in [p for p in POLICIES if any(r["policy"] == p for r in rows)]:
        mine = [r for r in rows if r["policy"] == policy]
        for layer in sorted({r["layer"] for r in mine}):
            by_epoch = sorted((r for r in mine if r["layer"] == layer), key=lambda r: r["epoch"])

            def cells(name: str, fmt: str, by_epoch: list[dict[str, Any]] = by_epoch) -> str:
                return " / ".join(format(r[name], fmt) for r in by_epoch)

            body.append([policy, f"{mine[0]['scale']:g}", str(layer + 1), cells("xd", ".3g"),
                         cells("bit_length", ".2f"), " / ".join(f"{100 * r['capped']:.1f}" for r in by_epoch),
                         cells("pulses_per_sample", ".0f")])
    header = ["policy", "scale", "layer", "x·d", "bit length", "capped %", "pulses / sample"]
    return [*lines, *table(header, body), ""]


def plot(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Per device, mean test accuracy against the epoch for each policy at the largest final budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    paths = []
    for device in sorted({r["device"] for r in rows if r["phase"] == "final"}):
        final = [r for r in current_finals(rows) if r["device"] == device]
        budget = max(r["budget"] for r in final)
        fig, ax = plt.subplots(figsize=(6.5, 4), dpi=120)
        for policy in POLICIES + REFERENCES:
            runs = [r for r in final if r["policy"] == policy and r["budget"] == budget and r["final_accuracy"]]
            if runs:
                n = min(len(r["accuracies"]) for r in runs)
                ax.plot(range(1, n + 1), [100 * statistics.mean(r["accuracies"][e] for r in runs) for e in range(n)],
                        marker="o", markersize=3, label=f"{policy} (n={len(runs)})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test accuracy (%), mean over seeds")
        ax.set_title(f"LeNet-5 on {device}, {budget} epochs")
        ax.legend()
        fig.tight_layout()
        path = out.with_name(f"{out.stem}-{device}-{budget}ep.png")
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    write_page(args.out, report(rows, args, read_telemetry(args.telemetry_csv)), findings=True)
    plot(rows, args.out)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--devices", nargs="+", default=list(DEVICES))
    p.add_argument("--policies", nargs="+", default=list(POLICIES + REFERENCES))
    p.add_argument("--scales", nargs="+", type=float, default=list(SCALES), help="device pulses grid (analog)")
    p.add_argument("--digital-scales", nargs="+", type=float, default=list(DIGITAL_SCALES),
                   help="global LR multipliers of DIGITAL_LR (pytorch)")
    p.add_argument("--tune-budget", type=int, default=3)
    p.add_argument("--tune-seeds", type=int, default=2)
    p.add_argument("--budgets", nargs="+", type=int, default=[3, 5])
    p.add_argument("--ref-budget", type=int, default=5)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--validation", type=int, default=VALIDATION)
    p.add_argument("--limit", type=int, default=None, help="training samples per run (toy runs)")
    p.add_argument("--phase", choices=["tune", "final", "telemetry", "all"], default="all")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "ablation")
    p.add_argument("--telemetry-csv", type=Path, default=RESULTS / "ablation-telemetry.csv")
    add_study_options(p, csv=RESULTS / "ablation.csv", out=RESULTS / "ablation.md")
    p.add_argument("--pin", nargs="+", default=[], metavar="DEVICE/POLICY=SCALE",
                   help="final runs of a policy at this scale instead of its tuned one (a re-run the page reports "
                        "apart from the tuned finals)")
    args = p.parse_args(argv)
    pins = {}
    for spec in args.pin:
        name, _, value = spec.partition("=")
        try:
            pins[name] = float(value)
        except ValueError:
            p.error(f"--pin expects DEVICE/POLICY=SCALE (e.g. semi-ideal/anneal=1), got {spec!r}")
        if name.count("/") != 1:
            p.error(f"--pin expects DEVICE/POLICY=SCALE (e.g. semi-ideal/anneal=1), got {spec!r}")
    args.pin = pins
    unknown = sorted(set(args.policies) - set(POLICIES + REFERENCES))
    if unknown:
        p.error(f"unknown policies {unknown}: choose from {', '.join(POLICIES + REFERENCES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train what the CSVs lack, device by device (the page rewritten after each: whole answers arrive first), then
    the page; Ctrl-C keeps the finished rows and the page shows them."""
    args = parse(argv)

    def run_missing() -> None:
        for device in args.devices:
            try:
                train_device(device, args)
            finally:  # the page follows the rows, whatever stops the device
                rows = read_rows(args.csv)
                if rows:
                    write_report(rows, args)

    def write(rows: list[dict[str, Any]]) -> str:
        write_report(rows, args)
        return str(args.out)

    run_then_report(args, run_missing, lambda: read_rows(args.csv), write)


def train_device(device: str, args: argparse.Namespace) -> None:
    """The device's tuning, finals (and references) and telemetry runs that the CSVs lack, as ``--phase`` says."""
    policies = [p for p in args.policies if p in POLICIES]
    references = [p for p in args.policies if p in REFERENCES]
    if args.phase in ("tune", "all"):
        train_missing(plan("tune", [device], policies, None, [args.tune_budget], range(args.tune_seeds), args), args)
    if args.phase in ("final", "all"):
        scales = tuned_scales(read_rows(args.csv)) | args.pin
        untuned = [f"{device}/{p}" for p in policies if f"{device}/{p}" not in scales]
        if untuned:
            raise SystemExit(f"no tuning results for {', '.join(untuned)}: run --phase tune first")
        seeds = range(FINAL_SEED0, FINAL_SEED0 + args.seeds)
        train_missing(plan("final", [device], policies, scales, args.budgets, seeds, args)
                      + plan("final", [device], references, None, [args.ref_budget], seeds, args), args)
    if args.phase in ("telemetry", "all") and device not in DIGITAL and device not in TRANSPLANTS:
        scales = tuned_scales(read_rows(args.csv))
        train_missing(plan("telemetry", [device], [p for p in policies if f"{device}/{p}" in scales], scales,
                           [args.tune_budget], [FINAL_SEED0], args), args)


if __name__ == "__main__":
    main()
