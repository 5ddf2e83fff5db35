"""The shared edge-case suite: every file read the way its own text events say a player must.

Each file of ``../shared/test-midi-files`` (jazz-soft/test-midi-files) states in text
meta events what a correct player does with it ("You must hear a C-Major scale", "Two
scales in two tracks must play sequentially", "Some players may refuse to open it").
``EXPECTATIONS`` turns each statement into assertions on the Score, deriving the
expected values from the texts wherever they name them (note names, velocities, bank
numbers, channels). A file added to the suite without an expectation fails the tests.

What a Score cannot show is said where it matters: program changes after a channel's
first, sysex messages, and the controls of channels that hold no note are not kept, so
files about those are checked for what they do keep.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from edge_suite_files import SUITE, cases, suite

import deepsym
from deepsym import MidiError, MidiWarning, Score, Track

NOT_MIDI_DATA = {"README.md", "LICENSE.md"}
FILES = sorted(p.name for p in SUITE.glob("*") if p.name not in NOT_MIDI_DATA)


C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]
MAJOR_STEPS = [2, 2, 1, 2, 2, 2, 1]
ARPEGGIO = [60, 64, 67, 72]  # what the "all sounds" files play for each sound
STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
BANK_MSB, BANK_LSB, DATA_MSB, DATA_LSB, RPN_LSB, RPN_MSB = 0, 32, 6, 38, 100, 101
GM2_RHYTHM_BANK, GM2_MELODY_BANK = 120, 121


# -- reading ----------------------------------------------------------------------------

def clean(path: Path) -> Score:
    """Read ``path`` with no MidiWarning; strict reading must give the same Score."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MidiWarning)
        score = deepsym.read_midi(path)
        assert deepsym.read_midi(path, strict=True) == score
    return score


def at_byte(offset: int) -> str:
    return rf"at byte {offset}\b"


def damaged(path: Path, offset: int) -> Score:
    """Read a damaged file: one MidiWarning naming the file and ``offset``; strict raises."""
    with pytest.warns(MidiWarning) as record:
        score = deepsym.read_midi(path)
    messages = [str(w.message) for w in record if issubclass(w.category, MidiWarning)]
    assert len(messages) == 1, messages
    assert path.name in messages[0] and re.search(at_byte(offset), messages[0]), messages[0]
    with pytest.raises(MidiError) as info:
        deepsym.read_midi(path, strict=True)
    assert path.name in str(info.value) and re.search(at_byte(offset), str(info.value))
    assert info.value.offset == offset
    return score


def not_midi(path: Path, offset: int = 0) -> None:
    """Input that is not MIDI at all: MidiError naming the file and the byte, in both modes."""
    for strict in (False, True):
        with pytest.raises(MidiError) as info:
            deepsym.read_midi(path, strict=strict)
        message = str(info.value)
        assert path.name in message and re.search(at_byte(offset), message), message


# -- looking at a score -----------------------------------------------------------------

def said(score: Score, pattern: str) -> list[tuple[int, re.Match[str]]]:
    """(tick, match) of every text event matching ``pattern``, in time order."""
    found = [(tick, re.search(pattern, text)) for tick, text in score.texts]
    return [(tick, m) for tick, m in found if m]


def says(score: Score, sentence: str) -> None:
    assert any(sentence in text for _, text in score.texts), (sentence, score.texts)


def pitch_of(name: str) -> int:
    """The pitch of a note name as the suite writes them: C5 is middle C, 60."""
    return 12 * int(name[1:]) + STEP[name[0]]


def starting(score: Score, lo: int, hi: int) -> list[tuple[int, np.void]]:
    """(track index, note) of the notes starting in [lo, hi), by track then time."""
    found = []
    for i, track in enumerate(score.tracks):
        starts = track.notes["start"]
        found += [(i, note) for note in track.notes[(starts >= lo) & (starts < hi)]]
    return found


def windows(ticks: list[int], end: int) -> list[tuple[int, int]]:
    """Consecutive [tick, next tick) spans, the last one up to ``end``."""
    return list(zip(ticks, [*ticks[1:], end], strict=True))


def control_at(track: Track, number: int, tick: int, default: int = 0) -> int:
    """The value of controller ``number`` in force at ``tick`` (changes at ``tick`` count)."""
    c = track.controls
    values = c["value"][(c["number"] == number) & (c["tick"] <= tick)]
    return int(values[-1]) if len(values) else default


def rpn_at(track: Track, rpn: tuple[int, int], tick: int) -> tuple[int, int] | None:
    """(data entry MSB, LSB) last set for registered parameter ``rpn`` at or before ``tick``."""
    selected, value = None, None
    entry = [0, 0]
    for when, number, v in track.controls.tolist():
        if when > tick:
            break
        if number == RPN_MSB:
            selected = (v, selected[1] if selected else 127)
        elif number == RPN_LSB:
            selected = (selected[0] if selected else 127, v)
        elif number in (DATA_MSB, DATA_LSB) and selected == rpn:
            entry[number == DATA_LSB] = v
            if number == DATA_MSB:
                entry[1] = 0  # a new MSB starts a new value; an LSB may follow
            value = (entry[0], entry[1])
    return value


def assert_scale(score: Score) -> None:
    """A C-major scale: one track, eight notes one after another, pitches in order."""
    assert len(score.tracks) == 1, score.tracks
    notes = score.tracks[0].notes
    assert notes["pitch"].tolist() == C_MAJOR
    ends = notes["start"] + notes["duration"]
    assert np.all(notes["duration"] > 0)
    assert np.all(ends[:-1] <= notes["start"][1:]), "notes overlap: not a scale played in turn"


def assert_named_notes(score: Score) -> None:
    """Each " Now you must hear C5!" text falls on the onset of that very note."""
    heard = said(score, r"Now you must hear ([A-G]\d)!")
    assert heard
    notes = np.concatenate([t.notes for t in score.tracks])
    assert [(int(n["start"]), int(n["pitch"])) for n in notes] \
        == [(tick, pitch_of(m[1])) for tick, m in heard]


def silent(score: Score) -> None:
    assert score.n_notes == 0 and score.tracks == []


# -- expectations -----------------------------------------------------------------------

def c_major_scale(path: Path) -> None:
    c_major_scale_of(clean(path))


def c_major_scale_of(score: Score) -> None:
    says(score, "You must hear a C-Major scale.")
    assert_scale(score)


def c_major_scale_named(path: Path) -> None:
    c_major_scale(path)
    assert_named_notes(clean(path))


def non_midi_track(path: Path) -> None:
    # "This test contains a non-MIDI track. Players should ignore it.": skipped silently.
    assert path.read_bytes()[14:18] != b"MTrk"
    c_major_scale_named(path)


def vlq(path: Path) -> None:
    # "This file has N-byte VLQ delta times. Technically, it's a valid MIDI file."
    n = int(re.search(r"vlq-(\d)-byte", path.name)[1])
    assert b"\x80" * (n - 1) + b"\x60\x80" in path.read_bytes()  # 96 ticks in n bytes
    c_major_scale(path)


def running_status_interrupted(path: Path) -> None:
    # "Running status is interrupted by <a meta event | a sysex> in the middle of the
    # scale." SMF 1.0: meta events and sysex cancel running status, so the data byte
    # after one is an error (strict); lenient reads it with the status before, as real
    # players do, and "You must hear a C-Major scale."
    data = path.read_bytes()
    event = INTERRUPTIONS[re.search(r"running-status-(\w+)\.mid", path.name)[1]]
    after = data.index(event) + len(event) + 1  # past the zero delta time
    assert data[after - 1] == 0 and data[after] < 0x80, "not a data byte in running status"
    c_major_scale_of(damaged(path, after))


INTERRUPTIONS = {"metaevent": b"\xff\x01\x05break", "sysex": b"\xf0\x05\x7e\x7f\x06\x01\xf7"}


def smpte_offset(path: Path) -> None:
    # "This test starts with a 1 minute SMPTE offset. Most players will ignore it."
    score = clean(path)
    says(score, "1 minute SMPTE offset")
    assert score.smpte is None and score.ticks_per_beat == 96  # an offset, not a division
    assert_scale(score)
    assert score.tracks[0].notes["start"][0] == 0 and score.duration_seconds == pytest.approx(4.0)


def illegal_message(path: Path) -> None:
    # "This file contains illegal MIDI message(s) ... Most players consider it invalid."
    # and "You must hear a C-Major scale.": skipped with a warning, strict refuses.
    data = path.read_bytes()
    first = data.index(b"C-Major scale.") + len(b"C-Major scale.") + 1  # after a zero delta
    named = re.search(r"illegal-message-([0-9a-f]{2})", path.name)
    assert data[first] == (int(named[1], 16) if named else 0xF1)
    score = damaged(path, first)
    says(score, "You must hear a C-Major scale.")
    assert_scale(score)


def corrupt_extra_byte(path: Path) -> None:
    # "This file has an extra byte in the end. Most players have no problem with that."
    score = damaged(path, path.stat().st_size - 1)
    says(score, "You must hear a C-Major scale.")
    assert_scale(score)


def corrupt_missing_byte(path: Path) -> None:
    # "This file is missing the last byte. Some players may refuse to open it."
    score = damaged(path, 14)  # the MTrk chunk declares a byte more than the file holds
    says(score, "You must hear a C-Major scale.")
    assert_scale(score)


def empty_file(path: Path) -> None:
    assert path.stat().st_size == 0
    not_midi(path)


def not_a_midi_file(path: Path) -> None:
    not_midi(path)


def raw_sysex(path: Path) -> None:
    # A .syx file holds a bare sysex message, not a Standard MIDI File.
    assert path.read_bytes()[:1] == b"\xf0"
    not_midi(path)


def empty_track(path: Path) -> None:
    # One track chunk holding only End of Track: nothing to hear, nothing wrong.
    score = clean(path)
    silent(score)
    assert score.end_tick == 0 and score.duration_seconds == 0.0 and score.texts == []


def two_scales(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """The two tracks' notes, each a major scale (the second a semitone up)."""
    assert len(score.tracks) == 2
    first, second = (t.notes for t in score.tracks)
    assert first["pitch"].tolist() == C_MAJOR
    assert second["pitch"].tolist() == [p + 1 for p in C_MAJOR]
    for notes in (first, second):
        assert np.diff(notes["pitch"].astype(int)).tolist() == MAJOR_STEPS
    return first, second


def two_tracks_simultaneous(path: Path) -> None:
    # Type 1: "Two scales in two tracks must play simultaneously."
    assert_simultaneous(clean(path))


def two_tracks_in_format_0(path: Path) -> None:
    # "This file has two tracks instead of one. That makes it, technically, invalid.":
    # SMF 1.0 gives format 0 one track chunk, so strict refuses at the second chunk;
    # lenient reads both from tick 0, as format 1, with a warning.
    second = path.read_bytes().index(b"MTrk", 14 + 8)
    assert_simultaneous(damaged(path, second))


def assert_simultaneous(score: Score) -> None:
    first, second = two_scales(score)
    assert first["start"].tolist() == second["start"].tolist()
    assert [tick for tick, _ in said(score, r"^Track [12]$")] == [0, 0]


def two_tracks_sequential(path: Path) -> None:
    # Type 2: "Two scales in two tracks must play sequentially."
    score = clean(path)
    says(score, "must play sequentially")
    first, second = two_scales(score)
    [(track2, _)] = said(score, r"^Track 2$")  # the second chunk's first event
    assert track2 >= (first["start"] + first["duration"]).max()
    assert second["start"].tolist() == (first["start"] + track2).tolist()
    assert score.duration_seconds == pytest.approx(2 * score.to_seconds(track2))


def chords(channels: list[int], named: list[bool]) -> Callable[[Path], None]:
    """Multi-channel chords: one track per part, one chord tone each at every onset."""
    def check(path: Path) -> None:
        score = clean(path)
        title = score.tracks[0].name
        assert [t.channel for t in score.tracks] == channels
        assert [t.name == title for t in score.tracks] == named  # the first chunk's name
        heard = said(score, r"chord at ([A-G]\d)!")
        assert len(heard) == 8
        scale = [*C_MAJOR, *(p + 12 for p in C_MAJOR[1:])]
        for (tick, m), (lo, hi) in zip(heard, windows([t for t, _ in heard], score.end_tick),
                                       strict=True):
            name = m[1]
            if name == "B6" and tick == heard[6][0]:
                name = "B5"  # files 0 and 2 misname the seventh chord; they play B5
            degree = scale.index(pitch_of(name))
            notes = starting(score, lo, hi)
            assert [(i, int(n["start"]), int(n["pitch"])) for i, n in notes] \
                == [(i, tick, scale[degree + 2 * i]) for i in range(3)]
    return check


def note_on_velocity(path: Path) -> None:
    # "Playing C5 with different velocities." plus one "Velocity = N" text per note.
    # (It also says "You must hear a C-Major scale.", a leftover: the file plays C5 only.)
    score = clean(path)
    stated = [(tick, int(m[1])) for tick, m in said(score, r"^Velocity = (\d+)$")]
    assert [v for _, v in stated] == [1, 16, 32, 48, 64, 80, 96, 112, 127]
    [track] = score.tracks
    notes = track.notes
    assert notes["pitch"].tolist() == [pitch_of("C5")] * len(stated)
    assert list(zip(notes["start"].tolist(), notes["velocity"].tolist(), strict=True)) == stated


def track_length(path: Path) -> None:
    # "You must hear C5 and then the track ends after one half note!"
    score = clean(path)
    [track] = score.tracks
    [note] = track.notes
    assert note["pitch"] == pitch_of("C5")
    end = int(note["start"] + note["duration"])
    assert score.end_tick == score.end_of_track == end + 2 * score.ticks_per_beat


def five_seconds_of_silence(path: Path, expect_end: str) -> None:
    score = clean(path)
    says(score, "5 seconds")
    silent(score)
    assert score.duration_seconds == pytest.approx(5.0)
    if expect_end == "end of track":
        assert score.to_seconds(score.end_of_track) == pytest.approx(5.0)
    else:
        [(tick, _)] = said(score, r"^Thank you!$")
        assert score.to_seconds(tick) == pytest.approx(5.0)


def silence_all_notes_off(path: Path) -> None:
    # "This test send the All-Notes-Off message after 5 seconds." The Score keeps no
    # track for a channel without notes, so the message itself is not visible.
    five_seconds_of_silence(path, "end of track")


def silence_end_of_track(path: Path) -> None:
    five_seconds_of_silence(path, "end of track")


def silence_text_metaevent(path: Path) -> None:
    five_seconds_of_silence(path, "text")


def karaoke(path: Path) -> None:
    # "Testing Karaoke in .kar format.": the lyrics are text events, "\" starts a
    # paragraph and "/" a line; "@T" texts are the title.
    score = clean(path)
    says(score, "@TMary Was A Little Lame")
    texts = [text for _, text in score.texts]
    syllables = texts[texts.index("\\Ma"):]
    sung = "".join(syllables).replace("\\", "").replace("/", "\n")
    assert sung == ("Mary was a little lame,\nLittle lame,\nLittle lame,\n"
                    "Mary was a little lame,\nA little lame was she!")
    assert "Mary" in sung and "lit" in sung and "lame" in sung
    [track] = score.tracks
    assert len(track.notes) > 0 and score.tempos["qpm"][0] == pytest.approx(90.0, rel=1e-5)
    assert score.duration_seconds == pytest.approx(
        score.end_tick / score.ticks_per_beat * 60 / score.tempos["qpm"][0])


def percussion(path: Path) -> None:
    # "Playing all General MIDI percussion sounds.": "27 High-Q (GM2)" ... "87 Open Surdo".
    score = clean(path)
    [track] = score.tracks
    assert track.channel == 9 and track.is_drum
    entries = [(tick, int(m[1])) for tick, m in said(score, r"^(\d{2}) \D")]
    assert [key for _, key in entries] == list(range(27, 88))
    for (_, key), (lo, hi) in zip(entries, windows([t for t, _ in entries], score.end_tick),
                                  strict=True):
        assert [int(n["pitch"]) for _, n in starting(score, lo, hi)] == [key] * 3
    assert score.n_notes == 3 * len(entries)


def gm_sounds(path: Path) -> None:
    # "Playing all General MIDI 1 sounds.": "000 Piano: Acoustic Grand Piano" ... "127".
    # Programs change on one channel, so the Score holds one track (its program is the
    # first program change); each sound plays the same arpeggio.
    score = clean(path)
    [track] = score.tracks
    entries = [(tick, int(m[1])) for tick, m in said(score, r"^(\d{3}) [^:]+: ")]
    assert [n for _, n in entries] == list(range(128))
    for lo, hi in windows([t for t, _ in entries], score.end_tick):
        assert [int(n["pitch"]) for _, n in starting(score, lo, hi)] == ARPEGGIO
    assert score.n_notes == 4 * 128 and track.program == 0


def bank_sounds(pattern: str, count_from_text: bool = False) -> Callable[[Path], None]:
    """Files that walk through (program, bank MSB, bank LSB) sounds named in texts."""
    def check(path: Path) -> None:
        score = clean(path)
        [track] = score.tracks
        entries = [(tick, int(m["msb"]), int(m["lsb"])) for tick, m in said(score, pattern)]
        assert entries
        if count_from_text:  # "Did you know Microsoft GS Wavetable Synth had 226 programs?"
            [(_, m)] = said(score, r"had (\d+) programs")
            assert len(entries) == int(m[1])
        spans = windows([t for t, _, _ in entries], score.end_tick)
        for (tick, msb, lsb), (lo, hi) in zip(entries, spans, strict=True):
            assert control_at(track, BANK_MSB, tick, -1) == msb
            assert control_at(track, BANK_LSB, tick, -1) == lsb
            assert [int(n["pitch"]) for _, n in starting(score, lo, hi)] == ARPEGGIO
        assert score.n_notes == 4 * len(entries)
    return check


def numbered(path: Path) -> None:
    """GM2, GS and XG lists are numbered "(1)", "(2)", ...: none is missing."""
    numbers = [int(m[1]) for _, m in said(clean(path), r"^\((\d+)\) ")]
    assert numbers == list(range(1, len(numbers) + 1))


def bank_sounds_numbered(pattern: str) -> Callable[[Path], None]:
    check = bank_sounds(pattern)

    def both(path: Path) -> None:
        numbered(path)
        check(path)
    return both


SLASHED = r"^\(\d+\) (?P<program>\d+)/(?P<msb>\d+)/(?P<lsb>\d+): "
SPACED = r"^(?P<program>\d+) (?P<msb>\d+) (?P<lsb>\d+): "


def doggy(path: Path) -> None:
    # "If your synth supports GM2/GS/XG, you must hear a dog." The file name gives the
    # hex bytes: bank MSB, bank LSB, program and (when not C5) the key.
    score = clean(path)
    says(score, "you must hear a dog")
    msb, lsb, program, *key = (int(x, 16) for x in re.findall(r"-([0-9a-f]{2})", path.name))
    [track] = score.tracks
    assert (control_at(track, BANK_MSB, 0, -1), control_at(track, BANK_LSB, 0, -1)) == (msb, lsb)
    assert track.program == program
    assert track.notes["pitch"].tolist() == [key[0] if key else pitch_of("C5")] * 3


def bank_select(path: Path) -> None:
    # "You must hear Percussion sound on Channel 1..." then "Melody sound on Channel 10...":
    # GM2 bank 120 (rhythm) and 121 (melody). The Score's is_drum follows the channel
    # (10 is drums), not the bank.
    score = clean(path)
    parts = [(tick, m[1], int(m[2]) - 1)
             for tick, m in said(score, r"(Percussion|Melody) sound on Channel (\d+)")]
    assert [(kind, ch) for _, kind, ch in parts] == [("Percussion", 0), ("Melody", 9)]
    spans = windows([t for t, _, _ in parts], score.end_tick)
    for (tick, kind, channel), (lo, hi) in zip(parts, spans, strict=True):
        [track] = [t for t in score.tracks if t.channel == channel]
        bank = GM2_RHYTHM_BANK if kind == "Percussion" else GM2_MELODY_BANK
        assert control_at(track, BANK_MSB, tick, -1) == bank
        assert track.is_drum == (channel == 9)
        starts = track.notes["start"]
        assert len(starts) and np.all((starts >= lo) & (starts < hi))


def pedal(number: int, word: str) -> Callable[[Path], None]:
    """"Two sequences must sound different": the same notes, with the pedal off then on."""
    def check(path: Path) -> None:
        score = clean(path)
        says(score, "Two sequences must sound different.")
        [(off, _)] = said(score, rf"^{word} OFF")
        [(on, _)] = said(score, rf"^{word} ON")
        [track] = score.tracks
        notes = track.notes
        first, second = notes[notes["start"] < on], notes[notes["start"] >= on]
        assert len(first) and first["pitch"].tolist() == second["pitch"].tolist()
        assert np.all(first["start"] >= off)
        assert all(control_at(track, number, int(t)) < 64 for t in first["start"])
        assert all(control_at(track, number, int(t)) >= 64 for t in second["start"])
    return check


def portamento_control(path: Path) -> None:
    # "You must hear a cool portamento effect.": controller 84 names the key the note
    # glides from, and portamento time (controller 5) is set.
    score = clean(path)
    says(score, "cool portamento effect")
    [track] = score.tracks
    [note] = track.notes
    source = control_at(track, 84, int(note["start"]), -1)
    assert 0 <= source != note["pitch"]
    assert control_at(track, 5, int(note["start"])) > 0


def channel_mode(path: Path) -> None:
    # OMNI/MONO/POLY mode messages only: nothing to hear. The Score keeps no track for
    # a channel without notes, so the mode message itself is not visible.
    score = clean(path)
    says(score, "message")
    silent(score)
    assert score.end_tick > 0


def sysex_only(path: Path) -> None:
    # Identity request, GM1/GM2 on, GM off: a sysex and no notes (sysex is not kept).
    score = clean(path)
    says(score, "This test")
    silent(score)


def sections(score: Score, pattern: str) -> list[tuple[int, int]]:
    ticks = [tick for tick, _ in said(score, pattern)]
    return windows(ticks, score.end_tick)


def rpn_ranges(rpn: tuple[int, int], phrases: dict[str, int | None]) -> Callable[[Path], None]:
    """Sections whose texts name a range set by a registered parameter before their note.

    ``phrases`` maps each range the texts name to its data entry MSB (semitones), or
    None for a fraction of a semitone (MSB 0, LSB not 0).
    """
    def check(path: Path) -> None:
        score = clean(path)
        [track] = score.tracks
        named = [(tick, m[1]) for tick, m in said(score, "(" + "|".join(phrases) + ")")]
        assert [p for _, p in named] == list(phrases)
        fractions = []
        for (tick, phrase), (lo, hi) in zip(named, windows([t for t, _ in named],
                                                            score.end_tick), strict=True):
            [(_, note)] = starting(score, lo, hi)
            value = rpn_at(track, rpn, int(note["start"]))
            assert value is not None, (phrase, tick)
            msb, lsb = value
            if phrases[phrase] is None:
                assert msb == 0 and lsb > 0
                fractions.append(lsb)
            else:
                assert (msb, lsb) == (phrases[phrase], 0)
        assert fractions == sorted(fractions, reverse=True)  # half before quarter
    return check


def pitch_bend_range(path: Path) -> None:
    rpn_ranges((0, 0), {"two semitones": 2, "half semitone": None, "one octave": 12,
                        "two octaves": 24, "three octaves": 36})(path)
    score = clean(path)
    [track] = score.tracks
    bends = track.pitch_bends  # every note is swept by pitch bends over the full range
    for note in track.notes:
        during = bends["value"][(bends["tick"] >= note["start"])
                                & (bends["tick"] < note["start"] + note["duration"])]
        assert during.min() == -8192 and during.max() == 8191


def modulation_depth_range(path: Path) -> None:
    rpn_ranges((0, 5), {"half semitone": None, "quarter semitone": None, "a whole tone": 2,
                        "one octave": 12, "two octaves": 24})(path)
    [track] = clean(path).tracks
    for note in track.notes:  # every note gets modulation
        c = track.controls
        during = c[(c["number"] == 1) & (c["tick"] >= note["start"])
                   & (c["tick"] < note["start"] + note["duration"])]
        assert during["value"].max() > 0


def tuned(score: Score, rpn: tuple[int, int], semitones: Callable[[int, int], float]) \
        -> list[float]:
    """Sounding pitches of all notes in time order under the tuning parameter ``rpn``."""
    heard = []
    for track in score.tracks:
        for note in track.notes:
            msb, lsb = rpn_at(track, rpn, int(note["start"])) or (64, 0)
            heard.append((int(note["start"]), int(note["pitch"]) + semitones(msb, lsb)))
    return [pitch for _, pitch in sorted(heard)]


def fine_tuning(path: Path) -> None:
    # "You must hear a quarter-tone scale." RPN 0/1: 8192 is in tune, +-8192 is +-100 cents.
    score = clean(path)
    says(score, "quarter-tone scale")
    heard = tuned(score, (0, 1), lambda msb, lsb: ((msb << 7 | lsb) - 8192) / 8192)
    assert len(heard) > 8
    assert np.diff(heard).tolist() == [0.5] * (len(heard) - 1)


def coarse_tuning(path: Path) -> None:
    # "You must hear a C-Major scale." played as one key retuned by RPN 0/2 (64 = in tune).
    score = clean(path)
    says(score, "You must hear a C-Major scale.")
    assert {int(p) for t in score.tracks for p in t.notes["pitch"]} == {pitch_of("C5")}
    assert tuned(score, (0, 2), lambda msb, lsb: msb - 64) == C_MAJOR


def master_fine_tuning(path: Path) -> None:
    # "You must hear a quarter-tone sequence.": C5 repeated, retuned by sysex (not kept).
    score = clean(path)
    says(score, "quarter-tone sequence")
    [track] = score.tracks
    notes = track.notes
    assert len(notes) > 1 and set(notes["pitch"].tolist()) == {pitch_of("C5")}
    assert np.all(notes["start"][1:] >= notes["start"][:-1] + notes["duration"][:-1])


def master_coarse_tuning(path: Path) -> None:
    # "You must hear a C-Major scale.": eight C5s in turn on channels 1-8, each retuned
    # by a sysex (not kept).
    score = clean(path)
    says(score, "You must hear a C-Major scale.")
    assert [t.channel for t in score.tracks] == list(range(8))
    notes = [t.notes for t in score.tracks]
    assert all(len(n) == 1 and n["pitch"][0] == pitch_of("C5") for n in notes)
    starts = [int(n["start"][0]) for n in notes]
    assert starts == sorted(starts) and len(set(starts)) == 8


def scale_tuning(path: Path) -> None:
    # "No tuning. Your must hear a regular chromatic scale." then four retuned runs of
    # the same scale (the tunings are sysex, not kept).
    score = clean(path)
    spans = sections(score, r"(regular chromatic scale|funny scale)")
    assert len(spans) == 5
    for lo, hi in spans:
        assert [int(n["pitch"]) for _, n in starting(score, lo, hi)] == list(range(60, 73))


def gs_drum_part_change(path: Path) -> None:
    # "you must hear drum playing on channel 0", then "piano playing on channel 9":
    # GS sysex swaps the drum part, which the Score does not model (is_drum follows
    # channel 10).
    score = clean(path)
    parts = [(tick, m[1], int(m[2]))
             for tick, m in said(score, r"must hear (drum|piano) playing on channel (\d+)")]
    assert [(kind, ch) for _, kind, ch in parts] == [("drum", 0), ("piano", 9)]
    for (_, _, channel), (lo, hi) in zip(parts, windows([t for t, _, _ in parts],
                                                        score.end_tick), strict=True):
        [track] = [t for t in score.tracks if t.channel == channel]
        assert track.is_drum == (channel == 9)
        assert len(track.notes) and np.all((track.notes["start"] >= lo)
                                           & (track.notes["start"] < hi))


def gs_scale_tuning(path: Path) -> None:
    # "the pitch of the note should change": one C5 at each "+63 cents" / "-64 cents".
    score = clean(path)
    marks = [tick for tick, _ in said(score, r"^[+-]\d+ cents$")]
    assert len(marks) == 3
    [track] = score.tracks
    assert track.notes["start"].tolist() == marks
    assert track.notes["pitch"].tolist() == [pitch_of("C5")] * 3


ILLEGAL = ["all", "f1-xx", "f2-xx-xx", "f3-xx", "f4", "f5", "f6", "f8", "f9", "fa", "fb",
           "fc", "fd", "fe"]

EXPECTATIONS: dict[str, Callable[[Path], None]] = {
    "test-2-tracks-type-0.mid": two_tracks_in_format_0,
    "test-2-tracks-type-1.mid": two_tracks_simultaneous,
    "test-2-tracks-type-2.mid": two_tracks_sequential,
    "test-all-gm-percussion.mid": percussion,
    "test-all-gm-sounds.mid": gm_sounds,
    "test-all-gm2-sounds.mid": bank_sounds_numbered(SLASHED),
    "test-all-gs-sounds.mid": bank_sounds_numbered(SLASHED),
    "test-all-microsoft-gs-wavetable-synth-sounds.mid": bank_sounds(SPACED, True),
    "test-all-xg-sounds.mid": bank_sounds_numbered(SLASHED),
    "test-c-major-scale.mid": c_major_scale_named,
    "test-control-00-20-bank-select.mid": bank_select,
    "test-control-40-damper.mid": pedal(64, "Damper"),
    "test-control-41-portamento.mid": pedal(65, "Portamento"),
    "test-control-54-portamento-control.mid": portamento_control,
    "test-control-7c-omni-mode-off.mid": channel_mode,
    "test-control-7d-omni-mode-on.mid": channel_mode,
    "test-control-7e-mono-mode-on.mid": channel_mode,
    "test-control-7f-poly-mode-on.mid": channel_mode,
    "test-corrupt-file-extra-byte.mid": corrupt_extra_byte,
    "test-corrupt-file-missing-byte.mid": corrupt_missing_byte,
    "test-empty-file.mid": empty_file,
    "test-empty.mid": empty_track,
    "test-gm2-doggy-78-00-38-4c.mid": doggy,
    "test-gm2-doggy-79-01-7b.mid": doggy,
    "test-gs-doggy-01-00-7b.mid": doggy,
    **{f"test-illegal-message-{name}.mid": illegal_message for name in ILLEGAL},
    "test-karaoke-kar.mid": karaoke,
    "test-multichannel-chords-0.mid": chords([0, 1, 2], [True, True, True]),
    "test-multichannel-chords-1.mid": chords([0, 1, 2], [True, False, False]),
    "test-multichannel-chords-2.mid": chords([0, 1, 2], [True, True, False]),
    "test-multichannel-chords-3.mid": chords([0, 1, 0], [True, False, False]),
    "test-non-midi-track.mid": non_midi_track,
    "test-not-a-midi-file.mid": not_a_midi_file,
    "test-note-on-velocity.mid": note_on_velocity,
    "test-rpn-00-00-pitch-bend-range.mid": pitch_bend_range,
    "test-rpn-00-01-fine-tuning.mid": fine_tuning,
    "test-rpn-00-02-coarse-tuning.mid": coarse_tuning,
    "test-rpn-00-05-modulation-depth-range.mid": modulation_depth_range,
    "test-running-status-metaevent.mid": running_status_interrupted,
    "test-running-status-sysex.mid": running_status_interrupted,
    "test-silence-all-notes-off.mid": silence_all_notes_off,
    "test-silence-end-of-track.mid": silence_end_of_track,
    "test-silence-text-metaevent.mid": silence_text_metaevent,
    "test-smpte-offset.mid": smpte_offset,
    "test-sysex-7e-06-01-id-request.mid": sysex_only,
    "test-sysex-7e-09-01-gm1-enable.mid": sysex_only,
    "test-sysex-7e-09-02-gm-disable.mid": sysex_only,
    "test-sysex-7e-09-03-gm2-enable.mid": sysex_only,
    "test-sysex-7f-04-03-master-fine-tuning.mid": master_fine_tuning,
    "test-sysex-7f-04-04-master-coarse-tuning.mid": master_coarse_tuning,
    "test-sysex-7x-08-0x-scale-tuning.mid": scale_tuning,
    "test-sysex-gs-40-1x-15-drum-part-change.mid": gs_drum_part_change,
    "test-sysex-gs-40-1x-4x-scale-tuning.mid": gs_scale_tuning,
    "test-syx-7e-06-01-id-request.syx": raw_sysex,
    "test-track-length.mid": track_length,
    "test-vlq-2-byte.mid": vlq,
    "test-vlq-3-byte.mid": vlq,
    "test-vlq-4-byte.mid": vlq,
    "test-xg-doggy-40-00-30.mid": doggy,
    "test-xg-doggy-7e-00-00-54.mid": doggy,
}


def test_every_suite_file_has_an_expectation() -> None:
    folder = suite()
    assert FILES, f"no files in {folder}"
    missing = sorted(set(FILES) - set(EXPECTATIONS))
    stale = sorted(set(EXPECTATIONS) - set(FILES))
    assert not missing, f"suite files without an expectation (read their texts): {missing}"
    assert not stale, f"expectations for files no longer in the suite: {stale}"


@pytest.mark.parametrize("name", cases(FILES))
def test_suite_file(name: str) -> None:
    path = suite() / name
    check = EXPECTATIONS.get(name)
    assert check is not None, f"{name}: no expectation; read its texts and write one"
    check(path)
