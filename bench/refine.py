"""Duration Net's measured effect: held-out chorales stretched as in training, and
generated pieces, before and after ``refine-duration``.

    python bench/refine.py --run RUN --corpus JSB [--pieces DIR ...]
        [--velocities RUN_V --velocity-corpus C]

1. Every piece of the corpus's test split, stretched by ``stretch_score`` (each gap and
   length by its own factor in 80-120 %, seeded by the piece's index): the mean absolute
   error of the lengths and of the onsets against the real piece, in beats, and the
   share of onsets on the sixteenth-note grid (within 5 % of a step), for the real,
   the stretched and the refined piece.
2. Each folder of generated pieces (``--pieces``): the share of onsets on the grid, the
   qualified-note rate (``deepsym.metrics``) and the length in seconds, before and after.
3. With ``--velocities``: Velocity Net's mean absolute velocity error on the test split
   of ``--velocity-corpus`` (every input velocity set to 64 first), beside the best
   constant, each piece's own mean velocity.

Writes ``RESULTS/refine.md`` and ``RESULTS/refine.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from deepsym_plugins.refine_model import stretch_score

from deepsym.data import Corpus, find_midi_files
from deepsym.data.fit import onsets_on_grid
from deepsym.fileio import write_atomic
from deepsym.midi import read_midi
from deepsym.plugins import manager
from deepsym.refining import load_refiner, refine
from deepsym.score import Score

RESULTS = Path(__file__).resolve().parent / "results"
STRETCH = 0.2
GRID = 4  # steps per beat


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    refiner = load_refiner(args.run)
    corpus = Corpus.open(args.corpus)
    rows = []
    for i in corpus.split("test"):
        real = corpus.score(int(i))
        stretched = stretch_score(real, STRETCH, seed=int(i))
        refined = refine(stretched, [refiner])
        rows.append([*_errors(stretched, real), *_errors(refined, real),
                     *(onsets_on_grid(s, GRID) for s in (real, stretched, refined))])
    held_out = dict(zip(("length_error_before", "onset_error_before", "length_error_after",
                         "onset_error_after", "grid_real", "grid_before", "grid_after"),
                        np.mean(rows, axis=0).tolist(), strict=True))
    qualified = manager().metrics.get("qualified_note_rate")
    generated = {}
    for folder in args.pieces:
        pieces = [read_midi(p) for p in find_midi_files([folder])]
        after = [refine(p, [refiner]) for p in pieces]
        generated[str(folder)] = {
            "pieces": len(pieces),
            "grid_before": float(np.mean([onsets_on_grid(p, GRID) for p in pieces])),
            "grid_after": float(np.mean([onsets_on_grid(p, GRID) for p in after])),
            "qn_before": float(np.mean([qualified(p) for p in pieces])),
            "qn_after": float(np.mean([qualified(p) for p in after])),
            "seconds_before": float(np.mean([p.duration_seconds for p in pieces])),
            "seconds_after": float(np.mean([p.duration_seconds for p in after]))}
    results = {"run": str(args.run), "test_pieces": len(rows), "stretch": STRETCH,
               "held_out": held_out, "generated": generated}
    if args.velocities is not None:
        results["velocity"] = _velocity_errors(load_refiner(args.velocities),
                                               Corpus.open(args.velocity_corpus))
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "refine.json", json.dumps(results, indent=2).encode())
    write_atomic(RESULTS / "refine.md", report(results).encode())
    print((RESULTS / "refine.md").read_text())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a refine-duration run")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--pieces", type=Path, nargs="*", default=[],
                        help="folders of generated pieces")
    parser.add_argument("--velocities", type=Path, help="a refine-velocity run")
    parser.add_argument("--velocity-corpus", type=Path,
                        help="the corpus with velocities it is measured on")
    return parser


def _velocity_errors(refiner, corpus: Corpus) -> dict[str, float]:
    """Mean over the test pieces of the mean |velocity error|, refined and constant."""
    refined, constant = [], []
    for i in corpus.split("test"):
        real = corpus.score(int(i))
        flat = dataclasses.replace(real, tracks=[
            t.replace(notes=_with_velocity(t.notes, 64)) for t in real.tracks])
        truth = np.concatenate([t.notes["velocity"] for t in real.tracks]).astype(float)
        got = np.concatenate([t.notes["velocity"] for t in
                              refine(flat, [refiner]).tracks]).astype(float)
        refined.append(np.abs(got - truth).mean())
        constant.append(np.abs(truth - truth.mean()).mean())
    return {"pieces": len(refined), "refined": float(np.mean(refined)),
            "constant": float(np.mean(constant))}


def _with_velocity(notes: np.ndarray, velocity: int) -> np.ndarray:
    out = notes.copy()
    out["velocity"] = velocity
    return out


def _errors(score: Score, real: Score) -> tuple[float, float]:
    """Mean |length difference| and |onset difference| in beats (the same notes)."""
    a = np.concatenate([t.notes for t in score.tracks])
    b = np.concatenate([t.notes for t in real.tracks])
    tpb = real.ticks_per_beat
    return (float(np.mean(np.abs(a["duration"].astype(float) - b["duration"]))) / tpb,
            float(np.mean(np.abs(a["start"].astype(float) - b["start"]))) / tpb)


def report(results: dict) -> str:
    h = results["held_out"]
    lines = [f"Held-out chorales ({results['test_pieces']}), each gap and length stretched "
             f"by its own factor in {1 - STRETCH:.0%}-{1 + STRETCH:.0%}:", "",
             "| | length error (beats) | onset error (beats) | onsets on the 1/16 grid |",
             "|---|---|---|---|",
             f"| real | 0 | 0 | {h['grid_real']:.1%} |",
             f"| stretched | {h['length_error_before']:.4f} | {h['onset_error_before']:.3f} | "
             f"{h['grid_before']:.1%} |",
             f"| refined | {h['length_error_after']:.4f} | {h['onset_error_after']:.3f} | "
             f"{h['grid_after']:.1%} |"]
    if results["generated"]:
        lines += ["", "| generated pieces | onsets on the grid, before -> after | "
                  "qualified-note rate, before -> after | seconds, before -> after |",
                  "|---|---|---|---|"]
        lines += [f"| {name} ({g['pieces']}) | {g['grid_before']:.1%} -> {g['grid_after']:.1%}"
                  f" | {g['qn_before']:.3f} -> {g['qn_after']:.3f} | "
                  f"{g['seconds_before']:.1f} -> {g['seconds_after']:.1f} |"
                  for name, g in results["generated"].items()]
    if "velocity" in results:
        v = results["velocity"]
        lines += ["", f"Velocity Net on {v['pieces']} held-out pieces: mean absolute velocity "
                  f"error {v['refined']:.2f}, against {v['constant']:.2f} for the best "
                  "constant (each piece's own mean)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
