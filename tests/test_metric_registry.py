"""The metrics registry is the one list of metrics: deepsym's own (the core plugin's) in
their order, then a plugin's, in ``deepsym metrics`` (table, --json, folder mean ± std)
and ``deepsym evaluate`` (table and report); a metric that raises or gives no number is
'-' with one warning line naming its plugin, and the command still works."""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from music21_corpus import real_midi_files
from registered_plugins import registered

from deepsym import Score, read_midi
from deepsym.cli import main
from deepsym.data import Corpus, build_corpus
from deepsym.evaluation import evaluate, markdown, metric_rows
from deepsym.hookspecs import Register, hookimpl
from deepsym.metrics import summary
from deepsym.plugins import PluginManager, manager

#: deepsym's metrics in the order ``deepsym metrics --json`` and evaluate have listed them.
BUILTIN_ORDER = [
    "notes", "pitch_range", "n_pitches_used", "n_pitch_classes_used", "pitch_entropy",
    "pitch_class_entropy", "scale_consistency", "repetitions_2", "repetitions_3",
    "repetitions_4", "polyphony", "polyphony_rate", "onset_polyphony", "empty_beat_rate",
    "empty_measure_rate", "groove_consistency", "qualified_note_rate", "tonal_distance",
    "used_pitch_classes", "drum_pattern_rate",
]
FILES = real_midi_files()[:3]


def lowest_pitch(score: Score) -> int:
    """The lowest pitch of the score."""
    return min(int(n["pitch"]) for t in score.tracks for n in t.notes)


def lowest(path: Path) -> int:
    return lowest_pitch(read_midi(path))


class Extra:
    """A throwaway plugin with one well-behaved metric."""

    @hookimpl
    def register_metrics(self, register: Register) -> None:
        register(lowest_pitch)


class Misbehaving:
    """A throwaway plugin whose metrics raise or return text."""

    @hookimpl
    def register_metrics(self, register: Register) -> None:
        register(self.broken, "broken")
        register(self.wordy, "wordy")

    @staticmethod
    def broken(score: Score) -> float:
        raise RuntimeError("no pitches here")

    @staticmethod
    def wordy(score: Score) -> str:
        return "many"


@pytest.fixture
def extra() -> Iterator[PluginManager]:
    with registered(Extra(), "extra") as pm:
        yield pm


@pytest.fixture
def misbehaving() -> Iterator[PluginManager]:
    with registered(Misbehaving(), "misbehaving") as pm:
        yield pm


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """12 chorales: 10 train pieces, 1 valid, 1 test."""
    root = tmp_path_factory.mktemp("registry")
    build_corpus(real_midi_files()[:12], root / "corpus", seed=0, workers=1)
    return Corpus.open(root / "corpus")


def columns(line: str) -> list[str]:
    return line.split()


# -- one list ---------------------------------------------------------------------------


def test_the_registry_is_the_only_list_and_keeps_todays_order():
    assert not hasattr(summary, "METRICS")
    assert [m.name for m in summary.registered_metrics()] == BUILTIN_ORDER
    assert all(m.plugin == "core" and m.builtin for m in summary.registered_metrics())
    assert list(summary.summarize(read_midi(FILES[0]))) == BUILTIN_ORDER
    assert manager().metrics.names("core") == sorted(BUILTIN_ORDER)


def test_a_plugin_metric_is_summarized_after_the_builtins(extra):
    values = summary.summarize(read_midi(FILES[0]))
    assert list(values) == [*BUILTIN_ORDER, "lowest_pitch"]
    assert values["lowest_pitch"] == lowest(FILES[0])
    assert summary.aggregate([values])["lowest_pitch"] == (lowest(FILES[0]), 0.0, 1)
    assert summary.registered_metrics()[-1][2:] == ("extra", False)


def test_an_unregistered_plugin_metric_is_no_longer_measured(extra):
    extra.unregister("extra")
    try:
        assert list(summary.summarize(read_midi(FILES[0]))) == BUILTIN_ORDER
    finally:
        extra.register(Extra(), "extra")


# -- deepsym metrics --------------------------------------------------------------------


def test_deepsym_metrics_shows_a_plugin_metric_in_the_table(extra, capsys):
    assert main(["metrics", str(FILES[0])]) == 0
    captured = capsys.readouterr()
    header, row = captured.out.splitlines()
    assert columns(header)[:4] == ["file", "notes", "range", "pitches"]
    assert columns(header)[-1] == "lowest_pitch"
    assert columns(row)[-1] == f"{lowest(FILES[0])}.000"
    assert captured.err == ""


def test_deepsym_metrics_json_has_a_plugin_metric(extra, capsys):
    assert main(["metrics", "--json", str(FILES[0])]) == 0
    (single,) = json.loads(capsys.readouterr().out)
    assert list(single["metrics"]) == [*BUILTIN_ORDER, "lowest_pitch"]
    assert single["metrics"]["lowest_pitch"] == lowest(FILES[0])


def test_deepsym_metrics_folder_gives_a_plugin_metric_mean_and_std(extra, tmp_path, capsys):
    for path in FILES:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    expected = [lowest(path) for path in FILES]
    assert main(["metrics", str(tmp_path)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.startswith(f"{tmp_path} (3 files, mean±std)")
    assert columns(row)[-1] == f"{np.mean(expected):.3f}±{np.std(expected):.3f}"
    assert main(["metrics", "--json", str(tmp_path)]) == 0
    (folder,) = json.loads(capsys.readouterr().out)
    assert folder["mean"]["lowest_pitch"] == pytest.approx(np.mean(expected))
    assert folder["std"]["lowest_pitch"] == pytest.approx(np.std(expected))


def test_a_misbehaving_metric_is_a_dash_with_one_warning_each(misbehaving, tmp_path, capsys):
    for path in FILES:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert main(["metrics", str(tmp_path), str(FILES[0])]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "deepsym: warning: metric 'broken' of plugin 'misbehaving' failed: RuntimeError: "
        "no pitches here",
        "deepsym: warning: metric 'wordy' of plugin 'misbehaving' returned str, not a number"]
    header, folder, single = captured.out.splitlines()
    assert columns(header)[-2:] == ["broken", "wordy"]
    assert columns(folder)[-2:] == columns(single)[-2:] == ["-", "-"]
    assert columns(single)[1] == str(read_midi(FILES[0]).n_notes)  # the rest measured
    assert main(["metrics", "--json", str(FILES[0])]) == 0
    (single_json,) = json.loads(capsys.readouterr().out)
    assert single_json["metrics"]["broken"] is single_json["metrics"]["wordy"] is None
    assert single_json["metrics"]["notes"] == read_midi(FILES[0]).n_notes


def test_summarize_records_why_a_metric_failed(misbehaving):
    failures: dict[str, str] = {}
    values = summary.summarize(read_midi(FILES[0]), failures)
    assert math.isnan(values["broken"]) and math.isnan(values["wordy"])
    assert list(failures) == ["broken", "wordy"]
    assert math.isnan(summary.summarize(read_midi(FILES[0]))["broken"])  # no record asked


# -- deepsym evaluate -------------------------------------------------------------------


def test_evaluate_table_and_report_have_a_plugin_metric(extra, corpus, tmp_path, capsys):
    generated = tmp_path / "generated"
    generated.mkdir()
    for path in FILES:
        (generated / path.name).write_bytes(path.read_bytes())
    report = tmp_path / "report.md"
    assert main(["evaluate", str(generated), "--corpus", str(corpus.path), "--top", "1",
                 "--report", str(report)]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines()[2:2 + len(BUILTIN_ORDER) + 1]]
    assert names == [*BUILTIN_ORDER, "lowest_pitch"]
    expected = [lowest(path) for path in FILES]
    mean, std = np.mean(expected), np.std(expected)
    (line,) = [line for line in out.splitlines() if line.startswith("lowest_pitch ")]
    assert columns(line)[1:4] == [f"{mean:.3g}", "±", f"{std:.3g}"]
    assert f"| lowest_pitch | {mean:.3g} ± {std:.3g} |" in report.read_text()


def test_evaluate_reports_a_misbehaving_metric_and_measures_the_rest(misbehaving, corpus,
                                                                     tmp_path):
    result = evaluate(FILES[0], corpus, top=1)
    rows = {name: (generated, held_out) for name, generated, held_out in metric_rows(result)}
    assert list(rows) == [*BUILTIN_ORDER, "broken", "wordy"]
    assert rows["broken"] == rows["wordy"] == ("-", "-")
    assert "-" not in rows["notes"]
    assert result.metric_failures == {
        "broken": "metric 'broken' of plugin 'misbehaving' failed: RuntimeError: no "
                  "pitches here",
        "wordy": "metric 'wordy' of plugin 'misbehaving' returned str, not a number"}
    text = markdown(result)
    assert "| broken | - | - |" in text and "## Failed metrics" in text
    assert "- metric 'broken' of plugin 'misbehaving' failed: RuntimeError" in text


def test_evaluate_command_warns_once_per_misbehaving_metric(misbehaving, corpus, capsys):
    assert main(["evaluate", str(FILES[0]), "--corpus", str(corpus.path), "--top", "1"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "metric" in line]
    assert warnings == [
        "deepsym: warning: metric 'broken' of plugin 'misbehaving' failed: RuntimeError: no "
        "pitches here",
        "deepsym: warning: metric 'wordy' of plugin 'misbehaving' returned str, not a number"]
