"""Writing every parsed score back to Standard MIDI File bytes: deepsym vs symusic."""
from __future__ import annotations

import midibench
import pytest
import symusic

import deepsym

ROUNDS = 10


def dump_deepsym(scores: list) -> list[bytes]:
    return [deepsym.write_midi(s) for s in scores]


def dump_symusic(scores: list) -> list[bytes]:
    return [s.dumps_midi() for s in scores]


@pytest.mark.benchmark(group="write")
@pytest.mark.parametrize("library", ["deepsym", "symusic"])
def test_write(benchmark, request, corpus: midibench.Corpus, library: str) -> None:
    scores = request.getfixturevalue(f"{library}_scores")
    dump = dump_deepsym if library == "deepsym" else dump_symusic
    written = midibench.timed(benchmark, lambda: dump(scores), ROUNDS)
    assert len(written) == corpus.files
    before = [midibench.note_count(library, s) for s in scores]
    with midibench.quiet():
        again = [midibench.note_count(library, midibench.parser(library)(b)) for b in written]
        # deepsym ends every note it writes, so symusic must read back all of them too
        other = ([midibench.note_count("symusic", symusic.Score.from_midi(b)) for b in written]
                 if library == "deepsym" else before)
    lost = [(p.name, n, m, o) for p, n, m, o in zip(corpus.paths, before, again, other,
                                                   strict=True) if not n == m == o]
    assert not lost, f"notes changed by writing (file, before, re-read, symusic): {lost[:10]}"
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    nbytes = sum(map(len, written))
    notes = sum(before)
    midibench.record(
        "write", library, benchmark,
        files=corpus.files, MB=nbytes / midibench.MB, notes=notes, notes_found=notes,
        rounds=ROUNDS,
        **midibench.throughput(benchmark, corpus.files, nbytes, notes),
    )
