"""deepsym: deep-learning generation of symbolic music (MIDI).

The core (MIDI I/O, the Score model) needs only numpy; models arrive with extras.
"""
from deepsym.errors import DeepsymError, MidiError, MidiWarning
from deepsym.lcs import (
    lcs_align,
    lcs_length,
    longest_common_substring,
    timed_common_substring,
    transposed_common_substring,
    transposed_lcs_length,
)
from deepsym.midi import read_midi, write_midi
from deepsym.pianoroll import from_pianoroll, pianoroll
from deepsym.score import Score, Track

__version__ = "0.1.0"

__all__ = [
    "DeepsymError",
    "MidiError",
    "MidiWarning",
    "Score",
    "Track",
    "__version__",
    "from_pianoroll",
    "lcs_align",
    "lcs_length",
    "longest_common_substring",
    "pianoroll",
    "read_midi",
    "timed_common_substring",
    "transposed_common_substring",
    "transposed_lcs_length",
    "write_midi",
]
