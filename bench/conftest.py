"""Fixtures of the MIDI benchmarks and the comparison table printed at the end."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent
for _dir in (BENCH_DIR, BENCH_DIR.parent / "tests"):  # midibench; music21_corpus
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import midibench  # noqa: E402
import rollbench  # noqa: E402


@pytest.fixture(scope="session")
def corpus() -> midibench.Corpus:
    """The corpus bytes (loaded once), those every library parses; MB and deepsym's notes."""
    corpus = midibench.load_corpus(midibench.candidate_files())
    assert corpus.files > 0, "empty benchmark corpus"
    midibench.RESULTS["corpus"] = {
        "files": corpus.files,
        "MB": corpus.megabytes,
        "notes": corpus.notes,
        "unterminated_notes": {p.name: n for p, n in
                               zip(corpus.paths, corpus.unterminated_per_file, strict=True)
                               if n},
        "skipped": corpus.skipped,
    }
    return corpus


@pytest.fixture(scope="session")
def deepsym_scores(corpus: midibench.Corpus) -> list:
    return midibench.parse_all("deepsym", corpus.data)()


@pytest.fixture(scope="session")
def symusic_scores(corpus: midibench.Corpus) -> list:
    return midibench.parse_all("symusic", corpus.data)()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    rollbench.report(terminalreporter)
    report = midibench.summary()
    if report is None:
        return
    terminalreporter.write_sep("=", "MIDI benchmark: deepsym vs peers")
    for line in midibench.table(report):
        terminalreporter.write_line(line)
    if report.get("parse"):  # a run that timed nothing (--benchmark-disable) keeps the file
        midibench.write_json_atomic(report)
        terminalreporter.write_line(f"\nwritten to {midibench.RESULTS_PATH}")
