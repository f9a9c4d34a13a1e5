"""Self-check that aihwkit's compiled extension works with the torch installed beside it.

aihwkit's C++ core (``aihwkit.simulator.rpu_base``) is compiled against one torch release. A wheel built against
another torch imports fine and only fails on the first layer with ``RuntimeError: Invalid weights dimensions:
expected [3,4] tensor`` (seen with the 1.1.0 wheel and torch 2.14.1). :func:`ensure_aihwkit` runs a tiny analog
tile's set/get-weights round trip once per process (a few milliseconds) and turns any failure into one clear error
that names the versions and the command that rebuilds aihwkit.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass

REQUIRED_AIHWKIT = "1.2.0"
REBUILD_COMMAND = (
    "pip install --no-build-isolation --no-cache-dir --no-binary aihwkit --force-reinstall --no-deps "
    f"aihwkit=={REQUIRED_AIHWKIT}  (or 'make reinstall' in an aihwkit-sc checkout)"
)


class AihwkitUnavailableError(RuntimeError):
    """aihwkit is missing, or its compiled extension does not work with the installed torch."""


@dataclass(frozen=True)
class AbiReport:
    """Outcome of the tile round-trip check."""

    ok: bool
    aihwkit_version: str | None
    torch_version: str | None
    detail: str

    def message(self) -> str:
        """One line: what is wrong and the command that fixes it."""
        if self.ok:
            return f"aihwkit {self.aihwkit_version} works with torch {self.torch_version}"
        if self.aihwkit_version is None:
            return f"aihwkit is not installed ({self.detail}); build it against torch {self.torch_version}: " + (
                REBUILD_COMMAND
            )
        return (
            f"aihwkit {self.aihwkit_version} does not work with torch {self.torch_version} "
            f"({self.detail}); rebuild it against this torch: {REBUILD_COMMAND}"
        )


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _round_trip() -> None:
    """Set and read back the weights of a 3x4 analog tile; raise on any mismatch or error."""
    import torch
    from aihwkit.simulator.configs import SingleRPUConfig
    from aihwkit.simulator.configs.devices import ConstantStepDevice
    from aihwkit.simulator.tiles import AnalogTile

    # No device-to-device spread of the bounds, so no weight of the round trip can be clipped.
    device = ConstantStepDevice(w_min=-1.0, w_max=1.0, w_min_dtod=0.0, w_max_dtod=0.0)
    tile = AnalogTile(3, 4, SingleRPUConfig(device=device))
    expected = torch.linspace(-0.3, 0.3, 12).reshape(3, 4)
    tile.set_weights(expected)
    got = tile.get_weights()[0]
    if tuple(got.shape) != (3, 4) or not torch.allclose(got, expected, atol=1e-6):
        raise RuntimeError(f"tile weights round trip returned {tuple(got.shape)} values that differ from those set")


_cached: AbiReport | None = None


def check_aihwkit(*, refresh: bool = False) -> AbiReport:
    """Run the round-trip check (once per process unless ``refresh``) and report; never raises."""
    global _cached
    if _cached is not None and not refresh:
        return _cached
    torch_version = _version("torch")
    aihwkit_version = _version("aihwkit")
    if aihwkit_version is None:
        report = AbiReport(False, None, torch_version, "no distribution named 'aihwkit'")
    else:
        try:
            _round_trip()
        except Exception as exc:  # any failure of the compiled core is the same problem for the user
            first_line = (str(exc).strip().splitlines() or [""])[0]
            report = AbiReport(False, aihwkit_version, torch_version, f"{type(exc).__name__}: {first_line}")
        else:
            report = AbiReport(True, aihwkit_version, torch_version, "tile set/get weights round trip ok")
    _cached = report
    return report


def ensure_aihwkit() -> None:
    """Raise :class:`AihwkitUnavailableError` unless aihwkit's analog tiles work here. Cheap after the first call."""
    report = check_aihwkit()
    if not report.ok:
        raise AihwkitUnavailableError(report.message())
