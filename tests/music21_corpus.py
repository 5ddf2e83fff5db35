"""Real music for tests and benchmarks: music21's corpus written to MIDI files, cached.

Bach chorales (music21's ``bach`` corpus) and folk tunes (its Essen ABC collections)
are written by music21 into ``$DEEPSYM_TEST_CACHE`` (default
``~/.cache/deepsym-tests``) the first time they are asked for; nothing is committed
and nothing is downloaded.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

N_CHORALES = 200
N_FOLK = 150
FOLK_OPUS = "essenFolksong/altdeu10.abc"


def cache_dir() -> Path:
    root = os.environ.get("DEEPSYM_TEST_CACHE") or Path.home() / ".cache" / "deepsym-tests"
    return Path(root) / "music21-midi"


def _write(score, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    score.write("midi", fp=str(tmp))
    os.replace(tmp, path)


def _write_chorale(args: tuple[str, str]) -> None:
    """Write one chorale; a few have repeats music21 cannot expand: mark those as failed."""
    from music21 import corpus

    source, target = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _write(corpus.parse(source), Path(target))
        except Exception:
            Path(target).with_suffix(".failed").touch()


def _folk_tunes(out: Path, count: int) -> list[Path]:
    """The first ``count`` tunes of one Essen collection that music21 can write."""
    from music21 import corpus

    done = sorted(out.glob("folk-*.mid"))
    if len(done) >= count:
        return done[:count]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, score in enumerate(corpus.parse(FOLK_OPUS).scores):
            path = out / f"folk-{i:03d}.mid"
            if len(done) >= count:
                break
            if path.exists():
                continue
            try:
                _write(score, path)
            except Exception:  # a few tunes have notation music21 cannot write
                continue
            done.append(path)
    return sorted(done)[:count]


def real_midi_files() -> list[Path]:
    """Paths of about 350 real pieces as MIDI files (written on first use, ~1 minute)."""
    from music21 import corpus

    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    sources = [str(p) for p in corpus.getComposer("bach")
               if str(p).endswith((".mxl", ".xml", ".krn"))][:N_CHORALES]
    chorales = [out / f"bach-{Path(s).stem.replace('.', '-')}.mid" for s in sources]
    todo = [(s, str(p)) for s, p in zip(sources, chorales, strict=True)
            if not p.exists() and not p.with_suffix(".failed").exists()]
    if todo:
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(_write_chorale, todo, chunksize=8))
    return [p for p in chorales if p.exists()] + _folk_tunes(out, N_FOLK)


def first_chorales(count: int) -> list[Path]:
    """The first ``count`` Bach chorales of ``real_midi_files()``."""
    return [p for p in real_midi_files() if p.name.startswith("bach")][:count]
