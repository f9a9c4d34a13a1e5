"""The batched forward/backward of pulsed CPU tiles (the ``batched`` aihwkit build) against aihwkit's looped one, under
one seed: outputs agree to float rounding before quantization, and quantized outputs differ only where a value sits on
an ADC step (each such element by exactly one step). Skipped on a build without the batched path."""

from __future__ import annotations

import copy

import pytest
import torch

from aihwkit_sc import presets, seeding

pytestmark = pytest.mark.skipif(not seeding.switchable(), reason="this aihwkit has no batched forward/backward "
                                "(scripts/aihwkit_wheel.sh batched builds it)")

SEED = 1234


@pytest.fixture(autouse=True)
def _restore_path() -> object:
    from aihwkit.simulator import rpu_base

    before = rpu_base.get_looped_matrix()
    yield
    rpu_base.set_looped_matrix(before)


def gokmen_vlasov(exact_io: bool = False) -> object:
    config = presets.get("gokmen-vlasov").rpu_config()
    if exact_io:  # no output noise, no DAC/ADC quantization: what differs is the summation order
        for io in (config.forward, config.backward):
            io.out_noise, io.inp_res, io.out_res = 0.0, -1, -1
    return config


def layers(config: object) -> dict[str, tuple[torch.nn.Module, torch.Tensor, torch.Tensor]]:
    from aihwkit.nn import AnalogConv2d, AnalogLinear

    torch.manual_seed(0)
    linear = AnalogLinear(256, 64, bias=False, rpu_config=config)
    conv = AnalogConv2d(3, 8, 5, bias=False, rpu_config=config)
    return {"linear": (linear, torch.rand(512, 256) * 2 - 1, torch.randn(512, 64)),
            "conv": (conv, torch.rand(16, 3, 16, 16), torch.randn(16, 8, 12, 12))}


def forward_backward(layer: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor, looped: bool
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    from aihwkit.simulator import rpu_base

    layer = copy.deepcopy(layer)
    rpu_base.set_looped_matrix(looped)
    rpu_base.set_global_random_seed(SEED)
    for index, tile in enumerate(layer.analog_tiles()):
        tile.tile.set_random_seed(SEED + index)
    x = x.clone().requires_grad_(True)
    y = layer(x)
    y.backward(grad)
    assert x.grad is not None
    return y.detach(), x.grad.detach()


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_without_quantization_and_noise_the_paths_differ_by_float_rounding_only(kind: str) -> None:
    layer, x, grad = layers(gokmen_vlasov(exact_io=True))[kind]
    y_loop, g_loop = forward_backward(layer, x, grad, looped=True)
    y_batch, g_batch = forward_backward(layer, x, grad, looped=False)
    for loop, batch in ((y_loop, y_batch), (g_loop, g_batch)):
        scale = loop.abs().max().item()
        assert (loop - batch).abs().max().item() <= 1e-5 * scale
        assert not torch.equal(loop, torch.zeros_like(loop))
    assert torch.equal(forward_backward(layer, x, grad, looped=True)[0], y_loop)  # the looped path repeats


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_with_the_presets_noise_and_adc_the_paths_differ_only_by_single_adc_steps(kind: str) -> None:
    config = gokmen_vlasov()
    layer, x, grad = layers(config)[kind]
    y_loop, g_loop = forward_backward(layer, x, grad, looped=True)
    y_batch, g_batch = forward_backward(layer, x, grad, looped=False)
    # the same random draws in the same order: identical but for elements on an ADC boundary, one step each
    differing = (y_loop != y_batch)
    assert int(differing.sum()) <= max(2, y_loop.numel() // 10_000)
    if differing.any():
        io = config.forward  # type: ignore[attr-defined]
        if kind == "linear":
            nm = x.abs().amax(dim=1, keepdim=True).expand_as(y_loop)
        else:
            nm = torch.nn.functional.unfold(x, 5).abs().amax(dim=1).view(16, 1, 12, 12).expand_as(y_loop)
        steps = (y_loop - y_batch).abs()[differing] / (io.out_res * 2 * io.out_bound * nm[differing])
        assert torch.allclose(steps, torch.ones_like(steps), atol=1e-3)
    assert int((g_loop != g_batch).sum()) <= max(2, g_loop.numel() // 10_000)
    # and the noise is real: another seed changes most outputs
    from aihwkit.simulator import rpu_base

    rpu_base.set_global_random_seed(SEED + 99)
    other = copy.deepcopy(layer)
    for index, tile in enumerate(other.analog_tiles()):
        tile.tile.set_random_seed(SEED + 99 + index)
    rpu_base.set_looped_matrix(False)
    with torch.no_grad():
        assert float((other(x) != y_batch).float().mean()) > 0.5


def test_the_environment_switch_picks_the_looped_path_in_a_new_process() -> None:
    import os
    import subprocess
    import sys

    code = "from aihwkit_sc import seeding; print(seeding.matrix_path(), seeding.build_label())"
    for value, path in (("1", "looped"), ("0", "batched"), ("", "batched")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "AIHWKIT_LOOPED_MATRIX": value}).stdout.split(None, 1)
        assert out[0] == path
        assert ("looped forward/backward" in out[1]) == (path == "looped")


def test_training_steps_of_an_analog_lenet5_are_identical_on_both_paths_until_a_flip() -> None:
    """Under one seed, an epoch of 4 training batches of Gokmen-Vlasov LeNet-5 (forward, backward, pulsed update; the
    training loop's own seeding) leaves the same weights and metrics on both paths, and the trained model gives the
    same logits: the paths part only where a rounding flip crosses an ADC step, which is rare enough that these
    steps see none (the run is deterministic, so this holds or fails every time)."""
    from aihwkit.simulator import rpu_base

    from aihwkit_sc.training import Run, TrainConfig, train_epoch

    config = TrainConfig(preset="gokmen-vlasov", schedule="constant", lr=0.05, limit=256, batch_size=64, epochs=1,
                         seed=3)
    weights, metrics, logits = {}, {}, {}
    x = torch.rand(32, 1, 28, 28)
    for looped in (True, False):
        rpu_base.set_looped_matrix(looped)
        run = Run(config)
        row = train_epoch(run, 1, None, quiet=True)
        metrics[looped] = {k: v for k, v in row.items() if k not in ("wall_time_s", "samples_per_s")}
        weights[looped] = torch.cat([t.get_weights()[0].flatten() for t in run.model.analog_tiles()])
        run.model.eval()
        seeding.seed_tiles(run.model, 3, 2)
        with torch.no_grad():
            logits[looped] = run.model(x)
    assert torch.equal(weights[True], weights[False])
    assert metrics[True] == metrics[False] and metrics[True]["train_loss"] > 0
    assert torch.equal(logits[True], logits[False])
