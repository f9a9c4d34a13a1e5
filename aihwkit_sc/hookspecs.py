"""Hook specifications: how plugins add presets, schedules, models, datasets, studies and CLI commands.

Every hook hands the plugin a ``register`` callback (the host owns the registries; a plugin only declares), in the
style of simonw/llm. A plugin module implements any subset::

    from aihwkit_sc import hookimpl

    @hookimpl
    def register_presets(register):
        register("my-device", my_rpu_config_factory, aliases=["md"], description="...")

and is found through an entry point in the group ``aihwkit_sc``::

    [project.entry-points.aihwkit_sc]
    my_device = "my_package.plugin"

Built-in presets, schedules, models, datasets and studies (and the kinds themselves, ``register_kinds``) are
registered through these same hooks
(see :data:`aihwkit_sc.plugins.DEFAULT_PLUGINS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

PROJECT = "aihwkit_sc"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback a ``register_*`` hook receives."""

    def __call__(
        self, name: str, obj: Any, *, aliases: list[str] | tuple[str, ...] = (), description: str = "", **extra: Any
    ) -> None: ...


class RegisterKind(Protocol):
    """The callback the ``register_kinds`` hook receives."""

    def __call__(self, kind: str, *, hook: str, validate: Any, plural: str | None = None) -> None: ...


@hookspec
def register_kinds(register: RegisterKind) -> None:
    """Declare kinds of named things and how their entries are checked (the plugin host knows none by itself).

    :param register: ``register(kind, *, hook, validate, plural=None)``: entries of ``kind`` come from the hook named
        ``hook`` (one of these specs); ``validate(name, obj, extra)`` raises a one-line ``TypeError`` for an entry
        that is not one (``extra``: the keywords it was registered with besides aliases and description);
        ``plural`` names the kind in messages (default ``kind + "s"``). The built-in kinds (preset, schedule,
        model, dataset, study) are declared by the built-in plugins, each next to its own entries.
    """


@hookspec
def register_presets(register: Register) -> None:
    """Register named device presets.

    :param register: ``register(name, config, *, aliases=(), description="")`` where ``config`` is a callable
        returning a fresh aihwkit RPU configuration (an RPU config class works), an RPU configuration instance
        (copied on every use), a :class:`aihwkit_sc.presets.Preset`, or ``None`` for a plain digital preset.
        Names are kebab-case; a name or alias already taken, or an object of none of these types (a factory that
        is not callable), is reported naming the plugin and the preset, and skipped. A factory that raises or
        returns something else is reported when the preset is used (listings show it with kind ``error``).
    """


@hookspec
def register_schedules(register: Register) -> None:
    """Register named learning-rate schedules.

    :param register: ``register(name, factory, *, aliases=(), description="", needs=())`` where ``factory`` builds a
        ``torch.optim.lr_scheduler.LRScheduler`` from an optimizer and keyword options (a run always passes
        ``epochs`` and ``steps_per_epoch``), and ``needs`` names options of the factory that a training run measures
        for it when left out (``aihwkit_sc.schedules.MEASURED``: ``xd_product``, ``max_lr``); a non-callable, or a
        ``needs`` naming anything else, is reported naming the plugin and the schedule, and skipped. Options
        annotated with ``aihwkit_sc.schedules.LR``, ``Positive``, ``Momentum``, ``Fraction`` (or
        ``Annotated[float, Range(...)]``) are range-checked where they are parsed; a scheduler built on
        ``TileSyncMixin`` with ``end_step`` set holds its final LR from that step on. A factory that raises when
        used (``ValueError`` goes through as the user's bad input) or returns no ``LRScheduler`` is one error line
        naming the plugin and the schedule.
    """


@hookspec
def register_models(register: Register) -> None:
    """Register model builders.

    :param register: ``register(name, builder, *, aliases=(), description="")`` where ``builder`` is a callable
        taking keyword arguments (``num_classes`` and the model's options) and returning a digital ``torch.nn.Module``;
        a non-callable is reported naming the plugin and the model, and skipped.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets.

    :param register: ``register(name, loader, *, aliases=(), description="")`` where ``loader`` returns the train
        and test ``torch.utils.data.Dataset`` for keyword options such as ``root``; a non-callable is reported naming
        the plugin and the dataset, and skipped.
    """


@hookspec
def register_studies(register: Register) -> None:
    """Register studies that ``aihwkit-sc study run|report NAME`` runs.

    :param register: ``register(name, main, *, aliases=(), description="")`` where ``main(argv)`` runs the study
        with its own command-line options (a list of strings): it trains what its CSV still lacks, appends a row per
        finished run and rewrites its page; with ``--report-only`` in ``argv`` it only rewrites the page from the CSV.
        ``aihwkit_sc.experiments.studies`` has the shared parts (the CSV, resume by key, the page). A non-callable is
        reported naming the plugin and the study, and skipped.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``aihwkit-sc`` command line (an exception here, ``SystemExit`` included, is reported).

    :param cli: the root click group; add sub-commands with ``@cli.command()`` or ``cli.add_command(...)``.
        Keep heavy imports inside the command functions so ``aihwkit-sc --help`` stays fast.
    """
