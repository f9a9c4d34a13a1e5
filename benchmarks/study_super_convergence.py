"""Study (issue 8): does one-cycle beat a well-chosen step schedule on analog devices at equal epoch budgets?

LeNet-5 on mnist-5k, batch 64, momentum 0.9 (0.95-0.85 cycled for one-cycle). Policies:

* ``step@poster``: step 0.01, x0.94 every 2 epochs (the poster's MNIST baseline);
* ``step@range-test``: the same at the LR the range test suggests (measured once per device, seed 0);
* ``one-cycle``: one-cycle max 0.1 without analog options (equals torch's OneCycleLR);
* ``one-cycle+floor``: AnalogOneCycleLR with the device-derived LR floor/ceiling.

Writes ``docs/results/super-convergence.md``: final and best test accuracy (mean ± std over seeds), epochs to 95 %
and estimated update pulses fired until then.

    python benchmarks/study_super_convergence.py --devices gokmen-vlasov --budgets 5 --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from aihwkit_sc.experiments.parallel import run_all
from aihwkit_sc.lr_finder import lr_find
from aihwkit_sc.training import Run, TrainConfig

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "super-convergence.md"


def policies(range_lr: float) -> dict[str, tuple[str, dict[str, Any], float]]:
    one_cycle = {"max_lr": 0.1, "div_factor": 10.0, "max_momentum": 0.95, "base_momentum": 0.85}
    return {
        "step@poster": ("step", {"lr": 0.01, "gamma": 0.94, "step_size": 2}, 0.01),
        f"step@range-test ({range_lr:.3g})": ("step", {"lr": range_lr, "gamma": 0.94, "step_size": 2}, range_lr),
        "one-cycle": ("one-cycle", dict(one_cycle), 0.1),
        "one-cycle+floor": ("one-cycle", one_cycle | {"analog_lr_bounds": "device", "xd_product": "auto"}, 0.1),
    }


def range_test_lr(device: str) -> float:
    probe = Run(TrainConfig(preset=device, schedule="constant", lr=1e-4))
    return lr_find(probe.model, probe.optimizer, probe.train_loader, start_lr=1e-4, end_lr=10, num_iter=100).valley


def first_at(metrics: list[dict[str, Any]], target: float) -> int | None:
    return next((m["epoch"] for m in metrics if m["test_accuracy"] >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["pytorch", "semi-ideal", "gokmen-vlasov"])
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 5, 10])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    lines = ["# Super-convergence on analog devices: policies at equal epoch budgets", "",
             "LeNet-5 on `mnist-5k` (4,000/1,000), batch 64. Regenerate: `python benchmarks/study_super_convergence.py "
             f"--devices {' '.join(args.devices)} --budgets {' '.join(map(str, args.budgets))} --seeds {args.seeds}`",
             "", "| device | epochs | policy | final (%) | best (%) | epochs to 95 % (per seed) | pulses to 95 % |",
             "|---|---|---|---|---|---|---|"]
    for device in args.devices:
        lr = range_test_lr(device)
        for budget in args.budgets:
            table = policies(lr)
            jobs = [(TrainConfig(preset=device, schedule=schedule, schedule_options=dict(options), lr=start,
                                 epochs=budget, seed=seed, count_pulses=device != "pytorch"), None)
                    for schedule, options, start in table.values() for seed in range(args.seeds)]
            results = run_all(jobs, workers=args.workers)
            for k, name in enumerate(table):
                runs = results[k * args.seeds:(k + 1) * args.seeds]
                finals = [100 * r["metrics"][-1]["test_accuracy"] for r in runs]
                best = [100 * max(m["test_accuracy"] for m in r["metrics"]) for r in runs]
                reach = [first_at(r["metrics"], 0.95) for r in runs]
                pulses = [sum(m["pulses"] or 0 for m in r["metrics"][:e]) for r, e in zip(runs, reach, strict=True)
                          if e is not None and r["metrics"][0]["pulses"] is not None]
                std = statistics.stdev(finals) if len(finals) > 1 else 0.0
                lines.append(
                    f"| {device} | {budget} | {name} | {statistics.mean(finals):.2f} ± {std:.2f} | "
                    f"{statistics.mean(best):.2f} | {', '.join(str(e) if e else '–' for e in reach)} | "
                    f"{f'{statistics.mean(pulses):.3g}' if pulses else '–'} |")
                print(lines[-1], flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
