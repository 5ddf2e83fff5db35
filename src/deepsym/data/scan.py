"""Finding the MIDI files a corpus is built from: folders (recursively), files and globs."""
from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from deepsym.errors import CorpusError

MIDI_SUFFIXES = (".mid", ".midi")


def is_midi_name(path: str | os.PathLike) -> bool:
    """Whether the file name ends in .mid or .midi (any case)."""
    return os.fspath(path).lower().endswith(MIDI_SUFFIXES)


def find_midi_files(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """The absolute paths of the MIDI files in ``sources``, sorted, each once.

    A source is a folder (searched recursively; symbolic links to folders are not
    followed), a file (taken whatever its name) or a glob pattern (``**`` recurses;
    matched folders are searched, matched files kept if named .mid or .midi).
    Raises :class:`CorpusError` for a source that does not exist or matches nothing,
    and when no MIDI file is found at all.
    """
    sources = [os.fspath(s) for s in sources]
    if not sources:
        raise CorpusError("no sources given: name folders, MIDI files or glob patterns")
    found: set[Path] = set()
    for source in sources:
        found.update(_files_of(source))
    if not found:
        raise CorpusError(f"no MIDI files (.mid, .midi) found in {', '.join(sources)}")
    return sorted(found)


def _files_of(source: str) -> Iterator[Path]:
    path = Path(source)
    if path.is_dir():
        yield from _walk(path)
    elif path.is_file():
        yield path.resolve()
    elif glob.has_magic(source):
        matches = glob.glob(source, recursive=True)
        if not matches:
            raise CorpusError(f"no files match {source}")
        for match in matches:
            if Path(match).is_dir():
                yield from _walk(Path(match))
            elif is_midi_name(match):
                yield Path(match).resolve()
    else:
        raise CorpusError(f"no such file or folder: {source}")


def _walk(folder: Path) -> Iterator[Path]:
    for root, _, names in os.walk(folder):
        base = Path(root).resolve()
        yield from (base / name for name in names if is_midi_name(name))
