"""Piano-roll pictures: what the Figure holds (colours, notes, grid, pitch names, copied
spans), the PNG written atomically, a missing matplotlib, and ``deepsym plot``."""
from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest
from music21_corpus import real_midi_files

import deepsym
from deepsym import DeepsymError, Score, Track
from deepsym.cli import main
from deepsym.metrics.originality import Match, PlagiarismReport, Span, plagiarism
from deepsym.plot import pitch_name, plot_pianoroll, save_pianoroll

CHORALE = real_midi_files()[0]
FOLK = next(p for p in real_midi_files() if p.name == "folk-003.mid")


def copying_piece(training: Score, first: int, count: int) -> tuple[Score, float, float]:
    """A piece that plays low filler notes, then ``count`` notes of ``training`` from note
    ``first`` (same pitches and rhythm), then filler again; with the copy's times."""
    src = training.tracks[0].notes[first:first + count]
    onsets = training.to_seconds(src["start"])
    ends = training.to_seconds(src["start"].astype(np.int64) + src["duration"])
    copy_start, copy_end = 5.0, 5.0 + float(ends[-1] - onsets[0])

    def ticks(seconds):  # at 480 ticks per beat and 120 qpm
        return np.round(np.asarray(seconds) * 960).astype(int)

    notes = [(ticks(0.5 * k), 480, 30 + k, 80) for k in range(10)]
    starts, stops = ticks(onsets - onsets[0] + 5.0), ticks(ends - onsets[0] + 5.0)
    notes += [(int(s), max(int(e - s), 1), int(pitch), 80)
              for s, e, pitch in zip(starts, stops, src["pitch"], strict=True)]
    notes += [(ticks(copy_end + 0.5 * k), 480, 40 - k, 80) for k in range(10)]
    return Score(tracks=[Track(notes=notes)]), copy_start, copy_end


def three_tracks() -> Score:
    """Three parts and drums in 3/4; the tempo halves at tick 960 (beat 2)."""
    return Score(ticks_per_beat=480, tempos=[(0, 120.0), (960, 60.0)],
                 time_signatures=[(0, 3, 4)], tracks=[
                     Track(name="flute", program=73, notes=[(0, 480, 72, 80), (480, 960, 74, 80)]),
                     Track(name="viola", program=41, notes=[(0, 1440, 60, 80)]),
                     Track(program=32, notes=[(960, 1920, 48, 80), (1440, 480, 55, 80)]),
                     Track(name="kit", is_drum=True, channel=9, notes=[(0, 60, 36, 90)])])


def collection(fig, gid: str):
    found = [c for c in fig.axes[0].collections if c.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def test_each_track_has_its_own_colour_and_each_note_a_rectangle():
    s = three_tracks()
    fig = plot_pianoroll(s)
    colours = [tuple(collection(fig, f"track-{i}").get_facecolor()[0]) for i in range(4)]
    assert len(set(colours)) == 4
    for i, t in enumerate(s.tracks):
        paths = collection(fig, f"track-{i}").get_paths()
        assert len(paths) == len(t.notes)
        xs = np.array([[p.vertices[:, 0].min(), p.vertices[:, 0].max()] for p in paths])
        ends = t.notes["start"].astype(np.int64) + t.notes["duration"]
        np.testing.assert_allclose(xs, np.column_stack([s.to_seconds(t.notes["start"]),
                                                        s.to_seconds(ends)]))
        ys = np.array([(p.vertices[:, 1].min() + p.vertices[:, 1].max()) / 2 for p in paths])
        np.testing.assert_allclose(ys, t.notes["pitch"])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["flute", "viola", "track 2 (Acoustic Bass)", "kit (drums)"]


def test_grid_lines_at_bars_and_beats():
    s = three_tracks()  # ends at beat 6; beats 0-1 take 0.5 s, then 1 s each
    fig = plot_pianoroll(s)
    bars = [seg[0][0] for seg in collection(fig, "bar-lines").get_segments()]
    beats = [seg[0][0] for seg in collection(fig, "beat-lines").get_segments()]
    np.testing.assert_allclose(bars, [0.0, 2.0, 5.0])  # beats 0, 3, 6
    np.testing.assert_allclose(beats, [0.5, 1.0, 3.0, 4.0])  # beats 1, 2, 4, 5


def test_y_axis_names_pitches():
    fig = plot_pianoroll(Score(tracks=[Track(notes=[(0, 10, 59, 80), (10, 10, 62, 80)])]))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["B3", "C4", "C#4", "D4"]
    wide = plot_pianoroll(deepsym.read_midi(CHORALE))
    labels = [t.get_text() for t in wide.axes[0].get_yticklabels()]
    assert len(labels) >= 3 and all(re.fullmatch(r"[CG]-?\d", t) for t in labels)
    assert [pitch_name(p) for p in (0, 21, 60, 61, 127)] == ["C-1", "A0", "C4", "C#4", "G9"]


def test_title_names_the_piece_and_its_duration():
    fig = plot_pianoroll(three_tracks(), name="quartet.mid")
    assert fig.axes[0].get_title() == "quartet.mid  (0:05.0)"


def test_draws_into_the_axes_it_is_given():
    fig = matplotlib.figure.Figure()
    ax = fig.add_subplot(2, 1, 2)
    assert plot_pianoroll(three_tracks(), ax=ax) is fig
    assert len([c for c in ax.collections if (c.get_gid() or "").startswith("track-")]) == 4


@pytest.mark.parametrize("music", [Score(), Score(tracks=[Track()]),
                                   Score(tracks=[Track(notes=[(0, 480, 60, 80)])]),
                                   Track(notes=[(0, 0, 60, 80)])],
                         ids=["no tracks", "no notes", "one note", "a zero-length note"])
def test_empty_scores_and_single_notes_plot(music):
    ax = plot_pianoroll(music).axes[0]
    assert ax.get_xlim()[1] > 0 and ax.get_ylim()[1] > ax.get_ylim()[0]


def test_against_shades_the_copied_runs_of_a_hand_built_report():
    s = three_tracks()
    report = PlagiarismReport("gen.mid", 5, [
        Match("corpus/bwv1.mid", 4, 0.8, 4, 2.5, Span(0, 4, 1.0, 3.5), Span(7, 11, 10.0, 12.5)),
        Match("corpus/bwv2.mid", 2, 0.4, 2, 0.5, Span(1, 3, 0.5, 1.0), Span(0, 2, 0.0, 0.5))])
    fig = plot_pianoroll(s, against=report, min_run=4)
    ax = fig.axes[0]
    shaded = [p for p in ax.patches if p.get_gid() == "copied"]
    assert [(p.get_x(), p.get_width()) for p in shaded] == [(1.0, 2.5)]
    assert any("bwv1.mid 0:10.0-0:12.5: 4 notes" in t.get_text() for t in ax.texts)
    assert ax.get_title().endswith("1 copied span of 4+ notes")
    both = plot_pianoroll(s, against=report, min_run=2).axes[0]
    assert len([p for p in both.patches if p.get_gid() == "copied"]) == 2


def test_against_shades_the_run_the_plagiarism_report_finds():
    training = deepsym.read_midi(FOLK)
    generated, start, end = copying_piece(training, 20, 24)
    report = plagiarism(generated, [FOLK])
    ax = plot_pianoroll(generated, against=report).axes[0]
    (shaded,) = [p for p in ax.patches if p.get_gid() == "copied"]
    assert shaded.get_x() == pytest.approx(start, abs=2e-3)
    assert shaded.get_x() + shaded.get_width() == pytest.approx(end, abs=2e-3)
    assert report.matches[0].run_notes == 24


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_save_writes_a_png_of_the_asked_size(tmp_path):
    out = save_pianoroll(three_tracks(), tmp_path / "roll.png", figsize=(6, 3), dpi=50)
    assert png_size(out) == (300, 150)
    assert [p.name for p in tmp_path.iterdir()] == ["roll.png"]


def test_a_failed_save_leaves_the_old_picture_and_no_temporary_file(tmp_path, monkeypatch):
    out = tmp_path / "roll.png"
    out.write_bytes(b"old picture")

    def broken(self, *args, **kwargs):
        args[0].write(b"\x89PNG half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_pianoroll(three_tracks(), out)
    assert out.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["roll.png"]


def test_a_missing_matplotlib_is_one_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(DeepsymError) as exc:
        plot_pianoroll(three_tracks())
    assert str(exc.value) == "deepsym plot needs matplotlib: pip install 'deepsym[plot]'"
    assert main(["plot", str(CHORALE), "-o", str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err == \
        "deepsym: error: deepsym plot needs matplotlib: pip install 'deepsym[plot]'\n"


def test_importing_deepsym_does_not_import_matplotlib():
    code = ("import sys, deepsym, deepsym.plot, deepsym.metrics, deepsym.cli; "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# -- deepsym plot --------------------------------------------------------------------------

def test_cli_writes_the_picture(tmp_path, capsys, monkeypatch):
    out = tmp_path / "roll.png"
    assert main(["plot", str(CHORALE), "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}\n"
    assert png_size(out) == (1200, 500)
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(CHORALE), "--size", "8", "4", "--dpi", "50"]) == 0
    assert png_size(tmp_path / CHORALE.with_suffix(".png").name) == (400, 200)


def test_cli_bad_input_gets_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    assert main(["plot", str(bad), "-o", str(tmp_path / "bad.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"deepsym: error: {bad}: not a Standard MIDI")
    assert main(["plot", str(CHORALE), "-o", str(tmp_path / "no" / "such" / "x.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write: No such file or directory" in err
    assert not (tmp_path / "bad.png").exists()


def test_cli_against_shades_copied_runs_and_lists_them(tmp_path, capsys):
    training = deepsym.read_midi(FOLK)
    generated, start, end = copying_piece(training, 20, 24)
    deepsym.write_midi(generated, tmp_path / "gen.mid")
    copied = training.tracks[0].notes[20:44]
    source = training.to_seconds([copied["start"][0],
                                  int(copied["start"][-1]) + int(copied["duration"][-1])])
    out = tmp_path / "roll.png"
    assert main(["plot", str(tmp_path / "gen.mid"), "-o", str(out), "--against",
                 str(FOLK), str(CHORALE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(out)
    assert lines[1:] == [f"  copied 24 notes at {start:.1f}-{end:.1f} s from {FOLK.resolve()} "
                         f"at {source[0]:.1f}-{source[1]:.1f} s"]
    assert png_size(out) == (1200, 500)
    assert main(["plot", str(tmp_path / "gen.mid"), "-o", str(out), "--against",
                 str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
