"""Bad command-line input is refused before any training, with one line naming the option and the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aihwkit_sc.cli import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def error_line(result: Result) -> str:
    """The one ``Error: ...`` line click prints for a usage error (and the exit code must be 2, no traceback)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.fixture
def out(tmp_path: Path) -> str:
    return str(tmp_path / "run")


def test_train_option_of_wrong_type_is_one_line(out: str) -> None:
    line = error_line(invoke("train", "--schedule", "step", "-O", "step_size=abc", "--out", out))
    assert line == "Error: schedule 'step' option step_size: expected a positive number, got 'abc'"
    assert not Path(out).exists()  # refused before the run started


def test_train_option_the_run_supplies_says_use_epochs(out: str) -> None:
    line = error_line(invoke("train", "--schedule", "step", "-O", "epochs=3", "--out", out))
    assert line == ("Error: schedule 'step' option epochs cannot be set here: the run passes it; use --epochs "
                    "(TrainConfig.epochs) instead")
    line = error_line(invoke("train", "-O", "steps-per-epoch=3", "--out", out))
    assert line.startswith("Error: schedule 'one-cycle' option steps_per_epoch cannot be set here: the run passes it")


def test_train_bool_option_rejects_maybe(out: str) -> None:
    line = error_line(invoke("train", "-O", "three_phase=maybe", "--out", out))
    assert line == "Error: schedule 'one-cycle' option three_phase: expected true/false, got 'maybe'"


def test_train_literal_and_unknown_options(out: str) -> None:
    line = error_line(invoke("train", "-O", "anneal_strategy=cosine", "--out", out))
    assert line == "Error: schedule 'one-cycle' option anneal_strategy: expected 'cos' or 'linear', got 'cosine'"
    line = error_line(invoke("train", "-O", "max_lr=fast", "--out", out))
    assert line == "Error: schedule 'one-cycle' option max_lr: expected a positive number up to 1e+06, null or 'auto', got 'fast'"
    line = error_line(invoke("train", "-O", "pct_start=NaN", "--out", out))
    assert line == "Error: schedule 'one-cycle' option pct_start: expected a number in (0, 1), got nan"
    line = error_line(invoke("train", "-O", "gama=0.5", "--schedule", "step", "--out", out))
    assert line.startswith("Error: schedule 'step' has no option 'gama': it takes steps_per_epoch, epochs, lr, gamma")


def test_train_option_given_twice(out: str) -> None:
    line = error_line(invoke("train", "-O", "pct_start=0.2", "-O", "pct-start=0.4", "--out", out))
    assert line == "Error: Invalid value for --option: pct_start given twice"


def test_train_max_lr_given_twice(out: str) -> None:
    line = error_line(invoke("train", "--max-lr", "0.5", "-O", "max_lr=0.2", "--out", out))
    assert line == "Error: give the max LR once: --max-lr 0.5 or -O max_lr=0.2"


@pytest.mark.parametrize("value", ["1e39", "inf", "nan", "0", "-0.1", "fast"])
def test_train_lr_out_of_range_names_lr(out: str, value: str) -> None:
    line = error_line(invoke("train", "--lr", value, "--out", out))
    expected = "expected a positive number" + ("" if value == "fast" else " up to 1e+06")
    assert line == f"Error: Invalid value for '--lr': {expected}, got {value!r}"


@pytest.mark.parametrize("value", ["inf", "nan", "1e39"])
def test_train_max_lr_must_be_finite(out: str, value: str) -> None:
    line = error_line(invoke("train", "--max-lr", value, "--out", out))
    assert line == ("Error: Invalid value for --max-lr: expected a positive number up to 1e+06 or 'auto', "
                    f"got {value!r}")


def test_lr_find_lr_range(tmp_path: Path) -> None:
    line = error_line(invoke("lr-find", "--end-lr", "1e39", "-o", str(tmp_path / "x.png")))
    assert line == "Error: Invalid value for '--end-lr': expected a positive number up to 1e+06, got '1e39'"


def test_schedules_plot_validates_options_like_train(tmp_path: Path) -> None:
    png = str(tmp_path / "s.png")
    line = error_line(invoke("schedules", "plot", "step", "-O", "step_size=abc", "-o", png))
    assert line == "Error: schedule 'step' option step_size: expected a positive number, got 'abc'"
    line = error_line(invoke("schedules", "plot", "one-cycle", "-O", "three_phase=maybe", "-o", png))
    assert line == "Error: schedule 'one-cycle' option three_phase: expected true/false, got 'maybe'"
    line = error_line(invoke("schedules", "plot", "step", "-O", "epochs=3", "-o", png))
    assert line == "Error: schedule 'step' option epochs cannot be set here: the plot passes it; use --epochs instead"
    line = error_line(invoke("schedules", "plot", "step", "-O", "lr=0.1", "-o", png))
    assert line == "Error: schedule 'step' option lr cannot be set here: the plot passes it; use --lr instead"
    line = error_line(invoke("schedules", "plot", "step", "--lr", "1e39", "-o", png))
    assert line == "Error: Invalid value for '--lr': expected a positive number up to 1e+06, got '1e39'"
    assert not Path(png).exists()


def test_reproduce_rows_with_a_bogus_entry(tmp_path: Path) -> None:
    line = error_line(invoke("reproduce", "table1", "--rows", "mnist-lenet5-step-50,bogus", "--out", str(tmp_path)))
    assert line.startswith("Error: --rows entry 'bogus' matches no row: row ids are cifar10-resnet18-step-100, ")
    assert line.endswith("mnist-lenet5-one-cycle-25 (or indices 1-12)")
    line = error_line(invoke("reproduce", "table1", "--rows", "mnist-lenet5-step50", "--out", str(tmp_path)))
    assert line.startswith("Error: --rows entry 'mnist-lenet5-step50' matches no row: did you mean "
                           "'mnist-lenet5-step-50', ")
    line = error_line(invoke("reproduce", "table1", "--rows", "1,13", "--out", str(tmp_path)))
    assert line.startswith("Error: --rows entry '13' matches no row: row ids are ")
    assert list(tmp_path.iterdir()) == []


def test_reproduce_empty_devices_is_an_error(tmp_path: Path) -> None:
    for devices in ("", " , "):
        line = error_line(invoke("reproduce", "table1", "--devices", devices, "--out", str(tmp_path)))
        assert line == "Error: --devices: no devices given; name presets, e.g. --devices n,si,gv"
    line = error_line(invoke("reproduce", "table1", "--devices", "n,pytorch", "--out", str(tmp_path)))
    assert line == "Error: --devices names pytorch twice ('n' and 'pytorch')"
    line = error_line(invoke("reproduce", "table1", "--devices", "n,gokmen", "--out", str(tmp_path)))
    assert line == "Error: unknown preset 'gokmen': did you mean 'gokmen-vlasov'?"
    assert list(tmp_path.iterdir()) == []
