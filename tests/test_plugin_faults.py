"""Trust under faults: a broken plugin is reported by name and never takes the others down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import torch
from click.testing import CliRunner

from aihwkit_sc import hookimpl, plugins, presets, zoo
from aihwkit_sc import registry as registry_errors
from aihwkit_sc.cli import main


def _boom() -> Any:
    return 1 / 0


class FaultyPresets:
    """Four broken presets and one good one."""

    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("bad-int", 42)
        register("bad-preset-obj", presets.Preset("x", "not callable"))  # type: ignore[arg-type]
        register("bad-raise", _boom, description="raises")
        register("bad-str", lambda: "hello", description="returns a string")
        register("fine-digital", None, description="a good one")


def _add_faulty(host: plugins.PluginHost) -> None:
    assert host.add_plugin(FaultyPresets(), "faulty")


REJECTED = {
    "bad-int": "plugin 'faulty': preset 'bad-int': expected None, an RPU config factory or instance, got int",
    "bad-preset-obj": "plugin 'faulty': preset 'bad-preset-obj': expected a Preset whose factory is callable or None,"
                      " got str",
}


def _fill_presets(host: plugins.PluginHost) -> None:
    with pytest.warns(plugins.PluginWarning) as record:
        host.registry("preset")
    messages = sorted(str(w.message) for w in record if issubclass(w.category, plugins.PluginWarning))
    assert len(messages) == 2
    for message, expected in zip(messages, sorted(REJECTED.values()), strict=True):
        assert expected in message and "\n" not in message


# -- defect 6: validation at registration ---------------------------------------------------------------------
def test_uncallable_preset_factory_is_rejected_at_registration(fresh_host: plugins.PluginHost) -> None:
    _add_faulty(fresh_host)
    _fill_presets(fresh_host)
    reg = fresh_host.registry("preset")
    assert "bad-int" not in reg and "bad-preset-obj" not in reg
    assert {"bad-raise", "bad-str", "fine-digital", "gokmen-vlasov"} <= set(reg)
    info = {i.name: i for i in fresh_host.plugins()}["faulty"]
    assert info.registered["preset"] == ["bad-raise", "bad-str", "fine-digital"]
    assert [e.split(":")[0] for e in info.errors] == ["preset 'bad-int'", "preset 'bad-preset-obj'"]


@pytest.mark.parametrize(("kind", "hook"), [("schedule", "register_schedules"), ("model", "register_models"),
                                            ("dataset", "register_datasets")])
def test_uncallable_schedule_model_dataset_is_rejected(fresh_host: plugins.PluginHost, kind: str, hook: str) -> None:
    def register_things(register: Any) -> None:
        register("broken-thing", "not a function")
        register("good-thing", lambda **options: None)
        register(42, lambda **options: None)  # a bad name is reported too, and the plugin goes on
        register("after-bad-name", lambda **options: None)

    plugin = type("Plugin", (), {hook: staticmethod(hookimpl(register_things))})()
    fresh_host.add_plugin(plugin, "odd")
    with pytest.warns(plugins.PluginWarning) as record:
        reg = fresh_host.registry(kind)
    messages = [str(w.message) for w in record if issubclass(w.category, plugins.PluginWarning)]
    assert any(f"plugin 'odd': {kind} 'broken-thing': expected a callable, got str" in m for m in messages), messages
    assert any(f"plugin 'odd': {kind} names must be non-empty strings, got 42" in m for m in messages), messages
    assert "broken-thing" not in reg and "good-thing" in reg and "after-bad-name" in reg


def test_plugins_list_shows_the_rejection_not_the_entry(fresh_host: plugins.PluginHost) -> None:
    _add_faulty(fresh_host)
    with pytest.warns(plugins.PluginWarning) as record:
        result = CliRunner().invoke(main, ["plugins", "list", "--json"])
    assert any("plugin 'faulty': preset 'bad-int'" in str(w.message) for w in record)
    assert result.exit_code == 0, result.output
    info = {row["name"]: row for row in json.loads(result.output)}["faulty"]
    assert "bad-int" not in info["registered"]["preset"]
    assert any(e.startswith("preset 'bad-int': expected None") for e in info["errors"])


# -- defect 6: listing keeps working ---------------------------------------------------------------------------
def test_presets_list_json_shows_broken_presets_as_errors(fresh_host: plugins.PluginHost) -> None:
    _add_faulty(fresh_host)
    with pytest.warns(plugins.PluginWarning):
        result = CliRunner().invoke(main, ["presets", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["gokmen-vlasov"]["kind"] == "pulsed" and rows["fine-digital"]["kind"] == "digital"
    assert rows["bad-raise"]["kind"] == "error" and rows["bad-raise"]["plugin"] == "faulty"
    assert rows["bad-raise"]["error"] == ("preset 'bad-raise' (plugin 'faulty') failed to build its RPU "
                                          "configuration: ZeroDivisionError: division by zero")
    assert rows["bad-str"]["kind"] == "error"
    assert rows["bad-str"]["error"] == ("preset 'bad-str' (plugin 'faulty') failed to build its RPU configuration: "
                                        "it returned str, not an aihwkit RPU configuration")
    assert "bad-int" not in rows and "error" not in rows["gokmen-vlasov"]
    assert len(rows) > 60


def test_presets_list_text_and_kind_filter(fresh_host: plugins.PluginHost) -> None:
    _add_faulty(fresh_host)
    with pytest.warns(plugins.PluginWarning):
        result = CliRunner().invoke(main, ["presets", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["gokmen-vlasov"].split()[1] == "pulsed"
    assert lines["bad-raise"].split()[1] == "error" and "ZeroDivisionError: division by zero" in lines["bad-raise"]
    result = CliRunner().invoke(main, ["presets", "list", "--kind", "error"])
    assert result.exit_code == 0, result.output
    assert sorted(line.split()[0] for line in result.output.splitlines()) == ["bad-raise", "bad-str"]
    shown = CliRunner().invoke(main, ["presets", "show", "bad-raise"])
    assert shown.exit_code == 1 and shown.output == ("Error: preset 'bad-raise' (plugin 'faulty') failed to build "
                                                     "its RPU configuration: ZeroDivisionError: division by zero\n")


# -- defect 6: build / train name the culprit -------------------------------------------------------------------
def test_build_with_failing_preset_names_preset_and_plugin(fresh_host: plugins.PluginHost) -> None:
    _add_faulty(fresh_host)
    _fill_presets(fresh_host)
    with pytest.raises(presets.PresetBuildError) as raised:
        zoo.build("lenet5", preset="bad-raise")
    assert str(raised.value) == ("preset 'bad-raise' (plugin 'faulty') failed to build its RPU configuration: "
                                 "ZeroDivisionError: division by zero")
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    with pytest.raises(presets.PresetBuildError, match=r"^preset 'bad-str' \(plugin 'faulty'\) failed to build its "
                                                        r"RPU configuration: it returned str, not an aihwkit RPU"):
        zoo.build("lenet5", preset="bad-str")
    with pytest.raises(presets.PresetBuildError, match=r"^preset 'bad-raise' \(plugin 'faulty'\) failed"):
        presets.get("bad-raise:no-c2c")


def test_train_with_failing_preset_fails_with_one_line(fresh_host: plugins.PluginHost, tmp_path: Path) -> None:
    _add_faulty(fresh_host)
    _fill_presets(fresh_host)
    result = CliRunner().invoke(main, ["train", "--preset", "bad-raise", "--limit", "64", "--epochs", "1", "-q",
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: preset 'bad-raise' (plugin 'faulty') failed to build its RPU configuration: "
        "ZeroDivisionError: division by zero")


# -- defect 6: BaseException from a plugin -----------------------------------------------------------------------
class ExitingHooks:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        register("exit-first", None)
        raise SystemExit(4)

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        raise SystemExit("no commands for you")


def test_hooks_raising_systemexit_are_reported(fresh_host: plugins.PluginHost) -> None:
    fresh_host.add_plugin(ExitingHooks(), "exiter")
    with pytest.warns(plugins.PluginWarning, match=r"plugin 'exiter': raised while registering presets: SystemExit: 4"):
        reg = fresh_host.registry("preset")
    assert "exit-first" in reg and "gokmen-vlasov" in reg
    with pytest.warns(plugins.PluginWarning, match=r"plugin 'exiter': raised in register_commands: SystemExit: no "):
        fresh_host.add_commands(click.Group("t"))


class InterruptedHook:
    @hookimpl
    def register_presets(self, register: Any) -> None:
        raise KeyboardInterrupt


def test_keyboard_interrupt_in_a_hook_goes_through(fresh_host: plugins.PluginHost) -> None:
    fresh_host.add_plugin(InterruptedHook(), "ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        fresh_host.registry("preset")


DIST = "aihwkit-sc-fault-test"


@pytest.fixture
def installed_faulty_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution on sys.path with entry points: one exits at import, one interrupts, one is good."""
    modules = {
        "aihwkit_sc_fault_exit": "raise SystemExit(3)\n",
        "aihwkit_sc_fault_interrupt": "raise KeyboardInterrupt\n",
        "aihwkit_sc_fault_good": textwrap.dedent("""
            from aihwkit_sc import hookimpl

            @hookimpl
            def register_presets(register):
                register("fault-test-good", None, description="from the good entry point")
        """),
    }
    for module, source in modules.items():
        (tmp_path / f"{module}.py").write_text(source)
    info = tmp_path / "aihwkit_sc_fault_test-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[aihwkit_sc]\nfault_exit = aihwkit_sc_fault_exit\nfault_interrupt = aihwkit_sc_fault_interrupt\n"
        "fault_good = aihwkit_sc_fault_good\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    previous = plugins.set_host(None)  # the CLI builds the process-wide host from the entry points
    yield tmp_path
    plugins.set_host(previous)
    for module in modules:
        sys.modules.pop(module, None)


def test_plugin_raising_systemexit_at_import_does_not_silence_the_cli(
        installed_faulty_dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.ENV_VAR, "fault_exit,fault_good")
    runner = CliRunner()
    with pytest.warns(plugins.PluginWarning) as record:
        listed = runner.invoke(main, ["presets", "list"])
    assert listed.exit_code == 0, listed.output
    names = [line.split()[0] for line in listed.output.splitlines()]
    assert {"gokmen-vlasov", "pytorch", "fault-test-good"} <= set(names)
    assert [str(w.message) for w in record if issubclass(w.category, plugins.PluginWarning)] == [
        "aihwkit-sc plugin 'fault_exit': failed to import 'aihwkit_sc_fault_exit': SystemExit: 3"]
    result = runner.invoke(main, ["plugins", "list"])  # the host is built once: no second warning
    assert result.exit_code == 0, result.output
    assert "  error: failed to import 'aihwkit_sc_fault_exit': SystemExit: 3" in result.output.splitlines()
    assert f"fault_good  [{DIST} 0.1]  hooks: register_presets" in result.output.splitlines()
    help_ = runner.invoke(main, ["--help"])
    assert help_.exit_code == 0 and "presets" in help_.output


def test_console_script_shows_the_import_failure_as_one_line(installed_faulty_dist: Path) -> None:
    package_root = Path(plugins.__file__).parents[1]  # the aihwkit_sc under test, first
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package_root), str(installed_faulty_dist)]),
               **{plugins.ENV_VAR: "fault_exit,fault_good"})
    script = Path(sys.executable).with_name("aihwkit-sc")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and "presets" in done.stdout
    assert done.stderr == ("warning: aihwkit-sc plugin 'fault_exit': failed to import 'aihwkit_sc_fault_exit': "
                           "SystemExit: 3\n")


def test_plugin_raising_keyboard_interrupt_at_import_goes_through(
        installed_faulty_dist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.ENV_VAR, "fault_interrupt")
    with pytest.raises(KeyboardInterrupt):
        plugins.PluginHost()


# -- defect 9 (part): doctor shows plugin errors and what was loaded ------------------------------------------
def test_doctor_lists_plugins_and_their_errors(fresh_host: plugins.PluginHost) -> None:
    _add_faulty(fresh_host)
    with pytest.warns(plugins.PluginWarning):
        result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["plugin_errors"] == [REJECTED["bad-int"], REJECTED["bad-preset-obj"]]
    loaded = {row["name"]: row for row in report["plugins"]}
    assert loaded["faulty"]["registered"] == {"preset": 3}
    n_schedules = len(fresh_host.registry("schedule"))
    assert loaded["aihwkit_sc.default_plugins.schedules"]["registered"] == {"schedule": n_schedules}
    assert loaded["faulty"]["builtin"] is False and loaded["aihwkit_sc.default_plugins.presets"]["builtin"] is True

    result = CliRunner().invoke(main, ["doctor"])  # registries are filled: no new warnings
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    errors = [line.split(None, 1)[1] for line in lines if line.startswith("plugin_error ")]
    assert errors == [REJECTED["bad-int"], REJECTED["bad-preset-obj"]]
    plugin_lines = [line.split(None, 1)[1] for line in lines if line.startswith("plugin ")]
    assert "faulty: 3 presets, 2 errors" in plugin_lines
    assert f"aihwkit_sc.default_plugins.schedules (built-in): {n_schedules} schedules" in plugin_lines


def test_doctor_without_plugin_errors_says_none(fresh_host: plugins.PluginHost) -> None:
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.output.splitlines() if not line.startswith("plugin "))
    assert lines["plugin_errors"] == "none"
    assert json.loads(CliRunner().invoke(main, ["doctor", "--json"]).output)["plugin_errors"] == []


# -- trust, round two (issue 19, item 6): a plugin's model, dataset or schedule that fails when used -------------
def _broken_model() -> Any:
    raise SystemExit(4)


def _broken_dataset(*, root: Path, download: bool) -> Any:
    raise OSError(5, "Input/output error", str(root / "shards"))


def _none_schedule(optimizer: Any, *, steps_per_epoch: int, epochs: int) -> Any:
    return None


def _not_a_model() -> Any:
    return "lenet"


class BrokenEntries:
    @hookimpl
    def register_models(self, register: Any) -> None:
        register("exits", _broken_model)
        register("returns-str", _not_a_model)

    @hookimpl
    def register_datasets(self, register: Any) -> None:
        register("io-error", _broken_dataset)

    @hookimpl
    def register_schedules(self, register: Any) -> None:
        register("returns-none", _none_schedule)


@pytest.mark.parametrize(("args", "expected"), [
    (["--model", "exits"], "Error: model 'exits' (plugin 'broken') failed to build: SystemExit: 4"),
    (["--model", "returns-str"],
     "Error: model 'returns-str' (plugin 'broken') failed to build: it returned str, not a torch nn.Module"),
    (["--dataset", "io-error"],
     "Error: dataset 'io-error' (plugin 'broken') failed to load: OSError: [Errno 5] Input/output error: "),
    (["--schedule", "returns-none"],
     "Error: schedule 'returns-none' (plugin 'broken') failed to build: it returned NoneType, not a torch "
     "LRScheduler"),
])
def test_a_plugin_entry_failing_in_use_is_named(fresh_host: plugins.PluginHost, tmp_path: Path, args: list[str],
                                                expected: str) -> None:
    """Item 6: a schedule factory returning None gave an AttributeError traceback, a dataset raising OSError a
    traceback, a model raising SystemExit(4) exited 4 with no message. Now one line names the plugin and the
    entry, as for presets."""
    assert fresh_host.add_plugin(BrokenEntries(), "broken")
    result = CliRunner().invoke(main, ["train", *args, "--limit", "64", "--epochs", "1", "-q",
                                       "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith(expected)
    from aihwkit_sc import data, schedules

    use = {"--model": lambda name: zoo.build(name), "--dataset": lambda name: data.load(name),
           "--schedule": lambda name: schedules.build(name, torch.optim.SGD([torch.zeros(1, requires_grad=True)],
                                                                            lr=0.1), steps_per_epoch=2, epochs=1)}
    with pytest.raises(registry_errors.EntryFailed, match=r"^\w+ '[\w-]+' \(plugin 'broken'\) failed to"):
        use[args[0]](args[1])


def test_built_in_errors_keep_their_own_words(fresh_host: plugins.PluginHost, tmp_path: Path) -> None:
    """The wrapper names plugins' failures; the project's own one-line errors pass through unchanged."""
    from aihwkit_sc import data

    with pytest.raises(data.DatasetUnavailableError, match=r"^CIFAR-10 is not in"):
        data.load("cifar10", root=tmp_path, download=False)
    with pytest.raises(ValueError, match=r"^num_classes must be a positive integer"):
        zoo.build("lenet5", num_classes=0)


def test_unknown_plugin_name_in_the_environment_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 10: an unknown name in AIHWKIT_SC_LOAD_PLUGINS was ignored without a word (so nothing loaded)."""
    monkeypatch.setenv(plugins.ENV_VAR, "aihwkit-sc-example-devcie")
    with pytest.warns(plugins.PluginWarning) as record:
        plugins.PluginHost()
    messages = [str(w.message) for w in record if issubclass(w.category, plugins.PluginWarning)]
    assert messages == [f"{plugins.ENV_VAR} names 'aihwkit-sc-example-devcie', which is no installed aihwkit-sc "
                        "plugin (entry point or distribution): did you mean 'aihwkit-sc-example-device'?"]
    monkeypatch.setenv(plugins.ENV_VAR, "aihwkit-sc-example-device")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "rom" in plugins.PluginHost().registry("preset")


def test_digital_layers_as_one_string_is_one_name() -> None:
    """Item 10: build(..., digital_layers="first") reported "entry 'f'": a string is one name, not its letters."""
    from aihwkit.nn import AnalogConv2d

    model = zoo.build("lenet5", preset="gv", digital_layers="first")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | AnalogConv2d)]
    assert type(convs[0]) is torch.nn.Conv2d and isinstance(convs[1], AnalogConv2d)
    from aihwkit_sc.training import TrainConfig

    assert TrainConfig(digital_layers="first").digital_layers == ("first",)  # type: ignore[arg-type]


def test_numpy_scalars_are_numbers_for_analog_options() -> None:
    """Item 10: np.float32 values for analog options were rejected as "not positive"."""
    import numpy as np

    from aihwkit_sc import schedules

    model = zoo.build("lenet5", preset="gv")
    opt = zoo.make_optimizer(model, lr=0.05)
    sched = schedules.build("constant", opt, steps_per_epoch=2, analog_lr=np.float32(0.02))
    assert [g["lr"] for g in opt.param_groups if g is not opt.param_groups[0]] and sched.end_step is None
    lrs = [float(tile.get_learning_rate()) for tile in zoo.tiles(model)]
    assert len(lrs) == 4 and lrs == [pytest.approx(0.02)] * 4  # LeNet-5: two conv and two linear tiles
    schedules.build("cosine", opt, steps_per_epoch=2, epochs=1, analog_lr="device", xd_product=np.float32(0.5),
                    device_pulses=np.float64(2.0))
    assert all(tile.get_learning_rate() > 0 for tile in zoo.tiles(model))
