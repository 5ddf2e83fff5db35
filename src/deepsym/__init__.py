"""deepsym: deep-learning generation of symbolic music (MIDI).

The core (MIDI I/O, the Score model) needs only numpy; models arrive with extras.
"""
from deepsym.errors import DeepsymError, MidiError, MidiWarning
from deepsym.midi import read_midi, write_midi
from deepsym.score import Score, Track

__version__ = "0.1.0"

__all__ = [
    "DeepsymError",
    "MidiError",
    "MidiWarning",
    "Score",
    "Track",
    "__version__",
    "read_midi",
    "write_midi",
]
