"""Rendering through a General MIDI SoundFont: right pitch, right time, valid WAV files,
and one clear error for a file that is not MIDI or a SoundFont that cannot be used."""
from __future__ import annotations

import shutil
import wave

import numpy as np
import pytest
from music21_corpus import real_midi_files

from deepsym import Score, Track, read_midi, write_midi
from deepsym.audio import MAX_TAIL_S, PEAK, AudioError, default_soundfont, render, write_wav
from deepsym.cli import main

RATE = 44100


def one_note(pitch: int, start_beats: float = 1.0, beats: float = 2.0,
             program: int = 0) -> Score:
    """One note at 120 qpm: a beat is 0.5 s."""
    tpb = 480
    return Score(ticks_per_beat=tpb, tempos=[(0, 120.0)], tracks=[
        Track(notes=[(int(start_beats * tpb), int(beats * tpb), pitch, 100)], program=program)])


def peak_hertz(samples: np.ndarray, rate: int) -> float:
    mono = samples.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[spectrum.argmax()])


def read_wav(path) -> tuple[tuple[int, int, int], np.ndarray]:
    with wave.open(str(path)) as wav:
        shape = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    return shape, frames


@pytest.mark.parametrize("pitch, hertz", [(69, 440.0), (81, 880.0)], ids=["A4", "A5"])
def test_a_piano_note_sounds_at_its_pitch(pitch: int, hertz: float):
    samples = render(one_note(pitch), sample_rate=RATE)
    assert peak_hertz(samples[:, int(0.55 * RATE):int(1.45 * RATE)], RATE) == \
        pytest.approx(hertz, abs=2.5)


def test_the_sample_rate_is_seconds_of_score_time():
    for rate in (22050, 48000):
        samples = render(one_note(69), sample_rate=rate)  # sounds 0.5 s .. 1.5 s
        assert samples.dtype == np.float32 and samples.shape[0] == 2
        assert not np.any(samples[:, :int(0.49 * rate)])
        assert np.abs(samples[:, int(0.5 * rate):int(0.6 * rate)]).max() > 0.01
        assert 1.5 <= samples.shape[1] / rate <= 1.5 + MAX_TAIL_S
        assert peak_hertz(samples[:, int(0.55 * rate):int(1.45 * rate)], rate) == \
            pytest.approx(440.0, abs=2.5)


def test_a_note_releases_after_its_end_then_the_audio_stops():
    samples = render(one_note(69), sample_rate=RATE)
    end = int(1.5 * RATE)
    assert np.abs(samples[:, end:end + int(0.02 * RATE)]).max() > 1e-3  # the release
    assert samples.shape[1] < end + MAX_TAIL_S * RATE  # cut once it fell silent
    assert np.abs(samples[:, -100:]).max() < 1e-3


def test_programs_and_drums_sound_differently():
    piano, strings = (render(one_note(60, program=p), sample_rate=RATE)[:, :RATE]
                      for p in (0, 48))
    drums = Score(tracks=[Track(notes=[(0, 480, 38, 100)], channel=9, is_drum=True)])
    snare = render(drums, sample_rate=RATE)[:, :int(0.2 * RATE)]
    assert np.abs(snare).max() > 0.01
    assert not np.allclose(piano, strings, atol=1e-3)
    assert peak_hertz(snare, RATE) != pytest.approx(261.6, abs=5)  # the kit, not a C4


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


def test_an_empty_score_is_silence_of_its_length():
    score = Score(ticks_per_beat=480, tempos=[(0, 120.0)], end_of_track=960)
    samples = render(score, sample_rate=RATE)
    assert samples.shape == (2, RATE) and not np.any(samples)


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
    assert peak_hertz(frames[int(0.55 * 22050):int(1.45 * 22050)].T.astype(float), 22050) == \
        pytest.approx(440.0, abs=2.5)


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
