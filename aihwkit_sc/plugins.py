"""The plugin manager: built-in plugins plus entry points of group ``aihwkit_sc``, loaded once, lazily.

Environment variable :data:`ENV_VAR` (``AIHWKIT_SC_LOAD_PLUGINS``) restricts entry-point loading: unset loads every
installed plugin, an empty value loads none, and a comma-separated list loads only the entry points or
distributions named. Built-in plugins always load.

A plugin that fails to import, implements a misspelled hook, raises while registering, registers a name that is
already taken, or registers an object of the wrong type (each kind's ``validate``, :meth:`PluginHost.kinds`) is
reported by name, one line each
(a :class:`PluginWarning` and :func:`errors`), and every other plugin and entry still loads. "Raises" means any
exception, ``SystemExit`` included; only ``KeyboardInterrupt`` goes through.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata as md
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from aihwkit_sc import hookspecs
from aihwkit_sc.registry import Registry, RegistryError

if TYPE_CHECKING:
    import click

ENV_VAR = "AIHWKIT_SC_LOAD_PLUGINS"
ENTRY_POINT_GROUP = hookspecs.PROJECT

# Built-ins, registered through the same hooks as third-party plugins.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "aihwkit_sc.default_plugins.presets",
    "aihwkit_sc.default_plugins.schedules",
    "aihwkit_sc.default_plugins.models",
    "aihwkit_sc.default_plugins.datasets",
    "aihwkit_sc.default_plugins.studies",
)

class PluginWarning(UserWarning):
    """A plugin could not be loaded or could not register something; the others still work."""


@dataclass(frozen=True)
class Kind:
    """A kind of named thing, as a ``register_kinds`` hook declared it."""

    name: str
    hook: str
    validate: Callable[[str, Any, dict[str, Any]], None]
    plural: str


def _one_line(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (just ``TypeName`` when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@dataclass
class PluginInfo:
    """What ``aihwkit-sc plugins list`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    hooks: list[str]
    registered: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class PluginHost:
    """Owns one pluggy ``PluginManager`` and the registries its hooks fill (each built on first use)."""

    def __init__(self, *, load_entrypoints: bool | None = None, defaults: tuple[str, ...] = DEFAULT_PLUGINS) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._registries: dict[str, Registry[Any]] = {}
        self._kinds: dict[str, Kind] | None = None
        self._info: dict[str, PluginInfo] = {}
        self._commands_added: set[int] = set()
        for module_name in defaults:
            self.add_plugin(importlib.import_module(module_name), module_name, builtin=True)
        if load_entrypoints is None or load_entrypoints:
            self._load_entrypoints(os.environ.get(ENV_VAR) if load_entrypoints is None else None)

    # -- loading ---------------------------------------------------------------------------------------------
    def add_plugin(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        builtin: bool = False,
        distribution: str | None = None,
        version: str | None = None,
    ) -> bool:
        """Register one plugin object; a misspelled hook is reported and the plugin dropped. Returns success."""
        info = PluginInfo(name, distribution, version, builtin, hooks=[])
        self._info[name] = info
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except KeyboardInterrupt:
            raise
        except (pluggy.PluginValidationError, ValueError) as exc:  # ValueError: name or object already registered
            self._unregister_quietly(name, plugin)
            self._report(info, f"not loaded: {exc}")
            return False
        except BaseException as exc:  # e.g. a plugin object whose attributes raise while pluggy scans them
            self._unregister_quietly(name, plugin)
            self._report(info, f"not loaded: {_one_line(exc)}")
            return False
        info.hooks = sorted(self._hooks_of(name))
        return True

    def _unregister_quietly(self, name: str, plugin: object) -> None:
        """Drop a half-registered plugin (never another plugin that already holds ``name``)."""
        if self.pm.get_plugin(name) is plugin:
            with contextlib.suppress(Exception):  # best effort: the plugin is reported already
                self.pm.unregister(name=name)

    def _hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        return [caller.name for caller in (self.pm.get_hookcallers(plugin) or [])]

    def _load_entrypoints(self, only: str | None) -> None:
        wanted = None if only is None else {part.strip() for part in only.split(",") if part.strip()}
        installed: set[str] = set()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                dist = ep.dist.metadata["Name"] if ep.dist is not None else None
                version = ep.dist.version if ep.dist is not None else None
            except Exception:  # unreadable metadata: still try the entry point itself
                dist = version = None
            installed |= {ep.name, *([dist] if dist else [])}
            if wanted is not None and ep.name not in wanted and dist not in wanted:
                continue
            try:
                plugin = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit and the like at import are the plugin's failure, not ours
                info = PluginInfo(ep.name, dist, version, False, hooks=[])
                self._info[ep.name] = info
                self._report(info, f"failed to import {ep.value!r}: {_one_line(exc)}")
                continue
            self.add_plugin(plugin, ep.name, distribution=dist, version=version)
        for name in sorted((wanted or set()) - installed):  # a typo would otherwise load nothing without a word
            close = difflib.get_close_matches(name, sorted(installed), n=1)
            hint = f"did you mean {close[0]!r}?" if close else (
                f"installed: {', '.join(sorted(installed))}" if installed else "no plugins are installed")
            warnings.warn(f"{ENV_VAR} names {name!r}, which is no installed aihwkit-sc plugin (entry point or "
                          f"distribution): {hint}", PluginWarning, stacklevel=2)

    def _report(self, info: PluginInfo, message: str) -> None:
        message = " ".join(message.split())  # one line, whatever the exception's text
        info.errors.append(message)
        warnings.warn(f"aihwkit-sc plugin {info.name!r}: {message}", PluginWarning, stacklevel=3)

    # -- registries ------------------------------------------------------------------------------------------
    def kinds(self) -> dict[str, Kind]:
        """The kinds the plugins declared (``register_kinds``; the built-ins declare preset, schedule, model, dataset
        and study), collected on first use."""
        if self._kinds is None:
            kinds: dict[str, Kind] = {}
            for impl in self.pm.hook.register_kinds.get_hookimpls():
                info = self._info[impl.plugin_name]

                def register(kind: str, *, hook: str, validate: Any, plural: str | None = None,
                             info: PluginInfo = info) -> None:
                    if kind in kinds:
                        self._report(info, f"kind {kind!r} is declared already")
                    elif not hasattr(self.pm.hook, hook) or not callable(validate):
                        self._report(info, f"kind {kind!r}: {hook!r} must name a hook and validate be callable")
                    else:
                        kinds[kind] = Kind(kind, hook, validate, plural or kind + "s")

                try:
                    impl.function(register=register)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    self._report(info, f"raised while declaring kinds: {_one_line(exc)}")
            self._kinds = kinds
        return self._kinds

    def registry(self, kind: str) -> Registry[Any]:
        """The registry of ``kind`` (one of :meth:`kinds`: "preset", "schedule", "model", "dataset", "study" and
        plugins'), filled by the hooks on first use."""
        kinds = self.kinds()
        if kind not in kinds:
            raise ValueError(f"unknown registry kind {kind!r}: choose one of {', '.join(kinds)}")
        if kind not in self._registries:
            registry: Registry[Any] = Registry(kind)
            self._registries[kind] = registry
            self._fill(registry, kinds[kind])
        return self._registries[kind]

    def _fill(self, registry: Registry[Any], kind: Kind) -> None:
        hook = getattr(self.pm.hook, kind.hook)
        for impl in hook.get_hookimpls():  # registration order: built-ins first
            info = self._info[impl.plugin_name]
            names = info.registered.setdefault(registry.kind, [])
            try:
                impl.function(register=self._register_callback(registry, kind, info, names))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._report(info, f"raised while registering {kind.plural}: {_one_line(exc)}")

    def _register_callback(self, registry: Registry[Any], kind: Kind, info: PluginInfo,
                           names: list[str]) -> Callable[..., None]:

        def register(name: str, obj: Any, *, aliases: Any = (), description: str = "", **extra: Any) -> None:
            """Validate and add one entry; a bad one is reported (plugin and entry named) and skipped."""
            try:
                aliases = _aliases(registry.kind, name, aliases)
                if not isinstance(description, str):
                    raise TypeError(f"{registry.kind} {name!r}: description must be a string, "
                                    f"got {type(description).__name__}")
                if isinstance(name, str) and name:  # a bad name is the registry's to report
                    kind.validate(name, obj, extra)
                registry.register(name, obj, aliases=aliases, description=description, plugin=info.name, **extra)
            except (RegistryError, TypeError) as exc:
                self._report(info, str(exc))
            else:
                names.append(name)

        return register

    def add_commands(self, cli: click.Group) -> None:
        """Let plugins add CLI commands to ``cli`` (once per group)."""
        if id(cli) in self._commands_added:
            return
        self._commands_added.add(id(cli))
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._report(self._info[impl.plugin_name], f"raised in register_commands: {_one_line(exc)}")

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen (loaded or failed), built-ins first. Fills all registries to say what each added."""
        for kind in self.kinds():
            self.registry(kind)
        return sorted(self._info.values(), key=lambda i: (not i.builtin, i.name))

    def errors(self) -> list[str]:
        """Every plugin error so far, one line each naming the plugin (fills all registries first)."""
        return [f"plugin {info.name!r}: {error}" for info in self.plugins() for error in info.errors]


def _aliases(kind: str, name: object, aliases: Any) -> tuple[str, ...]:
    """A plugin's ``aliases`` as a tuple (a single string is one alias); TypeError naming the entry otherwise."""
    if isinstance(aliases, str):
        return (aliases,)
    try:
        return tuple(aliases)
    except TypeError:
        raise TypeError(f"{kind} {name!r}: aliases must be a list of strings, got {type(aliases).__name__}") from None


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, created (and entry points loaded) on first call."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host


def set_host(host: PluginHost | None) -> PluginHost | None:
    """Replace the process-wide host (tests use a fresh one); returns the previous one."""
    global _host
    previous, _host = _host, host
    return previous


def registry(kind: str) -> Registry[Any]:
    """Shortcut for ``get_host().registry(kind)``."""
    return get_host().registry(kind)


def errors() -> list[str]:
    """Shortcut for ``get_host().errors()``: every plugin error, one line each naming the plugin."""
    return get_host().errors()
