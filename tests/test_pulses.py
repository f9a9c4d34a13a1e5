"""The CPU pulse estimate against a direct count of the pulses aihwkit fires.

A ConstantStep device with no device-to-device or cycle-to-cycle spread, no asymmetry and far bounds moves a weight
by exactly ``dw_min`` per coincidence (``dw_min`` a power of two, weights starting at 0, so float32 sums are exact).
Within one sample, and across identical samples, every coincidence on a cross-point has the same sign, so
``Σ|Δw| / dw_min`` over one optimizer step counts the coincidences directly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from aihwkit_sc.pulses import PulseCounter, coincidences

DW_MIN = 2.0**-10
X = [1.0, -0.5, 0.25]


def _model(pulse_type: str, desired_bl: int, management: bool = True) -> tuple[Any, Any, Any]:
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.configs.devices import ConstantStepDevice
    from aihwkit.simulator.parameters.enums import PulseType

    device = ConstantStepDevice(
        dw_min=DW_MIN, dw_min_dtod=0.0, dw_min_std=0.0, up_down=0.0, up_down_dtod=0.0,
        w_max=1000.0, w_min=-1000.0, w_max_dtod=0.0, w_min_dtod=0.0,
    )
    config = SingleRPUConfig(device=device)
    config.forward.is_perfect = True
    config.backward.is_perfect = True
    config.update.pulse_type = PulseType(pulse_type)
    config.update.desired_bl = desired_bl
    config.update.update_management = management
    config.update.update_bl_management = management
    model = AnalogLinear(3, 2, bias=False, rpu_config=config)
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    optimizer.regroup_param_groups(model)
    return model, optimizer, next(iter(model.analog_tiles()))


def _count(model: Any, optimizer: Any, tile: Any, lr: float, d: list[float], samples: int = 1) -> tuple[float, float]:
    """(direct count from the weight change, the PulseCounter estimate) for ``samples`` copies of (X, d)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    tile.set_weights(torch.zeros(2, 3))
    x = torch.tensor([X] * samples)
    model(x).mul(torch.tensor([d] * samples)).sum().backward()  # the tile's error d is exactly the given d
    counter = PulseCounter()
    counter.observe(optimizer)
    before = tile.get_weights()[0].clone()
    optimizer.step()
    optimizer.zero_grad()
    change = tile.get_weights()[0] - before
    return float(change.abs().sum() / DW_MIN), counter.total


def _old_estimate(lr: float, d: list[float], desired_bl: int) -> float:
    """The estimate before the fix: ``lr·Σ|x|·Σ|d|/dw_min`` scaled down as a whole in saturation."""
    x_abs, d_abs = [abs(v) for v in X], [abs(v) for v in d]
    peak = lr * max(x_abs) * max(d_abs)
    return lr * sum(x_abs) * sum(d_abs) / DW_MIN * min(desired_bl * DW_MIN / peak, 1.0)


# (lr in dw_min units, d): desired_bl 8 and max|x| = max|d| = 1, so k = lr/dw_min; every BL·p_x·p_d is an integer
DETERMINISTIC = {
    "unsaturated": (8.0, [1.0, -0.5], 21.0),  # k = 8 = BL: lr·|x_j|·|d_i|/dw_min, the old rule too
    "saturated, d partly clipped": (16.0, [1.0, -0.25], 21.0),  # p_d = min(1, 2·|d|) = [1, 0.5]
    "saturated, d clipped": (512.0, [1.0, -0.5], 28.0),  # p_d = [1, 1]: every d line fires on all 8 bits
}


@pytest.mark.parametrize("case", list(DETERMINISTIC))
def test_deterministic_count_equals_estimate(case: str) -> None:
    lr_units, d, expected = DETERMINISTIC[case]
    lr = lr_units * DW_MIN
    direct, estimate = _count(*_model("DeterministicImplicit", 8), lr, d)
    assert direct == expected
    assert estimate == pytest.approx(direct, abs=1e-6)
    old = _old_estimate(lr, d, 8)
    if case == "unsaturated":
        assert old == pytest.approx(direct)
    else:  # the old rule scaled the whole update down instead of clipping d
        assert abs(old - direct) >= 3.5


@pytest.mark.parametrize(("lr_units", "expected"), [(8.0, 21.0), (32.0, 40.0)])
def test_deterministic_without_update_management(lr_units: float, expected: float) -> None:
    """BL = desired_bl, p = sqrt(lr/(dw_min·BL))·|v| on both sides, each clipped at 1 (2·|v| at 32 dw_min)."""
    direct, estimate = _count(*_model("DeterministicImplicit", 8, management=False), lr_units * DW_MIN, [1.0, -0.5])
    assert direct == expected
    assert estimate == pytest.approx(direct, abs=1e-6)


def _stochastic_sd(bl: int, p_x: list[float], p_d: list[float]) -> float:
    """Standard deviation of one sample's coincidences: BL independent bits of (Σ Bernoulli p_x)·(Σ Bernoulli p_d)."""
    def moments(ps: list[float]) -> tuple[float, float]:
        mean = sum(ps)
        return mean, sum(p * (1 - p) for p in ps) + mean**2

    mean_x, square_x = moments(p_x)
    mean_d, square_d = moments(p_d)
    return math.sqrt(bl * (square_x * square_d - (mean_x * mean_d) ** 2))


SAMPLES = 2000
# (lr in dw_min units, d, BL, p_d); the default StochasticCompressed pulses, desired_bl 31 as in the presets
STOCHASTIC = {
    "unsaturated": (10.0, [1.0, -0.1], 10, [1.0, 0.1]),  # k = 10: BL = 10, p = |v|
    "saturated": (124.0, [1.0, -0.1], 31, [1.0, 0.4]),  # k = 124 = 4·31: p_x = |x|, p_d = min(1, 4·|d|)
}


@pytest.mark.parametrize("case", list(STOCHASTIC))
def test_stochastic_count_matches_estimate(case: str) -> None:
    lr_units, d, bl, p_d = STOCHASTIC[case]
    lr = lr_units * DW_MIN
    direct, estimate = _count(*_model("StochasticCompressed", 31), lr, d, samples=SAMPLES)
    p_x = [abs(v) for v in X]
    assert estimate == pytest.approx(SAMPLES * bl * sum(p_x) * sum(p_d))
    tolerance = 5 * math.sqrt(SAMPLES) * _stochastic_sd(bl, p_x, p_d)
    assert abs(direct - estimate) < tolerance
    old = SAMPLES * _old_estimate(lr, d, 31)
    if case == "unsaturated":
        assert old == pytest.approx(estimate)
    else:
        assert abs(old - direct) > 10 * tolerance


def test_rule_edge_cases() -> None:
    from aihwkit.simulator.configs import SingleRPUConfig

    update = SingleRPUConfig().update  # StochasticCompressed, desired_bl 31, both managements on
    x = torch.tensor([[0.0, 0.0], [1.0, -0.5], [1.0, 0.5]])
    d = torch.tensor([[1.0], [0.0], [1.0]])
    counts = coincidences(x, d, -0.01, 0.001, update)  # a negative LR counts like a positive one
    assert counts.tolist() == pytest.approx([0.0, 0.0, 15.0])  # k = 10: lr·Σ|x|·Σ|d|/dw_min
    update.pulse_type = type(update.pulse_type)("None")
    assert coincidences(x, d, 0.01, 0.001, update).sum() == 0


def test_layer_telemetry_bit_length_cap_and_pulses_per_row() -> None:
    """Rows of one update with k = 16, 4 and 0 (desired_bl 8): bit lengths 8, 4 and 0, one row in three capped."""
    model, optimizer, tile = _model("DeterministicImplicit", desired_bl=8)
    for group in optimizer.param_groups:
        group["lr"] = 16 * DW_MIN
    x = torch.tensor([X, X, X])
    d = torch.tensor([[1.0, -0.5], [0.25, 0.0], [0.0, 0.0]])
    model(x).mul(d).sum().backward()
    counter = PulseCounter()
    counter.observe(optimizer)
    [layer] = counter.take_layers()
    assert layer["rows"] == 3
    assert layer["bit_length"] == pytest.approx((8 + 4 + 0) / 3)
    assert layer["capped"] == pytest.approx(1 / 3)
    assert layer["pulses_per_row"] == pytest.approx(counter.total / 3)
    # the most-pulsed cross-point of each row: min(k, BL) = 8 (capped), 4 and 0 pulses
    assert layer["peak_pulses"] == pytest.approx((8 + 4 + 0) / 3)
    # the same rows counted directly: the weight change of the step in dw_min units
    before = tile.get_weights()[0].clone()
    optimizer.step()
    assert float((tile.get_weights()[0] - before).abs().sum() / DW_MIN) == pytest.approx(counter.total)
    assert counter.take_layers() == []  # reset after taking


def test_layer_telemetry_without_update_management_is_never_capped() -> None:
    model, optimizer, tile = _model("DeterministicImplicit", desired_bl=8, management=False)
    for group in optimizer.param_groups:
        group["lr"] = 4 * DW_MIN
    model(torch.tensor([X])).mul(torch.tensor([[1.0, -0.5]])).sum().backward()
    counter = PulseCounter()
    counter.observe(optimizer)
    [layer] = counter.take_layers()
    assert (layer["bit_length"], layer["capped"]) == (8.0, 0.0)
    # one row: its most-pulsed cross-point is the largest weight change of the step, in dw_min units
    before = tile.get_weights()[0].clone()
    optimizer.step()
    assert layer["peak_pulses"] == pytest.approx(float((tile.get_weights()[0] - before).abs().max() / DW_MIN))
    assert layer["peak_pulses"] > 0


def test_peak_pulses_fall_below_one_pulse_where_the_bit_length_stays_at_one() -> None:
    """Stochastic trains, both managements on: a row whose ``k = lr·max|x|·max|d|/dw_min`` is 0.25 still has bit
    length 1, but its most-pulsed cross-point fires 0.25 pulses on average; k = 3 gives 3; k = 100 is capped at 31."""
    from aihwkit.simulator.configs import SingleRPUConfig

    from aihwkit_sc.pulses import update_rows

    update = SingleRPUConfig().update  # StochasticCompressed, desired_bl 31
    x = torch.tensor([[1.0, -0.5], [1.0, 0.5], [1.0, 0.25]])
    d = torch.tensor([[0.25, 0.1], [3.0, -1.0], [100.0, 2.0]])
    bl, capped, _, peak = update_rows(x, d, DW_MIN, DW_MIN, update, peak=True)
    assert bl.tolist() == [1.0, 3.0, 31.0] and capped.tolist() == [False, False, True]
    assert peak.tolist() == pytest.approx([0.25, 3.0, 31.0])
    assert len(update_rows(x, d, DW_MIN, DW_MIN, update)) == 3  # without peak: what callers unpack


def test_counts_follow_the_mapped_error_of_a_weight_scaled_tile() -> None:
    """With ``mapping.weight_scaling_omega`` aihwkit stores ``w/α`` and updates with ``d/α``: the counter and the
    measured ``x·d`` follow the error the tile's update takes, so the count equals the conductance change in dw_min."""
    from aihwkit.simulator.configs import MappingParameter

    from aihwkit_sc.schedules.xd import measure_xd_product

    model, optimizer, tile = _model("DeterministicImplicit", desired_bl=64)
    tile.rpu_config.mapping = MappingParameter(weight_scaling_omega=0.5)
    model, optimizer, tile = _rebuilt(model, tile.rpu_config)
    tile.set_weights(torch.tensor([[0.1, -0.05, 0.0], [0.02, 0.0, 0.04]]))
    alpha = float(tile.get_mapping_scales().max())
    assert alpha == pytest.approx(0.1 / 0.5)  # largest |w| 0.1 stored as 0.5
    x, d = torch.tensor([X]), torch.tensor([[0.25, -0.5]])
    xd = measure_xd_product(model, optimizer, x, torch.zeros(1, dtype=torch.long),
                            loss_fn=lambda out, _: out.mul(d).sum())
    assert xd == [pytest.approx(float(x.abs().max()) * 0.5 / alpha)]
    for group in optimizer.param_groups:
        group["lr"] = 4 * DW_MIN
    model(x).mul(d).sum().backward()
    counter = PulseCounter()
    counter.observe(optimizer)
    before = tile.tile.get_weights().clone()  # the conductances (w/α), in the simulator's units
    optimizer.step()
    assert float((tile.tile.get_weights() - before).abs().sum() / DW_MIN) == pytest.approx(counter.total)
    assert counter.total > 0


def _rebuilt(model: Any, config: Any) -> tuple[Any, Any, Any]:
    from aihwkit.nn import AnalogLinear
    from aihwkit.optim import AnalogSGD

    model = AnalogLinear(3, 2, bias=False, rpu_config=config)
    optimizer = AnalogSGD(model.parameters(), lr=0.1)
    optimizer.regroup_param_groups(model)
    return model, optimizer, next(iter(model.analog_tiles()))


@pytest.mark.parametrize("lr", [1e-4, 0.01, 0.3, 5.0])
def test_row_reduction_path_equals_the_element_by_element_rule(lr: float) -> None:
    """The stochastic fast path (row sums, element by element only where a probability exceeds 1) gives the dense
    rule's bit lengths, caps, pulses and peaks, on strided 3-D inputs with a silent row and clipped d sides."""
    from aihwkit.simulator.presets import GokmenVlasovPreset

    from aihwkit_sc.pulses import _dense_update_rows, update_rows

    update = GokmenVlasovPreset().update
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, 50, 30, generator=generator).transpose(0, 1)
    d = torch.randn(8, 50, 20, generator=generator).transpose(0, 1) * 3 * torch.rand(50, 8, 1, generator=generator)
    x[3, 2] = 0
    fast = update_rows(x, d, lr, 0.001, update, peak=True)
    dense = _dense_update_rows(x, d, lr, 0.001, update, peak=True)
    assert torch.equal(fast[0], dense[0]) and torch.equal(fast[1], dense[1]) and torch.equal(fast[3], dense[3])
    torch.testing.assert_close(fast[2], dense[2], rtol=1e-6, atol=0)
    assert float(fast[2][3 * 8 + 2]) == 0.0  # the silent row fires nothing
    if lr >= 0.3:  # saturation: most rows capped, their d sides clipped element by element
        assert float(fast[1].double().mean()) > 0.9
