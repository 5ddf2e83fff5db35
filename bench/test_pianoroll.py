"""Piano-rolls of the real corpus, deepsym against symusic, pypianoroll and pretty_midi.

Each "roll" task starts from objects the library has already parsed (parsed once,
outside the timing) and times only the roll step; each "parse+" task times reading
the bytes and the roll. Tasks and each library's call are in ``rollbench.TASKS`` and
``rollbench.roller``. No speed is asserted; the table and ``results/pianoroll.json``
give rates and deepsym's ratio to each peer from the same run.
"""
from __future__ import annotations

from typing import Any

import midibench
import pytest
import rollbench
from music21_corpus import real_midi_files

# Rounds after one warm-up round: the slow pure-Python peers get few.
ROUNDS = {"deepsym": 10, "symusic": 10, "pypianoroll": 3, "pretty_midi": 2}
CASES = [(task, lib) for task, (_, libraries) in rollbench.TASKS.items() for lib in libraries]


@pytest.fixture(scope="module")
def data() -> list[bytes]:
    """The music21 corpus (real chorales and folk tunes) as bytes."""
    files = [p.read_bytes() for p in real_midi_files()]
    scores = midibench.parse_all("deepsym", files)()
    rollbench.CORPUS.update(files=len(files), MB=sum(map(len, files)) / midibench.MB,
                            notes=sum(s.n_notes for s in scores))
    return files


@pytest.fixture(scope="module")
def parsed(data: list[bytes]) -> dict[str, list[Any]]:
    """Each parser's objects, made once: deepsym, symusic, pretty_midi."""
    out = {}
    for library in ("deepsym", "symusic", "pretty_midi"):
        read = rollbench.reader(library)
        with midibench.quiet():
            out[library] = [read(b) for b in data]
    return out


@pytest.mark.parametrize(("task", "library"), CASES, ids=[f"{t}-{lib}" for t, lib in CASES])
def test_pianoroll(benchmark, data: list[bytes], parsed: dict[str, list[Any]], task: str,
                   library: str) -> None:
    benchmark.group = f"pianoroll-{task}"
    inputs = data if task.startswith("parse+") else parsed[rollbench.PARSED_BY[library]]
    rolls = midibench.timed(benchmark, rollbench.task_run(task, library, inputs),
                            ROUNDS[library])
    assert len(rolls) == len(data)
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    corpus = rollbench.CORPUS
    row = {"files": corpus["files"], "notes": corpus["notes"], "rounds": ROUNDS[library],
           "roll_Mcells": sum(rolls) / 1e6,
           **midibench.throughput(benchmark, corpus["files"], round(corpus["MB"] * 1e6),
                                  corpus["notes"])}
    benchmark.extra_info.update(row)
    rollbench.RESULTS[task][library] = row
