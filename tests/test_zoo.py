"""Model zoo: shapes, digital vs analog builds, reference parameter counts, kept-digital layers, training steps."""

from __future__ import annotations

import json

import pytest
import torch
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.presets import GokmenVlasovPreset
from click.testing import CliRunner
from torch import nn

from aihwkit_sc import build, make_optimizer, presets, zoo
from aihwkit_sc.cli import main
from aihwkit_sc.registry import UnknownNameError

SHAPES = {"lenet5": (1, 28, 28), "vgg8": (3, 32, 32), "resnet18": (3, 32, 32)}
PARAMS = {"lenet5": 80_202, "vgg8": 1_347_610, "resnet18": 11_173_962}


def layer_names(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def aihwkit_modules(model: nn.Module) -> list[str]:
    return [type(m).__module__ for m in model.modules() if type(m).__module__.startswith("aihwkit")]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_digital_build_is_plain_torch_with_reference_size(name: str) -> None:
    torch.manual_seed(0)
    model = build(name)
    assert aihwkit_modules(model) == []
    assert not zoo.is_analog(model)
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name]
    out = model.eval()(torch.randn(2, *SHAPES[name]))
    assert out.shape == (2, 10)


def test_num_classes() -> None:
    assert build("lenet5", num_classes=7)(torch.randn(3, 1, 28, 28)).shape == (3, 7)
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        build("lenet5", num_classes=0)


@pytest.mark.parametrize("name", ["lenet5", "vgg8", pytest.param("resnet18", marks=pytest.mark.slow)])
def test_analog_build_converts_every_layer_with_the_preset(name: str) -> None:
    torch.manual_seed(0)
    model = build(name, preset="gv")
    expected = layer_names(build(name))
    analog = zoo.analog_layers(model)
    assert [n for n, _ in analog] == expected and len(expected) >= 4
    assert not [n for n, m in model.named_modules() if type(m) in (nn.Conv2d, nn.Linear)]  # nothing left digital
    # aihwkit maps layers wider than 512 inputs or outputs onto several tiles
    assert all(zoo.tiles(layer) for _, layer in analog) and len(zoo.tiles(model)) >= len(expected)
    for tile in zoo.tiles(model):
        assert isinstance(tile.rpu_config, GokmenVlasovPreset)
    assert model.eval()(torch.randn(2, *SHAPES[name])).shape == (2, 10)


def test_digital_layers_kept() -> None:
    model = build("vgg8", preset="semi-ideal", digital_layers=("first", "last"))
    names = layer_names(build("vgg8"))
    assert len(names) == 8
    assert [n for n, _ in zoo.analog_layers(model)] == names[1:-1]
    kept = dict(model.named_modules())
    assert type(kept[names[0]]) is nn.Conv2d and type(kept[names[-1]]) is nn.Linear
    for tile in zoo.tiles(model):
        assert tile.rpu_config.device.dw_min_std == 0.0  # semi-ideal
    model = build("lenet5", preset="gv", digital_layers=["8"])
    assert [n for n, _ in zoo.analog_layers(model)] == ["0", "3", "10"]
    with pytest.raises(ValueError, match="digital_layers entry 'fc' matches no Conv2d/Linear layer: use 'first'"):
        build("lenet5", preset="gv", digital_layers=["fc"])


def test_preset_as_object_or_rpu_config() -> None:
    config = GokmenVlasovPreset()
    config.device.dw_min = 0.002
    model = build("lenet5", preset=config)
    assert all(t.rpu_config.device.dw_min == 0.002 for t in zoo.tiles(model))
    model = build("lenet5", preset=presets.get("reram-es:no-c2c"))
    assert all(t.rpu_config.device.dw_min_std == 0.0 for t in zoo.tiles(model))
    with pytest.raises(TypeError, match="preset must be a preset name, a Preset or an aihwkit RPU configuration"):
        build("lenet5", preset=3)
    assert layer_names(build("lenet")) == layer_names(build("lenet5"))  # an alias
    with pytest.raises(UnknownNameError, match="unknown model 'lenet-5': did you mean 'lenet5'"):
        build("lenet-5")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet5", "vgg8", "resnet18"])
def test_one_training_step_changes_analog_weights(name: str) -> None:
    torch.manual_seed(0)
    model = build(name, preset="gv")
    opt = make_optimizer(model, lr=0.1, momentum=0.9)
    assert isinstance(opt, AnalogSGD)
    before = [t.get_weights()[0].clone() for t in zoo.tiles(model)]
    x = torch.randn(4, *SHAPES[name])
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    opt.step()
    after = [t.get_weights()[0] for t in zoo.tiles(model)]
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert all(changed), changed


def test_make_optimizer() -> None:
    digital = build("lenet5")
    opt = make_optimizer(digital, lr=0.05, momentum=0.9, weight_decay=5e-4)
    assert type(opt) is torch.optim.SGD and opt.param_groups[0]["weight_decay"] == 5e-4
    analog = build("lenet5", preset="gv")
    opt = make_optimizer(analog, lr=0.05)
    tiles = list(zoo.tiles(analog))
    assert len(opt.param_groups) == len(tiles) + 1  # one group per tile, plus the digital biases
    assert [t.get_learning_rate() for t in tiles] == [pytest.approx(0.05)] * len(tiles)
    with pytest.raises(ValueError, match="lr must be positive, got 0"):
        make_optimizer(digital, lr=0)
    with pytest.raises(ValueError, match=r"momentum must be non-negative, got -0\.1"):
        make_optimizer(digital, lr=0.1, momentum=-0.1)


def test_models_list_cli() -> None:
    result = CliRunner().invoke(main, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["resnet18"]["input_size"] == [3, 32, 32] and rows["lenet5"]["aliases"] == ["lenet"]
