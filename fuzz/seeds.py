"""The fuzzer's seed corpus, made at run time: the edge-case suite and files deepsym writes.

The suite (jazz-soft/test-midi-files) is read from ``$DEEPSYM_TEST_MIDI_FILES`` or
``../shared/test-midi-files`` beside the repository; it is never copied into git.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

import deepsym
from deepsym import Score, Track

HERE = Path(__file__).resolve().parent
SUITE = Path(os.environ.get("DEEPSYM_TEST_MIDI_FILES")
             or HERE.parents[1] / "shared" / "test-midi-files")


def written_seeds() -> dict[str, bytes]:
    """A few files deepsym writes: formats 0 and 1, drums, controls, bends, texts,
    tempo changes, SMPTE timing, zero-length notes and a gap bridged by fillers."""
    rng = np.random.default_rng(0)
    notes = [(int(s), int(d), int(p), int(v)) for s, d, p, v in zip(
        rng.integers(0, 2000, 24), rng.integers(0, 300, 24), rng.integers(30, 90, 24),
        rng.integers(1, 128, 24), strict=True)]
    lead = Track(notes=notes, program=40, channel=3, name="lead",
                 controls=[(0, 7, 100), (480, 64, 127)], pitch_bends=[(10, -8192), (20, 8191)])
    drums = Track(notes=[(0, 0, 36, 90), (240, 0, 38, 90)], channel=9, is_drum=True)
    multi = Score(ticks_per_beat=480, tracks=[lead, drums], tempos=[(0, 120.0), (960, 75.5)],
                  time_signatures=[(0, 3, 4)], key_signatures=[(0, -3, 1)],
                  texts=[(0, "seed")], lyrics=[(480, "la")], markers=[(960, "B")])
    gap = Track(notes=[(0, 1, 60, 1), (2**29, 1, 60, 1)])
    return {
        "format-1": deepsym.write_midi(multi),
        "format-0": deepsym.write_midi(Score(ticks_per_beat=96, tracks=[lead])),
        "smpte": deepsym.write_midi(Score(tracks=[drums], smpte=(25, 40))),
        "long-gap": deepsym.write_midi(Score(tracks=[gap])),
    }


def suite_seeds() -> dict[str, bytes]:
    """The edge-case suite's files by name (none when it is absent)."""
    paths = sorted(SUITE.glob("*")) if SUITE.is_dir() else []
    return {path.name: path.read_bytes() for path in paths if path.is_file()}


def seed_folder(folder: Path = HERE / "seeds") -> Path:
    """``folder`` (not in git) filled afresh with every seed."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in suite_seeds().items():
        (folder / name).write_bytes(data)
    for name, data in written_seeds().items():
        (folder / f"deepsym-{name}.mid").write_bytes(data)
    return folder
