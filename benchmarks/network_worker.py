"""One process's training speed of one network on one preset, for ``test_bench_networks.py``: the model zoo's builder,
random input of the network's shape, cross-entropy, ``make_optimizer`` (aihwkit's ``AnalogSGD`` for analog models,
torch ``SGD`` for digital ones), one warm-up step, then training steps for ``--seconds`` (at least ``--min-steps``).

Run with the aihwkit build under test first on ``PYTHONPATH``; prints one JSON line: samples/s, steps, which aihwkit
was imported and how its pulsed tiles do a batch (``seeding.matrix_path``).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

#: input shape (channels, height, width) per network, as the issue-20 measurements used
SHAPES = {"lenet5": (1, 28, 28), "vgg8": (1, 32, 32), "resnet18": (3, 32, 32)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--network", choices=sorted(SHAPES), required=True)
    parser.add_argument("--preset", default="gokmen-vlasov")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--min-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import aihwkit

    from aihwkit_sc import build, make_optimizer, seeding

    channels, height, width = SHAPES[args.network]
    model = build(args.network, preset=args.preset, in_channels=channels)
    optimizer = make_optimizer(model, lr=0.01)
    x = torch.rand(args.batch, channels, height, width)
    y = torch.randint(0, 10, (args.batch,))

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    step()  # warm-up: allocations, first-call costs
    steps, start = 0, time.perf_counter()
    while steps < args.min_steps or time.perf_counter() - start < args.seconds:
        step()
        steps += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"samples_per_s": steps * args.batch / elapsed, "steps": steps, "seconds": elapsed,
                      "aihwkit": aihwkit.__file__, "matrix_path": seeding.matrix_path(),
                      "build": seeding.build_kind()}))


if __name__ == "__main__":
    main()
