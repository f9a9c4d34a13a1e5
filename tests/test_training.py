"""The training loop: metrics, checkpoints and resume, seeding, divergence and Ctrl-C, pulses; and lr_find."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from aihwkit.simulator.parameters.enums import PulseType
from aihwkit.simulator.presets import GokmenVlasovPreset
from torch import nn

from aihwkit_sc import build, make_optimizer, plugins, presets, schedules, zoo
from aihwkit_sc.hookspecs import hookimpl
from aihwkit_sc.lr_finder import lr_find
from aihwkit_sc.training import Run, TrainConfig, TrainingStopped, train

TIMING = {"wall_time_s", "samples_per_s"}


def comparable(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in TIMING} for m in metrics]


def deterministic_gv() -> Any:
    """Gokmen-Vlasov with every source of run-to-run randomness of aihwkit's C++ core switched off."""
    config = GokmenVlasovPreset()
    config.device.dw_min_std = 0.0
    config.update.pulse_type = PulseType.DETERMINISTIC_IMPLICIT
    config.forward.is_perfect = True
    config.backward.is_perfect = True
    return config


class DeterministicPlugin:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("deterministic-gv", deterministic_gv)


@pytest.fixture
def host_with_deterministic(fresh_host: plugins.PluginHost) -> plugins.PluginHost:
    fresh_host.add_plugin(DeterministicPlugin(), "deterministic")
    return fresh_host


def tiny(**kwargs: Any) -> TrainConfig:
    defaults: dict[str, Any] = {"epochs": 3, "limit": 384, "batch_size": 32, "lr": 0.05}
    return TrainConfig(**(defaults | kwargs))


def test_metrics_files_and_values(tmp_path: Path) -> None:
    config = tiny(schedule="step", schedule_options={"lr": 0.05, "gamma": 0.5, "step_size": 1})
    result = train(config, tmp_path, quiet=True)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == result.metrics and [m["epoch"] for m in lines] == [1, 2, 3]
    assert [m["lr"] for m in lines] == pytest.approx([0.05, 0.025, 0.0125])  # LR in force during each epoch
    for m in lines:
        assert 0 <= m["train_accuracy"] <= 1 and 0 <= m["test_accuracy"] <= 1
        assert m["train_loss"] > 0 and m["test_loss"] > 0 and m["samples_per_s"] > 0 and m["wall_time_s"] > 0
        assert m["momentum"] == 0.9 and m["tile_lr"] == [] and m["pulses"] is None
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["epochs_done"] == 3
    assert summary["final_test_accuracy"] == lines[-1]["test_accuracy"]
    assert json.loads((tmp_path / "config.json").read_text())["schedule"] == "step"
    assert (tmp_path / "checkpoint.pt").is_file() and not (tmp_path / "checkpoint.pt.tmp").exists()
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_analog_metrics_read_back_tiles_and_count_pulses(tmp_path: Path) -> None:
    result = train(tiny(preset="gv", epochs=2, count_pulses=True), tmp_path, quiet=True)
    shape = schedules.trace("one-cycle", epochs=2, steps_per_epoch=12, max_lr=1.0)["lr"]
    # each tile peaks at 2 device steps (the default device_pulses) for the x·d the run measured
    dw_min = presets.get("gv").rpu_config().device.dw_min
    peaks = [2 * dw_min / s for s in result.summary["schedule_options"]["xd_product"]]
    for m, step in zip(result.metrics, (0, 12), strict=True):
        assert len(m["tile_lr"]) == 4  # LeNet-5: four tiles
        assert m["tile_lr"] == pytest.approx([shape[step] * peak for peak in peaks], rel=1e-5)
        assert m["pulses"] > 1000 and m["pulses_method"] == "estimate"
        layers = m["update_telemetry"]
        assert len(layers) == 4
        # a linear tile updates one row per training sample; a convolution one per sample and output position
        assert [layer["rows"] for layer in layers[2:]] == [result.config.limit] * 2
        assert all(layer["rows"] > 10 * result.config.limit for layer in layers[:2])
        desired_bl = presets.get("gv").rpu_config().update.desired_bl
        assert all(0 < layer["bit_length"] <= desired_bl and 0 <= layer["capped"] <= 1 for layer in layers)
        assert sum(layer["pulses_per_row"] * layer["rows"] for layer in layers) == pytest.approx(m["pulses"])
    assert result.summary["pulses"] == pytest.approx(sum(m["pulses"] for m in result.metrics))


def test_same_seed_same_metrics_digital() -> None:
    a = train(tiny(), quiet=True).metrics
    b = train(tiny(), quiet=True).metrics
    c = train(tiny(seed=1), quiet=True).metrics
    assert comparable(a) == comparable(b)
    assert comparable(a) != comparable(c)


@pytest.mark.slow
def test_same_seed_same_metrics_analog(host_with_deterministic: plugins.PluginHost) -> None:
    a = train(tiny(preset="deterministic-gv", epochs=2, lr=0.5), quiet=True).metrics
    b = train(tiny(preset="deterministic-gv", epochs=2, lr=0.5), quiet=True).metrics
    assert comparable(a) == comparable(b)
    assert a[1]["train_loss"] < a[0]["train_loss"]  # the tiles did learn


class StopAfter:
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, row: dict[str, Any]) -> None:
        if row["epoch"] == self.epochs:
            raise KeyboardInterrupt


@pytest.mark.parametrize("preset", ["pytorch", pytest.param("deterministic-gv", marks=pytest.mark.slow)])
def test_interrupt_keeps_results_and_resume_matches(tmp_path: Path, preset: str,
                                                    host_with_deterministic: plugins.PluginHost) -> None:
    config = tiny(preset=preset, lr=0.5 if preset != "pytorch" else 0.05)
    full = train(config, tmp_path / "full", quiet=True).metrics
    with pytest.raises(TrainingStopped, match="interrupted by the user") as info:
        train(config, tmp_path / "cut", quiet=True, on_epoch=StopAfter(1))
    assert info.value.result.summary["status"] == "interrupted"
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 1
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["epochs_done"] == 1
    resumed = train(config, tmp_path / "cut", resume=True, quiet=True).metrics
    assert comparable(resumed) == comparable(full)
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 3


def test_resume_guards(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cannot resume: no checkpoint\.pt"):
        train(tiny(), tmp_path, resume=True, quiet=True)
    train(tiny(epochs=1), tmp_path, quiet=True)
    with pytest.raises(ValueError, match="written for a different configuration"):
        train(tiny(epochs=1, seed=5), tmp_path, resume=True, quiet=True)


def _perceptron(*, num_classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, num_classes))


class PerceptronPlugin:
    @hookimpl
    def register_models(self, register: Any) -> None:
        register("test-mlp", _perceptron, description="a ReLU perceptron, whose loss overflows at a huge LR",
                 input_size=(1, 28, 28))


def test_divergence_stops_with_results_kept(tmp_path: Path, fresh_host: plugins.PluginHost) -> None:
    assert fresh_host.add_plugin(PerceptronPlugin(), "test-models")
    config = tiny(model="test-mlp", epochs=4, momentum=0.0, schedule="step",
                  schedule_options={"lr": 0.05, "gamma": 1e9, "step_size": 1})
    with pytest.raises(TrainingStopped, match=r"loss became (nan|inf) in epoch 2 .*lower the \(max\) LR") as info:
        train(config, tmp_path, quiet=True)
    assert info.value.result.summary["status"] == "diverged"
    assert len(info.value.result.metrics) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_done"] == 1
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["epoch"] == 1


def test_config_guards() -> None:
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        TrainConfig(lr=-1)


def _tile_snapshot(model: torch.nn.Module) -> list[torch.Tensor]:
    out = []
    for tile in zoo.tiles(model):
        out.append(tile.get_weights()[0].clone())
        out += [v.clone() for v in tile.get_hidden_parameters().values()]
        out.append(torch.tensor(tile.get_learning_rate()))
    return out


@pytest.mark.slow
def test_lr_find_restores_analog_state_and_suggests_a_sane_lr(tmp_path: Path) -> None:
    run = Run(TrainConfig(preset="gv", limit=1024, batch_size=32, lr=0.02, schedule="constant"))
    before = _tile_snapshot(run.model)
    digital_before = [p.detach().clone() for p in run.model.parameters() if type(p) is torch.nn.Parameter]
    opt_before = [dict(g, params=None) for g in run.optimizer.param_groups]
    result = lr_find(run.model, run.optimizer, run.train_loader, num_iter=40, start_lr=1e-3, end_lr=20)
    after = _tile_snapshot(run.model)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    digital_after = [p.detach() for p in run.model.parameters() if type(p) is torch.nn.Parameter]
    assert all(torch.equal(a, b) for a, b in zip(digital_before, digital_after, strict=True))
    assert [dict(g, params=None) for g in run.optimizer.param_groups] == opt_before
    assert 1e-3 < result.valley < 5 and 1e-3 < result.steepest < 20
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) >= 10
    assert result.lrs == sorted(result.lrs) and result.lrs[1] / result.lrs[0] == pytest.approx(
        (20 / 1e-3) ** (1 / 39))
    # the optimizer still drives the tiles after the restore
    x, y = next(iter(run.train_loader))
    torch.nn.functional.cross_entropy(run.model(x), y).backward()
    run.optimizer.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, _tile_snapshot(run.model), strict=True))
    result.plot(tmp_path / "lrf.png")
    assert (tmp_path / "lrf.png").stat().st_size > 10_000


def test_lr_find_digital_linear_and_guards() -> None:
    torch.manual_seed(0)
    model = build("lenet5")
    opt = make_optimizer(model, lr=0.01)
    data = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(4)]
    loader: Any = data
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_find(model, opt, loader, num_iter=12, mode="linear", start_lr=0.01, end_lr=0.12)
    assert result.lrs[:3] == pytest.approx([0.01, 0.02, 0.03])
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert opt.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match="need 0 < start_lr < end_lr"):
        lr_find(model, opt, loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="mode must be 'exp' or 'linear'"):
        lr_find(model, opt, loader, mode="log")


def test_suggestions_on_a_known_curve() -> None:
    from aihwkit_sc.lr_finder import _suggest

    lrs = [10 ** (-4 + 5 * i / 99) for i in range(100)]
    # loss falls along a tanh in log-LR (steepest at 1e-2), then rises past 1e-0.5
    loss = [2.0 - 1.5 * math.tanh(2 * (math.log10(lr) + 2)) + (max(0.0, math.log10(lr) + 0.5) ** 2) * 4 for lr in lrs]
    steepest, valley = _suggest(lrs, loss)
    assert steepest == pytest.approx(1e-2, rel=0.15)
    assert 1e-2 < valley < 10 ** -0.5


def test_cuda_without_a_gpu_is_one_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match=r"torch_device 'cuda' requested but torch sees no GPU"):
        train(tiny(torch_device="cuda", epochs=1), quiet=True)
    with pytest.raises(ValueError, match="torch_device must be 'cpu' or 'cuda', got 'tpu'"):
        TrainConfig(torch_device="tpu")
    # a config saved before torch's device was named torch_device reads as today's
    assert TrainConfig(**TrainConfig.upgrade({"device": "cpu", "epochs": 2})) == TrainConfig(epochs=2)


def test_one_cycle_on_an_analog_model_peaks_each_layer_at_its_device_lr() -> None:
    run = Run(tiny(preset="gv", epochs=1, schedule="one-cycle", schedule_options={"max_lr": 0.1}))
    xd = run.schedule_options["xd_product"]  # measured by the run: no option needed
    assert len(xd) == 4 and all(v > 0 for v in xd)
    groups = run.scheduler.analog_groups
    assert len(groups) == 4  # LeNet-5: all four layers are analog
    # by hand: Gokmen-Vlasov's dw_min is 0.0016 (2 / 1,250 states) and its bit-length cap 31, so two device steps per
    # sample's largest update is an LR of 2 · 0.0016 / s, well below saturation (31 · 0.0016 / s)
    assert GokmenVlasovPreset().device.dw_min == 0.0016 and GokmenVlasovPreset().update.desired_bl == 31
    peaks = [run.scheduler.peak_lrs[i] for i in groups]
    assert peaks == pytest.approx([2 * 0.0016 / s for s in xd])
    assert peaks[0] > 3 * peaks[-1]  # conv1 sees a much smaller x·d than fc2: a larger LR
    plain = Run(tiny(preset="gv", epochs=1, schedule="one-cycle", schedule_options={"analog_max_lr": None}))
    assert set(plain.scheduler.peak_lrs) == {0.05}  # max_lr defaults to the config's lr
    digital = Run(tiny(epochs=1, schedule="one-cycle"))
    assert "xd_product" not in digital.schedule_options and set(digital.scheduler.peak_lrs) == {0.05}


def test_a_run_resolves_its_preset_name_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names are resolved once at the edge: train() looks the preset up, Run and the zoo take the object."""
    from aihwkit_sc import presets

    calls: list[str] = []
    get = presets.get

    def counting(name: Any) -> Any:
        calls.append(name)
        return get(name)

    monkeypatch.setattr(presets, "get", counting)
    train(TrainConfig(preset="gv", schedule="constant", epochs=1, limit=32, batch_size=32), quiet=True)
    assert calls == ["gv"]


def test_evaluation_runs_in_bounded_batches_with_the_same_result() -> None:
    """Test and validation go through the model EVAL_BATCH samples at a time (an analog convolution unfolds its whole
    batch, so a large one costs gigabytes on VGG-8); batching changes nothing in a digital model's loss or accuracy."""
    from torch.utils.data import DataLoader

    from aihwkit_sc.training import EVAL_BATCH, evaluate

    run = Run(tiny(limit=None, validation=500))
    assert run.test_loader.batch_size == run.val_loader.batch_size == EVAL_BATCH <= 128
    assert len(run.test_set) > EVAL_BATCH  # so the test below spans several batches
    batched = evaluate(run.model, run.test_loader)
    whole = evaluate(run.model, DataLoader(run.test_set, batch_size=len(run.test_set)))
    assert batched[1] == whole[1]
    assert batched[0] == pytest.approx(whole[0], rel=1e-5)
    assert 0.0 <= batched[1] <= 0.3  # an untrained LeNet-5 sits near chance
