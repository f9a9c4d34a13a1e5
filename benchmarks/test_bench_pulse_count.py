"""What counting update pulses adds to a VGG-8 training step on mapped Gokmen-Vlasov, the study's costliest cell.

The super-convergence study counts pulses in every final run (``count_pulses``). On CPU the count is an estimate of
the pending update (:mod:`aihwkit_sc.pulses`); for stochastic pulse trains it reduces each update row to its largest
and summed ``|x|`` and ``|d|``, reading element by element only the rows whose d side clips. Timed in the same run:
one training step (forward, backward, pulsed update) of a batch of 64 random 3×32×32 inputs (the study feeds
digits padded to 32×32 and repeated to 3 channels), the count of that batch's update, and the same count element by
element on every row (``_dense_update_rows``, the rule as first written), which gives the same numbers.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import interleaved_ratio, record

from aihwkit_sc import build, make_optimizer, pulses
from aihwkit_sc.pulses import PulseCounter

PRESET = "gokmen-vlasov:omega=0.6"


@pytest.fixture(scope="module")
def vgg8_step() -> Any:
    torch.manual_seed(0)
    model = build("vgg8", preset=PRESET)
    optimizer = make_optimizer(model, lr=0.05, momentum=0.9)
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))

    def backward() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()

    def train_step() -> None:
        backward()
        optimizer.step()

    backward()  # the tiles hold this batch's inputs and errors for the counts below
    return optimizer, train_step


def test_pulse_count_vs_training_step(benchmark: Any, vgg8_step: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    optimizer, train_step = vgg8_step
    counter = PulseCounter()
    fast_s, _, _ = interleaved_ratio(lambda: counter.observe(optimizer), lambda: None, rounds=3, inner=2)
    fast_total = counter.total
    monkeypatch.setattr(pulses, "update_rows", pulses._dense_update_rows)
    dense = PulseCounter()
    dense_s, _, _ = interleaved_ratio(lambda: dense.observe(optimizer), lambda: None, rounds=3, inner=2)
    monkeypatch.undo()
    assert dense.total == pytest.approx(fast_total, rel=1e-5)  # the same count, element by element
    step_s, _, _ = interleaved_ratio(train_step, lambda: None, rounds=3, inner=1)
    record("VGG-8 pulse count / training step",
           f"{fast_s / step_s:.2f}x ({fast_s * 1e3:.0f} ms vs {step_s * 1e3:.0f} ms per batch of 64 on {PRESET}); "
           f"counted element by element on every row it was {dense_s / step_s:.2f}x "
           f"({dense_s / fast_s:.1f}x the row-reduction count)")
    benchmark.extra_info.update(count_ms=fast_s * 1e3, dense_ms=dense_s * 1e3, step_ms=step_s * 1e3)
    benchmark.pedantic(lambda: counter.observe(optimizer), rounds=2, iterations=1)
