"""The LCS kernel against plain references: textbook DPs written here, the plain-Python twin
``lcs_py`` (numpy DP rows) and rapidfuzz, on random and real pitch sequences.

Random sequences span several 64-bit words and the kernel's strips of four (lengths up
to 300 and 1,100), alphabets from two symbols to huge and negative int64 (the hashed
alphabet path). Alignments must be valid (pairs increasing, symbols equal) and as long
as the LCS; substrings must be equal slices. Variants are checked on constructed cases
and against brute force. Bad input must raise SequenceError (a ValueError).
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from music21_corpus import real_midi_files
from rapidfuzz.distance import LCSseq

import deepsym
from deepsym._ext import lcs as compiled
from deepsym._ext import lcs_py
from deepsym.errors import DeepsymError
from deepsym.lcs import SequenceError
from deepsym.metrics.originality import note_sequence

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KERNELS = pytest.mark.parametrize("k", [compiled, lcs_py], ids=["compiled", "twin"])


# -- references ---------------------------------------------------------------------------

def dp_lcs(a: list[int], b: list[int]) -> int:
    """Textbook LCS DP."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def brute_run(a: list[int], b: list[int], transpose: bool = False, onsets_a=None,
              onsets_b=None, tolerance: float = 0.0) -> tuple[int, int, int]:
    """The longest run ending first in a, then b, by extending every pair backwards."""
    best = (0, 0, 0)
    for i in range(len(a)):
        for j in range(len(b)):
            length = 0
            while length <= min(i, j):
                ii, jj = i - length, j - length
                if not transpose and a[ii] != b[jj]:
                    break
                if length:
                    if transpose and a[ii + 1] - a[ii] != b[jj + 1] - b[jj]:
                        break
                    if onsets_a is not None and abs((onsets_a[ii + 1] - onsets_a[ii])
                                                    - (onsets_b[jj + 1] - onsets_b[jj])) \
                            > tolerance:
                        break
                length += 1
            if length > best[0]:
                best = (length, i - length + 1, j - length + 1)
    return best


def whole(b) -> tuple[np.ndarray, np.ndarray]:
    return np.array([0]), np.array([len(b)])


@cache
def real_pitches() -> list[np.ndarray]:
    """Pitch sequences of real pieces (every 7th file of the music21 corpus)."""
    return [note_sequence(deepsym.read_midi(p))[0] for p in real_midi_files()[::7]]


# -- strategies ---------------------------------------------------------------------------

ALPHABETS = st.sampled_from([(0, 1), (0, 3), (40, 90), (-2**63, 2**63 - 1),
                             (-10**6, 10**6)])


@st.composite
def pairs(draw, max_size: int = 300) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = draw(ALPHABETS)
    symbols = st.integers(lo, hi)
    if hi - lo > 100:  # a small pool of huge values, so that matches happen
        pool = draw(st.lists(st.integers(lo, hi), min_size=1, max_size=12, unique=True))
        symbols = st.sampled_from(pool)
    a = draw(st.lists(symbols, max_size=max_size))
    b = draw(st.lists(symbols, max_size=max_size))
    if a and b and draw(st.booleans()):  # plant a shared stretch
        i = draw(st.integers(0, len(a) - 1))
        j = draw(st.integers(0, len(b) - 1))
        k = draw(st.integers(1, min(len(a) - i, len(b) - j)))
        b[j:j + k] = a[i:i + k]
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


# -- LCS length and alignment --------------------------------------------------------------

@FUZZ
@given(pairs())
def test_lcs_length_matches_plain_dp(ab) -> None:
    a, b = ab
    expected = lcs_py.lcs_length(a, b)
    assert compiled.lcs_length(a, b) == compiled.lcs_length(b, a) == expected
    assert deepsym.lcs_length(a.tolist(), b.tolist()) == expected
    assert LCSseq.similarity(a.tolist(), b.tolist()) == expected


@settings(max_examples=60, deadline=None)
@given(pairs(max_size=40))
def test_twin_matches_textbook_dp(ab) -> None:
    a, b = ab
    assert lcs_py.lcs_length(a, b) == dp_lcs(a.tolist(), b.tolist())
    length, i, j = brute_run(a.tolist(), b.tolist())
    assert tuple(lcs_py.common_runs(a, b, *whole(b))[0]) == (length, i, j)


def check_alignment(pairs_: np.ndarray, a: np.ndarray, b: np.ndarray, length: int) -> None:
    assert pairs_.shape == (length, 2) and pairs_.dtype == np.int64
    assert np.all(np.diff(pairs_, axis=0) > 0)
    assert np.array_equal(a[pairs_[:, 0]], b[pairs_[:, 1]])


@FUZZ
@given(pairs())
def test_alignment_is_a_valid_lcs_same_as_twin(ab) -> None:
    a, b = ab
    aligned = deepsym.lcs_align(a, b)
    check_alignment(aligned, a, b, lcs_py.lcs_length(a, b))
    assert np.array_equal(aligned, lcs_py.lcs_align(a, b))


@pytest.mark.parametrize(("n", "m"), [(1, 1), (63, 64), (64, 65), (65, 300), (255, 256),
                                      (256, 257), (257, 1100), (1100, 1100)])
@pytest.mark.parametrize("kind", ["equal", "binary", "wide"])
def test_word_and_strip_boundaries(n: int, m: int, kind: str) -> None:
    """All-equal symbols carry through every word; lengths straddle 64 and 256 bits."""
    rng = np.random.default_rng(n * 7919 + m)
    if kind == "equal":
        a, b = np.full(n, 5), np.full(m, 5)
    elif kind == "binary":
        a, b = rng.integers(0, 2, n), rng.integers(0, 2, m)
    else:
        a, b = rng.integers(-2**62, 2**62, n), rng.integers(-2**62, 2**62, m)
        b[: min(n, m) // 2] = a[: min(n, m) // 2]
    expected = LCSseq.similarity(a.tolist(), b.tolist())
    assert deepsym.lcs_length(a, b) == deepsym.lcs_length(b, a) == expected
    check_alignment(deepsym.lcs_align(a, b), a, b, expected)
    check_alignment(deepsym.lcs_align(b, a), b, a, expected)
    assert compiled.lcs_lengths(a, b, *whole(b))[0] == expected


def test_real_pitch_sequences() -> None:
    seqs = real_pitches()
    assert len(seqs) >= 40
    for a, b in itertools.pairwise(seqs):
        expected = lcs_py.lcs_length(a, b)
        assert deepsym.lcs_length(a, b) == expected == LCSseq.similarity(a.tolist(),
                                                                         b.tolist())
        check_alignment(deepsym.lcs_align(a, b), a, b, expected)
        assert deepsym.longest_common_substring(a, b) == \
            tuple(int(x) for x in lcs_py.common_runs(a, b, *whole(b))[0])


def test_batches_equal_single_calls() -> None:
    seqs = real_pitches()[:12]
    a = seqs[0]
    b = np.concatenate([*seqs[1:], np.empty(0, dtype=np.int64)])
    ends = np.cumsum([len(s) for s in seqs[1:]] + [0])
    starts = np.concatenate([[0], ends[:-1]])
    lengths = compiled.lcs_lengths(a, b, starts, ends)
    assert lengths.tolist() == [deepsym.lcs_length(a, s) for s in seqs[1:]] + [0]
    for transpose in (False, True):
        runs = compiled.common_runs(a, b, starts, ends, transpose)
        assert np.array_equal(runs, lcs_py.common_runs(a, b, starts, ends, transpose))
    with pytest.raises(ValueError, match="not inside"):
        compiled.lcs_lengths(a, b, np.array([0]), np.array([len(b) + 1]))


@pytest.mark.parametrize(("a", "b", "length"), [([], [], 0), ([], [3], 0), ([3], [], 0),
                                                 ([3], [3], 1), ([3], [4], 0),
                                                 ([1, 2], [2], 1)])
def test_empty_and_single(a: list[int], b: list[int], length: int) -> None:
    assert deepsym.lcs_length(a, b) == length
    assert len(deepsym.lcs_align(a, b)) == length
    assert deepsym.longest_common_substring(a, b)[0] == length
    assert deepsym.transposed_lcs_length(a, b)[0] == (1 if a and b else 0)
    assert deepsym.transposed_common_substring(a, b)[0] == (1 if a and b else 0)


# -- longest common substring -------------------------------------------------------------

@FUZZ
@given(pairs())
def test_substring_is_an_equal_slice_same_as_twin(ab) -> None:
    a, b = ab
    length, i, j = deepsym.longest_common_substring(a, b)
    assert np.array_equal(a[i:i + length], b[j:j + length])
    assert (length, i, j) == tuple(int(x) for x in lcs_py.common_runs(a, b, *whole(b))[0])
    assert length <= lcs_py.lcs_length(a, b)


# -- variants -----------------------------------------------------------------------------

def test_transposed_copy_is_found() -> None:
    melody = real_pitches()[3][:200]
    host = real_pitches()[4][:300].copy()
    host[100:160] = melody[20:80] + 5
    assert deepsym.longest_common_substring(melody, host)[0] < 60
    length, i, j = deepsym.transposed_common_substring(melody, host)
    assert length >= 60 and i <= 20 and j <= 100 and i + length >= 80 and j + length >= 160
    assert len(set((melody[i:i + length] - host[j:j + length]).tolist())) == 1
    length, _ = deepsym.transposed_lcs_length(melody, host)
    assert length >= 60 and length == max(deepsym.lcs_length(melody + t, host)
                                          for t in range(-60, 61))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(50, 60), max_size=25), st.lists(st.integers(40, 70), max_size=25))
def test_transposed_variants_against_brute_force(a: list[int], b: list[int]) -> None:
    best = max(((lcs_py.lcs_length(np.array(a) + t, np.array(b)), -abs(t), -t)
                for t in range(-30, 31)), default=(0, 0, 0))
    assert deepsym.transposed_lcs_length(a, b) == ((best[0], -best[2]) if best[0] else (0, 0))
    assert deepsym.transposed_common_substring(a, b) == brute_run(a, b, transpose=True)


def test_timed_copy_accepted_or_rejected_by_tolerance() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(55, 70, 80)
    onsets_a = np.cumsum(rng.choice([0.25, 0.5, 1.0], 80))
    b = np.concatenate([rng.integers(40, 50, 30), a[10:50]])
    onsets_b = np.concatenate([np.arange(30) * 0.5, 100 + onsets_a[10:50] - onsets_a[10]])
    # The copy moved in time and slightly jittered is found within the tolerance.
    jitter = np.concatenate([np.zeros(30), rng.uniform(-0.01, 0.01, 40)])
    assert deepsym.timed_common_substring(a, b, onsets_a, onsets_b + jitter,
                                          tolerance=0.03) == (40, 10, 30)
    # Played at another speed it is not (each interval differs by far more).
    slow = np.concatenate([onsets_b[:30], 100 + 1.5 * (onsets_a[10:50] - onsets_a[10])])
    timed = deepsym.timed_common_substring(a, b, onsets_a, slow, tolerance=0.03)
    assert timed[0] < 10
    assert deepsym.longest_common_substring(a, b) == (40, 10, 30)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(60, 63), st.sampled_from([0.25, 0.5, 1.0])), max_size=20),
       st.lists(st.tuples(st.integers(60, 66), st.sampled_from([0.25, 0.5, 0.75])), max_size=20),
       st.sampled_from([0.0, 0.2, 0.3]), st.booleans())
def test_timed_against_brute_force(a, b, tolerance: float, transpose: bool) -> None:
    pa, pb = [p for p, _ in a], [p for p, _ in b]
    oa, ob = np.cumsum([d for _, d in a]), np.cumsum([d for _, d in b])
    assert deepsym.timed_common_substring(pa, pb, oa, ob, tolerance=tolerance,
                                          transpose=transpose) == \
        brute_run(pa, pb, transpose, oa, ob, tolerance)


# -- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "problem"), [
    (np.zeros((2, 3), dtype=np.int64), "1-D"),
    ([1.5, 2.0], "integers"),
    (np.array([1.0, 2.0]), "integers"),
    (np.array([True, False]), "integers"),
    ("abc", "1-D sequence"),
    (None, "1-D sequence"),
    (5, "1-D sequence"),
    ([[1, 2], [3, 4]], "integers"),
    ([2**70], "int64"),
    (np.array([2**64 - 1], dtype=np.uint64), "int64"),
])
def test_bad_input_is_a_clear_error(a, problem: str) -> None:
    for function in (deepsym.lcs_length, deepsym.lcs_align, deepsym.longest_common_substring,
                     deepsym.transposed_lcs_length, deepsym.transposed_common_substring):
        with pytest.raises(SequenceError, match=problem) as info:
            function(a, [1, 2])
        assert isinstance(info.value, ValueError) and isinstance(info.value, DeepsymError)


def test_bad_variant_input() -> None:
    with pytest.raises(SequenceError, match="shape"):
        deepsym.timed_common_substring([1, 2], [1, 2], [0.0], [0.0, 1.0], tolerance=0.1)
    with pytest.raises(SequenceError, match="finite"):
        deepsym.timed_common_substring([1, 2], [1, 2], [0.0, np.nan], [0, 1], tolerance=0.1)
    with pytest.raises(SequenceError, match="tolerance"):
        deepsym.timed_common_substring([1], [1], [0.0], [0.0], tolerance=-1)
    with pytest.raises(SequenceError, match="spanning"):
        deepsym.transposed_lcs_length([0], [10**6])
    with pytest.raises(SequenceError, match="2\\*\\*62"):
        deepsym.transposed_common_substring([2**63 - 1], [0])
    assert deepsym.lcs_length(np.array([], dtype=float), [1]) == 0
    assert deepsym.lcs_length((1, 2, 3), range(4)) == 3


@KERNELS
def test_to_int64(k) -> None:
    assert k.to_int64([1, -2, np.int64(3), True]).tolist() == [1, -2, 3, 1]
    assert k.to_int64((2**63 - 1,)).dtype == np.int64
    with pytest.raises(TypeError):
        k.to_int64([1, 2.5])
    with pytest.raises(OverflowError):
        k.to_int64([-2**63 - 1])


# -- the twin switch ----------------------------------------------------------------------

def test_pure_python_switch_gives_same_results() -> None:
    code = ("import deepsym, deepsym.lcs as l; a=[60,62,64,65,67,60,62]; b=[62,64,65,67,1,60];"
            "print(l.kernel.__name__, deepsym.lcs_length(a, b), deepsym.lcs_align(a, b).tolist(),"
            " deepsym.longest_common_substring(a, b), deepsym.transposed_lcs_length(a, b),"
            " deepsym.transposed_common_substring(a, b))")
    outputs = []
    for pure in ("0", "1"):
        env = {**os.environ, "DEEPSYM_PUREPYTHON": pure}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split(" ", 1)
        outputs.append(out)
    assert outputs[0][0] == "deepsym._ext.lcs" and outputs[1][0] == "deepsym._ext.lcs_py"
    assert outputs[0][1] == outputs[1][1]
