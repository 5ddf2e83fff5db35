"""Shared helpers of the MIDI benchmarks: the peers, the corpus, results and the report.

Imports only the standard library at module level, so that the memory subprocess
(``python -c ... midibench.memory_child()``) loads nothing but the library it measures.
"""
from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import platform
import resource
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SHARED_MIDI_DIR = REPO_ROOT.parent / "shared" / "test-midi-files"
RESULTS_PATH = BENCH_DIR / "results" / "parse.json"

REFERENCE = "deepsym"
LIBRARIES = ["deepsym", "symusic", "mido", "pretty_midi", "miditoolkit"]
MB = 1_000_000  # bytes; throughput is reported in decimal megabytes


def parser(library: str) -> Callable[[bytes], Any]:
    """A function reading one in-memory MIDI file with ``library`` (imported here, lazily)."""
    if library == "deepsym":
        import deepsym

        return deepsym.read_midi
    if library == "symusic":
        import symusic

        return symusic.Score.from_midi
    if library == "mido":
        import mido

        return lambda b: mido.MidiFile(file=io.BytesIO(b))
    if library == "pretty_midi":
        import pretty_midi

        return lambda b: pretty_midi.PrettyMIDI(io.BytesIO(b))
    if library == "miditoolkit":
        import miditoolkit

        return lambda b: miditoolkit.MidiFile(file=io.BytesIO(b))
    raise ValueError(f"unknown library {library!r}")


def note_count(library: str, parsed: Any) -> int | None:
    """Notes ``library`` found in one parsed file; None for mido (no notes concept)."""
    if library == "deepsym":
        return parsed.n_notes
    if library == "symusic":
        return sum(t.note_num() for t in parsed.tracks)
    if library in ("pretty_midi", "miditoolkit"):
        return sum(len(i.notes) for i in parsed.instruments)
    return None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the warnings lenient readers give on the edge-case files (same for all)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def parse_all(library: str, data: list[bytes]) -> Callable[[], list[Any]]:
    """Parse every file of the corpus with ``library``, keeping the results."""
    parse = parser(library)

    def run() -> list[Any]:
        with quiet():
            return [parse(b) for b in data]

    return run


def timed(benchmark: Any, run: Callable[[], list[Any]], rounds: int) -> list[Any]:
    """``benchmark.pedantic`` over ``run``, holding only the current round's results.

    (pedantic itself would keep the previous round's results alive during the next
    round, doubling the memory in use; pretty_midi's results alone take about 2 GB.)
    Between rounds, outside the timing, the old results are dropped, gc runs and the
    objects still alive (pytest's, earlier benchmarks') are frozen out of the cyclic
    collector, so that a round pays for collecting its own objects only, not for
    walking whatever else this process happens to hold.
    """
    held: list[list[Any]] = []

    def setup() -> None:
        held.clear()
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def target() -> None:
        held.append(run())

    benchmark.pedantic(target, setup=setup, rounds=rounds, iterations=1, warmup_rounds=1)
    return held[-1]


def unterminated_notes(data: bytes) -> int:
    """Note-ons never ended by a note-off, counted with mido (an independent parser).

    Pairs per (track chunk, channel, pitch); a note-on with velocity 0 is a note-off and
    a note-off with no open note is ignored. Any one-to-one pairing leaves the same
    number open, so this is what a reader that drops unended notes (symusic,
    miditoolkit) finds fewer than deepsym, which keeps them to the end of their chunk.
    """
    import mido

    left = 0
    for track in mido.MidiFile(file=io.BytesIO(data)).tracks:
        open_notes: dict[tuple[int, int], int] = {}
        for msg in track:
            if msg.type not in ("note_on", "note_off"):
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes[key] = open_notes.get(key, 0) + 1
            elif open_notes.get(key):
                open_notes[key] -= 1
        left += sum(open_notes.values())
    return left


# -- the corpus -------------------------------------------------------------------------

@dataclass
class Corpus:
    paths: list[Path]
    data: list[bytes]
    notes_per_file: list[int]  # counted by deepsym
    unterminated_per_file: list[int]  # counted by mido, see unterminated_notes()
    skipped: dict[str, list[str]] = field(default_factory=dict)  # file -> failures

    @property
    def files(self) -> int:
        return len(self.data)

    @property
    def megabytes(self) -> float:
        return sum(map(len, self.data)) / MB

    @property
    def notes(self) -> int:
        return sum(self.notes_per_file)


def candidate_files() -> list[Path]:
    """music21's real pieces (see tests/music21_corpus.py) plus the shared edge cases."""
    from music21_corpus import real_midi_files

    return list(real_midi_files()) + sorted(SHARED_MIDI_DIR.glob("*.mid"))


def load_corpus(paths: list[Path]) -> Corpus:
    """Read the files; keep only those every library parses, so all parse the same set."""
    parsers = {lib: parser(lib) for lib in LIBRARIES}
    kept: list[Path] = []
    data: list[bytes] = []
    notes: list[int] = []
    skipped: dict[str, list[str]] = {}
    with quiet():
        for path in paths:
            raw = path.read_bytes()
            failed, n = [], 0
            for lib, parse in parsers.items():
                try:
                    parsed = parse(raw)
                except Exception as exc:
                    failed.append(f"{lib}: {type(exc).__name__}: {str(exc)[:80]}")
                    continue
                if lib == REFERENCE:
                    n = note_count(lib, parsed)
            if failed:
                skipped[path.name] = failed
            else:
                kept.append(path)
                data.append(raw)
                notes.append(n)
    return Corpus(kept, data, notes, [unterminated_notes(b) for b in data], skipped)


# -- results and the report ---------------------------------------------------------------

RESULTS: dict[str, Any] = {"corpus": None, "parse": {}, "write": {}, "memory": {}}


def throughput(benchmark: Any, files: int, nbytes: int, notes: int) -> dict[str, float]:
    """Rates from the mean time of this run's rounds (min, median, stddev for reference)."""
    stats = benchmark.stats.stats
    seconds = stats.mean
    return {"mean_s": seconds, "median_s": stats.median, "min_s": stats.min,
            "stddev_s": stats.stddev, "files_per_s": files / seconds,
            "MB_per_s": nbytes / MB / seconds, "notes_per_s": notes / seconds}


def record(kind: str, library: str, benchmark: Any, **info: Any) -> None:
    """Put ``info`` into the benchmark's extra_info and into this run's RESULTS."""
    benchmark.extra_info.update(info)
    RESULTS[kind][library] = dict(info)


def comparison(library: str, reference_s: float | None, seconds: float) -> tuple[float | None, str]:
    """(reference time / library time, words), both from this run."""
    if reference_s is None:
        return None, "n/a (deepsym not run)"
    ratio = reference_s / seconds
    if library == REFERENCE:
        return 1.0, "reference"
    if ratio >= 1:
        return ratio, f"{library} {ratio:.1f}x faster than {REFERENCE}"
    return ratio, f"{REFERENCE} {1 / ratio:.1f}x faster than {library}"


def summary() -> dict[str, Any] | None:
    """This run's results with ratios to deepsym, or None when nothing was measured."""
    if not any(RESULTS[k] for k in ("parse", "write", "memory")):
        return None
    out: dict[str, Any] = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {lib: version(lib) for lib in LIBRARIES},  # distribution = import name
        "corpus": RESULTS["corpus"],
        "ratio": "deepsym mean time / library mean time (>1: library faster)",
    }
    for kind in ("parse", "write"):
        rows = {lib: dict(row) for lib, row in RESULTS[kind].items()}
        ref = rows.get(REFERENCE, {}).get("mean_s")
        for lib, row in rows.items():
            row["ratio_vs_deepsym"], row["comparison"] = comparison(lib, ref, row["mean_s"])
            if kind == "parse" and lib in RESULTS["memory"]:
                row["peak_rss_growth_kib"] = RESULTS["memory"][lib]["peak_rss_growth_kib"]
        out[kind] = {lib: rows[lib] for lib in LIBRARIES if lib in rows}
    out["memory"] = {lib: RESULTS["memory"][lib] for lib in LIBRARIES if lib in RESULTS["memory"]}
    return out


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def table(report: dict[str, Any]) -> list[str]:
    """The comparison table as text lines."""
    lines = []
    corpus = report.get("corpus")
    if corpus:
        lines.append(f"corpus: {corpus['files']} files, {corpus['MB']:.3f} MB, "
                     f"{corpus['notes']:,} notes (deepsym count); "
                     f"{len(corpus['skipped'])} files skipped (not parsed by every library)")
    head = (f"{'library':<12} {'files/s':>10} {'MB/s':>9} {'notes/s':>13} "
            f"{'notes found':>11} {'peak RSS +MiB':>13}  vs deepsym (same run)")
    memory = report.get("memory", {})
    for kind, title in (("parse", "parse, all files from bytes"),
                        ("write", "write, all parsed scores to bytes")):
        rows = report.get(kind) or {}
        if not rows and not (kind == "parse" and memory):
            continue
        lines += ["", title, head, "-" * len(head)]
        for lib in LIBRARIES:
            row, mem = rows.get(lib), memory.get(lib) if kind == "parse" else None
            if row is None and mem is None:
                continue
            found = row.get("notes_found") if row else None
            cells = [f"{lib:<12}"]
            if row:
                cells += [f"{row['files_per_s']:>10,.0f}", f"{row['MB_per_s']:>9.2f}",
                          f"{row['notes_per_s']:>13,.0f}"]
            else:
                cells += [f"{'-':>10}", f"{'-':>9}", f"{'-':>13}"]
            cells.append(f"{found:>11,}" if found is not None else f"{'-':>11}")
            mib = mem["peak_rss_growth_kib"] / 1024 if mem else None
            cells.append(f"{mib:>13.1f}" if mib is not None else f"{'-':>13}")
            if row:
                cells.append(f" {row['comparison']}")
            lines.append(" ".join(cells))
    return lines


def write_json_atomic(report: dict[str, Any], path: Path = RESULTS_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- peak memory, in a fresh interpreter -------------------------------------------------------

def _proc_status_kib(field_name: str) -> int | None:
    """A ``Vm*`` field of /proc/self/status in KiB (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def memory_child() -> None:
    """Run in a subprocess: argv[1] the library, stdin a JSON list of paths.

    Imports the library, reads the bytes and parses one file (lazy initialisation)
    before the baseline; then parses every file holding all results, and prints JSON.

    ``ru_maxrss`` (KiB on Linux) is recorded, but on Linux a child process starts with
    the ``ru_maxrss`` of its parent (it survives fork and exec), so inside a big pytest
    process it often cannot grow at all. The growth reported therefore uses the
    process's own peak, VmHWM: reset to the current RSS at the baseline, read after.
    Where /proc is missing it falls back to ``ru_maxrss``.
    """
    library = sys.argv[1]
    paths = json.load(sys.stdin)
    data = [Path(p).read_bytes() for p in paths]
    parse = parser(library)
    with quiet():
        parse(data[0])
        gc.collect()
        reset = _reset_peak_rss()
        rss_before = _proc_status_kib("VmRSS")
        hwm_before = _proc_status_kib("VmHWM")
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        held = [parse(b) for b in data]
        maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        hwm_after = _proc_status_kib("VmHWM")
        rss_after = _proc_status_kib("VmRSS")
    if hwm_after is not None and rss_before is not None:
        growth = hwm_after - (rss_before if reset else hwm_before)
        source = "VmHWM" + (" (reset at baseline)" if reset else "")
    else:
        growth, source = maxrss_after - maxrss_before, "ru_maxrss"
    json.dump({"files": len(held), "peak_rss_growth_kib": growth, "measured_with": source,
               "rss_before_kib": rss_before, "rss_after_kib": rss_after,
               "peak_rss_after_kib": hwm_after, "ru_maxrss_before_kib": maxrss_before,
               "ru_maxrss_after_kib": maxrss_after}, sys.stdout)


MEMORY_COMMAND = ("import sys; sys.path.insert(0, {bench!r}); "
                  "import midibench; midibench.memory_child()")
