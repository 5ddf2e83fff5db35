"""Hear a Score: render it through a General MIDI SoundFont and write a WAV file.

The synthesizer is TinySoundFont (the ``tinysoundfont`` binding; SF2 and SF3 files);
the default SoundFont is the 6 MB General MIDI bank ``TimGM6mb.sf2`` that
pretty_midi's wheel ships, so ``pip install 'deepsym[audio]'`` is all it takes,
offline. Any GM SoundFont works (``soundfont=``: Debian's fluid-soundfont-gm,
MuseScore_General.sf2, ...).

Each track sounds with its program (channel 10 with the drum kit); times follow the
tempo map. (symusic's synthesizer was tried first: 0.5.8 plays many GM presets off
key, e.g. TimGM6mb's piano A4 at 1656 Hz, and 0.6.0 fails to return its audio.)
"""
from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from deepsym.errors import AudioError, MissingExtraError
from deepsym.fileio import write_atomic
from deepsym.midi import read_midi, write_midi
from deepsym.score import Score

DEFAULT_SAMPLE_RATE = 44100
SAMPLE_RATES = (8000, 192000)  # the accepted range, in Hz
PEAK = 0.9  # write_wav scales the loudest sample to this (about -1 dBFS)
MAX_TAIL_S = 3.0  # the longest release rendered after the score's end
SILENCE = 1e-4  # below this (-80 dBFS) the release counts as over
EXTRA = "pip install 'deepsym[audio]'"


def default_soundfont() -> Path:
    """The General MIDI SoundFont bundled with pretty_midi (``TimGM6mb.sf2``)."""
    try:
        import pretty_midi
    except ImportError:
        raise MissingExtraError(f"the default SoundFont comes with pretty_midi: {EXTRA} "
                                "(or give --soundfont FILE.sf2)") from None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise MissingExtraError(f"pretty_midi's TimGM6mb.sf2 is missing from {path.parent}; "
                                f"reinstall it ({EXTRA}) or give --soundfont FILE.sf2")
    return path


def render(score_or_path: Score | str | os.PathLike, soundfont: str | os.PathLike | None = None,
           sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """The score as stereo float32 samples, shape (2, samples), as the SoundFont sounds it.

    ``score_or_path``: a Score or a MIDI file (read leniently; a file that is not MIDI
    raises MidiError). ``soundfont``: an SF2 file, default :func:`default_soundfont`.
    Sample ``n`` sounds at ``n / sample_rate`` seconds of the score's time. The audio
    lasts the score's duration, longer by the release of its last notes (until they
    fall below ``SILENCE``, at most ``MAX_TAIL_S`` seconds).
    """
    score = score_or_path if isinstance(score_or_path, Score) else read_midi(score_or_path)
    synth = _synth(soundfont, sample_rate)
    tinysoundfont = _tinysoundfont()
    sequencer = tinysoundfont.Sequencer(synth)
    sequencer.add(tinysoundfont.midi.load_memory(write_midi(score), persistent=False))
    length = int(np.ceil(score.duration_seconds * sample_rate))
    samples = np.frombuffer(synth.generate(length + int(MAX_TAIL_S * sample_rate)),
                            np.float32).reshape(-1, 2).T
    loud = np.flatnonzero(np.abs(samples[:, length:]).max(axis=0) >= SILENCE)
    return np.array(samples[:, :length + (loud[-1] + 1 if len(loud) else 0)])


def write_wav(score_or_path: Score | str | os.PathLike, path: str | os.PathLike,
              soundfont: str | os.PathLike | None = None,
              sample_rate: int = DEFAULT_SAMPLE_RATE, normalize: bool = True) -> Path:
    """Render the score (see :func:`render`) into a 16-bit stereo WAV file, atomically.

    ``normalize`` scales the loudest sample to ``PEAK`` (silence stays silent); without
    it samples beyond [-1, 1] are clipped. Returns the path.
    """
    samples = render(score_or_path, soundfont, sample_rate)
    peak = float(np.abs(samples).max(initial=0.0))
    if normalize and peak > 0:
        samples = samples * (PEAK / peak)
    frames = np.round(np.clip(samples, -1.0, 1.0).T * 32767).astype("<i2")

    def write(out: BinaryIO) -> None:
        with wave.open(out, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(frames.tobytes())

    return write_atomic(path, write)


def _tinysoundfont() -> Any:
    try:
        import tinysoundfont
        import tinysoundfont.midi
    except ImportError:
        raise MissingExtraError(f"rendering audio needs tinysoundfont: {EXTRA}") from None
    return tinysoundfont


def _synth(soundfont: str | os.PathLike | None, sample_rate: int) -> Any:
    """A tinysoundfont Synth with the SoundFont loaded, or one error naming the file."""
    if not isinstance(sample_rate, (int, np.integer)) or \
            not SAMPLE_RATES[0] <= sample_rate <= SAMPLE_RATES[1]:
        raise AudioError(f"sample rate {sample_rate!r} Hz is outside "
                         f"{SAMPLE_RATES[0]}..{SAMPLE_RATES[1]}")
    tinysoundfont = _tinysoundfont()
    path = Path(soundfont) if soundfont is not None else default_soundfont()
    if not path.is_file():
        raise AudioError(f"{path}: " + ("a folder, not a SoundFont file" if path.is_dir()
                                        else "no such SoundFont file"))
    synth = tinysoundfont.Synth(samplerate=int(sample_rate))
    try:
        synth.sfload(str(path))
    except RuntimeError:
        raise AudioError(f"{path}: not a usable SoundFont (SF2/SF3) file") from None
    return synth


__all__ = ["AudioError", "default_soundfont", "render", "write_wav"]
