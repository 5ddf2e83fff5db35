"""The training engine: ``train(model, corpus, out)`` runs a registered model's Trainer.

A run is a sequence of steps; a step is one round of the trainer's current phase (for
an MLE model: one batch, one update). The engine

- picks the device (CUDA when present, else the CPU; ``device`` overrides) and, under
  ``torchrun``, joins the process group and shards the data (``distributed``);
- reads batches in a seeded order: epoch ``e``'s items are a permutation drawn from
  ``(seed, e)``, cut into batches; the data position is the epoch and the index of the
  next batch, so a resumed run reads exactly the batches an uninterrupted one would;
- every ``valid_every`` steps computes the trainer's validation scalars (means over the
  first ``valid_batches`` batches of the valid split, weighted by items, logged as
  ``valid_<name>``) and stops early after ``patience`` validations without a new best of
  the trainer's ``validation_target`` (saving ``best.pt`` at each new best); a trainer
  without a target gets neither, and one whose validation reports nothing is not
  validated again;
- every ``checkpoint_every`` steps and at the end writes ``checkpoints/last.pt``
  atomically, and ``log_every`` steps a row of means to ``log.csv`` (and TensorBoard):
  each update's loss and named scalars as ``<step>_<name>`` (columns are added as names
  first appear);
- on ``resume``, goes on from the newest usable checkpoint, never replacing a newer
  file or a log row with an older state (``Session._restore``); ``resume="auto"`` does
  so when the run folder already holds the run and starts it otherwise, so that a
  command rerun as it was (``torchrun --max-restarts`` after a failed worker, a
  requeued cluster job) goes on from the last checkpoint;
- stops at the first of: the budget (steps, epochs or minutes of training, counted over
  every session of the run), the end of the trainer's schedule, early stopping.

Everything that can be wrong with the request (model, settings, corpus, data, run
folder, checkpoint) is checked before anything is written.
"""
from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from deepsym import __version__
from deepsym.data.corpus import Corpus
from deepsym.errors import CheckpointError, DeepsymError
from deepsym.modeling import ModelSpec, former_defaults, to_dict
from deepsym.training import distributed, rundir
from deepsym.training.base import Phase, Trainer, UpdateLog, schedule_length, to_device
from deepsym.training.checkpoint import (
    BEST,
    LAST,
    check_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from deepsym.training.devices import choose_device
from deepsym.training.distributed import Context
from deepsym.training.monitor import Monitor
from deepsym.training.options import TrainOptions, apply_settings, check_seed

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Budget:
    """How long to train: ``steps``, ``epochs`` (full passes over the train split) or
    ``minutes`` of training; with several, the first reached ends the run. Each must be
    positive and finite (``minutes=inf`` would train forever)."""

    steps: int | None = None
    epochs: int | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not value > 0:
                raise DeepsymError(f"--{name} must be positive, not {value}")
            if value is not None and not math.isfinite(value):
                raise DeepsymError(f"--{name} must be a finite number, not {value}")

    @property
    def empty(self) -> bool:
        return self.steps is None and self.epochs is None and self.minutes is None


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its folder, the steps done, why it stopped ("steps", "epochs",
    "minutes", "schedule" or "early stopping"), the training loss of the last log row
    (the mean of its updates' losses), the last and the best value of the trainer's
    ``validation_target`` (None without one), and the training time of all sessions in
    seconds."""

    out: Path
    step: int
    stopped: str
    train_loss: float | None
    valid_loss: float | None
    best_valid_loss: float | None
    elapsed: float
    valid_name: str = "loss"  # the validation target's name (``valid_loss`` is its value)


def train(model: str | None, corpus: str | Path | None, out: str | Path, *,
          settings: dict[str, Any] | None = None, budget: Budget | None = None,
          seed: int | None = None, device: str | None = None,
          resume: bool | Literal["auto"] = False, progress: bool = False,
          tensorboard: bool = True) -> RunResult:
    """Train the registered ``model`` on ``corpus`` into the run folder ``out``.

    ``settings``: values for the model's config fields and the training options (see
    ``TrainOptions``). ``resume``: continue the run in ``out`` from its newest usable
    checkpoint (``Session._restore`` says which, sets unusable ones aside and keeps
    every log row); ``model``, ``corpus``, ``seed`` and the settings default to the
    run's, and must match it when given; a ``budget`` replaces the run's. Without
    ``resume``, ``out`` must be absent or empty. ``resume="auto"``: resume when ``out``
    holds a run (which must be this one), else start it. ``progress``: a progress bar on
    stderr.
    """
    session = Session.prepare(model, corpus, Path(out), settings or {}, budget, seed,
                              device, resume, distributed.context_from_env())
    try:
        return session.run(progress, tensorboard)
    finally:
        distributed.stop(session.context)


@dataclass
class EarlyStopping:
    """The lowest value of the validation target so far, its step, and validations
    since then."""

    best: float = math.inf
    best_step: int = 0
    waited: int = 0


@dataclass
class Interval:
    """Sums since the last log row: ``values`` by log column (each update's loss, then
    its other named scalars), ``losses`` the columns that are updates' losses."""

    steps: int = 0
    seconds: float = 0.0
    values: dict[str, list[float]] = field(default_factory=dict)
    losses: set[str] = field(default_factory=set)
    norms: list[float] = field(default_factory=list)
    skipped: int = 0

    def add(self, logs: list[UpdateLog]) -> None:
        self.steps += 1
        for log in logs:
            if not log.finite:
                self.skipped += 1
                continue
            if log.loss is not None:
                self.losses.add(f"{log.update}_loss")
                self.values.setdefault(f"{log.update}_loss", []).append(log.loss)
            for name, value in log.scalars.items():
                self.values.setdefault(f"{log.update}_{name}", []).append(value)
            if log.grad_norm is not None:
                self.norms.append(log.grad_norm)


@dataclass
class Session:
    """One session of a run: everything checked and built by ``prepare``, ready to
    ``run``; the fields after ``context`` are the state of the loop."""

    spec: ModelSpec
    trainer_class: type[Trainer]
    config: Any
    options: TrainOptions
    train_data: Any
    valid_data: Any
    collate: Callable[[list[Any]], Any]
    record: dict[str, Any]
    out: Path
    resume: bool
    seed: int
    budget: Budget
    device: torch.device
    context: Context
    defaults: dict[str, dict[str, Any]]  # what a run saved before a field existed had
    trainer: Trainer = field(init=False)
    phases: list[Phase] = field(init=False)
    stream: BatchStream = field(init=False)
    monitor: Monitor = field(init=False)
    total: int | None = None
    step: int = 0
    elapsed: float = 0.0
    early: EarlyStopping = field(default_factory=EarlyStopping)
    last_loss: float | None = None
    valid_loss: float | None = None
    valid: dict[str, float] = field(default_factory=dict)
    resumed_from: Path | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def prepare(cls, model: str | None, corpus_path: str | Path | None, out: Path,
                settings: dict[str, Any], budget: Budget | None, seed: int | None,
                device: str | None, resume: bool | Literal["auto"], context: Context
                ) -> Session:
        """Resolve the request (a resumed run's own settings are the defaults), check it
        all (model, settings, corpus, data, run folder, device) and join the process
        group; nothing is written. Each process reads the run folder before it joins the
        group and rank 0 writes to it only after all have joined, so all of them see the
        same folder and, with ``resume="auto"``, decide alike."""
        from deepsym.plugins import manager

        resume = rundir.read_record(out) is not None if resume == "auto" else bool(resume)
        stored = _stored_run(out) if resume else {}
        model = model or stored.get("model")
        if model is None:
            raise DeepsymError("name the MODEL to train (deepsym train --list shows them)")
        if stored and model != stored.get("model"):  # before its settings meet another config
            raise DeepsymError(f"cannot resume {out}: it holds a different run (model is "
                               f"{stored.get('model')!r} there, {model!r} here)")
        corpus_path = corpus_path or stored.get("corpus", {}).get("path")
        if corpus_path is None:
            raise DeepsymError("name the corpus to train on: --corpus CORPUS")
        seed = check_seed(stored.get("seed", 0) if seed is None else seed)
        if budget is None or budget.empty:
            budget = Budget(**stored["budget"]) if stored else Budget()
        spec = manager().models.get(model)
        trainer_class = spec.trainer_class()
        config, options = apply_settings(
            spec.config_class(), settings, base=stored.get("config"),
            option_base=stored.get("options"), model=f"model {spec.name!r}")
        corpus = Corpus.open(corpus_path)
        config = for_corpus(config, corpus)
        representation = spec.make_representation(config)
        train_data, collate = trainer_class.dataset(config, corpus, "train", representation,
                                                    seed, transpose=options.transpose)
        _check_data(train_data, corpus, options, context)
        valid_data = None
        if options.valid_every and len(corpus.split("valid")):
            valid_data, _ = trainer_class.dataset(config, corpus, "valid", representation,
                                                  seed)
        record = {
            "format": rundir.FORMAT, "version": rundir.VERSION, "deepsym": __version__,
            "model": spec.name, "representation": representation.name,
            "config": to_dict(config), "options": to_dict(options), "seed": seed,
            "processes": context.world_size,
            "corpus": {"path": str(corpus.path.resolve()),
                       "identity": rundir.corpus_identity(corpus)},
            "budget": asdict(budget),
        }
        default_config, default_options = apply_settings(spec.config_class(), {})
        defaults = {"config": {**to_dict(default_config), **former_defaults(spec.config_class())},
                    "options": {**to_dict(default_options), **former_defaults(TrainOptions)}}
        (rundir.check_resume if resume else rundir.check_new)(out, record, defaults)
        torch_device = choose_device(device, context)
        distributed.start(context, torch_device)
        return cls(spec, trainer_class, config, options, train_data, valid_data, collate,
                   record, out, resume, seed, budget, torch_device, context, defaults)

    # -- the run -------------------------------------------------------------------------

    def run(self, progress: bool, tensorboard: bool) -> RunResult:
        trainer = self._build_trainer()
        phases = trainer.phases()
        trainer.check(phases)
        self.stream = BatchStream(self.train_data, self.collate, self.options.batch_size,
                                  self.seed, self.context, workers=self.options.num_workers,
                                  pin=self.device.type == "cuda")
        self.total = self._total_steps(phases)
        trainer.total_steps = self.total
        self._restore(trainer)
        trainer.context = self.context
        if self.context.distributed:
            distributed.broadcast_module(trainer.model)
            trainer.sync_gradients = distributed.average_gradients
        main = self.context.main
        if main:
            rundir.write_record(self.out, self.record)
            for note in self.notes:  # what the resume found, before the log's own notes
                print(note, file=sys.stderr, flush=True)
        monitor = Monitor(self.out if main else None, _columns(phases, trainer),
                          start_step=self.step, total=self.total, progress=progress,
                          tensorboard=tensorboard)
        trainer.warn = lambda text: monitor.note(f"deepsym: warning: {text}")
        if self.valid_data is None and self.options.valid_every:
            monitor.note("deepsym: note: no validation (the corpus has no valid pieces)")
        if trainer.validation_target is None and self.options.patience:
            monitor.note(f"deepsym: note: model {self.spec.name!r} declares no validation "
                         "target: no early stopping, and validation writes no best.pt")
        self.trainer, self.phases, self.monitor = trainer, phases, monitor
        try:
            stopped = self._loop()
        finally:
            monitor.close()
        return RunResult(self.out, self.step, stopped, self.last_loss, self.valid_loss,
                         None if math.isinf(self.early.best) else self.early.best,
                         self.elapsed, trainer.validation_target or "loss")

    def _loop(self) -> str:
        trainer, options = self.trainer, self.options
        trainer.model.train()
        interval = Interval()
        at_last = self.resumed_from is not None and self.resumed_from.name == LAST
        saved_at = self.step if at_last else -1  # else last.pt is written at the end
        started = time.monotonic() - self.elapsed
        while True:
            self.elapsed = time.monotonic() - started
            stopped = self._stop_reason()
            if stopped:
                break
            begin = time.perf_counter()
            logs = trainer.run_round(self.phases, self.stream.next)
            interval.seconds += time.perf_counter() - begin
            interval.add(logs)
            self.step += 1
            self.monitor.tick(self.step)
            validated = bool(self.valid_data is not None and
                             self.step % options.valid_every == 0)
            if validated:
                self._validate()
            if validated or self.step % options.log_every == 0:
                self._log(interval, validated)
                interval = Interval()
            if self.step % options.checkpoint_every == 0 or self.early_stop:
                self.elapsed = time.monotonic() - started
                self._save(LAST)
                saved_at = self.step
        if interval.steps:
            self._log(interval, False)
        if saved_at != self.step:
            self._save(LAST)
        return stopped

    @property
    def early_stop(self) -> bool:
        return bool(self.options.patience) and self.early.waited >= self.options.patience

    def _stop_reason(self) -> str | None:
        budget = self.budget
        if self.early_stop:
            return "early stopping"
        if self.trainer.finished(self.phases):
            return "schedule"
        if budget.steps is not None and self.step >= budget.steps:
            return "steps"
        if budget.epochs is not None and self.stream.epochs_done >= budget.epochs:
            return "epochs"
        if budget.minutes is not None:
            late = self.elapsed >= budget.minutes * 60
            if self.context.distributed:  # every process must stop at the same step
                late = distributed.any_process(late, self.device)
            if late:
                return "minutes"
        return None

    def _validate(self) -> None:
        trainer = self.trainer
        self.valid = self._validation_means()
        target = trainer.validation_target
        if not self.valid:
            self.monitor.note(f"deepsym: note: model {self.spec.name!r} reports nothing on "
                              "validation; validation is off for this session")
            self.valid_data = None
            return
        if target is not None and target not in self.valid:
            raise DeepsymError(f"{type(trainer).__name__}.validation_target is {target!r}, "
                               f"but its validation reports only: {', '.join(self.valid)}")
        self.valid_loss = None if target is None else self.valid[target]
        if self.valid_loss is None or not math.isfinite(self.valid_loss):
            return
        if self.valid_loss < self.early.best:
            self.early = EarlyStopping(self.valid_loss, self.step, 0)
            self._save(BEST)
        else:
            self.early.waited += 1

    def _validation_means(self) -> dict[str, float]:
        """The trainer's validation scalars, each the mean over the valid batches (of all
        processes) that report it, weighted by their items."""
        import torch

        trainer = self.trainer
        trainer.model.eval()
        sums: dict[str, list[float]] = {}  # name: [sum of value x items, items]
        indices = validation_batches(self.valid_data, self.options, self.context)
        loader = _loader(self.valid_data, indices, self.collate, self.options.num_workers,
                         False)
        with torch.no_grad(), trainer.autocast(), trainer.averaged():
            for items, batch in zip(indices, loader, strict=True):
                for name, value in (trainer.validation(to_device(batch, self.device))
                                    or {}).items():
                    total = sums.setdefault(name, [0.0, 0.0])
                    total[0] += float(value) * len(items)
                    total[1] += len(items)
        trainer.model.train()
        names = _validation_names(sums, self.context)
        totals = torch.tensor([sums.get(name, [0.0, 0.0]) for name in names],
                              dtype=torch.float64, device=self.device).reshape(-1, 2)
        distributed.all_sum(totals)
        return {name: value / count for name, (value, count) in zip(names, totals.tolist(),
                                                                     strict=True) if count}

    def _log(self, interval: Interval, validated: bool) -> None:
        means = {name: float(np.mean(values)) for name, values in interval.values.items()}
        if interval.losses:
            self.last_loss = float(np.mean([means[name] for name in interval.losses]))
        row: dict[str, Any] = {
            "step": self.step, "epoch": round(self.stream.epochs_done, 4),
            "phase": self.phases[min(self.trainer.phase_index, len(self.phases) - 1)].name,
            "elapsed_s": round(self.elapsed, 3),
            "steps_per_s": interval.steps / interval.seconds if interval.seconds else None,
            **means,
            **{f"{name}_lr": optimizer.param_groups[0]["lr"]
               for name, optimizer in self.trainer.optimizers.items()},
            "grad_norm": float(np.mean(interval.norms)) if interval.norms else None,
            **{f"valid_{name}": value if validated else None
               for name, value in self.valid.items()},
            "skipped": interval.skipped,
        }
        self.monitor.row(row)

    # -- building and checkpoints ----------------------------------------------------------

    def _build_trainer(self) -> Trainer:
        import torch

        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        torch.manual_seed(self.seed)
        module = self.spec.build(self.config)
        return self.trainer_class(module, self.config, seed=self.seed, device=str(self.device),
                                  options=self.options, total_steps=self.budget.steps)

    def _total_steps(self, phases: list[Phase]) -> int | None:
        """The steps the run will take, as far as known before it runs."""
        budget, length = self.budget, schedule_length(phases)
        total = budget.steps
        if total is None and budget.epochs is not None:
            draws = sum(update.repeat for update in phases[-1].updates)
            total = math.ceil(budget.epochs * self.stream.batches_per_epoch / draws)
        if length is not None:
            total = length if total is None else min(total, length)
        if total is None and budget.minutes is None:
            raise DeepsymError(f"model {self.spec.name!r} trains until told to stop: give "
                               "--steps, --epochs or --minutes")
        if total is None and self.options.schedule != "constant":
            raise DeepsymError(f"schedule {self.options.schedule!r} needs the number of "
                               "steps: give --steps or --epochs (or use schedule=constant)")
        return total

    def _restore(self, trainer: Trainer) -> None:
        """Continue a resumed run from its newest usable checkpoint.

        ``last.pt`` and ``best.pt`` are candidates; one is usable when it loads, is of
        this run (model, config, options) and fits the trainer. The newest (highest
        step; ``last.pt`` at a tie) is used and said so. Unusable ones are set aside
        (renamed ``NAME.unusable``) with a warning, so that nothing newer is replaced
        by an older state. Unusable checkpoints and no usable one: CheckpointError, and
        nothing is touched. No checkpoint at all (a run stopped before its first): it
        starts again at step 0, saying so. Either way ``log.csv`` keeps its rows up to
        the step resumed at and moves the later ones to ``log-superseded.csv``
        (``Monitor``): the steps after it are run again, and their old rows are kept.
        """
        if not self.resume:
            return
        folder = self.out / rundir.CHECKPOINTS
        candidates, problems = self._candidates(folder)
        for state, path in candidates:
            try:
                self._load(trainer, state, path)
            except CheckpointError as exc:
                problems.append((path, str(exc)))
                continue
            missing = "" if (folder / LAST).exists() else f" ({LAST} is missing)"
            self._set_aside(problems)
            self.notes.append(f"deepsym: note: resuming {self.out} at step {self.step} "
                              f"from {path.name}{missing}")
            self.resumed_from = path
            return
        if problems:
            raise CheckpointError(f"cannot resume {self.out}: no usable checkpoint "
                                  f"({'; '.join(text for _, text in problems)})")
        self.notes.append(f"deepsym: note: {folder} holds no checkpoint; starting again at "
                          "step 0")

    def _candidates(self, folder: Path) -> tuple[list[tuple[dict[str, Any], Path]],
                                                  list[tuple[Path, str]]]:
        """The checkpoints of this run in ``folder``, newest first, and the problem of
        each other one there."""
        found, problems = [], []
        for name in (LAST, BEST):
            path = folder / name
            if not (path.exists() or path.is_symlink()):
                continue
            try:
                state = load_checkpoint(path)
                check_checkpoint(state, path, self.spec.name, self.record["config"],
                                 self.record["options"], self.defaults)
            except CheckpointError as exc:
                problems.append((path, str(exc)))
                continue
            found.append((state, path))
        found.sort(key=lambda item: -int(item[0]["step"]))  # stable: last.pt first at a tie
        return found, problems

    def _load(self, trainer: Trainer, state: dict[str, Any], path: Path) -> None:
        """The session's state from a checkpoint of this run."""
        try:
            trainer.load_state_dict(state["trainer"])
        except (RuntimeError, KeyError, ValueError) as exc:  # e.g. the model code changed
            detail = " ".join(str(exc).split())[:300]
            raise CheckpointError(f"{path}: does not fit {self.spec.name!r} as installed "
                                  f"now ({detail})") from None
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.stream.seek(int(state["epoch"]), int(state["batch"]))
        self.early = EarlyStopping(**state["early_stopping"])
        self.elapsed = float(state["elapsed"])

    def _set_aside(self, problems: list[tuple[Path, str]]) -> None:
        """Rename the unusable checkpoints (main process), with a warning for each."""
        if not self.context.main:
            return
        for path, text in problems:
            aside = rundir.set_aside(path)
            self.notes.append(f"deepsym: warning: {text}; set aside as {aside.name}")

    def _save(self, name: str) -> None:
        if not self.context.main:
            return
        save_checkpoint(self.out / rundir.CHECKPOINTS / name, {
            "model": self.spec.name, "config": self.record["config"],
            "options": self.record["options"], "trainer": self.trainer.state_dict(),
            "rng": rng_state(), "step": self.step, "epoch": self.stream.epoch,
            "batch": self.stream.index, "early_stopping": asdict(self.early),
            "elapsed": self.elapsed, "seed": self.seed})


def for_corpus(config: Any, corpus: Corpus) -> Any:
    """The config with what it leaves to the data measured on ``corpus``: its
    ``for_corpus(corpus)`` when it has one (see ``deepsym.modeling``), else itself."""
    measure = getattr(config, "for_corpus", None)
    return config if measure is None else measure(corpus)


def _stored_run(out: Path) -> dict[str, Any]:
    stored = rundir.read_record(out)
    if stored is None:
        raise DeepsymError(f"{out} is not a deepsym run (no {rundir.CONFIG}); start one "
                           "with --out")
    return stored


class BatchStream:
    """This process's training batches in the seeded order, from a data position on.

    ``next()`` returns the batch at (``epoch``, ``index``) and moves on; at the end of
    an epoch the next one starts (``set_epoch`` is called on datasets that have it)."""

    def __init__(self, dataset: Any, collate: Callable[[list[Any]], Any], batch_size: int,
                 seed: int, context: Context, *, workers: int = 0, pin: bool = False
                 ) -> None:
        self.dataset, self.collate = dataset, collate
        self.batch_size, self.seed, self.context = batch_size, seed, context
        self.workers, self.pin = workers, pin
        self.batches_per_epoch = len(dataset) // (batch_size * context.world_size)
        self.epoch = self.index = 0
        self._batches: Any = None

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def seek(self, epoch: int, index: int) -> None:
        self.epoch, self.index, self._batches = epoch, index, None

    def next(self) -> Any:
        if self._batches is None:
            self._batches = self._open()
        batch = next(self._batches, None)
        if batch is None:
            self.seek(self.epoch + 1, 0)
            self._batches = self._open()
            batch = next(self._batches)
        self.index += 1
        return batch

    def _open(self) -> Any:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        order = distributed.epoch_order(self.seed, self.epoch, len(self.dataset))
        batches = distributed.shard(order, self.batch_size, self.context)[self.index:]
        return iter(_loader(self.dataset, batches, self.collate, self.workers, self.pin))


def validation_batches(dataset: Any, options: TrainOptions, context: Context
                       ) -> list[list[int]]:
    """This process's validation batches (item indices): the valid split in order, cut
    into the first ``valid_batches`` global batches of ``batch_size * world_size`` items
    (the last may be short), this process's slice of each. The set of items does not
    depend on the number of processes."""
    width = options.batch_size * context.world_size
    n = min(len(dataset), options.valid_batches * width)
    begin = context.rank * options.batch_size
    batches = [list(range(i + begin, min(i + begin + options.batch_size, n)))
               for i in range(0, n, width)]
    return [batch for batch in batches if batch]


def _loader(dataset: Any, batches: list[list[int]], collate: Callable[[list[Any]], Any],
            workers: int, pin: bool) -> Any:
    import torch

    # its own generator: creating a loader must not draw from torch's global one
    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                                       num_workers=workers, pin_memory=pin,
                                       generator=torch.Generator())


def _check_data(dataset: Any, corpus: Corpus, options: TrainOptions, context: Context) -> None:
    """DeepsymError unless the train split holds a batch for every process and its first
    item can be read."""
    need = options.batch_size * context.world_size
    if len(dataset) < need:
        processes = f" x {context.world_size} processes" if context.distributed else ""
        raise DeepsymError(f"corpus {corpus.path} has {len(dataset)} training pieces, fewer "
                           f"than one batch ({options.batch_size}{processes}); lower "
                           "--batch-size or add pieces")
    dataset[0]  # a representation that cannot read this corpus says so now


def _validation_names(sums: dict[str, Any], context: Context) -> list[str]:
    """The names in ``sums`` of every process in first-seen order (rank 0's first), the
    same list on each."""
    if not context.distributed:
        return list(sums)
    import torch.distributed as dist

    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, list(sums))
    return list(dict.fromkeys(name for names in gathered for name in names))


def _columns(phases: list[Phase], trainer: Trainer) -> list[str]:
    """The log's columns known before the run (the monitor adds the steps' named scalars
    and the validation's as they first appear)."""
    updates = dict.fromkeys(u.step for phase in phases for u in phase.updates)
    target = trainer.validation_target
    return ["step", "epoch", "phase", "elapsed_s", "steps_per_s",
            *(f"{name}_loss" for name in updates),
            *(f"{name}_lr" for name in trainer.optimizers), "grad_norm",
            *([] if target is None else [f"valid_{target}"]), "skipped"]


__all__ = ["Budget", "RunResult", "choose_device", "train", "validation_batches"]
