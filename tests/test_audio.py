"""Rendering through a General MIDI SoundFont: right pitch, right time, valid WAV files,
and one clear error for a file that is not MIDI or a SoundFont that cannot be used."""
from __future__ import annotations

import platform
import shutil
import sys
import wave

import numpy as np
import pytest
from music21_corpus import real_midi_files

from deepsym import Score, Track, read_midi, write_midi
from deepsym.audio import (
    MAX_TAIL_S,
    PEAK,
    SILENCE,
    WHEEL_PLATFORMS,
    AudioError,
    default_soundfont,
    render,
    resample,
    write_wav,
)
from deepsym.cli import main
from deepsym.spectrum import fundamental_hertz, spectral_flatness, timbre_similarity

if (sys.platform, platform.machine()) not in WHEEL_PLATFORMS:
    pytest.skip(f"midirenderer ships no wheel for {sys.platform} {platform.machine()}",
                allow_module_level=True)

RATE = 48000  # the renderer's own rate: the default


def one_note(pitch: int, start_beats: float = 1.0, beats: float = 2.0,
             program: int = 0) -> Score:
    """One note at 120 qpm: a beat is 0.5 s."""
    tpb = 480
    return Score(ticks_per_beat=tpb, tempos=[(0, 120.0)], tracks=[
        Track(notes=[(int(start_beats * tpb), int(beats * tpb), pitch, 100)], program=program)])


def read_wav(path) -> tuple[tuple[int, int, int], np.ndarray]:
    with wave.open(str(path)) as wav:
        shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    return shape, frames


def equal_temperament(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


@pytest.mark.parametrize("pitch, hertz", [(69, 440.0), (81, 880.0)], ids=["A4", "A5"])
def test_a_piano_note_sounds_at_its_pitch(pitch: int, hertz: float):
    samples = render(one_note(pitch), sample_rate=RATE)
    assert fundamental_hertz(samples[:, int(0.55 * RATE):int(1.45 * RATE)], RATE) == \
        pytest.approx(hertz, rel=0.01)


def test_every_note_of_a_c_major_scale_is_within_one_percent():
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    notes = [(2 * 480 * i, 480, pitch, 100) for i, pitch in enumerate(scale)]  # i s .. i+0.5 s
    samples = render(Score(tempos=[(0, 120.0)], tracks=[Track(notes=notes)]), sample_rate=RATE)
    measured = [fundamental_hertz(samples[:, int((i + 0.05) * RATE):int((i + 0.45) * RATE)],
                                  RATE) for i in range(len(scale))]
    assert measured == pytest.approx([equal_temperament(p) for p in scale], rel=0.01)


def test_the_estimate_finds_a_fundamental_weaker_than_its_harmonics():
    """The reason for the harmonic product spectrum: the FFT's highest peak is the 2nd."""
    t = np.arange(RATE // 2) / RATE
    tone = sum(a * np.sin(2 * np.pi * 261.63 * h * t) for h, a in
               [(1, 0.3), (2, 1.0), (3, 0.6), (4, 0.4), (5, 0.2)])
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.fft.rfftfreq(len(tone), 1 / RATE)[spectrum.argmax()] == pytest.approx(523, abs=2)
    assert fundamental_hertz(tone, RATE) == pytest.approx(261.63, rel=0.002)
    assert np.isnan(fundamental_hertz(np.zeros(1000), RATE))


def test_general_midi_programs_sound_different():
    piano, violin = (render(one_note(60, program=p), sample_rate=RATE) for p in (0, 40))
    steady = slice(int(0.6 * RATE), int(1.4 * RATE))
    assert timbre_similarity(piano[:, steady], violin[:, steady], RATE) < 0.9
    again = render(one_note(60, program=0), sample_rate=RATE)
    assert timbre_similarity(piano[:, steady], again[:, steady], RATE) > 0.999
    for samples in (piano, violin):  # both still at C4
        assert fundamental_hertz(samples[:, steady], RATE) == \
            pytest.approx(equal_temperament(60), rel=0.01)


@pytest.mark.parametrize("key", [38, 42], ids=["snare", "closed hi-hat"])
def test_channel_10_plays_the_drum_kit_not_pitched_notes(key: int):
    def hit(channel: int) -> np.ndarray:
        score = Score(tempos=[(0, 120.0)], tracks=[
            Track(notes=[(0, 480, key, 100)], channel=channel, is_drum=channel == 9)])
        return render(score, sample_rate=RATE)[:, :int(0.25 * RATE)]

    drum, pitched = hit(9), hit(0)
    assert np.abs(drum).max() > 0.01
    # noise, not a tone: its power spreads over the spectrum, a piano's sits on partials
    assert spectral_flatness(drum, RATE) > 100 * spectral_flatness(pitched, RATE)
    assert spectral_flatness(drum, RATE) > 0.01


def test_the_sample_rate_is_seconds_of_score_time():
    for rate in (22050, 48000):
        samples = render(one_note(69), sample_rate=rate)  # sounds 0.5 s .. 1.5 s
        assert samples.dtype == np.float32 and samples.shape[0] == 2
        assert np.abs(samples[:, :int(0.49 * rate)]).max() < SILENCE  # below -80 dBFS
        assert np.abs(samples[:, int(0.5 * rate):int(0.6 * rate)]).max() > 0.01
        assert 1.5 <= samples.shape[1] / rate <= 1.5 + MAX_TAIL_S
        assert fundamental_hertz(samples[:, int(0.55 * rate):int(1.45 * rate)], rate) == \
            pytest.approx(440.0, abs=2.5)


def test_a_note_releases_after_its_end_then_the_audio_stops():
    samples = render(one_note(69), sample_rate=RATE)
    end = int(1.5 * RATE)
    assert np.abs(samples[:, end:end + int(0.02 * RATE)]).max() > 1e-3  # the release
    assert samples.shape[1] < end + MAX_TAIL_S * RATE  # cut once it fell silent
    assert np.abs(samples[:, -100:]).max() < 1e-3


def test_a_real_chorale_lasts_its_duration_and_is_not_silent(tmp_path):
    path = real_midi_files()[0]
    score = read_midi(path)
    last_onset = max(float(score.to_seconds(int(t.notes["start"].max()))) for t in score.tracks)
    out = write_wav(path, tmp_path / "chorale.wav")
    shape, frames = read_wav(out)
    assert shape == (2, 2, RATE)
    seconds = len(frames) / RATE
    assert score.duration_seconds - 0.5 <= seconds <= score.duration_seconds + MAX_TAIL_S
    assert np.abs(frames).max() == round(PEAK * 32767)
    # sound in every second up to the last onset, not just somewhere
    rms = [np.sqrt(np.mean(frames[int(s * RATE):int((s + 1) * RATE)].astype(float) ** 2))
           for s in range(int(last_onset))]
    assert min(rms) > 100
    assert [p.name for p in tmp_path.iterdir()] == ["chorale.wav"]


def test_a_score_of_rests_is_silence_of_its_length():
    score = Score(ticks_per_beat=480, tempos=[(0, 120.0)], end_of_track=960)
    samples = render(score, sample_rate=RATE)
    assert samples.shape == (2, RATE) and not np.any(samples)


def test_a_file_without_notes_or_length_is_one_error_line(tmp_path, capsys):
    empty = tmp_path / "empty.mid"
    write_midi(Score(), empty)
    with pytest.raises(AudioError, match="no notes and no length"):
        render(Score())
    assert main(["render", str(empty), "-o", str(tmp_path / "empty.wav")]) == 1
    err = capsys.readouterr().err
    assert err == f"deepsym: error: {empty}: no notes and no length: nothing to render\n"
    assert not (tmp_path / "empty.wav").exists()


@pytest.mark.parametrize("new_rate", [22050, 44100, 96000])
def test_resampling_keeps_a_tone_and_its_length(new_rate: int):
    t = np.arange(48000) / 48000
    tone = np.stack([np.sin(2 * np.pi * 1000 * t)] * 2).astype(np.float32)
    out = resample(tone, 48000, new_rate)
    assert out.shape == (2, new_rate) and out.dtype == np.float32
    expected = np.sin(2 * np.pi * 1000 * np.arange(new_rate) / new_rate)
    np.testing.assert_allclose(out[0], expected, atol=1e-3)


def test_any_soundfont_file_may_be_given(tmp_path):
    copy = tmp_path / "my gm.sf2"
    shutil.copy(default_soundfont(), copy)
    np.testing.assert_array_equal(render(one_note(69), copy, RATE),
                                  render(one_note(69), None, RATE))


def test_render_command_writes_a_wav(tmp_path, capsys):
    midi = tmp_path / "a4.mid"
    write_midi(one_note(69), midi)
    out = tmp_path / "a4.wav"
    assert main(["render", str(midi), "-o", str(out), "--sample-rate", "22050"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    shape, frames = read_wav(out)
    assert shape == (2, 2, 22050)
    steady = frames[int(0.55 * 22050):int(1.45 * 22050)].T.astype(float)
    assert fundamental_hertz(steady, 22050) == pytest.approx(440.0, rel=0.01)


def corrupt_soundfonts(tmp_path) -> dict:
    data = default_soundfont().read_bytes()
    cases = {"truncated": data[:len(data) // 2], "empty": b"", "text": b"not a soundfont\n",
             "riff of garbage": b"RIFF\x64\x00\x00\x00sfbk" + bytes(range(100))}
    paths = {}
    for name, content in cases.items():
        paths[name] = tmp_path / f"{name}.sf2"
        paths[name].write_bytes(content)
    return paths


@pytest.mark.parametrize("case", ["truncated", "empty", "text", "riff of garbage", "missing",
                                  "a folder"])
def test_a_bad_soundfont_is_one_error_line_and_nothing_written(tmp_path, capsys, case):
    paths = {**corrupt_soundfonts(tmp_path), "missing": tmp_path / "nope.sf2",
             "a folder": tmp_path}
    midi = tmp_path / "a4.mid"
    write_midi(one_note(69), midi)
    out = tmp_path / "a4.wav"
    assert main(["render", str(midi), "-o", str(out), "--soundfont", str(paths[case])]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"deepsym: error: {paths[case]}: ")
    assert "SoundFont" in err
    assert not out.exists()
    with pytest.raises(AudioError):
        render(one_note(69), paths[case])


def test_a_file_that_is_not_midi_is_one_error_line(tmp_path, capsys):
    bad = tmp_path / "song.mid"
    bad.write_bytes(b"RIFF....WAVEfmt not midi")
    assert main(["render", str(bad), "-o", str(tmp_path / "song.wav")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a Standard MIDI File" in err and str(bad) in err
    assert not (tmp_path / "song.wav").exists()


def test_an_impossible_sample_rate_is_refused(tmp_path, capsys):
    with pytest.raises(AudioError, match="sample rate"):
        render(one_note(60), sample_rate=100)
    midi = tmp_path / "a4.mid"
    write_midi(one_note(69), midi)
    assert main(["render", str(midi), "--sample-rate", "0"]) == 1
    assert "sample rate 0 Hz" in capsys.readouterr().err
