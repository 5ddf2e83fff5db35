"""Pitch metrics: what notes are played, regardless of when.

Drum tracks are ignored throughout. Each function states its formula; ``N`` is the
number of pitched notes and ``p_i`` the pitch of note ``i`` (MIDI number, 60 = C4).
"""
from __future__ import annotations

import math

import numpy as np

from deepsym.metrics.notes import Music, notes_of, pitch_sequence

#: Scales as pitch-class offsets from their root (C-RNN-GAN's three; "minor" is natural minor).
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural_minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}


def pitch_range(music: Music) -> int:
    """Highest minus lowest pitch, in semitones: ``max p_i - min p_i``; 0 without notes.

    This is also C-RNN-GAN's *tone span*. muspy returns -127 for a score whose only
    notes are drums (its initial max/min of 0 and 127 survive); here that is 0.
    """
    pitches = notes_of(music)["pitch"]
    return int(pitches.max()) - int(pitches.min()) if len(pitches) else 0


#: C-RNN-GAN's name for the pitch range.
tone_span = pitch_range


def n_pitches_used(music: Music) -> int:
    """Number of distinct pitches: ``|{p_i}|``; 0 without notes."""
    return int(np.count_nonzero(np.bincount(notes_of(music)["pitch"], minlength=128)))


def n_pitch_classes_used(music: Music) -> int:
    """Number of distinct pitch classes: ``|{p_i mod 12}|``; 0 without notes."""
    return int(np.count_nonzero(_pitch_class_histogram(music)))


def pitch_entropy(music: Music) -> float:
    """Shannon entropy of the pitch histogram in bits: ``-sum_p P(p) log2 P(p)`` with
    ``P(p) = #{i : p_i = p} / N``; NaN without notes."""
    return _entropy(np.bincount(notes_of(music)["pitch"], minlength=128))


def pitch_class_entropy(music: Music) -> float:
    """Shannon entropy of the pitch-class histogram in bits: ``-sum_c P(c) log2 P(c)``
    with ``P(c) = #{i : p_i mod 12 = c} / N`` (0 to log2 12 = 3.585); NaN without notes."""
    return _entropy(_pitch_class_histogram(music))


def scale_consistency(music: Music, scales: tuple[str, ...] = tuple(SCALES)) -> float:
    """The fraction of notes in the best-fitting scale (C-RNN-GAN's scale consistency).

    ``max over root r in 0..11 and scale S of #{i : (p_i - r) mod 12 in S} / N``, with
    ``S`` over ``scales`` (default: major, natural minor, harmonic minor, as C-RNN-GAN).
    C-RNN-GAN's published code tests ``p_i mod 12 - r`` without the final ``mod 12``, so
    notes below the root's pitch class never count and roots near C win; this takes the
    offset modulo 12 as the paper intends. With ``scales=("major", "natural_minor")``
    this is muspy's ``scale_consistency``. NaN without notes.
    """
    unknown = [s for s in scales if s not in SCALES]
    if unknown or not scales:
        given = repr(unknown[0]) if unknown else "(none given)"
        raise ValueError(f"unknown scale {given}; choose from {', '.join(SCALES)}")
    histogram = _pitch_class_histogram(music)
    total = histogram.sum()
    if total == 0:
        return math.nan
    masks = np.zeros((len(scales), 12), dtype=np.int64)
    for row, name in enumerate(scales):
        masks[row, list(SCALES[name])] = 1
    # rotated[r, c] = histogram[(c + r) % 12]: the histogram seen from root r.
    rotated = histogram[(np.arange(12)[:, None] + np.arange(12)[None, :]) % 12]
    return float((rotated @ masks.T).max() / total)


def repetitions(music: Music, length: int = 2) -> int:
    """How often a run of ``length`` pitches recurs later (C-RNN-GAN's repetitions).

    On the pitch sequence ``s`` in reading order (start, then pitch), the number of
    pairs ``i < j`` with ``j >= i + length`` (the two runs do not overlap) and
    ``s[i:i+length] == s[j:j+length]``. Only pitches and their order count, not timing.
    C-RNN-GAN's code leaves out the last possible run and stops at lengths below half
    the sequence; here every run counts. 0 for sequences shorter than ``2 * length``.
    """
    if length < 1:
        raise ValueError(f"length must be at least 1, not {length}")
    seq = pitch_sequence(music)
    if len(seq) < 2 * length:
        return 0
    windows = np.lib.stride_tricks.sliding_window_view(seq, length)
    ids = np.unique(windows, axis=0, return_inverse=True)[1].reshape(-1)
    positions = np.arange(len(ids), dtype=np.int64)
    # Sorted keys (run id, position): for each run, count earlier equal runs ending before it.
    stride = len(ids) + length + 1
    keys = np.sort(ids.astype(np.int64) * stride + positions)
    run_ids, pos = np.divmod(keys, stride)
    group_start = np.searchsorted(keys, run_ids * stride)
    earlier = np.searchsorted(keys, run_ids * stride + pos - length, side="right") - group_start
    return int(earlier.sum())


def _pitch_class_histogram(music: Music) -> np.ndarray:
    return np.bincount(notes_of(music)["pitch"] % 12, minlength=12)


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return math.nan
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0
