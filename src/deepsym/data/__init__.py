"""Corpora: MIDI files parsed once into memory-mapped arrays, with splits and statistics.

``build_corpus(sources, path)`` builds or updates a corpus folder; ``Corpus.open(path)``
opens one read-only. Nothing here imports torch.
"""
from deepsym.data.build import build_corpus
from deepsym.data.corpus import BuildResult, Corpus, Piece, Rejected
from deepsym.data.scan import find_midi_files
from deepsym.data.splits import SPLITS, split_of
from deepsym.data.stats import corpus_stats, estimate_key

__all__ = [
    "SPLITS",
    "BuildResult",
    "Corpus",
    "Piece",
    "Rejected",
    "build_corpus",
    "corpus_stats",
    "estimate_key",
    "find_midi_files",
    "split_of",
]
