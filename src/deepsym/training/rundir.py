"""The run folder of ``deepsym train``: what it holds and when it may be (re)used.

Layout of ``RUN/``::

    config.json          the run: model name, its config, the training options, seed,
                         processes, corpus path and content identity, budget
    checkpoints/last.pt  the latest checkpoint (every ``checkpoint_every`` steps, at the end)
    checkpoints/best.pt  the checkpoint of the lowest validation loss so far
    log.csv              one row of means every ``log_every`` steps (and at validations)
    log-superseded.csv   rows of steps that a resumed session went back over (see
                         ``deepsym.training.monitor``); absent until a resume does
    tensorboard/         the same scalars for TensorBoard, when it is installed

A new run refuses a folder that holds anything but nothing: another run (named with
what differs), the same run (use ``--resume``) or other files. Resuming refuses a run
whose settings or corpus differ from the ones given; a setting added to deepsym since
the run was saved counts as its default, the value the run had. Nothing is written
before these checks pass; ``config.json`` is replaced atomically. A file that cannot be
written (a read-only folder, a full disk) is a DeepsymError naming it (``writing``); a
checkpoint a resume cannot use is renamed, never deleted (``set_aside``).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deepsym.data.corpus import Corpus
from deepsym.errors import DeepsymError
from deepsym.fileio import write_atomic

FORMAT = "deepsym-run"
VERSION = 1
CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
LOG = "log.csv"
TENSORBOARD = "tensorboard"
#: The fields that make two runs the same run (the budget may change between sessions).
IDENTITY = ("model", "config", "options", "seed", "processes")


def corpus_identity(corpus: Corpus) -> str:
    """The content identity of a corpus: the SHA-1 of its live index (which lists every
    piece's hash, the split seed and fractions)."""
    return hashlib.sha1((corpus.folder / "index.json").read_bytes()).hexdigest()


def read_record(out: Path) -> dict[str, Any] | None:
    """The run described by ``out/config.json``; None when ``out`` is absent or empty.

    Raises DeepsymError when ``out`` is a file, a folder of other things, or holds a
    damaged ``config.json``."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise DeepsymError(f"{out} is a file, not a run folder; choose another --out")
    path = out / CONFIG
    if not path.is_file():
        if any(out.iterdir()):
            raise DeepsymError(f"{out} exists and is not a deepsym run (no {CONFIG}); "
                               "choose another --out")
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeepsymError(f"{path}: unreadable run config ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DeepsymError(f"{path}: not a deepsym run config")
    return record


def field_differences(kind: str, saved: dict[str, Any], mine: dict[str, Any],
                      defaults: dict[str, Any] | None = None) -> list[str]:
    """Each field whose value differs between ``saved`` and ``mine``, in words. A field
    ``saved`` lacks (one added to deepsym since it was saved) counts as its value in
    ``defaults``, the value the run had before the field existed."""
    saved = {**(defaults or {}), **saved}
    return [f"{kind} {k} is {saved.get(k, '(absent)')!r} there, {mine.get(k, '(absent)')!r} "
            f"here" for k in sorted(set(saved) | set(mine)) if saved.get(k) != mine.get(k)]


def differences(stored: dict[str, Any], record: dict[str, Any],
                defaults: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """What makes ``record`` another run than ``stored``, in words; ``defaults`` holds
    the config's and the options' defaults (see ``field_differences``)."""
    found = []
    for key in IDENTITY:
        a, b = stored.get(key), record.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += field_differences(key, a, b, (defaults or {}).get(key))
        elif a != b:
            found.append(f"{key} is {a!r} there, {b!r} here")
    if stored.get("corpus", {}).get("identity") != record["corpus"]["identity"]:
        found.append(f"the corpus differs (there: {stored.get('corpus', {}).get('path')}, "
                     f"here: {record['corpus']['path']}, content changed)")
    return found


def check_new(out: Path, record: dict[str, Any],
              defaults: dict[str, dict[str, Any]] | None = None) -> None:
    """DeepsymError unless ``out`` may hold a new run described by ``record``."""
    stored = read_record(out)
    if stored is None:
        return
    found = differences(stored, record, defaults)
    if found:
        raise DeepsymError(f"{out} holds a different run ({_listed(found)}); choose another "
                           "--out")
    raise DeepsymError(f"{out} already holds this run; continue it with --resume {out} (or "
                       "--auto-resume, which starts it or continues it), or choose another "
                       "--out")


def check_resume(out: Path, record: dict[str, Any],
                 defaults: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The stored record of ``out``, or DeepsymError unless it is the run ``record``."""
    stored = read_record(out)
    if stored is None:
        raise DeepsymError(f"{out} is not a deepsym run (no {CONFIG}); start one with --out")
    found = differences(stored, record, defaults)
    if found:
        raise DeepsymError(f"cannot resume {out}: it holds a different run ({_listed(found)})")
    return stored


def write_record(out: Path, record: dict[str, Any]) -> None:
    """Create ``out`` (and its checkpoints folder) and write ``config.json`` atomically."""
    with writing(out):
        (out / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    with writing(out / CONFIG):
        write_atomic(out / CONFIG,
                     (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """An OSError inside (a read-only folder, a full disk) becomes a DeepsymError that
    names ``path`` and the reason, in one line."""
    try:
        yield
    except OSError as exc:
        raise DeepsymError(f"{path}: cannot write: {exc.strerror or exc}") from None


def set_aside(path: Path) -> Path:
    """Rename ``path`` (a file or folder a resume cannot use) to the first free name of
    ``NAME.unusable``, ``NAME.unusable-2``, ... beside it, and return the new path."""
    aside = path.with_name(f"{path.name}.unusable")
    number = 1
    while aside.exists() or aside.is_symlink():
        number += 1
        aside = path.with_name(f"{path.name}.unusable-{number}")
    with writing(path):
        path.rename(aside)
    return aside


def _listed(found: list[str], most: int = 4) -> str:
    return "; ".join(found[:most]) + (f"; and {len(found) - most} more" if len(found) > most
                                       else "")


__all__ = ["CHECKPOINTS", "CONFIG", "IDENTITY", "LOG", "TENSORBOARD", "check_new",
           "check_resume", "corpus_identity", "differences", "field_differences",
           "read_record", "set_aside", "write_record", "writing"]
