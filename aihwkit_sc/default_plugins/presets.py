"""Built-in device presets: the poster's three (pytorch, semi-ideal, gokmen-vlasov) and all of aihwkit's.

aihwkit's presets are discovered from ``aihwkit.simulator.presets`` (every exported RPU configuration class) and
named in kebab-case (``TikiTakaEcRamPreset`` -> ``tiki-taka-ecram``), so a new aihwkit release's presets appear
without a code change here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aihwkit_sc.hookspecs import Register, hookimpl

# Word pieces of aihwkit's class names, longest first, with the spelling we use.
_PIECES = [
    ("ChoppedTTv2", "c-ttv2"), ("TTv2", "ttv2"), ("TikiTaka", "tiki-taka"), ("AGAD", "agad"),
    ("MixedPrecision", "mixed-precision"), ("ReRamArray", "reram-array"), ("ReRamES", "reram-es"),
    ("ReRamSB", "reram-sb"), ("EcRamMO", "ecram-mo"), ("EcRam", "ecram"), ("GokmenVlasov", "gokmen-vlasov"),
    ("StandardHWATraining", "standard-hwa-training"), ("FloatingPoint", "floating-point"), ("PCM", "pcm"),
    ("HfO2", "hfo2"), ("OM", "om"),
]


def kebab_name(class_name: str) -> str:
    """``TikiTakaEcRamPreset`` -> ``tiki-taka-ecram``; ``ReRamES2Preset`` -> ``reram-es-2``."""
    rest = re.sub(r"(Preset(Device)?)$", "", class_name)
    parts: list[str] = []
    while rest:
        for piece, spelled in _PIECES:
            if rest.startswith(piece):
                parts.append(spelled)
                rest = rest[len(piece):]
                break
        else:
            match = re.match(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", rest)
            token = match.group(0) if match else rest[0]
            parts.append(token.lower())
            rest = rest[len(token):]
    return "-".join(parts)


def _doc(obj: Any) -> str:
    lines = (obj.__doc__ or "").strip().splitlines()
    return lines[0].rstrip(".") if lines else ""


def _semi_ideal() -> Any:
    from aihwkit.simulator.presets import GokmenVlasovPreset

    from aihwkit_sc.presets import remove_cycle_to_cycle

    return remove_cycle_to_cycle(GokmenVlasovPreset())


def _floating_point_tile() -> Any:
    from aihwkit.simulator.configs import FloatingPointRPUConfig

    return FloatingPointRPUConfig()


def _single_device(device_cls: type) -> Callable[[], Any]:
    def factory() -> Any:
        from aihwkit.simulator.configs import SingleRPUConfig
        from aihwkit.simulator.presets.utils import PresetIOParameters, PresetUpdateParameters

        return SingleRPUConfig(device=device_cls(), forward=PresetIOParameters(), backward=PresetIOParameters(),
                               update=PresetUpdateParameters())

    return factory


@hookimpl
def register_presets(register: Register) -> None:
    register("pytorch", None, aliases=["n", "normal", "digital"],
             description="plain digital torch layers, no aihwkit tiles (the poster's 'Normal PyTorch')")
    register("semi-ideal", _semi_ideal, aliases=["si"],
             description="Gokmen-Vlasov without cycle-to-cycle variation (dw_min_std=0), device-to-device kept")
    register("floating-point-tile", _floating_point_tile, aliases=["fp-tile"],
             description="aihwkit FloatingPointRPUConfig: exact updates through the analog tile path (tile LR, no "
                         "pulses, no noise, no momentum on weights)")

    from aihwkit.simulator import presets as aihwkit_presets
    from aihwkit.simulator.configs.devices import PulsedDevice

    from aihwkit_sc.presets import config_classes

    config_bases = tuple(cls for cls, _ in config_classes())
    for attr in sorted(dir(aihwkit_presets)):
        obj = getattr(aihwkit_presets, attr)
        if not (isinstance(obj, type) and attr.endswith("Preset") and issubclass(obj, config_bases)):
            continue
        name = kebab_name(attr)
        aliases = ["gv"] if name == "gokmen-vlasov" else []
        register(name, obj, aliases=aliases, description=f"aihwkit {attr}: {_doc(obj)}")

    # The ReRAM array devices aihwkit ships without an RPU configuration: a single-device config with the preset
    # I/O and update parameters that every aihwkit single-device preset uses.
    for attr in sorted(dir(aihwkit_presets)):
        obj = getattr(aihwkit_presets, attr)
        if isinstance(obj, type) and attr.startswith("ReRamArray") and issubclass(obj, PulsedDevice):
            register(kebab_name(attr), _single_device(obj),
                     description=f"aihwkit {attr} in a single-device config with preset I/O: {_doc(obj)}")


@hookimpl
def register_kinds(register: Any) -> None:
    def validate(name: str, obj: Any, extra: dict[str, Any]) -> None:  # None, a factory or class, a config, a Preset
        from aihwkit_sc.presets import check_preset_object

        check_preset_object(name, obj)

    register("preset", hook="register_presets", validate=validate)
