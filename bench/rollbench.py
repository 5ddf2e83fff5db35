"""Shared parts of the piano-roll benchmarks: the tasks, each library's way of doing
them, this run's results and the report (table + ``results/pianoroll.json``).

Imports only the standard library and ``midibench`` at module level; the libraries are
imported inside the functions that use them.
"""
from __future__ import annotations

import io
import os
import platform
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import midibench

RESULTS_PATH = midibench.BENCH_DIR / "results" / "pianoroll.json"
REFERENCE = "deepsym"
STEPS_PER_BEAT = 24
FPS = 100

#: task -> (what it makes, the libraries that make it). "roll" tasks start from objects
#: each library has already parsed; "parse+roll" tasks start from the file's bytes.
TASKS: dict[str, tuple[str, list[str]]] = {
    "steps": (f"{STEPS_PER_BEAT} steps per beat, one velocity roll per track",
              ["deepsym", "symusic", "pypianoroll"]),
    "onset_frame": (f"{STEPS_PER_BEAT} steps per beat, onset + frame channels per track",
                    ["deepsym", "symusic"]),
    "seconds": (f"{FPS} frames per second, all tracks in one velocity roll",
                ["deepsym", "pretty_midi"]),
    "parse+steps": ("read the bytes, then the 'steps' roll", ["deepsym", "symusic", "pypianoroll"]),
    "parse+seconds": ("read the bytes, then the 'seconds' roll", ["deepsym", "pretty_midi"]),
}
#: The parsed object each library's roll starts from (pypianoroll reads via pretty_midi).
PARSED_BY = {"deepsym": "deepsym", "symusic": "symusic", "pretty_midi": "pretty_midi",
             "pypianoroll": "pretty_midi"}

RESULTS: dict[str, dict[str, dict[str, Any]]] = {task: {} for task in TASKS}
CORPUS: dict[str, Any] = {}  # files, MB, notes of the benchmark corpus


def roller(task: str, library: str) -> Callable[[Any], Any]:
    """The roll step of ``task`` for one parsed object of ``library``."""
    kind = task.removeprefix("parse+")
    if library == "deepsym":
        import deepsym

        if kind == "steps":
            return lambda s: deepsym.pianoroll(s, STEPS_PER_BEAT, mode="velocity", stack=True)
        if kind == "onset_frame":
            return lambda s: deepsym.pianoroll(s, STEPS_PER_BEAT, mode="onset_sustain",
                                               stack=True)
        return lambda s: deepsym.pianoroll(s, FPS, unit="second", mode="velocity")
    if library == "symusic":
        modes, velocity = (["frame"], True) if kind == "steps" else (["onset", "frame"], False)
        return lambda s: s.resample(STEPS_PER_BEAT, min_dur=0).pianoroll(
            modes=modes, pitch_range=(0, 128), encode_velocity=velocity)
    if library == "pypianoroll":
        import pypianoroll

        # mode="sum" is the one that keeps the largest velocity, like the others
        return lambda pm: pypianoroll.from_pretty_midi(pm, resolution=STEPS_PER_BEAT,
                                                       mode="sum")
    if library == "pretty_midi":
        return lambda pm: pm.get_piano_roll(fs=FPS)
    raise ValueError(f"unknown library {library!r}")


def reader(library: str) -> Callable[[bytes], Any]:
    """Bytes to the object ``library``'s roll starts from."""
    if PARSED_BY[library] == "pretty_midi":
        import pretty_midi

        return lambda b: pretty_midi.PrettyMIDI(io.BytesIO(b))
    return midibench.parser(library)


def task_run(task: str, library: str, inputs: list[Any]) -> Callable[[], list[int]]:
    """One round of ``task``: every input through the roll (after the reader for parse+).

    Each roll is made and let go (only its cell count is kept), as a pipeline that
    streams rolls would do; holding pretty_midi's float64 rolls would take gigabytes.
    """
    make = roller(task, library)
    read = reader(library) if task.startswith("parse+") else None

    def run() -> list[int]:
        with midibench.quiet():
            if read is None:
                return [cells(library, make(x)) for x in inputs]
            return [cells(library, make(read(x))) for x in inputs]
    return run


def cells(library: str, roll: Any) -> int:
    """Cells of one library's result (the report shows how much each one made)."""
    if library == "pypianoroll":
        return sum(t.pianoroll.size for t in roll.tracks)
    return int(roll.size)


# -- the report -------------------------------------------------------------------------

def summary() -> dict[str, Any] | None:
    """This run's results with ratios to deepsym, or None when nothing was timed."""
    if not any(RESULTS.values()):
        return None
    out: dict[str, Any] = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {lib: midibench.version(lib) for lib in PARSED_BY},
        "corpus": CORPUS,
        "ratio": "deepsym mean time / library mean time (>1: library faster), same run",
        "tasks": {},
    }
    for task, (what, libraries) in TASKS.items():
        rows = {lib: dict(RESULTS[task][lib]) for lib in libraries if lib in RESULTS[task]}
        ref = rows.get(REFERENCE, {}).get("mean_s")
        for lib, row in rows.items():
            row["ratio_vs_deepsym"], row["comparison"] = midibench.comparison(lib, ref,
                                                                             row["mean_s"])
        if rows:
            out["tasks"][task] = {"what": what, "results": rows}
    return out


def table(report: dict[str, Any]) -> list[str]:
    head = f"{'library':<12} {'files/s':>9} {'notes/s':>13} {'M cells':>9}  vs deepsym (same run)"
    lines = []
    for task, entry in report["tasks"].items():
        lines += ["", f"{task}: {entry['what']}", head, "-" * len(head)]
        for lib, row in entry["results"].items():
            lines.append(f"{lib:<12} {row['files_per_s']:>9,.0f} {row['notes_per_s']:>13,.0f} "
                         f"{row['roll_Mcells']:>9.1f}  {row['comparison']}")
    return lines


def report(terminalreporter: Any) -> None:
    """Print the table and write the JSON, when this run timed anything."""
    result = summary()
    if result is None:
        return
    terminalreporter.write_sep("=", "piano-roll benchmark: deepsym vs peers")
    for line in table(result):
        terminalreporter.write_line(line)
    midibench.write_json_atomic(result, RESULTS_PATH)
    terminalreporter.write_line(f"\nwritten to {RESULTS_PATH}")
