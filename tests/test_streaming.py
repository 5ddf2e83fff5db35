"""Lazy sampling: the first steps arrive before the piece ends, pieces in seconds stop
row by row and at a step cap, and a sampler that makes a bar at once is driven a bar
at a time."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from test_sampling import Counting, sampler

from deepsym.representations.events import NOTE_OFF, TIME_SHIFT, Events
from deepsym.representations.pianoroll_rep import Pianoroll
from deepsym.sampling import Sampler
from deepsym.sampling.base import MIN_STEPS, STEPS_PER_SECOND
from deepsym.score import Score

BAR = 16  # piano-roll frames in a 4/4 bar at 4 steps a beat


class Cycling(Sampler):
    """Row ``r`` repeats its own cycle of event tokens; counts the chunks drawn."""

    def __init__(self, cycles: list[list[int]]) -> None:
        super().__init__(torch.nn.Identity(), Events())
        self.cycles = cycles
        self.drawn = 0

    def chunks(self, n: int, steps: int, primer: Score | None = None
               ) -> Iterator[np.ndarray]:
        for i in range(steps):
            self.drawn += 1
            yield np.array([[c[i % len(c)]] for c in self.cycles[:n]])


class Bars(Sampler):
    """A bar-at-a-time sampler (as a GAN's generator): one model call per bar, each key
    of the bar on with the chance ``controls.temperature / 2``."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Identity(), Pianoroll(pitch_range=(60, 72)))
        self.calls = 0

    def chunks(self, n: int, steps: int, primer: Score | None = None
               ) -> Iterator[np.ndarray]:
        for _ in range(-(-steps // BAR)):
            self.calls += 1
            chance = self.controls.temperature / 2
            yield (torch.rand(n, BAR, 12, generator=self.rng) < chance).float().numpy()


def test_generate_yields_the_first_steps_before_the_piece_is_drawn():
    s = sampler("char-rnn", seed=1)
    s.model = Counting(s.model)
    steps = s.generate(2, 1000)
    first = [next(steps) for _ in range(5)]
    assert s.model.steps == 1 + 4  # the start, then one step per event after the first
    assert all(event.shape == (2,) for event in first)
    steps.close()
    stream = s.stream(1000)
    next(stream)
    assert s.model.steps == 5 + 1


def test_stream_samplers_are_drawn_in_lockstep():
    class Counter(Sampler):
        def __init__(self) -> None:
            super().__init__(torch.nn.Identity(), Events())
            self.drawn = 0

        def stream(self, steps: int, primer: Score | None = None) -> Iterator[int]:
            for i in range(steps):
                self.drawn += 1
                yield i

    s = Counter()
    steps = s.generate(3, 10_000)
    assert next(steps).tolist() == [0, 0, 0] and s.drawn == 3
    assert next(steps).tolist() == [1, 1, 1] and s.drawn == 6
    assert len(s.sample(2, 7)) == 2


def test_a_sampler_must_implement_stream_or_chunks():
    with pytest.raises(TypeError, match="Sampler must implement stream or chunks"):
        Sampler(torch.nn.Identity(), Events())


def test_pieces_in_seconds_stop_when_the_last_row_is_long_enough():
    slow = [60, TIME_SHIFT + 99, NOTE_OFF + 60]  # 1 s per three tokens
    fast = [62, TIME_SHIFT + 9, NOTE_OFF + 62]  # 0.1 s per three tokens
    s = Cycling([slow, fast])
    pieces = s.sample_seconds(2, 4.0, check_every=8)
    assert [p.duration_seconds for p in pieces] == [4.0, 4.0]
    assert s.drawn == 120  # fast needs 40 cycles; nothing drawn after every row is done
    assert [p.n_notes for p in pieces] == [4, 40]


def test_a_model_that_stops_advancing_time_is_cut_at_the_step_cap():
    s = Cycling([[60, NOTE_OFF + 60]])  # notes that take no time
    piece, = s.sample_seconds(1, 2.0)
    assert s.drawn == s.step_cap(2.0) == max(MIN_STEPS, 2 * STEPS_PER_SECOND) < 100_000
    assert piece.duration_seconds < 0.1  # each note lasts its one shortest tick
    s.drawn = 0
    s.sample_seconds(1, 2.0, max_steps=50)
    assert s.drawn == 50


def test_a_bar_sampler_is_driven_a_bar_at_a_time():
    s = Bars()
    events = np.stack(list(s.generate(2, 40)), axis=1)
    assert events.shape == (2, 40, 12) and s.calls == 3  # 40 frames: three bars, cut
    s.calls = 0
    first = next(s.stream(1000))
    assert first.shape == (12,) and s.calls == 1
    s.calls = 0
    pieces = s.sample_seconds(3, 4.0, check_every=1)  # 120 qpm: 2 s a bar
    assert s.calls == 2  # each bar is checked once, and two bars are enough
    assert [p.duration_seconds for p in pieces] == pytest.approx([4.0] * 3, abs=0.25)


def test_a_bar_sampler_reads_the_controls_at_every_bar():
    s = Bars()
    s.controls.temperature = 0.0  # no key on
    bars = s.chunks(1, 10 * BAR)
    assert not next(bars).any()
    s.controls.temperature = 2.0  # every key on
    assert next(bars).all()
