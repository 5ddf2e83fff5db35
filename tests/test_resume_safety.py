"""``deepsym train`` never loses what a run folder holds: ``--resume`` continues from the
newest usable checkpoint (and says which), sets unusable ones aside, keeps every log row
and never replaces ``best.pt`` with an older or worse state; an unwritable or full run
folder fails in one line and leaves the files already written whole.

Full disks are the kernel's own: the temporary file a write goes to is ``/dev/full``,
whose writes fail with ENOSPC.
"""
from __future__ import annotations

import csv
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from music21_corpus import real_midi_files
from test_training import PLUGIN, files_of, read_log, register_tiny

from deepsym.cli import main
from deepsym.data import build_corpus
from deepsym.plugins import manager
from deepsym.training.checkpoint import load_checkpoint

SESSION = ["--batch-size", "4", "--valid-every", "10", "--set", "checkpoint_every=20",
           "--set", "log_every=5", "-q"]


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin() -> Iterator[None]:
    register_tiny()
    try:
        yield
    finally:
        manager().unregister(PLUGIN)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """30 real pieces (Bach chorales and folk tunes), 70/20/10 split."""
    files = real_midi_files()
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(files[:20] + files[-10:], path, workers=1, fractions=(0.7, 0.2, 0.1))
    return path


def train(corpus: Path, run: Path, model: str, *options: str) -> int:
    return main(["train", model, "--corpus", str(corpus), "--out", str(run), *SESSION,
                 *options])


def resume(run: Path, steps: int) -> int:
    return main(["train", "--resume", str(run), "--steps", str(steps), "-q"])


def superseded(run: Path) -> list[dict[str, str]]:
    with (run / "log-superseded.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def full_disk_for(prefixes: tuple[str, ...], monkeypatch) -> None:
    """Temporary files whose names start with one of ``prefixes`` are ``/dev/full``."""
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("prefix", "").startswith(prefixes):
            return os.open("/dev/full", os.O_WRONLY), str(Path(kwargs["dir"]) / ".full.tmp")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def one_error_line(capsys) -> str:
    """The one error line on stderr (notes aside)."""
    lines = [line for line in capsys.readouterr().err.splitlines()
             if not line.startswith("deepsym: note: ")]
    assert len(lines) == 1 and lines[0].startswith("deepsym: error: "), lines
    return lines[0]


# -- resuming --------------------------------------------------------------------------------


def test_resume_without_last_pt_goes_on_from_best_pt_and_loses_nothing(corpus, tmp_path,
                                                                       capsys):
    """The validation loss of tiny-penalized rises: its best checkpoint is step 10's."""
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-penalized", "--steps", "40") == 0
    best = run / "checkpoints" / "best.pt"
    kept = best.read_bytes()
    assert load_checkpoint(best)["step"] == 10
    rows = read_log(run)
    (run / "checkpoints" / "last.pt").unlink()
    capsys.readouterr()

    assert resume(run, 20) == 0
    err = capsys.readouterr().err
    assert f"deepsym: note: resuming {run} at step 10 from best.pt (last.pt is missing)" in err
    assert "deepsym: note: 6 log rows after step 10 moved to log-superseded.csv" in err
    assert best.read_bytes() == kept  # the later validations were worse
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 20
    log = read_log(run)
    assert [r["step"] for r in log] == ["5", "10", "15", "20"]
    assert log[:2] == rows[:2]
    assert superseded(run) == rows[2:]


def test_an_unreadable_last_pt_is_set_aside_and_the_newest_usable_one_is_used(corpus,
                                                                              tmp_path,
                                                                              capsys):
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-penalized", "--steps", "20") == 0
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(b"PK\x03\x04 half a zip")
    capsys.readouterr()
    assert resume(run, 20) == 0
    err = capsys.readouterr().err
    assert (f"deepsym: warning: {last}: not a readable checkpoint" in err
            and "set aside as last.pt.unusable" in err), err
    assert f"resuming {run} at step 10 from best.pt\n" in err
    assert (run / "checkpoints" / "last.pt.unusable").read_bytes() == b"PK\x03\x04 half a zip"
    assert load_checkpoint(last)["step"] == 20


def test_a_last_pt_that_is_a_folder_with_nothing_else_is_refused_in_one_line(corpus,
                                                                             tmp_path,
                                                                             capsys):
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-lstm", "--steps", "5", "--valid-every", "0") == 0
    last = run / "checkpoints" / "last.pt"
    last.unlink()
    last.mkdir()
    before = files_of(run)
    capsys.readouterr()
    assert resume(run, 10) == 1
    err = one_error_line(capsys)
    assert f"cannot resume {run}: no usable checkpoint ({last}: a folder, not a checkpoint " \
           "file)" in err
    assert files_of(run) == before and last.is_dir()


def test_a_run_without_checkpoints_starts_again_and_keeps_its_log(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-lstm", "--steps", "10", "--valid-every", "0") == 0
    rows = read_log(run)
    (run / "checkpoints" / "last.pt").unlink()
    capsys.readouterr()
    assert resume(run, 5) == 0
    err = capsys.readouterr().err
    assert f"deepsym: note: {run / 'checkpoints'} holds no checkpoint; starting again at " \
           "step 0" in err
    assert superseded(run) == rows
    assert [r["step"] for r in read_log(run)] == ["5"]


def test_resuming_from_last_pt_says_so(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-lstm", "--steps", "5", "--valid-every", "0") == 0
    capsys.readouterr()
    assert resume(run, 6) == 0
    assert f"deepsym: note: resuming {run} at step 5 from last.pt\n" in capsys.readouterr().err
    assert not (run / "log-superseded.csv").exists()


# -- unwritable and full run folders --------------------------------------------------------


def test_a_run_folder_that_cannot_be_made_fails_in_one_line(corpus, tmp_path, capsys):
    (tmp_path / "file").write_text("a file, not a folder")
    run = tmp_path / "file" / "run"
    assert train(corpus, run, "tiny-lstm", "--steps", "2") == 1
    assert f"{run}: cannot write: Not a directory" in one_error_line(capsys)


@pytest.mark.parametrize("prefix, name", [(".config.json.", "config.json"),
                                          (".log.csv.", "log.csv"),
                                          (".last.pt.", "checkpoints/last.pt")],
                         ids=["config", "log", "checkpoint"])
def test_a_full_disk_fails_in_one_line_naming_the_file(corpus, tmp_path, capsys,
                                                       monkeypatch, prefix, name):
    run = tmp_path / "run"
    full_disk_for((prefix,), monkeypatch)
    assert train(corpus, run, "tiny-lstm", "--steps", "2", "--valid-every", "0") == 1
    err = one_error_line(capsys)
    assert f"{run / name}: cannot write: No space left on device" in err, err
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_old_one(corpus, tmp_path, capsys,
                                                                 monkeypatch):
    """torch.save on a full disk raises RuntimeError("... inline_container.cc ...")."""
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-lstm", "--steps", "2", "--valid-every", "0") == 0
    last = run / "checkpoints" / "last.pt"
    old = last.read_bytes()

    def full(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 1536 "
                           "vs 1430")

    monkeypatch.setattr(torch, "save", full)
    capsys.readouterr()
    assert resume(run, 4) == 1
    err = one_error_line(capsys)
    assert f"{last}: cannot write: [enforce fail" in err and "unexpected pos" in err, err
    assert last.read_bytes() == old


def test_a_log_row_on_a_full_disk_fails_in_one_line(corpus, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    real_open = Path.open

    def opened(path, mode="r", *args, **kwargs):
        if path.name == "log.csv" and mode == "a":
            return real_open(Path("/dev/full"), mode, *args, **kwargs)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", opened)
    assert train(corpus, run, "tiny-lstm", "--steps", "6", "--valid-every", "0") == 1
    assert f"{run / 'log.csv'}: cannot write: No space left on device" in \
        one_error_line(capsys)


def test_a_read_only_run_folder_fails_in_one_line(corpus, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert train(corpus, run, "tiny-lstm", "--steps", "2", "--valid-every", "0") == 0
    before = files_of(run)

    def read_only(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", read_only)
    capsys.readouterr()
    assert resume(run, 4) == 1
    assert f"{run / 'config.json'}: cannot write: Read-only file system" in \
        one_error_line(capsys)
    assert files_of(run) == before
