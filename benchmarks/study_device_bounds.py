"""Study: does AnalogOneCycleLR's device-derived LR floor/ceiling help on MNIST-5k with Gokmen-Vlasov?

Runs ``examples/one_cycle_mnist5k.py`` (LeNet-5, batch 64, one-cycle max LR 0.1, momentum 0.9) with
``--analog plain`` (row ``none``) and ``--analog clamp`` (row ``device``) for several seeds, two processes at a
time (one thread each), and writes ``docs/results/device-bounds.md``.

    python benchmarks/study_device_bounds.py --epochs 10 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "one_cycle_mnist5k.py"
OUT = ROOT / "docs" / "results" / "device-bounds.md"


def run(bounds: str, seed: int, epochs: int, preset: str) -> dict[str, object]:
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    code = ("import torch, runpy, sys; torch.set_num_threads(1); sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    mode = {"none": "plain", "device": "clamp"}[bounds]  # the example's one-cycle analog modes
    cmd = [sys.executable, "-c", code, str(EXAMPLE), "--analog", mode, "--seed", str(seed),
           "--epochs", str(epochs), "--preset", preset]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    print(out.strip().splitlines()[-1], flush=True)
    return json.loads(out.strip().splitlines()[-1])


def first_epoch_at(accuracies: list[float], target: float) -> str:
    return next((str(i + 1) for i, a in enumerate(accuracies) if a >= target), "–")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", default="gokmen-vlasov")
    args = parser.parse_args()
    jobs = [(b, s) for s in args.seeds for b in ("none", "device")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: run(job[0], job[1], args.epochs, args.preset), jobs))
    lines = [
        "# Device-derived LR bounds for AnalogOneCycleLR",
        "",
        "> Superseded as the default by each layer's *device peak* (`analog_max_lr=\"device\"`), which beats this",
        "> clamp: see [super-convergence.md](super-convergence.md). This page compares torch's plain cycle with the",
        "> clamp only.",
        "",
        f"LeNet-5 on `mnist-5k` (4,000 train / 1,000 test), preset `{args.preset}`, batch 64, {args.epochs} epochs, "
        "one-cycle max LR 0.1 (div 25, final div 1e4, pct_start 0.3), momentum 0.95–0.85 on digital groups.",
        "`device`: `analog_lr_bounds=\"device\"` with `xd_product` measured on the first batch "
        "(`measure_xd_product`).",
        "",
        f"Regenerate: `python benchmarks/study_device_bounds.py --epochs {args.epochs} --seeds "
        f"{' '.join(map(str, args.seeds))}`",
        "",
        "| bounds | final test acc. (mean ± std) | best | epochs to 95 % (per seed) "
        "| per-epoch accuracy (seed by seed) |",
        "|---|---|---|---|---|",
    ]
    for bounds in ("none", "device"):
        accs = [r["test_accuracy"] for r in results if r["bounds"] == bounds]
        finals = [a[-1] for a in accs]  # type: ignore[index]
        best = [max(a) for a in accs]  # type: ignore[type-var]
        std = statistics.stdev(finals) if len(finals) > 1 else 0.0
        reach = ", ".join(first_epoch_at(a, 0.95) for a in accs)  # type: ignore[arg-type]
        curves = "<br>".join(" ".join(f"{x:.3f}" for x in a) for a in accs)  # type: ignore[union-attr]
        lines.append(f"| {bounds} | {100 * statistics.mean(finals):.2f} ± {100 * std:.2f} % | "
                     f"{100 * statistics.mean(best):.2f} % | {reach} | {curves} |")
    device_bounds = next(r["lr_bounds"] for r in results if r["bounds"] == "device")
    lines += ["", "LR bounds per analog tile (conv1, conv2, fc1, fc2), seed " f"{args.seeds[0]}: "
              + ", ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in device_bounds), ""]  # type: ignore[union-attr]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
