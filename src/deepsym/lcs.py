"""Longest common subsequences and substrings of integer sequences, and music-aware variants.

Inputs are 1-D integer sequences of any alphabet (lists, tuples or numpy arrays; MIDI
pitches, token ids, any int64). The work is done by the ``lcs`` kernel: bit-parallel
LCS (64 cells a machine word), Hirschberg alignment in linear memory, a one-row DP for
runs. Bad input raises :class:`SequenceError`, also a ValueError.

Variants a string library cannot give:

- transposition-invariant: ``transposed_lcs_length`` (the best LCS of ``a + t`` and
  ``b`` over all shifts ``t``) and ``transposed_common_substring`` (the longest stretch
  whose intervals between consecutive notes agree: a copy moved to another key);
- onset-aware: ``timed_common_substring`` (the longest stretch that also keeps its
  rhythm: inter-onset intervals agree within a tolerance).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepsym._kernels import load
from deepsym.errors import SequenceError

kernel = load("lcs")

# Transposition: values within +-2**62 so that intervals never overflow int64, and
# (for the LCS, which tries every shift) a span of at most MAX_SPAN between them.
MAX_MAGNITUDE = 2**62
MAX_SPAN = 2048

__all__ = [
    "SequenceError",
    "lcs_align",
    "lcs_length",
    "longest_common_substring",
    "timed_common_substring",
    "transposed_common_substring",
    "transposed_lcs_length",
]


def as_sequence(x: Any, name: str = "sequence") -> np.ndarray:
    """``x`` as a contiguous 1-D int64 array, or :class:`SequenceError` saying why not."""
    if isinstance(x, (list, tuple)):
        try:
            return kernel.to_int64(x)
        except TypeError as exc:
            raise SequenceError(f"{name} must be a 1-D sequence of integers ({exc})") from None
        except OverflowError:
            raise SequenceError(f"{name} holds an integer outside the int64 range") from None
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise SequenceError(f"{name} must be a 1-D sequence of integers (list, tuple or "
                            f"numpy array), not {type(x).__name__}")
    array = np.asarray(x)
    if array.ndim != 1:
        raise SequenceError(f"{name} must be 1-D, not of shape {array.shape}")
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise SequenceError(f"{name} must hold integers, not {array.dtype}")
    if array.dtype == np.uint64 and array.max() >= 2**63:
        raise SequenceError(f"{name} holds an integer outside the int64 range")
    return np.ascontiguousarray(array, dtype=np.int64)


def _onsets(x: Any, like: np.ndarray, name: str) -> np.ndarray:
    try:
        onsets = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise SequenceError(f"{name} must be a 1-D sequence of numbers") from None
    if onsets.shape != like.shape:
        raise SequenceError(f"{name} has shape {onsets.shape} but its notes {like.shape}")
    if not np.isfinite(onsets).all():
        raise SequenceError(f"{name} holds a value that is not finite")
    return onsets


def _whole(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(1, dtype=np.int64), np.full(1, len(b), dtype=np.int64)


def _for_transposition(a: np.ndarray, b: np.ndarray) -> None:
    for name, x in (("a", a), ("b", b)):
        if len(x) and max(-int(x.min()), int(x.max())) >= MAX_MAGNITUDE:
            raise SequenceError(f"transposition needs values within +-2**62; {name} holds "
                                f"{int(x.min())}..{int(x.max())}")


def lcs_length(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (0 if either is empty)."""
    return kernel.lcs_length(as_sequence(a, "a"), as_sequence(b, "b"))


def lcs_align(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> np.ndarray:
    """A longest common subsequence as index pairs: int64 array of shape (L, 2).

    Row k is (i, j) with ``a[i] == b[j]``; both columns strictly increase and L equals
    ``lcs_length(a, b)``. Hirschberg's method: memory linear in the lengths, time about
    four times that of ``lcs_length``.
    """
    return kernel.lcs_align(as_sequence(a, "a"), as_sequence(b, "b"))


def longest_common_substring(a: Sequence[int] | np.ndarray,
                             b: Sequence[int] | np.ndarray) -> tuple[int, int, int]:
    """The longest literal copy: ``(length, start_a, start_b)`` with
    ``a[start_a:start_a + length] == b[start_b:start_b + length]``.

    Among equally long copies the one ending first in ``a``, then in ``b``; (0, 0, 0)
    when the sequences share no symbol.
    """
    a, b = as_sequence(a, "a"), as_sequence(b, "b")
    length, i, j = kernel.common_runs(a, b, *_whole(b))[0]
    return int(length), int(i), int(j)


def transposed_common_substring(a: Sequence[int] | np.ndarray,
                                b: Sequence[int] | np.ndarray) -> tuple[int, int, int]:
    """The longest transposed copy: ``(length, start_a, start_b)`` such that
    ``a[start_a + k] - b[start_b + k]`` is the same for k = 0..length-1.

    That is, equal intervals between consecutive notes: a stretch of L notes is a run
    of L - 1 equal intervals, and any single note copies any other (length 1 when both
    are non-empty). Ties as in :func:`longest_common_substring`. Values must lie
    within +-2**62.
    """
    a, b = as_sequence(a, "a"), as_sequence(b, "b")
    _for_transposition(a, b)
    length, i, j = kernel.common_runs(a, b, *_whole(b), True)[0]
    return int(length), int(i), int(j)


def timed_common_substring(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray,
                           onsets_a: Sequence[float] | np.ndarray,
                           onsets_b: Sequence[float] | np.ndarray, *, tolerance: float,
                           transpose: bool = False) -> tuple[int, int, int]:
    """The longest copy that keeps its rhythm: ``(length, start_a, start_b)``.

    Notes k = 0..L-1 of the two stretches hold equal pitches (with ``transpose``:
    equal intervals, as in :func:`transposed_common_substring`) and, for k >= 1, their
    inter-onset intervals agree: ``|(onsets_a[i+k] - onsets_a[i+k-1]) -
    (onsets_b[j+k] - onsets_b[j+k-1])| <= tolerance`` (same unit as the onsets). Only
    the relative timing counts, so a copy moved in time is still found; each interval
    may differ by the tolerance, so slow drifts (a small tempo change) pass too.
    Ties as in :func:`longest_common_substring`.
    """
    a, b = as_sequence(a, "a"), as_sequence(b, "b")
    onsets_a, onsets_b = _onsets(onsets_a, a, "onsets_a"), _onsets(onsets_b, b, "onsets_b")
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise SequenceError(f"tolerance must be a finite number >= 0, not {tolerance!r}")
    if transpose:
        _for_transposition(a, b)
    length, i, j = kernel.common_runs(a, b, *_whole(b), transpose, onsets_a, onsets_b,
                                      float(tolerance))[0]
    return int(length), int(i), int(j)


def transposed_lcs_length(a: Sequence[int] | np.ndarray,
                          b: Sequence[int] | np.ndarray) -> tuple[int, int]:
    """The transposition-invariant LCS: ``(length, shift)``, the largest
    ``lcs_length(a + shift, b)`` over all integer shifts.

    Ties go to the smallest ``|shift|``, then the lower shift; (0, 0) when either is
    empty. The values of both must span at most MAX_SPAN (2048). Shifts are tried in
    order of their bound ``sum_v min(count_a(v), count_b(v + shift))`` (an upper bound
    of the LCS), stopping when no bound can reach the best length found.
    """
    a, b = as_sequence(a, "a"), as_sequence(b, "b")
    if len(a) == 0 or len(b) == 0:
        return 0, 0
    lo, hi = min(int(a.min()), int(b.min())), max(int(a.max()), int(b.max()))
    if hi - lo > MAX_SPAN:
        raise SequenceError(f"transposition needs values spanning at most {MAX_SPAN}, "
                            f"not {lo}..{hi}")
    bounds = shift_bounds(a - lo, b - lo, hi - lo + 1)
    shifts = np.arange(-(hi - lo), hi - lo + 1)
    best, best_shift = 0, 0
    for k in np.lexsort((shifts, np.abs(shifts), -bounds)):
        if bounds[k] == 0 or bounds[k] < best:
            break
        shift = int(shifts[k])
        length = kernel.lcs_length(a + shift, b)
        if length > best or (length == best and (abs(shift), shift) < (abs(best_shift),
                                                                         best_shift)):
            best, best_shift = length, shift
    return best, best_shift


def shift_bounds(a: np.ndarray, b: np.ndarray, span: int) -> np.ndarray:
    """For shifts t = -(span-1)..span-1: sum_v min(count_a(v), count_b(v + t)), an upper
    bound of ``lcs_length(a + t, b)``; values of ``a`` and ``b`` in 0..span-1."""
    count_a = np.bincount(a, minlength=span)
    padded = np.concatenate([np.zeros(span - 1, dtype=np.int64),
                             np.bincount(b, minlength=span), np.zeros(span - 1, dtype=np.int64)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, span)
    return np.minimum(windows, count_a).sum(axis=1)
