"""The compiled ``smf`` kernel against its plain-Python twin ``smf_py``, byte for byte.

Both get the same bytes (the shared suite, files cut short, the hand-made damage of
``test_malformed``, random and mutated input) in strict and lenient mode and must give
the same result: equal dicts, numpy arrays equal in dtype and values, or the same
exception. ``encode_chunk`` twins get random valid and invalid events. Last, the
``DEEPSYM_PUREPYTHON=1`` switch is checked end to end in subprocesses.
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

from deepsym._ext import smf, smf_py
from deepsym._ext.layout import Problem

MAX_DELTA = 0x0FFFFFFF
MAX_TICK = 2**31 - 1
FILLER = b"\xff\x7f\x01\x7d"  # what encode_chunk bridges long gaps with
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


# -- encode_chunk -----------------------------------------------------------------------

STATUSES = [0x80, 0x90, 0x90, 0x91, 0x9F, 0xA2, 0xB0, 0xC0, 0xC5, 0xD3, 0xE0, 0xEF]


@st.composite
def events(draw: st.DrawFn) -> bytes:
    """One event's bytes: a channel message (statuses repeat, for running status), a
    text meta event or a sysex."""
    kind = draw(st.sampled_from(["channel"] * 6 + ["meta", "sysex"]))
    data7 = st.integers(0, 127)
    if kind == "channel":
        status = draw(st.sampled_from(STATUSES))
        n = 1 if status >> 4 in (0xC, 0xD) else 2
        return bytes([status, *(draw(data7) for _ in range(n))])
    body = draw(st.binary(max_size=6))
    if kind == "meta":
        return bytes([0xFF, draw(st.sampled_from([0x01, 0x03, 0x05, 0x06, 0x7F])), len(body)]) \
            + body
    return bytes([0xF0, len(body) + 1]) + bytes(b & 0x7F for b in body) + b"\xf7"


@st.composite
def chunk_events(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ticks, payload, lengths) of valid events: non-decreasing ticks, some gaps longer
    than one delta time holds (2**28 - 1)."""
    deltas = draw(st.lists(st.one_of(st.integers(0, 200), st.integers(0, MAX_DELTA),
                                     st.sampled_from([0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF,
                                                      0x200000, MAX_DELTA, MAX_DELTA + 1,
                                                      2 * MAX_DELTA, 2 * MAX_DELTA + 1]),
                                     st.integers(0, 3 * MAX_DELTA)),
                           max_size=40))
    first = draw(st.integers(0, MAX_DELTA))
    ticks = np.cumsum([first, *deltas[1:]], dtype=np.int64)[:len(deltas)]
    payloads = [draw(events()) for _ in deltas]
    return (ticks, np.frombuffer(b"".join(payloads), np.uint8).copy(),
            np.array([len(p) for p in payloads], np.int32))


def assert_twins_encode(ticks: np.ndarray, payload: np.ndarray, lengths: np.ndarray) -> Any:
    compiled = outcome(smf.encode_chunk, ticks, payload, lengths)
    python = outcome(smf_py.encode_chunk, ticks, payload, lengths)
    assert compiled == python
    return compiled


@FUZZ
@given(chunk_events())
def test_encode_chunk(case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    ticks, payload, lengths = case
    body = assert_twins_encode(ticks, payload, lengths)
    assert isinstance(body, bytes)
    gaps = np.diff(ticks, prepend=0)
    fillers = int(np.sum(np.maximum(gaps - 1, 0) // MAX_DELTA))
    assert body.count(FILLER) >= fillers
    assert len(body) <= len(payload) + 4 * len(ticks) + (4 + len(FILLER)) * fillers
    if len(ticks) and ticks[-1] > MAX_TICK:
        return  # a valid chunk body, but beyond what the reader accepts
    # the body reads back without a problem (strict), its last event where the last tick is
    body += b"\x00\xff\x2f\x00"
    parsed = smf_py.parse_tracks(b"MTrk" + len(body).to_bytes(4, "big") + body, 0, 1, True)
    assert parsed["problems"] == []
    assert parsed["chunks"] == [(0, int(ticks[-1]) if len(ticks) else 0, 0)]


def test_encode_chunk_bridges_long_gaps_with_fillers() -> None:
    """A gap one delta time cannot hold: fillers MAX_DELTA apart, then running status
    starts again (the fillers are meta events, which cancel it)."""
    ticks = np.array([0, 2 * MAX_DELTA + 5], np.int64)
    payload = np.frombuffer(b"\x90\x3c\x40\x90\x3c\x00", np.uint8)
    lengths = np.array([3, 3], np.int32)
    filler = b"\xff\xff\xff\x7f" + FILLER
    expected = b"\x00\x90\x3c\x40" + filler * 2 + b"\x05\x90\x3c\x00"
    assert assert_twins_encode(ticks, payload, lengths) == expected


def test_encode_chunk_uses_running_status() -> None:
    ticks = np.array([0, 0, 10, 10], np.int64)
    payload = np.frombuffer(b"\x90\x3c\x40\x90\x3e\x40\xff\x01\x00\x90\x3c\x00", np.uint8)
    lengths = np.array([3, 3, 3, 3], np.int32)
    expected = b"\x00\x90\x3c\x40" + b"\x00\x3e\x40" + b"\x0a\xff\x01\x00" + b"\x00\x90\x3c\x00"
    assert assert_twins_encode(ticks, payload, lengths) == expected


def test_encode_nothing() -> None:
    empty = np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.int32)
    assert assert_twins_encode(*empty) == b""


@FUZZ
@given(case=chunk_events().filter(lambda c: len(c[0]) >= 2), data=st.data())
def test_encode_chunk_invalid(case: tuple[np.ndarray, np.ndarray, np.ndarray],
                              data: st.DataObject) -> None:
    ticks, payload, lengths = (a.copy() for a in case)
    i = data.draw(st.integers(0, len(ticks) - 1))
    how = data.draw(st.sampled_from(["decreasing", "zero-length", "short-payload",
                                     "mismatch", "negative"]))
    if how == "decreasing":
        ticks[i] = ticks[i - 1] - 1 if i else -1
    elif how == "zero-length":
        lengths[i] = 0
    elif how == "short-payload":
        payload = payload[:-1]
    elif how == "mismatch":
        lengths = lengths[:-1]
    else:
        lengths[i] = -data.draw(st.integers(1, 5))
    result = assert_twins_encode(ticks, payload, lengths)
    assert isinstance(result, tuple) and result[:2] == ("raised", "ValueError"), (how, result)


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
    results.append((result, [str(w.message) for w in caught]))
print(deepsym._kernels.smf.__name__)
print(pickle.dumps(results).hex())
"""


def read_in_subprocess(paths: list[str], pure: bool) -> tuple[str, list]:
    env = {k: v for k, v in os.environ.items() if k != "DEEPSYM_PUREPYTHON"}
    if pure:
        env["DEEPSYM_PUREPYTHON"] = "1"
    run = subprocess.run([sys.executable, "-c", READ_SCRIPT, *paths], capture_output=True,
                         text=True, env=env, timeout=120, check=True)
    module, hexed = run.stdout.split()
    return module, pickle.loads(bytes.fromhex(hexed))


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
    compiled_module, compiled = read_in_subprocess(paths, pure=False)
    pure_module, pure = read_in_subprocess(paths, pure=True)
    assert compiled_module == "deepsym._ext.smf"
    assert pure_module.endswith("smf_py")
    assert len(compiled) == len(pure) == len(paths)
    for path, (c_result, c_warned), (p_result, p_warned) in zip(paths, compiled, pure,
                                                                strict=True):
        assert type(c_result) is type(p_result), path
        assert c_result == p_result, path  # Score.__eq__ compares every array
        assert c_warned == p_warned, path
    assert any(not isinstance(r, str) and r.n_notes for r, _ in compiled)
    assert any(warned for _, warned in compiled) and any(isinstance(r, str) for r, _ in compiled)
