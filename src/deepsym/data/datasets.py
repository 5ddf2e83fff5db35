"""Datasets that install offline: music21's Bach chorales and folk tunes as MIDI files.

Nothing is downloaded: music21 (``pip install "deepsym[datasets]"``) ships the scores,
and the first use writes them as MIDI files into ``$DEEPSYM_DATA/<name>`` (default
``~/.cache/deepsym/datasets/<name>``); later uses find them there. Every file is
written atomically, in a fixed order, so two machines get the same files; a piece
music21 cannot convert is left out and its reason kept in a ``.skipped`` file beside
where it would have been (so it is not tried again).

- ``jsb``: the Bach chorales of ``music21.corpus.getComposer("bach")`` (MusicXML and
  Humdrum, MusicXML where both exist; the Roman-numeral analyses are not scores;
  about 410 chorales, 2 minutes on 2 cores), each as four tracks named
  Soprano, Alto, Tenor and Bass on channels 0-3. A chorale with exactly four parts
  keeps them in score order; one with more keeps the four parts named Soprano, Alto,
  Tenor and Bass (the first of each), or is skipped if it lacks one.
- ``folk``: every tune of music21's folk collections in ABC (``FOLK_COLLECTIONS``),
  as ``<collection>/<file>-<n>.mid`` (one track) with the tune's ABC text beside it
  in ``<collection>/<file>-<n>.abc``, the text the ``text`` representation reads. A
  tune is its ``X:`` line up to the first empty line, as ABC defines it. About 13,000
  tunes; music21 writes MIDI slowly (0.3 s a tune, repeats expanded), so the first
  use takes about half an hour on 2 cores.

``materialize(name)`` runs any registered dataset (these two or a plugin's).
"""
from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from deepsym.errors import DeepsymError, MissingExtraError
from deepsym.fileio import write_atomic

DATA_ENV = "DEEPSYM_DATA"
JSB_VOICES = ("Soprano", "Alto", "Tenor", "Bass")
JSB_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")
FOLK_COLLECTIONS = ("airdsAirs", "essenFolksong", "miscFolk", "nottingham-dataset",
                    "oneills1850", "ryansMammoth")
SKIPPED = ".skipped"
MIN_PARALLEL = 16  # fewer pieces to convert than this are converted in this process
_TUNE = re.compile(r"^X:.*?(?=\n[ \t]*\n|\nX:|\Z)", re.MULTILINE | re.DOTALL)

# A conversion job: (source name, target path, ABC text or None); result: reason or None.
Job = tuple[str, str, str | None]


def data_root() -> Path:
    """Where datasets are written: ``$DEEPSYM_DATA``, else ``~/.cache/deepsym/datasets``."""
    root = os.environ.get(DATA_ENV)
    return Path(root) if root else Path.home() / ".cache" / "deepsym" / "datasets"


def materialize(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The MIDI files of registered dataset ``name``, written into ``root/name``
    (default ``data_root()``) if they are not there yet."""
    from deepsym.plugins import manager

    function = manager().datasets.get(name)
    folder = (Path(root) if root is not None else data_root()) / name
    files = [Path(p) for p in function(folder)]
    if not files:
        raise DeepsymError(f"dataset {name!r} has no MIDI files in {folder}")
    return files


def jsb_chorales(root: str | os.PathLike, *, limit: int | None = None,
                 workers: int | None = None) -> list[Path]:
    """The Bach chorales as four-voice MIDI files in ``root`` (the first ``limit``)."""
    corpus = _music21_corpus()
    by_target: dict[str, str] = {}  # a chorale in two formats: MusicXML first
    for source in sorted((str(p) for p in corpus.getComposer("bach")
                          if str(p).lower().endswith(JSB_SUFFIXES)),
                         key=lambda p: JSB_SUFFIXES.index(Path(p).suffix.lower())):
        by_target.setdefault(f"bach-{_stem(Path(source).name)}.mid", _corpus_name(source))
    root = Path(root)
    jobs = [(source, str(root / target), None)
            for target, source in sorted(by_target.items(), key=lambda item: item[1])][:limit]
    return _convert(jobs, _write_chorale, workers)


def folk_tunes(root: str | os.PathLike, *, limit: int | None = None,
               workers: int | None = None) -> list[Path]:
    """music21's folk tunes as MIDI files in ``root``, each with its ABC text beside it
    (the first ``limit`` tunes)."""
    corpus = _music21_corpus()
    root = Path(root)
    jobs: list[Job] = []
    paths = sorted((str(p) for p in corpus.getPaths(fileExtensions=("abc",))), key=_corpus_name)
    for path in paths:
        collection = Path(path).parent.name
        if collection not in FOLK_COLLECTIONS:
            continue
        text = Path(path).read_text(encoding="utf-8")
        for n, tune in enumerate(_TUNE.finditer(text)):
            target = root / collection / f"{_stem(Path(path).name)}-{n:04d}.mid"
            jobs.append((f"{_corpus_name(path)} tune {n}", str(target), tune.group(0) + "\n"))
            if limit is not None and len(jobs) >= limit:
                return _convert(jobs, _write_tune, workers)
    return _convert(jobs, _write_tune, workers)


def _music21_corpus():
    try:
        from music21 import corpus
    except ImportError:
        raise MissingExtraError('the jsb and folk datasets need music21: '
                                'pip install "deepsym[datasets]"') from None
    return corpus


def _corpus_name(path: str) -> str:
    """A path inside music21's corpus from the corpus folder on ("bach/bwv1.6.mxl")."""
    parts = Path(path).parts
    if "corpus" not in parts:
        return Path(path).name
    return "/".join(parts[len(parts) - parts[::-1].index("corpus"):])


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.rsplit(".", 1)[0])


def _convert(jobs: list[Job], convert: Callable[[Job], str | None],
             workers: int | None) -> list[Path]:
    """Run the jobs whose target is neither written nor skipped; return the targets written."""
    todo = [job for job in jobs
            if not Path(job[1]).exists() and not _skip_marker(job[1]).exists()]
    for folder in {Path(job[1]).parent for job in todo}:
        folder.mkdir(parents=True, exist_ok=True)
    if len(todo) >= MIN_PARALLEL and (workers or os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            _report(zip(todo, pool.map(convert, todo, chunksize=8), strict=True), len(todo))
    else:
        _report(((job, convert(job)) for job in todo), len(todo))
    return [Path(job[1]) for job in jobs if Path(job[1]).exists()]


def _report(results: Iterable[tuple[Job, str | None]], total: int) -> None:
    """Write a ``.skipped`` file for each job that failed; count them on stderr."""
    from deepsym.data.build import _progress

    with _progress(total, sys.stderr.isatty()) as tick:
        for (source, target, _), reason in results:
            if reason is not None:
                write_atomic(_skip_marker(target), f"{source}: {reason}\n".encode())
            tick()


def _skip_marker(target: str) -> Path:
    return Path(target).with_suffix(SKIPPED)


def _midi_bytes(stream) -> bytes:
    from music21 import midi

    return midi.translate.streamToMidiFile(stream).writestr()


def _write_chorale(job: Job) -> str | None:
    """Write one chorale as four tracks; the reason it cannot be written, or None."""
    from music21 import corpus

    from deepsym.midi import read_midi, write_midi

    source, target, _ = job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            score = corpus.parse(source)
            parts = list(score.parts)
            voices = _satb(parts)
            if voices is None:
                return (f"not four voices: parts "
                        f"{', '.join(repr(p.partName) for p in parts)}")
            keep = {id(part) for part in voices}
            for part in parts:
                if id(part) not in keep:
                    score.remove(part)
            data = _midi_bytes(score)
        except Exception as exc:  # music21 raises many kinds (e.g. repeats it cannot expand)
            return f"music21: {type(exc).__name__}: {exc}"
    midi = read_midi(data, name=source)
    tracks = [t for t in midi.tracks if len(t.notes)]
    if len(tracks) != len(JSB_VOICES):
        return f"music21 wrote {len(tracks)} tracks with notes, not 4"
    midi.tracks = [t.replace(name=name, channel=k)
                   for k, (t, name) in enumerate(zip(tracks, JSB_VOICES, strict=True))]
    write_atomic(Path(target), write_midi(midi))
    return None


def _satb(parts: list) -> list | None:
    """The four voice parts of a chorale in SATB order (see the module docstring)."""
    if len(parts) == len(JSB_VOICES):
        return parts
    chosen = [next((p for p in parts if (p.partName or "").strip().lower().startswith(voice)),
                   None) for voice in map(str.lower, JSB_VOICES)]
    return None if None in chosen else chosen


def _write_tune(job: Job) -> str | None:
    """Write one ABC tune as MIDI plus its text; the reason it cannot be written, or None."""
    from deepsym.representations.text import abc_to_midi

    _source, target, abc = job
    try:
        data = abc_to_midi(abc)
    except DeepsymError as exc:
        return str(exc)
    write_atomic(Path(target).with_suffix(".abc"), abc.encode("utf-8"))
    write_atomic(Path(target), data)
    return None


__all__ = ["DATA_ENV", "FOLK_COLLECTIONS", "JSB_VOICES", "data_root", "folk_tunes",
           "jsb_chorales", "materialize"]
