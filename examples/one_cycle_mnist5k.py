"""Train LeNet-5 on the offline MNIST subset with AnalogOneCycleLR: the library loop, end to end.

    python examples/one_cycle_mnist5k.py --preset gokmen-vlasov --epochs 5       # each layer peaks at its device LR
    python examples/one_cycle_mnist5k.py --preset gv --analog plain              # torch's OneCycleLR on the tiles
    python examples/one_cycle_mnist5k.py --preset gv --analog clamp              # torch's cycle clamped to the device

Prints one line per epoch and a final JSON line with the test accuracy per epoch.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from aihwkit_sc import AnalogOneCycleLR, build, data, make_optimizer
from aihwkit_sc.schedules import measure_xd_product
from aihwkit_sc.schedules.one_cycle import ANALOG_MODES
from aihwkit_sc.training import evaluate


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gokmen-vlasov")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--analog", choices=list(ANALOG_MODES), default="device",
                        help="analog layers: their own device peak, torch's cycle clamped to the device, or plain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="use only this many training digits (0: all 4000)")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train, test = data.load("mnist-5k")
    if args.limit:
        train, test = Subset(train, range(args.limit)), Subset(test, range(min(args.limit, len(test))))
    train_loader = DataLoader(train, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=500)

    model = build("lenet5", preset=args.preset)
    optimizer = make_optimizer(model, lr=args.max_lr, momentum=args.momentum)
    x, y = next(iter(train_loader))  # the device options read the typical per-sample max|x|·max|d| of each tile
    xd = measure_xd_product(model, optimizer, x, y)
    scheduler = AnalogOneCycleLR(optimizer, args.max_lr, epochs=args.epochs, steps_per_epoch=len(train_loader),
                                 xd_product=xd, **ANALOG_MODES[args.analog])
    peaks = [scheduler.peak_lrs[i] for i in scheduler.analog_groups]
    print("analog peak LR per layer:", [round(p, 4) for p in peaks])
    if scheduler.bounds:
        print("analog LR bounds per group:", {i: tuple(round(b, 4) for b in v) for i, v in scheduler.bounds.items()})
    accuracies = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        for x, y in train_loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        accuracies.append(evaluate(model, test_loader)[1])
        print(f"epoch {epoch + 1}: test accuracy {accuracies[-1]:.4f} ({time.perf_counter() - start:.1f} s)",
              flush=True)
    result = {"preset": args.preset, "analog": args.analog, "analog_peaks": peaks,
              "lr_bounds": list(scheduler.bounds.values()),
              "max_lr": args.max_lr, "seed": args.seed, "epochs": args.epochs, "test_accuracy": accuracies}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
