"""The plagiarism report on real music: pieces made by splicing a stretch of a real chorale
into a real folk tune must find that chorale first, with the stretch's spans in both.

Note sequences are checked against pretty_midi's reading of the same files; the
skipping of pieces under ``top`` against a full ranking; the CLI on real and corrupt files.
"""
from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from music21_corpus import real_midi_files

import deepsym
from deepsym.cli import main
from deepsym.errors import CorpusError, MidiError, MidiWarning
from deepsym.metrics import originality
from deepsym.metrics.originality import PlagiarismError, note_sequence, plagiarism
from deepsym.score import NOTE_DTYPE, Score, Track

STRETCH = 40
TICKS_PER_SECOND = 960  # 480 ticks per beat at 120 qpm


@cache
def corpus() -> list[Path]:
    return real_midi_files()


def chorales() -> list[Path]:
    return [p for p in corpus() if p.name.startswith("bach-")]


def folk() -> list[Path]:
    return [p for p in corpus() if p.name.startswith("folk-")]


def score_of(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Score:
    """One track holding the given (pitches, onsets, ends in seconds), at 120 qpm."""
    pitches, onsets, ends = (np.concatenate(column) for column in zip(*parts, strict=True))
    notes = np.zeros(len(pitches), dtype=NOTE_DTYPE)
    notes["start"] = np.round(onsets * TICKS_PER_SECOND)
    notes["duration"] = np.round((ends - onsets) * TICKS_PER_SECOND)
    notes["pitch"], notes["velocity"] = pitches, 80
    notes = notes[np.lexsort((notes["pitch"], notes["start"]))]
    return Score(ticks_per_beat=480, tracks=[Track(notes)], tempos=[(0, 120.0)])


def splice(source: Path, host: Path, shift: int = 0, stretch_time: float = 1.0,
           ) -> tuple[Score, int, int]:
    """``host`` with STRETCH notes of ``source`` (moved by ``shift`` semitones, timed
    ``stretch_time`` times slower) inserted after its 20th note; the source's first note
    of the stretch and the stretch's first note in the spliced piece."""
    p, o, e = note_sequence(deepsym.read_midi(source))
    hp, ho, he = note_sequence(deepsym.read_midi(host))
    cut = 20
    k = next(k for k in range(10, len(p) - STRETCH - 1)
             if p[k - 1] != hp[cut - 1] and p[k + STRETCH] != hp[cut] and o[k] != o[k - 1])
    begin = he[:cut].max() + 0.5
    so = begin + (o[k:k + STRETCH] - o[k]) * stretch_time
    se = begin + (e[k:k + STRETCH] - o[k]) * stretch_time
    after = se.max() + 0.5 - ho[cut]
    score = score_of([(hp[:cut], ho[:cut], he[:cut]),
                      (p[k:k + STRETCH] + shift, so, se),
                      (hp[cut:], ho[cut:] + after, he[cut:] + after)])
    return score, k, cut


@pytest.fixture(scope="module")
def spliced(tmp_path_factory) -> tuple[Path, Path, int, int]:
    source, host = chorales()[17], folk()[5]
    score, k, at = splice(source, host)
    path = tmp_path_factory.mktemp("gen") / "spliced.mid"
    deepsym.write_midi(score, path)
    return path, source, k, at


def test_spliced_chorale_ranks_first_with_its_spans(spliced) -> None:
    path, source, k, at = spliced
    report = plagiarism(path, corpus(), top=5)
    gen = note_sequence(deepsym.read_midi(path))
    src = note_sequence(deepsym.read_midi(source))
    assert report.generated == str(path) and report.notes == len(gen[0])
    best = report.matches[0]
    assert best.piece == str(source)
    assert best.run_notes == STRETCH
    assert (best.generated_span.start_note, best.generated_span.end_note) == (at, at + STRETCH)
    assert (best.training_span.start_note, best.training_span.end_note) == (k, k + STRETCH)
    assert best.training_span.start_seconds == pytest.approx(src[1][k])
    assert best.training_span.end_seconds == pytest.approx(src[2][k + STRETCH - 1])
    assert best.generated_span.start_seconds == pytest.approx(gen[1][at])
    assert best.run_seconds == pytest.approx(gen[2][at + STRETCH - 1] - gen[1][at])
    assert best.lcs_length == deepsym.lcs_length(gen[0], src[0])
    assert best.lcs_ratio == pytest.approx(best.lcs_length / len(gen[0]))
    assert all(m.run_notes < STRETCH for m in report.matches[1:])
    assert len(report.matches) == 5


def test_transposed_splice_needs_transpose() -> None:
    source, host = chorales()[31], folk()[9]
    score, k, at = splice(source, host, shift=3)
    plain = plagiarism(score, corpus(), top=3)
    assert plain.matches[0].run_notes < STRETCH
    moved = plagiarism(score, corpus(), top=3, transpose=True)
    best = moved.matches[0]
    assert best.piece == str(source) and best.run_notes >= STRETCH
    assert best.generated_span.start_note <= at < at + STRETCH <= best.generated_span.end_note
    assert best.training_span.start_note <= k < k + STRETCH <= best.training_span.end_note


def test_tolerance_rejects_a_copy_in_another_rhythm() -> None:
    source, host = chorales()[40], folk()[12]
    score, _, _ = splice(source, host, stretch_time=1.5)
    untimed = plagiarism(score, corpus(), top=1).matches[0]
    assert untimed.piece == str(source) and untimed.run_notes == STRETCH
    timed = plagiarism(score, corpus(), top=1, tolerance=0.05).matches[0]
    assert timed.run_notes < STRETCH
    same_rhythm, _, _ = splice(source, host)
    assert plagiarism(same_rhythm, corpus(), top=1, tolerance=0.05).matches[0].run_notes \
        == STRETCH


def test_top_skipping_equals_full_ranking(spliced, monkeypatch) -> None:
    path = spliced[0]
    full = plagiarism(path, corpus(), top=None, workers=1)
    assert len(full.matches) == len(corpus())
    keys = [(-m.run_notes, -m.lcs_length) for m in full.matches]
    assert keys == sorted(keys)
    monkeypatch.setattr(originality, "BATCH", 16)  # the threshold updates every 16 pieces
    for top in (1, 3, 25):
        assert plagiarism(path, corpus(), top=top, workers=2).matches == full.matches[:top]


def test_corpus_forms_agree(spliced, tmp_path) -> None:
    path, source, _, _ = spliced
    files = chorales()[10:30]
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    for f in files:
        (folder / "sub" / f.name).write_bytes(f.read_bytes())
    by_path = plagiarism(path, files, top=None)
    by_folder = plagiarism(path, folder, top=None)
    scores = {str(f): deepsym.read_midi(f) for f in files}
    by_score = plagiarism(deepsym.read_midi(path), scores, top=None)
    arrays = plagiarism(path, {n: note_sequence(s) for n, s in scores.items()}, top=None)
    names = [Path(m.piece).name for m in by_path.matches]
    assert names[0] == source.name
    assert [Path(m.piece).name for m in by_folder.matches] == names
    for report in (by_score, arrays):
        assert [m.piece for m in report.matches] == [m.piece for m in by_path.matches]
        assert [m.training_span for m in report.matches] == \
            [m.training_span for m in by_path.matches]


def test_deepsym_corpus_uses_its_train_split(spliced, tmp_path) -> None:
    from deepsym.data import Corpus, build_corpus

    path, source, _, _ = spliced
    build_corpus([source, *folk()[:30]], tmp_path / "c", workers=1)
    opened = Corpus.open(tmp_path / "c")
    train = {opened.pieces[i].path for i in opened.split("train")}
    report = plagiarism(path, tmp_path / "c", top=None, index=False)
    assert {m.piece for m in report.matches} == train
    indexed = plagiarism(path, tmp_path / "c", top=None)  # only the runs of n+ notes
    assert indexed.method == "index" and indexed.matches
    assert indexed.matches == [m for m in report.matches if m.run_notes >= indexed.min_run]


def test_note_sequence_agrees_with_pretty_midi() -> None:
    for path in corpus()[::9]:
        pitches, onsets, ends = note_sequence(deepsym.read_midi(path))
        pm = pretty_midi.PrettyMIDI(str(path))
        notes = sorted((round(n.start, 6), n.pitch) for i in pm.instruments if not i.is_drum
                       for n in i.notes)
        assert pitches.tolist() == [p for _, p in notes], path.name
        assert np.allclose(onsets, [s for s, _ in notes], atol=1e-5), path.name
        assert np.all(ends >= onsets)


def test_note_sequence_reading_order() -> None:
    notes = np.array([(0, 10, 67, 80), (4, 10, 60, 80), (2, 10, 64, 80), (480, 10, 50, 80),
                      (960, 10, 40, 80)], dtype=NOTE_DTYPE)
    drums = Track(np.array([(0, 10, 36, 80)], dtype=NOTE_DTYPE), is_drum=True, channel=9)
    score = Score(ticks_per_beat=480, tracks=[Track(notes), drums], tempos=[(0, 60.0)])
    pitches, onsets, ends = note_sequence(score)
    # ticks 0, 2 and 4 are within 20 ms at 60 qpm: one chord, read low to high
    assert pitches.tolist() == [60, 64, 67, 50, 40]
    assert onsets.tolist() == pytest.approx([4 / 480, 2 / 480, 0, 1, 2])
    assert ends[-1] == pytest.approx(2 + 10 / 480)
    track_only = note_sequence(Track(notes))
    assert track_only[0].tolist() == [60, 64, 67, 50, 40]
    assert track_only[1][-1] == pytest.approx(1.0)  # 480 ticks per beat at 120 qpm


def test_empty_generated_piece_has_ratio_zero() -> None:
    report = plagiarism(Score(), corpus()[:3], top=None)
    assert report.notes == 0 and len(report.matches) == 3
    assert all(m.lcs_length == m.run_notes == 0 and m.lcs_ratio == 0.0 for m in report.matches)


@pytest.mark.filterwarnings("ignore::deepsym.errors.MidiWarning")
def test_bad_input(tmp_path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(MidiError, match=r"bad\.mid"):
        plagiarism(bad, corpus()[:3])
    with pytest.raises(CorpusError):
        plagiarism(corpus()[0], tmp_path / "nothing-here")
    with pytest.raises(PlagiarismError, match="top"):
        plagiarism(corpus()[0], corpus()[:3], top=0)
    with pytest.raises(PlagiarismError, match="tolerance"):
        plagiarism(corpus()[0], corpus()[:3], tolerance=-1.0)
    with pytest.raises(PlagiarismError, match="shape"):
        plagiarism(corpus()[0], {"x": ([60, 62], [0.0], [1.0, 2.0])})
    with pytest.warns(MidiWarning, match="skipped .*bad.mid"):
        report = plagiarism(corpus()[0], [bad, *corpus()[:3]], top=None)
    assert len(report.matches) == 3


def test_cli_prints_the_top_matches(spliced, capsys) -> None:
    path, source, k, at = spliced
    folder = source.parent
    assert main(["plagiarism", str(path), "--corpus", str(folder), "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path}: ") and len(lines) == 2 + 3
    assert lines[1].split()[:5] == ["#", "piece", "LCS", "ratio", "run"]
    first = lines[2]
    assert str(source) in first
    assert f" {at}:{at + STRETCH} " in first and f" {k}:{k + STRETCH} " in first


def test_cli_bad_file_is_one_error_line(tmp_path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    result = subprocess.run([sys.executable, "-m", "deepsym", "plagiarism", str(bad),
                             "--corpus", str(real_midi_files()[0].parent)],
                            capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "bad.mid" in result.stderr
    assert result.stderr.startswith("deepsym: error:")


def test_pure_python_twin_gives_the_same_report(spliced) -> None:
    path = spliced[0]
    files = [str(p) for p in chorales()[15:20]]
    code = ("import sys; from deepsym.metrics import plagiarism;"
            "r = plagiarism(sys.argv[1], sys.argv[2:], top=None, transpose=True);"
            "print(r.matches)")
    outputs = [subprocess.run([sys.executable, "-c", code, str(path), *files],
                              env={**os.environ, "DEEPSYM_PUREPYTHON": pure},
                              capture_output=True, text=True, check=True).stdout
               for pure in ("0", "1")]
    assert outputs[0] == outputs[1] and "Match(" in outputs[0]
