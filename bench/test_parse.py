"""Parsing the whole corpus from in-memory bytes, one benchmark per library."""
from __future__ import annotations

import midibench
import pytest

# Rounds of the timed loop (after one warm-up round): the slow pure-Python readers get few.
ROUNDS = {"deepsym": 10, "symusic": 10, "mido": 2, "pretty_midi": 2, "miditoolkit": 2}
# Readers that pair note-ons and note-offs one to one and drop notes never ended: they
# must find exactly deepsym's notes less the unended ones (counted separately with mido).
ONE_TO_ONE = ("symusic", "miditoolkit")


def check_notes(library: str, counts: list[int | None], corpus: midibench.Corpus) -> None:
    if library == "deepsym":
        assert counts == corpus.notes_per_file
    elif library in ONE_TO_ONE:
        wrong = [(path.name, found, deepsym, unended)
                 for path, found, deepsym, unended in zip(
                     corpus.paths, counts, corpus.notes_per_file, corpus.unterminated_per_file,
                     strict=True)
                 if found != deepsym - unended]
        assert not wrong, (f"{library} and deepsym disagree on notes "
                           f"(file, {library}, deepsym, unended note-ons): {wrong[:10]}")
    # mido has no notes; pretty_midi lets a note-off end every open note of its pitch
    # that started earlier, so its count is only reported, not checked.


@pytest.mark.benchmark(group="parse")
@pytest.mark.parametrize("library", midibench.LIBRARIES)
def test_parse(benchmark, corpus: midibench.Corpus, library: str) -> None:
    rounds = ROUNDS[library]
    parsed = midibench.timed(benchmark, midibench.parse_all(library, corpus.data), rounds)
    assert len(parsed) == corpus.files
    counts = [midibench.note_count(library, p) for p in parsed]
    check_notes(library, counts, corpus)
    if benchmark.stats is None:  # --benchmark-disable: nothing was timed
        return
    nbytes = sum(map(len, corpus.data))
    midibench.record(
        "parse", library, benchmark,
        files=corpus.files, MB=nbytes / midibench.MB, notes=corpus.notes,
        notes_found=None if library == "mido" else sum(counts), rounds=rounds,
        **midibench.throughput(benchmark, corpus.files, nbytes, corpus.notes),
    )
