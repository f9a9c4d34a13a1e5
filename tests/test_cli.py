"""The CLI skeleton: help, version and doctor, in-process (CliRunner) and as the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from aihwkit_sc import __version__, seeding
from aihwkit_sc.cli import main

SCRIPT = Path(sys.executable).with_name("aihwkit-sc")


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Usage: main" in result.output or "Usage: aihwkit-sc" in result.output
    assert "doctor" in result.output and "Check the installation" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"aihwkit-sc {__version__}"


def test_doctor_json_reports_a_working_install() -> None:
    import torch

    result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["aihwkit_abi_ok"] is True
    assert report["torch"] == torch.__version__
    assert report["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["torch_threads"] == torch.get_num_threads()
    assert report["torch_cuda"] is torch.cuda.is_available()
    assert isinstance(report["aihwkit_cuda"], bool)
    assert report["aihwkit_build"].startswith("seeded (analog runs repeat bit for bit for one seed")  # make install
    path = seeding.matrix_path()
    assert f"pulsed tiles: {path} forward/backward" in report["aihwkit_build"]
    assert report["offline_mnist_5k"].endswith("mnist_5k.csv.gz")
    assert Path(report["offline_mnist_5k"]).stat().st_size > 1_000_000


def test_doctor_text_output() -> None:
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0
    lines = dict(line.split(None, 1) for line in result.output.splitlines())
    assert lines["aihwkit_abi_ok"] == "yes"
    assert lines["status"] == "ok"


def test_doctor_says_when_aihwkit_is_a_stock_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from aihwkit_sc import seeding

    monkeypatch.setattr(seeding, "build_kind", lambda: "stock")
    report = json.loads(CliRunner().invoke(main, ["doctor", "--json"]).output)
    assert report["aihwkit_build"].startswith("stock (analog runs repeat only statistically")
    assert report["ok"] is True  # a stock build trains; it only does not repeat bit for bit


def test_unknown_command_fails() -> None:
    result = CliRunner().invoke(main, ["doctr"])
    assert result.exit_code == 2
    assert "No such command 'doctr'" in result.output


def test_console_script_help_imports_nothing_heavy() -> None:
    """`aihwkit-sc --help` must answer without torch/aihwkit; checked in a fresh interpreter."""
    code = (
        "import sys, json\n"
        "from aihwkit_sc.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps([m for m in ('torch', 'aihwkit', 'torchvision', 'matplotlib') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "doctor" in out
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_console_script_is_installed() -> None:
    env = dict(os.environ, COLUMNS="120")
    out = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == f"aihwkit-sc {__version__}"
    help_out = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, check=True).stdout
    assert "Usage: aihwkit-sc" in help_out


def test_presets_list_json() -> None:
    result = CliRunner().invoke(main, ["presets", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["gokmen-vlasov"]["aliases"] == ["gv"] and rows["gokmen-vlasov"]["kind"] == "pulsed"
    assert rows["pytorch"]["kind"] == "digital" and rows["semi-ideal"]["aliases"] == ["si"]
    assert len(rows) >= 59


def test_presets_list_filters() -> None:
    result = CliRunner().invoke(main, ["presets", "list", "-i", "tiki-taka-*", "-e", "*reram*", "--kind", "transfer"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == ["tiki-taka-capacitor", "tiki-taka-ecram", "tiki-taka-ecram-mo", "tiki-taka-idealized"]


def test_presets_show() -> None:
    result = CliRunner().invoke(main, ["presets", "show", "si", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["name"] == "semi-ideal" and info["devices"][0]["cycle_to_cycle"]["dw_min_std"] == 0.0
    text = CliRunner().invoke(main, ["presets", "show", "gv"])
    assert "states: 1250.0" in text.output and "dw_min_std: 0.3" in text.output


def test_presets_show_unknown_is_one_line() -> None:
    result = CliRunner().invoke(main, ["presets", "show", "gokmen"])
    assert result.exit_code == 2
    assert "Error: unknown preset 'gokmen': did you mean 'gokmen-vlasov'?" in result.output


def test_plugins_list() -> None:
    result = CliRunner().invoke(main, ["plugins", "list", "--json"])
    assert result.exit_code == 0
    infos = {i["name"]: i for i in json.loads(result.output)}
    builtin = infos["aihwkit_sc.default_plugins.presets"]
    assert builtin["builtin"] is True and "gokmen-vlasov" in builtin["registered"]["preset"]
    text = CliRunner().invoke(main, ["plugins", "list"]).output
    assert "aihwkit_sc.default_plugins.presets  [built-in]  hooks: register_kinds, register_presets" in text
    assert "  models: lenet5, vgg8, resnet18" in text
