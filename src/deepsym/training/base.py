"""The Trainer interface: training as phases of optimizer updates.

A trainer names its optimizers (``configure_optimizers``) and its schedule
(``phases``): each Phase runs ``steps`` times through its Updates, and each Update runs
``repeat`` times ``loss = trainer.<step>(batch)`` followed by one step of the named
optimizer. That covers the whole family without changes here:

- MLE (Char-RNN): one phase, one update.
- GAN (MuseGAN, WGAN-GP): ``Update("critic_step", "critic", repeat=config.n_critic)``
  then ``Update("generator_step", "generator")``; pretraining is a phase before.
- Policy gradient (SeqGAN): the generator step runs its Monte Carlo rollouts and returns
  ``-(log-probabilities * rewards).sum()``; MLE pretraining phases come first.
- Autoencoder (SeqAE): one update whose loss sums the reconstruction terms.
- Freezing (C-RNN-GAN): a step returns None to skip its optimizer this time.

Under ``torchrun`` each process steps on its rank's slice of every global batch
(``self.context``: rank and world size) and the update averages the gradients over the
processes (``sync_gradients``). That is the one-process update on the combined batch
for a mean over equal slices; any other step keeps it exact by three rules
(``deepsym.training.distributed`` explains them):

- Draws per item (a GAN's noise) are made for the global batch, this rank keeping its
  rows: ``self.local_rows(torch.rand(len(real) * self.context.world_size, ...,
  generator=self.rng, device=self.device))``; ``draw_rows`` where the processes hold
  different numbers of rows.
- Batch statistics (feature matching's mean features, masked means over real steps)
  come from ``global_sum`` / ``global_mean``, differentiable sums over the processes.
- A step skips its update (returns no loss) on global values only, so every process
  decides alike; ``apply`` raises a DeepsymError where they do not.
- Statistics a model keeps from the data (a running mean of the conditions seen) are
  taken over the global batch's rows, ``global_rows``, so every process keeps the
  one-process value (the checkpoint holds rank 0's).

With one process the helpers are identities. They are for training steps only: the
processes may hold different numbers of validation batches (the engine averages the
validation scalars itself), so ``validation`` must not call them.

A step may return named scalars instead of one loss: ``{"loss": loss, "d_real": ...,
"gp": ...}``; ``loss`` is what the optimizer minimizes (absent or None: no update this
time, the other scalars are still reported) and every entry goes to the log as
``<step>_<name>`` (a plain loss logs as ``<step>_loss``), with no engine change.

Every update is guarded: gradients are clipped to ``options.grad_clip``, and an update
whose loss or gradient norm is not finite is skipped (no optimizer step, a warning);
``options.bad_step_limit`` such updates in a row stop training with a DeepsymError. On
CUDA with ``options.amp`` the steps run under autocast (float16) with one GradScaler
(``configure_scaler``) shared by every optimizer, used as PyTorch's AMP notes ("Working
with multiple models, losses, and optimizers") ask: for each update, ``scale(loss)``,
backward, ``unscale_(its optimizer)`` before clipping its gradients, ``step(its
optimizer)``, then ``update()``. The scaler allows ``unscale_`` and ``step`` once per
optimizer between two ``update()`` calls, so a critic stepping ``repeat`` times before
its generator cannot wait for one ``update()`` per round: every optimizer step is its
own scaler iteration, followed by exactly one ``update()`` (skipped or not). A step the
scaler skips (float16 gradients overflowed; it lowers the scale) is reported as a
skipped update (``UpdateLog.overflow``) but is the scaler's calibration, not a bad step.
The optimizers (default: ``options.optimizer`` over all parameters) each get the learning
rate schedule of the options, stepped once per round (one step of a phase) that uses it.

The engine (``deepsym.training.engine``) drives a trainer round by round and reads its
data through the model's representation (``ModelSpec.make_representation``) and the
trainer's ``dataset``. Validation is what the trainer
declares: ``validation`` returns named scalars on a valid batch (default: an MLE
trainer's loss, as ``loss``; none for a schedule of several updates per round, such as
a GAN's) and ``validation_target`` names the one, lower is better, that early stopping
and ``best.pt`` follow (None: neither). With ``options.ema`` the trainer keeps an
exponential moving average of the weights of ``averaged_part`` (a GAN's generator;
default the whole model), updated after every round, saved with the checkpoint, and
used by validation and sampling (``deepsym.training.averaging``). The trainer owns its
random generators, ``self.rng`` on its device (a GAN's noise: ``torch.randn(...,
generator=self.rng, device=self.device)``, on CUDA too) and ``self.cpu_rng`` on the CPU
(for data-side draws), and its place in the schedule, so ``state_dict()`` /
``load_state_dict()`` resume a run exactly. torch is imported lazily.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deepsym.errors import DeepsymError
from deepsym.training import distributed
from deepsym.training.distributed import Context
from deepsym.training.options import TrainOptions, build_optimizer, build_scheduler, options_for

if TYPE_CHECKING:
    import torch

    from deepsym.data.corpus import Corpus
    from deepsym.representations.base import Representation
    from deepsym.training.averaging import WeightAverage


@dataclass(frozen=True)
class Update:
    """``repeat`` times: ``loss = trainer.<step>(batch)``, backward, ``optimizer`` steps."""

    step: str
    optimizer: str
    repeat: int = 1


@dataclass(frozen=True)
class Phase:
    """A stage of training (e.g. ``pretrain-generator``, ``adversarial``): ``steps``
    rounds, each running ``updates`` in order. ``steps=None``: until the run's budget
    (``--steps``, ``--epochs``, ``--minutes``) ends it."""

    name: str
    steps: int | None
    updates: tuple[Update, ...]


@dataclass(frozen=True)
class UpdateLog:
    """One optimizer update as it happened; ``loss`` is None when the step returned no
    loss (no update). ``finite`` is False when the loss or the gradients were not finite
    and the update was skipped; ``grad_norm`` is the global gradient norm before
    clipping; ``scalars``: the other named values the step reported (this process's).
    ``overflow``: the skip was the GradScaler's (float16 gradients overflowed; it
    lowered its scale), which does not count toward ``bad_step_limit``."""

    phase: str
    step: int
    update: str
    loss: float | None
    grad_norm: float | None = None
    finite: bool = True
    scalars: dict[str, float] = field(default_factory=dict)
    overflow: bool = False


GradientSync = Callable[[list["torch.Tensor"], "torch.Tensor"], "torch.Tensor"]


class Trainer(ABC):
    """Base class of every trainer: subclasses define the phases and the step methods
    those phases name (and the optimizers, when one over all parameters is not it)."""

    def __init__(self, model: torch.nn.Module, config: Any, *, seed: int = 0,
                 device: str = "cpu", options: TrainOptions | None = None,
                 total_steps: int | None = None) -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.config = config
        self.options = options if options is not None else options_for(config)
        self.total_steps = total_steps
        self.rng = torch.Generator(device=self.device).manual_seed(seed)
        self.cpu_rng = torch.Generator().manual_seed((seed + 1) % 2**64)  # not rng's stream
        self.optimizers = self.configure_optimizers()
        self.schedulers = self.configure_schedulers()
        self.scaler = self.configure_scaler()
        self.phase_index = 0
        self.phase_step = 0
        self.bad_steps = 0  # updates in a row skipped for a non-finite loss or gradient
        self.sync_gradients: GradientSync | None = None  # set for data-parallel training
        self.context = Context()  # this process's rank and world size (set by the engine)
        self.warn: Callable[[str], None] = _warn
        self.ema = self._weight_average()

    # -- what subclasses define ----------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name, e.g. ``{"generator": ..., "critic": ...}``; by default
        ``{"model": options.optimizer over every parameter}``."""
        return {"model": build_optimizer(self.model.parameters(), self.options)}

    def configure_schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """The learning-rate schedulers by optimizer name (stepped once per round of a
        phase that uses the optimizer); by default the options' schedule for every optimizer."""
        return {name: build_scheduler(optimizer, self.options, self.planned_steps)
                for name, optimizer in self.optimizers.items()}

    def configure_scaler(self) -> torch.amp.GradScaler | None:
        """The one gradient scaler of every optimizer: by default a CUDA GradScaler with
        ``options.amp`` on CUDA (float16 needs one), else None (full precision, or
        bfloat16, whose range needs no scaling). With a scaler the steps run under
        ``autocast``."""
        import torch

        if self.options.amp and self.device.type == "cuda":
            return torch.amp.GradScaler("cuda")
        return None

    averaged_part = ""
    """The submodule (``model.get_submodule`` path) whose weights ``options.ema``
    averages: ``""``, the whole model; a GAN's ``"generator"`` (sampling never uses its
    critic)."""

    def planned_steps(self) -> int | None:
        """The rounds this training will run: ``total_steps`` (the engine sets it from
        the budget), else the schedule's length (None when a phase is open-ended)."""
        if self.total_steps is not None:
            return self.total_steps
        return schedule_length(self.phases())

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The training schedule, in order."""

    @classmethod
    def dataset(cls, config: Any, corpus: Corpus, split: str, representation: Representation,
                seed: int, transpose: tuple[int, int] = (0, 0)
                ) -> tuple[Any, Callable[[list[Any]], Any]]:
        """The map-style dataset of ``split`` and the function collating its items into
        the batch the step methods read; ``transpose``: the training options' range of
        shifts in semitones (the engine gives it for the train split). Default:
        ``SequenceDataset`` crops of ``config.sequence_length + 1`` steps (whole pieces
        without that field), random windows for "train", and ``loaders.collate``'s
        padded dict."""
        from deepsym.data.loaders import SequenceDataset, collate

        length = getattr(config, "sequence_length", None)
        data = SequenceDataset(corpus, representation, split,
                               None if length is None else length + 1, seed=seed,
                               random_crop=split == "train", transpose=transpose)
        return data, collate

    validation_target: str | None = "loss"
    """The name of the ``validation`` scalar (lower is better) that early stopping and
    ``best.pt`` follow; None: no early stopping, and validation writes no ``best.pt``."""

    def validation(self, batch: Any) -> dict[str, torch.Tensor | float] | None:
        """Named scalars on a batch of the valid split (run under ``torch.no_grad`` with
        the model in eval mode), logged as ``valid_<name>`` (means over the items); None:
        nothing to report. Default: ``{"loss": validation_loss(batch)}``. A GAN, say,
        returns its critic's Wasserstein estimate and a metric distance on held-out
        pieces, and sets ``validation_target`` to the one that means something (or None)."""
        loss = self.validation_loss(batch)
        return None if loss is None else {"loss": loss}

    def validation_loss(self, batch: Any) -> torch.Tensor | None:
        """The model's loss on a valid batch. Default: when the last phase is one update
        (an MLE trainer), its step's loss; else None, as the steps of several updates
        (a critic and a generator) need gradients and mean nothing on their own."""
        updates = self.phases()[-1].updates
        if len(updates) != 1:
            return None
        return _loss(getattr(self, updates[0].step)(batch))

    # -- running -------------------------------------------------------------------------

    def fit(self, data: Iterable[Any], on_update: Callable[[UpdateLog], None] | None = None,
            rounds: int | None = None) -> None:
        """Run the schedule from where it stands; every update draws the next batch
        (``data`` is iterated again when it runs out). With ``rounds``, stop after that
        many rounds (say, to save a checkpoint); ``fit`` again to go on. A phase of
        ``steps=None`` needs ``rounds``."""
        phases = self.phases()
        self.check(phases)
        batches = _cycle(data)
        self.model.train()
        for _ in itertools.count() if rounds is None else range(rounds):
            if self.finished(phases):
                return
            for log in self.run_round(phases, batches.__next__):
                if on_update is not None:
                    on_update(log)

    def finished(self, phases: list[Phase]) -> bool:
        """Whether the schedule has run to its end (skipping phases of zero steps)."""
        while self.phase_index < len(phases) and \
                phases[self.phase_index].steps is not None and \
                self.phase_step >= phases[self.phase_index].steps:
            self.phase_index += 1
            self.phase_step = 0
        return self.phase_index >= len(phases)

    def run_round(self, phases: list[Phase], next_batch: Callable[[], Any]) -> list[UpdateLog]:
        """One round of the current phase: its updates in order, each on the next batch,
        then one step of the schedulers of the optimizers it used. Call ``finished``
        first."""
        phase = phases[self.phase_index]
        logs = []
        for update in phase.updates:
            for _ in range(update.repeat):
                loss, norm, finite, scalars = self.apply(update,
                                                         to_device(next_batch(), self.device))
                # with a scaler, a skip despite a finite loss is the scaler's own
                overflow = (not finite and self.scaler is not None and loss is not None
                            and math.isfinite(loss))
                log = UpdateLog(phase.name, self.phase_step, update.step, loss, norm, finite,
                                scalars, overflow)
                self._count_bad(log)
                logs.append(log)
        with warnings.catch_warnings():  # a skipped first update is no scheduling mistake
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            for name in dict.fromkeys(update.optimizer for update in phase.updates):
                if name in self.schedulers:
                    self.schedulers[name].step()
        if self.ema is not None:
            self.ema.update()
        self.phase_step += 1
        return logs

    def apply(self, update: Update, batch: Any
              ) -> tuple[float | None, float | None, bool, dict[str, float]]:
        """One update: zero the optimizer's gradients, compute the loss, backward, (average
        gradients over processes), unscale (with a scaler), clip, step (and update the
        scaler, once per step, skipped or not). Returns ``(loss, grad_norm, finite,
        scalars)``, ``scalars`` being the step's other named values; a step returning no
        loss gives ``(None, None, True, scalars)`` and no update. With ``sync_gradients``
        the processes first check that all of them have a loss or none has (DeepsymError
        otherwise, where the gradient all-reduce would wait forever)."""
        optimizer = self.optimizers[update.optimizer]
        optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            result = getattr(self, update.step)(batch)
        loss, scalars = _loss(result), _scalars(result)
        if self.sync_gradients is not None:
            self._agree(update, loss is not None)
        if loss is None:
            return None, None, True, scalars
        scaler = self.scaler
        (loss if scaler is None else scaler.scale(loss)).backward()
        params = [p for group in optimizer.param_groups for p in group["params"]
                  if p.grad is not None]
        value = loss.detach().float()
        if self.sync_gradients is not None:
            value = self.sync_gradients([p.grad for p in params], value)
        if scaler is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        norm = _clip(params, self.options.grad_clip)
        value_f, norm_f = float(value), float(norm)
        if scaler is None:
            finite = math.isfinite(value_f) and math.isfinite(norm_f)
            if finite:
                optimizer.step()
        else:
            finite = _scaled_step(scaler, optimizer, math.isfinite(value_f))
        if not finite:
            optimizer.zero_grad(set_to_none=True)
        return value_f, norm_f, finite, scalars

    def _agree(self, update: Update, has_loss: bool) -> None:
        """DeepsymError unless every process's step returned a loss or none did."""
        import torch

        flag = torch.tensor([float(has_loss)], device=self.device)
        count, world = int(distributed.all_sum(flag).item()), self.context.world_size
        if count not in (0, world):
            phase = self.phases()[self.phase_index].name
            raise DeepsymError(
                f"step {self.phase_step + 1} of phase {phase!r}: {update.step} returned a "
                f"loss on {count} of {world} processes and none on the others; a step must "
                "decide whether to update from global values (Trainer.global_sum, "
                "global_mean) so that every process decides alike")

    # -- data-parallel helpers (identities for one process) ------------------------------

    def global_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes, differentiable: a loss built from it on
        every process gets, after ``sync_gradients``, the one-process gradient."""
        return distributed.global_sum(tensor) if self.context.distributed else tensor

    def global_mean(self, total: torch.Tensor, count: torch.Tensor | float) -> torch.Tensor:
        """The mean over the global batch of items whose number differs between processes
        (real steps under a mask): ``global_sum(total) / global_sum(count)`` in one
        all-reduce, in float32 at least. ``total``: the sum over this process's items
        (any shape); ``count``: their number or weight (a number, or a tensor
        broadcasting against ``total``)."""
        import torch

        dtype = torch.promote_types(total.dtype, torch.float32)
        total = total.to(dtype)
        count = torch.as_tensor(count, dtype=dtype, device=total.device)
        if not self.context.distributed:
            return total / count
        sums = self.global_sum(torch.cat([total.reshape(-1), count.reshape(-1)]))
        return sums[:total.numel()].view_as(total) / sums[total.numel():].view_as(count)

    def average(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of every element of ``values`` on every process (the global batch's
        mean; ``values.mean()`` for one process), differentiable: pass it as the
        ``mean`` of ``deepsym.training.adversarial``'s losses."""
        return self.global_mean(values.sum(), values.numel())

    def local_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """This process's rows of ``tensor`` drawn for the global batch (first dimension
        ``local batch * world_size``), as the data is sharded: ``noise =
        self.local_rows(torch.rand(len(real) * self.context.world_size, ...,
        generator=self.rng, device=self.device))``. Every process draws the same numbers
        and takes its rows, as one process would draw them for the combined batch."""
        return distributed.local_rows(tensor, self.context)

    def draw_rows(self, draw: Callable[[int], torch.Tensor], rows: int) -> torch.Tensor:
        """This process's ``rows`` rows of ``draw(n)``, a draw of ``n`` rows (from
        ``self.rng``, say), when the processes hold different numbers of rows (the items
        a step kept): every process draws for all of them and keeps its own, as one
        process draws for the combined batch. Equal numbers need no collective:
        ``local_rows``."""
        offset, total = distributed.row_offset(rows, self.context, self.device)
        return draw(total)[offset:offset + rows]

    def global_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """The rows of every process's ``tensor`` in rank order: the combined batch's, as
        one process would see them (not differentiable; for statistics such as a running
        mean of the conditions seen)."""
        return distributed.global_rows(tensor, self.context)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision for the forward pass when the trainer has a GradScaler:
        float16 on CUDA, bfloat16 elsewhere (the CPU's autocast type)."""
        import torch

        if self.scaler is None:
            return contextlib.nullcontext()
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def _count_bad(self, log: UpdateLog) -> None:
        if log.overflow:  # reported as skipped; the scaler has lowered its scale
            return
        if log.finite:
            self.bad_steps = 0
            return
        self.bad_steps += 1
        what = f"loss is {log.loss}" if not math.isfinite(log.loss or 0.0) else \
            f"gradient norm is {log.grad_norm}"
        where = f"step {log.step + 1} of phase {log.phase!r} ({log.update})"
        if self.bad_steps >= self.options.bad_step_limit:
            raise DeepsymError(
                f"training stopped: {self.bad_steps} updates in a row had a non-finite "
                f"loss or gradient (the last at {where}: {what}); lower the learning rate, "
                "set grad_clip, or check the data for inf/nan values")
        self.warn(f"{where}: {what}; update skipped, weights unchanged")

    # -- state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizers, schedulers, the gradient
        scaler, schedule position, both generators (and the device type of ``rng``), and
        the weight average with its batch-norm statistics measured now."""
        self._calibrate_average()
        return {"model": self.model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "scaler": None if self.scaler is None else self.scaler.state_dict(),
                "phase_index": self.phase_index, "phase_step": self.phase_step,
                "bad_steps": self.bad_steps, "rng": self.rng.get_state(),
                "rng_device": self.device.type, "cpu_rng": self.cpu_rng.get_state(),
                "ema": None if self.ema is None else self.ema.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from what ``state_dict`` returned (older checkpoints included)."""
        self.model.load_state_dict(state["model"])
        _check_names("optimizers", state["optimizers"], self.optimizers)
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        if "schedulers" in state:
            _check_names("schedulers", state["schedulers"], self.schedulers)
            for name, scheduler in self.schedulers.items():
                scheduler.load_state_dict(state["schedulers"][name])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.phase_index = int(state["phase_index"])
        self.phase_step = int(state["phase_step"])
        self.bad_steps = int(state.get("bad_steps", 0))
        self._load_generators(state)
        if self.ema is not None:
            if state.get("ema") is None:  # a run that kept no average: it starts here
                self.ema = self._weight_average()
            else:
                self.ema.load_state_dict(state["ema"])

    def _weight_average(self) -> WeightAverage | None:
        """The average of ``averaged_part``'s present weights (None without ``options.ema``)."""
        if not self.options.ema:
            return None
        from deepsym.training.averaging import WeightAverage

        return WeightAverage(self.model.get_submodule(self.averaged_part), self.options.ema,
                             self.averaged_part)

    def averaged(self) -> contextlib.AbstractContextManager[Any]:
        """A block in which the model holds its averaged weights (with ``options.ema``;
        else its own), with their own batch-norm statistics (``average_inputs``)."""
        if self.ema is None:
            return contextlib.nullcontext()
        self._calibrate_average()
        return self.ema.applied()

    def average_inputs(self, generator: torch.Generator) -> Any:
        """One batch of inputs of ``averaged_part``, drawn with ``generator``, on which the
        average measures its own batch-norm statistics (a GAN's generator: latents);
        None, the default, measures none, and the average uses the module's."""
        return None

    def _calibrate_average(self) -> None:
        """The average's batch-norm statistics measured on ``average_inputs`` batches
        drawn from a fixed seed, so training's own random state is left alone; once per
        update of the average (a round's validation and checkpoints share them)."""
        import torch

        if self.ema is None or self.ema.measured_at == self.ema.updates:
            return
        generator = torch.Generator(device=self.device).manual_seed(0)
        first = self.average_inputs(generator)
        if first is not None:
            self.ema.calibrate(lambda i: first if i == 0 else self.average_inputs(generator))

    def _load_generators(self, state: dict[str, Any]) -> None:
        """Restore ``rng`` (when saved on this device type; a state of another type's
        generator does not fit, so it stays seeded, with a warning) and ``cpu_rng``."""
        saved = state.get("rng_device", "cpu")  # before rng_device: a CPU generator
        if saved == self.device.type:
            self.rng.set_state(state["rng"])
        else:
            self.warn(f"the checkpoint's generator is a {saved} one, this trainer's is on "
                      f"{self.device.type}: its random draws will not repeat the "
                      "interrupted run's")
        if "cpu_rng" in state:
            self.cpu_rng.set_state(state["cpu_rng"])

    def check(self, phases: list[Phase]) -> None:
        """DeepsymError naming the first mistake in the schedule (unknown optimizer or
        step method, a repeat below 1, a phase without updates or with negative steps)."""
        for phase in phases:
            if (phase.steps is not None and phase.steps < 0) or not phase.updates:
                raise DeepsymError(f"phase {phase.name!r} needs steps >= 0 and an update")
            for update in phase.updates:
                if update.optimizer not in self.optimizers:
                    raise DeepsymError(
                        f"phase {phase.name!r}: unknown optimizer {update.optimizer!r}; "
                        f"optimizers are: {', '.join(self.optimizers)}")
                if not callable(getattr(self, update.step, None)):
                    raise DeepsymError(f"phase {phase.name!r}: {type(self).__name__} has no "
                                       f"step method {update.step!r}")
                if update.repeat < 1:
                    raise DeepsymError(f"phase {phase.name!r}: {update.step} repeat must "
                                       f"be at least 1, not {update.repeat}")


def schedule_length(phases: list[Phase]) -> int | None:
    """Rounds in the whole schedule; None when a phase runs until the budget ends."""
    if any(phase.steps is None for phase in phases):
        return None
    return sum(phase.steps for phase in phases)  # type: ignore[misc]


def _loss(result: Any) -> torch.Tensor | None:
    """The loss to minimize in what a step returned: itself, or its ``"loss"`` entry."""
    return result.get("loss") if isinstance(result, dict) else result


def _scalars(result: Any) -> dict[str, float]:
    """A step's named values other than its loss, as floats (None entries left out)."""
    if not isinstance(result, dict):
        return {}
    return {name: float(value.detach()) if hasattr(value, "detach") else float(value)
            for name, value in result.items() if name != "loss" and value is not None}


def _scaled_step(scaler: torch.amp.GradScaler, optimizer: torch.optim.Optimizer,
                 finite_loss: bool) -> bool:
    """The scaler's step of ``optimizer`` (none for a non-finite loss), then its one
    ``update()``; whether the optimizer stepped (the scaler skips gradients holding
    inf/nan and lowers its scale, which is how the skip is seen)."""
    scale = scaler.get_scale()
    if finite_loss:
        scaler.step(optimizer)
    scaler.update()
    return finite_loss and scaler.get_scale() >= scale


def _check_names(kind: str, saved: dict[str, Any], mine: dict[str, Any]) -> None:
    if set(saved) != set(mine):
        raise DeepsymError(f"checkpoint {kind} {sorted(saved)} do not match this "
                           f"trainer's {sorted(mine)}")


def _clip(params: list[torch.nn.Parameter], max_norm: float | None) -> torch.Tensor:
    """The global norm of the gradients, which are scaled down to ``max_norm`` if given."""
    import torch

    if not params:
        return torch.zeros(())
    if max_norm is not None:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    norms = torch.stack([torch.linalg.vector_norm(p.grad.detach()) for p in params])
    return torch.linalg.vector_norm(norms)


def _warn(message: str) -> None:
    print(f"deepsym: warning: {message}", file=sys.stderr, flush=True)


def _cycle(data: Iterable[Any]) -> Iterator[Any]:
    """The batches of ``data`` over and over (re-iterating it, so loaders reshuffle)."""
    for epoch in itertools.count():
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise DeepsymError("no training data: the data yielded no batch"
                               + (f" in epoch {epoch + 1}" if epoch else ""))


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (nested in tuples, lists, dicts) on ``device``."""
    if hasattr(batch, "to") and hasattr(batch, "device"):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch
