"""Rows for the registry listings (``models list``, ``datasets list``, ``study list``) and their plain-text lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def registry_rows(kind: str) -> list[dict[str, Any]]:
    """name, aliases, input size, plugin and description of every entry of registry ``kind``."""
    from aihwkit_sc.plugins import registry

    return [{"name": e.name, "aliases": list(e.aliases), "input_size": list(e.extra.get("input_size") or ()),  # type: ignore[call-overload]
             "plugin": e.plugin, "description": e.description} for e in registry(kind).entries()]


def named_lines(rows: list[dict[str, Any]], text: Callable[[dict[str, Any]], str]) -> list[str]:
    """One line per row: its name padded to the longest name, two spaces, then ``text(row)`` (one column for all)."""
    width = max((len(r["name"]) for r in rows), default=0)
    return [f"{r['name']:<{width}}  {text(r)}" for r in rows]
