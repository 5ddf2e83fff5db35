"""Fixtures shared by the test modules."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module's tests: the machine's cores are shared, and tiny
    models gain nothing from more (``pytestmark = pytest.mark.usefixtures(...)``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test (datasets install offline)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the code under test tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="session")
def chorales_and_folk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small corpus of 12 chorales and 12 short folk tunes (some of fewer notes than a
    training crop, so that batches hold different numbers of real steps)."""
    from music21_corpus import real_midi_files

    from deepsym.data import build_corpus

    files = real_midi_files()
    chorales = [p for p in files if p.name.startswith("bach")][:12]
    folk = [p for p in files if p.name.startswith("folk")][:12]
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(chorales + folk, path, workers=1, fractions=(0.8, 0.2, 0.0))
    return path
