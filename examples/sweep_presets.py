"""Sweep device presets: the same LeNet-5 one-cycle run on several devices, final accuracy side by side.

    python examples/sweep_presets.py --presets pytorch semi-ideal gokmen-vlasov reram-es:no-c2c --epochs 3
"""

from __future__ import annotations

import argparse

from aihwkit_sc.experiments.executor import run_all
from aihwkit_sc.training import TrainConfig


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["pytorch", "semi-ideal", "gokmen-vlasov"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    jobs = [(TrainConfig(preset=p, epochs=args.epochs, limit=args.limit,
                         schedule_options={"analog_lr_bounds": "device", "xd_product": "auto"}), None)
            for p in args.presets]
    results = run_all(jobs, workers=args.workers)
    finals = {r["config"]["preset"]: r["summary"]["final_test_accuracy"] for r in results}
    for preset, accuracy in finals.items():
        print(f"{preset:<24} {100 * accuracy:6.2f} %")
    return finals


if __name__ == "__main__":
    main()
