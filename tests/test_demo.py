"""``deepsym demo`` end to end, tiny: a real corpus, a few training steps of a small
Char-RNN, then every promised file exists and is valid (MIDI, PNG, WAV, the report)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import wave
from pathlib import Path

import matplotlib.image
import numpy as np
import pretty_midi
import pytest
from music21_corpus import real_midi_files

from deepsym import read_midi
from deepsym.audio import DEFAULT_SAMPLE_RATE
from deepsym.cli import main
from deepsym.data import build_corpus
from deepsym.demo import (
    CONDITIONS,
    MAX_POLYPHONY,
    TEMPERATURE,
    busy_cores,
    changes,
    idle_cores,
)
from deepsym.refining import check_refined
from deepsym.steering import key_agrees, measure

TINY = ["--steps", "3", "--seconds", "8", "--set", "hidden=24", "--set", "layers=1",
        "--set", "embedding=16", "--set", "batch_size=4", "--set", "sequence_length=48"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "corpus"
    build_corpus(real_midi_files()[:30], path, workers=1)
    return path


@pytest.fixture(scope="module")
def demo(corpus, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo-run") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--out", str(out), "--corpus", str(corpus), *TINY]) == 0
    return out, printed.getvalue()


def test_every_piece_has_valid_midi_png_and_wav(demo):
    out, _ = demo
    names = [name for name, _, _ in CONDITIONS]
    assert sorted(p.name for p in (out / "pieces").iterdir()) == sorted(
        f"{n}{refined}.{ext}" for n in names for refined in ("", "-refined")
        for ext in ("mid", "png", "wav"))
    for name in [*names, *(f"{n}-refined" for n in names)]:
        midi = out / "pieces" / f"{name}.mid"
        score = read_midi(midi)
        peer = pretty_midi.PrettyMIDI(str(midi))
        assert score.n_notes == sum(len(i.notes) for i in peer.instruments) > 0
        # a refined piece may last a little longer (lengths re-timed)
        assert score.duration_seconds > 0
        assert score.duration_seconds <= 8.0 + 1e-6 or name.endswith("-refined")

        png = (out / "pieces" / f"{name}.png").read_bytes()
        assert png.startswith(PNG_SIGNATURE)
        image = matplotlib.image.imread(out / "pieces" / f"{name}.png")
        assert image.shape[:2] == (500, 1200) and image.std() > 0.01  # a picture, not blank

        with wave.open(str(out / "pieces" / f"{name}.wav")) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == \
                (2, 2, DEFAULT_SAMPLE_RATE)
            seconds = wav.getnframes() / DEFAULT_SAMPLE_RATE
            frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        assert score.duration_seconds - 0.5 <= seconds <= score.duration_seconds + 3.0
        assert np.abs(frames).max() > 10000  # normalized sound, not silence


def test_the_report_shows_metrics_and_links_every_file(demo):
    out, _ = demo
    report = (out / "report.md").read_text()
    assert report.startswith("# deepsym demo\n")
    assert "| pitch_class_entropy |" in report and "held-out test split" in report
    for name, label, _ in CONDITIONS:
        assert f"### pieces/{name}.mid" in report and label in report
        assert f"](pieces/{name}.png)" in report and f"](pieces/{name}.wav)" in report
        assert (out / "pieces" / f"{name}.png").exists()  # the links resolve from the report
    assert report.count("top matches:") == len(CONDITIONS)
    assert "trained 3 steps" in report


def test_each_refined_piece_keeps_its_notes_and_the_report_says_what_changed(demo):
    out, _ = demo
    report = (out / "report.md").read_text()
    assert "## Refined by Duration Net" in report
    section = report.split("## Refined by Duration Net")[1].split("\n## ")[0]
    rows = {line.strip("| ").split(" | ")[0]: line.strip("| ").split(" | ")
            for line in section.splitlines() if line.startswith("| ")}
    for name, _, _ in CONDITIONS:
        before = read_midi(out / "pieces" / f"{name}.mid")
        after = read_midi(out / "pieces" / f"{name}-refined.mid")
        check_refined(before, after, "refine-duration")  # pitches and order kept
        lengths, onsets, grid, qualified = changes(before, after)
        assert rows[name][1:] == [f"{lengths:.0%}", f"{onsets:.0%}",
                                  f"{grid[0]:.0%} -> {grid[1]:.0%}",
                                  f"{qualified[0]:.3f} -> {qualified[1]:.3f}"]
        assert grid[1] == 1.0  # every onset on the sixteenth grid
        assert f"](pieces/{name}-refined.png)" in report
        assert f"](pieces/{name}-refined.wav)" in report
    assert (out / "refine-duration" / "config.json").is_file()


def test_the_report_sets_each_request_beside_what_was_measured(demo):
    out, _ = demo
    report = (out / "report.md").read_text()
    assert "## Asked and measured" in report
    names = {name for name, _, _ in CONDITIONS}
    section = report.split("## Asked and measured")[1].split("\n## ")[0]
    cells = [line.strip("| ").split(" | ") for line in section.splitlines()
             if line.startswith("| ")]
    rows = {row[0]: row for row in cells if row[0] in names}
    assert len(rows) == len(CONDITIONS)
    for name, _, asks in CONDITIONS:
        got = measure(read_midi(out / "pieces" / f"{name}.mid"))
        row = rows[name]
        assert row[1] == asks["key"] and row[2] == f"{got.key} ({got.key_r:.2f})"
        assert row[3] == ("yes" if key_agrees(asks["key"], got.key) else "no")
        assert row[4] == {"high": "67.0", "low": "53.0"}.get(asks.get("pitch"), "-")
        assert row[5] == f"{got.mean_pitch:.1f}" and row[7] == f"{got.density:.2f}"
    sparse, dense = float(rows["sparse"][6]), float(rows["dense"][6])
    assert 0 < sparse < dense  # the low and the high end of the corpus's density range


def test_contrasting_requests_and_sampling_defaults():
    asks = {name: asked for name, _, asked in CONDITIONS}
    assert len({asks["d-major"]["key"], asks["f-minor"]["key"]}) == 2
    assert (asks["high"]["pitch"], asks["low"]["pitch"]) == ("high", "low")
    assert (asks["sparse"]["density"], asks["dense"]["density"]) == ("sparse", "dense")
    assert 0 < TEMPERATURE <= 1 and (MAX_POLYPHONY is None or MAX_POLYPHONY >= 1)


def test_it_prints_where_everything_is(demo):
    out, printed = demo
    assert f"the report: {out / 'report.md'}" in printed
    assert str(out / "pieces") in printed and f"the trained model: {out / 'run'}" in printed
    assert "[2/5] training char-rnn-conditional" in printed and "thread" in printed
    assert f"[3/5] sampling {len(CONDITIONS)} pieces" in printed
    assert "[4/5] training Refine Net's Duration Net" in printed
    assert f"--refine {out / 'refine-duration'}" in printed
    assert (out / "run" / "config.json").is_file()


def test_a_used_folder_is_refused_and_left_alone(demo, corpus, capsys):
    out, _ = demo
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert main(["demo", "--out", str(out), "--corpus", str(corpus), *TINY]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists and is not an empty folder" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_a_missing_extra_is_named_before_any_work(tmp_path, corpus, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "midirenderer" else real(name, *a))
    assert main(["demo", "--out", str(tmp_path / "out"), "--corpus", str(corpus), *TINY]) == 1
    err = capsys.readouterr().err
    assert "audio" in err and "pip install 'deepsym[all]'" in err
    assert not (tmp_path / "out").exists()


def test_without_a_renderer_wheel_it_writes_everything_but_audio(tmp_path, corpus, capsys,
                                                                  monkeypatch):
    """Where midirenderer ships no wheel (e.g. Linux aarch64) the demo still runs, and says so."""
    reason = "rendering audio needs midirenderer, which ships no wheel for linux aarch64"
    monkeypatch.setattr("deepsym.demo.unavailable", lambda: reason)
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--corpus", str(corpus), *TINY]) == 0
    assert f"writing no audio ({reason})" in capsys.readouterr().out
    assert sorted(p.suffix for p in (out / "pieces").iterdir()) == \
        [".mid"] * 2 * len(CONDITIONS) + [".png"] * 2 * len(CONDITIONS)  # refined too
    report = (out / "report.md").read_text()
    assert ".wav" not in report and "](pieces/d-major.png)" in report


def test_torch_gets_the_idle_cores(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    for busy, idle in [(0.0, cores), (cores - 0.8, 1), (3.0 * cores, 1)]:
        monkeypatch.setattr("deepsym.demo.busy_cores", lambda busy=busy: busy)
        assert idle_cores() == idle


def test_busy_cores_are_measured_now_not_from_the_lagging_load_average(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))  # a job long gone
    assert 0.0 <= busy_cores(0.2) <= os.cpu_count()
    times = iter([(100, 1000), (400, 1400)])  # 300 of 400 ticks busy
    monkeypatch.setattr("deepsym.demo._cpu_times", lambda: next(times))
    assert busy_cores(0.0) == pytest.approx(0.75 * os.cpu_count())


def test_without_proc_stat_the_load_average_counts(monkeypatch):
    def missing() -> tuple[int, int]:
        raise FileNotFoundError("/proc/stat")

    monkeypatch.setattr("deepsym.demo._cpu_times", missing)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert busy_cores(0.0) == 1.5


@pytest.mark.parametrize("minutes", ["0", "-1", "inf", "nan"])
def test_bad_options_are_refused_before_any_work(tmp_path, capsys, minutes):
    with pytest.raises(SystemExit):
        main(["demo", "--minutes", minutes, "--out", str(tmp_path / "x")])
    assert f"must be a positive, finite number, not {minutes}" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x")
