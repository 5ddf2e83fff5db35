"""N-gram index lookup: per piece, the longest stretch of consecutive query n-grams it holds.

The index is an inverted file: ``offsets`` (one more than the buckets) cuts
``postings`` into one slice per hash bucket; a posting is a uint32
``piece << tag_bits | tag``. A query gives, per n-gram position i of the generated
piece, its bucket and tag; a posting matches when ``(posting ^ tag) & mask == 0``.
Positions are visited in order, so a piece's current stretch grows while it matches
the next position and restarts otherwise; each piece's longest stretch is kept.

``ngrams_py.py`` is the plain-Python twin with the same API; the tests compare both.
"""
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport free, malloc

import numpy as np


def stretches(const int64_t[::1] buckets, const uint32_t[::1] tags,
              const uint32_t[::1] offsets, const uint32_t[::1] postings, Py_ssize_t pieces,
              int tag_bits, uint32_t mask):
    """Per piece (int32 array of ``pieces``) the longest run of consecutive positions i
    whose bucket ``buckets[i]`` holds a posting of that piece with a matching tag."""
    cdef Py_ssize_t n = buckets.shape[0], i, q, p, slots = offsets.shape[0] - 1
    cdef uint32_t want, post
    cdef int64_t b
    cdef int64_t* last
    cdef int32_t* run
    if slots < 0:
        raise ValueError("offsets must hold at least one entry")
    if tags.shape[0] != n:
        raise ValueError("buckets and tags differ in length")
    if not 0 <= tag_bits < 32:
        raise ValueError(f"tag_bits must be in 0..31, not {tag_bits}")
    for i in range(n):
        if not 0 <= buckets[i] < slots:
            raise ValueError(f"bucket {buckets[i]} at position {i} is not in 0..{slots - 1}")
    if offsets[slots] > <uint32_t>postings.shape[0]:
        raise ValueError("offsets point past the postings")
    out = np.zeros(pieces, dtype=np.int32)
    cdef int32_t[::1] best = out
    if pieces == 0:
        return out
    last = <int64_t*>malloc(pieces * sizeof(int64_t))
    run = <int32_t*>malloc(pieces * sizeof(int32_t))
    if last == NULL or run == NULL:
        free(last)
        free(run)
        raise MemoryError("no memory for the n-gram lookup")
    with nogil:
        for p in range(pieces):
            last[p] = -2
            run[p] = 0
        for i in range(n):
            b = buckets[i]
            want = tags[i] & mask
            for q in range(offsets[b], offsets[b + 1]):
                post = postings[q]
                if (post & mask) != want:
                    continue
                p = post >> tag_bits
                if p >= pieces or last[p] == i:
                    continue
                run[p] = run[p] + 1 if last[p] == i - 1 else 1
                last[p] = i
                if run[p] > best[p]:
                    best[p] = run[p]
    free(last)
    free(run)
    return out
