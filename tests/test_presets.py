"""Device presets: the poster's three, aihwkit's by kebab-case name, c2c-free variants, describe()."""

from __future__ import annotations

import inspect

import pytest
import torch
from aihwkit.simulator import presets as aihwkit_presets
from aihwkit.simulator.configs import SingleRPUConfig, UnitCellRPUConfig
from aihwkit.simulator.tiles import AnalogTile

from aihwkit_sc import presets
from aihwkit_sc.default_plugins.presets import kebab_name
from aihwkit_sc.registry import UnknownNameError


def test_poster_presets_and_aliases() -> None:
    for name in ("pytorch", "n", "normal"):
        preset = presets.get(name)
        assert preset.name == "pytorch" and preset.digital and preset.rpu_config() is None
    assert presets.get("gv").name == "gokmen-vlasov"
    assert presets.get("si").name == "semi-ideal"
    assert not presets.get("gv").digital


def test_gokmen_vlasov_is_aihwkits_preset_unchanged() -> None:
    config = presets.get("gokmen-vlasov").rpu_config()
    assert type(config) is aihwkit_presets.GokmenVlasovPreset
    assert config == aihwkit_presets.GokmenVlasovPreset()


def test_semi_ideal_is_gokmen_vlasov_without_cycle_to_cycle_only() -> None:
    semi = presets.get("semi-ideal").rpu_config()
    gv = aihwkit_presets.GokmenVlasovPreset()
    assert gv.device.dw_min_std == 0.3 and semi.device.dw_min_std == 0.0
    assert semi.device.dw_min_dtod == gv.device.dw_min_dtod == 0.3  # device-to-device kept
    gv.device.dw_min_std = 0.0
    assert semi == gv  # every other parameter identical


def _hidden(name: str, seed: int) -> dict[str, torch.Tensor]:
    config = presets.get(name).rpu_config()
    config.device.construction_seed = seed  # 0 (aihwkit's default) would draw from the clock
    return dict(AnalogTile(6, 5, config).get_hidden_parameters())


def test_semi_ideal_tiles_share_gokmen_vlasovs_device_to_device_draw() -> None:
    """Same construction seed: the sampled per-device parameters (d2d variation) are identical."""
    gv, si = _hidden("gv", 1234), _hidden("si", 1234)
    assert gv.keys() == si.keys() and {"dwmin_up", "max_bound"} <= gv.keys()
    for key in gv:
        assert torch.equal(gv[key], si[key]), key
    assert gv["dwmin_up"].std() > 0.1 * gv["dwmin_up"].mean()  # there is device-to-device spread to keep
    assert not torch.equal(_hidden("gv", 99)["dwmin_up"], gv["dwmin_up"])  # the seed matters


def test_rpu_config_is_fresh_each_call() -> None:
    preset = presets.get("semi-ideal")
    first = preset.rpu_config()
    first.device.dw_min = 0.5
    first.forward.out_noise = 0.0
    second = preset.rpu_config()
    assert second is not first
    assert second.device.dw_min == 0.0016 and second.forward.out_noise == 0.1


def _aihwkit_config_classes() -> dict[str, type]:
    return {
        name: obj for name, obj in vars(aihwkit_presets).items()
        if inspect.isclass(obj) and name.endswith("Preset") and hasattr(obj, "__dataclass_fields__")
        and "device" in obj.__dataclass_fields__
    }


def test_every_aihwkit_preset_is_registered_under_kebab_case() -> None:
    classes = _aihwkit_config_classes()
    assert len(classes) >= 54
    names = presets.names()
    for class_name, cls in classes.items():
        name = kebab_name(class_name)
        assert name in names, class_name
        assert type(presets.get(name).rpu_config()) is cls
    for expected in ("reram-es", "reram-sb", "capacitor", "ecram", "ecram-mo", "pcm", "idealized",
                     "tiki-taka-ecram", "ttv2-capacitor", "c-ttv2-reram-es", "agad-idealized", "capacitor-2",
                     "mixed-precision-gokmen-vlasov", "standard-hwa-training", "floating-point",
                     "reram-array-om", "reram-array-hfo2"):
        assert expected in names


@pytest.mark.parametrize(("class_name", "name"), [
    ("ReRamESPreset", "reram-es"), ("EcRamMO4Preset", "ecram-mo-4"), ("TikiTakaEcRamPreset", "tiki-taka-ecram"),
    ("ChoppedTTv2IdealizedPreset", "c-ttv2-idealized"), ("AGADReRamSBPreset", "agad-reram-sb"),
    ("MixedPrecisionPCMPreset", "mixed-precision-pcm"), ("StandardHWATrainingPreset", "standard-hwa-training"),
    ("ReRamArrayHfO2PresetDevice", "reram-array-hfo2"), ("SomeNewThingPreset", "some-new-thing"),
])
def test_kebab_names(class_name: str, name: str) -> None:
    assert kebab_name(class_name) == name


@pytest.mark.parametrize(("name", "kind"), [
    ("pytorch", "digital"), ("gv", "pulsed"), ("reram-es", "pulsed"), ("pcm", "compound"),
    ("capacitor-2", "compound"), ("tiki-taka-ecram", "transfer"), ("c-ttv2-ecram", "transfer"),
    ("mixed-precision-gokmen-vlasov", "mixed-precision"), ("standard-hwa-training", "inference"),
    ("floating-point", "inference"),
])
def test_kinds(name: str, kind: str) -> None:
    assert presets.get(name).kind == kind


@pytest.mark.parametrize("name", ["reram-es", "tiki-taka-reram-sb", "pcm", "mixed-precision-pcm"])
def test_no_c2c_variant_of_any_pulsed_preset(name: str) -> None:
    original = presets.get(name).rpu_config()
    variant = presets.get(f"{name}:no-c2c")
    assert variant.name == f"{name}:no-c2c"
    config = variant.rpu_config()
    leaves = list(presets.pulsed_devices(config))
    originals = list(presets.pulsed_devices(original))
    assert len(leaves) == len(originals) >= 1
    assert any(d.dw_min_std > 0 for d in originals)
    for leaf, orig in zip(leaves, originals, strict=True):
        assert leaf.dw_min_std == 0.0
        assert getattr(leaf, "write_noise_std", 0.0) == 0.0
        assert leaf.dw_min_dtod == orig.dw_min_dtod and leaf.w_max_dtod == orig.w_max_dtod
    assert presets.get(name).rpu_config() == original  # the registered preset is untouched


def test_no_c2c_of_semi_ideal_equals_semi_ideal() -> None:
    assert presets.get("gv:no-c2c").rpu_config() == presets.get("semi-ideal").rpu_config()


def test_no_c2c_errors() -> None:
    with pytest.raises(ValueError, match="preset 'pytorch' has no pulsed devices: ':no-c2c' applies to pulsed"):
        presets.get("pytorch:no-c2c")
    with pytest.raises(ValueError, match="has no pulsed devices"):
        presets.get("standard-hwa-training:no-c2c")
    with pytest.raises(ValueError, match="unknown or repeated preset modifier ':ideal' in 'gv:ideal': the modifiers"):
        presets.get("gv:ideal")


def test_omega_maps_weights_onto_the_conductance_range() -> None:
    """``NAME:omega=X`` sets aihwkit's ``weight_scaling_omega``: a tile stores its weights scaled so the largest
    ``|w|`` is X, and the layer's digital weights are unchanged."""
    from aihwkit.nn import AnalogLinear

    preset = presets.get("gv:omega=0.60")
    assert preset.name == "gokmen-vlasov:omega=0.6"  # canonical: a run's key does not depend on the spelling
    assert preset.rpu_config().mapping.weight_scaling_omega == 0.6
    assert presets.get("gokmen-vlasov").rpu_config().mapping.weight_scaling_omega == 0.0  # aihwkit's own: unscaled
    assert preset.seeded(3).rpu_config().device.construction_seed == 4  # the seed still reaches the devices
    both = presets.get("gv:no-c2c:omega=0.6").rpu_config()
    assert both == replace_mapping(presets.get("semi-ideal").rpu_config(), 0.6)
    weights = torch.tensor([[0.05, -0.02], [0.01, 0.0]])
    layer = AnalogLinear(2, 2, bias=False, rpu_config=preset.rpu_config())
    tile = next(iter(layer.analog_tiles()))
    tile.set_weights(weights)
    assert float(tile.tile.get_weights().abs().max()) == pytest.approx(0.6)  # stored on the conductance range
    assert torch.allclose(tile.get_weights()[0], weights, atol=1e-6)  # read back as the digital weights


def replace_mapping(config: object, omega: float) -> object:
    config.mapping.weight_scaling_omega = omega  # type: ignore[attr-defined]
    return config


@pytest.mark.parametrize(("name", "message"), [
    ("pytorch:omega=0.6", "preset 'pytorch' is digital: 'omega=' maps analog tiles' weights"),
    ("gv:omega=big", "preset 'gv:omega=big': omega must be a number .* got 'big'"),
    ("gv:omega=0", "preset 'gokmen-vlasov': omega must be a positive number .* got 0.0"),
    ("gv:omega=nan", "omega must be a positive number"),
    ("gv:omega=0.6:omega=0.3", "unknown or repeated preset modifier ':omega=0.3'"),
    ("gv:no-c2c:no-c2c", "unknown or repeated preset modifier ':no-c2c'"),
])
def test_omega_errors(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        presets.get(name)


def test_unknown_preset_suggests() -> None:
    with pytest.raises(UnknownNameError, match=r"^unknown preset 'gokmen': did you mean 'gokmen-vlasov'\?$"):
        presets.get("gokmen")


def test_describe_gokmen_vlasov() -> None:
    info = presets.describe("gv")
    assert info["name"] == "gokmen-vlasov" and info["aliases"] == ["gv"] and info["kind"] == "pulsed"
    assert info["rpu_config"] == "GokmenVlasovPreset"
    (device,) = info["devices"]
    assert device["model"] == "GokmenVlasovPresetDevice"
    assert device["dw_min"] == 0.0016 and device["states"] == 1250.0
    assert (device["w_min"], device["w_max"]) == (-1.0, 1.0)
    assert device["cycle_to_cycle"]["dw_min_std"] == 0.3
    assert device["device_to_device"]["dw_min_dtod"] == 0.3 and device["device_to_device"]["w_max_dtod"] == 0.3
    assert info["forward"]["inp_bits"] == 7.0 and info["forward"]["out_bits"] == 9.0
    assert info["forward"]["out_noise"] == 0.1 and info["forward"]["out_bound"] == 20.0
    assert info["update"]["desired_bl"] == 31 and info["update"]["update_management"] is True
    assert info["weight_scaling_omega"] == 0.0  # aihwkit's preset stores weights unscaled
    assert presets.describe("gv:omega=0.6")["weight_scaling_omega"] == 0.6


def test_describe_semi_ideal_digital_and_transfer() -> None:
    assert presets.describe("si")["devices"][0]["cycle_to_cycle"]["dw_min_std"] == 0.0
    digital = presets.describe("pytorch")
    assert digital["kind"] == "digital" and digital["rpu_config"] is None and "devices" not in digital
    tt = presets.describe("tiki-taka-ecram")
    assert tt["kind"] == "transfer" and len(tt["devices"]) == 2
    assert tt["transfer"]["fast_lr"] == aihwkit_presets.TikiTakaEcRamPreset().device.fast_lr


def test_plugin_presets_accept_instances_and_presets(fresh_host: object) -> None:
    from aihwkit_sc import plugins

    class P:
        @plugins.hookspecs.hookimpl
        def register_presets(self, register: object) -> None:
            register("inst", SingleRPUConfig())  # type: ignore[operator]
            register("obj", presets.Preset("ignored", UnitCellRPUConfig, "desc"))  # type: ignore[operator]
            register("bad", 42)  # type: ignore[operator]

    plugins.get_host().add_plugin(P(), "p")
    with pytest.warns(plugins.PluginWarning, match="plugin 'p': preset 'bad': expected None, an RPU config factory "
                                                   "or instance, got int"):
        first = presets.get("inst").rpu_config()
    first.device.dw_min = 0.9
    assert presets.get("inst").rpu_config().device.dw_min != 0.9  # instances are copied on use
    obj = presets.get("obj")
    assert obj.name == "obj" and obj.plugin == "p" and obj.description == "desc"
    assert "bad" not in presets.names()  # rejected when registered, not when used
    with pytest.raises(TypeError, match="preset 'bad': expected None, an RPU config factory or instance, got int"):
        presets.as_preset("bad", 42)


def _tile_state(layer: torch.nn.Module) -> torch.Tensor:
    """Visible weights plus hidden state (fast tiles of transfer compounds, mixed-precision accumulators)."""
    from aihwkit.simulator.tiles.module import TileModule

    parts = [layer.get_weights()[0].flatten()]
    for tile in (m for m in layer.modules() if isinstance(m, TileModule)):
        parts += [v.flatten() for v in tile.get_hidden_parameters().values()]
        extra = (tile.tile.dump_extra() if hasattr(tile.tile, "dump_extra") else None) or {}
        parts += [v.flatten().float() for v in extra.values() if isinstance(v, torch.Tensor)]
    return torch.cat(parts)


def _one_step_change(preset: presets.Preset) -> float:
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    torch.manual_seed(0)
    layer = AnalogLinear(8, 4, bias=False, rpu_config=preset.rpu_config())
    optimizer = AnalogSGD(layer.parameters(), lr=0.5)
    optimizer.regroup_param_groups(layer)
    before = _tile_state(layer).clone()
    layer(torch.rand(16, 8)).pow(2).sum().backward()
    optimizer.step()
    return float((_tile_state(layer) - before).abs().nan_to_num().sum())


@pytest.mark.slow
def test_every_registered_preset_builds_a_layer_that_trains_one_step() -> None:
    unchanged = []
    for preset in presets.all_presets():
        if preset.digital:
            continue
        if _one_step_change(preset) == 0.0:
            unchanged.append(preset.name)
    assert unchanged == []


def test_a_seeded_preset_fixes_device_to_device_draws_on_every_pulsed_device() -> None:
    assert presets.get("gv").rpu_config().device.construction_seed == 0  # aihwkit's: the clock
    seeded = presets.get("gv").seeded(3)
    assert (seeded.name, seeded.seed, seeded.rpu_config().device.construction_seed) == ("gokmen-vlasov", 3, 4)
    compound = presets.get("tiki-taka-ecram").seeded(7).rpu_config()
    assert [d.construction_seed for d in presets.pulsed_devices(compound)] == [8, 8]
    assert presets.get("reram-es:no-c2c").seeded(1).rpu_config().device.construction_seed == 2
