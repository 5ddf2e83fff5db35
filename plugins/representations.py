"""deepsym's built-in representations, registered like any plugin's."""
from __future__ import annotations

from deepsym.hookspecs import Register, hookimpl
from deepsym.representations.bars import Bars
from deepsym.representations.events import Events
from deepsym.representations.note_duration import NoteDuration
from deepsym.representations.notes4 import Notes4
from deepsym.representations.pianoroll_rep import Pianoroll
from deepsym.representations.remi import Remi
from deepsym.representations.text import Text

REPRESENTATIONS = (Events, Remi, NoteDuration, Pianoroll, Notes4, Bars, Text)


@hookimpl
def register_representations(register: Register) -> None:
    for representation in REPRESENTATIONS:
        register(representation)
