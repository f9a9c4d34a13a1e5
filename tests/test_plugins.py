"""The pluggy plugin manager: hooks, built-ins through the same hooks, isolation of broken plugins, entry points."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import pytest

from aihwkit_sc import hookimpl, hookspecs, plugins


class GoodPlugin:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("good-device", None, aliases=["gd"], description="a test device")

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command("hello-plugin")
        def hello() -> None:
            click.echo("hello from a plugin")


class RaisingPlugin:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("raising-first", None)
        raise RuntimeError("boom")


class DuplicatePlugin:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("gokmen-vlasov", None)  # taken by the built-ins
        register("dup-fresh", None)


class MisspelledPlugin:
    @hookimpl
    def register_preset(self, register: Any) -> None:  # missing "s"
        register("never", None)


def test_builtins_are_registered_through_the_hooks(fresh_host: plugins.PluginHost) -> None:
    for hook, plugin in (("register_presets", "presets"), ("register_schedules", "schedules")):
        impls = getattr(fresh_host.pm.hook, hook).get_hookimpls()
        assert [impl.plugin_name for impl in impls] == [f"aihwkit_sc.default_plugins.{plugin}"]
    assert set(plugins.DEFAULT_PLUGINS) == {i.name for i in fresh_host.plugins() if i.builtin}
    reg = fresh_host.registry("preset")
    assert reg.entry("gokmen-vlasov").plugin == "aihwkit_sc.default_plugins.presets"


def test_hooks_are_documented_with_parameters() -> None:
    for name in ("register_presets", "register_schedules", "register_models", "register_datasets",
                 "register_commands"):
        doc = getattr(hookspecs, name).__doc__
        assert doc and ":param " in doc, name


def test_third_party_plugin_adds_presets_and_commands(fresh_host: plugins.PluginHost) -> None:
    assert fresh_host.add_plugin(GoodPlugin(), "good")
    reg = fresh_host.registry("preset")
    assert reg.get("gd") is None and reg.entry("good-device").plugin == "good"
    cli = click.Group("t")
    fresh_host.add_commands(cli)
    fresh_host.add_commands(cli)  # once only
    assert list(cli.commands) == ["hello-plugin"]
    info = {i.name: i for i in fresh_host.plugins()}["good"]
    assert info.hooks == ["register_commands", "register_presets"]
    assert info.registered["preset"] == ["good-device"]


def test_raising_plugin_is_reported_and_others_still_load(fresh_host: plugins.PluginHost) -> None:
    fresh_host.add_plugin(RaisingPlugin(), "raiser")
    fresh_host.add_plugin(GoodPlugin(), "good")
    with pytest.warns(plugins.PluginWarning, match=r"plugin 'raiser': raised while registering presets: .*boom"):
        reg = fresh_host.registry("preset")
    assert "good-device" in reg and "gokmen-vlasov" in reg
    assert "raising-first" in reg  # what it registered before raising is kept
    errors = {i.name: i.errors for i in fresh_host.plugins()}
    assert errors["good"] == [] and "boom" in errors["raiser"][0]


def test_duplicate_name_is_reported_and_rest_registered(fresh_host: plugins.PluginHost) -> None:
    fresh_host.add_plugin(DuplicatePlugin(), "dup")
    with pytest.warns(plugins.PluginWarning, match="plugin 'dup': preset name 'gokmen-vlasov' is already registered"):
        reg = fresh_host.registry("preset")
    assert reg.entry("gokmen-vlasov").plugin == "aihwkit_sc.default_plugins.presets"
    assert reg.entry("dup-fresh").plugin == "dup"


def test_misspelled_hook_is_reported_and_plugin_dropped(fresh_host: plugins.PluginHost) -> None:
    with pytest.warns(plugins.PluginWarning, match=r"plugin 'typo': not loaded: .*register_preset"):
        assert not fresh_host.add_plugin(MisspelledPlugin(), "typo")
    assert not fresh_host.pm.has_plugin("typo")
    fresh_host.add_plugin(GoodPlugin(), "good")  # the manager still works
    assert "good-device" in fresh_host.registry("preset")


def test_unknown_registry_kind(fresh_host: plugins.PluginHost) -> None:
    with pytest.raises(ValueError, match="unknown registry kind 'presets': choose one of preset, schedule"):
        fresh_host.registry("presets")


def test_no_warnings_with_the_installed_plugins() -> None:
    host = plugins.PluginHost()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        infos = host.plugins()
    assert all(not i.errors for i in infos)


def test_the_plugin_host_knows_no_kind_each_kind_is_declared_by_its_own_plugin() -> None:
    """No import circle: plugins.py names no kind and imports neither presets nor schedules; the built-in plugins
    declare preset, schedule, model, dataset and study next to their entries (``register_kinds``)."""
    source = (Path(plugins.__file__)).read_text()
    assert "aihwkit_sc.presets" not in source and "aihwkit_sc.schedules" not in source
    code = ("import sys; from aihwkit_sc.plugins import PluginHost; host = PluginHost(load_entrypoints=False); "
            "kinds = host.kinds(); host.registry('model'); "
            "print(sorted(kinds), [m for m in ('aihwkit_sc.presets', 'aihwkit_sc.schedules') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "['dataset', 'model', 'preset', 'schedule', 'study'] []"
    assert {k: v.hook for k, v in plugins.PluginHost(load_entrypoints=False).kinds().items()} == {
        "preset": "register_presets", "schedule": "register_schedules", "model": "register_models",
        "dataset": "register_datasets", "study": "register_studies"}


class KindPlugin:
    @hookimpl
    def register_kinds(self, register: Any) -> None:
        register("preset", hook="register_presets", validate=lambda name, obj, extra: None)  # taken
        register("metric", hook="register_metrics", validate=lambda name, obj, extra: None)  # no such hook


def test_a_kind_declared_twice_or_without_a_hook_is_reported(fresh_host: plugins.PluginHost) -> None:
    assert fresh_host.add_plugin(KindPlugin(), "kind-plugin")
    with pytest.warns(plugins.PluginWarning) as caught:
        kinds = fresh_host.kinds()
    assert "metric" not in kinds and kinds["preset"].hook == "register_presets"
    assert [str(w.message) for w in caught] == [
        "aihwkit-sc plugin 'kind-plugin': kind 'preset' is declared already",
        "aihwkit-sc plugin 'kind-plugin': kind 'metric': 'register_metrics' must name a hook and validate be callable"]
