"""The analog range test in device pulses: every analog tile at pulses × dw_min / s while the sweep runs, the model and
tiles restored after it, a suggestion that is a number of pulses (it moves when the device's dw_min does), and
``device_pulses="auto"`` in a training run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aihwkit_sc import lr_finder, presets
from aihwkit_sc.cli import main
from aihwkit_sc.devices import device_unit
from aihwkit_sc.schedules import measure_xd_product
from aihwkit_sc.schedules.analog import contexts
from aihwkit_sc.training import TrainConfig, train
from tests.test_one_cycle import analog_setup
from tests.test_training import _tile_snapshot


def toy_loader(n: int = 64 * 8) -> DataLoader:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()  # 3 classes a linear model can learn
    return DataLoader(TensorDataset(x, y), batch_size=64)


def test_the_sweep_puts_every_analog_tile_at_pulses_times_its_own_unit_and_restores_everything(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model, opt = analog_setup()
    loader = toy_loader()
    x, y = next(iter(loader))
    xd = measure_xd_product(model, opt, x, y)
    before = _tile_snapshot(model)
    digital = [p.detach().clone() for p in model.parameters() if type(p) is torch.nn.Parameter]
    lrs_before = [ctx.analog_tile.get_learning_rate() for g in opt.param_groups for ctx in contexts(g)]
    digital_before = [g["lr"] for g in opt.param_groups if not contexts(g)]
    seen: list[list[float]] = []
    sync = lr_finder.sync_tiles

    def spy(optimizer: Any) -> None:
        sync(optimizer)
        seen.append([ctx.analog_tile.get_learning_rate() for g in optimizer.param_groups for ctx in contexts(g)]
                    + [g["lr"] for g in optimizer.param_groups if not contexts(g)])

    monkeypatch.setattr(lr_finder, "sync_tiles", spy)
    result = lr_finder.pulse_find(model, opt, loader, xd, start_pulses=0.1, end_pulses=10, num_iter=8,
                                  diverge_factor=1e9)
    assert result.pulses == pytest.approx([0.1 * 100 ** (i / 7) for i in range(8)])
    dw_min, bl = device_unit(presets.get("gv").rpu_config())  # type: ignore[misc]
    assert list(result.unit_lrs.values()) == pytest.approx([dw_min / s for s in xd])  # one pulse: dw_min / s
    for pulses, lrs in zip(result.pulses, seen, strict=False):
        # analog tiles: pulses x dw_min / s (capped at desired_bl pulses); the digital group keeps its LR
        assert lrs[:2] == pytest.approx([min(pulses, bl) * dw_min / s for s in xd], rel=1e-6)
        assert lrs[2:] == digital_before
    assert all(torch.equal(a, b) for a, b in zip(before, _tile_snapshot(model), strict=True))
    assert all(torch.equal(a, p.detach()) for a, p in zip(
        digital, [p for p in model.parameters() if type(p) is torch.nn.Parameter], strict=True))
    assert seen[-1][:2] == pytest.approx(lrs_before)  # the restore syncs the tiles back
    assert 0.1 <= result.suggestion <= 10 and result.suggestion in result.pulses


def test_the_suggestion_is_in_pulses_and_moves_when_dw_min_does() -> None:
    """Four times the device step: the same weight change takes a quarter of the pulses."""
    picks, lrs = [], []
    for scale in (1.0, 4.0):
        model, opt = analog_setup()
        for tile in model.analog_tiles():
            tile.rpu_config.device.dw_min *= scale
        rebuilt = [tile.rpu_config for tile in model.analog_tiles()]
        torch.manual_seed(0)
        from aihwkit.nn import AnalogLinear, AnalogSequential
        from aihwkit.optim import AnalogSGD

        model = AnalogSequential(AnalogLinear(4, 6, rpu_config=rebuilt[0]), nn.ReLU(), nn.Linear(6, 5),
                                 AnalogLinear(5, 3, bias=False, rpu_config=rebuilt[1]))
        opt = AnalogSGD(model.parameters(), lr=0.05)
        opt.regroup_param_groups(model)
        loader = toy_loader(64 * 40)
        x, y = next(iter(loader))
        result = lr_finder.pulse_find(model, opt, loader, measure_xd_product(model, opt, x, y), start_pulses=0.05,
                                      end_pulses=32, num_iter=40)
        picks.append(result.suggestion)
        lrs.append(result.suggestion * next(iter(result.unit_lrs.values())))
    assert picks[1] < picks[0] / 1.5  # fewer pulses on the coarser device
    assert 0.25 < lrs[1] / lrs[0] < 4  # for a similar LR


def test_a_digital_model_or_a_model_without_a_pulsed_device_is_one_line() -> None:
    model = nn.Sequential(nn.Linear(4, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"^the analog range test needs analog layers; on a digital model use "
                                         r"lr_find \(an LR sweep\)$"):
        lr_finder.pulse_find(model, opt, toy_loader(), 1.0)
    model, opt = analog_setup()
    with pytest.raises(ValueError, match=r"need 0 < start_pulses < end_pulses, got start_pulses=2, end_pulses=1"):
        lr_finder.pulse_find(model, opt, toy_loader(), 1.0, start_pulses=2, end_pulses=1)
    model, opt = analog_setup("floating-point-tile")
    with pytest.raises(ValueError, match=r"no analog layer has a pulsed device with a dw_min"):
        lr_finder.pulse_find(model, opt, toy_loader(), 1.0)


@pytest.mark.slow
def test_device_pulses_auto_trains_at_the_range_tests_pick(tmp_path: Path) -> None:
    config = TrainConfig(model="lenet5", preset="gokmen-vlasov", dataset="mnist-5k", schedule="cosine",
                         schedule_options={"lr": 0.1, "analog_lr": "device", "device_pulses": "auto"}, epochs=1,
                         limit=320, batch_size=32, seed=3)
    result = train(config, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    picked = summary["lr_find"]
    assert picked["unit"] == "device pulses" and picked["rule"] == "valley"
    assert summary["schedule_options"]["device_pulses"] == picked["suggestion"] == picked["valley"]
    assert 0.05 <= picked["suggestion"] <= 32
    # the first batch ran at the pick: each analog layer at pulses x dw_min / s of the measured s
    dw_min, bl = device_unit(presets.get("gokmen-vlasov").rpu_config())  # type: ignore[misc]
    first = result.metrics[0]
    assert first["tile_lr"] == pytest.approx(
        [min(picked["suggestion"], bl) * dw_min / s for s in summary["schedule_options"]["xd_product"]], rel=1e-6)
    # a digital model has no pulses to find: the option is left out and nothing is swept
    digital = train(TrainConfig(model="lenet5", preset="pytorch", schedule="cosine",
                                schedule_options={"lr": 0.1, "device_pulses": "auto"}, epochs=1, limit=64),
                    tmp_path / "digital")
    assert digital.summary["lr_find"] is None and "device_pulses" not in digital.summary["schedule_options"]


@pytest.mark.slow
def test_lr_find_cli_sweeps_pulses_on_an_analog_preset(tmp_path: Path) -> None:
    png = tmp_path / "pulses.png"
    result = CliRunner().invoke(main, ["lr-find", "--preset", "gokmen-vlasov", "--limit", "256", "--num-iter", "12",
                                       "--batch-size", "16", "-o", str(png)])
    assert result.exit_code == 0, result.output
    numbers = json.loads(png.with_suffix(".json").read_text())
    assert numbers["unit"] == "device pulses" and numbers["pulses"][0] == pytest.approx(0.05)
    assert f"suggested device_pulses (valley) {numbers['valley']:.3g}" in result.output
    assert f"-O device_pulses={numbers['valley']:.3g}" in result.output
    assert png.read_bytes()[:4] == b"\x89PNG"
