"""Rows for the registry listings (``models list``, ``datasets list``)."""

from __future__ import annotations

from typing import Any


def registry_rows(kind: str) -> list[dict[str, Any]]:
    """name, aliases, input size, plugin and description of every entry of registry ``kind``."""
    from aihwkit_sc.plugins import registry

    return [{"name": e.name, "aliases": list(e.aliases), "input_size": list(e.extra.get("input_size") or ()),  # type: ignore[call-overload]
             "plugin": e.plugin, "description": e.description} for e in registry(kind).entries()]
