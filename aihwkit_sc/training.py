"""The one training loop: used by the library (:func:`train`), the CLI (``aihwkit-sc train``, ``demo``) and the
experiment runner.

Per epoch it appends a JSON line to ``metrics.jsonl`` (train/test loss and accuracy, the LR and momentum in force
as read back from the optimizer and from the tiles, wall time, samples per second, update pulses when counted) and
writes ``checkpoint.pt`` atomically (model with tile states, optimizer, scheduler, RNG states, metrics so far);
``summary.json`` says how the run ended (``complete``, ``diverged``, ``interrupted``). ``resume=True`` continues
from the checkpoint.

Reproducibility: the seed fixes torch, numpy and Python RNGs, the data order, aihwkit's device-to-device draws
(``construction_seed``) and, with the seeded aihwkit build that ``make install`` makes, aihwkit's C++ pulse and noise
generators (:mod:`aihwkit_sc.seeding`: the process-wide state before the model is built, every tile at the start of
every epoch), so an analog run repeats bit for bit, resumed or not. A stock aihwkit seeds those from the clock: analog
runs then agree only statistically (said once per process).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from aihwkit_sc import data, devices, presets, rundir, schedules, seeding, zoo
from aihwkit_sc.pulses import PulseCounter
from aihwkit_sc.rundir import (
    CHECKPOINT,
    METRICS,
    SUMMARY,
    CheckpointError,
    existing_run,
    nothing_finished,
    read_checkpoint,
)
from aihwkit_sc.schedules._common import MAX_LR, is_number
from aihwkit_sc.schedules.analog import analog_tiles_by_group, bad_analog_lrs, contexts, is_analog_group
from aihwkit_sc.schedules.shaped import XdTracking

CONFIG = "config.json"
MAX_SEED = 2**63 - 1
EVAL_BATCH = 100
"""Samples per evaluation batch (test and validation). An analog convolution unfolds its whole batch (im2col) before
the tile's forward pass, so evaluation memory grows with it: at 1000, analog VGG-8's evaluation on 32×32 images
pushed two study workers past 24 GB of RAM (``benchmarks/test_bench_eval_memory.py`` measures the ratio)."""
"""The largest seed (torch's generators take a signed 64-bit seed); every one from 0 up works on CPU and CUDA."""


class TrainingStopped(RuntimeError):
    """The run stopped early (loss not finite, or interrupted); everything recorded so far is kept."""

    def __init__(self, message: str, result: TrainResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class TrainConfig:
    """Everything that defines a run (saved as ``config.json``)."""

    model: str = "lenet5"
    preset: str = "pytorch"
    dataset: str = "mnist-5k"
    schedule: str = "one-cycle"
    schedule_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    digital_layers: tuple[str, ...] = ()
    data_root: str | None = None
    limit: int | None = None
    validation: int = 0
    count_pulses: bool = False
    torch_device: str = "cpu"
    """Where torch runs the model: ``cpu`` or ``cuda`` (aihwkit's CUDA simulator for analog tiles). "Device" alone
    means the analog device (the ``preset``) everywhere in aihwkit-sc."""

    def __post_init__(self) -> None:
        if self.torch_device not in ("cpu", "cuda"):
            raise ValueError(f"torch_device must be 'cpu' or 'cuda', got {self.torch_device!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (is_number(self.lr) and 0 < self.lr <= MAX_LR):
            raise ValueError(f"lr must be a positive number up to {MAX_LR:g}, got {self.lr!r}")
        if not (is_number(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if not (is_number(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed <= MAX_SEED):
            raise ValueError(f"seed must be an integer from 0 to {MAX_SEED} (2**63 - 1), got {self.seed!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive number of training samples, got {self.limit}")
        if not isinstance(self.validation, int) or self.validation < 0:
            raise ValueError(f"validation must be a number of held-out training samples (0 for none), got "
                             f"{self.validation!r}")
        # one name is one layer, not its letters
        self.digital_layers = (self.digital_layers,) if isinstance(self.digital_layers, str) \
            else tuple(self.digital_layers)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def upgrade(saved: dict[str, Any]) -> dict[str, Any]:
        """A ``config.json`` or checkpoint config written by an earlier version, in today's field names (torch's
        ``device`` is ``torch_device`` now)."""
        out = dict(saved)
        if "device" in out and "torch_device" not in out:
            out["torch_device"] = out.pop("device")
        return out


@dataclass
class TrainResult:
    config: TrainConfig
    metrics: list[dict[str, Any]]
    summary: dict[str, Any]
    out_dir: Path | None

    @property
    def final_test_accuracy(self) -> float | None:
        return self.metrics[-1]["test_accuracy"] if self.metrics else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def validation_split(train_set: Dataset, n: int) -> tuple[Dataset, Dataset]:
    """``(train, validation)``: ``n`` samples held out of ``train_set``, stratified by label (each class in
    proportion, largest remainders first) and fixed (a permutation seeded independently of the run's seed), so every
    run of a study tunes on the same validation samples and never trains on them."""
    labels = np.array([int(y) for _, y in train_set])  # type: ignore[attr-defined]
    if not 0 < n < len(labels):
        raise ValueError(f"validation must be between 1 and {len(labels) - 1} samples of {len(labels)}, got {n}")
    rng = np.random.default_rng(54321)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * n / len(labels)
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[: n - take.sum()]] += 1
    held = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take,
                                                                                             strict=True)])
    keep = np.setdiff1d(np.arange(len(labels)), held)
    return Subset(train_set, keep.tolist()), Subset(train_set, np.sort(held).tolist())


def load_data(config: TrainConfig) -> tuple[Dataset, Dataset]:
    """``(train, test)`` as the run uses them: without the ``validation`` hold-out and cut to ``limit``."""
    return _load_splits(config)[:2]


def _load_splits(config: TrainConfig) -> tuple[Dataset, Dataset, Dataset | None]:
    train_set, test_set = data.load(config.dataset, root=config.data_root)
    val_set = None
    if config.validation:
        train_set, val_set = validation_split(train_set, config.validation)
    if config.limit:  # a fixed random subset (datasets may be sorted by class)
        pick = torch.Generator().manual_seed(12345)
        n_train = min(config.limit, len(train_set))  # type: ignore[arg-type]
        n_test = min(max(config.limit // 4, 1), len(test_set))  # type: ignore[arg-type]
        train_set = Subset(train_set, torch.randperm(len(train_set), generator=pick)[:n_train].tolist())  # type: ignore[arg-type]
        test_set = Subset(test_set, torch.randperm(len(test_set), generator=pick)[:n_test].tolist())  # type: ignore[arg-type]
    return train_set, test_set, val_set


def _tile_lrs(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(ctx.analog_tile.get_learning_rate())
            for g in optimizer.param_groups if is_analog_group(g) for ctx in contexts(g)]


def _digital_group(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return next((g for g in optimizer.param_groups if not is_analog_group(g)), optimizer.param_groups[0])


def evaluate(model: nn.Module, loader: DataLoader, torch_device: str = "cpu") -> tuple[float, float]:
    """(mean loss, accuracy) over ``loader``."""
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(torch_device), y.to(torch_device)
            out = model(x)
            loss_sum += float(nn.functional.cross_entropy(out, y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
            total += len(y)
    model.train()
    return loss_sum / max(total, 1), correct / max(total, 1)


class Run:
    """One training run's objects, built from a :class:`TrainConfig` (so a checkpoint can rebuild them).

    ``schedule_options``: the schedule's options as resolved by an earlier build of this run (a checkpoint's: the
    range-test ``max_lr``, the measured ``xd_product``); given, nothing is measured again. ``config`` always stays
    what the user asked for, so a run resumes under the same command any number of times.
    """

    def __init__(self, config: TrainConfig, schedule_options: dict[str, Any] | None = None,
                 preset: presets.Preset | None = None) -> None:
        self.config = config
        seed_everything(config.seed)
        self.train_set, self.test_set, self.val_set = _load_splits(config)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.train_loader = DataLoader(self.train_set, batch_size=config.batch_size, shuffle=True,
                                       generator=self.generator)
        self.test_loader = DataLoader(self.test_set, batch_size=EVAL_BATCH)
        self.val_loader = DataLoader(self.val_set, batch_size=EVAL_BATCH) if self.val_set is not None else None
        # resolved once (by train(), or here); the zoo and the schedules take the object, not the name
        self.preset = (preset if preset is not None else presets.get(config.preset)).seeded(config.seed)
        if config.torch_device == "cpu":
            seeding.seed_global(config.seed)  # the tiles built next (and the set-up's draws) repeat
        self.model = zoo.build(config.model, preset=self.preset, digital_layers=config.digital_layers)
        if config.torch_device == "cpu":
            seeding.seed_setup(self.model, config.seed)  # the set-up's measurements repeat in any process
        if config.torch_device == "cuda":  # aihwkit moves analog tiles to its CUDA simulator with the module
            if not torch.cuda.is_available():
                raise RuntimeError("torch_device 'cuda' requested but torch sees no GPU (torch.cuda.is_available() "
                                   "is False); use torch_device 'cpu'")
            self.model = self.model.cuda()
        self.optimizer = zoo.make_optimizer(self.model, lr=config.lr, momentum=config.momentum,
                                            weight_decay=config.weight_decay)
        self.lr_find: dict[str, Any] | None = None
        if schedule_options is not None:
            self.schedule_options = dict(schedule_options)
        else:
            self.schedule_options = self._resolve_options()
        self.scheduler = schedules.build(config.schedule, self.optimizer, epochs=config.epochs,
                                         steps_per_epoch=len(self.train_loader), **self.schedule_options)

    def _resolve_options(self) -> dict[str, Any]:
        """The schedule options with the measured ones filled in: those given as ``"auto"`` and those the schedule's
        registry entry ``needs`` and the user left out (:data:`aihwkit_sc.schedules.MEASURED`)."""
        options = dict(self.config.schedule_options)
        wanted = [k for k, v in options.items() if isinstance(v, str) and v == "auto"]
        wanted += [k for k in schedules.needs(self.config.schedule) if k not in options]
        wanted.sort(key=lambda k: k != "xd_product")  # the analog range test sweeps in units of the measured x·d
        for key in wanted:
            value = self.measure(key, options)
            if value is None:
                options.pop(key, None)
            else:
                options[key] = value
        return options

    def measure(self, option: str, known: dict[str, Any] | None = None) -> Any:
        """The run's measurement for schedule option ``option`` (one of ``schedules.MEASURED``), ``None`` when there
        is nothing to measure; ``known``: the options resolved so far (a measured ``xd_product`` is reused)."""
        if option == "xd_product":
            return self.measure_xd() if devices.is_analog(self.model) else None
        if option in ("max_lr", "lr"):
            return self.range_test_lr()
        if option == "device_pulses":
            if not devices.is_analog(self.model):
                return None
            xd = (known or {}).get("xd_product")
            return self.range_test_pulses(xd if xd is not None and xd != "auto" else self.measure_xd(),
                                          (known or {}).get("device_reference"))
        raise ValueError(f"a run cannot measure {option!r}: it measures {', '.join(schedules.MEASURED)}")

    def range_test_lr(self) -> float:
        """An LR range test's suggestion (model, tiles and optimizer restored afterwards); digital models only: on
        analog layers the test would measure the device, and their LR comes from the device peak instead."""
        from aihwkit_sc.lr_finder import lr_find

        if devices.is_analog(self.model):
            raise ValueError("max_lr='auto' or lr='auto' (an LR range test) is for digital models: analog layers take "
                             "their own device peak (device_pulses='auto' runs the analog range test in pulses); give "
                             "the LR a number for the digital layers")
        result = lr_find(self.model, self.optimizer, self.train_loader, num_iter=min(100, 3 * len(self.train_loader)))
        self.lr_find = {"suggestion": result.suggestion, "steepest": result.steepest, "valley": result.valley}
        return result.suggestion

    def range_test_pulses(self, xd_product: Any, reference: str | None = None) -> float:
        """An analog range test's suggestion in device pulses (:func:`aihwkit_sc.lr_finder.pulse_find`; model, tiles
        and optimizer restored afterwards), recorded with its rule in ``lr_find``."""
        from aihwkit_sc.lr_finder import pulse_find

        result = pulse_find(self.model, self.optimizer, self.train_loader, xd_product, reference=reference,
                            num_iter=min(100, 3 * len(self.train_loader)))
        self.lr_find = {"unit": "device pulses", "rule": "valley", "suggestion": result.suggestion,
                        "steepest": result.steepest, "valley": result.valley}
        return result.suggestion

    def measure_xd(self) -> list[float]:
        """Per-tile ``max|x|·max|d|`` on the first training samples (no update applied, data order untouched)."""
        from aihwkit_sc.schedules import measure_xd_product

        x, y = next(iter(DataLoader(self.train_set, batch_size=self.config.batch_size)))
        return measure_xd_product(self.model, self.optimizer, x, y)

    def state(self, metrics: list[dict[str, Any]], epoch: int) -> dict[str, Any]:
        return {
            "config": self.config.to_json(), "epoch": epoch, "metrics": metrics,
            "schedule_options": self.schedule_options,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        devices.load_state(self.model, state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])


def canonical(config: TrainConfig) -> TrainConfig:
    """``config`` with its model, preset, dataset and schedule as canonical names (``gv`` -> ``gokmen-vlasov``) and
    its data root as an absolute path (``None`` when it is the default root), so an alias and its name, or a path
    and its spelling, are the same run; raises a one-line error for an unknown name."""
    return resolve(config)[0]


def resolve(config: TrainConfig) -> tuple[TrainConfig, presets.Preset]:
    """:func:`canonical` and the preset object its name resolved to: the one lookup of a run (:func:`train` hands
    the object to :class:`Run`, which does not look the name up again)."""
    from aihwkit_sc.plugins import registry

    preset = presets.get(config.preset)
    return dataclasses.replace(
        config, preset=preset.name, model=registry("model").resolve(config.model),
        dataset=registry("dataset").resolve(config.dataset), schedule=registry("schedule").resolve(config.schedule),
        data_root=_canonical_root(config.data_root)), preset


def _canonical_root(root: str | None) -> str | None:
    if root is None:
        return None
    if not root:
        raise ValueError("data_root must name a folder, got ''; leave it out for the default "
                         f"({data.default_root()})")
    path = Path(root).expanduser().resolve()
    return None if path == data.default_root().expanduser().resolve() else str(path)


class _Terminated(BaseException):
    """SIGTERM, turned into an exception so the run ends like a Ctrl-C (summary written, checkpoint kept)."""


def train(
    config: TrainConfig, out_dir: str | Path | None = None, *, resume: bool = False, overwrite: bool = False,
    quiet: bool = False, on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train as ``config`` says; write metrics, checkpoints and a summary to ``out_dir`` when given.

    ``resume`` continues from ``out_dir/checkpoint.pt`` (any number of times; ``metrics.jsonl`` is rewritten from the
    checkpoint, which holds the metrics of every finished epoch). Without ``resume``, a folder that holds an earlier
    run is refused unless ``overwrite``. The folder is locked while the run trains, so two processes never share it.

    Raises :class:`TrainingStopped` (with the partial :class:`TrainResult`) when the loss stops being finite, the
    run is interrupted (Ctrl-C, SIGTERM) or its files cannot be written; the metrics and the last epoch's checkpoint
    are kept.
    """
    config, preset = resolve(config)  # names resolved once, here at the edge
    schedules.check_run_options(config.schedule, config.schedule_options)  # one line, before anything is touched
    out = Path(out_dir) if out_dir is not None else None
    if out is None:
        return _train(config, None, None, quiet, on_epoch, preset)
    with rundir.locked(out):
        try:
            state = _check_run_dir(config, out, resume, overwrite)
        except KeyboardInterrupt:  # stopped before set-up: say so, as a stop during set-up does
            if not (out / SUMMARY).is_file():
                rundir.atomic_write_text(out / SUMMARY, json.dumps(
                    _summary(config, [], "interrupted", "interrupted by the user (Ctrl-C)", None), indent=2))
            raise
        return _train(config, out, state, quiet, on_epoch, preset)


def _check_run_dir(config: TrainConfig, out: Path, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """The checkpoint to continue (``resume``), or ``None`` for a new run; refuses a folder that holds another run."""
    state = None
    if resume and nothing_finished(out):  # stopped before its first epoch ended: resuming is starting again
        return None
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise FileNotFoundError(f"cannot resume: no {CHECKPOINT} in {out}; start the run without --resume")
        state = read_checkpoint(out / CHECKPOINT, config.torch_device)
        try:
            old = TrainConfig.upgrade(state["config"])
            saved = canonical(TrainConfig(**{**old, "digital_layers": tuple(old["digital_layers"])}))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{out / CHECKPOINT} holds a configuration this version cannot read "
                                  f"({exc})") from None
        if saved != config:
            changed = [f.name for f in dataclasses.fields(config)
                       if getattr(saved, f.name) != getattr(config, f.name)]
            raise CheckpointError(
                f"cannot resume: {out / CHECKPOINT} was written for a different configuration "
                f"({', '.join(changed)} differ); use the same options or a new output directory")
    elif (found := existing_run(out)) and not overwrite:
        raise rundir.RunDirectoryError(
            f"{out} already holds a run ({', '.join(found)}); --resume continues it, --overwrite replaces it, "
            "or choose another --out")
    return state


def _train(config: TrainConfig, out: Path | None, state: dict[str, Any] | None, quiet: bool,
           on_epoch: Callable[[dict[str, Any]], None] | None, preset: presets.Preset | None = None) -> TrainResult:
    metrics: list[dict[str, Any]] = list(state["metrics"]) if state else []
    start_epoch = int(state["epoch"]) if state else 0
    run: Run | None = None
    status, message = "complete", ""
    try:
        with rundir.sigterm_raises(_Terminated):
            # set-up (data, model, a range test, the x*d measurement) can take a while: a stop there also ends
            # the run with a summary; a bad option fails here, before anything in ``out`` is touched
            run = Run(config, schedule_options=state["schedule_options"] if state else None, preset=preset)
            if state is not None:
                run.restore(state)
            if out:
                rundir.atomic_write_text(out / CONFIG, json.dumps(config.to_json(), indent=2))
                # the checkpoint is the record: a torn, doubled or missing metrics line is rebuilt from it
                rundir.atomic_write_text(out / METRICS, "".join(json.dumps(row) + "\n" for row in metrics))
                for stale in (SUMMARY, "curves.png"):
                    if state is None:
                        (out / stale).unlink(missing_ok=True)
            counter = PulseCounter() if config.count_pulses and devices.is_analog(run.model) else None
            for epoch in range(start_epoch, config.epochs):
                row = train_epoch(run, epoch, counter, quiet)
                if out:
                    _save_epoch(run, out, [*metrics, row], epoch + 1)
                metrics.append(row)
                if on_epoch:
                    on_epoch(row)
    except _Diverged as exc:
        status, message = "diverged", str(exc)
    except KeyboardInterrupt:
        status, message = "interrupted", "interrupted by the user (Ctrl-C)"
    except _Terminated:
        status, message = "interrupted", "terminated (SIGTERM)"
    except (_WriteFailed, _BadLR) as exc:
        status, message = "failed", str(exc)
    summary = _summary(config, metrics, status, message, run)
    result = TrainResult(config, metrics, summary, out)
    if out:
        # a second Ctrl-C (a sweep's workers get one from the terminal and one from their watchdog) or a SIGTERM
        # must not tear the summary: held until it and the curves are written
        with rundir.deferred_interrupts() as held:
            try:
                rundir.atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2))
                if metrics:
                    from aihwkit_sc.plots import plot_curves

                    plot_curves({config.schedule: metrics}, out / "curves.png",
                                title=f"{config.model} on {config.preset}")
            except OSError as exc:
                if status == "complete":
                    status = summary["status"] = "failed"
                message = message or rundir.write_error(exc, out / SUMMARY, "cannot write the summary")
        if held and status == "complete":  # the run had finished: the stop is for whoever called it
            raise KeyboardInterrupt
    if status != "complete":
        raise TrainingStopped(message + (f"; {len(metrics)} finished epoch(s) kept in {out}" if out else ""), result)
    return result


class _WriteFailed(RuntimeError):
    pass


def _save_epoch(run: Run, out: Path, metrics: list[dict[str, Any]], epochs_done: int) -> None:
    """Checkpoint first (the record), then the metrics line; one line of error when the folder cannot be written."""
    checkpoint = out / CHECKPOINT
    # serialized in memory, written by Python: a full disk or an unwritable folder is an OSError with its errno, not
    # torch's "[enforce fail at inline_container.cc] unexpected pos"
    buffer = io.BytesIO()
    torch.save(run.state(metrics, epochs_done), buffer)
    target = checkpoint
    try:
        rundir.atomic_write(checkpoint, lambda tmp: tmp.write_bytes(buffer.getbuffer()))
        target = out / METRICS
        with open(target, "a") as f:
            f.write(json.dumps(metrics[-1]) + "\n")
    except OSError as exc:
        raise _WriteFailed(rundir.write_error(exc, target, f"cannot save epoch {epochs_done}")) from None


class _Diverged(RuntimeError):
    pass


class _BadLR(RuntimeError):
    """The schedule gave an analog group an LR a tile cannot take (aihwkit would stop with a C++ error)."""


def _digital_weights_finite(model: nn.Module) -> bool:
    """Whether every torch-held weight is finite (an analog tile's weights are bounded by its device and stay in C++:
    aihwkit's placeholder parameters cannot be read)."""
    analog = {id(p) for p in contexts({"params": list(model.parameters())})}
    return all(bool(torch.isfinite(p).all()) for p in model.parameters() if id(p) not in analog)


def train_epoch(run: Run, epoch: int, counter: PulseCounter | None, quiet: bool) -> dict[str, Any]:
    """Train ``run`` for epoch ``epoch`` (0-based) and return its ``metrics.jsonl`` row; ``counter`` adds pulses and
    update telemetry. :func:`train` calls it once per epoch; benchmarks time it alone."""
    from tqdm.auto import tqdm

    config, model, optimizer, scheduler = run.config, run.model, run.optimizer, run.scheduler
    if config.torch_device == "cpu":
        seeding.seed_tiles(model, config.seed, epoch)  # from (seed, epoch): a resumed run continues the same draws
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    pulses_before = counter.total if counter else 0.0
    digital = _digital_group(optimizer)
    lr_in_force = float(digital["lr"])
    tile_lr_in_force = _tile_lrs(optimizer)
    momentum = digital.get("momentum", digital.get("betas", (None,))[0])
    start = time.perf_counter()
    bar = tqdm(run.train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
               disable=True if quiet else None, unit="batch")
    analog_pairs = analog_tiles_by_group(optimizer)
    tracking = scheduler if isinstance(scheduler, XdTracking) else None  # xd_refresh: the peak follows x·d
    tracks_steps = tracking is not None and tracking.xd_refresh == "step"
    for batch, (x, y) in enumerate(bar):
        x, y = x.to(config.torch_device), y.to(config.torch_device)
        optimizer.zero_grad()
        output = model(x)
        loss = nn.functional.cross_entropy(output, y)
        value = loss.item()
        if not math.isfinite(value):
            bar.close()
            lr_now = optimizer.param_groups[0]["lr"]
            raise _Diverged(f"loss became {value} in epoch {epoch + 1} at LR {lr_now:.4g}; lower the (max) LR")
        loss.backward()
        if counter:
            counter.observe(optimizer)
        if tracks_steps and tracking:  # xd_refresh="step": the device peak follows these inputs' and errors' x·d
            tracking.observe()
        if analog_pairs and (bad := bad_analog_lrs(optimizer, analog_pairs)):
            bar.close()
            group, lr_bad = next(iter(bad.items()))
            raise _BadLR(f"schedule {config.schedule!r} gave analog param group {group} the LR {lr_bad:g} in epoch "
                         f"{epoch + 1} at batch {batch + 1}; analog tiles take only positive finite LRs")
        optimizer.step()
        scheduler.step()
        loss_sum += value * len(y)
        correct += int((output.argmax(1) == y).sum())
        seen += len(y)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
    wall = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, run.test_loader, config.torch_device)
    val_loss, val_acc = evaluate(model, run.val_loader, config.torch_device) if run.val_loader else (None, None)
    # a loss that stayed finite on every batch while the weights overflowed (a huge LR) shows here
    if not math.isfinite(test_loss) or not _digital_weights_finite(model):
        raise _Diverged(f"the weights or the test loss ({test_loss}) became non-finite in epoch {epoch + 1} at LR "
                        f"{optimizer.param_groups[0]['lr']:.4g}; lower the (max) LR")
    # per analog group, re-measured each epoch on the same first training samples: |d| shrinks as the loss falls
    xd = run.measure_xd() if devices.is_analog(model) else None
    if xd is not None and tracking is not None and tracking.xd_refresh == "epoch":
        tracking.refresh_xd(xd)  # the next epoch's device peaks: the scheduled pulses of the x·d measured now
    return {
        "epoch": epoch + 1,
        "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
        "test_loss": test_loss, "test_accuracy": test_acc, "val_loss": val_loss, "val_accuracy": val_acc,
        "lr": lr_in_force, "lr_end": float(_digital_group(optimizer)["lr"]),
        "tile_lr": tile_lr_in_force, "tile_lr_end": _tile_lrs(optimizer),
        "momentum": momentum,
        "wall_time_s": wall, "samples_per_s": seen / wall if wall else None,
        "pulses": (counter.total - pulses_before) if counter else None,
        "xd_product": xd,
        "pulses_method": counter.method if counter else None,
        # per analog group with count_pulses: mean bit length, fraction of rows at the bit-length cap, pulses per row
        "update_telemetry": counter.take_layers() if counter else None,
    }


def _summary(
    config: TrainConfig, metrics: list[dict[str, Any]], status: str, message: str, run: Run | None
) -> dict[str, Any]:
    accs = [m["test_accuracy"] for m in metrics]
    return {
        "status": status, "message": message, "epochs_done": len(metrics), "epochs": config.epochs,
        "final_test_accuracy": accs[-1] if accs else None, "best_test_accuracy": max(accs) if accs else None,
        "final_test_loss": metrics[-1]["test_loss"] if metrics else None,
        "wall_time_s": sum(m["wall_time_s"] for m in metrics),
        "pulses": sum(m["pulses"] for m in metrics) if metrics and metrics[0]["pulses"] is not None else None,
        "schedule_options": run.schedule_options if run else None, "lr_find": run.lr_find if run else None,
        "aihwkit_build": seeding.build_label(),  # which aihwkit made the run: seeded or stock, and its build variant
    }
