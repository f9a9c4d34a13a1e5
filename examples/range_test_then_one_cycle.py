"""LR range test, then one-cycle with the suggested max LR (what `aihwkit-sc train --max-lr auto` does).

    python examples/range_test_then_one_cycle.py --epochs 5

On a digital model the suggested LR is every layer's peak. Analog layers take their own device peak instead (the
range test's LR would reach only their digital biases), which is why ``--max-lr auto`` is refused for them.
"""

from __future__ import annotations

import argparse

from aihwkit_sc.lr_finder import lr_find
from aihwkit_sc.training import Run, TrainConfig, train


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pytorch")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="training digits to use (default: all 4,000)")
    parser.add_argument("--plot", default="lr-find.png")
    args = parser.parse_args(argv)

    probe = Run(TrainConfig(preset=args.preset, schedule="constant", lr=1e-4, limit=args.limit))
    found = lr_find(probe.model, probe.optimizer, probe.train_loader, start_lr=1e-4, end_lr=10, num_iter=60)
    found.plot(args.plot)
    print(f"range test: valley {found.valley:.3g}, steepest {found.steepest:.3g} (plot: {args.plot})")

    config = TrainConfig(preset=args.preset, schedule="one-cycle", lr=found.valley, epochs=args.epochs,
                         schedule_options={"max_lr": found.valley}, limit=args.limit)
    result = train(config, quiet=True, on_epoch=lambda m: print(f"epoch {m['epoch']}: {m['test_accuracy']:.4f}"))
    return {"max_lr": found.valley, "final_test_accuracy": result.summary["final_test_accuracy"]}


if __name__ == "__main__":
    print(main())
