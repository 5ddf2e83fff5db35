"""Hear a Score: render it through a General MIDI SoundFont and write a WAV file.

The synthesizer is midirenderer (a Rust SoundFont synthesizer shipped as one abi3 wheel
with no dependencies: nothing to compile, no system library); ``docs/audio.md`` has the
measurements that chose it over symusic's synthesizer and TinySoundFont. The default
SoundFont is the 6 MB General MIDI bank ``TimGM6mb.sf2`` that pretty_midi's wheel
ships, so ``pip install 'deepsym[audio]'`` is all it takes, offline. Any GM SoundFont
works (``soundfont=``: MuseScore_General.sf2, FluidR3_GM.sf2, ...).

Each track sounds with its program (channel 10 with the drum kit); times follow the
tempo map. midirenderer renders at 48 kHz; other sample rates are resampled exactly in
the frequency domain.
"""
from __future__ import annotations

import dataclasses
import io
import os
import platform
import sys
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from deepsym.errors import AudioError, MissingExtraError
from deepsym.fileio import write_atomic
from deepsym.midi import read_midi, write_midi
from deepsym.score import Score

NATIVE_RATE = 48000  # midirenderer's fixed output rate
DEFAULT_SAMPLE_RATE = NATIVE_RATE
SAMPLE_RATES = (8000, 192000)  # the accepted range, in Hz
PEAK = 0.9  # write_wav scales the loudest sample to this (about -1 dBFS)
MAX_TAIL_S = 3.0  # the longest release rendered after the score's end
SILENCE = 1e-4  # below this (-80 dBFS) the release counts as over
EXTRA = "pip install 'deepsym[audio]'"
#: midirenderer publishes wheels for these (sys.platform, machine) pairs only
#: (``pyproject.toml``'s audio extra carries the same marker).
WHEEL_PLATFORMS = {("linux", "x86_64"), ("darwin", "x86_64"), ("darwin", "arm64"),
                   ("win32", "AMD64")}


def unavailable() -> str | None:
    """Why this machine cannot render audio, or None when it can."""
    try:
        import midirenderer  # noqa: F401
        import pretty_midi  # noqa: F401
    except ImportError:
        if (sys.platform, platform.machine()) in WHEEL_PLATFORMS:
            return f"rendering audio needs midirenderer and pretty_midi: {EXTRA}"
        return (f"rendering audio needs midirenderer, which ships no wheel for "
                f"{sys.platform} {platform.machine()}")
    return None


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
    fall below ``SILENCE``, at most ``MAX_TAIL_S`` seconds). A score without notes is
    silence of its length; one without notes or length raises AudioError.
    """
    _check_rate(sample_rate)
    name = "the score" if isinstance(score_or_path, Score) else str(score_or_path)
    score = score_or_path if isinstance(score_or_path, Score) else read_midi(score_or_path)
    if score.n_notes == 0 and score.end_tick == 0:
        raise AudioError(f"{name}: no notes and no length: nothing to render")
    samples = _midirenderer(_with_tail(score), _soundfont_bytes(soundfont))
    length = int(np.ceil(score.duration_seconds * NATIVE_RATE))
    loud = np.flatnonzero(np.abs(samples[:, length:]).max(axis=0, initial=0.0) >= SILENCE)
    samples = samples[:, :length + (loud[-1] + 1 if len(loud) else 0)]
    return resample(samples, NATIVE_RATE, sample_rate)


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


def resample(samples: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """``(channels, n)`` samples at ``rate`` Hz as float32 at ``new_rate`` Hz.

    Band-limited in the frequency domain: the spectrum is cut (or zero-extended) at the
    lower Nyquist frequency, so nothing aliases and a tone keeps its frequency.
    """
    if new_rate == rate or samples.shape[1] == 0:
        return np.ascontiguousarray(samples, dtype=np.float32)
    length = round(samples.shape[1] * new_rate / rate)
    spectrum = np.fft.rfft(samples, axis=1)[:, :length // 2 + 1]
    return (np.fft.irfft(spectrum, length, axis=1) * (length / samples.shape[1])) \
        .astype(np.float32)


def _check_rate(sample_rate: int) -> None:
    if not isinstance(sample_rate, (int, np.integer)) or \
            not SAMPLE_RATES[0] <= sample_rate <= SAMPLE_RATES[1]:
        raise AudioError(f"sample rate {sample_rate!r} Hz is outside "
                         f"{SAMPLE_RATES[0]}..{SAMPLE_RATES[1]}")


def _with_tail(score: Score) -> Score:
    """The score lengthened by ``MAX_TAIL_S`` of silence, for its last notes' release."""
    end = float(score.to_seconds(score.end_tick)) + MAX_TAIL_S
    return dataclasses.replace(score, end_of_track=int(np.ceil(score.to_ticks(end))))


def _soundfont_bytes(soundfont: str | os.PathLike | None) -> tuple[Path, bytes]:
    path = Path(soundfont) if soundfont is not None else default_soundfont()
    if not path.is_file():
        raise AudioError(f"{path}: " + ("a folder, not a SoundFont file" if path.is_dir()
                                        else "no such SoundFont file"))
    return path, path.read_bytes()


def _midirenderer(score: Score, soundfont: tuple[Path, bytes]) -> np.ndarray:
    """midirenderer's rendering of ``score``: float32 samples, shape (2, n), 48 kHz."""
    reason = unavailable()
    if reason:
        raise MissingExtraError(reason)
    import midirenderer

    path, data = soundfont
    try:
        rendered = midirenderer.render_wave_from(data, write_midi(score))
    except (RuntimeError, ValueError) as exc:
        if "SoundFont" not in str(exc):
            raise AudioError(f"the renderer failed: {exc}") from None
        raise AudioError(f"{path}: not a usable SoundFont (SF2) file ({exc})") from None
    with wave.open(io.BytesIO(rendered)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    return (frames.reshape(-1, 2).T * np.float32(1 / 32768)).astype(np.float32)


__all__ = ["AudioError", "default_soundfont", "render", "resample", "unavailable", "write_wav"]
