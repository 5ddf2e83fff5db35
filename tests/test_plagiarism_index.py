"""The n-gram index of the plagiarism search: it must find exactly what the exhaustive scan
finds for every copied run of n+ notes, in every variant (plain, transposed, keeping the
rhythm), on random corpora built by ``build_corpus``; ``corpus build`` writes it (again
on every incremental build); the CLI and ``evaluate`` use it and say when they scan
instead; a damaged index is one clear error.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from music21_corpus import real_midi_files

import deepsym
from deepsym._ext import ngrams, ngrams_py
from deepsym.cli import main
from deepsym.data import Corpus, build_corpus
from deepsym.data.ngrams import DEFAULT_N, FILES, NgramIndex
from deepsym.errors import CorpusError
from deepsym.evaluation import evaluate
from deepsym.metrics.originality import note_sequence, plagiarism
from deepsym.metrics.reading import corpus_sequences
from deepsym.score import NOTE_DTYPE, Score, Track

N = DEFAULT_N
VARIANTS = [{}, {"transpose": True}, {"tolerance": 0.03},
            {"transpose": True, "tolerance": 0.03}]
RECALL = settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def score_of(pitches: np.ndarray, ticks: np.ndarray, drums: bool = False,
             tempos: list | None = None) -> Score:
    """One track of the notes (and a drum track copying them, which must be ignored)."""
    notes = np.zeros(len(pitches), dtype=NOTE_DTYPE)
    notes["start"], notes["duration"] = ticks, 200
    notes["pitch"], notes["velocity"] = pitches, 80
    tracks = [Track(notes)] + ([Track(notes.copy(), is_drum=True, channel=9)] if drums else [])
    return Score(ticks_per_beat=480, tracks=tracks, tempos=tempos or [(0, 120.0)])


@st.composite
def corpora(draw) -> tuple[Score, list[Score]]:
    """A generated piece and training pieces of random notes holding stretches of it:
    copied, transposed, slowed down (another rhythm), with one note changed, with chords."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alphabet = draw(st.integers(2, 12))

    def melody(count: int) -> tuple[np.ndarray, np.ndarray]:
        steps = rng.choice([0, 120, 240, 480], size=count, p=[0.15, 0.35, 0.35, 0.15])
        return 50 + rng.integers(0, alphabet, count), np.cumsum(steps)

    gen = melody(draw(st.integers(N, 80)))
    pieces = []
    for _ in range(draw(st.integers(1, 8))):
        length = int(rng.integers(1, 3 * N))
        first = int(rng.integers(0, max(1, len(gen[0]) - length)))
        copy_p = gen[0][first:first + length].copy()
        copy_t = gen[1][first:first + length] - gen[1][first]
        kind = rng.integers(0, 4)
        if kind == 1:
            copy_p += int(rng.integers(-5, 6))
        elif kind == 2:
            copy_t = copy_t * 2
        elif kind == 3:
            copy_p[rng.integers(len(copy_p))] += 1
        parts_p, parts_t, at = [], [], 0
        for p, t in (melody(int(rng.integers(0, 30))), (copy_p, copy_t),
                     melody(int(rng.integers(0, 30)))):
            parts_p.append(p)
            parts_t.append(t + at)
            at = int(t[-1]) + at + 480 if len(t) else at
        tempos = [(0, 120.0), (960, 90.0)] if rng.random() < 0.3 else None
        pieces.append(score_of(np.concatenate(parts_p), np.concatenate(parts_t),
                               drums=rng.random() < 0.3, tempos=tempos))
    return score_of(*gen), pieces


def build(pieces: list[Score], folder: Path) -> Path:
    for k, score in enumerate(pieces):
        deepsym.write_midi(score, folder / f"piece-{k:02d}.mid")
    build_corpus([folder], folder / "corpus", fractions=(1.0, 0.0, 0.0), workers=1)
    return folder / "corpus"


@RECALL
@given(corpora())
def test_index_finds_exactly_the_runs_of_n_notes_the_scan_finds(case) -> None:
    generated, pieces = case
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build(pieces, Path(tmp))
        for options in VARIANTS:
            scan = plagiarism(generated, corpus, top=None, index=False, **options)
            assert scan.method == "exhaustive" and scan.fallback is None
            long_runs = [m for m in scan.matches if m.run_notes >= N]
            found = plagiarism(generated, corpus, top=None, index=True, **options)
            assert found.method == "index" and found.min_run == N
            assert found.matches == long_runs, options
            top = plagiarism(generated, corpus, top=2, index=True, **options)
            assert top.matches == long_runs[:2], options


def test_corpus_sequences_read_as_note_sequence(tmp_path) -> None:
    files = real_midi_files()[:30] + sorted(Path(__file__).parent.parent.parent.glob(
        "shared/test-midi-files/*.mid"))[:40]
    build_corpus(files, tmp_path / "c", workers=1)
    corpus = Corpus.open(tmp_path / "c")
    seq = corpus_sequences(corpus, np.arange(len(corpus))[::-1])
    for k, i in enumerate(range(len(corpus))[::-1]):
        expected = note_sequence(corpus.score(i))
        part = slice(seq.starts[k], seq.stops[k])
        for column, want in zip((seq.pitches, seq.onsets, seq.ends), expected, strict=True):
            assert np.array_equal(column[part], want), corpus.pieces[i].path


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_lookup_kernel_matches_its_twin(data) -> None:
    slots = data.draw(st.integers(1, 8))
    pieces = data.draw(st.integers(0, 6))
    tag_bits = data.draw(st.integers(1, 8))
    sizes = data.draw(st.lists(st.integers(0, 5), min_size=slots, max_size=slots))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint32)
    postings = np.array(data.draw(st.lists(st.integers(0, 2**(tag_bits + 3) - 1),
                                           min_size=int(offsets[-1]),
                                           max_size=int(offsets[-1]))), dtype=np.uint32)
    positions = data.draw(st.integers(0, 12))
    buckets = np.array(data.draw(st.lists(st.integers(-1, slots), min_size=positions,
                                          max_size=positions)), dtype=np.int64)
    tags = np.array(data.draw(st.lists(st.integers(0, 2**tag_bits - 1), min_size=positions,
                                       max_size=positions)), dtype=np.uint32)
    mask = data.draw(st.integers(0, 2**tag_bits - 1))
    outcomes = []
    for module in (ngrams, ngrams_py):
        try:
            outcomes.append(module.stretches(buckets, tags, offsets, postings, pieces,
                                             tag_bits, mask).tolist())
        except ValueError as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1]


def test_index_is_written_by_every_build_and_smaller_than_the_notes(tmp_path) -> None:
    files = real_midi_files()[:12]
    source = tmp_path / "src"
    source.mkdir()
    for f in files[:10]:
        shutil.copy(f, source / f.name)
    first = build_corpus([source], tmp_path / "c", workers=1)
    corpus = Corpus.open(tmp_path / "c")
    index = NgramIndex.open(corpus)
    assert index is not None and index.pieces == len(corpus) == 10 and index.n == N
    assert index.nbytes <= corpus.note_array.nbytes
    assert first.index_seconds > 0
    # a new piece copying 20 notes of another one, added incrementally
    p, o, _ = note_sequence(deepsym.read_midi(files[11]))
    ticks = np.round(o * 960).astype(np.int64)
    copy = score_of(p[10:30] + 2, ticks[10:30] - ticks[10] + 4800)
    deepsym.write_midi(copy, source / "zz-copy.mid")
    again = build_corpus([source], tmp_path / "c", workers=1)
    assert (again.parsed, again.reused) == (1, 10)
    corpus = Corpus.open(tmp_path / "c")
    index = NgramIndex.open(corpus)
    assert index.pieces == 11
    fresh_dir = tmp_path / "fresh"
    build_corpus([source], fresh_dir, workers=1)
    fresh = NgramIndex.open(Corpus.open(fresh_dir))
    assert np.array_equal(index.offsets, fresh.offsets)
    assert np.array_equal(index.postings, fresh.postings)
    gen = score_of(p[10:30], ticks[10:30] - ticks[10])
    new = corpus.pieces.index(next(x for x in corpus.pieces if x.path.endswith("zz-copy.mid")))
    assert index.stretches(note_sequence(gen)[0])[new] == 0  # transposed: not a plain copy
    assert index.stretches(note_sequence(gen)[0], transpose=True)[new] == 20 - N + 1


@pytest.fixture()
def indexed(tmp_path) -> tuple[Path, Path, Path]:
    """A corpus of 8 real pieces (all train), a folder holding a copy of one of them."""
    files = real_midi_files()[:8]
    build_corpus(files, tmp_path / "c", fractions=(1.0, 0.0, 0.0), workers=1)
    generated = tmp_path / "gen"
    generated.mkdir()
    shutil.copy(files[3], generated / "copied.mid")
    return tmp_path / "c", generated, files[3]


def test_cli_uses_the_index_and_says_when_it_scans(indexed, capsys) -> None:
    corpus, generated, source = indexed
    gen = generated / "copied.mid"
    assert main(["plagiarism", str(gen), "--corpus", str(corpus), "--top", "2"]) == 0
    out, err = capsys.readouterr()
    assert "n-gram index" in out.splitlines()[0] and str(source) in out.splitlines()[2]
    assert "exhaustive" not in err
    assert main(["plagiarism", str(gen), "--corpus", str(source.parent), "--top", "2"]) == 0
    out, err = capsys.readouterr()
    assert "exhaustive scan of every piece" in err and "folder of MIDI files" in err
    assert str(source) in out.splitlines()[2]
    for name in FILES:  # a corpus built before indexes existed
        (corpus / Corpus.open(corpus).version / name).unlink()
    assert main(["plagiarism", str(gen), "--corpus", str(corpus), "--top", "2"]) == 0
    out, err = capsys.readouterr()
    assert "has no n-gram index" in err and str(source) in out.splitlines()[2]


def test_evaluate_uses_the_index_and_says_when_it_scans(indexed) -> None:
    corpus, generated, source = indexed
    build_corpus(real_midi_files()[:8] + real_midi_files()[-3:], corpus,
                 fractions=(0.7, 0.3, 0.0), workers=1)
    by_index = evaluate(generated, corpus, top=2)
    scanned = evaluate(generated, corpus, top=2, index=False)
    report = by_index.plagiarism[0]
    assert report.method == "index" and report.fallback is None
    assert scanned.plagiarism[0].method == "exhaustive"
    train = {p.path for p in Corpus.open(corpus).pieces if p.split == "train"}
    if str(source) in train:
        assert report.matches[0].piece == str(source)
    assert report.matches == [m for m in scanned.plagiarism[0].matches if m.run_notes >= N]
    for name in FILES:
        (corpus / Corpus.open(corpus).version / name).unlink()
    fallen = evaluate(generated, corpus, top=2).plagiarism[0]
    assert fallen.method == "exhaustive" and "no n-gram index" in fallen.fallback
    result = subprocess.run([sys.executable, "-m", "deepsym", "evaluate", str(generated),
                             "--corpus", str(corpus)], capture_output=True, text=True,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr
    assert "exhaustive scan of every piece" in result.stderr


@pytest.mark.parametrize("damage", ["truncated postings", "wrong meta", "missing offsets",
                                    "other corpus"])
def test_damaged_index_is_one_error_naming_the_file(indexed, damage) -> None:
    corpus, generated, _ = indexed
    folder = corpus / Corpus.open(corpus).version
    if damage == "truncated postings":
        data = (folder / "ngram_postings.npy").read_bytes()
        (folder / "ngram_postings.npy").write_bytes(data[:len(data) // 2])
        named = "ngram_postings.npy"
    elif damage == "wrong meta":
        (folder / "ngrams.json").write_text("{not json")
        named = "ngrams.json"
    elif damage == "missing offsets":
        (folder / "ngram_offsets.npy").unlink()
        named = "ngram_offsets.npy"
    else:
        meta = json.loads((folder / "ngrams.json").read_text())
        (folder / "ngrams.json").write_text(json.dumps({**meta, "pieces": 99}))
        named = "ngrams.json"
    with pytest.raises(CorpusError, match=named):
        plagiarism(generated / "copied.mid", corpus)
    result = subprocess.run([sys.executable, "-m", "deepsym", "plagiarism",
                             str(generated / "copied.mid"), "--corpus", str(corpus)],
                            capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("deepsym: error:") and result.stderr.count("\n") == 1
    assert named in result.stderr and "Traceback" not in result.stderr
    assert main(["plagiarism", str(generated / "copied.mid"), "--corpus", str(corpus),
                 "--exhaustive"]) == 0


def test_index_is_required_when_asked(tmp_path) -> None:
    with pytest.raises(CorpusError, match="no n-gram index"):
        plagiarism(real_midi_files()[0], real_midi_files()[:3], index=True)
