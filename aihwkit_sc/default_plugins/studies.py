"""Built-in studies, registered through the ``register_studies`` hook like any plugin's.

They are the scripts in the repository's ``benchmarks/`` folder (each a ``main(argv)``), so they run from a clone
of the repository (``make install`` installs aihwkit-sc from it in editable mode), not from an installed wheel.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aihwkit_sc.hookspecs import Register, hookimpl

BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "benchmarks"

STUDIES = {
    "ablation": ("study_ablation.py", "Does the one-cycle shape help at the same per-layer device LR? Tuned on "
                 "validation, paired seeds (docs/results/ablation.md)."),
    "xd-refresh": ("study_xd_refresh.py", "A device LR that follows x·d (xd_refresh epoch/step) against the "
                   "first batch's, tuned per arm, paired seeds (docs/results/xd-refresh.md)."),
    "pulse-pick": ("study_pulse_pick.py", "Does the range test (device pulses on analog layers) find the "
                   "validation-tuned peak? Paired seeds, Holm (docs/results/pulse-pick.md)."),
    "builds": ("study_builds.py", "aihwkit build variants: analog training speed and sameness, paired seeds "
               "(docs/results/aihwkit-builds.md)."),
    "superconvergence": ("study_superconvergence.py", "Epochs each schedule needs to reach a long, tuned "
                         "reference, per device and network; paired seeds, Holm (docs/results/superconvergence.md)."),
    "table1": ("study_table1.py", "The poster's Table 1, MNIST rows, on mnist-5k at 1/5 of its epochs, beside the "
               "poster's numbers, plus the step rows at the range test's LR (docs/results/table1-mnist5k.md)."),
    "batched": ("study_batched.py", "Batched against looped forward/backward of pulsed tiles: paired-seed training "
                "(docs/results/batched-fidelity.md)."),
    "backward-signal": ("study_backward_signal.py", "How much of the error signal survives an analog backward "
                        "pass, per layer, with and without weight mapping (docs/results/backward-signal.md)."),
}


def script_main(script: str) -> Callable[[list[str]], None]:
    """``main(argv)`` of ``benchmarks/<script>``, loaded when the study runs (one line when there is no clone)."""

    def main(argv: list[str]) -> None:
        path = BENCHMARKS / script
        if not path.is_file():
            raise FileNotFoundError(f"the built-in studies run from a clone of the aihwkit-sc repository: {path} "
                                    "is not there (pip installs the library without benchmarks/)")
        if str(BENCHMARKS) not in sys.path:
            sys.path.insert(0, str(BENCHMARKS))  # the scripts import their helpers (variants.py) from there
        spec = importlib.util.spec_from_file_location(f"aihwkit_sc_study_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and pickling look a class's module up by name
        spec.loader.exec_module(module)
        module.main(list(argv))

    return main


@hookimpl
def register_studies(register: Register) -> None:
    for name, (script, description) in STUDIES.items():
        register(name, script_main(script), description=description)


@hookimpl
def register_kinds(register: Any) -> None:
    def validate(name: str, obj: Any, extra: dict[str, Any]) -> None:  # main(argv) -> None
        if not callable(obj):
            raise TypeError(f"study {name!r}: expected a callable, got {type(obj).__name__}")

    register("study", hook="register_studies", validate=validate, plural="studies")
