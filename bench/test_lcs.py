"""LCS length: deepsym against rapidfuzz and a pure-Python DP, at 500, 2,000 and 8,000.

Both sequences have the same length n (n * n DP cells). "pitches": real pitch
sequences (music21 corpus pieces read one after another, a different piece order for
each side); "wide": random int64 values from a pool of n / 4 (the hashed alphabet
path of both libraries). Every peer gets the same Python lists of ints:
``deepsym.lcs_length(a, b)`` and ``rapidfuzz.distance.LCSseq.similarity(a, b)``;
``deepsym-arrays`` is deepsym given int64 numpy arrays (no list conversion);
``python-dp`` the plain one-row DP (pitches only; one round at 8,000). All must agree.
Results, with each peer's time over deepsym's from the same run: bench/results/lcs.json.
"""
from __future__ import annotations

import lcsbench
import numpy as np
import pytest
from rapidfuzz.distance import LCSseq

import deepsym

SIZES = [500, 2000, 8000]
PEERS = ["deepsym", "deepsym-arrays", "rapidfuzz", "python-dp"]


@pytest.fixture(scope="module", autouse=True)
def results():
    yield
    lcsbench.write()


def inputs(n: int, alphabet: str) -> tuple[list[int], list[int]]:
    if alphabet == "pitches":
        return lcsbench.pitch_stream(n, 0), lcsbench.pitch_stream(n, 101)
    rng = np.random.default_rng(n)
    pool = rng.integers(-2**62, 2**62, max(n // 4, 2))
    return rng.choice(pool, n).tolist(), rng.choice(pool, n).tolist()


# The pure-Python DP runs on pitches only: its time does not depend on the alphabet.
CASES = [(n, alphabet, peer) for n in SIZES for alphabet in ("pitches", "wide") for peer in PEERS
         if not (peer == "python-dp" and alphabet == "wide")]


@pytest.mark.benchmark(group="lcs")
@pytest.mark.parametrize("n, alphabet, peer", CASES)
def test_lcs_length(benchmark, n: int, alphabet: str, peer: str) -> None:
    a, b = inputs(n, alphabet)
    expected = LCSseq.similarity(a, b)
    if peer == "deepsym":
        result = benchmark(deepsym.lcs_length, a, b)
    elif peer == "deepsym-arrays":
        result = benchmark(deepsym.lcs_length, np.array(a), np.array(b))
    elif peer == "rapidfuzz":
        result = benchmark(LCSseq.similarity, a, b)
    else:
        rounds = 1 if n > 2000 else 3
        result = benchmark.pedantic(lcsbench.python_dp, (a, b), rounds=rounds, iterations=1)
    assert result == expected
    if benchmark.stats:
        lcsbench.record(f"lcs n={n} {alphabet}", peer, benchmark, lcs=int(result),
                        gcells_per_s=n * n / benchmark.stats.stats.mean / 1e9)
