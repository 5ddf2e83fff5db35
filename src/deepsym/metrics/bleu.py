"""Corpus BLEU over note n-grams: how much of the generated music's local material
(runs of 1..4 notes) also occurs in a reference set, as in SeqGAN's evaluation."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

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
    log_sum = 0.0
    for n, gram, piece in _ngrams([*hypotheses, *references], max_n):
        matches = _clipped_matches(gram, piece, len(hyp_lengths))
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


def self_bleu(hypotheses: Sequence[np.ndarray], *, max_n: int = 4,
              smoothing: float = 0.1) -> float:
    """Self-BLEU (Zhu et al. 2018, Texygen) of a set of token sequences: higher is less diverse.

    ``self_BLEU = mean_h BLEU(h; {r : r != h})``, the :func:`corpus_bleu` of each sequence
    as the only hypothesis against all the others as references (so ``p_n = sum_g
    min(c_h(g), max_{r != h} c_r(g)) / max(1, |h| - n + 1)``, smoothed as there). 0.0 for
    fewer than two sequences.
    """
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, not {max_n}")
    if len(hypotheses) < 2:
        return 0.0
    matches, counts, lengths, r = _against_others(hypotheses, max_n)
    return float(_combine(matches, counts, lengths, r, smoothing).mean())


def leave_one_out_bleu(sequences: Sequence[np.ndarray], *, max_n: int = 4,
                       smoothing: float = 0.1) -> float:
    """Corpus BLEU of a set against itself, each sequence's references being the others.

    As :func:`corpus_bleu`, with ``p_n = sum_h sum_g min(c_h(g), max_{r != h} c_r(g)) /
    sum_h max(1, |h| - n + 1)`` and ``r`` the sum over ``h`` of the closest other length
    (nltk's ``corpus_bleu`` with ``list_of_references[h]`` = the others): how much a real
    set matches itself, to set a generated set's BLEU against it beside. 0.0 for fewer
    than two sequences.
    """
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, not {max_n}")
    if len(sequences) < 2:
        return 0.0
    matches, counts, lengths, r = _against_others(sequences, max_n)
    return float(_combine(matches.sum(axis=1, keepdims=True), counts.sum(axis=1, keepdims=True),
                          lengths.sum(keepdims=True), r.sum(keepdims=True), smoothing)[0])


def _against_others(sequences: Sequence[np.ndarray],
                    max_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each sequence as a hypothesis against the others: clipped matches and n-gram counts
    ``max(1, |h| - n + 1)`` (rows n = 1..max_n, a column per sequence), the lengths, and
    the closest other lengths."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    matches = np.zeros((max_n, len(sequences)))
    for n, gram, piece in _ngrams(sequences, max_n):
        matches[n - 1] = _matches_against_others(gram, piece, len(sequences))
    counts = np.maximum(lengths - np.arange(max_n)[:, None], 1)
    return matches, counts, lengths, _closest_other(lengths)


def _combine(matches: np.ndarray, counts: np.ndarray, c: np.ndarray, r: np.ndarray,
             smoothing: float) -> np.ndarray:
    """BLEU per column from clipped matches and n-gram counts (rows n = 1..N), hypothesis
    lengths ``c`` and reference lengths ``r``: as :func:`corpus_bleu`, 0 without a unigram
    match or where a precision stays zero."""
    precision = np.where(matches > 0, matches, smoothing) / counts
    defined = (matches[0] > 0) & (precision > 0).all(axis=0)
    log_mean = np.log(np.where(precision > 0, precision, 1.0)).mean(axis=0)
    brevity = np.where(c > r, 1.0, np.exp(1 - r / np.maximum(c, 1)))
    return np.where(defined, brevity * np.exp(log_mean), 0.0)


def _matches_against_others(gram: np.ndarray, piece: np.ndarray, count: int) -> np.ndarray:
    """Per piece h, sum over n-grams g of min(c_h(g), max over other pieces r of c_r(g)).

    The best other count is the largest count of g, or the second largest (counting ties)
    where h holds the largest.
    """
    size = int(gram.max()) + 1 if len(gram) else 1
    keys, counts = np.unique(piece * size + gram, return_counts=True)
    owner, grams = np.divmod(keys, size)
    order = np.lexsort((-counts, grams))
    sorted_grams, sorted_counts = grams[order], counts[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_grams[1:] != sorted_grams[:-1]
    largest = np.zeros(size, dtype=np.int64)
    largest[sorted_grams[first]] = sorted_counts[first]
    second = np.zeros(size, dtype=np.int64)
    runner_up = np.flatnonzero(first[:-1] & ~first[1:]) + 1
    second[sorted_grams[runner_up]] = sorted_counts[runner_up]
    best_other = np.where(counts == largest[grams], second[grams], largest[grams])
    return np.bincount(owner, weights=np.minimum(counts, best_other), minlength=count)


def _closest_other(lengths: np.ndarray) -> np.ndarray:
    """For each of two or more lengths, the closest of the others (the shorter on ties):
    a neighbour in sorted order."""
    order = np.argsort(lengths, kind="stable")
    ordered = lengths[order].astype(np.float64)
    below = np.concatenate([[-np.inf], ordered[:-1]])
    above = np.concatenate([ordered[1:], [np.inf]])
    closest = np.empty(len(lengths), dtype=np.int64)
    closest[order] = np.where(ordered - below <= above - ordered, below, above)
    return closest


def _ngrams(sequences: Sequence[np.ndarray],
            max_n: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For n = 1..max_n: n, the ids of every n-gram of the sequences (equal n-grams, equal
    ids) and the index of the sequence each comes from."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    tokens = np.unique(np.concatenate(sequences).astype(np.int64),
                       return_inverse=True)[1].reshape(-1)
    piece = np.repeat(np.arange(len(lengths)), lengths)
    remaining = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(tokens))
    vocabulary = int(tokens.max()) + 1 if len(tokens) else 1
    gram = tokens
    for n in range(1, max_n + 1):
        if n > 1:  # the n-gram at i: the (n-1)-gram at i, then the token at i + n - 1
            following = np.zeros_like(tokens)
            following[:max(len(tokens) - n + 1, 0)] = tokens[n - 1:]
            gram = np.unique(gram * vocabulary + following, return_inverse=True)[1].reshape(-1)
        valid = remaining >= n
        yield n, gram[valid], piece[valid]


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
