"""The demo: Bach chorales in, a trained Char-RNN, six steered pieces out, heard and judged.

:func:`run_demo` does what ``deepsym demo`` promises, on a CPU in a few minutes:

1. builds the JSB corpus (``OUT/corpus``) from music21's Bach chorales, offline
   (or uses the corpus it is given);
2. trains a conditional Char-RNN (``char-rnn-conditional``, smaller than its default:
   :data:`DEMO_SETTINGS`) for ``minutes`` into ``OUT/run``: on pieces transposed into
   every key, in the vocabulary the corpus calls for (REMI bars, positions and
   durations in sixteenths for the notated chorales);
3. samples one piece per request of :data:`CONDITIONS`, chosen in contrasting pairs
   (two keys, high and low, sparse and dense) into ``OUT/pieces``: MIDI, a piano-roll
   PNG (copied runs shaded) and WAV audio (where the renderer has a wheel:
   :data:`deepsym.audio.WHEEL_PLATFORMS`);
4. trains Refine Net's Duration Net (``refine-duration``) for :data:`REFINE_MINUTES`
   into ``OUT/refine-duration`` and refines every piece with it into
   ``OUT/pieces/NAME-refined.*``: lengths and rests re-timed on the sixteenth grid,
   pitches and note order untouched (Velocity Net is not trained: the chorales carry
   no dynamics to learn from);
5. measures each piece against its request (key, mean pitch, density:
   :mod:`deepsym.steering`) and evaluates the set (metrics beside the held-out split,
   plagiarism against the train split) into the Markdown report ``OUT/report.md``,
   which links every file and sets each piece beside its refined version.

Every extra it needs is checked before any work starts; ``OUT`` must be new or empty,
so nothing is ever overwritten.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepsym.audio import WHEEL_PLATFORMS, unavailable
from deepsym.errors import DeepsymError, MissingExtraError

if TYPE_CHECKING:
    import numpy as np

    from deepsym.representations.base import Representation
    from deepsym.score import Score
    from deepsym.steering import Measured, Request

MODEL = "char-rnn-conditional"
#: Small enough to learn something on 2 CPU cores in minutes (the default is 3 x 512).
DEMO_SETTINGS: dict[str, Any] = {"hidden": 256, "layers": 2, "embedding": 64,
                                 "sequence_length": 200, "batch_size": 32,
                                 "learning_rate": 3e-3, "grad_clip": 1.0, "valid_every": 100}
#: File stem, label, and what is asked: a key, a pitch height ("high", "low") and a
#: density ("sparse", "dense": the low and the high end of the corpus's range).
CONDITIONS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("d-major", "D major", {"key": "D major"}),
    ("f-minor", "F minor", {"key": "F minor"}),
    ("high", "high (C major)", {"key": "C major", "pitch": "high"}),
    ("low", "low (C major)", {"key": "C major", "pitch": "low"}),
    ("sparse", "sparse (G major)", {"key": "G major", "density": "sparse"}),
    ("dense", "dense (G major)", {"key": "G major", "density": "dense"}),
)
DEFAULT_MINUTES = 5.0
REFINER = "refine-duration"
#: Duration Net's training: on the JSB corpus it predicts 97 % of the valid split's gaps
#: and lengths exactly after 55 s on one core (the demo's steps, when given, bound it too)
REFINE_MINUTES = 1.0
GRID = 4  # steps per beat of the grid the report counts onsets on
DEFAULT_SECONDS = 30.0
#: Sampling defaults, chosen by measurement on the JSB valid split (bench/steering.py;
#: the sweep is in docs/results.md): the temperature, and the most distinct pitches the
#: grammar lets sound at once (None: no limit; a limit of 4, the chorales' voices,
#: thinned the pieces further below the chorales' polyphony).
TEMPERATURE = 0.8
MAX_POLYPHONY: int | None = None
#: import name -> the extra that installs it (the renderer only where it has a wheel)
NEEDS = {"torch": "charrnn", "matplotlib": "plot", "pretty_midi": "audio",
         **({"midirenderer": "audio"} if (sys.platform, platform.machine()) in WHEEL_PLATFORMS
            else {})}


@dataclass(frozen=True)
class DemoPiece:
    name: str          # the file stem, e.g. "d-major"
    label: str         # what was asked, e.g. "D major"
    midi: Path
    png: Path
    wav: Path | None  # None where audio cannot be rendered (no renderer wheel)
    asked: Request     # the request in numbers (MIDI pitch, onsets per beat)
    measured: Measured  # what the piece came out as
    refined: RefinedPiece | None = None  # the piece through Duration Net


@dataclass(frozen=True)
class RefinedPiece:
    """A piece after Duration Net, and what changed (shares of its notes)."""

    midi: Path
    png: Path
    wav: Path | None
    lengths_changed: float
    onsets_moved: float
    grid: tuple[float, float]       # onsets on the sixteenth grid, before and after
    qualified: tuple[float, float]  # qualified-note rate, before and after


@dataclass(frozen=True)
class DemoResult:
    out: Path
    corpus: Path
    run: Path
    refiner: Path  # the Duration Net run
    pieces: list[DemoPiece]
    report: Path
    steps: int               # training steps done
    train_seconds: float
    valid_loss: float | None  # the best validation loss (nats per token)


def run_demo(out: str | os.PathLike = "deepsym-demo", *, minutes: float = DEFAULT_MINUTES,
             steps: int | None = None, seed: int = 0, corpus: str | os.PathLike | None = None,
             settings: Mapping[str, Any] | None = None, seconds: float = DEFAULT_SECONDS,
             threads: int | None = None, say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo into the folder ``out`` (see the module). ``minutes`` or ``steps``
    (whichever comes first) bound training; ``corpus``: an existing corpus instead of
    building the JSB one; ``settings`` override :data:`DEMO_SETTINGS`; ``seconds``: the
    length of each piece; ``threads``: torch's CPU threads (None: :func:`idle_cores`,
    measured before any work starts); ``say`` reports progress."""
    out = Path(out)
    _check_ready(out, building=corpus is None)
    started = time.perf_counter()
    threads = threads or idle_cores()
    corpus_path = Path(corpus) if corpus is not None else _build_jsb(out / "corpus", say)
    with _torch_threads(threads):
        result = _train(corpus_path, out / "run", minutes, steps, seed,
                        {**DEMO_SETTINGS, **(settings or {})}, say)
        pieces = _sample(out / "run", out / "pieces", seed, seconds, say)
        pieces = _refine(corpus_path, out / REFINER, pieces, steps, seed, say)
    no_audio = unavailable()
    say(f"[5/5] evaluating against {corpus_path} and " +
        (f"writing no audio ({no_audio})" if no_audio else "writing audio") + " ...")
    if no_audio:
        pieces = [dataclasses.replace(piece, wav=None, refined=dataclasses.replace(
            piece.refined, wav=None) if piece.refined else None) for piece in pieces]
    report = _report(out, corpus_path, pieces, result)
    say(f"done in {time.perf_counter() - started:.0f} s")
    return DemoResult(out, corpus_path, out / "run", out / REFINER, pieces, report,
                      result.step, result.elapsed, result.best_valid_loss)


def idle_cores() -> int:
    """The cores this process may use less those busy with other work now
    (:func:`busy_cores`), at least 1. More torch threads than idle cores stall an LSTM:
    each of its many small parallel steps waits for a thread the system has put aside
    (measured on 2 cores with one busy: a training step of the demo's model takes 0.44 s
    on 1 thread and 15 s on 2)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    return max(1, min(cores, round(cores - busy_cores())))


def busy_cores(sample: float = 0.5) -> float:
    """How many cores other work keeps busy now: the machine's busy share over ``sample``
    seconds (Linux ``/proc/stat``), else the 1-minute load average, which still counts a
    job minutes after it ended (such as the ``pip install`` just before the demo)."""
    try:
        before = _cpu_times()
        time.sleep(sample)
        after = _cpu_times()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy, total = (b - a for a, b in zip(before, after, strict=True))
    return busy / total * (os.cpu_count() or 1) if total > 0 else 0.0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from ``/proc/stat``'s cpu line
    (user, nice, system, idle, iowait, irq, softirq, steal; idle and iowait are idle)."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    total = sum(ticks)
    return total - ticks[3] - ticks[4], total


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` for the block, then restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_ready(out: Path, building: bool) -> None:
    """Every extra installed and ``out`` usable, before minutes of work begin."""
    needs = {**NEEDS, **({"music21": "datasets"} if building else {})}
    missing = sorted({extra for module, extra in needs.items()
                      if importlib.util.find_spec(module) is None})
    if missing:
        raise MissingExtraError(f"the demo needs the extras {', '.join(missing)}: "
                                "pip install 'deepsym[all]'")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DeepsymError(f"{out} already exists and is not an empty folder; the demo "
                           "writes into a new or empty one (give --out NEW, or remove it)")


def _build_jsb(path: Path, say: Callable[[str], None]) -> Path:
    from deepsym.data import build_corpus
    from deepsym.data.datasets import data_root, materialize

    say(f"[1/5] building the JSB chorale corpus (music21's chorales as MIDI, cached in "
        f"{data_root() / 'jsb'}) ...")
    result = build_corpus(materialize("jsb"), path)
    say(f"      {result.pieces} chorales: " + ", ".join(f"{n} {split}" for split, n in
                                                     result.splits.items()))
    return path


def _train(corpus: Path, run: Path, minutes: float, steps: int | None, seed: int,
           settings: dict[str, Any], say: Callable[[str], None]) -> Any:
    import torch

    from deepsym.training.engine import Budget, train

    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    say(f"[2/5] training {MODEL} ({shown}) on the CPU ({_plural(torch.get_num_threads())}) "
        f"for {minutes:g} minutes" + (f" or {steps} steps" if steps else "") + " ...")
    result = train(MODEL, corpus, run, settings=dict(settings),
                   budget=Budget(steps=steps, minutes=minutes), seed=seed, device="cpu",
                   progress=sys.stderr.isatty())
    valid = f", best validation loss {result.best_valid_loss:.3f} nats/token" \
        if result.best_valid_loss is not None else ""
    say(f"      {result.step} steps in {result.elapsed:.0f} s{valid}")
    return result


def decoding() -> str:
    """The sampling defaults in words."""
    limit = "no limit on the pitches sounding at once" if MAX_POLYPHONY is None \
        else f"at most {MAX_POLYPHONY} pitches sounding at once"
    return f"temperature {TEMPERATURE}, {limit}"


def _plural(threads: int) -> str:
    return f"{threads} thread" + ("s" if threads > 1 else "")


def _sample(run: Path, folder: Path, seed: int, seconds: float,
            say: Callable[[str], None]) -> list[DemoPiece]:
    from deepsym.midi import write_midi
    from deepsym.sampling import Controls
    from deepsym.sampling.run import load_sampler
    from deepsym.steering import measure

    say(f"[3/5] sampling {len(CONDITIONS)} pieces of {seconds:g} s "
        f"({', '.join(label for _, label, _ in CONDITIONS)}) ...")
    folder.mkdir(parents=True)
    sampler = load_sampler(run, seed=seed, device="cpu")
    pieces = []
    for name, label, asks in CONDITIONS:
        features, asked = requested_features(asks, sampler.representation)
        sampler.controls = Controls(TEMPERATURE, conditions=features,
                                    max_polyphony=MAX_POLYPHONY)
        score = sampler.sample_seconds(1, seconds)[0]
        midi = folder / f"{name}.mid"
        write_midi(score, midi)
        pieces.append(DemoPiece(name, label, midi, midi.with_suffix(".png"),
                                midi.with_suffix(".wav"), asked, measure(score)))
    return pieces


def _refine(corpus: Path, run: Path, pieces: list[DemoPiece], steps: int | None, seed: int,
            say: Callable[[str], None]) -> list[DemoPiece]:
    """Duration Net trained on ``corpus`` into ``run``, and every piece through it."""
    from deepsym.data import Corpus
    from deepsym.midi import read_midi, write_midi
    from deepsym.plugins import manager
    from deepsym.refining import load_refiner, refine
    from deepsym.training.engine import Budget, train

    say(f"[4/5] training Refine Net's Duration Net ({REFINER}) for {REFINE_MINUTES:g} "
        "min and re-timing every piece with it ...")
    # its batch of crops, at most the corpus's pieces (a small corpus of the user's)
    batch = min(manager().models.get(REFINER).config_class()().batch_size,
                len(Corpus.open(corpus).split("train")))
    result = train(REFINER, corpus, run, settings={"valid_every": 0, "batch_size": batch},
                   budget=Budget(steps=steps, minutes=REFINE_MINUTES), seed=seed,
                   device="cpu", progress=sys.stderr.isatty())
    refiner = load_refiner(run)
    out = []
    for piece in pieces:
        score = read_midi(piece.midi)
        refined = refine(score, [refiner])
        midi = piece.midi.with_name(f"{piece.name}-refined.mid")
        write_midi(refined, midi)
        out.append(dataclasses.replace(piece, refined=RefinedPiece(  # the file, as written
            midi, midi.with_suffix(".png"), midi.with_suffix(".wav"),
            *changes(score, read_midi(midi)))))
    moved = sum(p.refined.onsets_moved for p in out) / max(1, len(out))
    say(f"      {result.step} steps; {moved:.0%} of the onsets moved on average")
    return out


def changes(before: Score, after: Score) -> tuple[float, float, tuple[float, float],
                                                   tuple[float, float]]:
    """What a refiner changed in a piece: the share of its notes whose length changed,
    the share whose onset moved, the share of onsets on the sixteenth grid before and
    after, and the qualified-note rate before and after."""
    import numpy as np

    from deepsym.data.fit import onsets_on_grid
    from deepsym.metrics import qualified_note_rate

    old, new = (np.concatenate([t.notes for t in s.tracks]) for s in (before, after))
    grid = (onsets_on_grid(before, GRID), onsets_on_grid(after, GRID))
    return (float(np.mean(old["duration"] != new["duration"])),
            float(np.mean(old["start"] != new["start"])), grid,
            (qualified_note_rate(before), qualified_note_rate(after)))


def requested_features(asks: Mapping[str, str], representation: Representation
                       ) -> tuple[dict[str, np.ndarray], Request]:
    """The condition features for a request of :data:`CONDITIONS` (a key, "high" or
    "low", "sparse" or "dense"), and the request in numbers. A density word is the low
    or the high end of the density range the model was trained with."""
    from deepsym.sampling.conditions import PITCH_WORDS, requested
    from deepsym.steering import Request

    density = None
    if "density" in asks:
        if "density" not in representation.condition_ranges:
            raise DeepsymError("the model has no density range to read 'sparse' or 'dense' "
                               "in (it was trained without the density condition)")
        low, high = representation.condition_ranges["density"]
        density = {"sparse": low, "dense": high}[asks["density"]]
    pitch = asks.get("pitch")
    features = requested(asks.get("key"), pitch, density)
    height = None if pitch is None else float(PITCH_WORDS.get(pitch, pitch))
    return features, Request(asks.get("key"), height, density)


def _report(out: Path, corpus: Path, pieces: list[DemoPiece], trained: Any) -> Path:
    from deepsym.audio import write_wav
    from deepsym.evaluation import evaluate, write_report
    from deepsym.midi import read_midi
    from deepsym.plot import save_pianoroll
    from deepsym.steering import markdown_table

    # a scan, not the n-gram index: the piano-rolls shade runs of 4+ notes, shorter
    # than the index's n-grams
    evaluation = evaluate([p.midi for p in pieces], corpus, top=3, index=False)
    by_path = dict(zip(evaluation.pieces, evaluation.plagiarism, strict=True))
    links = {}
    for piece in pieces:
        score = read_midi(piece.midi)
        report = by_path[str(piece.midi.resolve())]
        save_pianoroll(score, piece.png, report, name=f"{piece.midi.name} ({piece.label})")
        links[report.generated] = [(f"piano-roll of {piece.name}", str(piece.png)),
                                   ("MIDI", str(piece.midi))]
        if piece.wav is not None:
            write_wav(score, piece.wav)
            links[report.generated].append(("audio (WAV)", str(piece.wav)))
        if piece.refined is not None:
            refined = read_midi(piece.refined.midi)
            save_pianoroll(refined, piece.refined.png,
                           name=f"{piece.refined.midi.name} ({piece.label}, refined)")
            links[report.generated] += [("refined: piano-roll", str(piece.refined.png)),
                                        ("MIDI", str(piece.refined.midi))]
            if piece.refined.wav is not None:
                write_wav(refined, piece.refined.wav)
                links[report.generated].append(("audio (WAV)", str(piece.refined.wav)))
    table = markdown_table([p.name for p in pieces], [p.asked for p in pieces],
                           [p.measured for p in pieces])
    intro = (f"{len(pieces)} pieces of `{MODEL}` trained {trained.step} steps "
             f"({trained.elapsed / 60:.1f} minutes) on the corpus `{corpus}`, one per "
             f"request: {', '.join(f'{p.name} = {p.label}' for p in pieces)}. Sampled "
             f"with {decoding()}. The piano-rolls shade runs of 4 or more notes copied "
             "from a training piece.\n\n## Asked and measured\n\nEach piece's request beside "
             "what it came out as: the key estimated from its notes (Krumhansl-Schmuckler, "
             "with the correlation r; it agrees when it is the key asked or its relative), "
             "its mean MIDI pitch (high asks 67, low 53) and its note onsets per beat "
             "(sparse and dense ask the low and high end of the corpus's range). Features "
             "not asked take the training pieces' mean.\n\n" + table + "\n\n"
             + refined_table(pieces) + "## Metrics")
    return write_report(evaluation, out / "report.md", title="deepsym demo", intro=intro,
                        links=links)


def refined_table(pieces: list[DemoPiece]) -> str:
    """The report's section on the refined pieces, each beside its original ("" when
    none was refined)."""
    rows = [(p.name, p.refined) for p in pieces if p.refined is not None]
    if not rows:
        return ""
    lines = ["## Refined by Duration Net", "",
             f"Each piece through `{REFINER}` (Refine Net's Duration Net, trained on the "
             "same corpus): gaps and lengths re-timed to the likeliest sixteenth-grid "
             "values, pitches and note order untouched. Velocity Net is not applied: the "
             "chorales carry no dynamics to learn from (train `refine-velocity` on "
             "performed MIDI with `--corpus`, then `deepsym sample RUN --refine D,V`).", "",
             "| piece | lengths changed | onsets moved | onsets on the 1/16 grid, before "
             "-> after | qualified-note rate, before -> after |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r.lengths_changed:.0%} | {r.onsets_moved:.0%} | "
              f"{r.grid[0]:.0%} -> {r.grid[1]:.0%} | {r.qualified[0]:.3f} -> "
              f"{r.qualified[1]:.3f} |" for name, r in rows]
    return "\n".join(lines) + "\n\n"


__all__ = ["CONDITIONS", "DEMO_SETTINGS", "MAX_POLYPHONY", "REFINER", "REFINE_MINUTES",
           "TEMPERATURE", "DemoPiece", "DemoResult", "RefinedPiece", "busy_cores", "changes",
           "decoding", "idle_cores", "refined_table", "requested_features", "run_demo"]
