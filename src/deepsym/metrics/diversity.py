"""Repetition within a piece and diversity across a set, over token sequences (say
:func:`deepsym.metrics.bleu.note_tokens`): a model that loops or collapses to one piece
shows here, where per-piece musical statistics can look fine."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def repeated_ngram_share(tokens: np.ndarray, n: int = 4) -> float:
    """Share of a piece's n-grams that occur earlier in the same piece.

    ``1 - distinct / total``, with ``total = max(0, len(tokens) - n + 1)`` the n-grams at
    every position and ``distinct`` the different ones among them: 0.0 when none repeats,
    towards 1.0 for a loop. 0.0 when the piece has no n-gram (shorter than ``n``).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    tokens = np.asarray(tokens)
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0
    grams = np.lib.stride_tricks.sliding_window_view(tokens, n)
    return 1.0 - len(np.unique(grams, axis=0)) / total


def distinct_pieces(pieces: Sequence[np.ndarray]) -> int:
    """The number of different token sequences among ``pieces`` (equal: same length and
    tokens); ``len(pieces)`` when no two are equal, 0 for none."""
    return len({np.asarray(p, dtype=np.int64).tobytes() for p in pieces})
