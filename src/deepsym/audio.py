"""Hear a Score: a small additive synthesizer and a WAV writer (numpy only, no soundfont).

Every pitched note is a sum of a few harmonics under a piano-like envelope (a short
attack, then an exponential decay, and a release after the note ends); drum notes are
short bursts of seeded noise. The result is meant for listening to what a model made,
not for production sound.
"""
from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.fileio import write_atomic
from deepsym.score import Score

HARMONICS = np.array([1.0, 0.5, 0.25, 0.125], dtype=np.float32)  # amplitude of partial k+1
ATTACK_S, DECAY_PER_S, RELEASE_S = 0.005, 1.5, 0.08
DRUM_S = 0.12
CHUNK_SAMPLES = 1 << 21  # notes are rendered in batches of about this many samples


def synthesize(score: Score, sample_rate: int = 22050) -> np.ndarray:
    """The score as mono float32 samples in [-1, 1] (peak 0.9; silence stays zeros).

    A note of pitch ``p`` sounds at ``440 * 2 ** ((p - 69) / 12)`` Hz with loudness
    ``velocity / 127``, from its start to its end (through the tempo map) plus
    ``RELEASE_S`` seconds.
    """
    if not 8000 <= sample_rate <= 192000:
        raise DeepsymError(f"sample rate {sample_rate} Hz is outside 8000..192000")
    seconds = float(score.duration_seconds) + RELEASE_S
    out = np.zeros(int(np.ceil(seconds * sample_rate)) + 1, dtype=np.float32)
    for track in score.tracks:
        notes = track.notes
        if not len(notes):
            continue
        start = score.to_seconds(notes["start"])
        end = score.to_seconds(notes["start"].astype(np.int64) + notes["duration"])
        length = np.full(len(notes), DRUM_S) if track.is_drum else end - start + RELEASE_S
        _render(out, sample_rate, start, length, end - start, notes["pitch"],
                notes["velocity"] / 127.0, track.is_drum)
    peak = float(np.abs(out).max(initial=0.0))
    return out * (0.9 / peak) if peak > 0 else out


def _render(out: np.ndarray, rate: int, start: np.ndarray, length: np.ndarray,
            held: np.ndarray, pitch: np.ndarray, loudness: np.ndarray, drum: bool) -> None:
    """Add the notes to ``out``, a batch of notes at a time (vectorized within a batch)."""
    first = np.round(start * rate).astype(np.int64)
    count = np.minimum(np.maximum(np.round(length * rate).astype(np.int64), 1),
                       len(out) - first).clip(0)
    batch_of = np.cumsum(count) // CHUNK_SAMPLES
    rng = np.random.default_rng(0)
    for batch in np.unique(batch_of):
        sel = batch_of == batch
        n = count[sel]
        note = np.repeat(np.arange(len(n)), n)
        offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        t = offset.astype(np.float32) / rate
        if drum:
            wave_ = rng.standard_normal(len(t)).astype(np.float32) * np.exp(-t * 30.0)
        else:
            hertz = 440.0 * 2.0 ** ((pitch[sel].astype(np.float32) - 69) / 12)
            phase = (2 * np.pi * hertz)[note] * t
            wave_ = sum(a * np.sin((k + 1) * phase) for k, a in enumerate(HARMONICS))
            after = np.maximum(t - held[sel][note].astype(np.float32), 0)
            wave_ *= np.minimum(t / ATTACK_S, 1) * np.exp(-t * DECAY_PER_S) \
                * np.maximum(1 - after / RELEASE_S, 0)
        wave_ *= loudness[sel][note].astype(np.float32)
        position = np.repeat(first[sel], n) + offset
        out += np.bincount(position, weights=wave_, minlength=len(out))[:len(out)].astype(
            np.float32)


def write_wav(score: Score, path: str | os.PathLike, sample_rate: int = 22050) -> Path:
    """Write the score as a 16-bit mono WAV file, atomically; return the path."""
    samples = (synthesize(score, sample_rate) * 32767).astype("<i2")

    def write(out: BinaryIO) -> None:
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(samples.tobytes())

    return write_atomic(path, write)
