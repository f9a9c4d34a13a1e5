"""How much of the error signal survives an analog backward pass? Per analog layer, at a run's initial weights.

For each network, preset and seed this builds the model exactly as ``aihwkit-sc train`` does for that seed (same
seeded tiles and initial weights), runs one training batch (the first 64 training samples) forward and backward
through the analog tiles, and compares the error ``d`` that reaches each analog layer's output with the exact
backpropagation through the same weights (aihwkit's ``convert_to_digital`` copy of the model: the tiles' weights
read back, no I/O noise, no DAC/ADC, no noise or bound management). Two numbers per layer:

- ``cosine``: the cosine similarity of the two errors over the batch (1: the analog backward points where exact
  backpropagation does; 0: it carries no information about it);
- ``norm_ratio``: ``‖d analog‖ / ‖d exact‖`` (well above 1: noise dominates the error's magnitude).

The pulsed update of a layer is ``x·dᵀ`` with this ``d``, so a cosine near 0 means the layer's updates are noise.
aihwkit stores a layer's weights unscaled unless its configuration maps them (``mapping.weight_scaling_omega``; the
``NAME:omega=X`` preset modifier), and a freshly initialised layer's weights span a small part of the device's
range, so its outputs are small against the backward pass's output noise.

Every (network, preset, seed) appends its rows to ``--csv`` at once; one already there is not measured again:

    python benchmarks/study_backward_signal.py                  # measure what is missing, rewrite the page
    python benchmarks/study_backward_signal.py --report-only    # the page from the committed CSV
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.studies import StudyTable, add_study_options, missing, run_then_report, write_page
from aihwkit_sc.experiments.tables import markdown_table, mean_std

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
FIELDS = ["model", "dataset", "preset", "seed", "layer", "kind", "fan_in", "cosine", "norm_ratio", "batch",
          "aihwkit_build", "machine"]
CELLS = (("lenet5", "mnist-5k"), ("vgg8", "mnist-5k-32"))
PRESETS = ("floating-point-tile", "gokmen-vlasov", "gokmen-vlasov:omega=0.6")
"""``floating-point-tile`` is the control: its backward pass is exact, so every cosine is 1."""
BATCH = 64


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The CSV's rows, typed."""
    rows: list[dict[str, Any]] = []
    for raw in StudyTable(path, FIELDS, required=FIELDS).read():
        row: dict[str, Any] = dict(raw)
        row["seed"], row["fan_in"], row["batch"] = int(raw["seed"]), int(raw["fan_in"]), int(raw["batch"])
        row["cosine"], row["norm_ratio"] = float(raw["cosine"]), float(raw["norm_ratio"])
        rows.append(row)
    return rows


def measure(model_name: str, dataset: str, preset: str, seed: int) -> list[dict[str, Any]]:
    """One row per analog layer: the analog backward's error at the layer's output against exact backpropagation."""
    import torch
    from aihwkit.nn.conversion import convert_to_digital
    from torch import nn
    from torch.utils.data import DataLoader

    from aihwkit_sc import devices, seeding, training

    config = training.TrainConfig(model=model_name, preset=preset, dataset=dataset, schedule="constant", seed=seed,
                                  epochs=1, batch_size=BATCH)
    run = training.Run(config, schedule_options={})
    x, y = next(iter(DataLoader(run.train_set, batch_size=BATCH)))
    x.requires_grad_(True)  # so every layer's backward hook sees its input's gradient too (no torch warning)
    names = [name for name, _ in devices.analog_layers(run.model)]

    def errors(model: nn.Module) -> dict[str, torch.Tensor]:
        found: dict[str, torch.Tensor] = {}
        hooks = [module.register_full_backward_hook(
            lambda _m, _gi, go, name=name: found.__setitem__(name, go[0].detach().clone()))
            for name, module in model.named_modules() if name in names]
        model.train()
        nn.functional.cross_entropy(model(x), y).backward()
        for hook in hooks:
            hook.remove()
        return found

    analog = errors(run.model)
    exact = errors(convert_to_digital(run.model))
    modules = dict(run.model.named_modules())
    rows = []
    for name in names:
        a, e = analog[name].flatten(), exact[name].flatten()
        module = modules[name]
        kind = "conv" if hasattr(module, "kernel_size") else "linear"
        fan_in = module.in_channels * math.prod(module.kernel_size) if kind == "conv" else module.in_features
        rows.append({"model": model_name, "dataset": dataset, "preset": run.preset.name, "seed": seed,
                     "layer": name, "kind": kind, "fan_in": fan_in,
                     "cosine": f"{float(nn.functional.cosine_similarity(a, e, dim=0)):.4f}",
                     "norm_ratio": f"{float(a.norm() / e.norm()):.4f}", "batch": BATCH,
                     "aihwkit_build": seeding.build_label(),
                     "machine": f"{platform.machine()} {platform.processor() or ''}".strip()})
    return rows


def run_missing(args: argparse.Namespace) -> None:
    from aihwkit_sc import presets

    done = {(r["model"], r["preset"], r["seed"]) for r in read_rows(args.csv)}
    planned = [(model, dataset, presets.get(preset).name, seed) for model, dataset in args.cells
               for preset in args.presets for seed in range(args.seeds)]
    todo = missing(planned, done, lambda p: (p[0], p[2], p[3]))
    table = StudyTable(args.csv, FIELDS)
    for i, (model, dataset, preset, seed) in enumerate(todo, 1):
        rows = measure(model, dataset, preset, seed)
        table.append(rows)
        if not args.quiet:
            cosines = " ".join(f"{r['cosine']}" for r in rows)
            print(f"[{i}/{len(todo)}] {model} {preset} seed {seed}: cosine per layer {cosines}", file=sys.stderr)


def report(rows: list[dict[str, Any]], source: str = "docs/results/backward-signal.csv") -> str:
    first = rows[0]
    lines = [
        "# The error signal through an analog backward pass, at the initial weights", "",
        f"Generated by `python benchmarks/study_backward_signal.py --report-only` from `{source}` (one row per "
        "network, preset, seed and analog layer). Each seed's model is built as `aihwkit-sc train --seed S` builds it "
        f"(same tiles and initial weights); one batch of the first {first['batch']} training samples goes forward and "
        "backward through the analog tiles, and the error reaching each analog layer's output is compared with exact "
        "backpropagation through the same weights (aihwkit's `convert_to_digital` copy: no I/O noise, DAC/ADC or "
        "management). **cosine**: their cosine similarity over the batch (0: the analog error carries no "
        "information about the exact one). **‖analog‖/‖exact‖**: the ratio of their norms. A layer's pulsed update is "
        f"`x·dᵀ` with this error. Measured with aihwkit build `{first['aihwkit_build']}` on {first['machine']} (CPU); "
        "mean ± std over seeds.", ""]
    keys = list(dict.fromkeys((r["model"], r["dataset"]) for r in rows))
    for model, dataset in keys:
        mine = [r for r in rows if r["model"] == model]
        presets = list(dict.fromkeys(r["preset"] for r in mine))
        layers = list(dict.fromkeys((r["layer"], r["kind"], r["fan_in"]) for r in mine))
        lines += [f"## {model} on {dataset}", ""]
        header = ["layer", "fan-in"]
        for preset in presets:
            seeds = len({r["seed"] for r in mine if r["preset"] == preset})
            header += [f"cosine, `{preset}` ({seeds} seeds)", f"‖analog‖/‖exact‖, `{preset}`"]
        body = []
        for layer, kind, fan_in in layers:
            cells = [f"{layer} ({kind})", str(fan_in)]
            for preset in presets:
                chosen = [r for r in mine if r["preset"] == preset and r["layer"] == layer]
                cells += [mean_std([r["cosine"] for r in chosen]),
                          mean_std([r["norm_ratio"] for r in chosen])]
            body.append(cells)
        lines += [*markdown_table(header, body), ""]
        summary = []
        for preset in presets:
            below_last = [statistics.mean(r["cosine"] for r in mine if r["preset"] == preset and r["layer"] == layer)
                          for layer, _, _ in layers[:-1]]
            if below_last:
                summary.append(f"`{preset}`: mean cosine over the layers below the last from "
                               f"{min(below_last):.2f} to {max(below_last):.2f}")
        if summary:
            lines += ["Layers below the last (whose error has passed through at least one analog backward): "
                      + "; ".join(summary) + ".", ""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def _cells(text: str) -> list[tuple[str, str]]:
    known = dict(CELLS)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown network {','.join(unknown) or text!r}: choose from "
                                         f"{', '.join(known)}")
    return [(name, known[name]) for name in chosen]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--models", dest="cells", type=_cells, default=list(CELLS),
                   help="comma-separated networks (lenet5, vgg8)")
    p.add_argument("--presets", type=lambda s: [n for n in s.split(",") if n], default=list(PRESETS),
                   help="comma-separated analog presets")
    p.add_argument("--seeds", type=int, default=5)
    add_study_options(p, csv=RESULTS / "backward-signal.csv", out=RESULTS / "backward-signal.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    def write(rows: list[dict[str, Any]]) -> str:
        write_page(args.out, report(rows, source=_shown(args.csv)))
        return str(args.out)

    run_then_report(args, lambda: run_missing(args), lambda: read_rows(args.csv), write)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
