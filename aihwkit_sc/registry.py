"""One small registry for every kind of named thing (presets, schedules, models, datasets).

Names are canonical (kebab-case by convention) and may have aliases. Registering a taken name or alias raises;
looking up an unknown one raises a one-line error with the close matches, in the style of torchvision's
``get_model`` and git's "did you mean". Each entry remembers which plugin registered it.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):
    """Base class of registry errors (a ``ValueError``: the caller passed a bad name)."""


class DuplicateNameError(RegistryError):
    """A name or alias is already taken."""


class EntryFailed(RuntimeError):
    """A registered object failed when used (raised, or returned the wrong kind of thing); the message is one line
    naming the entry and the plugin that registered it, the original exception is the ``__cause__``."""


class UnknownNameError(RegistryError, KeyError):
    """No entry has that name or alias."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object with its canonical name, aliases, one-line description and origin."""

    name: str
    obj: T
    aliases: tuple[str, ...] = ()
    description: str = ""
    plugin: str = "?"
    extra: dict[str, object] = field(default_factory=dict, compare=False)


class Registry(Generic[T]):
    """Name -> object, with aliases, close-match errors and fnmatch filtering.

    Args:
        kind: what is registered, in the singular ("preset"), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self,
        name: str,
        obj: T,
        *,
        aliases: Iterable[str] = (),
        description: str = "",
        plugin: str = "?",
        **extra: object,
    ) -> Entry[T]:
        """Add ``obj`` under ``name`` (and ``aliases``); raise :class:`DuplicateNameError` if any is taken."""
        aliases = tuple(aliases)
        for key in (name, *aliases):
            if not isinstance(key, str) or not key:
                raise RegistryError(f"{self.kind} names must be non-empty strings, got {key!r}")
            if key in self._entries or key in self._aliases:
                owner = self._entries.get(key) or self._entries[self._aliases[key]]
                raise DuplicateNameError(
                    f"{self.kind} name {key!r} is already registered by plugin {owner.plugin!r} "
                    f"(for {owner.name!r}); choose another name"
                )
        if len({name, *aliases}) != 1 + len(aliases):
            raise DuplicateNameError(f"{self.kind} {name!r} lists the same alias twice: {aliases}")
        entry = Entry(name, obj, aliases, description, plugin, dict(extra))
        self._entries[name] = entry
        for alias in aliases:
            self._aliases[alias] = name
        return entry

    def unregister(self, name: str) -> Entry[T]:
        """Remove an entry (by name or alias) and its aliases; returns it."""
        entry = self.entry(name)
        del self._entries[entry.name]
        for alias in entry.aliases:
            del self._aliases[alias]
        return entry

    def resolve(self, name: str) -> str:
        """Canonical name for ``name`` or an alias of it."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownNameError(self._unknown_message(name))

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.resolve(name)]

    def get(self, name: str) -> T:
        """The object registered under ``name`` or one of its aliases."""
        return self.entry(name).obj

    def call(self, name: str, *args: Any, doing: str, expect: Callable[[Any], str | None] | None = None,
             passthrough: tuple[type[BaseException], ...] = (ValueError,), **kwargs: Any) -> Any:
        """Call the object registered as ``name``, so that a plugin's failure names it: any exception (``SystemExit``
        included; ``KeyboardInterrupt`` and ``passthrough`` go through, the project's one-line errors) becomes one
        :class:`EntryFailed` line "model 'x' (plugin 'p') failed to build: OSError: ...", and ``expect(result)``,
        when given, says what is wrong with the result (or ``None``), e.g. a schedule factory returning ``None``.
        """
        entry = self.entry(name)
        where = f"{self.kind} {entry.name!r} (plugin {entry.plugin!r})"
        try:
            result = entry.obj(*args, **kwargs)  # type: ignore[operator]
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            if isinstance(exc, passthrough):
                raise
            lines = str(exc).strip().splitlines()
            raise EntryFailed(f"{where} failed to {doing}: {type(exc).__name__}"
                              + (f": {lines[0]}" if lines else "")) from exc
        wrong = expect(result) if expect is not None else None
        if wrong:
            raise EntryFailed(f"{where} failed to {doing}: {wrong}")
        return result

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def names(
        self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None
    ) -> list[str]:
        """Sorted canonical names, filtered by fnmatch patterns (torchvision's ``list_models`` semantics)."""
        return [entry.name for entry in self.entries(include, exclude)]

    def entries(
        self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None
    ) -> list[Entry[T]]:
        """Sorted entries; ``include``/``exclude`` patterns match the canonical name or any alias."""
        inc = [include] if isinstance(include, str) else list(include or [])
        exc = [exclude] if isinstance(exclude, str) else list(exclude or [])

        def matches(entry: Entry[T], patterns: list[str]) -> bool:
            return any(fnmatch.fnmatchcase(key, pat) for pat in patterns for key in (entry.name, *entry.aliases))

        return [
            entry
            for name, entry in sorted(self._entries.items())
            if (not inc or matches(entry, inc)) and not (exc and matches(entry, exc))
        ]

    def _unknown_message(self, name: str) -> str:
        keys = [*self._entries, *self._aliases]
        close = difflib.get_close_matches(name, keys, n=3, cutoff=0.6)
        close += [k for k in sorted(self._entries) if name and k.startswith(name) and k not in close][:3]
        close = [self._aliases.get(c, c) for c in close]
        close = list(dict.fromkeys(close))[:3]
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif self._entries:
            hint = f"choose one of {', '.join(sorted(self._entries))}" if len(self._entries) <= 12 else (
                f"{len(self._entries)} are registered; list them with `aihwkit-sc {self.kind}s list`")
        else:
            hint = f"no {self.kind}s are registered"
        return f"unknown {self.kind} {name!r}: {hint}"
