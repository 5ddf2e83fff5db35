"""A model with a pretraining phase (a GAN) beside the test split, its own pretrained
generator and Char-RNN at its best temperature.

    python bench/versus_charrnn.py --model c-rnn-gan   # 5 minutes of training per model
    python bench/versus_charrnn.py --model seqgan --minutes 1   # a quick check
    python bench/versus_charrnn.py --model c-rnn-gan --sweep noise_scale=0.5,0.75,1

1. Trains, side by side with ``--threads`` torch threads each, ``--model`` and
   ``char-rnn`` for ``--minutes`` on the JSB corpus (``deepsym train``; Char-RNN with
   the settings of docs/results.md's cross-entropy table), and ``--model`` for its
   config's ``pretrain_steps`` only: the same seed and data order, so that run is the
   full run's generator at the end of pretraining. Runs already in ``--out`` are reused
   (Char-RNN's is shared by every model).
2. Char-RNN's temperature: ``--pieces`` pieces per temperature of ``TEMPERATURES``,
   measured on the **valid** split; the one whose metrics lie closest to the valid
   pieces' (mean |relative deviation| over ``METRICS``) is its best.
   With ``--sweep NAME=V1,V2,..``, each run of ``--model`` gets the same for one of its
   sampling options (``deepsym sample --opt NAME=V``), e.g. C-RNN-GAN's noise scale.
3. ``--pieces`` pieces of ``--seconds`` from each model (Char-RNN at its best
   temperature, the model at its best option value), measured with every registered
   metric beside the **test** split (``deepsym.evaluation.evaluate``), with
   plagiarism against the train split (the longest run of notes copied from a
   training piece), and the set-level BLEU-4,
   self-BLEU-4, share of repeated 4-grams and distinct pieces
   (``Evaluation.set_metrics``, on pitches).

Writes ``RESULTS/<model>.md`` (the tables) and ``RESULTS/<model>.json`` (every number,
the machine, the steps done); the pieces and runs stay in ``--out``.
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
from trainruns import deepsym, train_side_by_side, write_pieces

from deepsym.data import Corpus
from deepsym.evaluation import Evaluation, evaluate
from deepsym.fileio import write_atomic
from deepsym.plugins import manager
from deepsym.sampling import Controls, Sampler, load_sampler
from deepsym.training.checkpoint import load_checkpoint

RESULTS = Path(__file__).resolve().parent / "results"
# C-RNN-GAN's four (Mogren 2016, section 4: polyphony, scale consistency, repetitions,
# tone span), then pitch-class entropy and the pitch range in notes used
METRICS = ("polyphony", "scale_consistency", "repetitions_2", "repetitions_4",
           "pitch_range", "pitch_class_entropy")
TEMPERATURES = (0.8, 0.9, 1.0)
CHAR_RNN = ("--set", "hidden=256", "--set", "layers=2", "--set", "embedding=64",
            "--set", "sequence_length=200", "--set", "batch_size=32",
            "--set", "learning_rate=0.003", "--set", "grad_clip=1.0")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    corpus_dir = out / "jsb"
    if not (corpus_dir / "CURRENT").exists():
        deepsym("corpus", "build", "--dataset", "jsb", "-o", corpus_dir, "-q")
    model = args.model
    runs = {"model": out / "runs" / model, "pretrained": out / "runs" / f"{model}-pretrained",
            "char": out / "runs" / "char-rnn"}
    pretrain = manager().models.get(model).config_class()().pretrain_steps
    jobs = [(model, runs["model"], ("--minutes", args.minutes)),
            (model, runs["pretrained"], ("--steps", pretrain)),
            ("char-rnn", runs["char"], ("--minutes", args.minutes, *CHAR_RNN))]
    train_side_by_side([(model, corpus_dir, run, more) for model, run, more in jobs
                        if not run.exists()], threads=args.threads, seed=args.seed)
    corpus = Corpus.open(corpus_dir)
    char = load_sampler(runs["char"], seed=args.seed)

    def valid_deviation(sampler: Sampler, folder: Path) -> float:
        pieces = write_pieces(sampler.sample_seconds(args.pieces, args.seconds), folder)
        return _deviation(evaluate(pieces, corpus, split="valid", seconds=args.seconds,
                                   index=False))

    sweeps: dict[str, dict[float, float]] = {"char-rnn": {}}
    for t in TEMPERATURES:
        char.controls = Controls(temperature=t)
        sweeps["char-rnn"][t] = valid_deviation(char, out / "sweep" / f"t{t}")
    best = {"char-rnn": min(sweeps["char-rnn"], key=sweeps["char-rnn"].__getitem__)}
    char.controls = Controls(temperature=best["char-rnn"])
    sets = {"char-rnn": write_pieces(char.sample_seconds(args.pieces, args.seconds),
                                     out / "pieces" / "char-rnn")}
    option, values = args.sweep or (None, ())
    for name, run in ((f"{model}, pretrained only", runs["pretrained"]),
                      (model, runs["model"])):
        if option:
            sweeps[name] = {v: valid_deviation(
                load_sampler(run, seed=args.seed, options={option: v}),
                out / "sweep" / f"{run.name}-{option}{v}") for v in values}
            best[name] = min(sweeps[name], key=sweeps[name].__getitem__)
        sampler = load_sampler(run, seed=args.seed,
                               options={option: best[name]} if option else None)
        sets[name] = write_pieces(sampler.sample_seconds(args.pieces, args.seconds),
                                  out / "pieces" / Path(run).name)
    # index=False: every piece's longest copied run, short ones too (the n-gram index
    # ranks runs of 8+ notes only; a scan of JSB takes a moment)
    evaluations = {name: evaluate(folder, corpus, seconds=args.seconds, index=False)
                   for name, folder in sets.items()}
    first = next(iter(evaluations.values()))
    results = {
        "model": model,
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "threads": args.threads,
                    "python": platform.python_version(), "torch": torch.__version__},
        "minutes": args.minutes, "seed": args.seed, "pieces": args.pieces,
        "seconds": args.seconds,
        "steps": {name: load_checkpoint(run / "checkpoints" / "last.pt")["step"]
                  for name, run in runs.items()},
        "sweep_option": option,
        "sweeps": {name: {str(v): d for v, d in sweep.items()} for name, sweep in sweeps.items()},
        "best": best,
        "sets": {name: _summary(ev) for name, ev in evaluations.items()},
        "test": {"pieces": first.held_out_pieces, "metrics": _stats(first.held_out),
                 "set": {name: values[1] for name, values in first.set_metrics.items()}},
        "total_seconds": time.perf_counter() - started,
    }
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / f"{model}.json", json.dumps(results, indent=2).encode())
    write_atomic(RESULTS / f"{model}.md", report(results).encode())
    print((RESULTS / f"{model}.md").read_text())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True,
                        help="a registered model whose config has pretrain_steps")
    parser.add_argument("--minutes", type=float, default=5.0, help="training per model")
    parser.add_argument("--out", type=Path, default=Path("bench-versus-charrnn"),
                        help="folder for the corpus, the runs and the pieces (reused)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pieces", type=int, default=16, help="pieces per set")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each piece")
    parser.add_argument("--sweep", type=_sweep, metavar="NAME=V1,V2,..",
                        help="a sampling option of --model to pick on the valid split")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of each training (they run side by side)")
    return parser


def _sweep(text: str) -> tuple[str, tuple[float, ...]]:
    name, _, values = text.partition("=")
    try:
        return name, tuple(float(v) for v in values.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not NAME=V1,V2,..: {text!r}") from None


def _deviation(ev: Evaluation) -> float:
    """Mean |generated / held-out - 1| over ``METRICS``."""
    return float(np.mean([abs(ev.generated[m][0] / ev.held_out[m][0] - 1) for m in METRICS
                          if ev.held_out[m][0]]))


def _stats(stats: dict[str, tuple[float, float, int]]) -> dict[str, list[float]]:
    return {m: [float(stats[m][0]), float(stats[m][1])] for m in ("notes", *METRICS)}


def _summary(ev: Evaluation) -> dict[str, Any]:
    runs = [max((m.run_notes for m in r.matches), default=0) for r in ev.plagiarism]
    return {"metrics": _stats(ev.generated), "deviation": _deviation(ev),
            "set": {name: values[0] for name, values in ev.set_metrics.items()},
            "copied_run_mean": float(np.mean(runs)), "copied_run_max": int(max(runs)),
            "pieces": len(ev.pieces)}


def report(results: dict[str, Any]) -> str:
    """The table: each metric's mean ± std per set, the test split first."""
    names = ("notes", *METRICS)
    head = ("| set | " + " | ".join(names)
            + " | mean abs. deviation | longest copied run (mean / max) |")
    lines = [head, "|---" * (len(names) + 3) + "|"]
    test = results["test"]["metrics"]
    lines.append(f"| test split ({results['test']['pieces']} pieces, first "
                 f"{results['seconds']:g} s) | "
                 + " | ".join(_cell(test[m]) for m in names) + " | | |")
    for name, summary in results["sets"].items():
        cells = " | ".join(_cell(summary["metrics"][m]) for m in names)
        lines.append(f"| {_label(name, results)} | {cells}"
                     + f" | {summary['deviation']:.3f} | {summary['copied_run_mean']:.1f} / "
                     f"{summary['copied_run_max']} |")
    lines += ["", "| set | BLEU-4 against the test split | self-BLEU-4 | repeated 4-grams "
              "| distinct pieces |", "|---|---|---|---|---|",
              _set_row(f"test split ({results['test']['pieces']} pieces; BLEU: each "
                       "against the others)", results["test"]["set"])]
    lines += [_set_row(_label(name, results), summary["set"])
              for name, summary in results["sets"].items()]
    sweeps = "; ".join(
        f"{name} ({'temperature' if name == 'char-rnn' else results['sweep_option']}): "
        + ", ".join(f"{v}: {d:.3f}" for v, d in sweep.items())
        for name, sweep in results["sweeps"].items())
    steps = ", ".join(f"{k} {v}" for k, v in results["steps"].items())
    return "\n".join([*lines, "", f"Sweeps on the valid split (mean abs. deviation): "
                      f"{sweeps}. Steps trained: {steps}. "
                      f"{results['pieces']} pieces of {results['seconds']} s per set. BLEU and "
                      "self-BLEU are corpus BLEU over the pieces' pitches in reading "
                      "order, n-grams up to 4, smoothing method 1 (epsilon 0.1); both grow "
                      "with the number of reference pieces, so the test split's (each "
                      "piece against the others) is an anchor, not a target.", ""])


def _label(name: str, results: dict[str, Any]) -> str:
    if name == "char-rnn":
        return f"char-rnn, temperature {results['best'][name]}"
    if name in results["best"]:
        return f"{name}, {results['sweep_option']} {results['best'][name]}"
    return name


def _set_row(label: str, values: dict[str, float]) -> str:
    """BLEU-4, self-BLEU-4 and repeated 4-grams on pitches, then distinct pieces."""
    return (f"| {label} | {values['bleu_4']:.3f} | {values['self_bleu_4']:.3f} | "
            f"{values['repeated_4gram_share']:.3f} | {values['distinct_pieces']:.0f} |")


def _cell(stat: list[float]) -> str:
    return f"{stat[0]:.3g} ± {stat[1]:.2g}"


if __name__ == "__main__":
    raise SystemExit(main())
