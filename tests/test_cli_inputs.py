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
    assert line == ("Error: schedule 'one-cycle' option max_lr: expected a positive number up to 1e+06, null or "
                    "'auto', got 'fast'")
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


# -- trust, round two (issue 19) ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("option", "expected"), [
    ("max_lr=-1", "max_lr: expected a positive number up to 1e+06, null or 'auto', got -1"),  # trained at -0.04
    ("max_lr=1e30", "max_lr: expected a positive number up to 1e+06, null or 'auto', got 1e+30"),  # "complete"
    ("div_factor=-5", "div_factor: expected a positive number, got -5"),
    ("div_factor=0", "div_factor: expected a positive number, got 0"),  # ZeroDivisionError traceback
    ("final_div_factor=0", "final_div_factor: expected a positive number, got 0"),
    ("base_momentum=-1", "base_momentum: expected a number in [0, 1) or a list of numbers in [0, 1), got -1"),
    ("max_momentum=5", "max_momentum: expected a number in [0, 1) or a list of numbers in [0, 1), got 5"),
    ("pct_start=1.5", "pct_start: expected a number in (0, 1), got 1.5"),
    ("device_pulses=0", "device_pulses: expected a positive number or 'auto', got 0"),
    ("analog_lr_bounds=[0.1,-1]", "analog_lr_bounds: expected 'device', a list of 2 positive numbers or null, "
                                  "got [0.1, -1]"),
])
def test_numeric_schedule_options_are_checked_where_parsed(out: str, option: str, expected: str) -> None:
    """Items 2 and 5: every numeric -O option is refused as --lr is, one line, before the run starts."""
    line = error_line(invoke("train", "-O", option, "--out", out))
    assert line == f"Error: schedule 'one-cycle' option {expected}"
    assert not Path(out).exists()


@pytest.mark.parametrize(("schedule", "option", "expected"), [
    ("cosine", "min_lr=-0.1", "min_lr: expected a number >= 0, got -0.1"),
    ("step", "gamma=0", "gamma: expected a positive number, got 0"),
    ("multistep", "milestones=[0.5,1.5]", "milestones: expected a list of numbers in (0, 1), got [0.5, 1.5]"),
    ("triangular", "base_lr=-1", "base_lr: expected a positive number up to 1e+06, got -1"),
    ("constant", "analog_lr=1e9", "analog_lr: expected a positive number up to 1e+06, 'device' or null, got "
                                  "1000000000.0"),
])
def test_every_schedule_checks_its_ranges(out: str, schedule: str, option: str, expected: str) -> None:
    line = error_line(invoke("train", "--schedule", schedule, "-O", option, "--out", out))
    assert line == f"Error: schedule {schedule!r} option {expected}"


@pytest.mark.parametrize(("args", "expected"), [
    (("--seed", "-2"), "Error: Invalid value for '--seed': -2 is not in the range 0<=x<=9223372036854775807."),
    (("--momentum", "1"), "Error: Invalid value for '--momentum': 1.0 is not in the range 0<=x<1."),
    (("--weight-decay", "inf"), "Error: Invalid value for '--weight-decay': expected a finite number >= 0, got 'inf'"),
    (("--weight-decay", "nan"), "Error: Invalid value for '--weight-decay': expected a finite number >= 0, got 'nan'"),
    (("--lr", "0.05", "-O", "max_lr=0.1"),
     "Error: --lr and -O max_lr both set the schedule's LR (-O max_lr wins over the optimizer's --lr): give one of "
     "them"),
    (("--lr", "0.05", "--max-lr", "0.1"),
     "Error: --lr and --max-lr both set the schedule's LR (--max-lr wins over the optimizer's --lr): give one of them"),
    (("--schedule", "cosine", "--lr", "0.05", "-O", "lr=0.1"),
     "Error: --lr and -O lr both set the schedule's LR (-O lr wins over the optimizer's --lr): give one of them"),
])
def test_flags_refuse_what_would_train_wrongly(out: str, args: tuple[str, ...], expected: str) -> None:
    """Items 5 and 10: a negative seed died in pybind; --weight-decay inf trained; --lr was ignored silently."""
    assert error_line(invoke("train", *args, "--out", out)) == expected
    assert not Path(out).exists()


def test_empty_out_is_refused_not_the_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 10: --out '' silently wrote to runs/..."""
    monkeypatch.chdir(tmp_path)
    line = error_line(invoke("train", "--out", ""))
    assert line == ("Error: Invalid value for --out: expected a folder, got ''; leave --out out for the default "
                    "runs/lenet5-pytorch-one-cycle-s0")
    assert list(tmp_path.iterdir()) == []


def test_lr_find_checks_the_plot_name_before_the_range_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 5: `lr-find -o x.txt` failed only after the whole range test had run."""
    from aihwkit_sc import lr_finder

    monkeypatch.setattr(lr_finder, "lr_find", lambda *a, **k: pytest.fail("the range test ran"))
    line = error_line(invoke("lr-find", "-o", str(tmp_path / "x.txt"), "--limit", "64"))
    assert line == (f"Error: Invalid value for --output: expected an image file name ending in .png, .pdf, .svg or "
                    f"another format matplotlib writes, got '{tmp_path / 'x.txt'}'")
    assert list(tmp_path.iterdir()) == []


def test_demo_with_an_unknown_dataset_is_one_line(tmp_path: Path) -> None:
    """Item 5: `demo mnist --dataset nosuch` gave a traceback."""
    result = invoke("demo", "mnist", "--dataset", "nosuch", "--out", str(tmp_path / "demo"))
    assert error_line(result).startswith("Error: Invalid value for --dataset: unknown dataset 'nosuch': choose one of ")
    assert "training" not in result.output and not (tmp_path / "demo").exists()


def test_unreachable_ray_address_is_one_line_not_a_hang(tmp_path: Path) -> None:
    """Item 9: `--backend ray --address 127.0.0.1:1` hung for minutes printing warnings."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "from aihwkit_sc.cli import main; main()", "reproduce", "table1", "--rows",
         "mnist-lenet5-one-cycle-12", "--devices", "n", "--seeds", "1", "--dataset-override", "mnist-5k", "--limit",
         "64", "--backend", "ray", "--address", "127.0.0.1:1", "-q", "--out", str(tmp_path / "sweep")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: cannot reach a Ray cluster at 127.0.0.1:1 (Connection refused); start one there ('ray start --head') "
        "or leave out --address to run on a local Ray instance")
    assert "Traceback" not in done.stderr
