"""Plain-Python twin of the ``lcs`` kernel: same functions, same results, by plain DP.

Each DP row is one numpy expression: the LCS row is
``cur[j] = max(cur[j - 1], prev[j], prev[j - 1] + (a[i] == b[j - 1]))``, a running
maximum. It is the tests' oracle and is used only when ``DEEPSYM_PUREPYTHON=1`` asks.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np


def _rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The last DP row: LCS(a, b[:k]) for k = 0..len(b)."""
    row = np.zeros(len(b) + 1, dtype=np.int64)
    for x in a:
        candidates = np.maximum(row[1:], row[:-1] + (b == x))
        row[1:] = np.maximum.accumulate(candidates)
    return row


def lcs_length(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the longest common subsequence of ``a`` and ``b``."""
    return int(_rows(a, b)[-1])


def lcs_lengths(a: np.ndarray, b: np.ndarray, starts: np.ndarray,
                ends: np.ndarray) -> np.ndarray:
    """LCS length of ``a`` and each piece ``b[starts[p]:ends[p]]`` (int64 array)."""
    _check_pieces(len(b), starts, ends)
    return np.array([lcs_length(a, b[s:e]) for s, e in zip(starts, ends, strict=True)],
                    dtype=np.int64)


def _check_pieces(size: int, starts: np.ndarray, ends: np.ndarray) -> None:
    if len(starts) != len(ends):
        raise ValueError("starts and ends differ in length")
    for p, (s, e) in enumerate(zip(starts, ends, strict=True)):
        if not 0 <= s <= e <= size:
            raise ValueError(f"piece {p} [{s}, {e}) is not inside the sequence of {size}")


def lcs_align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An LCS as matched index pairs: int64 array (L, 2) of (i, j), increasing in both.

    Hirschberg: split ``a`` in the middle, join the best split point of ``b`` (the
    first maximising forward + backward LCS), recurse; a side of length one takes
    the first match.
    """
    pairs: list[tuple[int, int]] = []
    _hirschberg(a, b, 0, len(a), 0, len(b), pairs)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _hirschberg(a: np.ndarray, b: np.ndarray, a_lo: int, a_hi: int, b_lo: int, b_hi: int,
                pairs: list[tuple[int, int]]) -> None:
    n, m = a_hi - a_lo, b_hi - b_lo
    if n == 0 or m == 0:
        return
    if n == 1 or m == 1:
        for i in range(a_lo, a_hi):
            for j in range(b_lo, b_hi):
                if a[i] == b[j]:
                    pairs.append((i, j))
                    return
        return
    mid = a_lo + n // 2
    forward = _rows(a[a_lo:mid], b[b_lo:b_hi])
    backward = _rows(a[mid:a_hi][::-1], b[b_lo:b_hi][::-1])
    total = forward + backward[::-1]
    k = int(np.argmax(total))
    if total[k] == 0:
        return
    _hirschberg(a, b, a_lo, mid, b_lo, b_lo + k, pairs)
    _hirschberg(a, b, mid, a_hi, b_lo + k, b_hi, pairs)


def common_runs(a: np.ndarray, b: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                transpose: bool = False, onsets_a: np.ndarray | None = None,
                onsets_b: np.ndarray | None = None, tolerance: float = 0.0) -> np.ndarray:
    """The longest run of matching pairs (i + k, j + k) of ``a`` and each piece
    ``b[starts[p]:ends[p]]``: int64 array (pieces, 3) of (length, i, j), j within the piece.

    Plain: the pairs hold equal symbols (longest common substring). ``transpose``:
    every pair matches on its own and a run extends while the intervals from the
    previous notes are equal (a transposed copy). With onsets a run also extends only
    while the inter-onset intervals differ by at most ``tolerance``. Ties: the run
    ending first in ``a``, then in the piece. (0, 0, 0) when there is none.
    """
    _check_pieces(len(b), starts, ends)
    timed = onsets_a is not None
    if timed and (onsets_b is None or len(onsets_a) != len(a) or len(onsets_b) != len(b)):
        raise ValueError("onsets_a and onsets_b must both be given, as long as a and b")
    out = np.zeros((len(starts), 3), dtype=np.int64)
    for p, (s, e) in enumerate(zip(starts, ends, strict=True)):
        piece_onsets = onsets_b[s:e] if timed else None
        out[p] = _longest_run(a, b[s:e], transpose, onsets_a, piece_onsets, tolerance)
    return out


def _keys(x: np.ndarray, onsets: np.ndarray | None,
          transpose: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What pairs compare (the symbol, or the interval into each note), whether each
    note has one (not the first note's interval), and the inter-onset gaps."""
    has = np.ones(len(x), dtype=bool)
    if transpose:
        x = np.concatenate([[0], np.diff(x)])
        has[0] = False
    gaps = None if onsets is None else np.concatenate([[np.nan], np.diff(onsets)])
    return x, has, gaps


def _longest_run(a: np.ndarray, b: np.ndarray, transpose: bool, onsets_a: np.ndarray | None,
                 onsets_b: np.ndarray | None, tolerance: float) -> tuple[int, int, int]:
    if len(a) == 0 or len(b) == 0:
        return 0, 0, 0
    keys_a, has_a, gaps_a = _keys(a, onsets_a, transpose)
    keys_b, has_b, gaps_b = _keys(b, onsets_b, transpose)
    best = (0, 0, 0)
    prev = np.zeros(len(b) + 1, dtype=np.int64)
    for i in range(len(a)):
        same = (keys_b == keys_a[i]) & has_b & has_a[i]
        start = np.ones(len(b), dtype=bool) if transpose else same
        extend = same if transpose else np.ones(len(b), dtype=bool)
        if gaps_a is not None:
            extend = extend & (np.abs(gaps_a[i] - gaps_b) <= tolerance)
        cur = np.zeros(len(b) + 1, dtype=np.int64)
        cur[1:] = np.where(start, 1 + np.where(extend, prev[:-1], 0), 0)
        j = int(np.argmax(cur))
        if cur[j] > best[0]:
            best = (int(cur[j]), i - int(cur[j]) + 1, j - int(cur[j]))
        prev = cur
    return best


def to_int64(seq: Sequence[int]) -> np.ndarray:
    """A list or tuple of integers as an int64 array (TypeError for a non-integer,
    OverflowError outside int64)."""
    values = [operator.index(v) for v in seq]
    for v in values:
        if not -2**63 <= v < 2**63:
            raise OverflowError(f"{v} does not fit in int64")
    return np.array(values, dtype=np.int64)
