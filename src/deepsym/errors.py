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


class CorpusError(DeepsymError):
    """A corpus cannot be built or opened: no MIDI files in the sources, a folder that is
    not a corpus, a damaged index, an unknown split or impossible split fractions."""


class PluginError(DeepsymError):
    """A plugin that cannot be loaded, raised while registering, or registered a name
    another plugin already holds."""


class UnknownPluginError(DeepsymError, KeyError):
    """A name that no plugin registered; the message suggests close names and lists all."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class ConfigError(DeepsymError, ValueError):
    """A model configuration that is not a frozen JSON-serializable dataclass, or data that
    does not fit one (unknown or missing field, wrong type)."""


class CheckpointError(DeepsymError):
    """A checkpoint that cannot be read, is not deepsym's, or belongs to another model or
    config; the message names the file and what differs."""


class MissingExtraError(DeepsymError, ImportError):
    """A feature needs packages that are not installed; the message says what to install."""


class AudioError(DeepsymError, ValueError):
    """A SoundFont that cannot be used or an impossible sample rate."""


class PlagiarismError(DeepsymError, ValueError):
    """Impossible options of a plagiarism check (top < 1, a negative tolerance, ...)."""


class SequenceError(DeepsymError, ValueError):
    """An input that is not a 1-D sequence of integers (or of onsets that fit it)."""


class PianorollError(DeepsymError, ValueError):
    """A piano-roll that cannot be made: a bad option, bad notes or a roll too large."""


class PianorollWarning(UserWarning):
    """Notes were left out of a piano-roll (their pitch lies outside the pitch range)."""
