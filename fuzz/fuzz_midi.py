#!/usr/bin/env python3
"""Coverage-guided fuzzing of deepsym's MIDI reader and writer with atheris (libFuzzer).

    python fuzz/fuzz_midi.py [libFuzzer options] [CORPUS_DIR ...]

Every input goes through ``properties.check``: read never raises anything but
MidiError, the compiled kernel and its Python twin agree, and every Score read is
written and read back unchanged. Coverage comes from deepsym's Python code, the twin
``smf_py`` included (it mirrors the compiled kernel branch for branch).

The corpus starts from seeds made at run time: the edge-case suite
(``$DEEPSYM_TEST_MIDI_FILES`` or ``../shared/test-midi-files``) and files written by
deepsym itself, put in ``fuzz/seeds/``. Without a CORPUS_DIR, new inputs go to
``fuzz/corpus/``; crashing inputs go to ``fuzz/crashes/``. See fuzz/README.md.
"""
from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import atheris
from properties import check
from seeds import seed_folder

import deepsym.midi
from deepsym._ext import smf_py

HERE = Path(__file__).resolve().parent
DEFAULTS = {  # libFuzzer options, unless given on the command line
    "-max_len": "8192",  # the Python twin reads every input too: keep inputs small
    "-timeout": "30",  # seconds for one input: a slower one is a bug as well
    "-artifact_prefix": f"{HERE / 'crashes'}{os.sep}",
}

# Coverage comes from the twin smf_py, which follows the compiled kernel branch for
# branch, and from the reader's header functions in midi.py. Code comparing numpy arrays
# (the writer, score.py) stays uninstrumented: atheris 3.0 leaks the result of every
# instrumented comparison that is not a bool (about 300 bytes), gigabytes in an hour.
READER = ("read_midi", "_load", "_unwrap", "_riff_data", "_check_division",
          "_chunk_problems", "_report", "_score")


def instrument(module: ModuleType, names: Iterable[str] | None = None) -> None:
    """Instrument the functions (all, or ``names``) and class methods ``module`` defines."""
    chosen = vars(module) if names is None else {name: vars(module)[name] for name in names}
    for value in chosen.values():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        members = vars(value).values() if inspect.isclass(value) else [value]
        for function in filter(inspect.isfunction, members):
            atheris.instrument_func(function)


instrument(smf_py)
instrument(deepsym.midi, READER)


def fuzzer_arguments(argv: list[str]) -> list[str]:
    """``argv`` with the default options and folders added where it gives none."""
    options = [a for a in argv[1:] if a.startswith("-")]
    given = [a for a in argv[1:] if not a.startswith("-")]
    if len(given) == 1 and Path(given[0]).is_file():  # reproduce one input
        return argv
    defaults = [f"{k}={v}" for k, v in DEFAULTS.items()
                if not any(a.startswith(f"{k}=") for a in options)]
    folders = given or [str(HERE / "corpus")]
    for folder in (*folders, HERE / "crashes"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    return [argv[0], *options, *defaults, *folders, str(seed_folder())]


def test_one_input(data: bytes) -> None:
    """The fuzz target: every property of ``properties.check``."""
    check(data)


def main() -> None:
    atheris.Setup(fuzzer_arguments(sys.argv), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
