"""Inputs the fuzzer found, and its seeds, through the fuzz target's own checks.

``fuzz/properties.py`` holds every property the fuzz target (``fuzz/fuzz_midi.py``,
atheris) asserts; it needs no atheris, so the tests run it too: on each minimized input
a fuzzing run found (bytes inline, with what broke), and on the seed corpus the target
starts from (the edge-case suite and files deepsym writes, ``fuzz/seeds.py``).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from edge_suite_files import ABSENT, cases, suite

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"


def load(name: str) -> ModuleType:
    """``fuzz/<name>.py`` as a module (fuzz/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"deepsym_fuzz_{name}", FUZZ / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


properties = load("properties")
seeds = load("seeds")

#: Minimized inputs that broke a property, found by fuzz/fuzz_midi.py.
REGRESSIONS = {
    # Format 0 declaring 255 tracks, SMPTE division of 1 fps (0xFF60), one empty MTrk:
    # read with a warning, then write_midi refused the 1 fps timing. Now refused on reading.
    "smpte-1-fps": bytes.fromhex("4d546864000000060000" "00ffff60" "4d54726b00000000"),
    # A control change (not kept: its channel holds no note) at tick 2**28 - 128 and the
    # last event at 268451617: write_midi could not reach End of Track from tick 0 in one
    # delta time. Now the gap is bridged by filler events.
    "end-of-track-past-2**28": bytes.fromhex(
        "4d546864000000060000000100604d54726b0000015a" "ffffff00b0434d" "ff210000"),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_found_by_fuzzing(name: str) -> None:
    properties.check(REGRESSIONS[name])


@pytest.mark.parametrize("name", sorted(seeds.written_seeds()))
def test_properties_hold_on_the_written_seeds(name: str) -> None:
    properties.check(seeds.written_seeds()[name])


@pytest.mark.parametrize("name", cases(sorted(seeds.suite_seeds())))
def test_properties_hold_on_the_suite_seeds(name: str) -> None:
    if name == ABSENT:
        suite()
    properties.check(seeds.suite_seeds()[name])
