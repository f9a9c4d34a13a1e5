"""Same seed, same analog run: aihwkit's C++ generators seeded from the run's seed (the seeded aihwkit build that
``make install`` makes), per tile and per epoch, stable across resume; and the stock-build fallback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from aihwkit_sc import build, devices, rundir, seeding
from aihwkit_sc.training import TrainConfig, TrainingStopped, train

TIMING = {"wall_time_s", "samples_per_s"}


def gv_run(**kwargs: Any) -> TrainConfig:
    """LeNet-5 on Gokmen-Vlasov at toy size: stochastic pulses, cycle-to-cycle noise and I/O noise all on."""
    defaults: dict[str, Any] = {"preset": "gokmen-vlasov", "epochs": 2, "limit": 192, "batch_size": 32,
                                "schedule": "constant", "seed": 3}
    return TrainConfig(**(defaults | kwargs))


def metrics_lines(out: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING}
            for line in (out / "metrics.jsonl").read_text().splitlines()]


def tile_weights(out: Path) -> list[torch.Tensor]:
    """The analog weights the run ended with, read back from its checkpoint into a fresh model."""
    state = rundir.read_checkpoint(out / "checkpoint.pt")
    model = build("lenet5", preset="gokmen-vlasov")
    devices.load_state(model, state["model"])
    return [tile.get_weights()[0] for tile in devices.tiles(model)]


def test_this_install_is_the_seeded_build() -> None:
    """``make install`` builds aihwkit with the seed patch; without it the tests below could not hold."""
    assert seeding.build_kind() == "seeded" and seeding.seedable()


def test_derived_seeds_are_stable_distinct_and_never_zero() -> None:
    seeds = {seeding.derive(seed, seeding.EPOCH, epoch, tile) for seed in range(3) for epoch in range(4)
             for tile in range(5)}
    assert len(seeds) == 60 and 0 not in seeds and all(0 < s < 2**32 for s in seeds)
    assert seeding.derive(7, 1, 2) == seeding.derive(7, 1, 2) == 1734722684  # pinned: changing it changes every run


def noisy_tile_steps(tile: Any, seed: int) -> torch.Tensor:
    """Three noisy forwards and pulsed updates of C++ tile ``tile`` after ``tile.set_random_seed(seed)``: the outputs
    and the weights it ends with."""
    tile.set_random_seed(seed)
    x = torch.linspace(-1, 1, 4 * tile.get_x_size()).reshape(4, -1)
    d = torch.linspace(-1, 1, 4 * tile.get_d_size()).reshape(4, -1)
    outputs = []
    for _ in range(3):
        outputs.append(tile.forward(x, False))
        tile.update(x, d, False)
    return torch.cat([torch.stack(outputs).flatten(), tile.get_weights().flatten()])


def test_a_seeded_tile_repeats_its_noisy_forward_and_pulsed_update() -> None:
    tile = devices.tiles(build("lenet5", preset="gokmen-vlasov"))[0].tile
    tile.set_learning_rate(0.5)
    start = tile.get_weights().clone()
    twin = copy.deepcopy(tile)  # a copy shares its original's generators until it is seeded (the patch re-attaches)
    first = noisy_tile_steps(tile, 1)
    assert not torch.equal(first[:4 * tile.get_d_size()], first[4 * tile.get_d_size():8 * tile.get_d_size()])
    assert torch.equal(noisy_tile_steps(twin, 1), first)
    tile.set_weights(start)
    assert torch.equal(noisy_tile_steps(tile, 1), first)
    tile.set_weights(start)
    assert not torch.equal(noisy_tile_steps(tile, 2), first)


@pytest.mark.slow
def test_same_seed_gives_bit_identical_gv_runs_and_another_seed_does_not(tmp_path: Path) -> None:
    runs = {name: tmp_path / name for name in ("a", "b", "other")}
    train(gv_run(), runs["a"], quiet=True)
    train(gv_run(), runs["b"], quiet=True)
    train(gv_run(seed=4), runs["other"], quiet=True)
    assert metrics_lines(runs["a"]) == metrics_lines(runs["b"])
    assert all(torch.equal(u, v) for u, v in zip(tile_weights(runs["a"]), tile_weights(runs["b"]), strict=True))
    assert metrics_lines(runs["a"]) != metrics_lines(runs["other"])
    assert not all(torch.equal(u, v) for u, v in zip(tile_weights(runs["a"]), tile_weights(runs["other"]),
                                                     strict=True))


@pytest.mark.slow
def test_without_the_seeding_the_same_seed_gives_different_gv_runs(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What the seeding fixes: the clock-seeded generators of a stock aihwkit make two runs of one seed differ
    (so the identity above is the seeding's doing, not a property of the toy run)."""
    monkeypatch.setattr(seeding, "seedable", lambda: False)
    monkeypatch.setattr(seeding, "build_kind", lambda: "stock")
    monkeypatch.setattr(seeding, "_warned", False)
    for name in ("a", "b"):
        train(gv_run(epochs=1), tmp_path / name, quiet=True)
    a, b = tile_weights(tmp_path / "a"), tile_weights(tmp_path / "b")
    assert max(float((u - v).abs().max()) for u, v in zip(a, b, strict=True)) > 1e-4


@pytest.mark.slow
def test_resume_continues_the_same_sequence_as_an_uninterrupted_run(tmp_path: Path) -> None:
    train(gv_run(epochs=3), tmp_path / "whole", quiet=True)

    def stop_after_first(row: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(TrainingStopped):
        train(gv_run(epochs=3), tmp_path / "resumed", quiet=True, on_epoch=stop_after_first)
    assert len(metrics_lines(tmp_path / "resumed")) == 1
    train(gv_run(epochs=3), tmp_path / "resumed", resume=True, quiet=True)
    assert metrics_lines(tmp_path / "resumed") == metrics_lines(tmp_path / "whole")
    assert all(torch.equal(u, v) for u, v in zip(tile_weights(tmp_path / "resumed"), tile_weights(tmp_path / "whole"),
                                                 strict=True))


def test_a_stock_aihwkit_trains_and_says_once_that_runs_repeat_only_statistically(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(seeding, "seedable", lambda: False)
    monkeypatch.setattr(seeding, "build_kind", lambda: "stock")
    monkeypatch.setattr(seeding, "_warned", False)
    model = build("lenet5", preset="gokmen-vlasov")
    assert seeding.seed_global(0) is False
    assert seeding.seed_tiles(model, 0, 0) is False
    assert seeding.seed_tiles(model, 0, 1) is False
    err = capsys.readouterr().err
    assert err.count("analog runs repeat only statistically") == 1 and "make install" in err
    assert seeding.seed_tiles(build("lenet5"), 0, 0) is False  # a digital model: nothing to seed, nothing said
    assert capsys.readouterr().err == ""


def test_the_build_variant_make_install_recorded_is_read_only_for_the_aihwkit_it_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import aihwkit

    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(aihwkit, "__file__", str(tmp_path / "lib" / "aihwkit" / "__init__.py"))
    monkeypatch.setattr(seeding, "switchable", lambda: False)
    assert seeding.installed_variant() is None  # no record: installed another way
    (tmp_path / ".aihwkit-wheel").write_text("fastrand " + "0" * 64 + "\n")
    assert seeding.installed_variant() == "fastrand"
    assert seeding.build_label() == "seeded (fastrand build)"
    monkeypatch.setattr(aihwkit, "__file__", "/elsewhere/aihwkit/__init__.py")  # e.g. a variant on PYTHONPATH
    assert seeding.installed_variant() is None and seeding.build_label() == "seeded"
    (tmp_path / ".aihwkit-wheel").write_text("0" * 64 + "\n")  # the record of an older installer: no variant
    monkeypatch.setattr(aihwkit, "__file__", str(tmp_path / "lib" / "aihwkit" / "__init__.py"))
    assert seeding.installed_variant() is None


@pytest.mark.parametrize(("variant", "switch", "path", "label"), [
    ("batched", True, "batched", "seeded (batched build)"),
    ("batched", True, "looped", "seeded (batched build, looped forward/backward)"),  # AIHWKIT_LOOPED_MATRIX=1
    ("fastrand", False, "looped", "seeded (fastrand build)"),  # no batched path: nothing to say
    (None, True, "batched", "seeded (batched forward/backward)"),  # a batched wheel first on PYTHONPATH
    (None, True, "looped", "seeded (looped forward/backward)"),
    (None, False, "looped", "seeded"),
])
def test_the_build_label_says_which_matrix_path_ran_where_the_variant_does_not(
        variant: str | None, switch: bool, path: str, label: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seeding, "installed_variant", lambda: variant)
    monkeypatch.setattr(seeding, "switchable", lambda: switch)
    monkeypatch.setattr(seeding, "matrix_path", lambda: path)
    assert seeding.build_label() == label


def test_the_matrix_path_follows_the_switch_of_a_batched_build() -> None:
    from aihwkit.simulator import rpu_base

    if not hasattr(rpu_base, "set_looped_matrix"):
        assert seeding.matrix_path() == "looped" and not seeding.switchable()  # aihwkit as published loops
        return
    assert seeding.switchable()
    before = rpu_base.get_looped_matrix()
    try:
        rpu_base.set_looped_matrix(True)
        assert seeding.matrix_path() == "looped"
        rpu_base.set_looped_matrix(False)
        assert seeding.matrix_path() == "batched"
    finally:
        rpu_base.set_looped_matrix(before)


def test_a_run_summary_says_which_aihwkit_made_it(tmp_path: Path) -> None:
    result = train(TrainConfig(epochs=1, limit=64, batch_size=32, schedule="constant"), tmp_path, quiet=True)
    assert result.summary["aihwkit_build"] == seeding.build_label()
    assert json.loads((tmp_path / "summary.json").read_text())["aihwkit_build"].startswith("seeded")


def test_the_set_up_measures_the_same_xd_in_any_process_state() -> None:
    """The first run in a process measured a different x·d (and so a different device LR) than the next runs with
    the same seed: a freshly built tile's generators depended on what the process had done before."""
    from aihwkit_sc.training import Run, TrainConfig

    config = TrainConfig(preset="gokmen-vlasov", schedule="constant", epochs=1, limit=64, batch_size=32, seed=5,
                         schedule_options={"lr": 0.1, "analog_lr": "device"})
    code = ("from aihwkit_sc.training import Run, TrainConfig; import json; c = TrainConfig(**json.loads(input())); "
            "print(json.dumps(Run(c).schedule_options['xd_product']))")
    import json
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", code], input=json.dumps(config.to_json()), capture_output=True,
                           text=True, timeout=300, check=True)
    first, second = Run(config).schedule_options["xd_product"], Run(config).schedule_options["xd_product"]
    assert first == second == json.loads(fresh.stdout)
