"""Named device presets: ``pytorch`` (digital), ``semi-ideal``, ``gokmen-vlasov`` and every aihwkit preset.

>>> from aihwkit_sc import presets
>>> presets.get("gv").rpu_config()            # a fresh aihwkit GokmenVlasovPreset each call
>>> presets.get("reram-es:no-c2c")            # any pulsed preset without cycle-to-cycle variation
>>> presets.describe("semi-ideal")            # dw_min, states, spreads, I/O resolution and noise

Presets come from plugins (:func:`aihwkit_sc.hookspecs.register_presets`); the built-ins are registered by
:mod:`aihwkit_sc.default_plugins.presets` through that same hook.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from aihwkit_sc.abi import ensure_aihwkit
from aihwkit_sc.devices import pulsed_devices
from aihwkit_sc.plugins import registry

NO_C2C_SUFFIX = ":no-c2c"
OMEGA_MODIFIER = "omega="  # NAME:omega=0.6 maps each tile's weights so their largest |w| is 0.6 (aihwkit's mapping)
# Device fields that are cycle-to-cycle (per-pulse) variation in aihwkit 1.2.0's pulsed devices. ExpStepDevice's
# dw_min_std_add / dw_min_std_slope only scale dw_min_std, so zeroing dw_min_std removes that noise too.
# Device-to-device fields (*_dtod, reference_std) are sampled once per tile and are kept.
CYCLE_TO_CYCLE_FIELDS = ("dw_min_std", "write_noise_std")

KINDS = ("digital", "floating-point", "pulsed", "compound", "transfer", "mixed-precision", "inference")
ERROR_KIND = "error"  # what listings show as the kind of a preset whose factory fails


class PresetBuildError(RuntimeError):
    """A preset's factory raised or returned something that is not an aihwkit RPU configuration.

    The message is one line naming the preset and the plugin that registered it; the factory's exception is the
    ``__cause__``.
    """


@dataclass(frozen=True)
class Preset:
    """A named device configuration.

    Args:
        name: canonical kebab-case name.
        factory: returns a fresh aihwkit RPU configuration; ``None`` for plain digital torch layers.
        description: one line for listings.
        aliases: other accepted names.
        cycle_to_cycle: ``False`` strips cycle-to-cycle variation (:data:`CYCLE_TO_CYCLE_FIELDS`) from every pulsed
            device of the configuration, keeping device-to-device variation: semi-ideal is Gokmen-Vlasov so.
        plugin: the plugin that registered it.
        seed: fixes aihwkit's device-to-device draws (``construction_seed = 1 + seed``; aihwkit's 0 means the
            clock); ``None`` leaves the configuration's own. A run resolves its preset once, as
            ``presets.get(name).seeded(seed)``, and hands that object on.
        omega: aihwkit's ``mapping.weight_scaling_omega``: each tile stores its weights scaled so the largest
            ``|w|`` is ``omega`` (a digital output scale undoes it), using the device's conductance range instead of
            the few states a small initial weight spans; ``None`` keeps the configuration's own (0, no scaling, in
            aihwkit's training presets). aihwkit's VGG-8 example trains Gokmen-Vlasov with 0.6.
    """

    name: str
    factory: Callable[[], Any] | None
    description: str = ""
    aliases: tuple[str, ...] = ()
    cycle_to_cycle: bool = True
    plugin: str = "?"
    seed: int | None = None
    omega: float | None = None
    _kind: list[str] = field(default_factory=list, repr=False, compare=False)  # memo for `kind`

    @property
    def digital(self) -> bool:
        """True for plain torch layers (no aihwkit tiles at all)."""
        return self.factory is None

    def rpu_config(self) -> Any:
        """A fresh aihwkit RPU configuration (``None`` for a digital preset); changing it never changes the next."""
        if self.factory is None:
            return None
        ensure_aihwkit()
        failed = f"preset {self.name!r} (plugin {self.plugin!r}) failed to build its RPU configuration"
        try:
            config = self.factory()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a plugin's factory: any failure, SystemExit included, is the preset's
            lines = str(exc).strip().splitlines()
            raise PresetBuildError(f"{failed}: {type(exc).__name__}" + (f": {lines[0]}" if lines else "")) from exc
        if not is_dataclass(config) or not hasattr(config, "device"):
            raise PresetBuildError(f"{failed}: it returned {type(config).__name__}, not an aihwkit RPU configuration")
        config = config if self.cycle_to_cycle else remove_cycle_to_cycle(config)
        if self.omega is not None:
            config = with_weight_scaling(config, self.omega, self.name)
        if self.seed is not None:
            for device in [*pulsed_devices(config), config.device]:
                if hasattr(device, "construction_seed"):
                    # aihwkit takes an unsigned 32-bit seed and reads 0 as "the clock": 1 + seed for seeds below
                    # 2**32 - 1 (the runs so far), every larger one folded into [1, 2**32 - 1]
                    device.construction_seed = 1 + self.seed % (2**32 - 1)
        return config

    def seeded(self, seed: int) -> Preset:
        """This preset with its device-to-device draws fixed by ``seed``."""
        return replace(self, seed=seed, _kind=[])

    @property
    def kind(self) -> str:
        """One of :data:`KINDS`: how the preset's weights learn."""
        if not self._kind:
            self._kind.append(config_kind(self.rpu_config()))
        return self._kind[0]

    def without_cycle_to_cycle(self) -> Preset:
        """This preset with cycle-to-cycle variation removed (as semi-ideal is of Gokmen-Vlasov)."""
        if self.digital or not any(True for _ in pulsed_devices(self.rpu_config())):
            raise ValueError(
                f"preset {self.name!r} has no pulsed devices: '{NO_C2C_SUFFIX}' applies to pulsed presets "
                "such as 'gokmen-vlasov' or 'reram-es'"
            )
        if not self.cycle_to_cycle:
            return self
        return Preset(self.name + NO_C2C_SUFFIX, self.factory, self.description + " (no cycle-to-cycle variation)",
                      (), False, self.plugin, self.seed, self.omega)

    def with_omega(self, omega: float) -> Preset:
        """This preset with its tiles' weights mapped so the largest ``|w|`` is ``omega`` (see ``omega``)."""
        if self.digital:
            raise ValueError(f"preset {self.name!r} is digital: '{OMEGA_MODIFIER}' maps analog tiles' weights; "
                             "use it on an analog preset such as 'gokmen-vlasov:omega=0.6'")
        if not (math.isfinite(omega) and omega > 0):
            raise ValueError(f"preset {self.name!r}: omega must be a positive number (the largest |w| a tile stores, "
                             f"e.g. 0.6), got {omega!r}")
        with_weight_scaling(self.rpu_config(), omega, self.name)  # a configuration without a mapping fails here
        return replace(self, name=f"{self.name}:{OMEGA_MODIFIER}{omega:g}",
                       description=f"{self.description} (weights mapped to |w| <= {omega:g})", aliases=(),
                       omega=omega, _kind=[])


# -- aihwkit configuration helpers -----------------------------------------------------------------------------
def with_weight_scaling(config: Any, omega: float, name: str) -> Any:
    """A deep copy of ``config`` with ``mapping.weight_scaling_omega = omega``; a one-line error when the
    configuration has no weight mapping."""
    if not hasattr(config, "mapping") or not hasattr(config.mapping, "weight_scaling_omega"):
        raise ValueError(f"preset {name!r} ({type(config).__name__}) has no weight mapping: '{OMEGA_MODIFIER}' "
                         "applies to configurations with aihwkit's MappingParameter, such as 'gokmen-vlasov'")
    config = copy.deepcopy(config)
    config.mapping.weight_scaling_omega = float(omega)
    return config


def remove_cycle_to_cycle(config: Any) -> Any:
    """A deep copy of ``config`` with every pulsed device's cycle-to-cycle fields set to 0."""
    config = copy.deepcopy(config)
    for device in pulsed_devices(config):
        for name in CYCLE_TO_CYCLE_FIELDS:
            if hasattr(device, name):
                setattr(device, name, 0.0)
    return config


def config_classes() -> list[tuple[type, str]]:
    """aihwkit's RPU configuration base classes with the kind each one means, most specific first (a unit cell is
    ``compound``, or ``transfer`` when its device is a transfer compound)."""
    from aihwkit.simulator.configs import (
        DigitalRankUpdateRPUConfig,
        FloatingPointRPUConfig,
        InferenceRPUConfig,
        SingleRPUConfig,
        TorchInferenceRPUConfig,
        UnitCellRPUConfig,
    )

    return [(InferenceRPUConfig, "inference"), (TorchInferenceRPUConfig, "inference"),
            (DigitalRankUpdateRPUConfig, "mixed-precision"), (UnitCellRPUConfig, "compound"),
            (SingleRPUConfig, "pulsed"), (FloatingPointRPUConfig, "floating-point")]


def config_kind(config: Any) -> str:
    """Classify an RPU configuration (``None`` is digital)."""
    if config is None:
        return "digital"
    from aihwkit.simulator.configs.compounds import TransferCompound

    for cls, kind in config_classes():
        if isinstance(config, cls):
            transfer = kind == "compound" and isinstance(getattr(config, "device", None), TransferCompound)
            return "transfer" if transfer else kind
    return type(config).__name__


def check_preset_object(name: str, obj: Any) -> None:
    """Raise a one-line TypeError naming ``name`` unless ``obj`` is something :func:`as_preset` accepts: None, a
    callable (factory or class), an RPU config instance, or a :class:`Preset` whose factory is callable or None."""
    if isinstance(obj, Preset):
        if obj.factory is not None and not callable(obj.factory):
            raise TypeError(f"preset {name!r}: expected a Preset whose factory is callable or None, "
                            f"got {type(obj.factory).__name__}")
    elif not (obj is None or callable(obj) or (is_dataclass(obj) and hasattr(obj, "device"))):
        raise TypeError(f"preset {name!r}: expected None, an RPU config factory or instance, got {type(obj).__name__}")


def as_preset(name: str, obj: Any, *, aliases: Iterable[str] = (), description: str = "", plugin: str = "?") -> Preset:
    """Turn what a plugin registered (None, a factory or class, an RPU config instance, or a Preset) into a Preset."""
    check_preset_object(name, obj)
    if isinstance(obj, Preset):
        return replace(obj, name=name, aliases=tuple(aliases) or obj.aliases,
                       description=description or obj.description, plugin=plugin, _kind=[])
    if obj is None:
        factory = None
    elif callable(obj):
        factory = obj
    else:  # an RPU config instance (checked above)
        template = copy.deepcopy(obj)
        factory = lambda: copy.deepcopy(template)  # noqa: E731
    if not description and isinstance(obj, type):
        description = (obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else ""
    return Preset(name, factory, description, tuple(aliases), True, plugin)


# -- public API ------------------------------------------------------------------------------------------------
def get(name: str) -> Preset:
    """The preset named ``name`` (or an alias), with modifiers: ``NAME:no-c2c`` is its cycle-to-cycle-free variant,
    ``NAME:omega=0.6`` maps its tiles' weights so the largest ``|w|`` is 0.6 (both: ``NAME:no-c2c:omega=0.6``)."""
    if isinstance(name, Preset):
        return name
    base, *modifiers = name.split(":")
    omega: float | None = None
    no_c2c = False
    for modifier in modifiers:
        if ":" + modifier == NO_C2C_SUFFIX and not no_c2c:
            no_c2c = True
        elif modifier.startswith(OMEGA_MODIFIER) and omega is None:
            value = modifier[len(OMEGA_MODIFIER):]
            try:
                omega = float(value)
            except ValueError:
                raise ValueError(f"preset {name!r}: omega must be a number (the largest |w| a tile stores, e.g. "
                                 f"':omega=0.6'), got {value!r}") from None
        else:
            raise ValueError(f"unknown or repeated preset modifier {':' + modifier!r} in {name!r}: the modifiers are "
                             f"'{NO_C2C_SUFFIX}' and ':{OMEGA_MODIFIER}<number>', each at most once")
    entry = registry("preset").entry(base)
    preset = as_preset(entry.name, entry.obj, aliases=entry.aliases, description=entry.description,
                       plugin=entry.plugin)
    if no_c2c:
        preset = preset.without_cycle_to_cycle()
    return preset.with_omega(omega) if omega is not None else preset


def names(include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[str]:
    """Sorted canonical preset names, optionally filtered by fnmatch patterns on names and aliases."""
    return registry("preset").names(include, exclude)


def all_presets(include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[Preset]:
    """Every registered preset (sorted by name)."""
    return [get(n) for n in names(include, exclude)]


def listing_row(preset: Preset) -> dict[str, Any]:
    """name, aliases, kind, plugin and description of ``preset`` for listings. A preset whose factory fails has kind
    :data:`ERROR_KIND` and an ``error`` (one line naming preset and plugin) instead of breaking the listing."""
    row: dict[str, Any] = {"name": preset.name, "aliases": list(preset.aliases), "kind": ERROR_KIND,
                           "plugin": preset.plugin, "description": preset.description}
    try:
        row["kind"] = preset.kind
    except PresetBuildError as exc:
        row["error"] = str(exc)
    return row


def _bits(resolution: float) -> float | None:
    """aihwkit's ``*_res``: <=0 is unlimited, <=1 a step size (1/(2**bits-2)), >1 a number of steps."""
    if resolution <= 0:
        return None
    steps = 1.0 / resolution if resolution <= 1 else resolution
    return round(math.log2(steps + 2), 2)


def _device_summary(device: Any) -> dict[str, Any]:
    values = {f.name: getattr(device, f.name) for f in fields(device)}
    w_min, w_max, dw_min = values.get("w_min"), values.get("w_max"), values.get("dw_min")
    states = None
    if w_min is not None and w_max is not None and dw_min:  # SoftBoundsPmaxDevice derives these from p_max
        states = round((w_max - w_min) / dw_min, 1)
    out: dict[str, Any] = {"model": type(device).__name__, "dw_min": dw_min, "states": states,
                           "w_min": w_min, "w_max": w_max}
    out["cycle_to_cycle"] = {k: values[k] for k in (*CYCLE_TO_CYCLE_FIELDS, "dw_min_std_add", "dw_min_std_slope")
                             if k in values}
    out["device_to_device"] = {k: v for k, v in values.items() if k.endswith("_dtod") or k == "reference_std"}
    out["up_down"] = values.get("up_down")
    return out


def _io_summary(io: Any) -> dict[str, Any]:
    return {
        "is_perfect": io.is_perfect,
        "inp_res": io.inp_res, "inp_bits": _bits(io.inp_res), "inp_noise": io.inp_noise, "inp_bound": io.inp_bound,
        "out_res": io.out_res, "out_bits": _bits(io.out_res), "out_noise": io.out_noise, "out_bound": io.out_bound,
        "w_noise": io.w_noise, "w_noise_type": str(getattr(io.w_noise_type, "value", io.w_noise_type)),
    }


def describe(name: str) -> dict[str, Any]:
    """The numbers a device researcher looks at, as a JSON-ready dict."""
    preset = get(name)
    info: dict[str, Any] = {"name": preset.name, "aliases": list(preset.aliases), "description": preset.description,
                            "plugin": preset.plugin, "kind": preset.kind}
    config = preset.rpu_config()
    if config is None:
        info["rpu_config"] = None
        return info
    info["rpu_config"] = type(config).__name__
    info["device"] = type(config.device).__name__
    info["devices"] = [_device_summary(d) for d in pulsed_devices(config)]
    for attr in ("forward", "backward"):
        if hasattr(config, attr):
            info[attr] = _io_summary(getattr(config, attr))
    mapping = getattr(config, "mapping", None)
    if mapping is not None and hasattr(mapping, "weight_scaling_omega"):
        # 0: weights stored as they are; > 0: each tile's largest |w| stored as omega (the `:omega=` modifier)
        info["weight_scaling_omega"] = mapping.weight_scaling_omega
    update = getattr(config, "update", None)
    if update is not None:
        info["update"] = {
            "desired_bl": update.desired_bl,
            "pulse_type": str(getattr(update.pulse_type, "value", update.pulse_type)),
            "update_management": update.update_management,
            "update_bl_management": update.update_bl_management,
        }
    transfer = {k: getattr(config.device, k) for k in ("fast_lr", "transfer_lr", "scale_fast_lr",
                                                       "scale_transfer_lr", "transfer_every", "units_in_mbatch")
                if hasattr(config.device, k)}
    if transfer:
        info["transfer"] = transfer
    return info
