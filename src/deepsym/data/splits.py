"""Train/valid/test splits by piece that never move when files are added.

A piece's split depends only on the seed and its content hash:
``u = first 8 bytes of sha256("<seed>:<sha1>") / 2**64`` lies uniformly in [0, 1), and
the piece goes to the first split whose cumulative fraction exceeds ``u``. Adding or
removing other files cannot move it; exact copies always land in the same split.
"""
from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from deepsym.errors import CorpusError

SPLITS = ("train", "valid", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    """The fractions of train, valid and test as a tuple, or CorpusError if impossible."""
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != len(SPLITS) or any(not 0 <= f <= 1 for f in fractions) \
            or not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise CorpusError(f"split fractions must be three numbers in [0, 1] for "
                          f"{', '.join(SPLITS)} that sum to 1, not {list(fractions)}")
    return fractions


def split_of(sha1: str, seed: int, fractions: Sequence[float]) -> int:
    """The split (an index into SPLITS) of the piece whose content hash is ``sha1``."""
    digest = hashlib.sha256(f"{seed}:{sha1}".encode("ascii")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    bounds = list(accumulate(fractions))[:-1]  # the last split takes the rest, rounding too
    return bisect_right(bounds, u)
