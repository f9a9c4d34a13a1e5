"""Every script in examples/ runs at a tiny size and produces what it promises."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
def test_one_cycle_mnist5k_example(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLES / "one_cycle_mnist5k.py"))
    result = module["main"](["--epochs", "2", "--limit", "640", "--preset", "semi-ideal"])
    accuracies = result["test_accuracy"]
    assert len(accuracies) == 2
    assert accuracies[-1] > 0.2  # learns something in 20 steps (all three modes ~0.3 here): chance is 0.1
    peaks = result["analog_peaks"]  # default: each LeNet-5 layer peaks at its own device LR
    assert len(peaks) == 4 and peaks[0] > peaks[-1] and result["lr_bounds"] == []
    clamp = module["main"](["--epochs", "1", "--limit", "128", "--analog", "clamp", "--preset", "semi-ideal"])
    assert clamp["analog_peaks"] == [0.1] * 4 and len(clamp["lr_bounds"]) == 4  # one (low, high) per tile
    out = capsys.readouterr().out
    assert "epoch 2: test accuracy" in out and "analog LR bounds per group" in out
    assert sys.modules.get("aihwkit") is not None


@pytest.mark.slow
def test_range_test_then_one_cycle_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLES / "range_test_then_one_cycle.py"))
    plot = tmp_path / "lrf.png"
    result = module["main"](["--preset", "pytorch", "--epochs", "2", "--limit", "512", "--plot", str(plot)])
    assert 1e-4 < result["max_lr"] < 10 and plot.is_file()
    assert result["final_test_accuracy"] > 0.5
    assert "range test: valley" in capsys.readouterr().out


@pytest.mark.slow
def test_sweep_presets_example(capsys: pytest.CaptureFixture[str]) -> None:
    module = runpy.run_path(str(EXAMPLES / "sweep_presets.py"))
    finals = module["main"](["--presets", "pytorch", "gv", "--epochs", "2", "--limit", "1024", "--workers", "1"])
    # two epochs on 1,024 digits: 87 % for both on the 2-core CI machine, chance is 10 %. One epoch on 256 digits
    # (4 batches) sat too close to chance: gv ended at 52 % on one machine and 19 % on another with the same seed.
    assert set(finals) == {"pytorch", "gv"} and all(a > 0.5 for a in finals.values()), finals
    assert "gv" in capsys.readouterr().out
