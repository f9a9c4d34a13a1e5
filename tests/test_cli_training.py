"""CLI runs of train, lr-find and demo at tiny size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aihwkit_sc.cli import main


def test_train_cli_tiny_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--epochs", "2", "--limit", "256", "--out", str(out), "--quiet", "--schedule", "cosine",
            "--lr", "0.05"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "final test accuracy" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["epochs_done"] == 2
    again = CliRunner().invoke(main, [*args, "--resume"])
    assert again.exit_code == 0 and json.loads((out / "summary.json").read_text())["epochs_done"] == 2


def test_train_cli_errors(tmp_path: Path) -> None:
    bad = CliRunner().invoke(main, ["train", "--preset", "gokmen", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown preset 'gokmen': did you mean 'gokmen-vlasov'?" in bad.output
    bad = CliRunner().invoke(main, ["train", "--max-lr", "fast", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "expected a number or 'auto', got 'fast'" in bad.output
    bad = CliRunner().invoke(main, ["train", "--resume", "--out", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "cannot resume: no checkpoint.pt" in bad.output


@pytest.mark.slow
def test_train_cli_auto_max_lr_on_digital_models_and_refused_on_analog(tmp_path: Path) -> None:
    out = tmp_path / "auto"
    result = CliRunner().invoke(main, ["train", "--epochs", "1", "--limit", "256", "--out", str(out), "--max-lr",
                                       "auto"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schedule_options"]["max_lr"] == summary["lr_find"]["valley"] > 0
    metrics = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert max(metrics["lr"], metrics["lr_end"]) <= summary["lr_find"]["valley"]  # the peak it claims, on every layer
    # on an analog model a range test would measure the device while the layers take their device peak: refused
    refused = CliRunner().invoke(main, ["train", "--preset", "si", "--epochs", "1", "--limit", "64", "--out",
                                        str(tmp_path / "si"), "--max-lr", "auto"])
    assert refused.exit_code == 2
    assert ("max_lr='auto' or lr='auto' (an LR range test) is for digital models: analog layers take their own device "
            "peak") in refused.output
    assert not (tmp_path / "si" / "metrics.jsonl").exists()


@pytest.mark.slow
def test_train_cli_analog_run_shows_the_layers_lrs_and_pulses(tmp_path: Path) -> None:
    out = tmp_path / "si"
    result = CliRunner().invoke(main, ["train", "--preset", "si", "--epochs", "1", "--limit", "256", "--out",
                                       str(out), "--max-lr", "0.05", "--count-pulses"])
    assert result.exit_code == 0, result.output
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    line = next(x for x in result.output.splitlines() if x.startswith("epoch   1:"))
    assert f"lr {row['lr']:.4g} digital, {min(row['tile_lr']):.3g}-{max(row['tile_lr']):.3g} analog" in line
    assert f"pulses {row['pulses']:.3g}" in line and row["pulses"] > 0


def test_lr_find_cli_tiny(tmp_path: Path) -> None:
    png = tmp_path / "lrf.png"
    result = CliRunner().invoke(main, ["lr-find", "--limit", "512", "--num-iter", "20", "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert "suggested max LR (valley)" in result.output and png.is_file()
    numbers = json.loads(png.with_suffix(".json").read_text())
    assert len(numbers["lrs"]) == len(numbers["losses"]) >= 5 and numbers["valley"] > 0


@pytest.mark.slow
def test_demo_cli_tiny(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "mnist", "--epochs", "1", "--limit", "128", "--workers", "1",
                                       "--dataset", "mnist-5k", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("| mnist-5k")]
    settings = [line.split("|")[3].strip() for line in lines]
    assert settings == ["step/0.01/0.94/2", "CLR/0.01-0.1/0.48 +device peak", "cosine/0.1-0 +device peak (recommended)"]
    assert [line.split("|")[4].strip() for line in lines] == ["0.9", "0.95-0.85", "0.9"]
    demo = json.loads((out / "demo.json").read_text())
    assert demo["dataset"] == "mnist-5k" and len(demo["final_test_accuracy"]) == 9
    # the recommended row anneals from one-cycle's device peak: the same device_pulses, the same digital peak
    cosine = json.loads((out / "runs" / "cosine-gokmen-vlasov-s0" / "summary.json").read_text())
    cycle = json.loads((out / "runs" / "one-cycle-gokmen-vlasov-s0" / "summary.json").read_text())
    assert cosine["schedule_options"]["device_pulses"] == cycle["schedule_options"].get("device_pulses", 2.0) == 2.0
    assert cosine["schedule_options"]["lr"] == cycle["schedule_options"]["max_lr"] == 0.1
    # the printed table is the recorded runs: each cell is its run's final test accuracy (32 test digits at toy size)
    for line in lines:
        setting = line.split("|")[3].strip()
        cells = [c.strip() for c in line.split("|")[8:11]]
        recorded = [demo["final_test_accuracy"][f"{setting} | {d}"] for d in ("pytorch", "semi-ideal", "gokmen-vlasov")]
        assert cells == [f"{100 * acc[0]:.2f}" for acc in recorded]
        assert all(32 * acc[0] == round(32 * acc[0]) for acc in recorded)
    for device in ("pytorch", "semi-ideal", "gokmen-vlasov"):
        assert (out / f"curves-{device}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_demo_parallel_workers(tmp_path: Path) -> None:
    from aihwkit_sc.experiments.executor import run_all
    from aihwkit_sc.training import TrainConfig

    jobs = [(TrainConfig(epochs=1, limit=128, seed=s), tmp_path / f"s{s}") for s in (0, 1)]
    results = run_all(jobs, workers=2, quiet=True)
    assert [r["config"]["seed"] for r in results] == [0, 1]
    assert all((tmp_path / f"s{s}" / "summary.json").is_file() for s in (0, 1))
