"""Does ``deepsym demo`` steer? A fresh demo, then its model measured against issue #12's
targets, and the sweep that chose the demo's sampling defaults.

    python bench/steering.py                 # the full measurement: 5 minutes of training
    python bench/steering.py --minutes 1.5   # a quick check that everything runs

1. Runs ``deepsym demo`` (``deepsym.demo.run_demo``) into ``OUT/demo``: the JSB corpus,
   ``--minutes`` of training on the CPU, its six pieces and its report.
2. Sweep (on the **valid** split): for each temperature x polyphony limit, one piece per
   valid piece (``--sweep-pieces`` of them, evenly spaced), conditioned on that piece's
   own condition features; the four metrics' means beside the valid pieces' means; the
   setting with the smallest mean relative deviation is the one to use.
3. Targets, with the demo's own defaults (``deepsym.demo.TEMPERATURE``,
   ``MAX_POLYPHONY``):

   - keys: one piece in each of 8 keys; the estimated key (``deepsym.steering``) must
     be the key asked or its relative, with r >= 0.7, for at least 7;
   - pitch: 4 pieces asked "high" and 4 "low" (in 4 keys); the mean pitch of the high
     ones minus that of the low ones >= 7 semitones;
   - density: 4 "sparse" and 4 "dense" (the ends of the corpus's density range); the
     dense ones' mean onsets per beat >= 1.5 x the sparse ones';
   - a set of 16 pieces, each conditioned on the features of a piece of the test split
     (cycled if it has fewer): scale consistency, pitch-class entropy, polyphony and
     groove consistency each within 10% of the test split's (``deepsym.evaluation``);
   - originality: no piece of steps 3 copies a run of more than 8 notes from a training
     piece (``deepsym.metrics.originality``, longest common substring of the notes).
4. The model's cross-entropy per token on the test split (``deepsym evaluate --run``).

Writes ``RESULTS/steering.md`` (the tables) and ``RESULTS/steering.json`` (every number,
the machine, the budget). The machine's load changes how many steps a budget in minutes
buys, so the JSON records the steps done.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepsym.data import Corpus
from deepsym.demo import (
    MAX_POLYPHONY,
    TEMPERATURE,
    decoding,
    idle_cores,
    requested_features,
    run_demo,
)
from deepsym.evaluation import evaluate, held_out_loss
from deepsym.fileio import write_atomic
from deepsym.metrics.summary import registered_metrics
from deepsym.midi import write_midi
from deepsym.representations.base import CONDITIONS
from deepsym.sampling import Controls, Sampler, load_sampler
from deepsym.score import Score
from deepsym.steering import Measured, Request, key_agrees, markdown_table, measure

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ("C major", "A major", "Eb major", "F# major", "E minor", "G minor", "B minor",
        "F minor")  # 8 tonics, 4 of each mode, none the relative of another
PAIR_KEYS = ("C major", "G major", "F major", "D minor")  # the keys of the pitch, density pairs
METRIC_NAMES = ("scale_consistency", "pitch_class_entropy", "polyphony", "groove_consistency")
TEMPERATURES = (0.7, 0.8, 0.9, 1.0)
POLYPHONY_LIMITS = (None, 4)
MIN_KEY_R = 0.7
MAX_STEPS = 6000  # tokens per piece at most (30 s of chorale is about 900)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    threads = args.threads or idle_cores()
    torch.set_num_threads(threads)
    demo = run_demo(args.out / "demo", minutes=args.minutes, seed=args.seed,
                    corpus=args.corpus, seconds=args.seconds, threads=threads)
    corpus = Corpus.open(demo.corpus)
    sampler = load_sampler(demo.run, seed=args.seed, device="cpu")
    sweep = decoding_sweep(sampler, corpus, args.sweep_pieces, args.seconds)
    print("sweep done", flush=True)
    groups = steered_groups(sampler, corpus, args.seconds, args.out / "pieces")
    loss = held_out_loss(demo.run, corpus)
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "threads": threads,
                    "load_average": os.getloadavg()[0], "python": platform.python_version(),
                    "torch": torch.__version__},
        "budget_minutes": args.minutes, "seed": args.seed, "seconds": args.seconds,
        "steps": demo.steps, "train_seconds": demo.train_seconds,
        "valid_loss": demo.valid_loss, "run": str(demo.run),
        "test_loss": {"nats_per_token": loss.loss, "uniform": loss.uniform,
                      "tokens": loss.steps, "pieces": loss.pieces, "split": loss.split},
        "defaults": {"temperature": TEMPERATURE, "max_polyphony": MAX_POLYPHONY},
        "demo_pieces": [{"name": p.name, "asked": asdict(p.asked),
                         "measured": asdict(p.measured)} for p in demo.pieces],
        "sweep": sweep, **targets(groups, corpus),
        "total_seconds": time.perf_counter() - started,
    }
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "steering.json", json.dumps(results, indent=2).encode())
    write_atomic(RESULTS / "steering.md", report(results, demo).encode())
    print((RESULTS / "steering.md").read_text())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="minutes of training (the demo's default: 5)")
    parser.add_argument("--out", type=Path, default=Path("bench-steering"),
                        help="a new or empty folder for the demo and the pieces")
    parser.add_argument("--corpus", type=Path, help="a built corpus instead of JSB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each piece")
    parser.add_argument("--threads", type=int,
                        help="torch threads (default: the idle cores, as the demo chooses)")
    parser.add_argument("--sweep-pieces", type=int, default=8,
                        help="valid pieces whose conditions each sweep setting follows")
    return parser


# -- drawing -----------------------------------------------------------------------------


def features_of(score: Score, names: Sequence[str]) -> dict[str, np.ndarray]:
    """A piece's own condition features (in their units), as a request."""
    return {name: CONDITIONS[name][0](score) for name in names}


def draw(sampler: Sampler, requests: Sequence[dict[str, np.ndarray]], seconds: float,
         temperature: float, max_polyphony: int | None) -> list[Score]:
    """One piece per request, drawn with the given controls."""
    pieces = []
    for features in requests:
        sampler.controls = Controls(temperature, conditions=features,
                                    max_polyphony=max_polyphony)
        pieces.append(sampler.sample_seconds(1, seconds, max_steps=MAX_STEPS)[0])
    return pieces


def metric_means(scores: Sequence[Score]) -> dict[str, float]:
    functions = {metric.name: metric.function for metric in registered_metrics()}
    return {name: float(np.nanmean([functions[name](s) for s in scores]))
            for name in METRIC_NAMES}


def deviation(generated: dict[str, float], held_out: dict[str, float]) -> dict[str, float]:
    """``generated / held_out - 1`` per metric."""
    return {name: generated[name] / held_out[name] - 1 for name in METRIC_NAMES}


# -- the sweep ---------------------------------------------------------------------------


def decoding_sweep(sampler: Sampler, corpus: Corpus, count: int, seconds: float
                   ) -> dict[str, Any]:
    """Every temperature x polyphony limit, each following the conditions of ``count``
    valid pieces, scored by the mean |relative deviation| of the four metrics."""
    valid = corpus.split("valid")
    chosen = valid[np.linspace(0, len(valid) - 1, min(count, len(valid))).round().astype(int)]
    scores = [corpus.score(int(i)) for i in chosen]
    reference = metric_means([corpus.score(int(i)) for i in valid])
    requests = [features_of(s, sampler.representation.conditions) for s in scores]
    rows = []
    for temperature in TEMPERATURES:
        for limit in POLYPHONY_LIMITS:
            means = metric_means(draw(sampler, requests, seconds, temperature, limit))
            off = deviation(means, reference)
            rows.append({"temperature": temperature, "max_polyphony": limit, **means,
                         "mean_abs_deviation": float(np.mean(np.abs(list(off.values()))))})
    best = min(rows, key=lambda row: row["mean_abs_deviation"])
    return {"valid_pieces": len(valid), "followed": len(chosen), "valid": reference,
            "rows": rows, "best": {"temperature": best["temperature"],
                                   "max_polyphony": best["max_polyphony"]}}


# -- the targets -------------------------------------------------------------------------


def steered_groups(sampler: Sampler, corpus: Corpus, seconds: float, folder: Path
                   ) -> dict[str, tuple[list[Request], list[Path]]]:
    """The pieces of each target, written as MIDI under ``folder``/group/."""
    representation = sampler.representation
    asks = {"keys": [{"key": key} for key in KEYS],
            "high": [{"key": key, "pitch": "high"} for key in PAIR_KEYS],
            "low": [{"key": key, "pitch": "low"} for key in PAIR_KEYS],
            "sparse": [{"key": key, "density": "sparse"} for key in PAIR_KEYS],
            "dense": [{"key": key, "density": "dense"} for key in PAIR_KEYS]}
    groups = {}
    for group, requests in asks.items():
        made = [requested_features(ask, representation) for ask in requests]
        scores = draw(sampler, [features for features, _ in made], seconds, TEMPERATURE,
                      MAX_POLYPHONY)
        groups[group] = ([asked for _, asked in made], _write(scores, folder / group))
    test = corpus.split("test")
    held = [corpus.score(int(test[k % len(test)])) for k in range(16)]
    scores = draw(sampler, [features_of(s, representation.conditions) for s in held],
                  seconds, TEMPERATURE, MAX_POLYPHONY)
    groups["set"] = ([Request() for _ in scores], _write(scores, folder / "set"))
    return groups


def _write(scores: Sequence[Score], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{k:02d}.mid" for k in range(len(scores))]
    for score, path in zip(scores, paths, strict=True):
        write_midi(score, path)
    return paths


def targets(groups: dict[str, tuple[list[Request], list[Path]]], corpus: Corpus
            ) -> dict[str, Any]:
    """Every target's value, threshold and verdict, and the pieces' measurements."""
    measured = {group: [measure(_read(p)) for p in paths] for group, (_, paths) in groups.items()}
    keys = [key_agrees(asked.key, got.key) and got.key_r >= MIN_KEY_R
            for asked, got in zip(groups["keys"][0], measured["keys"], strict=True)]
    pitch = _mean(measured["high"], "mean_pitch") - _mean(measured["low"], "mean_pitch")
    density = _mean(measured["dense"], "density") / _mean(measured["sparse"], "density")
    evaluation = evaluate(groups["set"][1], corpus, top=1, index=False)  # short runs too
    generated = {name: evaluation.generated[name][0] for name in METRIC_NAMES}
    held_out = {name: evaluation.held_out[name][0] for name in METRIC_NAMES}
    steered = [p for group, (_, paths) in groups.items() if group != "set" for p in paths]
    copied = [r.matches[0].run_notes for r in evaluation.plagiarism
              + evaluate(steered, corpus, top=1, index=False).plagiarism if r.matches]
    rows = [_row("keys agreeing (r >= 0.7), of 8", sum(keys), ">=", 7),
            _row("mean pitch, high minus low (semitones)", pitch, ">=", 7.0),
            _row("density, dense / sparse", density, ">=", 1.5)]
    rows += [_row(f"{name}: generated / held-out - 1", off, "within", 0.10)
             for name, off in deviation(generated, held_out).items()]
    rows.append(_row("longest copied run (notes)", max(copied, default=0), "<=", 8))
    return {"targets": rows, "set_metrics": {"generated": generated, "held_out": held_out,
                                             "held_out_split": evaluation.split},
            "pieces": {group: [{"asked": asdict(asked), "measured": asdict(got)}
                               for asked, got in zip(groups[group][0], measured[group],
                                                     strict=True)]
                       for group in groups}}


def _read(path: Path) -> Score:
    from deepsym.midi import read_midi

    return read_midi(path)


def _mean(measured: Sequence[Measured], field: str) -> float:
    return float(np.mean([getattr(m, field) for m in measured]))


def _row(name: str, value: float, relation: str, threshold: float) -> dict[str, Any]:
    """A target: met, and by how much it is missed (0 when met)."""
    if relation == ">=":
        missed = max(0.0, threshold - value)
    elif relation == "<=":
        missed = max(0.0, value - threshold)
    else:  # within +-threshold
        missed = max(0.0, abs(value) - threshold)
    return {"target": name, "value": float(value), "relation": relation,
            "threshold": threshold, "met": missed == 0, "missed_by": float(missed)}


# -- the report --------------------------------------------------------------------------


def report(results: dict[str, Any], demo: Any) -> str:
    """The Markdown tables of a run."""
    lines = ["# Steering and sampling defaults (bench/steering.py)", "",
             f"{results['steps']} training steps in {results['train_seconds'] / 60:.1f} "
             f"minutes (budget {results['budget_minutes']:g}) on "
             f"{results['machine']['cores']} cores ({results['machine']['threads']} torch "
             f"threads); pieces of {results['seconds']:g} s; {decoding()}. Cross-entropy "
             f"on the {results['test_loss']['split']} split: "
             f"{results['test_loss']['nats_per_token']:.3f} nats per token (uniform "
             f"{results['test_loss']['uniform']:.3f}).", "",
             "## Targets", "", "| target | value | wanted | met | missed by |",
             "|---|---:|---|---|---:|"]
    for row in results["targets"]:
        lines.append(f"| {row['target']} | {row['value']:.3g} | {row['relation']} "
                     f"{row['threshold']:g} | {'yes' if row['met'] else 'no'} | "
                     f"{row['missed_by']:.3g} |")
    sweep = results["sweep"]
    lines += ["", f"## Sweep on the valid split ({sweep['followed']} of its "
              f"{sweep['valid_pieces']} pieces' conditions followed per setting)", "",
              "| temperature | max polyphony | " + " | ".join(METRIC_NAMES)
              + " | mean abs. deviation |", "|---:|---:|" + "---:|" * (len(METRIC_NAMES) + 1),
              "| valid split | | " + " | ".join(f"{sweep['valid'][n]:.3f}" for n in METRIC_NAMES)
              + " | |"]
    for row in sweep["rows"]:
        lines.append(f"| {row['temperature']} | {row['max_polyphony'] or '-'} | "
                     + " | ".join(f"{row[n]:.3f}" for n in METRIC_NAMES)
                     + f" | {row['mean_abs_deviation']:.3f} |")
    best = sweep["best"]
    lines += ["", f"Best: temperature {best['temperature']}, max polyphony "
              f"{best['max_polyphony'] or 'none'}.", "", "## The demo's pieces", "",
              markdown_table([p.name for p in demo.pieces], [p.asked for p in demo.pieces],
                             [p.measured for p in demo.pieces])]
    for group, pieces in results["pieces"].items():
        if group == "set":
            continue
        lines += ["", f"## {group}", "", markdown_table(
            [f"{group}-{k:02d}" for k in range(len(pieces))],
            [Request(**p["asked"]) for p in pieces], [Measured(**p["measured"])
                                                      for p in pieces])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
