"""deepsym's exceptions: one base class, one subclass per kind of failure."""
from __future__ import annotations


class DeepsymError(Exception):
    """Base class of every error deepsym raises on purpose (the CLI prints these in one line)."""


class MidiError(DeepsymError, ValueError):
    """A file or byte string that cannot be read as a Standard MIDI File, or a Score that
    cannot be written as one. ``source`` names the input and ``offset`` the byte, when known."""

    def __init__(self, message: str, source: str | None = None, offset: int | None = None):
        where = f"{source}: " if source else ""
        at = f" (at byte {offset})" if offset is not None else ""
        super().__init__(f"{where}{message}{at}")
        self.source = source
        self.offset = offset


class MidiWarning(UserWarning):
    """A MIDI file was damaged; the lenient reader kept what it could read."""
