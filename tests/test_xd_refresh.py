"""Schedules as a shape times one analog-LR policy, and a device peak that follows x·d (``xd_refresh``): on every
built-in analog-aware schedule and on a plugin's shape, a refreshed x·d gives the tiles the LRs a schedule built
with that x·d has at the same step; the running estimate of ``"step"``; and a training run that refreshes every
epoch, resumed or not."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from aihwkit_sc import hookimpl, plugins, presets, schedules
from aihwkit_sc.devices import device_unit, xd_rows
from aihwkit_sc.schedules import Fraction
from aihwkit_sc.schedules.analog import contexts
from aihwkit_sc.schedules.shaped import Shape
from aihwkit_sc.training import TrainConfig, TrainingStopped, train
from tests.test_faults import stop_at
from tests.test_one_cycle import analog_setup, group_tile_pairs, train_step

XD = [0.02, 0.05]
NEW = [0.01, 0.2]  # one layer's x·d halves, the other's quadruples


def device_options(name: str) -> dict[str, Any]:
    if name == "one-cycle":
        return {"max_lr": 0.05, "analog_max_lr": "device", "device_pulses": 2.0}
    extra = {"triangular": {"max_lr": 0.05, "base_lr": 0.005}, "step": {"step_size": 0.5}}.get(name, {"lr": 0.05})
    return {**extra, "analog_lr": "device", "device_pulses": 2.0}


def warm_cosine(*, steps: int, steps_per_epoch: int, peak: float, warmup: Fraction = 0.1) -> Shape:
    """A plugin's whole schedule, the README's example: a shape."""
    return lambda k: min(1.0, (k + 1) / (warmup * steps)) * (1 + math.cos(math.pi * k / steps)) / 2


class ShapePlugin:
    @hookimpl
    def register_schedules(self, register: Any) -> None:
        register("warm-cosine", schedules.analog_schedule(warm_cosine), needs=("xd_product",),
                 description="a shape from a plugin")


@pytest.fixture
def host(fresh_host: plugins.PluginHost) -> plugins.PluginHost:
    assert fresh_host.add_plugin(ShapePlugin(), "shape-plugin")
    return fresh_host


def lrs(opt: torch.optim.Optimizer) -> list[float]:
    """Every param group's LR and every tile's, in order."""
    return [g["lr"] for g in opt.param_groups] + [lr for pair in group_tile_pairs(opt) for lr in pair]


ANALOG_AWARE = ["constant", "cosine", "step", "multistep", "triangular", "one-cycle", "warm-cosine"]


@pytest.mark.parametrize("name", ANALOG_AWARE)
def test_a_refreshed_xd_gives_the_lrs_of_a_schedule_built_with_it(name: str, host: plugins.PluginHost) -> None:
    assert {"xd_refresh", "xd_product", "device_pulses"} <= set(schedules.options(name))
    built = []
    for xd in (XD, NEW):
        model, opt = analog_setup()
        sched = schedules.build(name, opt, epochs=2, steps_per_epoch=4, xd_product=xd, xd_refresh="epoch",
                                **device_options(name))
        built.append((model, opt, sched))
    (model, opt, sched), (_, twin_opt, _) = built
    for _ in range(3):
        train_step(model, opt, sched)
        train_step(*built[1])
    before = [t for _, t in group_tile_pairs(opt)]  # the tiles' LRs (float32 in aihwkit)
    sched.refresh_xd(NEW)
    # the tiles and groups now hold what a schedule built with the new x·d holds at this step
    assert lrs(opt) == pytest.approx(lrs(twin_opt), rel=1e-6)
    after = [t for _, t in group_tile_pairs(opt)]
    assert after[0] == pytest.approx(before[0] * XD[0] / NEW[0], rel=1e-6)  # twice the LR for half the x·d
    for _ in range(3):  # and keep doing so as the shape goes on
        train_step(model, opt, sched)
        train_step(*built[1])
        assert lrs(opt) == pytest.approx(lrs(twin_opt), rel=1e-6)
    assert sched.xd_current == NEW


def test_a_layer_measured_without_signal_keeps_its_xd_and_its_lr(host: plugins.PluginHost) -> None:
    """A dead layer measures x·d = 0 (or NaN): its peak is not set from it (it would be infinite), the others are."""
    _, opt = analog_setup()
    sched = schedules.build("cosine", opt, epochs=2, steps_per_epoch=4, xd_product=XD, xd_refresh="epoch",
                            **device_options("cosine"))
    before = [t for _, t in group_tile_pairs(opt)]
    for dead in (0.0, float("nan"), float("inf"), -1.0):
        sched.refresh_xd([dead, *NEW[1:]])
        assert sched.xd_current == [XD[0], *NEW[1:]]
        after = [t for _, t in group_tile_pairs(opt)]
        assert after[0] == pytest.approx(before[0], rel=1e-6) and all(map(math.isfinite, lrs(opt)))
    if len(NEW) > 1:
        assert after[1] == pytest.approx(before[1] * XD[1] / NEW[1], rel=1e-6)


def test_the_step_estimate_moves_a_tenth_of_the_way_to_each_batch(host: plugins.PluginHost) -> None:
    model, opt = analog_setup()
    sched = schedules.build("cosine", opt, epochs=2, steps_per_epoch=4, xd_product=XD, xd_refresh="step",
                            **device_options("cosine"))
    x = torch.randn(8, 4)
    nn.functional.cross_entropy(model(x), torch.randint(0, 3, (8,))).backward()
    batch = []
    for group in opt.param_groups:
        rows = [xd_rows(a, d) for ctx in contexts(group) for a, d in zip(ctx.analog_input, ctx.analog_grad_output,
                                                                         strict=True)]
        if rows:
            batch.append(float(torch.cat([r.reshape(-1) for r in rows]).median()))
    sched.observe()
    assert sched.xd_current == pytest.approx([0.9 * old + 0.1 * b for old, b in zip(XD, batch, strict=True)])
    dw_min, _ = device_unit(presets.get("gv").rpu_config())  # type: ignore[misc]
    analog = [g["lr"] for g in opt.param_groups if contexts(g)]
    assert analog == pytest.approx([2.0 * dw_min / s for s in sched.xd_current], rel=1e-6)  # step 0 of the cosine


def test_a_plugin_shape_gets_its_own_options_checked_and_the_analog_ones_for_free(host: plugins.PluginHost) -> None:
    assert list(schedules.options("warm-cosine")) == ["steps_per_epoch", "epochs", "lr", "warmup", "analog_lr",
                                                     "xd_product", "device_pulses", "device_reference", "xd_refresh"]
    with pytest.raises(ValueError, match=r"^schedule 'warm-cosine' option warmup: expected a number in \(0, 1\), "
                                         r"got 1.5$"):
        schedules.check_run_options("warm-cosine", {"warmup": 1.5})
    assert schedules.needs("warm-cosine") == ("xd_product",)
    lr = schedules.trace("warm-cosine", epochs=1, steps_per_epoch=20, lr=0.2, warmup=0.25)["lr"]
    assert lr[0] == pytest.approx(0.2 * (1 / 5) * (1 + math.cos(0)) / 2) and max(lr) <= 0.2 and min(lr) > 0


def test_bad_xd_refresh_and_a_schedule_without_a_device_peak(host: plugins.PluginHost) -> None:
    _, opt = analog_setup()
    with pytest.raises(ValueError, match=r"^schedule 'constant' option xd_refresh: expected 'none', 'epoch' or "
                                         r"'step', got 'batch'$"):
        schedules.build("constant", opt, epochs=1, steps_per_epoch=2, xd_product=XD, xd_refresh="batch",
                        **device_options("constant"))
    with pytest.raises(ValueError, match=r"^xd_refresh must be one of 'none', 'epoch', 'step', got 'batch'$"):
        schedules.AnalogOneCycleLR(opt, 0.05, total_steps=4, xd_product=XD, xd_refresh="batch")
    sched = schedules.build("constant", opt, epochs=1, steps_per_epoch=2, lr=0.05)  # one LR everywhere
    sched.refresh_xd(NEW)  # nothing follows x·d here
    assert [g["lr"] for g in opt.param_groups] == [0.05] * len(opt.param_groups)


@pytest.mark.slow
def test_a_run_that_refreshes_every_epoch_trains_at_the_pulses_of_the_last_measured_xd(tmp_path: Path) -> None:
    options = {"lr": 0.1, "analog_lr": "device", "device_pulses": 1.0}
    runs = {}
    for refresh in ("none", "epoch"):
        config = TrainConfig(preset="gokmen-vlasov", schedule="constant", epochs=3, limit=192, batch_size=32,
                             schedule_options={**options, "xd_refresh": refresh}, seed=5)
        runs[refresh] = train(config, tmp_path / refresh, quiet=True)
    dw_min, bl = device_unit(presets.get("gokmen-vlasov").rpu_config())  # type: ignore[misc]
    for refresh, result in runs.items():
        start = result.summary["schedule_options"]["xd_product"]
        for epoch, row in enumerate(result.metrics):
            # the LR in force during an epoch: set from the first batch, or from the x·d measured after the last
            xd = start if refresh == "none" or epoch == 0 else result.metrics[epoch - 1]["xd_product"]
            assert row["tile_lr"] == pytest.approx([min(1.0, bl) * dw_min / s for s in xd], rel=1e-6), (refresh, epoch)
    assert runs["none"].metrics[1]["tile_lr"] != runs["epoch"].metrics[1]["tile_lr"]
    # stopped after epoch 2 and resumed: the same run (the refreshed peaks are in the checkpoint)
    config = TrainConfig(preset="gokmen-vlasov", schedule="constant", epochs=3, limit=192, batch_size=32,
                         schedule_options={**options, "xd_refresh": "epoch"}, seed=5)
    with pytest.raises(TrainingStopped, match="interrupted"):
        train(config, tmp_path / "resumed", quiet=True, on_epoch=stop_at(2))
    resumed = train(config, tmp_path / "resumed", resume=True, quiet=True)
    keys = ("train_loss", "test_accuracy", "tile_lr", "xd_product")
    assert [[r[k] for k in keys] for r in resumed.metrics] == [[r[k] for k in keys] for r in runs["epoch"].metrics]
    assert json.loads((tmp_path / "resumed" / "summary.json").read_text())["status"] == "complete"
