"""Shared helpers of the LCS and plagiarism benchmarks: real pitch sequences, a synthetic
training set built from the real corpus, a pure-Python DP peer and the results file."""
from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path
from typing import Any

import midibench
import numpy as np
from music21_corpus import real_midi_files

import deepsym
from deepsym.metrics.originality import note_sequence
from deepsym.score import NOTE_DTYPE, Score, Track

RESULTS_PATH = midibench.BENCH_DIR / "results" / "lcs.json"
RESULTS: dict[str, Any] = {}


def python_dp(a: list[int], b: list[int]) -> int:
    """The plain one-row LCS DP in pure Python (the baseline a user would write)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        left = 0
        for j, y in enumerate(b):
            left = prev[j] + 1 if x == y else max(prev[j + 1], left)
            cur.append(left)
        prev = cur
    return prev[-1]


@cache
def real_scores() -> tuple[Score, ...]:
    return tuple(deepsym.read_midi(p) for p in sorted(set(real_midi_files())))


def pitch_stream(n: int, offset: int) -> list[int]:
    """``n`` pitches of real pieces read one after another, starting at piece ``offset``."""
    scores = real_scores()
    out: list[int] = []
    k = offset
    while len(out) < n:
        out += note_sequence(scores[k % len(scores)])[0].tolist()
        k += 1
    return out[:n]


def _notes(score: Score) -> np.ndarray:
    parts = [t.notes for t in score.tracks if not t.is_drum]
    return np.concatenate(parts) if parts else np.empty(0, dtype=NOTE_DTYPE)


def synthetic_training_set(count: int, seed: int = 0) -> list[Score]:
    """``count`` distinct pieces made in memory from the real corpus.

    The first pieces are the real ones unchanged; the others take a real piece,
    transpose it by -6..+5 semitones, crop it to a random 50-100% window of its ticks
    and, every other piece, append a second real piece (its notes moved after the
    first's end). All notes go into one track; the first piece's tempo map is kept.
    """
    rng = np.random.default_rng(seed)
    scores = real_scores()
    out = list(scores[:count])
    while len(out) < count:
        base = scores[rng.integers(len(scores))]
        notes = _notes(base).copy()
        notes["pitch"] = np.clip(notes["pitch"].astype(np.int64) + rng.integers(-6, 6), 0, 127)
        end = int(notes["start"].max()) + 1
        keep = end * rng.uniform(0.5, 1.0)
        first = rng.uniform(0, end - keep)
        notes = notes[(notes["start"] >= first) & (notes["start"] < first + keep)]
        if rng.random() < 0.5:
            other = scores[rng.integers(len(scores))]
            if other.ticks_per_beat == base.ticks_per_beat:
                more = _notes(other).copy()
                more["start"] += int(notes["start"].max()) + base.ticks_per_beat \
                    if len(notes) else 0
                notes = np.concatenate([notes, more])
        out.append(Score(ticks_per_beat=base.ticks_per_beat, tracks=[Track(notes)],
                         tempos=base.tempos, time_signatures=base.time_signatures))
    return out


def generated_piece(n_notes: int, source: Score, stretch: int = 40) -> tuple[Score, int]:
    """An ``n_notes`` piece of real folk tunes one after another at 120 qpm, with
    ``stretch`` notes of ``source`` spliced in after note 1000; returns it and the
    source's first note of the stretch."""
    pitches: list[np.ndarray] = []
    onsets: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    at = 0.0
    for score in real_scores()[::-1]:
        p, o, e = note_sequence(score)
        if not len(p):
            continue
        pitches.append(p)
        onsets.append(o + at)
        ends.append(e + at)
        at += float(e.max()) + 1.0
        if sum(map(len, pitches)) >= n_notes:
            break
    p, o, e = (np.concatenate(x)[:n_notes - stretch] for x in (pitches, onsets, ends))
    sp, so, se = note_sequence(source)
    k = len(sp) // 3
    cut = 1000
    gap = float(e[:cut].max()) + 0.5 - so[k]
    moved = float(se[k:k + stretch].max()) + gap + 0.5 - o[cut]
    p = np.concatenate([p[:cut], sp[k:k + stretch], p[cut:]])
    o = np.concatenate([o[:cut], so[k:k + stretch] + gap, o[cut:] + moved])
    e = np.concatenate([e[:cut], se[k:k + stretch] + gap, e[cut:] + moved])
    notes = np.zeros(len(p), dtype=NOTE_DTYPE)
    notes["start"] = np.round(o * 960)
    notes["duration"] = np.maximum(np.round((e - o) * 960), 1)
    notes["pitch"], notes["velocity"] = p, 80
    notes = notes[np.lexsort((notes["pitch"], notes["start"]))]
    return Score(ticks_per_beat=480, tracks=[Track(notes)], tempos=[(0, 120.0)]), k


def record(group: str, name: str, benchmark: Any, **info: Any) -> None:
    stats = benchmark.stats.stats if benchmark.stats else None
    row = {"mean_s": stats.mean if stats else None, "min_s": stats.min if stats else None,
           "rounds": stats.rounds if stats else 0, **info}
    benchmark.extra_info.update(row)
    RESULTS.setdefault(group, {})[name] = row


def report() -> dict[str, Any]:
    """This run's results with, per LCS size, each peer's time over deepsym's."""
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {d: midibench.version(d) for d in ("deepsym", "rapidfuzz", "numpy")},
        "ratio": "peer time / deepsym (lists) time, of the means and of the minima "
                 "(>1: deepsym faster; the minima are steadier on a shared machine)",
        **RESULTS,
    }
    for rows in RESULTS.values():
        ref = rows.get("deepsym", {})
        for row in rows.values():
            for stat in ("mean_s", "min_s"):
                if ref.get(stat) and row.get(stat):
                    row[f"{stat[:-2]}_vs_deepsym"] = row[stat] / ref[stat]
    return out


def write(path: Path = RESULTS_PATH) -> None:
    if RESULTS:
        midibench.write_json_atomic(report(), path)
