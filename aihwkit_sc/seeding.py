"""Seed aihwkit's C++ random generators (pulse trains, cycle-to-cycle and write noise, I/O noise) from a run's seed.

aihwkit 1.2.0 seeds these generators from the clock and binds no seed to Python, so the same ``--seed`` gives a
different analog run each time. The aihwkit that ``make install`` builds carries a small patch
(``scripts/patches/aihwkit-1.2.0-seed.patch``) that binds ``tile.set_random_seed(seed)`` on every CPU tile and
``aihwkit.simulator.rpu_base.set_global_random_seed(seed)`` for the process-wide state. With it, training seeds

- the process-wide state before the model is built (:func:`seed_global`), so everything drawn at set-up repeats;
- every tile at the start of every epoch (:func:`seed_tiles`), each from ``(run seed, epoch, tile index)``, so a run
  resumed from a checkpoint at an epoch boundary continues exactly the sequence of an uninterrupted one.

With a stock aihwkit (installed by the user) nothing is seeded: training works as before and says once per process
that analog runs repeat only statistically. ``aihwkit-sc doctor`` reports which build is installed.

CPU tiles draw their pulses and noise from one process-wide stream (the C library's ``rand()``, or aihwkit's fast
generator in the ``fastrand`` and ``batched`` builds; ``make install`` makes ``batched``), so a run repeats exactly
only when its analog work is sequential (aihwkit's OpenMP loops run vector and transfer compounds in parallel: set
``OMP_NUM_THREADS=1`` for those).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from aihwkit_sc import devices

_warned = False

#: the stream names of :func:`derive`: set-up (before the model exists) and the tiles of an epoch
SETUP, EPOCH = 0, 1


def seedable() -> bool:
    """True when the installed aihwkit binds the seed (the patched build); False for a stock aihwkit or none."""
    try:
        from aihwkit.simulator import rpu_base
    except ImportError:
        return False
    return hasattr(rpu_base, "set_global_random_seed") and hasattr(rpu_base.tiles.FloatingPointTile,
                                                                   "set_random_seed")


def build_kind() -> str:
    """``"seeded"`` (the patched aihwkit), ``"stock"`` or ``"missing"``, as ``aihwkit-sc doctor`` reports it."""
    try:
        from aihwkit.simulator import rpu_base  # noqa: F401
    except ImportError:
        return "missing"
    return "seeded" if seedable() else "stock"


def installed_variant() -> str | None:
    """The aihwkit build variant ``make install`` recorded in this environment (``batched``, ``fastrand``, ``seeded``,
    ``stock``, ``native``; see ``scripts/aihwkit_wheel.sh``), or None when aihwkit was installed another way or is
    imported from elsewhere (e.g. a variant put first on ``PYTHONPATH``)."""
    try:
        import aihwkit
    except ImportError:
        return None
    mark = Path(sys.prefix) / ".aihwkit-wheel"
    if not mark.is_file() or not Path(aihwkit.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()):
        return None
    parts = mark.read_text().split()
    return parts[0] if len(parts) == 2 else None


def matrix_path() -> str | None:
    """How the pulsed CPU tiles do a batch's forward and backward: ``"batched"`` (the batched build: one GEMM per
    batch, IO management applied to the whole batch), ``"looped"`` (one matrix-vector product per sample and
    convolution patch: aihwkit as published, or the batched build switched back with ``AIHWKIT_LOOPED_MATRIX=1`` /
    ``rpu_base.set_looped_matrix(True)``), or None without aihwkit."""
    try:
        from aihwkit.simulator import rpu_base
    except ImportError:
        return None
    if not hasattr(rpu_base, "get_looped_matrix"):
        return "looped"
    return "looped" if rpu_base.get_looped_matrix() else "batched"


def switchable() -> bool:
    """True when the installed aihwkit has the batched path and its switch (``rpu_base.set_looped_matrix``)."""
    try:
        from aihwkit.simulator import rpu_base
    except ImportError:
        return False
    return hasattr(rpu_base, "set_looped_matrix")


def build_label() -> str:
    """:func:`build_kind` with the recorded variant and, on a build that has the batched path, which path runs, e.g.
    ``seeded (fastrand build)``, ``seeded (batched build)`` or ``seeded (batched build, looped forward/backward)``;
    what a run's summary records."""
    variant = installed_variant()
    details = [f"{variant} build"] if variant else []
    path = matrix_path()
    if switchable() and not (variant == "batched" and path == "batched"):  # the path, where the variant is silent
        details.append(f"{path} forward/backward")
    return build_kind() + (f" ({', '.join(details)})" if details else "")


def derive(seed: int, *keys: int) -> int:
    """A non-zero 32-bit seed for stream ``keys`` of run seed ``seed`` (NumPy's ``SeedSequence``: distinct keys give
    independent streams; aihwkit reads 0 as "seed from the clock", so 0 is never returned)."""
    value = int(np.random.SeedSequence([seed % 2**63, *keys]).generate_state(1, np.uint32)[0])
    return value or 1


def _say_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        print("note: this aihwkit cannot be seeded (a stock build), so analog runs repeat only statistically; "
              "'make install' builds the seeded one", file=sys.stderr)


def seed_global(seed: int) -> bool:
    """Seed aihwkit's process-wide random state for run ``seed`` (before the model is built). Returns whether it could
    (a stock aihwkit cannot; :func:`seed_tiles` says so once the model turns out to be analog)."""
    if not seedable():
        return False
    from aihwkit.simulator import rpu_base

    rpu_base.set_global_random_seed(derive(seed, SETUP))
    return True


def seed_setup(model: nn.Module, seed: int) -> bool:
    """Seed every tile's generators for the run's set-up (the x·d measurement, a range test) from ``seed`` alone: a
    freshly built tile's generators otherwise depend on what the process did before (the first run in a process
    measured a different x·d than the next ones with the same seed)."""
    tiles = devices.tiles(model)
    if not tiles or not seedable():
        return False
    for index, tile in enumerate(tiles):
        inner = cpp_tile(tile)
        if inner is not None and hasattr(inner, "set_random_seed"):
            inner.set_random_seed(derive(seed, SETUP, index + 1))
    return True


def cpp_tile(tile: Any) -> Any:
    """The C++ simulator tile inside an aihwkit tile module (``None`` when it has none)."""
    return getattr(tile, "tile", None)


def seed_tiles(model: nn.Module, seed: int, epoch: int) -> bool:
    """Reseed every generator of every tile of ``model`` for ``epoch`` of run ``seed``. Returns whether the tiles
    were seeded (False for a digital model or a stock aihwkit, which says so once)."""
    tiles = devices.tiles(model)
    if not tiles:
        return False
    if not seedable():
        _say_once()
        return False
    from aihwkit.simulator import rpu_base

    # the global state first: generators that tiles create later (lazily) then take seeds derived from it
    rpu_base.set_global_random_seed(derive(seed, EPOCH, epoch))
    for index, tile in enumerate(tiles):
        inner = cpp_tile(tile)
        if inner is not None and hasattr(inner, "set_random_seed"):
            inner.set_random_seed(derive(seed, EPOCH, epoch, index + 1))
    return True
