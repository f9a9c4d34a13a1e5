"""The ``aihwkit-sc`` command line. One module per command group; each is imported only when its command runs,
so ``aihwkit-sc --help`` loads neither torch nor aihwkit.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import click

from aihwkit_sc._version import __version__

# command name -> "module:attribute", imported on first use
COMMANDS: dict[str, tuple[str, str]] = {
    "datasets": ("aihwkit_sc.cli.datasets:datasets", "Datasets: list."),
    "demo": ("aihwkit_sc.cli.demo:demo", "Demos: LeNet-5 on MNIST, step vs one-cycle on three devices."),
    "doctor": ("aihwkit_sc.cli.doctor:doctor", "Check the installation: versions, aihwkit ABI, CPU/CUDA, data."),
    "lr-find": ("aihwkit_sc.cli.train:lr_find", "LR range test with suggested max LRs and a plot."),
    "models": ("aihwkit_sc.cli.models:models", "Model builders: list."),
    "plugins": ("aihwkit_sc.cli.plugins:plugins", "Installed plugins (built-in and third-party)."),
    "presets": ("aihwkit_sc.cli.presets:presets", "Named device presets."),
    "reproduce": ("aihwkit_sc.cli.reproduce:reproduce", "Reproduce the poster's Table 1 and figures."),
    "schedules": ("aihwkit_sc.cli.schedules:schedules", "Learning-rate schedules: list, plot."),
    "study": ("aihwkit_sc.cli.study:study", "Studies: list, run, report (the evidence pages and their CSVs)."),
    "train": ("aihwkit_sc.cli.train:train", "Train a model on a device preset with a schedule."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands live in modules imported only when invoked (click's documented pattern)."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line, showing each plugin warning as one line on stderr (the library warns with
        :class:`aihwkit_sc.plugins.PluginWarning`; Python would add a file name and a source line)."""
        previous = warnings.formatwarning

        def one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                     line: str | None = None) -> str:
            if category.__name__ == "PluginWarning":  # by name: importing the plugin machinery here costs time
                return f"warning: {message}\n"
            return previous(message, category, filename, lineno, line)

        warnings.formatwarning = one_line
        try:
            return super().main(*args, **kwargs)
        finally:
            warnings.formatwarning = previous

    def _add_plugin_commands(self) -> None:
        from aihwkit_sc.plugins import get_host

        get_host().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            target, _ = self.lazy[cmd_name]
            module_name, attr = target.split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            return command
        self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List lazy commands with their short help without importing them."""
        self._add_plugin_commands()
        rows = [(name, help_) for name, (_, help_) in sorted(self.lazy.items())]
        rows += [
            (name, cmd.get_short_help_str())
            for name in super().list_commands(ctx)
            if (cmd := super().get_command(ctx, name)) is not None and name not in self.lazy
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="aihwkit-sc", message="%(prog)s %(version)s")
def main() -> None:
    """aihwkit-sc: super-convergence (one-cycle LR) for analog in-memory training with IBM aihwkit."""
