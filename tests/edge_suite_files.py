"""The edge-case MIDI suite (jazz-soft/test-midi-files), which is not in the repository.

It lies in ``$DEEPSYM_TEST_MIDI_FILES``, else in ``../shared/test-midi-files`` beside
the repository. Without it, the tests that read it are skipped with ``REASON``; with
``DEEPSYM_REQUIRE_TEST_MIDI_FILES=1`` (as CI sets it) they fail instead.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest

SUITE = Path(os.environ.get("DEEPSYM_TEST_MIDI_FILES")
             or Path(__file__).resolve().parents[2] / "shared" / "test-midi-files")
REASON = (f"the edge-case MIDI suite is not at {SUITE}: get jazz-soft/test-midi-files on "
          "GitHub, put it at ../shared/test-midi-files or set DEEPSYM_TEST_MIDI_FILES=DIR")
ABSENT = "test-midi-files-absent"  # the parametrized case that stands for the suite's


def suite() -> Path:
    """The suite's folder; skips the calling test when it is absent, or fails it when
    ``DEEPSYM_REQUIRE_TEST_MIDI_FILES=1``."""
    if not SUITE.is_dir():
        if os.environ.get("DEEPSYM_REQUIRE_TEST_MIDI_FILES") == "1":
            pytest.fail(REASON, pytrace=False)
        pytest.skip(REASON)
    return SUITE


def cases(names: Iterable[str]) -> list[str]:
    """Parametrize values: ``names``, plus ``ABSENT`` when the suite is absent, so its
    files are never dropped silently; a test given ``ABSENT`` must call ``suite()``."""
    return [*names] if SUITE.is_dir() else [*names, ABSENT]
