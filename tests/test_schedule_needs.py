"""A schedule says what the run must measure for it (its registry entry's ``needs``); the training loop asks for
nothing by schedule name, so a plugin schedule gets the measured x·d exactly as the built-ins do."""

from __future__ import annotations

from typing import Any

import pytest
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from aihwkit_sc import hookimpl, plugins, schedules
from aihwkit_sc.training import TrainConfig, train

SEEN: list[Any] = []


def recording(optimizer: Optimizer, *, steps_per_epoch: int, epochs: int, xd_product: Any = None) -> LambdaLR:
    SEEN.append(xd_product)
    return LambdaLR(optimizer, lambda step: 1.0)


class NeedsPlugin:
    @hookimpl
    def register_schedules(self, register: Any) -> None:
        register("wants-xd", recording, needs=("xd_product",), description="records the x·d it is given")
        register("takes-xd", recording, description="takes x·d but does not ask the run for it")


class NonsensePlugin:
    @hookimpl
    def register_schedules(self, register: Any) -> None:
        register("wants-nonsense", recording, needs=("batch_norm",), description="asks for what no run measures")
        register("wants-xd-too", recording, needs=["xd_product"], description="fine")


@pytest.fixture
def host(fresh_host: plugins.PluginHost) -> plugins.PluginHost:
    assert fresh_host.add_plugin(NeedsPlugin(), "needs-plugin")
    SEEN.clear()
    return fresh_host


def test_a_plugin_schedule_that_needs_xd_gets_the_measured_value(host: plugins.PluginHost) -> None:
    config = TrainConfig(preset="gv", schedule="wants-xd", epochs=1, limit=64, batch_size=32)
    result = train(config, quiet=True)
    assert len(SEEN) == 1 and len(SEEN[0]) == 4 and all(v > 0 for v in SEEN[0])  # one per LeNet-5 analog layer
    assert result.summary["schedule_options"] == {"xd_product": SEEN[0]}
    # a schedule that does not ask gets nothing measured; a digital model has nothing to measure
    train(TrainConfig(preset="gv", schedule="takes-xd", epochs=1, limit=64, batch_size=32), quiet=True)
    train(TrainConfig(preset="pytorch", schedule="wants-xd", epochs=1, limit=64, batch_size=32), quiet=True)
    assert SEEN[1:] == [None, None]
    # "auto" always means "measured by the run", asked for or not
    train(TrainConfig(preset="gv", schedule="takes-xd", schedule_options={"xd_product": "auto"}, epochs=1, limit=64,
                      batch_size=32), quiet=True)
    assert len(SEEN[3]) == 4


def test_needs_name_only_what_a_run_measures(host: plugins.PluginHost) -> None:
    # checked at registration: reported naming plugin and schedule, skipped, and nothing else is disturbed
    message = ("schedule 'wants-nonsense' needs 'batch_norm', which a run cannot measure for it: needs may name its "
               "own options among xd_product, max_lr, lr, device_pulses")
    host.add_plugin(NonsensePlugin(), "nonsense-plugin")
    with pytest.warns(plugins.PluginWarning, match=f"plugin 'nonsense-plugin': {message}"):
        listed = schedules.names()  # registries fill on first use
    assert "wants-nonsense" not in listed and schedules.needs("wants-xd-too") == ("xd_product",)
    assert schedules.needs("one-cycle") == ("xd_product",) and schedules.needs("triangular") == ()
    assert {i.name: i for i in host.plugins()}["nonsense-plugin"].errors == [message]


def test_one_cycle_peaks_at_the_optimizer_lr_unless_told(host: plugins.PluginHost) -> None:
    lr = schedules.trace("one-cycle", epochs=1, steps_per_epoch=10, lr=0.03)["lr"]
    assert max(lr) == pytest.approx(0.03)
    assert max(schedules.trace("one-cycle", epochs=1, steps_per_epoch=10, lr=0.03, max_lr=0.2)["lr"]) == \
        pytest.approx(0.2)
