"""Peak memory of parsing the corpus and holding every result, one fresh process each.

The measurement is wrapped in ``benchmark.pedantic`` (one round) only so that it runs
under ``--benchmark-only``; its time is the subprocess's, not a parse speed.
"""
from __future__ import annotations

import json
import subprocess
import sys

import midibench
import pytest


@pytest.mark.benchmark(group="memory")
@pytest.mark.parametrize("library", midibench.LIBRARIES)
def test_peak_memory(benchmark, corpus: midibench.Corpus, library: str) -> None:
    command = midibench.MEMORY_COMMAND.format(bench=str(midibench.BENCH_DIR))
    paths = json.dumps([str(p) for p in corpus.paths])

    def measure() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", command, library], input=paths,
                              capture_output=True, text=True, timeout=600, check=False)

    proc = benchmark.pedantic(measure, rounds=1, iterations=1)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["files"] == corpus.files
    midibench.record("memory", library, benchmark, **result)
