"""The seed patch's own test, as the upstream pull request proposes it for aihwkit's test suite
(``docs/upstream/aihwkit-seed-pr.md`` quotes this file): plain aihwkit, no aihwkit-sc code, so it checks the patched
build itself."""

from __future__ import annotations

from typing import Any

import torch
from aihwkit.nn import AnalogLinear
from aihwkit.optim import AnalogSGD
from aihwkit.simulator import rpu_base
from aihwkit.simulator.configs import SingleRPUConfig, UnitCellRPUConfig
from aihwkit.simulator.configs.compounds import TransferCompound
from aihwkit.simulator.configs.devices import ConstantStepDevice, SoftBoundsDevice


def configs() -> list[Any]:
    single = SingleRPUConfig(device=ConstantStepDevice(construction_seed=3))
    single.forward.out_noise = 0.1  # read noise
    transfer = UnitCellRPUConfig(device=TransferCompound(
        unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()], construction_seed=3))
    return [single, transfer]


def run(rpu_config: Any, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = AnalogLinear(6, 3, rpu_config=rpu_config)
    for i, tile in enumerate(model.analog_tiles()):
        tile.tile.set_random_seed(seed + i)
    opt = AnalogSGD(model.parameters(), lr=0.1)
    x, y = torch.rand(10, 6), torch.rand(10, 3)
    outs = []
    for _ in range(5):
        opt.zero_grad()
        out = model(x)
        ((out - y) ** 2).sum().backward()
        opt.step()
        outs.append(out.detach())
    return torch.stack(outs), model.get_weights()[0]


def test_same_seed_bit_identical() -> None:
    for cfg in configs():
        a, b = run(cfg, 11), run(cfg, 11)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_other_seed_differs() -> None:
    cfg = configs()[0]
    assert not torch.equal(run(cfg, 11)[1], run(cfg, 12)[1])


def test_global_seed_covers_construction() -> None:
    cfg = SingleRPUConfig(device=ConstantStepDevice())  # construction_seed = 0: drawn from the global state
    rpu_base.set_global_random_seed(5)
    a = run(cfg, 11)
    rpu_base.set_global_random_seed(5)
    b = run(cfg, 11)
    rpu_base.set_global_random_seed(0)
    assert torch.equal(a[1], b[1])
