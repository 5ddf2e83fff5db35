"""``deepsym info`` as a user runs it: real files, a corrupt file, a missing file."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from edge_suite_files import suite

import deepsym
from deepsym.cli import main


def test_info_describes_a_real_file(capsys):
    assert main(["info", str(suite() / "test-multichannel-chords-1.mid")]) == 0
    out = capsys.readouterr().out
    assert "format 1, 96 ticks per beat, 0:04.0, 24 notes in 3 tracks" in out
    assert "tempos: none (120 qpm assumed)" in out
    assert out.count("Acoustic Grand Piano") == 3


def test_info_shows_tempos_time_signatures_and_drums(tmp_path, capsys):
    score = deepsym.Score(
        ticks_per_beat=480, tempos=[(0, 100.0), (1920, 80.0)],
        time_signatures=[(0, 3, 4)],
        tracks=[deepsym.Track(notes=[(0, 480, 60, 80)], program=40, name="Fiddle"),
                deepsym.Track(notes=[(0, 120, 36, 100)] * 1, channel=9, name="Kit")],
    )
    path = tmp_path / "piece.mid"
    deepsym.write_midi(score, path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "100 qpm at 0:00.0, 80 qpm at 0:02.4" in out
    assert "time signatures: 3/4 at 0:00.0" in out
    assert "40 Violin" in out and "drums" in out and "Fiddle" in out


def test_bad_file_gets_one_line_and_others_are_still_shown(capsys):
    files = [suite() / name for name in ("test-not-a-midi-file.mid", "test-c-major-scale.mid")]
    assert main(["info", *map(str, files)]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"deepsym: error: {files[0]}: not a Standard MIDI File "
                                    "(no MThd header) (at byte 0)")
    assert "test-c-major-scale.mid" in captured.out and "8 notes in 1 track" in captured.out


def test_damaged_file_is_shown_with_a_warning_or_refused_when_strict(capsys):
    path = str(suite() / "test-corrupt-file-missing-byte.mid")
    assert main(["info", path]) == 0
    assert "warning:" in capsys.readouterr().out
    assert main(["info", "--strict", path]) == 1
    assert "more bytes than the file holds" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[sys.executable, "-m", "deepsym"], ["deepsym"]],
                         ids=["python -m deepsym", "console script"])
def test_commands_exit_nonzero_without_a_traceback(tmp_path, command):
    missing = tmp_path / "missing.mid"
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not on PATH: install the package (pip install -e .)")
    result = subprocess.run([*command, "info", str(missing)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"deepsym: error: {missing}: cannot read: " \
                                    "No such file or directory"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["info", "--help"]])
def test_help_documents_the_commands(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "info" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly():
    """``deepsym info many.mid | head -1``: no traceback when the reader goes away."""
    files = [str(p) for p in sorted(suite().glob("*.mid"))] * 20
    process = subprocess.Popen([sys.executable, "-m", "deepsym", "info", *files],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
