"""The example plugin's own tests: what it registers (a preset, a schedule, a model) and how aihwkit-sc loads it
through its entry point. The core suite (``tests/``) does not need this plugin."""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import json
import os
import subprocess
import sys
from typing import Any

import pytest
import torch
from aihwkit.simulator import presets as aihwkit_presets
from click.testing import CliRunner

from aihwkit_sc import build, plugins, presets, schedules, zoo
from aihwkit_sc.cli import main


def test_preset_is_the_measured_reram_array() -> None:
    preset = presets.get("rom")
    assert preset.name == "reram-om-as-measured" and preset.plugin == "example_device"
    config = preset.rpu_config()
    assert dataclasses.is_dataclass(config)
    assert config.device.corrupt_devices_prob == 0.135
    assert config.device.dw_min == aihwkit_presets.ReRamArrayOMPresetDevice().dw_min == 0.0949
    assert presets.describe("rom")["devices"][0]["states"] == pytest.approx(21.1, abs=0.1)


def test_schedule_shape_and_option_types() -> None:
    lr = schedules.trace("linear-warmup", epochs=3, steps_per_epoch=4, lr=0.08, warmup=1)["lr"]
    assert lr[:5] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.08])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"^schedule 'linear-warmup' option warmup: expected a number, got '1'$"):
        schedules.build("linear-warmup", opt, steps_per_epoch=3, warmup="1")  # checked by its annotation


def test_model_builds_analog() -> None:
    model = build("tiny-mlp", preset="gv", hidden=8)
    assert len(zoo.analog_layers(model)) == 2
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_listed_by_the_command_line() -> None:
    runner = CliRunner()
    presets_rows = {r["name"]: r for r in json.loads(runner.invoke(main, ["presets", "list", "--json"]).output)}
    assert presets_rows["reram-om-as-measured"]["plugin"] == "example_device"
    schedule_rows = {r["name"]: r for r in json.loads(runner.invoke(main, ["schedules", "list", "--json"]).output)}
    assert schedule_rows["linear-warmup"]["plugin"] == "example_device"
    model_rows = {r["name"]: r for r in json.loads(runner.invoke(main, ["models", "list", "--json"]).output)}
    assert model_rows["tiny-mlp"]["plugin"] == "example_device"
    infos = {i["name"]: i for i in json.loads(runner.invoke(main, ["plugins", "list", "--json"]).output)}
    example = infos["example_device"]
    assert example["distribution"] == "aihwkit-sc-example-device" and example["version"] == "0.1.0"
    assert example["registered"]["preset"] == ["reram-om-as-measured"] and example["errors"] == []
    text = runner.invoke(main, ["plugins", "list"]).output
    assert ("example_device  [aihwkit-sc-example-device 0.1.0]  hooks: register_models, register_presets, "
            "register_schedules") in text


def _run(code: str, env_value: str | None) -> Any:
    env = dict(os.environ)
    env.pop(plugins.ENV_VAR, None)
    if env_value is not None:
        env[plugins.ENV_VAR] = env_value
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


LIST_PLUGINS = (
    "import json; from aihwkit_sc.plugins import get_host\n"
    "print(json.dumps([[i.name, i.distribution, i.builtin] for i in get_host().plugins()]))"
)


@pytest.mark.slow
def test_entry_point_loads_lazily_with_its_distribution() -> None:
    """`make install` pip-installs this plugin; it comes in through its entry point."""
    eps = {ep.name for ep in md.entry_points(group=plugins.ENTRY_POINT_GROUP)}
    assert "example_device" in eps
    rows = _run(LIST_PLUGINS, None)
    assert ["example_device", "aihwkit-sc-example-device", False] in rows
    code = "import sys, aihwkit_sc.plugins; print(int('aihwkit_sc_example_device' in sys.modules))"
    assert _run(code, None) == 0  # importing the plugin machinery loads nothing


@pytest.mark.slow
@pytest.mark.parametrize(("value", "expected"), [("", False), ("example_device", True),
                                                  ("aihwkit-sc-example-device", True), ("other", False)])
def test_environment_variable_limits_entry_points(value: str, expected: bool) -> None:
    names = [row[0] for row in _run(LIST_PLUGINS, value)]
    assert ("example_device" in names) is expected
    assert "aihwkit_sc.default_plugins.presets" in names
