"""aihwkit-sc: super-convergence for analog in-memory training with IBM's aihwkit.

Importing the package is cheap: torch and aihwkit load only when a name that needs them is first used
(PEP 562 module ``__getattr__``), so ``aihwkit-sc --help`` answers instantly.
"""

from __future__ import annotations

import importlib
from typing import Any

from aihwkit_sc._version import __version__

# public name -> module that defines it (loaded on first access)
_LAZY = {
    "AihwkitUnavailableError": "aihwkit_sc.abi",
    "check_aihwkit": "aihwkit_sc.abi",
    "ensure_aihwkit": "aihwkit_sc.abi",
    "doctor_report": "aihwkit_sc.doctor",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aihwkit_sc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
