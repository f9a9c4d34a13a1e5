"""One process's analog training throughput, for ``test_bench_aihwkit_builds.py``: LeNet-5 on Gokmen-Vlasov, the
real training loop (:func:`aihwkit_sc.training.train_epoch`) on mnist-5k, one warm-up epoch then timed epochs.

Run with the aihwkit build under test first on ``PYTHONPATH``; prints one JSON line: training samples/s of each timed
epoch, which aihwkit was imported (file, build kind) and the metrics of the last epoch without its timing fields.
"""

from __future__ import annotations

import argparse
import json

import torch
from torch.utils.data import DataLoader


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="gokmen-vlasov")
    parser.add_argument("--test-size", type=int, default=256,
                        help="test samples evaluated per epoch (0: the whole test set)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import aihwkit

    from aihwkit_sc import data, seeding
    from aihwkit_sc.training import Run, TrainConfig, train_epoch

    run = Run(TrainConfig(preset=args.preset, limit=64 * args.batches, batch_size=64, epochs=1000,
                          schedule="constant", seed=args.seed))
    if args.test_size:
        run.test_loader = DataLoader(list(run.test_loader.dataset)[:args.test_size], batch_size=args.test_size)
    else:  # the dataset's whole test set (a run with ``limit`` tests on a quarter of it)
        run.test_loader = DataLoader(data.load(run.config.dataset)[1], batch_size=1000)
    train_epoch(run, 0, None, quiet=True)  # warm-up: allocations, first-call costs
    rates, row = [], {}
    for epoch in range(1, args.epochs + 1):
        row = train_epoch(run, epoch, None, quiet=True)
        rates.append(row["samples_per_s"])  # the training part of the epoch, as every run's metrics report it
    print(json.dumps({
        "samples_per_s": rates, "aihwkit": aihwkit.__file__, "build": seeding.build_kind(),
        "torch_threads": torch.get_num_threads(),
        "metrics": {k: v for k, v in row.items() if k not in ("wall_time_s", "samples_per_s")},
    }))


if __name__ == "__main__":
    main()
