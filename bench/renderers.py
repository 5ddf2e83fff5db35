"""Compare SoundFont renderers for ``deepsym render``: pitch, GM programs, drums, speed.

    python bench/renderers.py [--chorales 20] [--json results/renderers.json]

Each candidate renders the same scores through the same SoundFont (pretty_midi's
TimGM6mb.sf2); the measurements are deepsym.spectrum's. A candidate that is not
installed, or fails, gets its error in the table instead of numbers. docs/audio.md
holds a run's table and the choice made from it. Candidates:

- midirenderer: a Rust SoundFont synthesizer, one abi3 wheel, no dependencies;
- symusic: its ``Synthesizer`` (C++, wheels; plays from its own Score type);
- tinysoundfont: TinySoundFont's binding (requires PyAudio, no Linux wheel; install
  it with ``pip install --no-deps tinysoundfont`` to measure it).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deepsym import Score, Track, read_midi, write_midi
from deepsym.audio import default_soundfont
from deepsym.spectrum import fundamental_hertz, spectral_flatness, timbre_similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from music21_corpus import real_midi_files

SCALE = (60, 62, 64, 65, 67, 69, 71, 72)  # C major, C4..C5
TPB = 480  # ticks per beat; at 120 qpm a beat is 0.5 s
Renderer = Callable[[Score, Path], tuple[np.ndarray, int]]


def _midirenderer(score: Score, soundfont: Path) -> tuple[np.ndarray, int]:
    import midirenderer

    data = midirenderer.render_wave_from(soundfont.read_bytes(), write_midi(score))
    with wave.open(io.BytesIO(data)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        samples = frames.reshape(-1, wav.getnchannels()).T / 32768.0
        return samples.astype(np.float32), wav.getframerate()


def _symusic(score: Score, soundfont: Path) -> tuple[np.ndarray, int]:
    import symusic

    synth = symusic.Synthesizer(str(soundfont), sample_rate=44100)
    return np.asarray(synth.render(symusic.Score.from_midi(write_midi(score)), stereo=True)), \
        44100


def _tinysoundfont(score: Score, soundfont: Path) -> tuple[np.ndarray, int]:
    import tinysoundfont
    import tinysoundfont.midi

    synth = tinysoundfont.Synth(samplerate=44100)
    synth.sfload(str(soundfont))
    sequencer = tinysoundfont.Sequencer(synth)
    sequencer.add(tinysoundfont.midi.load_memory(write_midi(score), persistent=False))
    length = int(np.ceil(score.duration_seconds * 44100))
    return np.frombuffer(synth.generate(length), np.float32).reshape(-1, 2).T, 44100


CANDIDATES: dict[str, Renderer] = {"midirenderer": _midirenderer, "symusic": _symusic,
                                   "tinysoundfont": _tinysoundfont}


def version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def notes_score(notes: list[tuple[int, int, int, int]], program: int = 0, channel: int = 0,
                end_beats: float = 0) -> Score:
    track = Track(notes=notes, program=program, channel=channel, is_drum=channel == 9)
    return Score(ticks_per_beat=TPB, tempos=[(0, 120.0)], tracks=[track],
                 end_of_track=int(end_beats * TPB))


def span(samples: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    return samples[:, int(start * rate):int(end * rate)]


def pitch_errors(render: Renderer, soundfont: Path) -> list[float]:
    """Each scale note's measured fundamental, relative error to equal temperament (%)."""
    notes = [(2 * TPB * i, TPB, pitch, 100) for i, pitch in enumerate(SCALE)]
    samples, rate = render(notes_score(notes), soundfont)
    errors = []
    for i, pitch in enumerate(SCALE):  # a note sounds from i s to i + 0.5 s
        measured = fundamental_hertz(span(samples, rate, i + 0.05, i + 0.45), rate)
        expected = 440.0 * 2 ** ((pitch - 69) / 12)
        errors.append(100 * (measured - expected) / expected)
    return errors


def program_similarity(render: Renderer, soundfont: Path) -> float:
    """Timbre similarity of C4 on program 0 (piano) and program 40 (violin)."""
    piano, violin = (render(notes_score([(0, 2 * TPB, 60, 100)], program), soundfont)
                     for program in (0, 40))
    return timbre_similarity(span(*piano, 0.1, 0.9), span(*violin, 0.1, 0.9), piano[1])


def drum_flatness(render: Renderer, soundfont: Path) -> tuple[float, float]:
    """Spectral flatness of a snare (note 38) on channel 10, and of note 38 on channel 1."""
    out = []
    for channel in (9, 0):
        samples, rate = render(notes_score([(0, TPB, 38, 100)], channel=channel), soundfont)
        out.append(spectral_flatness(span(samples, rate, 0.0, 0.25), rate))
    return out[0], out[1]


def silence(render: Renderer, soundfont: Path) -> str:
    """What a 2-second score without notes, and a file without notes or length, give."""
    found = []
    for what, score in (("rests", notes_score([], end_beats=4)), ("empty", Score())):
        try:
            samples, rate = render(score, soundfont)
            loud = float(np.abs(samples).max(initial=0.0))
            found.append(f"{what}: {samples.shape[1] / rate:.2f} s, peak {loud:.1e}")
        except Exception as exc:
            found.append(f"{what}: {type(exc).__name__}: {str(exc)[:60]}")
    return "; ".join(found)


def speed(render: Renderer, soundfont: Path, files: list[Path]) -> float:
    """Seconds of rendering per minute of music, over real chorales."""
    scores = [read_midi(path) for path in files]
    music = sum(score.duration_seconds for score in scores)
    start = time.perf_counter()
    for score in scores:
        render(score, soundfont)
    return (time.perf_counter() - start) / (music / 60)


def measure(name: str, render: Renderer, soundfont: Path, files: list[Path]) -> dict:
    row: dict = {"renderer": name, "version": version(name)}
    try:
        errors = pitch_errors(render, soundfont)
        row["pitch_error_pct"] = [round(e, 3) for e in errors]
        row["worst_pitch_error_pct"] = round(max(map(abs, errors)), 3)
        row["program_0_vs_40_similarity"] = round(program_similarity(render, soundfont), 3)
        drums, pitched = drum_flatness(render, soundfont)
        row["snare_flatness_ch10"], row["note38_flatness_ch1"] = round(drums, 4), \
            round(pitched, 5)
        row["silence"] = silence(render, soundfont)
        row["render_s_per_music_min"] = round(speed(render, soundfont, files), 3)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return row


def table(rows: list[dict]) -> str:
    head = ("| renderer | worst pitch error | program 0 vs 40 similarity | snare flatness "
            "(ch 10 / ch 1) | s per music minute | silent and empty scores |\n"
            "|---|---:|---:|---:|---:|---|")
    lines = [head]
    for row in rows:
        name = f"{row['renderer']} {row['version']}"
        if "error" in row:
            lines.append(f"| {name} | fails: {row['error']} | | | | |")
            continue
        lines.append(f"| {name} | {row['worst_pitch_error_pct']:.2f}% | "
                     f"{row['program_0_vs_40_similarity']:.3f} | "
                     f"{row['snare_flatness_ch10']:.4f} / {row['note38_flatness_ch1']:.5f} | "
                     f"{row['render_s_per_music_min']:.3f} | {row['silence']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chorales", type=int, default=20, help="chorales timed (default 20)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    soundfont = default_soundfont()
    files = real_midi_files()[:args.chorales]
    rows = [measure(name, render, soundfont, files) for name, render in CANDIDATES.items()]
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
