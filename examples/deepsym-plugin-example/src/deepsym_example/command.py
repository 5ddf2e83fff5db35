"""``deepsym example-melody FILE...``: the plugin's command."""
from __future__ import annotations

import argparse

from deepsym import read_midi
from deepsym_example.melody import MelodyTokens, conjunct_motion


def run(args: argparse.Namespace) -> int:
    melody = MelodyTokens()
    for path in args.files:
        score = read_midi(path)
        notes = int((melody.encode(score) >= MelodyTokens.FIRST_PITCH).sum())
        print(f"{path}: {notes} melody notes, conjunct motion {conjunct_motion(score):.3f}")
    return 0
