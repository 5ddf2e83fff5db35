"""Bad option values fail in one line before any work, with one rule per kind of value in
every command: seeds, budgets, devices and ``--workers``."""
from __future__ import annotations

import argparse

import pytest
import torch
from music21_corpus import real_midi_files

from deepsym.cli import build_parser, main
from deepsym.cli.options import check_workers
from deepsym.data import build_corpus
from deepsym.errors import DeepsymError


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("deepsym: error: ") and err.count("\n") == 1, err
    return err


def commands_with_workers() -> dict[str, list[str]]:
    """Every command (and subcommand) whose parser has ``--workers``, by its words."""
    found: dict[str, list[str]] = {}

    def visit(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if "--workers" in action.option_strings:
                found[" ".join(words)] = words
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, [*words, name])

    visit(build_parser(), [])
    return found


REQUIRED = {"corpus build": ["SRC", "-o", "OUT"], "plagiarism": ["GEN", "--corpus", "C"],
            "evaluate": ["GEN", "--corpus", "C"]}


def test_the_commands_with_workers_are_known():
    assert sorted(commands_with_workers()) == sorted(REQUIRED)


@pytest.mark.parametrize("command", list(REQUIRED))
@pytest.mark.parametrize("count", ["0", "-3"])
def test_every_command_refuses_the_same_worker_counts(command, count, tmp_path, capsys):
    """At least 1 everywhere (1: one at a time); checked before anything is read."""
    places = {"SRC": tmp_path, "OUT": tmp_path / "out", "GEN": tmp_path, "C": tmp_path}
    args = [str(places.get(word, word)) for word in [*command.split(), *REQUIRED[command]]]
    assert build_parser().parse_args([*args, "--workers", count]).workers == int(count)
    assert main([*args, "--workers", count]) == 1
    assert one_error_line(capsys) == f"deepsym: error: workers must be at least 1, not " \
                                     f"{count}\n"
    assert not (tmp_path / "out").exists()


def test_workers_is_one_rule():
    assert check_workers(None) is None and check_workers(1) == 1
    with pytest.raises(DeepsymError, match="workers must be at least 1, not 0"):
        check_workers(0)


@pytest.mark.parametrize("seed", ["-1", str(2**64), str(2**70)])
def test_train_refuses_seeds_outside_64_bits(seed, tmp_path, capsys):
    assert main(["train", "char-rnn", "--corpus", str(tmp_path / "c"), "--out",
                 str(tmp_path / "run"), "--seed", seed]) == 1
    assert f"--seed must be a whole number from 0 to {2**64 - 1}, not {seed}" in \
        one_error_line(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("minutes", ["inf", "nan", "-1"])
def test_train_refuses_endless_or_negative_minutes(minutes, tmp_path, capsys):
    assert main(["train", "char-rnn", "--corpus", str(tmp_path / "c"), "--out",
                 str(tmp_path / "run"), "--minutes", minutes]) == 1
    assert "--minutes must be" in one_error_line(capsys)


@pytest.mark.parametrize("device, message", [
    ("potato", "unknown device 'potato'; use cpu, cuda, cuda:N or mps"),
    ("cuda", "device 'cuda': CUDA is not available here"),
], ids=["unknown", "no-cuda"])
def test_evaluate_run_checks_the_device_like_train(device, message, tmp_path, capsys,
                                                   monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    build_corpus(real_midi_files()[:4], tmp_path / "c", workers=1)
    assert main(["evaluate", "--corpus", str(tmp_path / "c"), "--run", str(tmp_path / "r"),
                 "--device", device]) == 1
    assert message in one_error_line(capsys)
