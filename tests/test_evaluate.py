"""``deepsym evaluate``: generated pieces beside a real corpus's held-out split, and the
training pieces they copy (a copied chorale shows a full-length match, random notes do not)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from music21_corpus import real_midi_files

from deepsym import DeepsymError, Score, Track, write_midi
from deepsym.cli import main
from deepsym.data import Corpus, build_corpus
from deepsym.errors import CorpusError
from deepsym.evaluation import evaluate, markdown, write_report
from deepsym.metrics.summary import registered_metrics


def random_piece(seed: int, notes: int = 200) -> Score:
    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.integers(60, 480, notes))
    rows = [(int(s), int(d), int(p), 90) for s, d, p in
            zip(starts, rng.integers(60, 480, notes), rng.integers(36, 85, notes),
                strict=True)]
    return Score(ticks_per_beat=480, tempos=[(0, 100.0)], tracks=[Track(notes=rows)])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """40 Bach chorales and 10 folk tunes (splits 40 / 3 / 7 with seed 0)."""
    files = real_midi_files()
    root = tmp_path_factory.mktemp("evaluate")
    build_corpus(files[:40] + files[-10:], root / "corpus", workers=1)
    return Corpus.open(root / "corpus")


@pytest.fixture(scope="module")
def generated(corpus, tmp_path_factory) -> Path:
    """A copy of the first training piece, and a piece of random notes."""
    folder = tmp_path_factory.mktemp("generated")
    shutil.copy(corpus.pieces[corpus.split("train")[0]].path, folder / "copied.mid")
    write_midi(random_piece(1), folder / "random.mid")
    return folder


@pytest.fixture(scope="module")
def result(generated, corpus):
    return evaluate(generated, corpus.path, top=3)


def test_a_copied_piece_matches_its_source_in_full(result, corpus, generated):
    copied = result.plagiarism[result.pieces.index(str(generated / "copied.mid"))]
    best = copied.matches[0]
    assert best.piece == corpus.pieces[corpus.split("train")[0]].path
    assert best.lcs_ratio == 1.0 and best.run_notes == copied.notes > 100
    assert best.generated_span == best.training_span
    assert len(copied.matches) == 3
    assert all(m.run_notes < best.run_notes for m in copied.matches[1:])


def test_random_notes_copy_little(result, generated):
    random = result.plagiarism[result.pieces.index(str(generated / "random.mid"))]
    assert random.notes == 200
    assert all(m.lcs_ratio < 0.35 and m.run_notes <= 4 for m in random.matches)


def test_the_table_measures_both_sets(result, corpus, generated):
    assert result.split == "test" and result.held_out_pieces == len(corpus.split("test")) == 7
    assert result.train_pieces == 40
    names = [metric.name for metric in registered_metrics()]
    assert list(result.generated) == list(result.held_out) == names
    # note counts: pretty_midi reads the generated files, the corpus index the held-out ones
    gen_notes = [sum(len(i.notes) for i in pretty_midi.PrettyMIDI(str(p)).instruments)
                 for p in sorted(generated.iterdir())]
    held_notes = [corpus.pieces[i].notes for i in corpus.split("test")]
    assert result.generated["notes"] == pytest.approx((np.mean(gen_notes), np.std(gen_notes), 2))
    assert result.held_out["notes"] == pytest.approx(
        (np.mean(held_notes), np.std(held_notes), 7))
    assert 2.0 < result.held_out["pitch_class_entropy"][0] < np.log2(12)


def test_valid_split_stands_in_for_an_empty_test_split(tmp_path, generated):
    files = real_midi_files()[:20]
    build_corpus(files, tmp_path / "c", fractions=(0.7, 0.3, 0.0), workers=1)
    result = evaluate(generated / "random.mid", tmp_path / "c", top=1)
    assert result.split == "valid" and result.held_out_pieces > 0
    assert len(result.plagiarism) == 1 and len(result.plagiarism[0].matches) == 1


def test_a_corpus_without_held_out_pieces_is_refused(tmp_path, generated):
    build_corpus(real_midi_files()[:5], tmp_path / "c", fractions=(1.0, 0.0, 0.0), workers=1)
    with pytest.raises(CorpusError, match="test and valid splits are empty"):
        evaluate(generated, tmp_path / "c")


def test_markdown_report_links_every_piece(result, generated, tmp_path):
    links = {str(generated / "copied.mid"): [("piano-roll", str(tmp_path / "copied.png")),
                                             ("MIDI", str(generated / "copied.mid"))]}
    path = write_report(result, tmp_path / "report.md", title="Demo", links=links)
    text = path.read_text()
    assert text.startswith("# Demo\n")
    assert "| pitch_class_entropy |" in text and "held-out test split (7 pieces)" in text
    assert "![piano-roll](copied.png)" in text
    relative = Path(os.path.relpath(generated / "copied.mid", tmp_path))
    assert f"### {relative}" in text and f"- MIDI: [{relative}]({relative})" in text
    assert "| 1.000 |" in text and text.count("top matches:") == 2
    assert markdown(result).count("\n| 1 |") == 2  # one first match per piece


def test_cli_prints_the_table_and_writes_the_report(generated, corpus, tmp_path, capsys):
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    assert main(["evaluate", str(generated), "--corpus", str(corpus.path), "--top", "2",
                 "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "generated pieces vs the held-out test split" in out
    assert out.count("top 2 matches") == 2 and "1.000" in out
    assert all(f"\n{metric.name} " in out for metric in registered_metrics())
    assert f"report: {report}" in out and "random.mid" in report.read_text()


def test_an_unreadable_generated_file_is_skipped_with_a_warning(generated, corpus, tmp_path,
                                                                 capsys):
    folder = tmp_path / "gen"
    shutil.copytree(generated, folder)
    (folder / "broken.mid").write_bytes(b"not midi at all")
    assert main(["evaluate", str(folder), "--corpus", str(corpus.path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "skipped" in captured.err
    assert "broken.mid" in captured.err and "copied.mid" in captured.out


@pytest.mark.parametrize("case", ["empty folder", "not a corpus", "only broken files",
                                  "top 0"])
def test_bad_input_is_one_error_line(case, generated, corpus, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.mid").write_bytes(b"MThd garbage")
    args = {"empty folder": [str(empty), "--corpus", str(corpus.path)],
            "not a corpus": [str(generated), "--corpus", str(generated)],
            "only broken files": [str(broken), "--corpus", str(corpus.path)],
            "top 0": [str(generated), "--corpus", str(corpus.path), "--top", "0"]}[case]
    expected = {"empty folder": "no MIDI files", "not a corpus": "is not a deepsym corpus",
                "only broken files": "can be read", "top 0": "top must be at least 1"}[case]
    assert main(["evaluate", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deepsym: error: ") and expected in err
    with pytest.raises(DeepsymError, match=expected):
        evaluate(args[0], args[2], top=int(args[-1]) if case == "top 0" else 3)


def test_held_out_loss_is_the_models_cross_entropy_per_token(corpus, tmp_path, capsys):
    """The loss over whole held-out pieces equals the model's own per-token NLL summed
    over each piece's full encoding (an independent loop), beside ln(vocabulary)."""
    import torch

    from deepsym.evaluation import held_out_loss
    from deepsym.sampling.run import trained_representation
    from deepsym.training.checkpoint import load_trained
    from deepsym.training.engine import Budget, train

    run = tmp_path / "run"
    train("char-rnn-conditional", corpus.path, run, budget=Budget(steps=4), seed=0,
          device="cpu", settings={"hidden": 16, "layers": 1, "embedding": 8,
                                  "batch_size": 4, "sequence_length": 32})
    result = held_out_loss(run, corpus.path)
    trained = load_trained(run)
    representation = trained_representation(trained.spec, trained.config)
    total = tokens = 0
    with torch.no_grad():
        for i in corpus.split("test"):
            score = corpus.score(i)
            x = torch.as_tensor(representation.encode(score))[None]
            condition = torch.as_tensor(representation.condition_vector(score))[None]
            total += float(trained.model(x, condition).sum())
            tokens += x.shape[1]
    assert (result.split, result.pieces, result.steps) == ("test", 7, tokens)
    assert result.loss == pytest.approx(total / tokens, rel=1e-5)
    assert result.vocab_size == representation.spec.vocab_size
    assert result.uniform == pytest.approx(np.log(result.vocab_size))
    assert main(["evaluate", "--run", str(run), "--corpus", str(corpus.path),
                 "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "nats per step on the valid split (3 pieces" in out
    assert f"ln {result.vocab_size} = {np.log(result.vocab_size):.4f}" in out


def test_nothing_to_evaluate_is_one_error_line(corpus, capsys):
    assert main(["evaluate", "--corpus", str(corpus.path)]) == 1
    err = capsys.readouterr().err
    assert err == "deepsym: error: name the generated pieces (DIR) or a trained run " \
                  "(--run RUN)\n"
