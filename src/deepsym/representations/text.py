"""ABC text, one token per character (the Char-RNN / folk-rnn way of writing tunes).

Vocabulary (97 tokens): 0 is the newline, ``1 .. 95`` the printable ASCII characters
``" "`` to ``"~"`` (token ``ord(c) - 31``), 96 (``OTHER``) every other character (accented
letters in titles, tabs), decoded as U+FFFD. A text of newlines and printable ASCII
round-trips exactly; every other character comes back as U+FFFD.

A Score does not hold ABC, so this representation works on ABC text: ``encode`` takes
the text of one tune (``str``), and ``encode_piece(corpus, i)`` reads the ``.abc`` file
kept beside piece ``i``'s MIDI file (``deepsym corpus build --dataset folk`` writes
one per tune). ``decode`` parses the text back with music21 (``pip install
"deepsym[datasets]"``) into a Score; ``decode_text`` gives the text itself.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deepsym.errors import DeepsymError, MissingExtraError
from deepsym.midi import read_midi
from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.timing import checked_tokens
from deepsym.score import Score

if TYPE_CHECKING:
    from deepsym.data.corpus import Corpus

NEWLINE = 0
FIRST_PRINTABLE, LAST_PRINTABLE = 32, 126
OTHER = LAST_PRINTABLE - FIRST_PRINTABLE + 2
VOCAB_SIZE = OTHER + 1
REPLACEMENT = "\ufffd"

_TOKEN_OF_CODE = np.full(LAST_PRINTABLE + 1, OTHER, np.int64)
_TOKEN_OF_CODE[ord("\n")] = NEWLINE
_TOKEN_OF_CODE[FIRST_PRINTABLE:] = np.arange(1, OTHER)
_CHARACTERS = np.array(["\n", *map(chr, range(FIRST_PRINTABLE, LAST_PRINTABLE + 1)),
                        REPLACEMENT])


def to_text(abc: str) -> np.ndarray:
    """ABC text as character tokens.

    Parameters
    ----------
    abc : str

    Returns
    -------
    np.ndarray
        Shape ``(characters,)``, int64 tokens in 0..96 (see the module docstring).
    """
    if not isinstance(abc, str):
        raise DeepsymError(f"the text representation encodes ABC text (str), not "
                           f"{type(abc).__name__}; a Score does not hold its ABC")
    codes = np.frombuffer(abc.encode("utf-32-le"), np.uint32)
    inside = codes <= LAST_PRINTABLE
    tokens = np.full(len(codes), OTHER, np.int64)
    tokens[inside] = _TOKEN_OF_CODE[codes[inside]]
    return tokens


def from_text(tokens: np.ndarray) -> str:
    """Character tokens back to text (``OTHER`` as U+FFFD).

    Parameters
    ----------
    tokens : np.ndarray
        Shape ``(characters,)``, integers in 0..96.
    """
    return "".join(_CHARACTERS[checked_tokens(tokens, VOCAB_SIZE, "text")])


def abc_to_midi(abc: str) -> bytes:
    """One ABC tune as the bytes of a MIDI file, written by music21.

    Works around music21 9's ABC reader sharing one TimeSignature object between
    measures (its MIDI writer then refuses every tune with a change of meter).
    """
    try:
        from music21 import converter, midi
    except ImportError:
        raise MissingExtraError('reading ABC needs music21: pip install "deepsym[datasets]"'
                                ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            stream = converter.parse(abc, format="abc")
            seen: set[int] = set()
            for measure in stream.recurse().getElementsByClass("Measure"):
                meter = measure.timeSignature
                if meter is not None and id(meter) in seen:
                    measure.timeSignature = copy.deepcopy(meter)
                seen.add(id(meter))
            return midi.translate.streamToMidiFile(stream).writestr()
        except Exception as exc:  # music21 raises many kinds on bad ABC
            raise DeepsymError(f"music21 cannot read this ABC tune: "
                               f"{type(exc).__name__}: {exc}") from None


def abc_to_score(abc: str) -> Score:
    """The Score of one ABC tune, as music21 reads and writes it to MIDI (an empty
    Score for a blank text)."""
    if not abc.strip():
        return Score()
    return read_midi(abc_to_midi(abc), name="<abc>")


class Text(Representation):
    """``to_text`` / ``from_text`` as a representation (name ``text``); see the module
    docstring for what it encodes."""

    name = "text"

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("discrete", vocab_size=VOCAB_SIZE,
                                  condition_size=self.condition_size)

    def encode(self, score: str) -> np.ndarray:  # type: ignore[override]
        return to_text(score)

    def encode_piece(self, corpus: Corpus, i: int) -> np.ndarray:
        """The ABC text kept beside piece ``i``'s MIDI file, encoded."""
        path = Path(corpus.pieces[i].path).with_suffix(".abc")
        try:
            return to_text(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DeepsymError(f"{path}: cannot read the ABC text of piece {i} "
                               f"({exc.strerror or exc}); the text representation needs "
                               "a corpus built with --dataset folk") from None

    def decode_text(self, array: np.ndarray) -> str:
        return from_text(array)

    def decode(self, array: np.ndarray) -> Score:
        return abc_to_score(from_text(array))
