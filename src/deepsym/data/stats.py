"""Statistics of pieces and corpora: key estimates, pitch histograms, tempo and meter.

Key estimate (Krumhansl-Schmuckler): the duration-weighted pitch-class histogram ``h``
of a piece's pitched (non-drum) notes is correlated (Pearson's r) with the
Krumhansl-Kessler major and minor profiles rotated to all 12 tonics; the key is the
rotation with the largest r.
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.fileio import write_atomic

if TYPE_CHECKING:
    from deepsym.data.corpus import Corpus

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
# Rows: C major, C# major, ..., B major, C minor, ..., B minor; columns: pitch classes.
_KEY_PROFILES = np.array([np.roll(profile, tonic) for profile in (MAJOR_PROFILE, MINOR_PROFILE)
                          for tonic in range(12)])
TEMPO_BIN = 20  # qpm per bin of the tempo histogram
NOTES_PER_BLOCK = 1 << 24  # notes read from the memory map at a time


def pitch_class_histogram(notes: np.ndarray) -> np.ndarray:
    """Total duration in ticks of each pitch class (C=0 .. B=11), shape (12,), float64."""
    return np.bincount(notes["pitch"] % 12, weights=notes["duration"], minlength=12)


def estimate_key(histogram: np.ndarray) -> tuple[str, float] | None:
    """The key whose profile best correlates with a pitch-class histogram, and that r.

    Returns e.g. ``("G major", 0.89)``; None when the histogram is flat (no pitched notes).
    """
    h = np.asarray(histogram, dtype=np.float64) - np.mean(histogram)
    if not np.any(h):
        return None
    profiles = _KEY_PROFILES - _KEY_PROFILES.mean(axis=1, keepdims=True)
    r = profiles @ h / (np.linalg.norm(profiles, axis=1) * np.linalg.norm(h))
    best = int(np.argmax(r))
    return f"{PITCH_CLASSES[best % 12]} {MODES[best // 12]}", float(r[best])


def longest_in_force(ticks: np.ndarray, end_tick: int) -> int | None:
    """Index of the event (tempo, meter) in force for the most ticks up to ``end_tick``.

    None when the default, in force before the first event (or with no events), lasts
    longest. Of equally long spans the earliest wins.
    """
    ticks = np.asarray(ticks, np.int64)
    bounds = np.concatenate([[0], ticks, [max([end_tick, *ticks[-1:].tolist()])]])
    best = int(np.argmax(np.diff(bounds)))  # span 0: the default, before the first event
    return None if best == 0 else best - 1


@dataclass(frozen=True)
class CorpusStats:
    """What ``deepsym corpus info`` shows; histograms count pitched (non-drum) notes."""

    pieces: int
    notes: int
    tracks: int
    seconds: float
    splits: dict[str, int]
    pitch_histogram: np.ndarray  # (128,) notes per MIDI pitch
    pitch_class_histogram: np.ndarray  # (12,) notes per pitch class
    tempos: np.ndarray  # (pieces,) the qpm in force longest in each piece
    time_signatures: Counter
    keys: Counter
    rejected: Counter  # kind of rejection -> files


def corpus_stats(corpus: Corpus) -> CorpusStats:
    """Counts and distributions of a corpus, reading its notes block by block."""
    pitches = np.zeros(128, np.int64)
    tracks = corpus.track_table
    ends = tracks["note_begin"] + tracks["note_count"]
    first = 0
    while first < len(tracks):  # blocks of whole tracks, about NOTES_PER_BLOCK notes each
        stop = max(first + 1, int(np.searchsorted(ends, ends[first] + NOTES_PER_BLOCK)))
        block = corpus.note_array[tracks["note_begin"][first]:ends[stop - 1]]
        pitched = ~np.repeat(tracks["is_drum"][first:stop], tracks["note_count"][first:stop])
        pitches += np.bincount(block["pitch"][pitched], minlength=128)
        first = stop
    pieces = corpus.pieces
    return CorpusStats(
        pieces=len(pieces),
        notes=int(tracks["note_count"].sum()),
        tracks=len(tracks),
        seconds=float(sum(p.duration for p in pieces)),
        splits={name: len(corpus.split(name)) for name in corpus.split_names},
        pitch_histogram=pitches,
        pitch_class_histogram=np.bincount(np.arange(128) % 12, weights=pitches,
                                          minlength=12).astype(np.int64),
        tempos=np.array([p.qpm for p in pieces], dtype=np.float64),
        time_signatures=Counter(p.time_signature for p in pieces),
        keys=Counter(p.key for p in pieces if p.key is not None),
        rejected=Counter(r.kind for r in corpus.rejected),
    )


def tempo_histogram(qpm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(counts, bin edges) of tempos in bins of TEMPO_BIN qpm covering all values."""
    if len(qpm) == 0:
        return np.zeros(0, np.int64), np.zeros(1)
    low = np.floor(qpm.min() / TEMPO_BIN) * TEMPO_BIN
    high = max(np.floor(qpm.max() / TEMPO_BIN) * TEMPO_BIN + TEMPO_BIN, low + TEMPO_BIN)
    return np.histogram(qpm, bins=np.arange(low, high + TEMPO_BIN / 2, TEMPO_BIN))


def write_plots(stats: CorpusStats, folder: Path) -> list[Path]:
    """Write the histograms as PNG files into ``folder``; return their paths.

    Needs matplotlib (``pip install "deepsym[plot]"``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DeepsymError('plotting needs matplotlib: pip install "deepsym[plot]"') from None
    folder.mkdir(parents=True, exist_ok=True)
    counts, edges = tempo_histogram(stats.tempos)
    meters = stats.time_signatures.most_common()
    charts = [
        ("pitch", "MIDI pitch", np.arange(128), stats.pitch_histogram, "notes"),
        ("pitch_class", "pitch class", list(PITCH_CLASSES), stats.pitch_class_histogram,
         "notes"),
        ("tempo", "tempo (qpm), longest in force", edges[:-1], counts, "pieces"),
        ("time_signature", "time signature, longest in force", [m for m, _ in meters],
         [n for _, n in meters], "pieces"),
    ]
    written = []
    for name, xlabel, x, heights, ylabel in charts:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        width = TEMPO_BIN * 0.9 if name == "tempo" else 0.8
        ax.bar(x, heights, width=width, align="edge" if name == "tempo" else "center")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{stats.pieces} pieces, {stats.notes:,} notes")
        fig.tight_layout()
        try:
            written.append(write_atomic(folder / f"{name}.png",
                                        functools.partial(fig.savefig, dpi=100, format="png")))
        finally:
            plt.close(fig)
    return written
