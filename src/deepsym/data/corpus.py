"""Corpora: MIDI files parsed once, on all cores, into memory-mappable numpy arrays.

This module holds the format and its reader (:class:`Corpus`);
:func:`deepsym.data.build.build_corpus` writes it.

Layout of a corpus folder ``CORPUS/``::

    CURRENT              the name of the live version folder, e.g. "v000003"
    v000003/             one complete build, never changed once live
      index.json         format, version, seed, split fractions, sources, per-piece
                         metadata (path, sha1, size, mtime, split, duration, tracks,
                         tempo, time signature, key estimate) and the rejected files
      pieces.npy         PIECE_DTYPE: per piece, its rows in the arrays below, its split
      tracks.npy         TRACK_DTYPE: per track, its piece, notes (begin, count),
                         program, channel, is_drum
      notes.npy          NOTE_DTYPE: every note, track after track, piece after piece
      tempos.npy, time_signatures.npy, key_signatures.npy
                         deepsym.score's dtypes, piece after piece
      rejected.tsv       path <TAB> reason, for every file found but not used
      ngrams.json, ngram_offsets.npy, ngram_postings.npy
                         the n-gram index of the plagiarism search (deepsym.data.ngrams),
                         built from the arrays above by every build

Atomic builds: a build writes ``.tmp-XXXX/``, flushes it to disk, renames it to the
next ``vNNNNNN/`` and then replaces ``CURRENT`` with ``os.replace``. Whenever a build is
killed, ``CURRENT`` names a complete version (the old one up to the replace, the new
one after); the next build removes what a killed one left. One build at a time. A
build that fails (a full or read-only disk, no usable MIDI file) leaves the folder as
it was. A damaged corpus is rebuilt whole and replaced the same way; a folder that is
not a corpus (files of its own, a ``CURRENT`` file naming no version) is never written.

Incremental builds: a file whose path, size and mtime match the previous version, or
whose content hash does, is not parsed again: its arrays are copied from there.
The corpus holds exactly the files of the sources given to the latest build.

Cached per piece: notes, tempos, time and key signatures, each track's program,
channel, drum flag and names, ticks per beat, SMPTE timing and end of track. Not
cached: control changes, pitch bends, texts, lyrics and markers.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
)
from deepsym.errors import CorpusError
from deepsym.score import Score, Track

if TYPE_CHECKING:
    from deepsym.data.ngrams import NgramIndex

FORMAT = "deepsym-corpus"
FORMAT_VERSION = 1
CURRENT = "CURRENT"
_VERSION_NAME = re.compile(r"v\d{6,}")

TRACK_DTYPE = np.dtype([("piece", "i4"), ("note_begin", "i8"), ("note_count", "i4"),
                        ("program", "u1"), ("channel", "u1"), ("is_drum", "?")])
EVENTS = {"tempos": TEMPO_DTYPE, "time_signatures": TIME_SIGNATURE_DTYPE,
          "key_signatures": KEY_SIGNATURE_DTYPE}
PIECE_DTYPE = np.dtype(
    [("track_begin", "i8"), ("track_count", "i4"), ("note_begin", "i8"), ("note_count", "i8")]
    + [(f"{name}_{end}", "i8") for name in EVENTS for end in ("begin", "count")]
    + [("split", "u1")]
)
ARRAYS = {"pieces": PIECE_DTYPE, "tracks": TRACK_DTYPE, "notes": NOTE_DTYPE, **EVENTS}
# Rejections that depend only on a file's bytes, so a later build may reuse them by hash.


@dataclass(frozen=True)
class Piece:
    """Metadata of one piece (one MIDI file) of a corpus.

    ``qpm`` and ``time_signature`` are those in force for the most ticks (120 and
    "4/4" when the file has none); ``key`` is the Krumhansl-Schmuckler estimate and
    ``key_r`` its correlation (None for drums only); ``warning`` is the first damage
    the lenient reader reported.
    """

    path: str
    sha1: str
    size: int
    mtime_ns: int
    split: str
    duration: float
    notes: int
    tracks: int
    ticks_per_beat: int
    smpte: tuple[int, int] | None
    end_of_track: int
    qpm: float
    time_signature: str
    key: str | None
    key_r: float | None
    track_names: tuple[tuple[str, str], ...]  # (track name, instrument name) per track
    warning: str | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Piece:
        smpte = record["smpte"]
        return cls(**{**record, "smpte": tuple(smpte) if smpte else None,
                      "track_names": tuple(map(tuple, record["track_names"]))})


@dataclass(frozen=True)
class Rejected:
    """A file found in the sources but not used; ``kind`` is one of "unreadable",
    "corrupt", "no notes", "duplicate" or "error" (an unexpected exception)."""

    path: str
    kind: str
    reason: str
    sha1: str | None = None
    size: int | None = None
    mtime_ns: int | None = None


class ParsedPiece(NamedTuple):
    """One piece as arrays: what a parse worker returns and what a build writes.

    ``tracks`` rows count notes from the piece's first note; ``meta`` holds the
    :class:`Piece` fields that depend only on the file's content.
    """

    notes: np.ndarray
    tracks: np.ndarray
    tempos: np.ndarray
    time_signatures: np.ndarray
    key_signatures: np.ndarray
    meta: dict[str, Any]


@dataclass(frozen=True)
class BuildResult:
    """What a build did: of the files ``found``, ``parsed`` were parsed now and
    ``reused`` taken from the previous version (same path, size and mtime, or same hash)."""

    path: Path
    version: str
    found: int
    parsed: int
    reused: int
    pieces: int
    notes: int
    seconds_of_music: float
    splits: dict[str, int]
    rejected: list[Rejected]
    rejected_tsv: Path
    elapsed: float
    index_seconds: float = 0.0  # of ``elapsed``: building the n-gram index (data.ngrams)


# -- opening ---------------------------------------------------------------------------

class Corpus:
    """A built corpus, opened read-only; its arrays are memory-mapped, not loaded."""

    def __init__(self, path: Path, version: str, index: dict[str, Any],
                 arrays: dict[str, np.ndarray]):
        self.path = path
        self.version = version
        self.seed: int = index["seed"]
        self.fractions: tuple[float, ...] = tuple(index["fractions"])
        self.split_names: tuple[str, ...] = tuple(index["splits"])
        self.sources: list[str] = index["sources"]
        self.pieces = [Piece.from_record(r) for r in index["pieces"]]
        self.rejected = [Rejected(**r) for r in index["rejected"]]
        self.piece_table = arrays["pieces"]
        self.track_table = arrays["tracks"]
        self.note_array = arrays["notes"]
        self._events = {name: arrays[name] for name in EVENTS}

    @classmethod
    def open(cls, path: str | os.PathLike) -> Corpus:
        """Open the live version of the corpus in folder ``path``.

        Raises :class:`CorpusError` when ``path`` is not a corpus, or is a damaged one
        (the message says to rebuild it).
        """
        root = Path(path)
        version = _live_version(root)
        folder = root / version
        try:
            index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r")
                      for name in ARRAYS}
            _check_index(folder, index, arrays)
            return cls(root, version, index, arrays)
        except (OSError, ValueError) as exc:
            raise CorpusError(f"{folder}: damaged corpus ({exc}); rebuild it") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise CorpusError(f"{folder}: damaged corpus (index.json is no corpus index: "
                              f"{type(exc).__name__}: {exc}); rebuild it") from None

    @property
    def folder(self) -> Path:
        """The live version folder, which holds the arrays and rejected.tsv."""
        return self.path / self.version

    @functools.cached_property
    def ngrams(self) -> NgramIndex | None:
        """The corpus's n-gram index (:mod:`deepsym.data.ngrams`), opened on first use
        and kept; None for a corpus built before indexes existed."""
        from deepsym.data.ngrams import NgramIndex

        return NgramIndex.open(self)

    def __len__(self) -> int:
        return len(self.pieces)

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r}, pieces={len(self)}, notes={len(self.note_array)})"

    def split(self, name: str) -> np.ndarray:
        """Indices of the pieces in split ``name`` ("train", "valid" or "test")."""
        if name not in self.split_names:
            raise CorpusError(f"unknown split {name!r}; choose one of "
                              f"{', '.join(self.split_names)}")
        return np.flatnonzero(self.piece_table["split"] == self.split_names.index(name))

    def notes(self, i: int) -> np.ndarray:
        """All notes of piece ``i``, track after track (a read-only view of the map)."""
        row = self.piece_table[i]
        return self.note_array[row["note_begin"]:row["note_begin"] + row["note_count"]]

    def tracks(self, i: int) -> np.ndarray:
        """Track rows of piece ``i`` (TRACK_DTYPE; note_begin counts in the whole corpus)."""
        row = self.piece_table[i]
        return self.track_table[row["track_begin"]:row["track_begin"] + row["track_count"]]

    def events(self, i: int, name: str) -> np.ndarray:
        """Piece ``i``'s "tempos", "time_signatures" or "key_signatures" (read-only view)."""
        row = self.piece_table[i]
        begin = row[f"{name}_begin"]
        return self._events[name][begin:begin + row[f"{name}_count"]]

    def score(self, i: int) -> Score:
        """Piece ``i`` as a Score (copied out of the map): notes, tempos, signatures."""
        piece = self.pieces[i]
        tracks = [
            Track.from_arrays(np.array(self.note_array[row["note_begin"]:row["note_begin"]
                                                       + row["note_count"]]),
                              np.empty(0, CONTROL_DTYPE), np.empty(0, BEND_DTYPE),
                              program=int(row["program"]), channel=int(row["channel"]),
                              is_drum=bool(row["is_drum"]), name=name, instrument=instrument)
            for row, (name, instrument) in zip(self.tracks(i), piece.track_names, strict=True)
        ]
        return Score(ticks_per_beat=piece.ticks_per_beat, tracks=tracks,
                     smpte=piece.smpte, end_of_track=piece.end_of_track,
                     **{name: np.array(self.events(i, name)) for name in EVENTS})

    def parsed(self, i: int) -> ParsedPiece:
        """Piece ``i`` as a build writes it (how a rebuild reuses it without parsing)."""
        tracks = np.array(self.tracks(i))
        tracks["note_begin"] -= self.piece_table[i]["note_begin"]
        meta = _record(self.pieces[i])
        for name in ("path", "sha1", "size", "mtime_ns", "split"):
            del meta[name]
        return ParsedPiece(self.notes(i), tracks, *(self.events(i, name) for name in EVENTS),
                           meta)


def _current(root: Path) -> str | None:
    """What the CURRENT file of folder ``root`` says (its start), None if it has none."""
    try:
        with open(root / CURRENT, encoding="utf-8", errors="replace") as f:
            return f.read(64).strip()
    except OSError:
        return None


def _is_corpus(root: Path, current: str | None) -> bool:
    """Whether folder ``root``, whose CURRENT file says ``current``, holds a corpus, even a
    damaged one: a CURRENT file naming a version, or one beside version folders (a user's
    folder never has both)."""
    return current is not None and (bool(_VERSION_NAME.fullmatch(current)) or any(
        _VERSION_NAME.fullmatch(entry.name) for entry in root.iterdir()))


def _live_version(root: Path) -> str:
    """The version folder CURRENT names; CorpusError if ``root`` is no corpus or its
    CURRENT names no version folder."""
    current = _current(root)
    if not _is_corpus(root, current):
        why = f"no {CURRENT} file" if current is None else f"its {CURRENT} file is not ours"
        raise CorpusError(f"{root} is not a deepsym corpus ({why}); build one with "
                          "`deepsym corpus build SRC... -o CORPUS`")
    if not _VERSION_NAME.fullmatch(current) or not (root / current).is_dir():
        raise CorpusError(f"{root}: {CURRENT} names {current!r}, not a version folder of "
                          "this corpus; rebuild it")
    return current


def _check_index(folder: Path, index: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """CorpusError unless ``index`` is this format's and matches the ``arrays``."""
    if index.get("format") != FORMAT or index.get("version") != FORMAT_VERSION:
        raise CorpusError(f"{folder}: not a {FORMAT} version {FORMAT_VERSION} index; "
                          "rebuild it with this deepsym")
    wrong = [name for name, dtype in ARRAYS.items() if arrays[name].dtype != dtype]
    if wrong or len(arrays["pieces"]) != len(index["pieces"]):
        raise CorpusError(f"{folder}: damaged corpus (arrays {wrong or ['pieces']} do not "
                          "match the index); rebuild it")


def _record(item: Piece | Rejected) -> dict[str, Any]:
    """The fields of a Piece or Rejected as a dict (shallow, faster than asdict)."""
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
