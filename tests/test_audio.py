"""The synthesizer: the right pitch at the right time, drums as noise, valid WAV files."""
from __future__ import annotations

import wave

import numpy as np
import pytest
from music21_corpus import real_midi_files

from deepsym import DeepsymError, Score, Track, read_midi
from deepsym.audio import synthesize, write_wav

RATE = 22050


def one_note(pitch: int, start_beats: float = 1.0, beats: float = 1.0) -> Score:
    tpb = 480
    return Score(ticks_per_beat=tpb, tempos=[(0, 120.0)],
                 tracks=[Track(notes=[(int(start_beats * tpb), int(beats * tpb), pitch, 100)])])


@pytest.mark.parametrize("pitch, hertz", [(69, 440.0), (60, 261.63), (81, 880.0)])
def test_a_note_sounds_at_its_pitch(pitch: int, hertz: float):
    samples = synthesize(one_note(pitch), RATE)
    sounding = samples[int(0.5 * RATE):int(1.0 * RATE)]  # the note lasts 0.5..1.0 s
    spectrum = np.abs(np.fft.rfft(sounding * np.hanning(len(sounding))))
    peak = np.fft.rfftfreq(len(sounding), 1 / RATE)[spectrum.argmax()]
    assert peak == pytest.approx(hertz, abs=2.5)


def test_a_note_starts_and_ends_at_its_time():
    samples = synthesize(one_note(60, start_beats=2, beats=1), RATE)  # 1.0 s .. 1.5 s
    assert np.all(samples[: int(0.99 * RATE)] == 0)
    assert np.abs(samples[int(1.0 * RATE):int(1.1 * RATE)]).max() > 0.5
    assert np.all(samples[int(1.6 * RATE):] == 0)  # after the 80 ms release
    assert np.abs(samples).max() == pytest.approx(0.9, abs=1e-6)


def test_drums_are_noise_not_a_tone():
    score = Score(tracks=[Track(notes=[(0, 480, 38, 100)], channel=9, is_drum=True)])
    burst = synthesize(score, RATE)[: int(0.1 * RATE)]
    spectrum = np.abs(np.fft.rfft(burst))
    assert spectrum.max() < 0.2 * spectrum.sum() / 10  # no single dominant frequency


def test_an_empty_score_is_silence():
    samples = synthesize(Score(), RATE)
    assert samples.dtype == np.float32 and not np.any(samples)


def test_a_real_piece_becomes_a_valid_wav_file(tmp_path):
    score = read_midi(real_midi_files()[0])
    path = write_wav(score, tmp_path / "piece.wav", RATE)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        assert wav.getnframes() / RATE == pytest.approx(score.duration_seconds, abs=0.2)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert np.abs(frames).max() > 20000
    assert [p.name for p in tmp_path.iterdir()] == ["piece.wav"]


def test_an_impossible_sample_rate_is_refused():
    with pytest.raises(DeepsymError, match="sample rate"):
        synthesize(one_note(60), 100)
