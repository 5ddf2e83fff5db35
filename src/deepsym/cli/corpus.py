"""``deepsym corpus build SRC... -o CORPUS`` and ``deepsym corpus info CORPUS``."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np

from deepsym.data.build import build_corpus
from deepsym.data.corpus import BuildResult, Corpus, Rejected
from deepsym.data.datasets import materialize
from deepsym.data.splits import SPLITS
from deepsym.data.stats import (
    PITCH_CLASSES,
    CorpusStats,
    corpus_stats,
    tempo_histogram,
    write_plots,
)
from deepsym.errors import CorpusError

MAX_LISTED = 10  # rejected files printed by build; all are in rejected.tsv
BAR = 30  # characters of the longest histogram bar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "corpus", help="build a training corpus from MIDI files, or describe one",
        description="Build a corpus (MIDI files parsed once into memory-mapped arrays, "
                    "split into train/valid/test) or describe a built one.")
    commands = parser.add_subparsers(dest="corpus_command", metavar="SUBCOMMAND",
                                     required=True)
    build = commands.add_parser(
        "build", help="parse MIDI files into a corpus folder (again: only new or changed files)",
        description="Find .mid/.midi files in folders (recursively), files and glob patterns, "
                    "parse them on all cores and write the corpus folder atomically. Files "
                    "that cannot be used are listed with the reason in rejected.tsv.")
    build.add_argument("sources", nargs="*", metavar="SRC",
                       help="a folder, a MIDI file or a glob pattern (quote it)")
    build.add_argument("--dataset", metavar="NAME", default=None,
                       help="also the MIDI files of a registered dataset (jsb, folk, "
                            "ensembles, or a plugin's), written first into $DEEPSYM_DATA/NAME "
                            "(default ~/.cache/deepsym/datasets/NAME); no network needed")
    build.add_argument("-o", "--output", required=True, type=Path, metavar="CORPUS",
                       help="the corpus folder (created; updated if it is a corpus, rebuilt "
                            "whole if it is a damaged one)")
    build.add_argument("--seed", type=int, default=None,
                       help="seed of the split (default: the previous build's, else 0)")
    build.add_argument("--split", default=None, metavar="TRAIN,VALID,TEST",
                       help="fractions of the splits, e.g. 0.8,0.1,0.1 (default: the "
                            "previous build's, else 0.8,0.1,0.1)")
    build.add_argument("--workers", type=int, default=None,
                       help="processes that parse (default: all cores)")
    build.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bar (shown only on a terminal anyway)")
    build.set_defaults(run=run_build)
    info = commands.add_parser(
        "info", help="counts, splits, histograms and rejected files of a corpus",
        description="Describe a built corpus: counts, duration, splits, pitch and "
                    "pitch-class histograms, tempos, time signatures, keys, rejected files.")
    info.add_argument("corpus", type=Path, metavar="CORPUS")
    info.add_argument("--plot", type=Path, metavar="DIR", default=None,
                      help="also write the histograms as PNG files into DIR (needs matplotlib)")
    info.set_defaults(run=run_info)


def run_build(args: argparse.Namespace) -> int:
    fractions = None if args.split is None else _fractions(args.split)
    if not args.sources and args.dataset is None:
        raise CorpusError("name the MIDI sources (SRC...) or a dataset (--dataset NAME)")
    sources = [*args.sources, *([] if args.dataset is None else materialize(args.dataset))]
    result = build_corpus(sources, args.output, seed=args.seed, fractions=fractions,
                          workers=args.workers,
                          progress=not args.quiet and sys.stderr.isatty())
    print(build_summary(result))
    return 0


def run_info(args: argparse.Namespace) -> int:
    corpus = Corpus.open(args.corpus)
    stats = corpus_stats(corpus)
    print(describe(corpus, stats))
    if args.plot is not None:
        for path in write_plots(stats, args.plot):
            print(f"wrote {path}")
    return 0


def _fractions(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise CorpusError(f"--split takes three numbers separated by commas (train, valid, "
                          f"test), e.g. 0.8,0.1,0.1, not {text!r}") from None


def build_summary(result: BuildResult) -> str:
    """What a build did, for people: counts, splits and the first rejected files."""
    lines = [
        f"corpus {result.path} ({result.version}): {_count(result.pieces, 'piece')}, "
        f"{result.notes:,} notes, {_clock(result.seconds_of_music)} of music",
        f"  {_count(result.found, 'MIDI file')} found: {result.parsed} parsed, "
        f"{result.reused} reused; "
        f"rejected {_rejections(result.rejected)}; {result.elapsed:.1f} s "
        f"(n-gram index {result.index_seconds:.1f} s)",
        "  splits: " + ", ".join(f"{name} {n}" for name, n in result.splits.items()),
    ]
    lines += [f"  rejected {r.path}: {r.reason}" for r in result.rejected[:MAX_LISTED]]
    if len(result.rejected) > MAX_LISTED:
        lines.append(f"  (+{len(result.rejected) - MAX_LISTED} more)")
    if result.rejected:
        lines.append(f"  all rejected files: {result.rejected_tsv}")
    return "\n".join(lines)


def describe(corpus: Corpus, stats: CorpusStats) -> str:
    """``deepsym corpus info``'s text: counts, splits and the distributions."""
    per_piece = stats.seconds / stats.pieces if stats.pieces else 0.0
    lines = [
        f"corpus {corpus.path} ({corpus.version})",
        f"  pieces: {stats.pieces} ({', '.join(f'{n} {stats.splits[n]}' for n in SPLITS)}; "
        f"seed {corpus.seed}, fractions {'/'.join(f'{f:g}' for f in corpus.fractions)})",
        f"  music: {_clock(stats.seconds)} in all, {_clock(per_piece)} per piece on average; "
        f"{stats.notes:,} notes in {_count(stats.tracks, 'track')}",
        f"  rejected: {_rejections(corpus.rejected)}"
        + (f" (listed in {corpus.folder / 'rejected.tsv'})" if corpus.rejected else ""),
        f"  time signatures (pieces): {_common(stats.time_signatures)}",
        f"  keys (pieces, estimated): {_common(stats.keys)}",
    ]
    if stats.pieces:
        q = np.percentile(stats.tempos, [0, 50, 100])
        lines.append(f"  tempo (qpm, longest in force): median {q[1]:.0f}, "
                     f"range {q[0]:.0f}-{q[2]:.0f}")
        counts, edges = tempo_histogram(stats.tempos)
        lines += _bars([f"{a:.0f}-{b:.0f}" for a, b in pairwise(edges)],
                       counts)
    pitches = stats.pitch_histogram
    if pitches.any():
        used = np.flatnonzero(pitches)
        lines.append(f"  pitches (pitched notes): {_pitch(used[0])} to {_pitch(used[-1])}, "
                     f"most common {_pitch(int(np.argmax(pitches)))}")
        octaves = np.bincount(np.arange(128) // 12, weights=pitches).astype(np.int64)
        lines += _bars([f"octave {o - 1}" for o in range(len(octaves))], octaves)
        lines.append("  pitch classes:")
        lines += _bars(list(PITCH_CLASSES), stats.pitch_class_histogram, percent=True)
    return "\n".join(lines)


def _bars(labels: list[str], counts: np.ndarray, percent: bool = False) -> list[str]:
    """Text histogram rows; rows before the first and after the last count are left out."""
    nonzero = np.flatnonzero(counts)
    if len(nonzero) == 0:
        return []
    total, peak = counts.sum(), counts.max()
    width = max(map(len, labels))
    rows = []
    for i in range(nonzero[0], nonzero[-1] + 1):
        value = f"{100 * counts[i] / total:5.1f}%" if percent else f"{counts[i]:>8,}"
        rows.append(f"    {labels[i]:<{width}} {value} {'#' * round(BAR * counts[i] / peak)}")
    return rows


def _rejections(rejected: list[Rejected]) -> str:
    if not rejected:
        return "none"
    kinds = Counter(r.kind for r in rejected)
    return f"{len(rejected)} ({', '.join(f'{n} {k}' for k, n in kinds.most_common())})"


def _common(counter: Counter, n: int = 6) -> str:
    if not counter:
        return "none"
    more = f" (+{len(counter) - n} more)" if len(counter) > n else ""
    return ", ".join(f"{k} {v}" for k, v in counter.most_common(n)) + more


def _pitch(p: int) -> str:
    return f"{p} ({PITCH_CLASSES[p % 12]}{p // 12 - 1})"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _clock(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"
