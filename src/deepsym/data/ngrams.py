"""The n-gram index of a corpus: which pieces hold which runs of n notes, for plagiarism.

Each piece is read as the plagiarism report reads it (:mod:`deepsym.metrics.reading`:
non-drum notes by onset, chords from the lowest pitch up). Every n consecutive notes
(an n-gram; n is fixed per index, ``DEFAULT_N`` = 8) give one entry: the hash of
their n - 1 pitch intervals picks a bucket, and the posting (uint32) holds the piece,
the n-gram's first pitch (7 bits) and more bits of the hash (a fingerprint, as many as
the piece number leaves free). Postings are kept once per piece and bucket.

Why this answers every variant of the report without a miss:

- a copy of L >= n notes (equal pitches) holds n-grams with equal intervals and equal
  first pitches: same bucket, same tag;
- a transposed copy of L >= n notes (equal intervals) holds n-grams with equal
  intervals: same bucket, same fingerprint (the first pitch is not compared);
- a copy that keeps its rhythm (``tolerance``) is also a copy of the kind above, so
  the same keys find it; the rhythm is checked by the exact kernel.

Hash collisions only add candidates (every candidate is verified exactly); they never
remove one. A lookup gives, per piece, the longest stretch of consecutive n-gram
positions of the query that the piece holds; a copied run of L >= n notes there
needs a stretch of L - n + 1, so ``stretch + n - 1`` bounds the piece's longest run
from above, and a piece with no stretch has no copied run of n notes.

Files in the corpus version folder, written by the same atomic build as the arrays:

    ngrams.json          format, version, n, bits of the bucket / piece / fingerprint,
                         pieces and notes of the corpus it indexes, entries
    ngram_offsets.npy    uint32, 2**bits + 1: bucket b's postings are
                         postings[offsets[b]:offsets[b + 1]]
    ngram_postings.npy   uint32: piece << tag_bits | first pitch << fp_bits | fingerprint,
                         sorted by bucket, then posting

Buckets number between half and all of the corpus's n-gram positions P, so the index
takes at most 8 bytes per position (4 for its posting, at most 4 for its bucket): at
most 80% of notes.npy (10 bytes a note), less as pieces repeat themselves.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepsym._kernels import load
from deepsym.errors import CorpusError
from deepsym.metrics.reading import corpus_sequences, spans

if TYPE_CHECKING:
    from deepsym.data.corpus import Corpus

kernel = load("ngrams")

FORMAT = "deepsym-ngram-index"
FORMAT_VERSION = 1
META, OFFSETS, POSTINGS = "ngrams.json", "ngram_offsets.npy", "ngram_postings.npy"
FILES = (META, OFFSETS, POSTINGS)
DEFAULT_N = 8          # notes per n-gram: every copied run of 8+ notes is found
PITCH_BITS = 7         # the n-gram's first pitch (MIDI 0..127) in each posting
MIN_BITS = 10          # at least 1024 buckets
CHUNK_NOTES = 4_000_000  # notes hashed per step of a build (bounds its memory)
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: the polynomial hash of the intervals


@dataclass(frozen=True)
class NgramIndex:
    """An n-gram index, built in memory or opened (memory-mapped) from a corpus folder."""

    n: int
    bits: int              # buckets: 2**bits
    piece_bits: int        # posting = piece << tag_bits | tag; tag_bits = 32 - piece_bits
    pieces: int
    notes: int             # notes.npy rows of the corpus it indexes
    offsets: np.ndarray    # uint32, 2**bits + 1
    postings: np.ndarray   # uint32

    @property
    def tag_bits(self) -> int:
        return 32 - self.piece_bits

    @property
    def fp_bits(self) -> int:
        return self.tag_bits - PITCH_BITS

    @property
    def nbytes(self) -> int:
        return self.offsets.nbytes + self.postings.nbytes

    def stretches(self, pitches: np.ndarray, transpose: bool = False) -> np.ndarray:
        """Per piece (int32) the longest stretch of consecutive n-gram positions of
        ``pitches`` it holds (by interval and first pitch; ``transpose``: by interval)."""
        pitches = np.ascontiguousarray(pitches, dtype=np.int64)
        if len(pitches) < self.n:
            return np.zeros(self.pieces, dtype=np.int32)
        buckets, tags = self._keys(_hashes(pitches, self.n), pitches[:len(pitches) - self.n + 1])
        mask = (1 << self.fp_bits) - 1 if transpose else (1 << self.tag_bits) - 1
        return kernel.stretches(buckets.astype(np.int64), tags, self.offsets, self.postings,
                                self.pieces, self.tag_bits, mask)

    def _keys(self, hashes: np.ndarray, first_pitches: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Bucket (uint64) and tag (uint32: first pitch, fingerprint) of each n-gram."""
        buckets = hashes >> np.uint64(64 - self.bits)
        fingerprint = (hashes >> np.uint64(64 - self.bits - self.fp_bits)) \
            & np.uint64((1 << self.fp_bits) - 1)
        pitch = first_pitches.astype(np.uint64) & np.uint64((1 << PITCH_BITS) - 1)
        return buckets, ((pitch << np.uint64(self.fp_bits)) | fingerprint).astype(np.uint32)

    # -- building --------------------------------------------------------------------

    @classmethod
    def build(cls, corpus: Corpus, n: int = DEFAULT_N) -> NgramIndex:
        """The index of every piece of ``corpus``, built in chunks of CHUNK_NOTES notes."""
        if n < 2:
            raise CorpusError(f"n-grams of at least 2 notes, not {n}")
        lengths = _melodic_notes(corpus)
        positions = int(np.maximum(lengths - n + 1, 0).sum())
        bits = min(32, max(MIN_BITS, math.ceil(math.log2(max(positions, 1))) - 1))
        piece_bits = max(1, (len(corpus) - 1).bit_length())
        if piece_bits > 32 - PITCH_BITS:
            raise CorpusError(f"an n-gram index holds at most {2**(32 - PITCH_BITS):,} pieces, "
                              f"not {len(corpus):,}")
        index = cls(n, bits, piece_bits, len(corpus), len(corpus.note_array),
                    np.zeros(0, np.uint32), np.zeros(0, np.uint32))
        cuts = np.searchsorted(np.cumsum(lengths), np.arange(CHUNK_NOTES, int(lengths.sum()),
                                                            CHUNK_NOTES))
        keys = [index._entries(corpus_sequences(corpus, chunk), chunk)
                for chunk in np.split(np.arange(len(corpus)), cuts) if len(chunk)]
        entries = np.sort(np.concatenate(keys)) if keys else np.zeros(0, np.uint64)
        if len(entries) >= 2**32:
            raise CorpusError(f"an n-gram index holds fewer than 2**32 entries, not "
                              f"{len(entries):,}")
        counts = np.bincount((entries >> np.uint64(32)).astype(np.int64), minlength=2**bits)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
        postings = (entries & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        return cls(n, bits, piece_bits, len(corpus), len(corpus.note_array), offsets, postings)

    def _entries(self, seq: Any, pieces: np.ndarray) -> np.ndarray:
        """The distinct (bucket << 32 | posting) keys of the n-grams of ``pieces``."""
        hashes = _hashes(seq.pitches, self.n) if len(seq.pitches) >= self.n \
            else np.zeros(0, np.uint64)
        counts = np.maximum(seq.stops - seq.starts - self.n + 1, 0)
        at = spans(seq.starts, counts)
        buckets, tags = self._keys(hashes[at], seq.pitches[at])
        owner = np.repeat(pieces.astype(np.uint64), counts)
        postings = (owner << np.uint64(self.tag_bits)) | tags.astype(np.uint64)
        keys = np.sort((buckets << np.uint64(32)) | postings)
        return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys

    # -- files -------------------------------------------------------------------------

    def write(self, folder: str | os.PathLike) -> None:
        """Write the index files into ``folder`` (a version folder being built), synced."""
        folder = Path(folder)
        for name, array in ((OFFSETS, self.offsets), (POSTINGS, self.postings)):
            with open(folder / name, "wb") as f:
                np.save(f, array)
                f.flush()
                os.fsync(f.fileno())
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "n": self.n, "bits": self.bits,
                "piece_bits": self.piece_bits, "pitch_bits": PITCH_BITS,
                "pieces": self.pieces, "notes": self.notes, "entries": len(self.postings)}
        with open(folder / META, "w", encoding="utf-8") as f:
            f.write(json.dumps(meta))
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def open(cls, corpus: Corpus) -> NgramIndex | None:
        """The index in the corpus's version folder (memory-mapped), None when it has none
        (built before indexes existed). CorpusError naming the file when it is damaged or
        does not match the corpus."""
        folder = corpus.folder
        present = [(folder / name).exists() for name in FILES]
        if not any(present):
            return None
        if not all(present):
            missing = [name for name, there in zip(FILES, present, strict=True) if not there]
            raise _damaged(folder / missing[0], "missing")
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise _damaged(folder / META, f"unreadable ({exc})") from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise _damaged(folder / META, f"not a {FORMAT} version {FORMAT_VERSION} file")
        try:
            n, bits, piece_bits = int(meta["n"]), int(meta["bits"]), int(meta["piece_bits"])
            pieces, notes, entries = int(meta["pieces"]), int(meta["notes"]), \
                int(meta["entries"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _damaged(folder / META, f"field {exc} missing or not a number") from None
        if (pieces, notes) != (len(corpus), len(corpus.note_array)):
            raise _damaged(folder / META, f"indexes {pieces} pieces and {notes} notes but the "
                                          f"corpus holds {len(corpus)} and "
                                          f"{len(corpus.note_array)}")
        if not (n >= 2 and MIN_BITS <= bits <= 32 and 1 <= piece_bits <= 32 - PITCH_BITS
                and len(corpus) <= 2**piece_bits):
            raise _damaged(folder / META, f"impossible sizes n={n}, bits={bits}, "
                                          f"piece_bits={piece_bits}")
        offsets = _array(folder / OFFSETS, 2**bits + 1)
        postings = _array(folder / POSTINGS, entries)
        if offsets[0] != 0 or offsets[-1] != entries:
            raise _damaged(folder / OFFSETS, f"its offsets run from {offsets[0]} to "
                                             f"{offsets[-1]}, not 0 to {entries}")
        return cls(n, bits, piece_bits, pieces, notes, offsets, postings)


def _array(path: Path, length: int) -> np.ndarray:
    """The uint32 array in ``path``, memory-mapped; CorpusError unless it has ``length``."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _damaged(path, f"unreadable ({exc})") from None
    if array.dtype != np.uint32 or array.shape != (length,):
        raise _damaged(path, f"holds {array.dtype} {array.shape}, not uint32 ({length},)")
    return array


def _damaged(path: Path, problem: str) -> CorpusError:
    return CorpusError(f"{path}: damaged n-gram index: {problem}; rebuild the corpus "
                       "(deepsym corpus build) or scan without it (--exhaustive)")


def _melodic_notes(corpus: Corpus) -> np.ndarray:
    """Notes of each piece's non-drum tracks (int64 per piece)."""
    tracks = corpus.track_table
    melodic = np.where(tracks["is_drum"], 0, tracks["note_count"]).astype(np.int64)
    return np.bincount(tracks["piece"], weights=melodic, minlength=len(corpus)).astype(np.int64)


def _hashes(pitches: np.ndarray, n: int) -> np.ndarray:
    """uint64 hash of the n - 1 intervals of the n notes from each position 0..len - n
    (splitmix64's finalizer over a polynomial in the intervals)."""
    intervals = np.diff(pitches).astype(np.uint64)  # wraps: only equality matters
    count = len(pitches) - n + 1
    h = np.zeros(count, dtype=np.uint64)
    for k in range(n - 1):
        h = h * MULTIPLIER + intervals[k:k + count]
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h
