"""deepsym's built-in datasets (music21's corpus, offline), registered like any plugin's.

Each is ``function(root) -> list[Path]``: it writes the dataset's MIDI files into folder
``root`` the first time (music21 imported only then) and returns their paths.
"""
from __future__ import annotations

from deepsym.data.datasets import ensemble_scores, folk_tunes, jsb_chorales
from deepsym.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    register(jsb_chorales, name="jsb")
    register(folk_tunes, name="folk")
    register(ensemble_scores, name="ensembles")
