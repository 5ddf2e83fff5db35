"""``deepsym corpus build`` when things go wrong: a disk that is full or read-only, inputs
without one usable MIDI file, a damaged corpus to rebuild and a user's folder to spare.
Each is one error line (exit 1) and leaves what was there before as it was."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import pytest

import deepsym
from deepsym.cli import main
from deepsym.data import Corpus
from deepsym.data.corpus import CURRENT
from deepsym.score import Score, Track

NOT_MIDI = "not a Standard MIDI File (no MThd header) (at byte 0)"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Three small MIDI files in a folder."""
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(3):
        score = Score(tracks=[Track(notes=[(0, 480, 60 + i, 64), (480, 480, 67, 64)])])
        deepsym.write_midi(score, folder / f"piece{i}.mid")
    return folder


def build(src: Path | str, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``deepsym corpus build SRC -o OUT``: the exit status and stderr (stdout must be empty
    when it fails)."""
    status = main(["corpus", "build", str(src), "-o", str(out), "--workers", "1"])
    captured = capsys.readouterr()
    if status:
        assert captured.out == ""
    return status, captured.err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def os_error(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def plant_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next build's notes.npy the full disk /dev/full (real ENOSPC on write)."""
    mkdtemp = tempfile.mkdtemp

    def staging(*args, **kwargs):
        folder = mkdtemp(*args, **kwargs)
        os.symlink("/dev/full", Path(folder) / "notes.npy")
        return folder
    monkeypatch.setattr(tempfile, "mkdtemp", staging)


# -- full or read-only disks -----------------------------------------------------------


def test_output_under_a_regular_file_is_one_error_line(src, tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    out = tmp_path / "file" / "corpus"
    assert build(src, out, capsys) == \
        (1, f"deepsym: error: {out}: cannot write the corpus: Not a directory\n")
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.parametrize("fault", ["disk full on write", "disk full on fsync",
                                   "read-only on rename", "read-only on switch"])
def test_a_build_that_cannot_write_keeps_the_old_corpus(fault, src, tmp_path, capsys,
                                                        monkeypatch):
    out = tmp_path / "corpus"
    assert build(src, out, capsys)[0] == 0
    before = snapshot(out)
    deepsym.write_midi(Score(tracks=[Track(notes=[(0, 9, 70, 9)])]), src / "new.mid")
    code = errno.EROFS if fault.startswith("read-only") else errno.ENOSPC
    if fault == "disk full on write":
        plant_full_disk(monkeypatch)
    else:
        call = {"disk full on fsync": "fsync", "read-only on rename": "rename",
                "read-only on switch": "replace"}[fault]
        monkeypatch.setattr(os, call, os_error(code))
    assert build(src, out, capsys) == \
        (1, f"deepsym: error: {out}: cannot write the corpus: {os.strerror(code)}\n")
    monkeypatch.undo()
    assert snapshot(out) == before  # no part of the failed build is left
    assert len(Corpus.open(out)) == 3


def test_a_new_corpus_that_cannot_be_written_leaves_no_folder(src, tmp_path, capsys,
                                                               monkeypatch):
    plant_full_disk(monkeypatch)
    out = tmp_path / "new" / "corpus"
    assert build(src, out, capsys) == \
        (1, f"deepsym: error: {out}: cannot write the corpus: No space left on device\n")
    assert not (tmp_path / "new").exists()


# -- nothing usable -------------------------------------------------------------------------


def test_a_single_file_that_is_not_midi_is_an_error(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not music")
    out = tmp_path / "corpus"
    assert build(text, out, capsys) == \
        (1, f"deepsym: error: no MIDI file could be used: {text.resolve()}: {NOT_MIDI}\n")
    assert not out.exists()


def test_a_folder_of_unusable_files_is_an_error_naming_the_first_ones(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    deepsym.write_midi(Score(tempos=[(0, 100.0)]), bad / "a-empty.mid")
    for i in range(4):
        (bad / f"b{i}.mid").write_text(f"garbage {i}")
    out = tmp_path / "corpus"
    root = bad.resolve()
    assert build(bad, out, capsys) == (1, (
        f"deepsym: error: no MIDI file could be used: {root / 'a-empty.mid'}: no notes; "
        f"{root / 'b0.mid'}: {NOT_MIDI}; {root / 'b1.mid'}: {NOT_MIDI} (+2 more)\n"))
    assert not out.exists()


@pytest.mark.parametrize("case", ["empty folder", "folder without MIDI files"])
def test_a_folder_without_midi_files_is_an_error(case, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    if case == "folder without MIDI files":
        (folder / "notes.txt").write_text("not music")
        (folder / "sub").mkdir()
    out = tmp_path / "corpus"
    assert build(folder, out, capsys) == \
        (1, f"deepsym: error: no MIDI files (.mid, .midi) found in {folder}\n")
    assert not out.exists()


def test_rebuilding_from_unusable_files_keeps_the_old_corpus(src, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert build(src, out, capsys)[0] == 0
    before = snapshot(out)
    for f in src.iterdir():
        f.write_text(f"garbage {f.name}")
    status, err = build(src, out, capsys)
    assert status == 1 and err.startswith("deepsym: error: no MIDI file could be used: ")
    assert snapshot(out) == before


# -- damaged corpora ------------------------------------------------------------------------


def damage(out: Path, how: str) -> None:
    version = out / "v000001"
    if how == "truncated array":
        with open(version / "notes.npy", "r+b") as f:
            f.truncate(200)
    elif how == "index deleted":
        (version / "index.json").unlink()
    elif how == "garbage index":
        (version / "index.json").write_text("xx{")
    elif how == "index of the wrong shape":
        (version / "index.json").write_text("[]")
    elif how == "index without pieces":
        index = json.loads((version / "index.json").read_text())
        del index["pieces"]
        (version / "index.json").write_text(json.dumps(index))
    elif how == "version folder deleted":
        for f in version.iterdir():
            f.unlink()
        version.rmdir()
    elif how == "garbage CURRENT":
        (out / CURRENT).write_text("xx\n")


@pytest.mark.parametrize("how", ["truncated array", "index deleted", "garbage index",
                                 "index of the wrong shape", "index without pieces",
                                 "version folder deleted", "garbage CURRENT"])
def test_a_damaged_corpus_says_rebuild_it_and_a_rebuild_replaces_it(how, src, tmp_path,
                                                                     capsys):
    out = tmp_path / "corpus"
    assert build(src, out, capsys)[0] == 0
    (out / "notes-of-mine.txt").write_text("kept")
    damage(out, how)
    assert main(["corpus", "info", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"deepsym: error: {out}") and err.endswith("; rebuild it\n")
    assert err.count("\n") == 1
    assert build(src, out, capsys)[0] == 0
    corpus = Corpus.open(out)
    assert len(corpus) == 3
    assert sorted(os.listdir(out)) == [CURRENT, "notes-of-mine.txt", corpus.version]


def test_a_failed_rebuild_leaves_a_damaged_corpus_as_it_was(src, tmp_path, capsys,
                                                            monkeypatch):
    out = tmp_path / "corpus"
    assert build(src, out, capsys)[0] == 0
    damage(out, "garbage CURRENT")
    before = snapshot(out)
    monkeypatch.setattr(os, "replace", os_error(errno.EROFS))
    assert build(src, out, capsys)[0] == 1
    monkeypatch.undo()
    assert snapshot(out) == before


@pytest.mark.parametrize("folder", ["leveldb", "a lone CURRENT"])
def test_a_folder_that_is_not_a_corpus_is_never_overwritten(folder, src, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / CURRENT).write_text("MANIFEST-000001\n")
    if folder == "leveldb":
        (mine / "MANIFEST-000001").write_bytes(b"\x01\x02")
        (mine / "000003.log").write_bytes(b"")
    before = snapshot(mine)
    assert build(src, mine, capsys) == (1, (
        f"deepsym: error: {mine} is neither empty nor a deepsym corpus; choose a new or "
        "empty folder for the corpus\n"))
    assert snapshot(mine) == before and sorted(os.listdir(mine)) == sorted(before)
