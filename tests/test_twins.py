"""The compiled ``smf`` kernel against its plain-Python twin ``smf_py``, byte for byte.

Both get the same bytes (the shared suite, files cut short, the hand-made damage of
``test_malformed``, random and mutated input) in strict and lenient mode and must give
the same result: equal dicts, numpy arrays equal in dtype and values, or the same
exception. The ``smfwrite`` twins get random scores, valid and not, and must write the
same bytes or refuse alike. Last, the ``DEEPSYM_PUREPYTHON=1`` switch is checked end to
end in subprocesses.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edge_suite_files import ABSENT, SUITE, cases, suite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_malformed import HOSTILE, INPUTS, MALFORMED, NOT_MIDI, VALID, mutated

from deepsym import read_midi
from deepsym._ext import smf, smf_py, smfwrite, smfwrite_py
from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Problem,
)

MAX_DELTA = 0x0FFFFFFF
MAX_TICK = 2**31 - 1
FILLER = b"\xff\x7f\x01\x7d"  # what encode_file bridges long gaps with
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- comparing --------------------------------------------------------------------------

def differences(a: Any, b: Any, where: str = "") -> Iterator[str]:
    """Where ``a`` and ``b`` differ: dict keys, list items, array dtype or values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            yield f"{where}: {type(a).__name__} vs {type(b).__name__}"
        elif a.dtype != b.dtype or not np.array_equal(a, b):
            yield f"{where}: {a.dtype} {a[:8]} vs {b.dtype} {b[:8]}"
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            yield f"{where}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        for key in a.keys() & b.keys():
            yield from differences(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            yield f"{where}: {type(a).__name__}[{len(a)}] vs {type(b).__name__}[{len(b)}]"
        else:
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                yield from differences(x, y, f"{where}[{i}]")
    elif type(a) is not type(b) or a != b:
        yield f"{where}: {a!r} vs {b!r}"


def outcome(function: Any, *args: Any) -> Any:
    """What ``function(*args)`` returns, or the type and text of what it raises."""
    try:
        return function(*args)
    except Exception as exc:  # the twins must fail alike, whatever the failure
        return ("raised", type(exc).__name__, str(exc))


def assert_twins_parse(data: bytes, pos: int, fmt: int, strict: bool) -> dict:
    compiled = outcome(smf.parse_tracks, data, pos, fmt, strict)
    python = outcome(smf_py.parse_tracks, data, pos, fmt, strict)
    diff = list(differences(compiled, python))
    assert not diff, f"parse_tracks({len(data)} bytes, {pos}, {fmt}, {strict}): {diff[:5]}"
    return compiled


def header_of(data: bytes) -> tuple[int, int]:
    """(first chunk offset, format) as the reader takes them from an SMF header."""
    fmt = int.from_bytes(data[8:10], "big")
    return 8 + int.from_bytes(data[4:8], "big"), fmt if fmt <= 2 else 1


# -- parse_tracks -----------------------------------------------------------------------

SUITE_SMF = sorted(p.name for p in SUITE.glob("*") if p.read_bytes()[:4] == b"MThd"
                   and p.stat().st_size >= 14)


@pytest.mark.parametrize("name", cases(SUITE_SMF))
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_suite_files(name: str, strict: bool) -> None:
    data = (suite() / name).read_bytes()
    result = assert_twins_parse(data, *header_of(data), strict)
    assert isinstance(result, dict) and (result["chunks"] or result["problems"])  # not both failing


def test_suite_covers_damaged_files() -> None:
    """The suite's damaged files reach the problem paths of both twins."""
    folder = suite()
    codes = set()
    for name in SUITE_SMF:
        data = (folder / name).read_bytes()
        codes |= {code for code, _ in smf_py.parse_tracks(data, *header_of(data), False)
                  ["problems"]}
    assert {Problem.TRUNCATED_CHUNK, Problem.SYSTEM_MESSAGE, Problem.TRAILING_BYTES} <= codes


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_malformed_files(name: str, strict: bool) -> None:
    data, problem = MALFORMED[name]
    result = assert_twins_parse(data, 14, 1, strict)
    assert result["problems"][0][0] == problem


ODD = {**{name: data for name, (data, _) in NOT_MIDI.items()}, **HOSTILE}


@pytest.mark.parametrize("name", sorted(ODD))
@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_hostile_and_non_midi_bytes(name: str, strict: bool) -> None:
    data = ODD[name]
    for pos in (14, 0, 8, len(data), len(data) + 3):
        for fmt in (0, 1, 2):
            assert_twins_parse(data, pos, fmt, strict)


SHORT_VALID = sorted(name for name, data in VALID.items() if len(data) <= 700)


@pytest.mark.parametrize("name", cases(SHORT_VALID))
def test_files_cut_short(name: str) -> None:
    if name == ABSENT:
        suite()
    data = VALID[name]
    pos, fmt = header_of(data)
    for cut in range(len(data) + 1):
        for strict in (False, True):
            assert_twins_parse(data[:cut], pos, fmt, strict)


@FUZZ
@given(data=INPUTS, strict=st.booleans(), fmt=st.integers(0, 2),
       shift=st.sampled_from([None, 0, 1, 8, 13, 22, 1000]))
def test_random_input(data: bytes, strict: bool, fmt: int, shift: int | None) -> None:
    pos = 14 if shift is None else min(shift, len(data) + 1)
    assert_twins_parse(data, pos, fmt, strict)


@FUZZ
@given(data=mutated(), strict=st.booleans())
def test_mutated_files(data: bytes, strict: bool) -> None:
    pos, fmt = header_of(data)
    assert_twins_parse(data, min(pos, len(data) + 1), fmt, strict)


# -- encode_file ------------------------------------------------------------------------

FAR = [0, 1, 0x7F, 0x80, MAX_DELTA, MAX_DELTA + 1, 2 * MAX_DELTA + 1, MAX_TICK - 500]
#: One value a Standard MIDI File cannot hold: (argument, field, value).
DAMAGE = [("tempos", "qpm", v) for v in (3.57, 60e6 + 50, 0.0, -5.0, np.nan, np.inf)] + [
    ("signatures", "denominator", 0), ("signatures", "denominator", 12),
    ("signatures", "numerator", 0), ("keys", "key", 8), ("keys", "key", -8),
    ("keys", "mode", 2), ("tempos", "tick", -1), ("keys", "tick", -3),
    ("notes", "pitch", 128), ("notes", "velocity", 0), ("notes", "velocity", 200),
    ("notes", "start", -1), ("notes", "duration", -2), ("notes", "start", MAX_TICK),
    ("controls", "number", 128), ("controls", "value", 255), ("controls", "tick", -1),
    ("bends", "value", 8192), ("bends", "value", -8193), ("bends", "tick", -2),
    ("track", "channel", 16), ("track", "channel", -1), ("track", "program", 128),
]


def ticks() -> st.SearchStrategy:
    return st.one_of(*[st.integers(0, 3000)] * 20, st.sampled_from(FAR))


def records(draw: st.DrawFn, dtype: np.dtype, fields: list[st.SearchStrategy],
            most: int) -> np.ndarray:
    rows = draw(st.lists(st.tuples(*fields), max_size=most))
    return np.array(rows, dtype) if rows else np.empty(0, dtype)


@st.composite
def notes(draw: st.DrawFn) -> np.ndarray:
    """Notes sorted by start as the reader gives them, or in any order (many runs)."""
    out = records(draw, NOTE_DTYPE, [ticks(), st.one_of(st.integers(0, 500), st.just(0)),
                                     st.integers(0, 127), st.integers(1, 127)],
                  draw(st.sampled_from([5, 40, 150])))
    if draw(st.booleans()):
        out = out[np.lexsort((out["pitch"], out["start"]))]
    return out


@st.composite
def file_arguments(draw: st.DrawFn) -> tuple:
    """Arguments of ``encode_file``: tracks (notes, controls, bends, channel, program,
    name, instrument), the tempo map, signatures, texts as raw bytes (valid UTF-8 or
    not) and the end of track; one time in four with one value a file cannot hold."""
    data7 = st.integers(0, 127)
    tracks = [[draw(notes()), records(draw, CONTROL_DTYPE, [ticks(), data7, data7], 6),
               records(draw, BEND_DTYPE, [ticks(), st.integers(-8192, 8191)], 4),
               draw(st.integers(0, 15)), draw(st.integers(0, 127)),
               draw(st.binary(max_size=4)), draw(st.binary(max_size=4))]
              for _ in range(draw(st.integers(0, 3)))]
    arrays = {
        "tempos": records(draw, TEMPO_DTYPE, [ticks(), st.sampled_from([120.0, 3.58, 60e6,
                                                                        97.3])], 3),
        "signatures": records(draw, TIME_SIGNATURE_DTYPE, [ticks(), st.integers(1, 12),
                                                           st.sampled_from([1, 2, 4, 8, 32768])],
                              2),
        "keys": records(draw, KEY_SIGNATURE_DTYPE, [ticks(), st.integers(-7, 7),
                                                    st.integers(0, 1)], 2),
    }
    where, field, value = draw(st.sampled_from([(None, None, None)] * 3 * len(DAMAGE) + DAMAGE))
    if where in arrays and len(arrays[where]):
        arrays[where][field][draw(st.integers(0, len(arrays[where]) - 1))] = value
    elif where not in (*arrays, None) and tracks:
        track = tracks[draw(st.integers(0, len(tracks) - 1))]
        if where == "track":
            track[3 if field == "channel" else 4] = value
        elif len(array := track[["notes", "controls", "bends"].index(where)]):
            array[field][draw(st.integers(0, len(array) - 1))] = value
    texts = draw(st.lists(st.tuples(st.sampled_from([0x01, 0x05, 0x06]), ticks(),
                                    st.one_of(st.binary(max_size=6),
                                              st.text(max_size=4).map(str.encode))),
                          max_size=5))
    rows = np.array([(t, tick, len(b)) for t, tick, b in texts], np.int64).reshape(-1, 3)
    return (draw(st.integers(1, 0xFFFF)), [tuple(t) for t in tracks], *arrays.values(), rows,
            b"".join(b for *_, b in texts), draw(ticks()))


def assert_twins_encode(*args: Any) -> Any:
    compiled = outcome(smfwrite.encode_file, *args)
    python = outcome(smfwrite_py.encode_file, *args)
    assert compiled == python
    return compiled


@FUZZ
@given(file_arguments())
def test_encode_file(args: tuple) -> None:
    """Both write the same bytes or refuse alike; what they write reads back strictly,
    with every note (sorted as the reader sorts them) and every text."""
    data = assert_twins_encode(*args)
    if not isinstance(data, bytes):
        assert data[:2] == ("raised", "ValueError"), data
        return
    division, tracks, *_, rows, _, end = args
    if division & 0x8000:
        return  # an SMPTE division the reader may refuse: the bytes were compared above
    back = read_midi(data, strict=True)
    written = np.sort(np.concatenate([t[0] for t in tracks] or [np.empty(0, NOTE_DTYPE)]),
                      order=["start", "pitch", "duration", "velocity"])
    read = np.sort(np.concatenate([t.notes for t in back.tracks] or
                                  [np.empty(0, NOTE_DTYPE)]),
                   order=["start", "pitch", "duration", "velocity"])
    assert len(written) == len(read)
    if all(len(np.unique(t[0]["pitch"])) == len(t[0]) for t in tracks):
        assert np.array_equal(written, read)  # notes of one pitch that overlap may pair otherwise
    assert len(back.texts) + len(back.lyrics) + len(back.markers) == len(rows)
    assert back.end_tick >= end


@pytest.mark.parametrize("n", [10, 200, 3000])
@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_encode_file_orders_every_chunk_size_alike(n: int, order: str) -> None:
    """Short chunks (sorted by insertion), tracks of a few ascending runs (merged) and
    tracks in any order (radix-sorted): chords, repeated pitches, zero-length notes."""
    rng = np.random.default_rng(n)
    notes = np.zeros(n, NOTE_DTYPE)
    notes["start"] = rng.integers(0, n * 10, n) // 7 * 7
    notes["duration"] = rng.choice([0, 1, 7, 100, 2000], n)
    notes["pitch"] = rng.integers(50, 60, n)
    notes["velocity"] = rng.integers(1, 128, n)
    if order == "sorted":
        notes = notes[np.lexsort((notes["pitch"], notes["start"]))]
    controls = np.array([(t, 64, v) for t, v in zip(rng.integers(0, n * 10, n // 5),
                                                    rng.integers(0, 128, n // 5),
                                                    strict=True)], CONTROL_DTYPE)
    track = (notes, np.sort(controls, order="tick"), np.empty(0, BEND_DTYPE), 3, 5, b"", b"x")
    tempos = np.array([(0, 100.0), (n, 90.0)], TEMPO_DTYPE)
    data = assert_twins_encode(480, [track, track], tempos, np.empty(0, TIME_SIGNATURE_DTYPE),
                               np.empty(0, KEY_SIGNATURE_DTYPE), np.empty((0, 3), np.int64),
                               b"", 0)
    assert isinstance(data, bytes) and read_midi(data, strict=True).n_notes == 2 * n


def test_encode_file_bridges_long_gaps_and_uses_running_status() -> None:
    """Running status for channel messages; meta events and fillers (a gap one delta
    time cannot hold, bridged every 2**28 - 1 ticks) cancel it."""
    notes = np.array([(0, 10, 60, 64), (0, 10, 62, 64), (2 * MAX_DELTA + 20, 0, 64, 1)],
                     NOTE_DTYPE)
    track = (notes, np.empty(0, CONTROL_DTYPE), np.empty(0, BEND_DTYPE), 0, 0, b"", b"")
    rows = np.array([(0x01, 10, 2)], np.int64)
    data = assert_twins_encode(96, [track], np.empty(0, TEMPO_DTYPE),
                               np.empty(0, TIME_SIGNATURE_DTYPE),
                               np.empty(0, KEY_SIGNATURE_DTYPE), rows, b"hi", 0)
    filler = b"\xff\xff\xff\x7f" + FILLER
    body = (b"\x00\xc0\x00" + b"\x00\x90\x3c\x40" + b"\x00\x3e\x40"  # program, note-ons
            + b"\x0a\xff\x01\x02hi"  # the text at tick 10 comes before the note-offs
            + b"\x00\x90\x3c\x00" + b"\x00\x3e\x00"
            + filler * 2 + b"\x0a\x90\x40\x01" + b"\x00\x40\x00"  # zero-length note
            + b"\x00\xff\x2f\x00")
    assert data == b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60" + b"MTrk" \
        + len(body).to_bytes(4, "big") + body


def test_encode_file_writes_latin1_texts_as_utf8() -> None:
    """Bytes that are not UTF-8 are read as Latin-1, as the reader decodes them; UTF-8
    stays as it is (an overlong form or a lone surrogate is not UTF-8)."""
    texts = [b"caf\xe9", "café".encode(), b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]
    rows = np.array([(0x05, i, len(t)) for i, t in enumerate(texts)], np.int64)
    empty = (np.empty(0, TEMPO_DTYPE), np.empty(0, TIME_SIGNATURE_DTYPE),
             np.empty(0, KEY_SIGNATURE_DTYPE))
    data = assert_twins_encode(96, [], *empty, rows, b"".join(texts), 0)
    lyrics = read_midi(data, strict=True).lyrics
    assert [text for _, text in lyrics] == [t.decode("latin-1") if i != 1 else "café"
                                            for i, t in enumerate(texts)]
    assert data.count("café".encode()) == 2


def test_encode_file_refuses_inconsistent_text_rows() -> None:
    empty = (np.empty(0, TEMPO_DTYPE), np.empty(0, TIME_SIGNATURE_DTYPE),
             np.empty(0, KEY_SIGNATURE_DTYPE))
    for rows, data in [([(1, 0, 3)], b"ab"), ([(1, 0, -1)], b"")]:
        result = assert_twins_encode(96, [], *empty, np.array(rows, np.int64), data, 0)
        assert result[:2] == ("raised", "ValueError")


# -- DEEPSYM_PUREPYTHON -----------------------------------------------------------------

READ_SCRIPT = """
import pickle, sys, warnings
import deepsym, deepsym._kernels
results = []
for path in sys.argv[1:]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = deepsym.read_midi(path)
        except deepsym.MidiError as exc:
            result = str(exc)
    written = None if isinstance(result, str) else deepsym.write_midi(result)
    results.append((result, [str(w.message) for w in caught], written))
print(deepsym._kernels.smf.__name__, deepsym._kernels.smfwrite.__name__)
print(pickle.dumps(results).hex())
"""


def read_in_subprocess(paths: list[str], pure: bool) -> tuple[list[str], list]:
    env = {k: v for k, v in os.environ.items() if k != "DEEPSYM_PUREPYTHON"}
    if pure:
        env["DEEPSYM_PUREPYTHON"] = "1"
    run = subprocess.run([sys.executable, "-c", READ_SCRIPT, *paths], capture_output=True,
                         text=True, env=env, timeout=120, check=True)
    *modules, hexed = run.stdout.split()
    return modules, pickle.loads(bytes.fromhex(hexed))


def test_pure_python_switch(tmp_path: Path) -> None:
    paths = []
    files = [*((n, d) for n, (d, _) in MALFORMED.items()), *VALID.items()][::3]
    for name, data in [*files, ("not-midi", NOT_MIDI["text"][0])]:
        path = tmp_path / f"{name}.mid"
        path.write_bytes(data)
        paths.append(str(path))
    for name in ("test-karaoke-kar.mid", "test-illegal-message-all.mid",
                 "test-not-a-midi-file.mid", "test-all-gs-sounds.mid"):
        if (SUITE / name).exists():
            paths.append(str(SUITE / name))
    compiled_modules, compiled = read_in_subprocess(paths, pure=False)
    pure_modules, pure = read_in_subprocess(paths, pure=True)
    assert compiled_modules == ["deepsym._ext.smf", "deepsym._ext.smfwrite"]
    assert pure_modules == ["deepsym._ext.smf_py", "deepsym._ext.smfwrite_py"]
    assert len(compiled) == len(pure) == len(paths)
    for path, (c_result, c_warned, c_written), (p_result, p_warned, p_written) in zip(
            paths, compiled, pure, strict=True):
        assert type(c_result) is type(p_result), path
        assert c_result == p_result, path  # Score.__eq__ compares every array
        assert c_warned == p_warned, path
        assert c_written == p_written, path  # what each writes back, byte for byte
    assert any(not isinstance(r, str) and r.n_notes for r, *_ in compiled)
    assert any(warned for _, warned, _ in compiled)
    assert any(isinstance(r, str) for r, *_ in compiled)
