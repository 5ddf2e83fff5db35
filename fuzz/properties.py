"""What must hold for any bytes given to the MIDI reader; ``check`` asserts all of it.

1. Reading (lenient and strict) returns a Score or raises ``deepsym.MidiError`` naming a
   byte of the input, and warns only with ``deepsym.MidiWarning``; nothing else escapes.
2. Strict reading fails exactly when lenient reading warns, and when it succeeds it
   gives the lenient Score.
3. The compiled kernels (``smf`` reads, ``smfwrite`` writes) and their twins agree: the
   same Score, warnings and error text, and byte-identical files when the Score is written.
4. Write what we read: every Score the reader returns is written by ``write_midi``, and
   the file reads back strictly, without a warning, as the same Score (notes first).

Used by ``fuzz_midi.py`` (atheris) and by the regression tests, which need no atheris.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import NamedTuple

import deepsym
import deepsym.midi
from deepsym import MidiError, MidiWarning, Score
from deepsym._ext import smf, smf_py, smfwrite, smfwrite_py

KERNELS = {"compiled": (smf, smfwrite), "twin": (smf_py, smfwrite_py)}


class Outcome(NamedTuple):
    """One read: the Score or the MidiError's text, and the warnings' texts."""

    result: Score | str
    warned: list[str]


@contextmanager
def kernel(modules: tuple[ModuleType, ModuleType]) -> Iterator[None]:
    """Let ``read_midi`` and ``write_midi`` use ``modules`` (reading, writing) as kernels."""
    kept = deepsym.midi.smf, deepsym.midi.smfwrite
    deepsym.midi.smf, deepsym.midi.smfwrite = modules
    try:
        yield
    finally:
        deepsym.midi.smf, deepsym.midi.smfwrite = kept


def read(data: bytes, strict: bool) -> Outcome:
    """Read ``data``; only MidiError may be raised and only MidiWarning warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Score | str = deepsym.read_midi(data, strict=strict)
        except MidiError as exc:
            assert exc.offset is not None and 0 <= exc.offset <= len(data), str(exc)
            result = str(exc)
    others = [w for w in caught if not issubclass(w.category, MidiWarning)]
    assert not others, [str(w.message) for w in others]
    return Outcome(result, [str(w.message) for w in caught])


def same(a: Outcome, b: Outcome) -> bool:
    """Equal outcomes: Scores equal field by field, or the same error text."""
    if type(a.result) is not type(b.result) or a.warned != b.warned:
        return False
    return a.result == b.result


def notes(score: Score) -> list[tuple]:
    """Every track's channel, program and notes, in track order."""
    return [(t.channel, t.program, t.notes.tolist()) for t in score.tracks]


def check_modes(lenient: Outcome, strict: Outcome) -> None:
    """Strict fails exactly when lenient warns; when it succeeds, the Scores agree."""
    assert not strict.warned, strict.warned
    if isinstance(strict.result, Score):
        assert not lenient.warned and same(lenient, strict)
    elif isinstance(lenient.result, Score):
        assert lenient.warned, f"strict refuses ({strict.result}), lenient reads silently"


def check_round_trip(score: Score) -> None:
    """The Score is written alike by both kernels and reads back strictly as itself."""
    written = {}
    for name, modules in KERNELS.items():
        with kernel(modules):
            written[name] = deepsym.write_midi(score)
    assert written["compiled"] == written["twin"], "the kernels write different bytes"
    back = read(written["compiled"], strict=True)
    assert isinstance(back.result, Score), f"our own file is refused: {back.result}"
    assert not back.warned, back.warned
    assert notes(back.result) == notes(score), "write then read changes the notes"
    assert back.result == score, "write then read changes the score"


def check(data: bytes) -> None:
    """Assert every property above for one input."""
    outcomes = {}
    for name, modules in KERNELS.items():
        with kernel(modules):
            outcomes[name] = (read(data, strict=False), read(data, strict=True))
    for mode, compiled, twin in zip(("lenient", "strict"), outcomes["compiled"],
                                    outcomes["twin"], strict=True):
        assert same(compiled, twin), f"{mode}: compiled {compiled} but twin {twin}"
    lenient, strict = outcomes["compiled"]
    check_modes(lenient, strict)
    if isinstance(lenient.result, Score):
        check_round_trip(lenient.result)
