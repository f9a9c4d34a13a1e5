from __future__ import annotations

from collections.abc import Iterator

import pytest

from aihwkit_sc import plugins


@pytest.fixture
def fresh_host() -> Iterator[plugins.PluginHost]:
    """A new plugin host with only the built-in plugins, installed as the process-wide one for the test."""
    host = plugins.PluginHost(load_entrypoints=False)
    previous = plugins.set_host(host)
    yield host
    plugins.set_host(previous)
