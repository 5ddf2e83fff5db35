"""Plagiarism search at corpus scale: a 2,000-note piece against 100,000 pieces (> 50 M
notes) through the corpus's n-gram index, against the exhaustive scan.

Corpus: ``indexbench.synthetic_files(100_000)`` (real pieces strung together, moved
by -6..+5 semitones and shifted in time; about 62 M notes), built by ``build_corpus``
on all cores into a temporary folder: ``build`` times the fresh build (one round; the
index's share is ``BuildResult.index_seconds``), ``rebuild`` a second build over the
unchanged files (nothing parsed, the index built again from the arrays), ``index``
``NgramIndex.build`` alone. Sizes: the index files against notes.npy.

Queries, top=10, all cores, each in a **fresh process** (``python -c``: interpreter
start, ``import deepsym``, ``Corpus.open`` of the 100,000-piece index.json, the
index memory-mapped, lookup, exact verification; the files are in the page cache):

- ``copied``: ``lcsbench.generated_piece`` (real folk tunes with 40 notes of a real
  chorale spliced in), which copies the synthetic corpus everywhere: the heavy case;
- ``original``: a random walk of 2,000 notes (what a generator that does not copy
  gives): the usual case;

each plain, transposed (``--transpose``) and keeping the rhythm (``--tolerance 0.05``).

Exhaustive scan: the same call with ``index=False`` on a corpus of the first 10,000
files, timed once in-process (loading the pieces included), and the index on that
corpus beside it; the 100,000-piece time is extrapolated by the ratio of train notes
(the scan is linear in them). Its matches of 8+ notes must equal the index's.
Results: bench/results/plagiarism_index.json.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import indexbench
import lcsbench
import midibench
import numpy as np
import pytest

import deepsym
from deepsym.data import Corpus, build_corpus
from deepsym.data.ngrams import FILES, NgramIndex
from deepsym.metrics.originality import plagiarism
from deepsym.score import NOTE_DTYPE, Score, Track

PIECES = 100_000
SUBSET = 10_000
NOTES = 2_000
TOP = 10
RESULTS_PATH = midibench.BENCH_DIR / "results" / "plagiarism_index.json"
RESULTS: dict = {}
VARIANTS = {"plain": [], "transpose": ["--transpose"], "tolerance": ["--tolerance", "0.05"]}
QUERY = """
import sys, time
started = time.perf_counter()
from deepsym.metrics.originality import plagiarism
args = sys.argv[1:]
report = plagiarism(args[0], args[1], top=int(args[2]), transpose="--transpose" in args,
                    tolerance=float(args[args.index("--tolerance") + 1])
                    if "--tolerance" in args else None)
print(report.method, len(report.matches), report.matches[0].run_notes if report.matches
      else 0, time.perf_counter() - started)
"""


@pytest.fixture(scope="module", autouse=True)
def results():
    yield
    if RESULTS:
        midibench.write_json_atomic({
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "numpy": np.__version__, **RESULTS}, RESULTS_PATH)


@pytest.fixture(scope="module")
def scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="deepsym-bench-index-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def files() -> list[str]:
    folder = indexbench.synthetic_files(PIECES)
    return sorted(str(p) for p in folder.glob("*.mid"))


@pytest.fixture(scope="module")
def big(files, scratch) -> Path:
    started = time.perf_counter()
    built = build_corpus(files, scratch / "c100k")
    corpus = Corpus.open(scratch / "c100k")
    index = NgramIndex.open(corpus)
    RESULTS["corpus"] = {
        "pieces": built.pieces, "notes": built.notes, "train_pieces": len(corpus.split("train")),
        "build_s": time.perf_counter() - started, "index_in_build_s": built.index_seconds,
        "notes_npy_bytes": (corpus.folder / "notes.npy").stat().st_size,
        "index_bytes": sum((corpus.folder / name).stat().st_size for name in FILES),
        "n": index.n, "buckets": 2**index.bits, "postings": len(index.postings)}
    RESULTS["corpus"]["index_over_notes"] = \
        RESULTS["corpus"]["index_bytes"] / RESULTS["corpus"]["notes_npy_bytes"]
    return scratch / "c100k"


@pytest.fixture(scope="module")
def generated(scratch) -> dict[str, Path]:
    copied, _ = lcsbench.generated_piece(NOTES, lcsbench.real_scores()[7])
    rng = np.random.default_rng(1)
    notes = np.zeros(NOTES, dtype=NOTE_DTYPE)
    notes["start"] = np.cumsum(rng.choice([0, 240, 480], NOTES, p=[0.2, 0.5, 0.3]))
    notes["duration"], notes["velocity"] = 240, 80
    notes["pitch"] = np.clip(64 + np.cumsum(rng.integers(-4, 5, NOTES)), 40, 90)
    original = Score(ticks_per_beat=480, tracks=[Track(notes)], tempos=[(0, 120.0)])
    paths = {}
    for name, score in (("copied", copied), ("original", original)):
        paths[name] = scratch / f"{name}.mid"
        deepsym.write_midi(score, paths[name])
    return paths


def fresh_query(gen: Path, corpus: Path, options: list[str]) -> tuple[float, list[str]]:
    """Wall seconds of a fresh process running the query, and what it printed."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", QUERY, str(gen), str(corpus), str(TOP),
                          *options], capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, out.split()


@pytest.mark.benchmark(group="plagiarism-index")
def test_build_sizes_and_rebuild(benchmark, big, files) -> None:
    corpus = Corpus.open(big)
    info = RESULTS["corpus"]
    assert info["notes"] >= 50_000_000 and info["index_over_notes"] <= 1.0
    started = time.perf_counter()
    NgramIndex.build(corpus)
    info["index_alone_s"] = time.perf_counter() - started
    again = benchmark.pedantic(build_corpus, (files, big), rounds=1, iterations=1)
    assert again.parsed == 0 and again.reused == PIECES
    info["rebuild_unchanged_s"] = benchmark.stats.stats.min
    info["index_in_rebuild_s"] = again.index_seconds


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("which", ["copied", "original"])
@pytest.mark.benchmark(group="plagiarism-index")
def test_query_fresh_process(benchmark, big, generated, which, variant) -> None:
    def run() -> list[str]:
        _, printed = fresh_query(generated[which], big, VARIANTS[variant])
        inner.append(float(printed[-1]))
        return printed

    inner: list[float] = []
    printed = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert printed[0] == "index"
    if which == "copied" and variant != "tolerance":
        assert int(printed[1]) == TOP and int(printed[2]) >= 40
    stats = benchmark.stats.stats
    RESULTS.setdefault("query_100k_fresh_process", {})[f"{which}-{variant}"] = {
        "min_s": stats.min, "mean_s": stats.mean, "rounds": stats.rounds,
        "in_process_min_s": min(inner), "matches": int(printed[1]),
        "longest_run": int(printed[2])}


@pytest.mark.benchmark(group="plagiarism-index")
def test_exhaustive_on_a_subset(benchmark, files, scratch, generated, big) -> None:
    build_corpus(files[:SUBSET], scratch / "c10k")
    subset = Corpus.open(scratch / "c10k")
    gen = generated["copied"]
    started = time.perf_counter()
    scan = plagiarism(gen, scratch / "c10k", top=TOP, index=False)
    exhaustive = time.perf_counter() - started
    report = benchmark.pedantic(plagiarism, (gen, scratch / "c10k"), kwargs={"top": TOP},
                                rounds=3, iterations=1, warmup_rounds=1)
    assert report.method == "index"
    assert report.matches == [m for m in scan.matches if m.run_notes >= report.min_run]
    indexed_fresh = min(fresh_query(gen, scratch / "c10k", [])[0] for _ in range(3))

    def train_notes(corpus: Corpus) -> int:
        return int(corpus.piece_table["note_count"][corpus.split("train")].sum())

    scale = train_notes(Corpus.open(big)) / train_notes(subset)
    RESULTS["exhaustive_vs_index_10k"] = {
        "pieces": len(subset), "train_notes": train_notes(subset),
        "exhaustive_s": exhaustive, "index_in_process_min_s": benchmark.stats.stats.min,
        "index_fresh_process_min_s": indexed_fresh,
        "speedup_in_process": exhaustive / benchmark.stats.stats.min,
        "exhaustive_100k_extrapolated_s": exhaustive * scale,
        "extrapolation": f"x{scale:.2f}: the ratio of train notes, 100,000 / 10,000 pieces"}
    fresh = RESULTS.get("query_100k_fresh_process", {}).get("copied-plain")
    if fresh:
        RESULTS["exhaustive_vs_index_10k"]["speedup_100k_fresh_vs_extrapolated"] = \
            exhaustive * scale / fresh["min_s"]
