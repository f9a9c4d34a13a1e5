"""``AnalogOneCycleLR.step()`` against torch ``OneCycleLR.step()`` on the same LeNet-5 analog optimizer."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import interleaved_ratio, record
from torch.optim.lr_scheduler import OneCycleLR

from aihwkit_sc import AnalogOneCycleLR, build, make_optimizer


@pytest.fixture(scope="module")
def lenet_optimizer() -> Any:
    torch.manual_seed(0)
    model = build("lenet5", preset="gokmen-vlasov")
    return model, make_optimizer(model, lr=0.1, momentum=0.9)


def test_one_cycle_step_vs_torch(benchmark: Any, lenet_optimizer: Any) -> None:
    model, opt = lenet_optimizer
    ours = AnalogOneCycleLR(opt, 0.1, total_steps=10_000_000)
    state = ours.state_dict()
    reference = OneCycleLR(opt, 0.1, total_steps=10_000_000)
    ours.load_state_dict(state)
    opt.step()  # torch warns when a scheduler steps before its optimizer ever did
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))

    def train_step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    ours_s, torch_s, ratio = interleaved_ratio(ours.step, reference.step, rounds=25, inner=200)
    batch_s, _, _ = interleaved_ratio(train_step, lambda: None, rounds=5, inner=2)
    record("AnalogOneCycleLR.step / OneCycleLR.step",
           f"{ratio:.2f}x ({ours_s * 1e6:.1f} us vs {torch_s * 1e6:.1f} us; one LeNet-5 GV batch of 64 takes "
           f"{batch_s * 1e3:.0f} ms, so the scheduler adds {100 * (ours_s - torch_s) / batch_s:.3f} %)")
    benchmark.extra_info.update(ratio=ratio, ours_us=ours_s * 1e6, torch_us=torch_s * 1e6, batch_ms=batch_s * 1e3)
    benchmark(ours.step)
