"""The backward-signal study end to end at toy size: the exact control measures cosine 1, a noisy analog backward
pass measures less below the last layer, a weight-scaled one keeps more of the signal, and the page is the CSV's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "study_backward_signal.py"


def _rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_study_measures_the_control_as_exact_and_gokmen_vlasov_as_noisy(tmp_path: Path) -> None:
    csv_path, page = tmp_path / "bs.csv", tmp_path / "bs.md"
    command = [sys.executable, str(SCRIPT), "--models", "lenet5", "--presets", "fp-tile,gv,gv:omega=0.6",
               "--seeds", "1", "--csv", str(csv_path), "--out", str(page), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(csv_path)
    by = {(r["preset"], r["layer"]): r for r in rows}
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    assert len(layers) == 4 and {r["preset"] for r in rows} == {  # names canonical, LeNet-5's 2 conv + 2 fc
        "floating-point-tile", "gokmen-vlasov", "gokmen-vlasov:omega=0.6"}
    assert [by["floating-point-tile", name]["fan_in"] for name in layers] == ["25", "400", "512", "128"]
    for name in layers:  # the control's backward pass is exact: the hooks compare like with like
        assert float(by["floating-point-tile", name]["cosine"]) == pytest.approx(1.0, abs=1e-3)
        assert float(by["floating-point-tile", name]["norm_ratio"]) == pytest.approx(1.0, abs=1e-3)
    # the last layer's error is the loss gradient in both (the forward noise moves it only a little)
    assert float(by["gokmen-vlasov", layers[-1]]["cosine"]) > 0.95
    # below it the error has passed an analog backward: noise, and less of it with the weights mapped
    unscaled = [float(by["gokmen-vlasov", name]["cosine"]) for name in layers[:-1]]
    scaled = [float(by["gokmen-vlasov:omega=0.6", name]["cosine"]) for name in layers[:-1]]
    assert max(unscaled) < 0.9
    assert sum(scaled) > sum(unscaled)
    text = page.read_text()
    assert "| 0 (conv) | 25 | 1.00 | 1.00 |" in text
    assert f"`gokmen-vlasov`: mean cosine over the layers below the last from {min(unscaled):.2f} to " \
           f"{max(unscaled):.2f}" in text
    # resumed: nothing is measured again; the page is rebuilt from the CSV alone, byte for byte
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and len(_rows(csv_path)) == len(rows)
    page.rename(tmp_path / "first.md")
    rebuilt = subprocess.run([*command[:-1], "--report-only", "--quiet"], capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert page.read_text() == (tmp_path / "first.md").read_text()


def test_an_unknown_network_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--models", "resnet", "--csv", str(tmp_path / "x.csv"),
                           "--report-only"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "unknown network 'resnet': choose from lenet5, vgg8" in done.stderr
