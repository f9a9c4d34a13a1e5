"""Named schedules: registry, build(), shapes at known steps, plugin schedules, Figure 2 and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from aihwkit_sc import schedules
from aihwkit_sc.cli import main
from aihwkit_sc.registry import UnknownNameError


def test_builtin_schedules_registered() -> None:
    assert {"one-cycle", "step", "multistep", "constant", "cosine", "triangular"} <= set(schedules.names())


def test_step_shape() -> None:  # poster style step/0.01/0.5/2 at 5 steps per epoch
    lr = schedules.trace("step", epochs=5, steps_per_epoch=5, lr=0.01, gamma=0.5, step_size=2)["lr"]
    assert lr[0] == lr[9] == 0.01
    assert lr[10] == lr[19] == pytest.approx(0.005)
    assert lr[20] == pytest.approx(0.0025)


def test_constant_shape() -> None:
    assert set(schedules.trace("constant", epochs=3, steps_per_epoch=4, lr=0.03)["lr"]) == {0.03}


def test_cosine_shape() -> None:
    lr = schedules.trace("cosine", epochs=2, steps_per_epoch=5, lr=0.1, min_lr=0.01)["lr"]
    assert lr[0] == 0.1
    assert lr[5] == pytest.approx(0.055)  # half way: the mean of lr and min_lr
    assert lr[9] == pytest.approx(0.01 + 0.09 * (1 + torch.cos(torch.tensor(0.9 * torch.pi)).item()) / 2)


def test_triangular_shape() -> None:
    lr = schedules.trace("triangular", epochs=3, steps_per_epoch=4, base_lr=0.01, max_lr=0.1, step_size=1)["lr"]
    assert lr[0] == pytest.approx(0.01)
    assert lr[2] == pytest.approx(0.055)
    assert lr[4] == pytest.approx(0.1)
    assert lr[8] == pytest.approx(0.01)


def test_one_cycle_shape_and_momentum() -> None:
    values = schedules.trace("one-cycle", epochs=10, steps_per_epoch=10, max_lr=0.1, div_factor=10,
                             pct_start=0.3, final_div_factor=100)
    lr, momentum = values["lr"], values["momentum"]
    assert lr[0] == pytest.approx(0.01)
    assert max(lr) == pytest.approx(0.1) and lr.index(max(lr)) == 29  # torch: peak at pct_start·total - 1
    assert lr[-1] == pytest.approx(0.0001, rel=0.05)
    assert momentum[0] == pytest.approx(0.95) and momentum[29] == pytest.approx(0.85)


def test_build_errors() -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"schedule 'step' has no option 'gama': it takes steps_per_epoch, epochs"):
        schedules.build("step", opt, steps_per_epoch=3, gama=0.5)
    with pytest.raises(ValueError, match="schedule 'cosine' needs 'epochs'"):
        schedules.build("cosine", opt, steps_per_epoch=3)
    with pytest.raises(UnknownNameError, match="unknown schedule 'one-cylce': did you mean 'one-cycle'"):
        schedules.build("one-cylce", opt, steps_per_epoch=3, epochs=1)
    with pytest.raises(ValueError, match=r"^schedule 'constant' option lr: expected a positive number up to 1e\+06 or "
                                         r"null, got -1.0$"):
        schedules.build("constant", opt, steps_per_epoch=3, lr=-1.0)


def test_build_checks_option_types() -> None:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"^schedule 'step' option step_size: expected a positive number, got 'abc'$"):
        schedules.build("step", opt, steps_per_epoch=3, step_size="abc")
    with pytest.raises(ValueError, match=r"^schedule 'step' option gamma: expected a positive number, got True$"):
        schedules.build("step", opt, steps_per_epoch=3, gamma=True)
    with pytest.raises(ValueError, match=r"^schedule 'one-cycle' option three_phase: expected true/false, "
                                         r"got 'maybe'$"):
        schedules.build("one-cycle", opt, steps_per_epoch=3, epochs=2, three_phase="maybe")
    with pytest.raises(ValueError, match=r"^schedule 'one-cycle' option analog_max_lr: expected a positive number "
                                         r"up to 1e\+06, 'device', 'auto' or null, got 'devcie'$"):
        schedules.build("one-cycle", opt, steps_per_epoch=3, epochs=2, analog_max_lr="devcie")
    with pytest.raises(ValueError, match=r"option xd_product: expected a positive number, a list of positive numbers "
                                         r"or null, got \[1, 'x'\]"):
        schedules.build("step", opt, steps_per_epoch=3, xd_product=[1, "x"])
    with pytest.raises(ValueError, match=r"^schedule 'triangular' option mode: expected 'triangular', 'triangular2' "
                                         r"or 'exp_range', got 'tri'$"):
        schedules.build("triangular", opt, steps_per_epoch=3, mode="tri")
    # the right types pass: ints for floats, lists for sequences, None for optionals, Literal strings
    schedules.build("one-cycle", opt, steps_per_epoch=3, epochs=2, max_lr=1, three_phase=True, analog_max_lr=None,
                    xd_product=[1.0, 2], analog_lr_bounds=[0.001, 0.1])
    schedules.build("step", opt, steps_per_epoch=3, analog_lr="device", step_size=2)


def test_check_options_run_supplied_and_auto() -> None:
    with pytest.raises(ValueError, match=r"^schedule 'step' option epochs cannot be set here: the run passes it; "
                                         r"use --epochs \(TrainConfig.epochs\) instead$"):
        schedules.check_run_options("step", {"epochs": 3})
    with pytest.raises(ValueError, match=r"^schedule 'cosine' option steps_per_epoch cannot be set here"):
        schedules.check_run_options("cosine", {"steps_per_epoch": 3})
    schedules.check_run_options("one-cycle", {"max_lr": "auto", "xd_product": "auto"})  # the run measures these
    with pytest.raises(ValueError, match=r"option max_lr: expected a positive number up to 1e\+06 or null, got 'auto'"):
        schedules.check_options("one-cycle", {"max_lr": "auto"})  # build itself takes numbers only
    with pytest.raises(ValueError, match=r"option max_lr: expected a positive number up to 1e\+06, null or 'auto', "
                                         r"got 'fast'"):
        schedules.check_run_options("one-cycle", {"max_lr": "fast"})


def test_plot_schedule_writes_png_of_the_schedule(tmp_path: Path) -> None:
    from aihwkit_sc.plots import plot_schedule

    path = tmp_path / "fig2" / "one-cycle.png"
    values = plot_schedule("one-cycle", path, epochs=4, steps_per_epoch=5, max_lr=0.2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert values == schedules.trace("one-cycle", epochs=4, steps_per_epoch=5, max_lr=0.2)


def test_cli_schedules_list_and_plot(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schedules", "list", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["one-cycle"]["options"]["max_lr"] is None and rows["one-cycle"]["options"]["epochs"] is None
    assert rows["one-cycle"]["needs"] == ["xd_product"] and rows["triangular"]["needs"] == []
    out = tmp_path / "s.png"
    result = CliRunner().invoke(main, ["schedules", "plot", "step", "--epochs", "4", "--steps-per-epoch", "3",
                                       "-O", "gamma=0.1", "-O", "step_size=1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "lr 1e-05..0.01" in result.output and out.exists()
    bad = CliRunner().invoke(main, ["schedules", "plot", "step", "-O", "gama=1", "-o", str(out)])
    assert bad.exit_code == 2 and "has no option 'gama'" in bad.output
