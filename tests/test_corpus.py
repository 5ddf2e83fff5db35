"""Corpus building and reading on real music: counts, rejections, splits, incremental and
atomic builds, the cache against read_midi, ``deepsym corpus info`` and CLI errors."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from edge_suite_files import suite
from music21_corpus import real_midi_files

import deepsym
from deepsym.cli import main
from deepsym.data import Corpus, build_corpus, corpus_stats, estimate_key, find_midi_files
from deepsym.data.corpus import ARRAYS, CURRENT, EVENTS
from deepsym.data.stats import PITCH_CLASSES, longest_in_force, pitch_class_histogram
from deepsym.errors import CorpusError

NOT_MIDI = "not a Standard MIDI File (no MThd header) (at byte 0)"


@pytest.fixture(scope="module")
def real() -> list[Path]:
    files = real_midi_files()
    assert len(files) >= 300, "the music21 test corpus is incomplete"
    return files


def make_sources(root: Path, real: list[Path]) -> dict[str, Path]:
    """64 MIDI files in nested folders: 61 real pieces, a duplicate, a corrupt file and
    one without notes; plus a text file that is not picked up."""
    bach = [p for p in real if p.name.startswith("bach")][:40]
    folk = [p for p in real if p.name.startswith("folk")]
    for folder, files in ((root / "bach", bach), (root / "folk" / "deep", folk[:20])):
        folder.mkdir(parents=True)
        for f in files:
            shutil.copy2(f, folder / f.name)
    (root / "extra").mkdir()
    shutil.copy2(folk[20], root / "extra" / "UPPER.MIDI")
    (root / "extra" / "notes.txt").write_text("not music")
    (root / "bad").mkdir()
    (root / "bad" / "corrupt.mid").write_text("this is not a MIDI file")
    deepsym.write_midi(deepsym.Score(tempos=[(0, 100.0)]), root / "bad" / "empty-score.mid")
    (root / "dup").mkdir()
    shutil.copy2(root / "bach" / bach[0].name, root / "dup" / "copy.mid")
    return {"root": root, "original": root / "bach" / bach[0].name,
            "duplicate": root / "dup" / "copy.mid", "corrupt": root / "bad" / "corrupt.mid",
            "empty": root / "bad" / "empty-score.mid", "spare": folk[21:60]}


@pytest.fixture
def sources(tmp_path: Path, real: list[Path]) -> dict[str, Path]:
    return make_sources(tmp_path / "src", real)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, real: list[Path]) -> dict:
    """One corpus built with 2 worker processes, shared by the read-only tests."""
    root = tmp_path_factory.mktemp("built")
    src = make_sources(root / "src", real)
    result = build_corpus([src["root"]], root / "corpus", workers=2)
    return {**src, "result": result, "corpus": Corpus.open(root / "corpus")}


def read(path: str | Path) -> deepsym.Score:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return deepsym.read_midi(path)


def assert_same_music(cached: deepsym.Score, parsed: deepsym.Score) -> None:
    assert (cached.ticks_per_beat, cached.smpte, cached.end_of_track) == \
        (parsed.ticks_per_beat, parsed.smpte, parsed.end_of_track)
    for name in EVENTS:
        assert np.array_equal(getattr(cached, name), getattr(parsed, name)), name
    assert len(cached.tracks) == len(parsed.tracks)
    for a, b in zip(cached.tracks, parsed.tracks, strict=True):
        assert np.array_equal(a.notes, b.notes)
        assert (a.program, a.channel, a.is_drum, a.name, a.instrument) == \
            (b.program, b.channel, b.is_drum, b.name, b.instrument)


# -- building ----------------------------------------------------------------------------

def test_build_counts_pieces_and_records_every_rejected_file(built):
    result, corpus = built["result"], built["corpus"]
    assert (result.found, result.parsed, result.reused, result.pieces) == (64, 64, 0, 61)
    assert len(corpus) == 61
    assert result.notes == len(corpus.note_array) == sum(p.notes for p in corpus.pieces)
    expected = {
        (str(built["corrupt"]), NOT_MIDI),
        (str(built["empty"]), "no notes"),
        (str(built["duplicate"]), f"duplicate of {built['original']}"),
    }
    lines = (corpus.folder / "rejected.tsv").read_text().splitlines()
    assert lines[0] == "path\treason"
    assert {tuple(line.split("\t")) for line in lines[1:]} == expected
    assert {(r.path, r.reason) for r in corpus.rejected} == expected
    assert {r.kind for r in corpus.rejected} == {"corrupt", "no notes", "duplicate"}
    assert not any(p.path.endswith((".txt", "copy.mid")) for p in corpus.pieces)
    assert any(p.path.endswith("UPPER.MIDI") for p in corpus.pieces)


def test_cached_scores_equal_read_midi_of_the_source_files(built):
    corpus = built["corpus"]
    for i, piece in enumerate(corpus.pieces):
        parsed = read(piece.path)
        assert_same_music(corpus.score(i), parsed)
        tracks = corpus.tracks(i)
        assert np.array_equal(corpus.notes(i), np.concatenate([t.notes for t in parsed.tracks]))
        assert list(tracks["note_count"]) == [len(t.notes) for t in parsed.tracks]
        assert np.all(tracks["piece"] == i)
        assert (piece.notes, piece.tracks) == (parsed.n_notes, len(parsed.tracks))
        assert piece.duration == pytest.approx(parsed.duration_seconds)
        assert piece.ticks_per_beat == parsed.ticks_per_beat


def test_arrays_are_memory_mapped_and_read_only(built):
    corpus = built["corpus"]
    for array in (corpus.note_array, corpus.track_table, corpus.piece_table):
        assert isinstance(array, np.memmap)
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        corpus.notes(0)["pitch"][0] = 1


def test_parallel_and_serial_builds_write_the_same_corpus(built, tmp_path):
    serial = build_corpus([built["root"]], tmp_path / "serial", workers=1)
    assert serial.parsed == built["result"].parsed
    one, two = Corpus.open(tmp_path / "serial"), built["corpus"]
    assert one.pieces == two.pieces and one.rejected == two.rejected
    for name in ARRAYS:
        a = np.load(one.folder / f"{name}.npy")
        assert np.array_equal(a, np.load(two.folder / f"{name}.npy")), name


def test_metadata_tempo_meter_and_key(built):
    corpus = built["corpus"]
    for piece in corpus.pieces[:20]:
        score = read(piece.path)
        tempo = longest_in_force(score.tempos["tick"], score.end_tick)
        assert piece.qpm == (120.0 if tempo is None else score.tempos["qpm"][tempo])
        n, d = piece.time_signature.split("/")
        assert (int(n), int(d)) in {tuple(ts)[1:] for ts in score.time_signatures.tolist()} \
            | {(4, 4)}
        assert piece.key is not None and -1 <= piece.key_r <= 1


def test_longest_in_force():
    assert longest_in_force(np.array([], np.int64), 100) is None
    assert longest_in_force(np.array([0, 10]), 100) == 1
    assert longest_in_force(np.array([0, 90]), 100) == 0
    assert longest_in_force(np.array([60]), 100) is None  # the default held ticks 0-60


def test_key_estimate_agrees_with_music21_krumhansl_kessler(real):
    from music21 import converter
    from music21.analysis.discrete import KrumhanslKessler

    for path in real[::18]:
        score = read(path)
        notes = np.concatenate([t.notes for t in score.tracks if not t.is_drum])
        ours = estimate_key(pitch_class_histogram(notes))[0]
        stream = converter.parse(path)
        key = KrumhanslKessler(stream).getSolution(stream)
        assert ours == f"{PITCH_CLASSES[key.tonic.pitchClass]} {key.mode}", path.name


def test_key_estimate_of_a_scale_and_of_silence():
    notes = read(suite() / "test-c-major-scale.mid").tracks[0].notes
    assert estimate_key(pitch_class_histogram(notes))[0] == "C major"
    shifted = notes.copy()
    shifted["pitch"] += 7
    assert estimate_key(pitch_class_histogram(shifted))[0] == "G major"
    assert estimate_key(np.zeros(12)) is None


# -- splits ------------------------------------------------------------------------------

def test_splits_follow_the_fractions_on_the_real_corpus(real, tmp_path):
    result = build_corpus(real, tmp_path / "all", workers=2)
    corpus = Corpus.open(tmp_path / "all")
    sizes = {name: len(corpus.split(name)) for name in corpus.split_names}
    assert sizes == result.splits and sum(sizes.values()) == len(corpus)
    assert 0.7 < sizes["train"] / len(corpus) < 0.9
    assert 0.04 < sizes["valid"] / len(corpus) < 0.16
    assert all(corpus.pieces[i].split == "test" for i in corpus.split("test"))
    with pytest.raises(CorpusError, match="unknown split 'dev'; choose one of train, valid"):
        corpus.split("dev")


def test_existing_pieces_keep_their_split_when_files_are_added(sources, tmp_path):
    out = tmp_path / "corpus"
    build_corpus([sources["root"]], out, workers=2)
    before = {p.sha1: p.split for p in Corpus.open(out).pieces}
    new = sources["root"] / "new"
    new.mkdir()
    for f in sources["spare"][:30]:
        shutil.copy2(f, new / f.name)
    result = build_corpus([sources["root"]], out, workers=2)
    after = {p.sha1: p.split for p in Corpus.open(out).pieces}
    assert result.pieces == len(before) + 30
    assert {sha1: after[sha1] for sha1 in before} == before
    build_corpus([sources["root"]], out, seed=1)
    reseeded = Corpus.open(out)
    assert reseeded.seed == 1 and {p.sha1: p.split for p in reseeded.pieces} != after
    build_corpus([sources["root"]], out)  # the seed is remembered
    assert Corpus.open(out).seed == 1


# -- incremental and atomic builds ------------------------------------------------------------

def test_rebuild_parses_only_new_or_changed_files(sources, tmp_path):
    out, root = tmp_path / "corpus", sources["root"]
    first = build_corpus([root], out, workers=2)
    assert first.parsed == 64  # a duplicate is parsed too: it is known only once hashed
    again = build_corpus([root], out, workers=2)
    assert (again.parsed, again.reused, again.pieces) == (0, 64, first.pieces)
    for f in sources["spare"][:2]:
        shutil.copy2(f, root / "folk" / f.name)
    added = build_corpus([root], out, workers=2)
    assert (added.parsed, added.pieces) == (2, first.pieces + 2)
    os.utime(root / "folk" / sources["spare"][0].name, ns=(1, 1))  # touched, same bytes
    assert build_corpus([root], out).parsed == 0
    shutil.copyfile(sources["spare"][2], sources["original"])  # changed bytes
    changed = build_corpus([root], out)
    assert changed.parsed == 1 and changed.pieces == first.pieces + 3  # the copy is no dup now
    (root / "folk" / sources["spare"][1].name).unlink()
    removed = build_corpus([root], out)
    assert (removed.parsed, removed.pieces) == (0, first.pieces + 2)
    corpus = Corpus.open(out)
    for i, piece in enumerate(corpus.pieces):  # reused arrays are copied right
        assert_same_music(corpus.score(i), read(piece.path))
    assert sorted(os.listdir(out)) == [CURRENT, removed.version]


KILL = """
import os, signal, sys
from deepsym.data import build as c

point, out, *sources = sys.argv[1:]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if point == "parsing":
    add = c._Writer.add
    def add_then_die(self, *args):
        add(self, *args)
        if len(self.pieces) == 10:
            die()
    c._Writer.add = add_then_die
elif point == "renamed":
    c._point_current = die
elif point == "switched":
    remove = c._remove_leftovers
    c._remove_leftovers = lambda root, keep: die() if keep == "v000002" else remove(root, keep)
c.build_corpus(sources, out, workers=2)
"""


@pytest.mark.parametrize("point", ["parsing", "renamed", "switched"])
def test_a_build_killed_at_any_point_leaves_a_usable_corpus(sources, tmp_path, point):
    out, root = tmp_path / "corpus", sources["root"]
    old = build_corpus([root], out, workers=2)
    for f in sources["spare"]:  # enough new files to parse on the worker processes
        shutil.copy2(f, root / "folk" / f.name)
    run = subprocess.run([sys.executable, "-c", KILL, point, str(out), str(root)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == -signal.SIGKILL, run.stderr
    corpus = Corpus.open(out)
    new_pieces = old.pieces + len(sources["spare"])
    assert len(corpus) == (new_pieces if point == "switched" else old.pieces)
    assert_same_music(corpus.score(len(corpus) - 1), read(corpus.pieces[-1].path))
    assert len(os.listdir(out)) > 2  # what the killed build left
    rebuilt = build_corpus([root], out, workers=2)
    assert rebuilt.pieces == new_pieces
    assert sorted(os.listdir(out)) == [CURRENT, rebuilt.version]


# -- finding files ----------------------------------------------------------------------------

def test_find_midi_files_walks_folders_and_globs(sources):
    root = sources["root"]
    every = find_midi_files([root])
    assert len(every) == 64 and every == sorted(every)
    assert root / "extra" / "UPPER.MIDI" in every and root / "extra" / "notes.txt" not in every
    nested = find_midi_files([f"{root}/**/*.mid"])
    assert len(nested) == 63  # the glob names .mid only
    assert find_midi_files([root / "bach", f"{root}/bach/*.mid"]) == \
        sorted((root / "bach").iterdir())
    assert find_midi_files([root / "extra" / "notes.txt"]) == [root / "extra" / "notes.txt"]
    with pytest.raises(CorpusError, match="no files match"):
        find_midi_files([f"{root}/*.kar"])


# -- the command line ---------------------------------------------------------------------------

def test_cli_build_prints_a_summary(sources, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["corpus", "build", str(sources["root"]), "-o", str(out), "--workers", "2",
                 "--split", "0.6,0.2,0.2", "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"corpus {out} (v000001): 61 pieces, ")
    assert "64 MIDI files found: 64 parsed, 0 reused; rejected 3 (1 corrupt, 1 no notes, " \
           "1 duplicate)" in text
    assert f"rejected {sources['corrupt']}: {NOT_MIDI}" in text
    assert f"all rejected files: {out / 'v000001' / 'rejected.tsv'}" in text
    corpus = Corpus.open(out)
    assert (corpus.seed, corpus.fractions) == (7, (0.6, 0.2, 0.2))


def test_cli_info_describes_the_corpus(built, capsys, tmp_path):
    corpus = built["corpus"]
    assert main(["corpus", "info", str(corpus.path), "--plot", str(tmp_path / "plots")]) == 0
    text = capsys.readouterr().out
    sizes = [len(corpus.split(name)) for name in ("train", "valid", "test")]
    assert f"pieces: 61 (train {sizes[0]}, valid {sizes[1]}, test {sizes[2]}; seed 0" in text
    scores = [read(p.path) for p in corpus.pieces]
    seconds = round(sum(s.duration_seconds for s in scores))
    notes = sum(s.n_notes for s in scores)
    tracks = sum(len(s.tracks) for s in scores)
    assert f"music: {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d} in all" in text
    assert f"{notes:,} notes in {tracks:,} tracks" in text
    assert "rejected: 3 (1 corrupt, 1 no notes, 1 duplicate)" in text
    pitched = np.concatenate([t.notes["pitch"] for s in scores for t in s.tracks
                              if not t.is_drum])
    top = int(np.bincount(pitched).argmax())
    assert f"most common {top} ({PITCH_CLASSES[top % 12]}{top // 12 - 1})" in text
    share = 100 * np.mean(pitched % 12 == 0)
    assert f"    C  {share:5.1f}% " in text
    meters = corpus_stats(corpus).time_signatures
    assert meters == Counter(p.time_signature for p in corpus.pieces)
    assert f"time signatures (pieces): {meters.most_common(1)[0][0]} " \
           f"{meters.most_common(1)[0][1]}" in text
    for name in ("pitch", "pitch_class", "tempo", "time_signature"):
        png = tmp_path / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert f"wrote {png}" in text


def test_cli_info_plot_without_matplotlib_names_the_extra(built, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["corpus", "info", str(built["corpus"].path), "--plot", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == 'deepsym: error: plotting needs matplotlib: pip install "deepsym[plot]"'


@pytest.mark.parametrize("case", ["empty folder", "missing path", "not a corpus", "occupied",
                                  "bad split", "bad workers"])
def test_cli_errors_are_one_line(case, tmp_path, sources, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    src, out = str(sources["root"]), str(tmp_path / "out")
    argv, message = {
        "empty folder": (["build", str(empty), "-o", out],
                         f"no MIDI files (.mid, .midi) found in {empty}"),
        "missing path": (["build", str(tmp_path / "nope"), "-o", out],
                         f"no such file or folder: {tmp_path / 'nope'}"),
        "not a corpus": (["info", str(empty)],
                         f"{empty} is not a deepsym corpus (no CURRENT file); build one with "
                         "`deepsym corpus build SRC... -o CORPUS`"),
        "occupied": (["build", src, "-o", str(occupied)],
                     f"{occupied} is neither empty nor a deepsym corpus; choose a new or "
                     "empty folder for the corpus"),
        "bad split": (["build", src, "-o", out, "--split", "0.5,0.5"],
                      "split fractions must be three numbers in [0, 1] for train, valid, test "
                      "that sum to 1, not [0.5, 0.5]"),
        "bad workers": (["build", src, "-o", out, "--workers", "0"],
                        "workers must be at least 1, not 0"),
    }[case]
    assert main(["corpus", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"deepsym: error: {message}\n"
    assert captured.out == ""
    assert sorted(os.listdir(occupied)) == ["keep.txt"]
    assert not Path(out).exists()


def test_console_script_fails_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "deepsym", "corpus", "build",
                             str(tmp_path), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr == f"deepsym: error: no MIDI files (.mid, .midi) found in {tmp_path}\n"
