"""Datasets that install offline: music21's Bach chorales, folk tunes and ensemble scores
as MIDI files.

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
- ``ensembles``: the scores (MusicXML, else Humdrum) in the corpus folders
  ``ENSEMBLE_FOLDERS`` (the composers whose folder holds chamber music or accompanied
  song; not the chorales, ABC tunes or unaccompanied vocal polyphony) whose parts with
  notes play at least two different General MIDI programs, e.g. string quartets, a
  Corelli trio sonata, songs with piano; as ``<folder>-<path>.mid``
  ("beethoven-opus59no1-movement1.mid"), one track per part, named after the part, on
  channels 0-15 but 9. A part's program is found by its name (``INSTRUMENT_PROGRAMS``,
  first keyword that the lower-cased name contains), else music21's
  ``instrument.midiProgram``, else by the instrument's name in the same table; the name
  comes first because the files' own instruments are often playback settings (Mozart's
  K. 80 has "String Ensemble 1" for all four parts, one Haydn movement "Piano" for its
  violins). Every voice is program 52 (Choir Aahs), so voices alone are one instrument.
  A piece of one instrument (piano music, say) or with a part of no known program is
  skipped.

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
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")  # a piece in several: the first
FOLK_COLLECTIONS = ("airdsAirs", "essenFolksong", "miscFolk", "nottingham-dataset",
                    "oneills1850", "ryansMammoth")
ENSEMBLE_FOLDERS = ("beach", "beethoven", "corelli", "handel", "haydn", "liliuokalani",
                    "mozart", "schubert", "schumann_clara", "schumann_robert", "weber",
                    "webern")
#: (keyword, General MIDI program), first match wins: an instrument's name contains it.
INSTRUMENT_PROGRAMS = (
    ("violoncello", 42), ("cello", 42), ("contrabass", 43), ("double bass", 43),
    ("violone", 43), ("viola", 41), ("violin", 40), ("piano", 0), ("harpsichord", 6),
    ("organ", 19), ("guitar", 24), ("lute", 24), ("flute", 73), ("oboe", 68),
    ("clarinet", 71), ("klarinette", 71), ("bassoon", 70), ("horn", 60), ("trumpet", 56),
    ("trombone", 57), ("soprano", 52), ("alto", 52), ("tenor", 52), ("bass", 52),
    ("voice", 52), ("vocal", 52), ("gesang", 52), ("choir", 52), ("canto", 52),
)
MIDI_CHANNELS = tuple(c for c in range(16) if c != 9)  # 9 is drums
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
    pieces = _one_per_piece(corpus.getComposer("bach"),
                            lambda source: f"bach-{_stem(Path(source).name)}.mid")
    jobs = [(source, str(Path(root) / target), None) for source, target in pieces][:limit]
    return _convert(jobs, _write_chorale, workers)


def ensemble_scores(root: str | os.PathLike, *, limit: int | None = None,
                    workers: int | None = None) -> list[Path]:
    """music21's scores of at least two instruments as MIDI files in ``root``, a track per
    part with the part's program (see the module docstring; the first ``limit`` pieces)."""
    corpus = _music21_corpus()
    sources = [p for p in corpus.getPaths()
               if _corpus_name(str(p)).split("/")[0] in ENSEMBLE_FOLDERS]
    pieces = _one_per_piece(sources, lambda source: f"{_stem(_corpus_name(source))}.mid")
    jobs = [(source, str(Path(root) / target), None) for source, target in pieces][:limit]
    return _convert(jobs, _write_ensemble, workers)


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
        raise MissingExtraError("deepsym's datasets need music21: "
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


def _one_per_piece(paths: Iterable, target: Callable[[str], str]) -> list[tuple[str, str]]:
    """``(corpus name, target file name)`` of each score among ``paths``, by corpus name; a
    piece in several formats (one target) from the first of ``SCORE_SUFFIXES``."""
    by_target: dict[str, str] = {}
    for source in sorted((str(p) for p in paths if str(p).lower().endswith(SCORE_SUFFIXES)),
                         key=lambda p: SCORE_SUFFIXES.index(Path(p).suffix.lower())):
        by_target.setdefault(target(source), _corpus_name(source))
    return sorted((source, target) for target, source in by_target.items())


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
    return _write_tracks(data, source, target,
                         [{"name": name, "channel": k} for k, name in enumerate(JSB_VOICES)])


def _satb(parts: list) -> list | None:
    """The four voice parts of a chorale in SATB order (see the module docstring)."""
    if len(parts) == len(JSB_VOICES):
        return parts
    chosen = [next((p for p in parts if (p.partName or "").strip().lower().startswith(voice)),
                   None) for voice in map(str.lower, JSB_VOICES)]
    return None if None in chosen else chosen


def _write_ensemble(job: Job) -> str | None:
    """Write one score as a track per part with notes, each with its part's program; the
    reason it cannot be written, or None."""
    from music21 import corpus, stream

    from deepsym.gm import PROGRAM_NAMES

    source, target, _ = job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            score = corpus.parse(source)
            if not isinstance(score, stream.Score):
                return f"not one score but a {type(score).__name__}"
            parts = [part for part in score.parts if part.recurse().notes]
            for part in score.parts:
                if not any(part is kept for kept in parts):
                    score.remove(part)
            programs = [_program(part) for part in parts]
            names = [repr(part.partName) for part in parts]
            if None in programs:
                return f"no General MIDI program for part {names[programs.index(None)]}"
            if len(set(programs)) < 2:
                return f"one instrument (program {programs[0]}): parts {', '.join(names)}"
            if len(parts) > len(MIDI_CHANNELS):
                return f"{len(parts)} parts, more than {len(MIDI_CHANNELS)} MIDI channels"
            data = _midi_bytes(score)
        except Exception as exc:  # music21 raises many kinds (e.g. repeats it cannot expand)
            return f"music21: {type(exc).__name__}: {exc}"
    return _write_tracks(data, source, target, [
        {"name": part.partName or PROGRAM_NAMES[program], "program": program,
         "channel": channel, "is_drum": False}
        for part, program, channel in zip(parts, programs, MIDI_CHANNELS[:len(parts)],
                                          strict=True)])


def _write_tracks(data: bytes, source: str, target: str, fields: list[dict]) -> str | None:
    """Write the MIDI music21 wrote (``data``) as its tracks with notes, each given its
    ``fields`` (name, channel, ...); the reason it cannot be written, or None."""
    from deepsym.midi import read_midi, write_midi

    midi = read_midi(data, name=source)
    tracks = [t for t in midi.tracks if len(t.notes)]
    if len(tracks) != len(fields):
        return f"music21 wrote {len(tracks)} tracks with notes for {len(fields)} parts"
    midi.tracks = [t.replace(**f) for t, f in zip(tracks, fields, strict=True)]
    write_atomic(Path(target), write_midi(midi))
    return None


def _program(part) -> int | None:
    """A music21 part's General MIDI program (see the module docstring), or None."""
    instrument = part.getInstrument(returnDefault=False)
    by_name = _program_by_name(part.partName)
    if by_name is not None or instrument is None:
        return by_name
    if instrument.midiProgram is not None:
        return int(instrument.midiProgram)
    return _program_by_name(instrument.instrumentName)


def _program_by_name(name: str | None) -> int | None:
    name = (name or "").lower()
    return next((program for keyword, program in INSTRUMENT_PROGRAMS if keyword in name), None)


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


__all__ = ["DATA_ENV", "ENSEMBLE_FOLDERS", "FOLK_COLLECTIONS", "INSTRUMENT_PROGRAMS",
           "JSB_VOICES", "data_root", "ensemble_scores", "folk_tunes", "jsb_chorales",
           "materialize"]
