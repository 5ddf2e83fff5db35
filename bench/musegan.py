"""MuseGAN's jamming, composer and hybrid models beside the real bars (the paper's tables).

    python bench/musegan.py                  # 5 minutes of training for each model
    python bench/musegan.py --minutes 1      # a quick check that everything runs

1. Trains, side by side with ``--threads`` torch threads each, ``musegan`` in each mode
   for ``--minutes`` on the JSB chorales (``deepsym train``, the default config
   otherwise); with ``--paper`` also a hybrid model with the paper's generator and
   critic (transposed convolutions from beats to steps, a critic reading the piano-roll
   alone, no noise on the logits, a sigmoid per pitch; binary neurons kept, which the
   paper's MuseGAN lacks), and with ``--ensembles`` a hybrid model on the ``ensembles``
   corpus with ``rule="family"`` (5 tracks by instrument family).
2. Samples ``--pieces`` phrases (one phrase: the model's 4 bars) from each model and cuts
   every piece of the corpus's **test** split into phrases of the same bars.
3. Per track: empty-bar rate (EB), used pitch classes per bar (UPC), qualified-note
   rate (QN; at 16 steps a bar every note qualifies, so QN2, notes of at least 2 steps,
   is given too), notes per bar, and the tonal distance (TD) of every pair of tracks;
   as in the paper, means over phrases (``deepsym.metrics.multitrack``). Plagiarism:
   the longest run of notes each phrase shares with a piece of the train split (the
   test phrases too, for reference).

Writes ``RESULTS/musegan.md`` (the tables) and ``RESULTS/musegan.json`` (every number,
the machine, the steps done); the runs and pieces stay in ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from deepsym_plugins.musegan_model import MODES
from trainruns import deepsym, train_side_by_side, write_pieces

from deepsym.data import Corpus
from deepsym.evaluation import evaluate
from deepsym.fileio import write_atomic
from deepsym.metrics import multitrack
from deepsym.representations.base import Representation
from deepsym.sampling import load_sampler
from deepsym.training.checkpoint import load_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"
PAPER = ("The paper (Dong et al. 2018, Table 1, LPD-5 training data): EB 8.06 / 8.06 / "
         "19.4 / 24.8 / 10.1 %, UPC 1.71 / 3.08 / 3.28 / 3.38, QN 90.0 / 81.9 / 88.4 / "
         "89.6 %, DP 88.6 %; its hybrid model QN 44.6 / 43.2 / 45.5 / 52.0 %.")
#: the settings that undo our changes to the paper's generator and critic
PAPER_MODEL = ("--set", "time_upsampling=transposed", "--set", 'critic_streams=["roll"]',
               "--set", "logit_noise=0", "--set", "output=notes")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    corpora = {"jsb": out / "jsb"}
    if args.ensembles:
        corpora["ensembles"] = out / "ensembles"
    for dataset, folder in corpora.items():
        if not (folder / "CURRENT").exists():
            deepsym("corpus", "build", "--dataset", dataset, "-o", folder, "-q")
    runs = {mode: ("jsb", out / "runs" / mode, ("--set", f"mode={mode}")) for mode in MODES}
    if args.paper:
        runs["hybrid, the paper's generator and critic"] = ("jsb", out / "runs" / "paper",
                                                            PAPER_MODEL)
    if args.ensembles:
        runs["hybrid, ensembles"] = ("ensembles", out / "runs" / "ensembles",
                                     ("--set", "rule=family", "--set", "n_tracks=5"))
    train_side_by_side([("musegan", corpora[c], run, ("--minutes", args.minutes, *more))
                        for c, run, more in runs.values() if not run.exists()],
                       threads=args.threads, seed=args.seed)
    sets: dict[str, Any] = {}
    for name, (corpus_name, run, _) in runs.items():
        corpus = Corpus.open(corpora[corpus_name])
        sampler = load_sampler(run, seed=args.seed)
        bars = sampler.model.generator.bars
        real = _phrases(corpus, sampler.representation, bars)
        pieces = sampler.sample(args.pieces, bars)
        fake = np.stack([_phrase(sampler.representation.encode(p), bars) for p in pieces])
        if corpus_name not in sets:
            sets[corpus_name] = {"test split": _measure(real, sampler.representation)}
            sets[corpus_name]["test split"].update(_copied(
                write_pieces([sampler.representation.decode(p) for p in real],
                             out / "pieces" / f"{corpus_name}-test", "phrase"), corpus))
        measured = _measure(fake, sampler.representation)
        measured.update(_copied(write_pieces(pieces, out / "pieces" / run.name, "phrase"), corpus))
        measured["steps"] = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
        sets[corpus_name][name] = measured
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "threads": args.threads,
                    "python": platform.python_version(), "torch": torch.__version__},
        "minutes": args.minutes, "seed": args.seed, "pieces": args.pieces, "sets": sets,
        "total_seconds": time.perf_counter() - started,
    }
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "musegan.json", json.dumps(results, indent=2).encode())
    write_atomic(RESULTS / "musegan.md", report(results).encode())
    print((RESULTS / "musegan.md").read_text())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training per model")
    parser.add_argument("--out", type=Path, default=Path("bench-musegan"),
                        help="folder for the corpora, the runs and the pieces (reused)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pieces", type=int, default=64, help="phrases sampled per model")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of each training (they run side by side)")
    parser.add_argument("--paper", action="store_true",
                        help="also a hybrid model with the paper's generator and critic")
    parser.add_argument("--ensembles", action="store_true",
                        help="also a hybrid model on the ensembles corpus (rule=family)")
    return parser


def _phrases(corpus: Corpus, representation: Representation, bars: int) -> np.ndarray:
    """Every whole phrase of ``bars`` bars of the test split's pieces."""
    phrases = []
    for i in corpus.split("test"):
        encoded = representation.encode(corpus.score(i))
        phrases += [encoded[k:k + bars] for k in range(0, len(encoded) - bars + 1, bars)]
    return np.stack(phrases)


def _phrase(encoded: np.ndarray, bars: int) -> np.ndarray:
    """The first ``bars`` bars of an encoded piece, silent ones after its end (a
    generated phrase may end early, or hold no note at all)."""
    phrase = np.zeros((bars, *encoded.shape[1:]), encoded.dtype)
    phrase[:len(encoded)] = encoded[:bars]
    return phrase


def _measure(phrases: np.ndarray, representation: Representation) -> dict[str, Any]:
    """Per track: EB, UPC, QN, QN2, notes per bar, means over the phrases; TD per pair
    of tracks."""
    low = representation.options["pitch_range"][0]

    def mean(values: list[np.ndarray]) -> list[float | None]:
        with np.errstate(all="ignore"):
            stacked = np.stack(values)
            counted = (~np.isnan(stacked)).sum(0)
            means = np.where(counted > 0, np.nansum(stacked, 0) / np.maximum(counted, 1),
                             np.nan)
        return [None if np.isnan(v) else float(v) for v in means.ravel()]

    tracks = phrases.shape[2]
    td = mean([multitrack.tonal_distance_pairs(p, low) for p in phrases])
    return {
        "phrases": len(phrases),
        "EB": mean([multitrack.empty_bar_rate(p) for p in phrases]),
        "UPC": mean([multitrack.used_pitch_classes(p, low) for p in phrases]),
        "QN": mean([multitrack.qualified_note_rate(p) for p in phrases]),
        "QN2": mean([multitrack.qualified_note_rate(p, min_steps=2) for p in phrases]),
        "notes per bar": mean([multitrack.notes_per_bar(p) for p in phrases]),
        "TD": {f"{a + 1}-{b + 1}": td[a * tracks + b]
               for a in range(tracks) for b in range(a + 1, tracks)},
        "density": float(phrases.mean()),
    }


def _copied(folder: Path, corpus: Corpus) -> dict[str, float]:
    """The longest run of notes each phrase shares with a training piece: mean, max."""
    runs = [max((m.run_notes for m in r.matches), default=0)
            for r in evaluate(folder, corpus, top=1, index=False).plagiarism]  # short runs too
    return {"copied_run_mean": float(np.mean(runs)), "copied_run_max": int(max(runs))}


def report(results: dict[str, Any]) -> str:
    """Per corpus: a table of EB, UPC, QN (per track), then TD per pair and plagiarism."""
    lines = []
    for corpus, sets in results["sets"].items():
        tracks = len(next(iter(sets.values()))["EB"])
        names = "/".join(str(k + 1) for k in range(tracks))
        lines += [f"### {corpus}", "",
                  f"| set | phrases | EB % (tracks {names}) | UPC | QN % | QN2 % | notes per bar | "
                  "density % | TD (pairs) | longest copied run (mean / max) |", "|---" * 10 + "|"]
        for name, m in sets.items():
            label = name if "steps" not in m else f"{name} ({m['steps']} rounds)"
            td = ", ".join(f"{pair}: {_num(v)}" for pair, v in m["TD"].items())
            lines.append(
                f"| {label} | {m['phrases']} | {_row(m['EB'], 100)} | {_row(m['UPC'])} | "
                f"{_row(m['QN'], 100)} | {_row(m['QN2'], 100)} | {_row(m['notes per bar'])} | "
                f"{100 * m['density']:.2f} | "
                f"{td} | {m['copied_run_mean']:.1f} / {m['copied_run_max']} |")
        lines.append("")
    return "\n".join([*lines, PAPER, ""])


def _row(values: list[float | None], scale: float = 1.0) -> str:
    return " / ".join(_num(v, scale) for v in values)


def _num(value: float | None, scale: float = 1.0) -> str:
    return "n/a" if value is None else f"{value * scale:.3g}"


if __name__ == "__main__":
    raise SystemExit(main())
