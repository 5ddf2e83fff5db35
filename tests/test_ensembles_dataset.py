"""The ``ensembles`` dataset: music21's scores of several instruments, a track per part with
the part's General MIDI program, checked against music21's own parse and read by mido."""
from __future__ import annotations

import warnings

import mido
import pytest

from deepsym import read_midi
from deepsym.data.datasets import _write_ensemble, ensemble_scores
from deepsym.plugins import manager
from deepsym.representations.bars import FAMILIES, to_bars

SLOT = {name: k for k, (name, _, _) in enumerate(FAMILIES)}


def music21_parts(source: str) -> list:
    from music21 import corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [p for p in corpus.parse(source).parts if p.recurse().notes]


def mido_tracks(path) -> list[tuple[str, set[int], int]]:
    """(track name, programs, note-ons) of each track of a MIDI file that has notes."""
    tracks = []
    for track in mido.MidiFile(path).tracks:
        notes = sum(m.type == "note_on" and m.velocity > 0 for m in track)
        if notes:
            tracks.append((track.name, {m.program for m in track if m.type == "program_change"},
                           notes))
    return tracks


def test_ensembles_is_registered():
    assert manager().datasets.get("ensembles") is ensemble_scores


def test_first_piece_voices_and_piano_then_cached(tmp_path, offline, monkeypatch):
    files = ensemble_scores(tmp_path, limit=1)
    assert files == [tmp_path / "beach-prayer_of_a_tired_child.mid"]
    parts = music21_parts("beach/prayer_of_a_tired_child.musicxml")
    score = read_midi(files[0])
    assert [t.name for t in score.tracks] == [p.partName for p in parts]
    assert [t.program for t in score.tracks] == [52, 52, 52, 52, 0, 0]  # voices, piano
    assert [len(t.notes) for t in score.tracks] == [n for *_, n in mido_tracks(files[0])]
    assert [(name, programs) for name, programs, _ in mido_tracks(files[0])] == [
        (t.name, {t.program}) for t in score.tracks]
    bars = to_bars(score, rule="family", n_tracks=5)
    assert bars[:, SLOT["piano"]].any() and bars[:, SLOT["strings"]].any()
    assert not bars[:, SLOT["guitar"]].any() and not bars[:, SLOT["bass"]].any()

    import deepsym.data.datasets as datasets

    def fail(job):
        raise AssertionError(f"converted {job[0]} again")
    monkeypatch.setattr(datasets, "_write_ensemble", fail)
    assert ensemble_scores(tmp_path, limit=1) == files


@pytest.mark.parametrize("source, programs", [
    ("haydn/opus74no1/movement2.mxl", None),  # None: the programs music21 reads
    ("haydn/opus1no1/movement4.mxl", [40, 40, 41, 42]),  # music21: String Ensemble 1 for all
    ("corelli/opus3no1/1grave.xml", [40, 40, 43]),  # Violino I, II, Violone e Organo
    ("webern/webern_dormi_jesu_op_16_no_2.mxl", [52, 71]),  # Gesang, Klarinette: no program
], ids=lambda value: value.split("/")[0] if isinstance(value, str) else None)
def test_a_track_per_part_with_its_program(tmp_path, offline, source, programs):
    target = tmp_path / "piece.mid"
    assert _write_ensemble((source, str(target), None)) is None
    parts = music21_parts(source)
    if programs is None:
        programs = [p.getInstrument().midiProgram for p in parts]
        assert programs == [40, 40, 41, 42]
    score = read_midi(target)
    assert [t.program for t in score.tracks] == programs
    assert [t.name for t in score.tracks] == [p.partName for p in parts]
    assert [t.channel for t in score.tracks] == list(range(len(parts)))
    by_mido = mido_tracks(target)
    expected = [(p.partName, {program}) for p, program in zip(parts, programs, strict=True)]
    assert [(name, progs) for name, progs, _ in by_mido] == expected
    assert all(n == len(t.notes) > 0 for (*_, n), t in zip(by_mido, score.tracks, strict=True))
    bars = to_bars(score, rule="family", n_tracks=5)
    assert bars[:, SLOT["strings"]].any()
    assert bars[:, SLOT["piano"]].any() == (0 in programs)


def test_one_instrument_is_skipped_with_the_reason(tmp_path):
    target = tmp_path / "polonaise.mid"
    reason = _write_ensemble(("schumann_clara/polonaise_op1n4.mxl", str(target), None))
    assert reason == "one instrument (program 0): parts 'Piano', 'Piano'"
    assert not target.exists()
