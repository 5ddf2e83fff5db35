"""Building a corpus: parse MIDI files on all cores and publish a new version atomically.

``build_corpus`` writes the layout that ``deepsym.data.corpus`` describes and reads:
a staging folder filled piece by piece, flushed, renamed to the next version and made
live by replacing ``CURRENT``. Files unchanged since the previous version are copied
from it instead of parsed again.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from deepsym.data.corpus import (
    _VERSION_NAME,
    ARRAYS,
    CURRENT,
    EVENTS,
    FORMAT,
    FORMAT_VERSION,
    PIECE_DTYPE,
    TRACK_DTYPE,
    BuildResult,
    Corpus,
    ParsedPiece,
    Piece,
    Rejected,
    _current,
    _is_corpus,
    _record,
)
from deepsym.data.ngrams import NgramIndex
from deepsym.data.scan import find_midi_files
from deepsym.data.splits import DEFAULT_FRACTIONS, SPLITS, check_fractions, split_of
from deepsym.data.stats import estimate_key, longest_in_force, pitch_class_histogram
from deepsym.errors import CorpusError, MidiError, MidiWarning
from deepsym.midi import read_midi
from deepsym.score import DEFAULT_QPM

TMP_PREFIX = ".tmp-"
MIN_PARALLEL = 64  # fewer files to parse than this are parsed in this process
MAX_NAMED = 3  # unusable files named in the error of a build without one usable file
CONTENT_KINDS = ("corrupt", "no notes")


# -- parsing ---------------------------------------------------------------------------

def parse_piece(data: bytes, name: str) -> ParsedPiece | Rejected:
    """Parse one file's bytes into arrays and metadata, or say why it cannot be used."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MidiWarning)
        try:
            score = read_midi(data, name=name)
        except MidiError as exc:
            return Rejected(name, "corrupt", str(exc).removeprefix(f"{name}: "))
    if score.n_notes == 0:
        return Rejected(name, "no notes", "no notes")
    damage = [str(w.message).removeprefix(f"{name}: ") for w in caught
              if issubclass(w.category, MidiWarning)]
    counts = np.array([len(t.notes) for t in score.tracks], np.int64)
    tracks = np.zeros(len(score.tracks), TRACK_DTYPE)
    tracks["note_count"] = counts
    tracks["note_begin"] = np.cumsum(counts) - counts
    tracks["program"] = [t.program for t in score.tracks]
    tracks["channel"] = [t.channel for t in score.tracks]
    tracks["is_drum"] = [t.is_drum for t in score.tracks]
    notes = np.concatenate([t.notes for t in score.tracks])
    key = estimate_key(pitch_class_histogram(notes[~np.repeat(tracks["is_drum"], counts)]))
    end = score.end_tick
    tempo = longest_in_force(score.tempos["tick"], end)
    meter = longest_in_force(score.time_signatures["tick"], end)
    meta = {
        "duration": score.duration_seconds,
        "notes": len(notes),
        "tracks": len(tracks),
        "ticks_per_beat": score.ticks_per_beat,
        "smpte": score.smpte,
        "end_of_track": score.end_of_track,
        "qpm": DEFAULT_QPM if tempo is None else float(score.tempos["qpm"][tempo]),
        "time_signature": "4/4" if meter is None else "{}/{}".format(
            *score.time_signatures[["numerator", "denominator"]][meter].tolist()),
        "key": None if key is None else key[0],
        "key_r": None if key is None else key[1],
        "track_names": tuple((t.name, t.instrument) for t in score.tracks),
        "warning": damage[0] if damage else None,
    }
    return ParsedPiece(notes, tracks, score.tempos, score.time_signatures,
                       score.key_signatures, meta)


# What _read_file returns: the content hash (None if unreadable) and the parsed piece,
# the rejection, or None when the hash is one of the known ones (not parsed).
_Read = tuple[str | None, ParsedPiece | Rejected | None]


def _read_file(path: str, known: frozenset[str]) -> _Read:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return None, Rejected(path, "unreadable", f"cannot read: {exc.strerror or exc}")
    sha1 = hashlib.sha1(data).hexdigest()
    if sha1 in known:
        return sha1, None
    try:
        return sha1, parse_piece(data, path)
    except Exception as exc:  # a bug must not stop a 100k-file build; it is reported
        return sha1, Rejected(path, "error", f"{type(exc).__name__}: {exc}")


_worker_known: frozenset[str] = frozenset()


def _init_worker(known: frozenset[str]) -> None:
    global _worker_known
    _worker_known = known
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone: a pool worker of a killed build would
    otherwise wait for work forever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _read_in_worker(path: str) -> _Read:
    return _read_file(path, _worker_known)


def _read_all(paths: list[str], known: frozenset[str], workers: int) -> Iterator[_Read]:
    """Read, hash and parse ``paths`` on ``workers`` processes; results in order."""
    if workers <= 1 or len(paths) < MIN_PARALLEL:
        yield from (_read_file(p, known) for p in paths)
        return
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(known,))
    try:
        yield from pool.map(_read_in_worker, paths,
                            chunksize=max(1, min(64, len(paths) // (workers * 8))))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def default_workers() -> int:
    """The CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1


# -- building --------------------------------------------------------------------------

def build_corpus(sources: Iterable[str | os.PathLike], path: str | os.PathLike, *,
                 seed: int | None = None, fractions: Sequence[float] | None = None,
                 workers: int | None = None, progress: bool = False) -> BuildResult:
    """Build (or update) the corpus in folder ``path`` from the MIDI files in ``sources``.

    ``sources`` are folders (searched recursively), files or glob patterns. Exact
    duplicates (same bytes) are kept once, the first in path order. ``seed`` and
    ``fractions`` (train, valid, test) default to the previous build's, else 0 and
    (0.8, 0.1, 0.1). ``workers`` processes parse (default: all cores); ``progress``
    shows a bar on stderr (tqdm when installed). Files that cannot be used are
    recorded with the reason, never raised. :class:`CorpusError` is raised when no
    MIDI file is found or none can be used, when ``path`` is neither new, empty nor a
    corpus (a damaged corpus is rebuilt whole), and when the corpus cannot be written
    (a full or read-only disk); the folder is then left as it was.
    """
    started = time.perf_counter()
    if workers is not None and workers < 1:
        raise CorpusError(f"workers must be at least 1, not {workers}")
    sources = [os.fspath(s) for s in sources]
    files = [str(f) for f in find_midi_files(sources)]
    root = Path(path)
    try:
        old = _previous(root)
        header = _header(old, sources, seed, fractions)
        with _new_folder(root):
            _remove_leftovers(root, keep=None)
            version, writer, parsed, reused = _write_version(
                root, files, old, header, workers or default_workers(), progress)
        _remove_leftovers(root, keep=version)
    except OSError as exc:
        raise CorpusError(f"{root}: cannot write the corpus: {exc.strerror or exc}") from None
    return BuildResult(
        path=root, version=version, found=len(files), parsed=parsed, reused=reused,
        pieces=len(writer.pieces), notes=writer.arrays["notes"].rows,
        seconds_of_music=sum(p.duration for p in writer.pieces),
        splits={name: sum(p.split == name for p in writer.pieces) for name in SPLITS},
        rejected=writer.rejected, rejected_tsv=root / version / "rejected.tsv",
        elapsed=time.perf_counter() - started, index_seconds=writer.index_seconds,
    )


def _header(old: Corpus | None, sources: list[str], seed: int | None,
            fractions: Sequence[float] | None) -> dict[str, Any]:
    """The index's header: format, split settings (default: the previous build's, else
    seed 0 and DEFAULT_FRACTIONS) and sources."""
    if seed is None:
        seed = 0 if old is None else old.seed
    if fractions is None:
        fractions = DEFAULT_FRACTIONS if old is None else old.fractions
    return {"format": FORMAT, "version": FORMAT_VERSION, "seed": seed, "splits": SPLITS,
            "fractions": check_fractions(fractions), "sources": sources,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


@contextlib.contextmanager
def _new_folder(root: Path) -> Iterator[None]:
    """Create folder ``root`` (and its missing parents) for the block; if the block fails,
    the folders created are removed again (they are empty by then)."""
    created = list(itertools.takewhile(lambda p: not p.exists(), (root, *root.parents)))
    try:
        root.mkdir(parents=True, exist_ok=True)
        yield
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _write_version(root: Path, files: list[str], old: Corpus | None, header: dict[str, Any],
                   workers: int, progress: bool) -> tuple[str, _Writer, int, int]:
    """Parse ``files`` into a staging folder in ``root`` and make it the live version.

    Returns the version, the writer and how many files were parsed and reused. On any
    failure, a lack of usable files included, the staging folder is removed and CURRENT
    still names the old version.
    """
    staging = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=root))
    writer: _Writer | None = None
    try:
        writer = _Writer(staging)
        parsed, reused = _fill(writer, files, _Reuse(old), header["seed"],
                               header["fractions"], workers, progress)
        if not writer.pieces:
            raise CorpusError(_nothing_usable(writer.rejected))
        index = writer.finish(header)
        writer.index_seconds = _write_ngram_index(root, staging, index)
        return _publish(root, staging), writer, parsed, reused
    except BaseException:
        if writer is not None:
            writer.abort()
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_ngram_index(root: Path, staging: Path, index: dict[str, Any]) -> float:
    """Build the n-gram index of the staged version from its arrays (deepsym.data.ngrams)
    and write it beside them; returns the seconds it took."""
    started = time.perf_counter()
    arrays = {name: np.load(staging / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
    NgramIndex.build(Corpus(root, staging.name, index, arrays)).write(staging)
    return time.perf_counter() - started


def _fill(writer: _Writer, files: list[str], reuse: _Reuse, seed: int,
          fractions: Sequence[float], workers: int, progress: bool) -> tuple[int, int]:
    """Add every file to ``writer``, parsed now or reused from the previous version (the
    first of exact duplicates only); returns how many were parsed and how many reused."""
    stats = [_stat(f) for f in files]
    known = [reuse.sha1_of(f, st) for f, st in zip(files, stats, strict=True)]
    to_read = [f for f, sha1 in zip(files, known, strict=True) if sha1 is None]
    parsed = reused = 0
    first_of: dict[str, str] = {}
    with _progress(len(to_read), progress) as tick, contextlib.closing(
            _read_all(to_read, reuse.hashes, workers)) as results:
        for file, st, sha1 in zip(files, stats, known, strict=True):
            outcome: ParsedPiece | Rejected | None = None
            if sha1 is None:
                sha1, outcome = next(results)
                tick()
                parsed += sha1 is not None and outcome is not None
            reused += sha1 is not None and outcome is None
            if sha1 is None:  # unreadable
                writer.reject(file, outcome.kind, outcome.reason)
            elif sha1 in first_of:
                writer.reject(file, "duplicate", f"duplicate of {first_of[sha1]}", sha1, st)
            else:
                first_of[sha1] = file
                writer.add(outcome or reuse.outcome(sha1), file, sha1, st,
                           split_of(sha1, seed, fractions))
    return parsed, reused


def _nothing_usable(rejected: list[Rejected]) -> str:
    """The error of a build without one usable file: the first files and why."""
    named = "; ".join(f"{r.path}: {_cell(r.reason)}" for r in rejected[:MAX_NAMED])
    more = f" (+{len(rejected) - MAX_NAMED} more)" if len(rejected) > MAX_NAMED else ""
    return f"no MIDI file could be used: {named}{more}"


def _stat(path: str) -> tuple[int, int] | tuple[None, None]:
    try:
        st = os.stat(path)
    except OSError:
        return None, None  # reported when the file is read
    return st.st_size, st.st_mtime_ns


def _previous(root: Path) -> Corpus | None:
    """The corpus already in ``root``; None for a new folder, an empty one, one holding
    only what killed builds left, or a damaged corpus (rebuilt whole). CorpusError for
    any other folder: a user's files are never touched."""
    if root.exists() and not root.is_dir():
        raise CorpusError(f"{root} is a file, not a corpus folder")
    if not root.is_dir():
        return None
    if _is_corpus(root, _current(root)):
        try:
            return Corpus.open(root)
        except CorpusError:
            return None  # damaged: replaced only once the new build is live
    if any(not _is_ours(p.name) for p in root.iterdir()):
        raise CorpusError(f"{root} is neither empty nor a deepsym corpus; choose a new or "
                          "empty folder for the corpus")
    return None


def _is_ours(name: str) -> bool:
    return name.startswith(TMP_PREFIX) or bool(_VERSION_NAME.fullmatch(name))


def _remove_leftovers(root: Path, keep: str | None) -> None:
    """Remove what killed builds left (staging folders, temporary files) and, once
    version ``keep`` is live, every other version; without ``keep``, versions stay (the
    live one of a damaged corpus too). What cannot be removed is left to a later build."""
    for entry in root.iterdir():
        if entry.name.startswith(TMP_PREFIX) or (
                keep is not None and _is_ours(entry.name) and entry.name != keep):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink(missing_ok=True)


def _publish(root: Path, staging: Path) -> str:
    """Rename ``staging`` to the next version and point CURRENT at it (atomically)."""
    numbers = [int(p.name[1:]) for p in root.iterdir() if _VERSION_NAME.fullmatch(p.name)]
    version = f"v{max(numbers, default=0) + 1:06d}"
    os.rename(staging, root / version)
    try:
        _fsync_dir(root)
        _point_current(root, version)
    except BaseException:
        if _current(root) != version:  # not live: the old version stays
            shutil.rmtree(root / version, ignore_errors=True)
        raise
    return version


def _point_current(root: Path, version: str) -> None:
    """Replace CURRENT with one naming ``version``: the moment a build goes live."""
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f"{TMP_PREFIX}{CURRENT}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(version + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / CURRENT)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _Reuse:
    """What a build may take from the previous version without parsing again."""

    def __init__(self, old: Corpus | None):
        self.old = old
        self.stat: dict[str, tuple[int, int, str]] = {}  # path -> size, mtime_ns, sha1
        self.content: dict[str, int | Rejected] = {}  # sha1 -> piece index, or rejection
        pieces, rejected = ([], []) if old is None else (old.pieces, old.rejected)
        for i, p in enumerate(pieces):
            self.stat[p.path] = (p.size, p.mtime_ns, p.sha1)
            self.content[p.sha1] = i
        for r in rejected:
            if r.sha1 is not None:
                self.stat[r.path] = (r.size, r.mtime_ns, r.sha1)
                if r.kind in CONTENT_KINDS:
                    self.content[r.sha1] = r
        self.hashes = frozenset(self.content)

    def sha1_of(self, path: str, stat: tuple[int | None, int | None]) -> str | None:
        """The content hash of an unchanged file whose outcome is known, else None."""
        size, mtime_ns, sha1 = self.stat.get(path, (None, None, None))
        return sha1 if (size, mtime_ns) == stat and sha1 in self.content else None

    def outcome(self, sha1: str) -> ParsedPiece | Rejected:
        known = self.content[sha1]
        return known if isinstance(known, Rejected) else self.old.parsed(known)


class _NpyAppender:
    """A 1-D .npy file written block by block, its length filled in when closed.

    Room for the header is reserved first (padded to a multiple of 64 bytes, as numpy
    aligns it), so arrays larger than memory stream to disk.
    """

    def __init__(self, path: Path, dtype: np.dtype):
        self.dtype = dtype
        self.rows = 0
        self.header_bytes = -(-len(self._header(10**20)) // 64) * 64
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.file.write(b"\0" * self.header_bytes)

    def _header(self, rows: int) -> bytes:
        return repr({"descr": np.lib.format.dtype_to_descr(self.dtype),
                     "fortran_order": False, "shape": (rows,)}).encode("latin1")

    def append(self, rows: np.ndarray) -> int:
        """Write ``rows``; return the index of the first."""
        first = self.rows
        self.file.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.rows += len(rows)
        return first

    def close(self) -> None:
        size = self.header_bytes - 10  # after the magic string, version and length
        self.file.seek(0)
        self.file.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", size)
                        + self._header(self.rows).ljust(size - 1) + b"\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


class _Writer:
    """Appends pieces to a version folder being built and writes its index."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.arrays: dict[str, _NpyAppender] = {}
        self.pieces: list[Piece] = []
        self.rejected: list[Rejected] = []
        self.index_seconds = 0.0
        try:
            for name, dtype in ARRAYS.items():
                self.arrays[name] = _NpyAppender(folder / f"{name}.npy", dtype)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close the array files of a build that failed (it is discarded, so what they
        could not write any more does not matter)."""
        for appender in self.arrays.values():
            with contextlib.suppress(OSError):
                appender.file.close()

    def add(self, piece: ParsedPiece | Rejected, path: str, sha1: str,
            stat: tuple[int | None, int | None], split: int) -> None:
        """Append a parsed piece, or record the rejection of a file that cannot be used."""
        if isinstance(piece, Rejected):
            self.reject(path, piece.kind, piece.reason, sha1, stat)
            return
        row = np.zeros(1, PIECE_DTYPE)
        tracks = piece.tracks.copy()
        tracks["piece"] = len(self.pieces)
        row["note_begin"] = self.arrays["notes"].append(piece.notes)
        row["note_count"] = len(piece.notes)
        tracks["note_begin"] += row["note_begin"]
        row["track_begin"] = self.arrays["tracks"].append(tracks)
        row["track_count"] = len(tracks)
        for name in EVENTS:
            events = getattr(piece, name)
            row[f"{name}_begin"] = self.arrays[name].append(events)
            row[f"{name}_count"] = len(events)
        row["split"] = split
        self.arrays["pieces"].append(row)
        self.pieces.append(Piece(path=path, sha1=sha1, size=stat[0], mtime_ns=stat[1],
                                 split=SPLITS[split], **piece.meta))

    def reject(self, path: str, kind: str, reason: str, sha1: str | None = None,
               stat: tuple[int | None, int | None] = (None, None)) -> None:
        self.rejected.append(Rejected(path, kind, reason, sha1, *stat))

    def finish(self, header: dict[str, Any]) -> dict[str, Any]:
        """Close the arrays and write index.json and rejected.tsv; returns the index."""
        for appender in self.arrays.values():
            appender.close()
        index = {**header, "pieces": [_record(p) for p in self.pieces],
                 "rejected": [_record(r) for r in self.rejected]}
        _write_synced(self.folder / "index.json", json.dumps(index, separators=(",", ":")))
        _write_synced(self.folder / "rejected.tsv", "path\treason\n" + "".join(
            f"{_cell(r.path)}\t{_cell(r.reason)}\n" for r in self.rejected))
        return index


def _cell(text: str) -> str:
    return " ".join(text.split("\t")).replace("\n", " ")


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """A callable to count one parsed file: a tqdm bar on stderr, else a line a second."""
    if not enabled or total == 0:
        yield lambda: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        with tqdm(total=total, unit="file", desc="parsing", file=sys.stderr) as bar:
            yield bar.update
        return
    done, last = 0, time.monotonic()

    def tick() -> None:
        nonlocal done, last
        done += 1
        if done == total or time.monotonic() - last >= 1.0:
            last = time.monotonic()
            print(f"parsing: {done}/{total} files", file=sys.stderr, flush=True)

    yield tick
