"""Building a corpus from the real test files: deepsym vs a plain loop over pretty_midi.

Every round starts from the files on disk and ends with every note in numpy arrays:
``deepsym`` runs ``build_corpus`` into a new folder (parse on 2 or 1 processes, hash,
de-duplicate, split, write the memory-mapped cache and index); ``pretty_midi`` reads
each file with ``PrettyMIDI(path)`` and collects each instrument's notes into an
array (start, end, pitch, velocity), writing nothing. ``deepsym rebuild`` times a
second build over unchanged files (nothing parsed). Results: bench/results/corpus.json.
"""
from __future__ import annotations

import itertools
import os
import platform
import shutil
import tempfile
from pathlib import Path

import midibench
import numpy as np
import pytest
from music21_corpus import real_midi_files

from deepsym.data import build_corpus

RESULTS_PATH = midibench.BENCH_DIR / "results" / "corpus.json"
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def files() -> list[Path]:
    found = sorted(set(real_midi_files()))  # the list names two chorales twice
    yield found
    if RESULTS:
        report = {"files": len(found), "MB": sum(p.stat().st_size for p in found) / midibench.MB,
                  "python": platform.python_version(),
                  "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
                  "results": RESULTS}
        midibench.write_json_atomic(report, RESULTS_PATH)


@pytest.fixture
def scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="deepsym-bench-corpus-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def pretty_midi_loop(files: list[Path]) -> list[list[np.ndarray]]:
    import pretty_midi

    pieces = []
    with midibench.quiet():
        for path in files:
            midi = pretty_midi.PrettyMIDI(str(path))
            pieces.append([np.array([(n.start, n.end, n.pitch, n.velocity) for n in i.notes])
                           for i in midi.instruments])
    return pieces


def record(name: str, benchmark, files: list[Path], notes: int) -> None:
    if benchmark.stats is None:  # --benchmark-disable
        return
    stats = benchmark.stats.stats
    row = {"mean_s": stats.mean, "min_s": stats.min, "rounds": stats.rounds,
           "files_per_s": len(files) / stats.mean, "notes": notes}
    benchmark.extra_info.update(row)
    RESULTS[name] = row


@pytest.mark.benchmark(group="corpus build")
@pytest.mark.parametrize("workers", [2, 1])
def test_deepsym_build(benchmark, files, scratch, workers):
    outputs = (scratch / f"corpus-{i}" for i in itertools.count())
    result = benchmark.pedantic(lambda: build_corpus(files, next(outputs), workers=workers),
                                rounds=5, iterations=1, warmup_rounds=1)
    assert result.found == len(files) and result.parsed == len(files)
    record(f"deepsym build, {workers} worker{'s' * (workers > 1)}", benchmark, files,
           result.notes)


@pytest.mark.benchmark(group="corpus build")
def test_deepsym_rebuild_unchanged(benchmark, files, scratch):
    build_corpus(files, scratch / "corpus", workers=2)
    result = benchmark.pedantic(lambda: build_corpus(files, scratch / "corpus", workers=2),
                                rounds=5, iterations=1, warmup_rounds=1)
    assert result.parsed == 0 and result.reused == len(files)
    record("deepsym rebuild, nothing changed", benchmark, files, result.notes)


@pytest.mark.benchmark(group="corpus build")
def test_pretty_midi_loop(benchmark, files):
    pieces = benchmark.pedantic(lambda: pretty_midi_loop(files), rounds=2, iterations=1,
                                warmup_rounds=1)
    assert len(pieces) == len(files)
    record("pretty_midi loop", benchmark, files, sum(len(a) for p in pieces for a in p))
