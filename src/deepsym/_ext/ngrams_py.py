"""Plain-Python twin of the ``ngrams`` kernel: same function, same results, in numpy.

Every (position, posting) pair is gathered at once, the matching ones kept once per
(piece, position), and runs of consecutive positions measured per piece. It is the
tests' oracle and is used only when ``DEEPSYM_PUREPYTHON=1`` asks.
"""
from __future__ import annotations

import numpy as np


def stretches(buckets: np.ndarray, tags: np.ndarray, offsets: np.ndarray,
              postings: np.ndarray, pieces: int, tag_bits: int, mask: int) -> np.ndarray:
    """Per piece (int32 array of ``pieces``) the longest run of consecutive positions i
    whose bucket ``buckets[i]`` holds a posting of that piece with a matching tag."""
    if len(tags) != len(buckets):
        raise ValueError("buckets and tags differ in length")
    if not 0 <= tag_bits < 32:
        raise ValueError(f"tag_bits must be in 0..31, not {tag_bits}")
    slots = len(offsets) - 1
    if slots < 0:
        raise ValueError("offsets must hold at least one entry")
    bad = np.flatnonzero((buckets < 0) | (buckets >= slots))
    if len(bad):
        raise ValueError(f"bucket {buckets[bad[0]]} at position {bad[0]} is not in "
                         f"0..{slots - 1}")
    if offsets[-1] > len(postings):
        raise ValueError("offsets point past the postings")
    best = np.zeros(pieces, dtype=np.int32)
    first = offsets[buckets].astype(np.int64)
    counts = offsets[buckets + 1].astype(np.int64) - first
    position = np.repeat(np.arange(len(buckets)), counts)
    rows = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    found = postings[rows].astype(np.int64)
    keep = ((found ^ tags[position].astype(np.int64)) & int(mask)) == 0
    piece, position = found[keep] >> tag_bits, position[keep]
    keep = piece < pieces
    pairs = np.unique(np.stack([piece[keep], position[keep]], axis=1), axis=0)
    if not len(pairs):
        return best
    piece, position = pairs[:, 0], pairs[:, 1]
    restart = np.ones(len(pairs), dtype=bool)
    restart[1:] = (piece[1:] != piece[:-1]) | (position[1:] != position[:-1] + 1)
    group = np.cumsum(restart) - 1
    lengths = np.bincount(group)
    np.maximum.at(best, piece[restart], lengths.astype(np.int32))
    return best
