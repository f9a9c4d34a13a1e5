"""torch's own ``OneCycleLR`` test cases, run against torch's class and against ``AnalogOneCycleLR``.

The README says ``AnalogOneCycleLR`` takes the same arguments as torch's ``OneCycleLR``. These tests hold it to
torch's own test suite: every ``OneCycleLR`` case of ``TestLRScheduler`` in pytorch/pytorch
``test/optim/test_lrscheduler.py`` (read at commit 01f9ef32eae5ef513002dd44902c23cbe6be3aae; the installed torch
is 2.14.1) is re-expressed here as a pytest function parametrized over both classes, the class being the only thing
swapped. The setups, targets and tolerance (``atol=1e-5``) are torch's:

- ``test_onecycle_lr_invalid_anneal_strategy``, ``test_onecycle_lr_invalid_pct_start``,
  ``test_onecycle_lr_cannot_calculate_total_steps``;
- ``test_onecycle_lr_linear_annealing``, ``test_onecycle_lr_linear_annealing_three_phases``,
  ``test_onecycle_lr_cosine_annealing`` (``base_momentum=1, max_momentum=22``);
- ``test_onecycle_lr_legacy_state_dict``;
- ``test_cycle_lr_with_adam`` (a ``OneCycleLR`` test despite its name: beta1 cycled);
- ``test_constant_initial_params_onecyclelr`` (tensor ``max_lr`` and momenta, changed in place afterwards);
- the ``OneCycleLR`` rows of ``test_lr_scheduler_state_dict_load`` and ``test_lr_scheduler_checkpoint``.

torch's fixture optimizer has a tensor LR in its second group; each trajectory case also runs with float LRs only.

Below them, the argument kinds a drop-in replacement has to take as torch does (NumPy scalar and 0-d tensor
``max_lr``, tensor momenta, ``max_momentum`` above 1, ``pct_start`` 0.0 and 1.0, ``total_steps=1``, ...): LR and
momentum/betas are compared with torch's exactly, value and type, after construction and after every step; and
arguments torch rejects must raise the same exception, type and message. The one documented difference, holding
the final step's LR at ``total_steps`` (where torch extrapolates past its schedule) and after it (where torch raises),
is built into the trajectory comparison (:func:`held_at_end`) and has a test of its own.
"""

from __future__ import annotations

import copy
import math
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim import SGD, Adam, AdamW, Optimizer, Rprop
from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING, OneCycleLR

from aihwkit_sc.schedules import AnalogOneCycleLR

SCHEDULERS = [pytest.param(OneCycleLR, id="torch"), pytest.param(AnalogOneCycleLR, id="analog")]
Scheduler = Callable[..., OneCycleLR]


# -- torch's fixture --------------------------------------------------------------------------------------------------
def net() -> nn.Sequential:
    """torch's ``SchedulerTestNet``: two 1x1 convolutions (only their parameters matter)."""
    return nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(), nn.Conv2d(1, 1, 1))


def fixture_opt(tensor_lr: bool = True, optimizer: Callable[..., Optimizer] = SGD) -> Optimizer:
    """torch's ``self.opt``: two groups at LR 0.05 and 0.5 (the second a tensor in torch's ``setUp``)."""
    model = net()
    second: Any = torch.tensor(0.5) if tensor_lr else 0.5
    return optimizer([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": second}], lr=0.05)


def check_cycle(opt: Optimizer, sched: Any, lr_targets: list[list[float]], momentum_targets: list[list[float]],
                steps: int, use_beta1: bool = False) -> None:
    """torch's ``_test_cycle_lr``: LR and momentum (beta1) of every group before each of ``steps`` steps."""
    for step in range(steps):
        for group, lr_target, momentum_target in zip(opt.param_groups, lr_targets, momentum_targets, strict=True):
            assert float(group["lr"]) == pytest.approx(lr_target[step], abs=1e-5), f"LR at step {step}"
            if use_beta1 and "betas" in group:
                assert float(group["betas"][0]) == pytest.approx(momentum_target[step], abs=1e-5), f"beta1 at {step}"
            elif "momentum" in group:
                assert float(group["momentum"]) == pytest.approx(momentum_target[step], abs=1e-5), f"momentum {step}"
        opt.step()
        sched.step()


def annealing_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


COS_LR: list[float] = [1, 13, 25, *(annealing_cos(25, 0.5, k / 7.0) for k in range(1, 7)), 0.5]
COS_MOMENTUM: list[float] = [22, 11.5, 1, *(annealing_cos(1, 22, k / 7.0) for k in range(1, 7)), 22]
LINEAR_LR: list[float] = [1, 13, 25, 21.5, 18, 14.5, 11, 7.5, 4, 0.5]
LINEAR_MOMENTUM: list[float] = [22, 11.5, 1, 4, 7, 10, 13, 16, 19, 22]


# -- torch's cases ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_invalid_anneal_strategy(cls: Scheduler) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (torch's test checks the type only)
        cls(fixture_opt(), max_lr=1e-3, total_steps=10, anneal_strategy="CATS")


@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_invalid_pct_start(cls: Scheduler) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        cls(fixture_opt(), max_lr=1e-3, total_steps=10, pct_start=1.1)


@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_cannot_calculate_total_steps(cls: Scheduler) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        cls(fixture_opt(), max_lr=1e-3)


@pytest.mark.parametrize("tensor_lr", [True, False])
@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_linear_annealing(cls: Scheduler, tensor_lr: bool) -> None:
    opt = fixture_opt(tensor_lr)
    sched = cls(opt, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22, total_steps=10,
                anneal_strategy="linear")
    check_cycle(opt, sched, [LINEAR_LR] * 2, [LINEAR_MOMENTUM] * 2, 10)


@pytest.mark.parametrize("tensor_lr", [True, False])
@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_linear_annealing_three_phases(cls: Scheduler, tensor_lr: bool) -> None:
    opt = fixture_opt(tensor_lr)
    sched = cls(opt, max_lr=25, div_factor=25, base_momentum=1, max_momentum=22, total_steps=10,
                anneal_strategy="linear", pct_start=0.4, final_div_factor=4, three_phase=True)
    lr: list[float] = [1, 9, 17, 25, 17, 9, 1, 0.75, 0.5, 0.25]
    momentum: list[float] = [22, 15, 8, 1, 8, 15, 22, 22, 22, 22]
    check_cycle(opt, sched, [lr] * 2, [momentum] * 2, 10)


@pytest.mark.parametrize("tensor_lr", [True, False])
@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_cosine_annealing(cls: Scheduler, tensor_lr: bool) -> None:
    opt = fixture_opt(tensor_lr)
    sched = cls(opt, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22, total_steps=10)
    check_cycle(opt, sched, [COS_LR] * 2, [COS_MOMENTUM] * 2, 10)


@pytest.mark.parametrize("cls", SCHEDULERS)
def test_onecycle_lr_legacy_state_dict(cls: Scheduler) -> None:
    opt = fixture_opt()
    sched = cls(opt, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22, total_steps=10,
                anneal_strategy="cos")
    delattr(sched, "_anneal_func_type")  # a state dict saved by a torch from before _anneal_func_type
    state = sched.state_dict()
    assert "anneal_func_type" not in state
    state["anneal_func"] = OneCycleLR._annealing_cos
    sched.load_state_dict(state)
    check_cycle(opt, sched, [COS_LR] * 2, [COS_MOMENTUM] * 2, 10)


@pytest.mark.parametrize("cls", SCHEDULERS)
def test_cycle_lr_with_adam(cls: Scheduler) -> None:
    model = net()
    groups: list[dict[str, Any]] = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.5}]
    opt = Adam(groups, lr=0.05)
    sched = cls(opt, max_lr=25, final_div_factor=2, base_momentum=1, max_momentum=22, total_steps=10,
                anneal_strategy="linear")
    check_cycle(opt, sched, [LINEAR_LR] * 2, [LINEAR_MOMENTUM] * 2, 10, use_beta1=True)


@pytest.mark.parametrize("cls", SCHEDULERS)
def test_constant_initial_params_onecyclelr(cls: Scheduler) -> None:
    lr = torch.as_tensor(0.1)
    base_momentum = torch.as_tensor(0.85)
    max_momentum = torch.as_tensor(0.95)
    opt = SGD([nn.Parameter(torch.randn(1))], lr=lr)
    sched = cls(opt, max_lr=lr, total_steps=10, base_momentum=base_momentum, max_momentum=max_momentum)
    original = copy.deepcopy(opt.param_groups)
    for i in range(2):
        lr.multiply_(0.5)  # the caller's tensors change; the schedule must not
        base_momentum.multiply_(0.5)
        max_momentum.multiply_(0.5)
        opt.step()
        with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
            sched.step(i)
        for group, before in zip(opt.param_groups, original, strict=True):
            for key in ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"):
                assert torch.equal(torch.as_tensor(group[key]), torch.as_tensor(before[key])), key
            assert group["max_momentum"] == 0.95
            assert group["base_momentum"] == 0.85


def same(a: Any, b: Any) -> bool:
    """``a == b`` for nested state dicts that may hold tensors."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("cls", SCHEDULERS)
def test_lr_scheduler_state_dict_load(cls: Scheduler, weights_only: bool) -> None:
    opt = fixture_opt()
    state = cls(opt, max_lr=0.01, total_steps=10, anneal_strategy="linear").state_dict()
    with tempfile.TemporaryFile() as f:
        torch.save(state, f)
        f.seek(0)
        loaded = torch.load(f, weights_only=weights_only)
    assert same(state, loaded)
    again = cls(opt, max_lr=0.01, total_steps=10, anneal_strategy="linear")
    again.load_state_dict(loaded)
    assert same(again.state_dict(), state)


@pytest.mark.parametrize("cls", SCHEDULERS)
def test_lr_scheduler_checkpoint(cls: Scheduler) -> None:
    model = nn.Linear(3, 3)
    opt = AdamW(model.parameters())
    sched = cls(opt, max_lr=0.01, total_steps=10)
    opt.step()
    sched.step()
    opt2 = AdamW(model.parameters())
    opt2.load_state_dict(opt.state_dict())
    resumed = cls(opt2, max_lr=0.01, total_steps=10, last_epoch=0)
    assert resumed.get_last_lr()[0] == opt.param_groups[0]["lr"]


# -- the same arguments: accepted as torch accepts them, same values step by step ----------------------------------
def snap(value: Any) -> Any:
    """A value with its type, comparable exactly (tensors by dtype and value, NaN equal to NaN)."""
    if isinstance(value, tuple):
        return tuple(snap(v) for v in value)
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape), snap(value.tolist()))
    if isinstance(value, float | np.floating) and math.isnan(value):
        return (type(value).__name__, "nan")
    return (type(value).__name__, value)


Outcome = tuple[list[Any], tuple[type, str] | None]


def trajectory(cls: Scheduler, make_opt: Callable[[], Optimizer], kwargs: dict[str, Any], steps: int) -> Outcome:
    """Every group's LR and momentum/betas (and ``get_last_lr()``) after construction and after each step, and the
    exception raised on the way, if any (type and message)."""
    opt = make_opt()
    out: list[Any] = []
    try:
        sched = cls(opt, **kwargs)
        for step in range(steps + 1):
            if step:
                opt.step()
                sched.step()
            out.append([(snap(g["lr"]), snap(g.get("momentum")), snap(g.get("betas"))) for g in opt.param_groups])
            out.append([snap(lr) for lr in sched.get_last_lr()])
    except Exception as error:  # the exception is the outcome compared
        return out, (type(error), str(error))
    return out, None


OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {
    "sgd": lambda: fixture_opt(tensor_lr=False),
    "sgd-tensor-lr": fixture_opt,
    "adam": lambda: fixture_opt(tensor_lr=False, optimizer=Adam),
    "rprop": lambda: fixture_opt(tensor_lr=False, optimizer=Rprop),
}

ACCEPTED: dict[str, dict[str, Any]] = {
    "numpy-float32-max-lr": {"max_lr": np.float32(0.1)},
    "numpy-float64-max-lr": {"max_lr": np.float64(0.1)},
    "0d-tensor-max-lr": {"max_lr": torch.tensor(0.1)},
    "0d-float64-tensor-max-lr": {"max_lr": torch.tensor(0.1, dtype=torch.float64)},
    "int-max-lr": {"max_lr": 25},
    "mixed-list-max-lr": {"max_lr": [torch.tensor(0.2), np.float32(0.05)]},
    "tuple-max-lr": {"max_lr": (0.2, 0.05)},
    "tensor-momenta": {"base_momentum": torch.tensor(0.8), "max_momentum": torch.tensor(0.9)},
    "tensor-momenta-per-group": {"base_momentum": [torch.tensor(0.8), 0.85], "max_momentum": (0.9, torch.tensor(0.95))},
    "numpy-momenta": {"base_momentum": np.float32(0.8), "max_momentum": np.float64(0.9)},
    "max-momentum-above-1": {"max_momentum": 1.5},
    "torch-test-momenta": {"base_momentum": 1, "max_momentum": 22},
    "momenta-inverted": {"base_momentum": 0.95, "max_momentum": 0.85},
    "pct-start-0": {"pct_start": 0.0},
    "pct-start-1": {"pct_start": 1.0},  # torch divides by zero at the last step: the same ZeroDivisionError
    "pct-start-0-three-phase": {"pct_start": 0.0, "three_phase": True},
    "pct-start-numpy": {"pct_start": np.float64(0.25)},
    "total-steps-1": {"total_steps": 1},
    "total-steps-2": {"total_steps": 2},
    "total-steps-beats-bad-epochs": {"total_steps": 10, "epochs": 0, "steps_per_epoch": -3},
    "epochs-times-steps": {"total_steps": None, "epochs": 3, "steps_per_epoch": 4},
    "epochs-1-step-1": {"total_steps": None, "epochs": 1, "steps_per_epoch": 1},
    "zero-max-lr": {"max_lr": 0.0},
    "negative-max-lr": {"max_lr": -0.1},
    "nan-max-lr": {"max_lr": math.nan},
    "negative-div-factor": {"div_factor": -4.0},
    "tensor-div-factor": {"div_factor": torch.tensor(10.0), "final_div_factor": torch.tensor(100.0)},
    "final-div-below-1": {"final_div_factor": 0.5},
    "no-momentum-cycle": {"cycle_momentum": False},
}


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("optimizer", ["sgd", "sgd-tensor-lr", "adam"])
@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepts_what_torch_accepts_with_the_same_values(case: str, optimizer: str, anneal: str) -> None:
    kwargs: dict[str, Any] = {"max_lr": 0.1, "total_steps": 10, "anneal_strategy": anneal} | ACCEPTED[case]
    steps = kwargs["total_steps"] or kwargs["epochs"] * kwargs["steps_per_epoch"]
    ref = trajectory(OneCycleLR, OPTIMIZERS[optimizer], kwargs, steps)
    assert len(ref[0]) == 2 * steps + (2 if ref[1] is None else 0)  # torch accepts every case ...
    if case == "pct-start-1":  # ... and runs it to the end, but for this one's last step
        assert ref[1] is not None and ref[1][0] is ZeroDivisionError
    else:
        assert ref[1] is None
    assert trajectory(AnalogOneCycleLR, OPTIMIZERS[optimizer], kwargs, steps) == held_at_end(ref, steps)


def held_at_end(ref: Outcome, steps: int) -> Outcome:
    """torch's trajectory with the documented difference: at step ``total_steps`` (a run steps after its last batch)
    torch extrapolates past its schedule (or divides by zero, ``pct_start=1``), ``AnalogOneCycleLR`` holds the values
    of step ``total_steps - 1``."""
    out, error = ref
    if error is not None and len(out) < 2 * steps:  # torch stopped before the end: so does ours, the same way
        return ref
    return [*out[:2 * steps], *out[2 * steps - 2:2 * steps]], None


def test_momentumless_optimizer_without_momentum_cycle() -> None:
    kwargs: dict[str, Any] = {"max_lr": 0.1, "total_steps": 10, "cycle_momentum": False}
    ref = trajectory(OneCycleLR, OPTIMIZERS["rprop"], kwargs, 10)
    assert ref[1] is None and len(ref[0]) == 22
    assert trajectory(AnalogOneCycleLR, OPTIMIZERS["rprop"], kwargs, 10) == held_at_end(ref, 10)


# -- rejected as torch rejects them: the same exception ---------------------------------------------------------------
REJECTED: dict[str, tuple[str, dict[str, Any], type[Exception]]] = {
    "anneal-strategy": ("sgd", {"anneal_strategy": "cosine"}, ValueError),
    "pct-start-above-1": ("sgd", {"pct_start": 1.1}, ValueError),
    "pct-start-negative": ("sgd", {"pct_start": -0.1}, ValueError),
    "pct-start-int-0": ("sgd", {"pct_start": 0}, ValueError),  # torch wants a float
    "pct-start-int-1": ("sgd", {"pct_start": 1}, ValueError),
    "no-total-steps": ("sgd", {"total_steps": None}, ValueError),
    "epochs-only": ("sgd", {"total_steps": None, "epochs": 3}, ValueError),
    "total-steps-0": ("sgd", {"total_steps": 0}, ValueError),
    "total-steps-negative": ("sgd", {"total_steps": -5}, ValueError),
    "total-steps-float": ("sgd", {"total_steps": 10.0}, ValueError),
    "total-steps-numpy-int": ("sgd", {"total_steps": np.int64(10)}, ValueError),
    "epochs-0": ("sgd", {"total_steps": None, "epochs": 0, "steps_per_epoch": 5}, ValueError),
    "epochs-float": ("sgd", {"total_steps": None, "epochs": 2.0, "steps_per_epoch": 5}, ValueError),
    "steps-per-epoch-0": ("sgd", {"total_steps": None, "epochs": 2, "steps_per_epoch": 0}, ValueError),
    "max-lr-length": ("sgd", {"max_lr": [0.1, 0.1, 0.1]}, ValueError),
    "base-momentum-length": ("sgd", {"base_momentum": [0.8]}, ValueError),
    "max-momentum-length": ("adam", {"max_momentum": (0.9, 0.9, 0.9)}, ValueError),
    "momentumless-optimizer": ("rprop", {}, ValueError),
    "div-factor-0": ("sgd", {"div_factor": 0}, ZeroDivisionError),
    "final-div-factor-0": ("sgd", {"final_div_factor": 0.0}, ZeroDivisionError),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejects_what_torch_rejects_with_the_same_error(case: str) -> None:
    optimizer, args, expected = REJECTED[case]
    kwargs: dict[str, Any] = {"max_lr": 0.1, "total_steps": 10} | args
    ref = trajectory(OneCycleLR, OPTIMIZERS[optimizer], kwargs, 0)
    assert ref[0] == [] and ref[1] is not None and ref[1][0] is expected  # torch rejects it, at construction
    assert trajectory(AnalogOneCycleLR, OPTIMIZERS[optimizer], kwargs, 0) == ref  # same type, same message


def test_not_an_optimizer_is_a_type_error_as_in_torch() -> None:
    for cls in (OneCycleLR, AnalogOneCycleLR):
        with pytest.raises(TypeError, match="list is not an Optimizer"):
            cls([], max_lr=0.1, total_steps=10)  # type: ignore[arg-type]


# -- the one documented difference ----------------------------------------------------------------------------------
def test_past_the_end_torch_raises_analog_holds_and_warns() -> None:
    torch_opt, analog_opt = fixture_opt(), fixture_opt()
    ref = OneCycleLR(torch_opt, max_lr=0.1, total_steps=4)
    ours = AnalogOneCycleLR(analog_opt, max_lr=0.1, total_steps=4)
    for _ in range(3):
        for opt, sched in ((torch_opt, ref), (analog_opt, ours)):
            opt.step()
            sched.step()
    assert trajectory_now(analog_opt) == trajectory_now(torch_opt)
    final = trajectory_now(torch_opt)  # step 3 of 0..3: the last one a run trains with
    assert final[0][0][1] == pytest.approx(0.1 / 25 / 1e4)  # (type, value) of group 0's LR
    for opt, sched in ((torch_opt, ref), (analog_opt, ours)):
        opt.step()
        sched.step()
    # stepped to total_steps, as a run does after its last batch: torch extrapolates its cosine back up (its linear
    # anneal would go below zero); ours holds the final step's LR and momentum
    assert trajectory_now(analog_opt) == final
    assert trajectory_now(torch_opt)[0][0][1] > 100 * final[0][0][1]
    torch_opt.step()
    with pytest.raises(ValueError, match=r"Tried to step 5 times\. The specified number of total steps is 4"):
        ref.step()
    final = trajectory_now(analog_opt)
    analog_opt.step()
    with pytest.warns(RuntimeWarning, match="stepped past its 4 total steps; holding the final LR"):
        ours.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analog_opt.step()
        ours.step()  # warned once only
    assert trajectory_now(analog_opt) == final


def trajectory_now(opt: Optimizer) -> list[Any]:
    return [(snap(g["lr"]), snap(g.get("momentum"))) for g in opt.param_groups]


def test_epoch_argument_to_step_warns_as_in_torch() -> None:
    for cls in (OneCycleLR, AnalogOneCycleLR):
        opt = fixture_opt()
        sched = cls(opt, max_lr=0.1, total_steps=10)
        opt.step()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step(3)
        assert [str(w.message) for w in caught] == [EPOCH_DEPRECATION_WARNING]
        assert sched.last_epoch == 3
