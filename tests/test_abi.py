"""The aihwkit ABI self-check, both ways: it passes on a working build and turns breakage into one clear error."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch
from aihwkit.simulator.tiles import AnalogTile

from aihwkit_sc import abi


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    abi._cached = None
    yield
    abi._cached = None


def test_working_build_passes_and_names_versions() -> None:
    report = abi.check_aihwkit()
    assert report.ok, report.message()
    assert report.aihwkit_version == md.version("aihwkit") == abi.REQUIRED_AIHWKIT
    assert report.torch_version == md.version("torch")
    abi.ensure_aihwkit()  # does not raise


def test_check_runs_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(abi, "_round_trip", lambda: calls.append(1))
    abi.ensure_aihwkit()
    abi.ensure_aihwkit()
    assert calls == [1]
    abi.check_aihwkit(refresh=True)
    assert calls == [1, 1]


def test_abi_broken_extension_gives_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What an aihwkit wheel compiled against another torch raises on its first tile (seen with 1.1.0 here).
    def broken(self: AnalogTile, weights: torch.Tensor, *args: object, **kwargs: object) -> None:
        raise RuntimeError("Invalid weights dimensions: expected [3,4] tensor\nException raised from ...")

    monkeypatch.setattr(AnalogTile, "set_weights", broken)
    with pytest.raises(abi.AihwkitUnavailableError) as info:
        abi.ensure_aihwkit()
    message = str(info.value)
    assert "\n" not in message
    assert f"aihwkit {md.version('aihwkit')}" in message
    assert f"torch {md.version('torch')}" in message
    assert "Invalid weights dimensions" in message
    assert "pip install --no-build-isolation" in message and "make reinstall" in message


def test_silently_wrong_weights_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = AnalogTile.get_weights

    def scrambled(self: AnalogTile, *args: object, **kwargs: object) -> tuple[torch.Tensor, None]:
        weights, bias = original(self, *args, **kwargs)
        return weights.flip(0), bias

    monkeypatch.setattr(AnalogTile, "get_weights", scrambled)
    report = abi.check_aihwkit()
    assert not report.ok
    assert "round trip" in report.detail


def test_missing_aihwkit_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real = md.version

    def version(dist: str) -> str:
        if dist == "aihwkit":
            raise md.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr(abi.md, "version", version)
    with pytest.raises(abi.AihwkitUnavailableError, match=r"^aihwkit is not installed .*--no-build-isolation"):
        abi.ensure_aihwkit()


@pytest.mark.slow
def test_unimportable_extension_in_a_fresh_process() -> None:
    """A compiled core that fails to load (e.g. undefined symbols) surfaces through `aihwkit-sc doctor`."""
    code = (
        "import sys; sys.modules['aihwkit.simulator.rpu_base'] = None\n"
        "from aihwkit_sc.cli import main\n"
        "main(['doctor'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "aihwkit_abi_ok" in proc.stdout
    assert f"aihwkit {md.version('aihwkit')} does not work with torch {md.version('torch')}" in proc.stdout
    assert "PROBLEM" in proc.stdout
