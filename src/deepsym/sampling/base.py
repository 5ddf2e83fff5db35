"""The Sampler interface: generation apart from the model, steerable while it runs.

A Sampler wraps a trained model and the representation it was trained on. ``chunks``
draws a batch of pieces side by side, as much at a time as one draw of the model makes
(a token, a piano-roll frame, a bar, a whole piece), reading ``self.controls`` afresh at
every draw, so a caller (an interactive front end, a test) can change the temperature
or the conditions mid-piece; ``stream`` and ``generate`` give the same one
representation step at a time, lazily. ``sample`` and ``sample_seconds`` collect whole
pieces and decode them into Scores (in seconds: each piece stops when it is long
enough, and a model that stops advancing time is cut at ``Sampler.step_cap``);
``pieces`` yields any number of them a batch at a time, so that memory does not grow
with the number.

What a sampler can be steered by is declared, never silently ignored: ``follows``
names the generic controls (``Controls``' fields) a sampler class obeys, and
``declared_options`` its model-specific options (``deepsym.sampling.options``), given
as ``options`` when it is made. The checks live here, once, for the Python API and the
command line alike: ``Controls.check`` (each value in range), ``Sampler.check_controls``
(also: only controls the model follows, only condition features it reads), run before
every draw since the controls may change; options are checked when the sampler is
made. ``describe`` says all of this about one model (``deepsym sample --help-model``).

``IncrementalSampler`` serves every model that keeps a running state (RNNs): each new
step costs one model step, never a recomputation of the prefix. torch is imported
lazily.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.representations.base import Grammar, Representation
from deepsym.sampling.options import Option, parse_options
from deepsym.score import Score
from deepsym.training.options import check_seed

if TYPE_CHECKING:
    import torch

BATCH = 64  # pieces drawn side by side by ``pieces``: a full step for the model, little memory
# The step cap of a piece in seconds (``Sampler.step_cap``): the finest built-in grid is
# events' 10 ms (100 steps a second); 200 leaves room for a dense piece's note tokens
# (20 notes a second take about 60 on, off and velocity tokens) and is far below what a
# stalled model would run to otherwise. MIN_STEPS keeps very short pieces drawable.
STEPS_PER_SECOND = 200
MIN_STEPS = 256


@dataclass
class Controls:
    """What steers generation; a sampler reads these at every step.

    ``temperature``: logits are divided by it (0: always the most likely choice).
    ``top_k``: keep only the k most likely choices. ``top_p``: keep the smallest set of
    most likely choices whose probabilities sum to at least p. ``conditions``: condition
    features by name (see ``deepsym.representations.CONDITIONS``) for conditional models,
    in the features' own units (the representation scales them). ``max_polyphony``:
    the representation's grammar lets no note start while that many distinct pitches
    sound (read when a piece begins; None: no limit).
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    max_polyphony: int | None = None

    def check(self) -> None:
        """DeepsymError naming the first control whose value cannot steer a draw."""
        if not 0 <= self.temperature < math.inf:
            raise DeepsymError(f"temperature must be >= 0 and finite, not "
                               f"{self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise DeepsymError(f"top_k must be at least 1, not {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise DeepsymError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.max_polyphony is not None and self.max_polyphony < 1:
            raise DeepsymError(f"max_polyphony must be at least 1, not {self.max_polyphony}")

    def changed(self) -> list[str]:
        """The names of the controls that differ from their defaults (steer something)."""
        default = Controls()
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(default,
                                                                               f.name)]


CONTROLS = {"temperature": "temperature", "top_k": "top-k", "top_p": "top-p",
            "conditions": "conditions", "max_polyphony": "max-polyphony"}
"""The generic controls (``Controls``' fields) and their names in messages."""


class Sampler:
    """Base class of every sampler. A subclass implements one of two methods:

    - ``stream(steps, primer)``: one piece, one representation step (a token, a frame)
      at a time; ``n`` pieces are then drawn as ``n`` streams in lockstep;
    - ``chunks(n, steps, primer)``: ``n`` pieces side by side, as many steps at a time as
      one draw of the model makes (a bar, a whole piece), so that a model that makes a
      bar at once is never driven step by step.

    Everything else (``generate``, ``sample``, ``sample_seconds``, ``pieces``) is built on
    ``chunks`` and is lazy: a consumer holds the first steps after the first draws.

    A subclass declares what steers it: ``follows``, the generic controls it obeys
    (default: all; conditions only where the representation reads them, a polyphony
    limit only where it has a grammar), and ``declared_options``, its own options
    (default: none), whose values, checked, are ``self.options[name]``. ``name`` is the
    model's registered name, for messages.
    """

    follows: ClassVar[frozenset[str]] = frozenset(CONTROLS)
    declared_options: ClassVar[tuple[Option, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """TypeError for a declaration that names an unknown control or an option twice."""
        super().__init_subclass__(**kwargs)
        unknown = sorted(set(cls.follows) - set(CONTROLS))
        if unknown:
            raise TypeError(f"{cls.__name__}.follows: unknown control {unknown[0]!r}; "
                            f"controls are: {', '.join(CONTROLS)}")
        names = [option.name for option in cls.declared_options]
        if len(set(names)) < len(names):
            raise TypeError(f"{cls.__name__}.declared_options: a name given twice in "
                            f"{', '.join(names)}")

    def __init__(self, model: torch.nn.Module, representation: Representation,
                 controls: Controls | None = None, *, seed: int = 0, device: str = "cpu",
                 options: Mapping[str, Any] | None = None, name: str | None = None) -> None:
        import torch

        if type(self).stream is Sampler.stream and type(self).chunks is Sampler.chunks:
            raise TypeError(f"{type(self).__name__} must implement stream or chunks")
        self.name = name or type(self).__name__
        self.options = parse_options(self.declared_options, options, self.name)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.representation = representation
        self.controls = controls if controls is not None else Controls()
        self.rng = torch.Generator(device=self.device).manual_seed(check_seed(seed))

    def followed_controls(self) -> list[str]:
        """The generic controls this model follows, in ``CONTROLS``' order."""
        followed = [c for c in CONTROLS if c in self.follows]
        if not self.representation.conditions:
            followed = [c for c in followed if c != "conditions"]
        if "max_polyphony" in followed and self.representation.grammar(1) is None:
            followed.remove("max_polyphony")
        return followed

    def check_controls(self) -> None:
        """DeepsymError unless ``self.controls`` can steer this model: each value in range
        (``Controls.check``), only controls it follows, only condition features its
        representation reads."""
        self.controls.check()
        reads, asked = self.representation.conditions, sorted(self.controls.conditions)
        if asked and "conditions" in self.follows and not reads:
            raise DeepsymError(f"model {self.name!r} was trained without conditions, so "
                               f"{', '.join(asked)} cannot steer it (train a conditional "
                               "model)")
        unread = [c for c in asked if c not in reads]
        if unread and reads:
            raise DeepsymError(f"model {self.name!r} reads only the conditions "
                               f"{', '.join(reads)}; {', '.join(unread)} cannot steer it")
        followed = self.followed_controls()
        refused = [CONTROLS[c] for c in self.controls.changed() if c not in followed]
        if refused:
            follows = ", ".join(CONTROLS[c] for c in followed) or "none of the generic " \
                "controls (vary the seed instead)"
            raise DeepsymError(f"model {self.name!r} cannot follow {', '.join(refused)}; "
                               f"it follows {follows}")

    def describe(self) -> str:
        """What steers this model, as ``deepsym sample --help-model`` shows it: the
        generic controls it follows and its own options (name, type, default, help)."""
        followed = [CONTROLS[c] + (f" ({', '.join(self.representation.conditions)})"
                                   if c == "conditions" else "")
                    for c in self.followed_controls()]
        lines = [f"model {self.name!r} (sampler {type(self).__name__})",
                 "generic controls: " + (", ".join(followed) or
                                         "none (vary the seed instead)")]
        if not self.declared_options:
            return "\n".join([*lines, "no model-specific options"])
        lines.append("model-specific options:")
        for option in self.declared_options:
            lines.append(f"  {option.name} ({option.kind}, default {option.default!r})")
            lines.append(f"      {option.help}")
        return "\n".join(lines)

    def stream(self, steps: int, primer: Score | None = None) -> Iterator[Any]:
        """Yield ``steps`` new events (representation steps), continuing ``primer``."""
        yield from (events[0] for events in self.generate(1, steps, primer))

    def chunks(self, n: int, steps: int, primer: Score | None = None
               ) -> Iterator[np.ndarray]:
        """Yield arrays of shape ``(n, k, *event shape)``, ``k >= 1``: the next ``k`` new
        events of ``n`` pieces side by side, until at least ``steps`` are drawn (the last
        chunk may run past them; ``generate`` cuts it). Here: ``n`` streams in lockstep,
        one event at a time."""
        streams = [self.stream(steps, primer) for _ in range(n)]
        for events in zip(*streams, strict=True):
            yield np.stack([np.asarray(event) for event in events])[:, None]

    def generate(self, n: int, steps: int, primer: Score | None = None
                 ) -> Iterator[np.ndarray]:
        """Yield ``steps`` arrays of shape ``(n, *event shape)``: step ``i`` of ``n``
        pieces, each as soon as its chunk is drawn (the controls checked first)."""
        _check_count(n)
        self.check_controls()
        left = steps
        chunks = self.chunks(n, steps, primer)
        try:
            for chunk in chunks:
                for i in range(min(left, chunk.shape[1])):
                    yield chunk[:, i]
                left -= min(left, chunk.shape[1])
                if not left:
                    return
        finally:
            chunks.close()

    def sample(self, n: int, steps: int, primer: Score | None = None, *,
               with_primer: bool = False) -> list[Score]:
        """``n`` pieces of ``steps`` new events each, decoded; ``with_primer``: the
        primer's events first, so the pieces begin with the primer's notes."""
        events = _stacked(self.generate(n, steps, primer), n)
        return [self.representation.decode(row) for row in self._full(events, primer,
                                                                      with_primer)]

    def pieces(self, n: int, *, steps: int | None = None, seconds: float | None = None,
               primer: Score | None = None, with_primer: bool = False,
               batch: int | None = None) -> Iterator[Score]:
        """``n`` pieces of ``steps`` new events (``sample``) or of ``seconds``
        (``sample_seconds``), one at a time: ``batch`` (default ``BATCH``) are drawn side
        by side, and only the pieces of one batch not yet yielded are held here."""
        if (steps is None) == (seconds is None):
            raise DeepsymError("give the length of the pieces in steps or in seconds")
        size = batch or BATCH
        for start in range(0, n, size):
            count = min(size, n - start)
            drawn = (self.sample(count, steps, primer, with_primer=with_primer)
                     if steps is not None else
                     self.sample_seconds(count, seconds, primer, with_primer=with_primer))
            drawn.reverse()
            while drawn:
                yield drawn.pop()

    def step_cap(self, seconds: float) -> int:
        """The most new events drawn for a piece of ``seconds``, so that a model that
        stops advancing time ends: ``STEPS_PER_SECOND`` per second, at least
        ``MIN_STEPS``. A sampler whose representation has a coarser grid may say less."""
        return max(MIN_STEPS, math.ceil(seconds * STEPS_PER_SECOND))

    def sample_seconds(self, n: int, seconds: float, primer: Score | None = None, *,
                       with_primer: bool = False, max_steps: int | None = None,
                       check_every: int = 64) -> list[Score]:
        """``n`` pieces of ``seconds`` each (cut there). Each piece is decoded every
        ``check_every`` new events (and at the end of each chunk past that) until it
        lasts ``seconds``; from then on its later events are dropped, and drawing stops
        when every piece is done or after ``max_steps`` events (default ``step_cap``); a
        piece whose model stopped advancing time is then shorter than ``seconds``."""
        if not seconds > 0:
            raise DeepsymError(f"a length in seconds must be positive, not {seconds}")
        cap = self.step_cap(seconds) if max_steps is None else max_steps
        _check_count(n)
        self.check_controls()
        rows: list[list[np.ndarray]] = [[] for _ in range(n)]
        done: dict[int, Score] = {}
        drawn = checked = 0
        chunks = self.chunks(n, cap, primer)
        try:
            for chunk in chunks:
                chunk = chunk[:, :cap - drawn]
                drawn += chunk.shape[1]
                for i in _open(n, done):
                    rows[i].append(chunk[i])
                if drawn - checked < check_every and drawn < cap:
                    continue
                checked = drawn
                for i in _open(n, done):
                    score = self._decoded(rows[i], primer, with_primer)
                    if score.duration_seconds >= seconds:
                        done[i], rows[i] = score, []
                if len(done) == n or drawn >= cap:
                    break
        finally:
            chunks.close()
        for i in _open(n, done):
            done[i] = self._decoded(rows[i], primer, with_primer)
        return [done[i].slice_seconds(0, seconds) for i in range(n)]

    def _decoded(self, parts: list[np.ndarray], primer: Score | None,
                 with_primer: bool) -> Score:
        """One piece from its chunks ``(k, *event shape)``, the primer first if asked."""
        events = np.concatenate(parts)[None] if parts else np.empty((1, 0), np.int64)
        return self.representation.decode(self._full(events, primer, with_primer)[0])

    def primer_events(self, primer: Score | None) -> np.ndarray | None:
        """The primer encoded by the representation (None without a primer)."""
        return None if primer is None else np.asarray(self.representation.encode(primer))

    def _full(self, events: np.ndarray, primer: Score | None, with_primer: bool) -> np.ndarray:
        prefix = self.primer_events(primer) if with_primer else None
        if prefix is None or not len(prefix):
            return events
        prefix = np.broadcast_to(prefix.astype(events.dtype), (len(events), *prefix.shape))
        return np.concatenate([prefix, events], axis=1)


class IncrementalSampler(Sampler, ABC):
    """A sampler for models that run step by step with a state, through two methods:

    - ``model.start(batch)``: the input before the first event, ``(batch, 1, ...)``;
    - ``model.step(inputs, state, condition)``: for ``inputs`` ``(batch, steps, ...)``
      (events; ``state`` None at the start), the logits of each next event
      ``(batch, steps, ...)`` and the state after the last input.

    The primer's events go through the model once (after ``start``) to build the state;
    then each new event costs one step. ``condition`` is ``(batch, condition_size)``
    or None: the features in ``controls.conditions``, the others from the primer (when
    given) or else the model's ``condition_mean`` (the training pieces' mean, when the
    model keeps one). ``recompute=True`` is the slow reference that the tests and the
    benchmark compare with: every step runs the whole prefix again from no state.
    Subclasses say how an event is drawn from its logits (``draw``).
    """

    def __init__(self, model: torch.nn.Module, representation: Representation,
                 controls: Controls | None = None, *, seed: int = 0, device: str = "cpu",
                 options: Mapping[str, Any] | None = None, name: str | None = None,
                 recompute: bool = False) -> None:
        super().__init__(model, representation, controls, seed=seed, device=device,
                         options=options, name=name)
        self.recompute = recompute

    @abstractmethod
    def draw(self, logits: torch.Tensor) -> torch.Tensor:
        """The next events ``(batch, ...)`` drawn from their logits ``(batch, ...)`` with
        ``self.controls`` and ``self.rng``."""

    def chunks(self, n: int, steps: int, primer: Score | None = None
               ) -> Iterator[np.ndarray]:
        """One event of each piece per chunk, each costing one model step."""
        import torch

        events = self.primer_events(primer)
        default = self._default_condition(primer)
        grammar = self.representation.grammar(n, self.controls.max_polyphony)
        if grammar is not None and events is not None:
            for token in events:
                grammar.advance(np.full(n, token))
        with self._stepping():
            prefix = self.model.start(n).to(self.device)
            if events is not None and len(events):
                primed = torch.as_tensor(events, device=self.device, dtype=prefix.dtype)
                prefix = torch.cat([prefix, primed.expand(n, *primed.shape)], dim=1)
            logits, state = self.model.step(prefix, None, self._condition(n, default))
        for i in range(steps):
            with self._stepping():
                picks = self.draw(_within(logits[:, -1], grammar))
            if grammar is not None:
                grammar.advance(picks.cpu().numpy())
            yield picks.cpu().numpy()[:, None]
            if i + 1 == steps:
                return
            with self._stepping():
                condition = self._condition(n, default)  # the controls, read afresh
                if self.recompute:
                    prefix = torch.cat([prefix, picks[:, None].to(prefix.dtype)], dim=1)
                    logits, _ = self.model.step(prefix, None, condition)
                else:
                    logits, state = self.model.step(picks[:, None].to(prefix.dtype), state,
                                                    condition)

    @contextmanager
    def _stepping(self) -> Iterator[None]:
        """No gradients and, on the CPU, no oneDNN: its LSTM sets up a primitive on every
        call, which for one step of a 3 x 512 stack costs several times the step."""
        import torch

        onednn = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = onednn and self.device.type != "cpu"
        try:
            with torch.no_grad():
                yield
        finally:
            torch.backends.mkldnn.enabled = onednn

    def _default_condition(self, primer: Score | None) -> np.ndarray | None:
        if not self.representation.conditions:
            return None
        if primer is not None and primer.n_notes:
            return self.representation.condition_vector(primer)
        mean = getattr(self.model, "condition_mean", None)
        return None if mean is None else mean.detach().cpu().numpy()

    def _condition(self, n: int, default: np.ndarray | None) -> torch.Tensor | None:
        import torch

        from deepsym.sampling.conditions import assemble

        if not self.representation.conditions and not self.controls.conditions:
            return None
        given = self.representation.scale_conditions(self.controls.conditions)
        vector = assemble(self.representation.conditions, given, default)
        return torch.as_tensor(vector, device=self.device).expand(n, -1)


def _within(logits: torch.Tensor, grammar: Grammar | None) -> torch.Tensor:
    """``logits`` with the tokens the grammar does not allow next set to -inf."""
    if grammar is None:
        return logits
    import torch

    allowed = torch.as_tensor(grammar.allowed(), device=logits.device)
    return logits.masked_fill(~allowed, float("-inf"))


def choose(logits: torch.Tensor, controls: Controls,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``logits`` (shape ``(..., choices)``), drawn with the
    controls' temperature, top-k and top-p; shape ``logits.shape[:-1]``."""
    import torch

    controls.check()
    if controls.temperature == 0 or controls.top_k == 1:
        return logits.argmax(dim=-1)
    logits = logits / controls.temperature
    if controls.top_k is not None and controls.top_k < logits.shape[-1]:
        kth = torch.topk(logits, controls.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if controls.top_p is not None and controls.top_p < 1:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        shares = torch.softmax(ordered, dim=-1)
        before = torch.cumsum(shares, dim=-1) - shares  # mass of the likelier choices
        drop = torch.zeros_like(logits, dtype=torch.bool).scatter(
            -1, order, before >= controls.top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    probabilities = torch.softmax(logits, dim=-1).reshape(-1, logits.shape[-1])
    picks = torch.multinomial(probabilities, 1, generator=generator)
    return picks.reshape(logits.shape[:-1])


def choose_many(logits: torch.Tensor, controls: Controls,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Many-hot draws (e.g. the keys of a piano-roll frame): each of the last axis's
    choices on (1.0) with probability ``sigmoid(logit / temperature)``, independently;
    temperature 0 keeps those above one half. ``top_k`` keeps at most the k likeliest
    choices on; ``top_p`` has no meaning for independent choices and is refused.
    Same shape as ``logits``, float."""
    import torch

    controls.check()
    if controls.top_p is not None:
        raise DeepsymError("top_p does not apply to many-hot (per-key) sampling; use "
                           "temperature or top_k")
    if controls.temperature == 0:
        on = logits > 0
    else:
        chances = torch.sigmoid(logits / controls.temperature)
        on = torch.rand(chances.shape, generator=generator, device=chances.device) < chances
    if controls.top_k is not None and controls.top_k < logits.shape[-1]:
        kth = torch.topk(logits, controls.top_k, dim=-1).values[..., -1:]
        on &= logits >= kth
    return on.to(logits.dtype)


def _stacked(steps: Iterator[np.ndarray], n: int) -> np.ndarray:
    """Per-step arrays ``(n, ...)`` as one array ``(n, steps, ...)``."""
    drawn = list(steps)
    if not drawn:
        return np.empty((n, 0), np.int64)
    return np.stack(drawn, axis=1)


def _open(n: int, done: dict[int, Score]) -> list[int]:
    """The rows of ``n`` not yet ``done``."""
    return [i for i in range(n) if i not in done]


def _check_count(n: int) -> None:
    if n < 1:
        raise DeepsymError(f"the number of pieces must be at least 1, not {n}")

