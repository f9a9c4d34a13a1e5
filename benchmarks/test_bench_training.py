"""The aihwkit-sc training loop against a hand-written aihwkit loop, and the `pytorch` preset against aihwkit's
floating-point tiles, each a ratio timed in one run."""

from __future__ import annotations

from typing import Any

import torch
from conftest import interleaved_ratio, record
from torch import nn
from torch.utils.data import DataLoader

from aihwkit_sc import build, make_optimizer
from aihwkit_sc.training import Run, TrainConfig, train_epoch

BATCHES = 8


def test_training_loop_vs_hand_written_aihwkit_loop(benchmark: Any) -> None:
    """Same LeNet-5 on Gokmen-Vlasov, same 8 batches of 64 mnist-5k digits: our epoch against the textbook loop."""
    torch.manual_seed(0)
    config = TrainConfig(preset="gv", limit=64 * BATCHES, batch_size=64, epochs=1000, schedule="constant")
    run = Run(config)
    run.test_loader = DataLoader(list(run.test_loader.dataset)[:1], batch_size=1)  # time the training part
    hand_model = build("lenet5", preset="gv")
    hand_opt = make_optimizer(hand_model, lr=0.1, momentum=0.9)
    loader = run.train_loader
    epoch = [0]

    def ours() -> None:
        train_epoch(run, epoch[0], None, quiet=True)
        epoch[0] += 1

    def hand_written() -> None:
        hand_model.train()
        for x, y in loader:
            hand_opt.zero_grad()
            loss = nn.functional.cross_entropy(hand_model(x), y)
            loss.backward()
            hand_opt.step()

    ours_s, hand_s, ratio = interleaved_ratio(ours, hand_written, rounds=5, inner=1)
    record("training loop / hand-written aihwkit loop (LeNet-5, GV, 8x64)",
           f"{ratio:.3f}x ({ours_s:.2f} s vs {hand_s:.2f} s per 512 samples; ours re-measures x·d once per epoch, "
           f"one extra forward and backward of a batch: 1/{BATCHES} of this benchmark's epoch, about 1/55 of a "
           "mnist-5k epoch)")
    benchmark.extra_info.update(ratio=ratio)
    benchmark.pedantic(ours, rounds=2, iterations=1)


def test_pytorch_preset_vs_aihwkit_floating_point_tiles(benchmark: Any) -> None:
    """One training batch of LeNet-5: plain torch layers (the `pytorch` preset) against aihwkit's floating-point tiles
    (``FloatingPointRPUConfig``: the C++ ``RPUSimple`` tile, exact float update)."""
    from aihwkit.simulator.configs import FloatingPointRPUConfig

    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    models = {"pytorch": build("lenet5"), "floating-point": build("lenet5", preset=FloatingPointRPUConfig())}
    optimizers = {name: make_optimizer(model, lr=0.05) for name, model in models.items()}

    def step(name: str) -> None:
        optimizers[name].zero_grad()
        nn.functional.cross_entropy(models[name](x), y).backward()
        optimizers[name].step()

    fp_s, torch_s, ratio = interleaved_ratio(lambda: step("floating-point"), lambda: step("pytorch"), rounds=10,
                                             inner=3)
    record("aihwkit floating-point tiles / pytorch preset (LeNet-5 batch of 64)",
           f"{ratio:.1f}x ({64 / fp_s:.0f} vs {64 / torch_s:.0f} samples/s)")
    benchmark.extra_info.update(ratio=ratio)
    benchmark(step, "pytorch")
