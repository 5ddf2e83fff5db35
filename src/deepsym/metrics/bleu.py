"""Corpus BLEU over note n-grams: how much of the generated music's local material
(runs of 1..4 notes) also occurs in a reference set, as in SeqGAN's evaluation."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from deepsym.metrics.notes import Music, notes_of, tracks_of
from deepsym.score import Score

TOKENS = ("pitch", "pitch_duration")


def note_tokens(music: Music, tokens: str = "pitch", steps_per_beat: int = 12,
                ticks_per_beat: int | None = None) -> np.ndarray:
    """The pitched notes in reading order as integer tokens (int64).

    ``pitch``: the MIDI pitch. ``pitch_duration``: ``pitch + 128 * d`` with ``d`` the
    duration rounded to steps of ``1/steps_per_beat`` beat. A Track needs
    ``ticks_per_beat`` for durations; a Score brings its own.
    """
    if tokens not in TOKENS:
        raise ValueError(f"unknown tokens {tokens!r}; choose from {', '.join(TOKENS)}")
    notes = notes_of(music)
    pitches = notes["pitch"].astype(np.int64)
    if tokens == "pitch":
        return pitches
    tpb = music.ticks_per_beat if isinstance(music, Score) else ticks_per_beat
    if tpb is None:
        tracks_of(music)  # the type check
        raise ValueError("pitch_duration tokens of a Track need ticks_per_beat")
    steps = np.floor(notes["duration"] * (steps_per_beat / tpb) + 0.5).astype(np.int64)
    return pitches + 128 * steps


def bleu(generated: Music | Iterable[Music], references: Iterable[Music], *,
         max_n: int = 4, tokens: str = "pitch", steps_per_beat: int = 12,
         smoothing: float = 0.1) -> float:
    """Corpus BLEU of generated pieces against a reference set, over note tokens.

    Each generated piece is a hypothesis and every reference piece is a reference
    for it; see :func:`corpus_bleu` for the formula and :func:`note_tokens` for the
    tokens. 0.0 when there is nothing generated or nothing to compare with.
    """
    pieces = generated if isinstance(generated, Iterable) else [generated]

    def encode(items: Iterable[Music]) -> list[np.ndarray]:
        return [note_tokens(m, tokens, steps_per_beat) for m in items]

    return corpus_bleu(encode(pieces), encode(references), max_n=max_n, smoothing=smoothing)


def corpus_bleu(hypotheses: Sequence[np.ndarray], references: Sequence[np.ndarray], *,
                max_n: int = 4, smoothing: float = 0.1) -> float:
    """Corpus BLEU (Papineni et al. 2002) of token sequences, all references shared.

    ``BLEU = BP exp(sum_{n=1}^{N} log(p_n) / N)``. ``p_n = sum_h sum_g min(c_h(g),
    max_r c_r(g)) / sum_h max(1, |h| - n + 1)``, with ``c_x(g)`` the count of n-gram
    ``g`` in sequence ``x``; a ``p_n`` of zero becomes ``smoothing / denominator``
    (Chen & Cherry's method 1; nltk's ``SmoothingFunction(epsilon).method1``).
    ``BP = 1`` if ``c > r`` else ``exp(1 - r / c)``, with ``c = sum_h |h|`` and ``r``
    the sum over hypotheses of the closest reference length (the shorter on ties).
    0.0 when no unigram matches (as nltk), including empty inputs.
    """
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, not {max_n}")
    hyp_lengths = np.array([len(h) for h in hypotheses], dtype=np.int64)
    ref_lengths = np.array([len(r) for r in references], dtype=np.int64)
    c = int(hyp_lengths.sum())
    if c == 0 or ref_lengths.sum() == 0:
        return 0.0
    lengths = np.concatenate([hyp_lengths, ref_lengths])
    tokens = np.unique(np.concatenate([*hypotheses, *references]).astype(np.int64),
                       return_inverse=True)[1].reshape(-1)
    piece = np.repeat(np.arange(len(lengths)), lengths)
    remaining = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(tokens))
    vocabulary = int(tokens.max()) + 1
    gram = tokens
    log_sum = 0.0
    for n in range(1, max_n + 1):
        if n > 1:  # the n-gram at i: the (n-1)-gram at i, then the token at i + n - 1
            following = np.append(tokens[n - 1:], np.zeros(n - 1, dtype=np.int64))
            gram = np.unique(gram * vocabulary + following, return_inverse=True)[1].reshape(-1)
        valid = remaining >= n
        matches = _clipped_matches(gram[valid], piece[valid], len(hyp_lengths))
        if n == 1 and matches == 0:
            return 0.0
        denominator = int(np.maximum(hyp_lengths - n + 1, 1).sum())
        precision = (matches or smoothing) / denominator
        if precision <= 0:
            return 0.0
        log_sum += math.log(precision) / max_n
    r = int(_closest(np.sort(ref_lengths), hyp_lengths).sum())
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(log_sum)


def _clipped_matches(gram: np.ndarray, piece: np.ndarray, n_hyp: int) -> int:
    """sum over hypotheses h and n-grams g of min(c_h(g), max over references r of c_r(g))."""
    size = int(gram.max()) + 1 if len(gram) else 1
    keys, counts = np.unique(piece * size + gram, return_counts=True)
    owner, grams = np.divmod(keys, size)
    hyp = owner < n_hyp
    best = np.zeros(size, dtype=np.int64)
    np.maximum.at(best, grams[~hyp], counts[~hyp])
    return int(np.minimum(counts[hyp], best[grams[hyp]]).sum())


def _closest(sorted_refs: np.ndarray, hyp_lengths: np.ndarray) -> np.ndarray:
    """For each hypothesis length, the closest reference length (the shorter on ties)."""
    i = np.searchsorted(sorted_refs, hyp_lengths)
    below = sorted_refs[np.maximum(i - 1, 0)]
    above = sorted_refs[np.minimum(i, len(sorted_refs) - 1)]
    return np.where(np.abs(hyp_lengths - below) <= np.abs(above - hyp_lengths), below, above)
