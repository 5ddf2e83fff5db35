"""``deepsym evaluate``: generated pieces beside a real corpus's held-out split, and the
training pieces they copy (a copied chorale shows a full-length match, random notes do not)."""
from __future__ import annotations

import dataclasses
import math
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
from deepsym.metrics.bleu import corpus_bleu, leave_one_out_bleu, note_tokens, self_bleu
from deepsym.metrics.diversity import repeated_ngram_share
from deepsym.metrics.originality import plagiarism
from deepsym.metrics.summary import registered_metrics
from deepsym.midi import read_midi

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
    # through the corpus's n-gram index: only pieces sharing a run of n+ notes are ranked
    assert copied.method == "index" and 1 <= len(copied.matches) <= 3
    assert all(copied.min_run <= m.run_notes < best.run_notes for m in copied.matches[1:])


def test_random_notes_copy_little(result, generated, corpus):
    random = result.plagiarism[result.pieces.index(str(generated / "random.mid"))]
    assert random.notes == 200
    assert random.method == "index" and random.matches == []  # no run of n notes anywhere
    scanned = plagiarism(generated / "random.mid", corpus, top=3, index=False)
    assert len(scanned.matches) == 3
    assert all(m.lcs_ratio < 0.35 and m.run_notes <= 4 for m in scanned.matches)


def test_another_held_out_split_can_be_named(corpus, generated):
    valid = evaluate(generated, corpus, split="valid")
    assert valid.split == "valid" and valid.held_out_pieces == len(corpus.split("valid")) == 3
    with pytest.raises(DeepsymError, match="split"):
        evaluate(generated, corpus, split="nonesuch")


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


def test_held_out_pieces_can_be_cut_to_the_generated_length(corpus, generated, capsys):
    """``seconds``: each held-out piece counts only the notes beginning in its first
    ``seconds`` (counted by pretty_midi from the files); the CLI says where it cut."""
    seconds = 9.5
    result = evaluate(generated, corpus, seconds=seconds)
    counts = [sum(note.start < seconds for inst in pretty_midi.PrettyMIDI(
        corpus.pieces[i].path).instruments for note in inst.notes) for i in corpus.split("test")]
    assert result.seconds == seconds
    assert result.held_out["notes"] == pytest.approx((np.mean(counts), np.std(counts), 7))
    assert "held-out test split (7 pieces, first 9.5 s)" in markdown(result)
    assert main(["evaluate", str(generated), "--corpus", str(corpus.path),
                 "--seconds", "9.5"]) == 0
    assert "test (7, first 9.5 s)" in capsys.readouterr().out
    with pytest.raises(DeepsymError, match="positive and finite"):
        evaluate(generated, corpus, seconds=0)


def test_valid_split_stands_in_for_an_empty_test_split(tmp_path, generated):
    files = real_midi_files()[:20]
    build_corpus(files, tmp_path / "c", fractions=(0.7, 0.3, 0.0), workers=1)
    result = evaluate(generated / "random.mid", tmp_path / "c", top=1, index=False)
    assert result.split == "valid" and result.held_out_pieces > 0
    assert len(result.plagiarism) == 1 and len(result.plagiarism[0].matches) == 1


@pytest.mark.parametrize("seconds", [None, 9.5])
def test_set_level_bleu_and_diversity(corpus, generated, seconds, capsys):
    """BLEU-4 of the generated pitch sequences against the held-out ones, the held-out
    pieces' own leave-one-out BLEU-4 as the anchor, self-BLEU-4, repeated 4-grams and
    distinct pieces; the held-out pieces cut to ``seconds`` as for the other metrics."""
    result = evaluate(generated, corpus, seconds=seconds)
    gen = [note_tokens(read_midi(path)) for path in result.pieces]
    held = [note_tokens(corpus.score(i) if seconds is None else
                        corpus.score(i).slice_seconds(0, seconds)) for i in corpus.split("test")]
    if seconds is not None:
        assert sum(map(len, held)) < sum(note_tokens(corpus.score(i)).size
                                         for i in corpus.split("test"))
    assert result.set_metrics == pytest.approx({
        "bleu_4": (corpus_bleu(gen, held), leave_one_out_bleu(held)),
        "self_bleu_4": (self_bleu(gen), self_bleu(held)),
        "repeated_4gram_share": (np.mean([repeated_ngram_share(t) for t in gen]),
                                 np.mean([repeated_ngram_share(t) for t in held])),
        "distinct_pieces": (2, 7)})
    values = result.set_metrics
    # chorales and folk tunes share material, random notes and a chorale hardly any
    assert 0.1 < values["bleu_4"][1] < 0.6 and values["self_bleu_4"][0] < 0.05
    assert all(0 <= v <= 1 for name, pair in values.items() if name != "distinct_pieces"
               for v in pair)
    report = markdown(result)
    assert "## Set-level: BLEU and diversity" in report and "epsilon 0.1" in report
    assert f"| self_bleu_4 | {values['self_bleu_4'][0]:.3f} |" in report
    assert "| distinct_pieces | 2 | 7 |" in report
    assert main(["evaluate", str(generated), "--corpus", str(corpus.path)]) == 0
    out = capsys.readouterr().out
    assert "set-level, over pitch tokens" in out
    assert all(f"\n{name} " in out for name in values)


def test_a_corpus_without_held_out_pieces_is_refused(tmp_path, generated):
    build_corpus(real_midi_files()[:5], tmp_path / "c", fractions=(1.0, 0.0, 0.0), workers=1)
    with pytest.raises(CorpusError, match="test and valid splits are empty"):
        evaluate(generated, tmp_path / "c")


def test_markdown_report_links_every_piece(result, generated, corpus, tmp_path):
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
    # the copy's first match; the random piece shares no run of n notes (n-gram index)
    assert markdown(result).count("\n| 1 |") == 1
    assert "Search: searched through the corpus's n-gram index" in text
    scanned = evaluate(generated, corpus.path, top=3, index=False)
    assert markdown(scanned).count("\n| 1 |") == 2  # exhaustive: one first match per piece
    assert "Search: exhaustive scan of every train piece." in markdown(scanned)


def test_cli_prints_the_table_and_writes_the_report(generated, corpus, tmp_path, capsys):
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    assert main(["evaluate", str(generated), "--corpus", str(corpus.path), "--top", "2",
                 "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "generated pieces vs the held-out test split" in out
    assert out.count("top 1 matches with a copied run of 8+ notes (n-gram index") + \
        out.count("top 2 matches with a copied run of 8+ notes (n-gram index") == 1
    assert "no train piece shares a copied run of 8 notes (n-gram index)" in out
    assert "1.000" in out
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


@pytest.fixture(scope="module")
def char_rnn_run(corpus, tmp_path_factory) -> Path:
    """A char-rnn-conditional trained four steps on the corpus."""
    from deepsym.training.engine import Budget, train

    run = tmp_path_factory.mktemp("char-rnn") / "run"
    train("char-rnn-conditional", corpus.path, run, budget=Budget(steps=4), seed=0,
          device="cpu", settings={"hidden": 16, "layers": 1, "embedding": 8,
                                  "batch_size": 4, "sequence_length": 32})
    return run


@pytest.fixture(scope="module")
def gan_run(corpus, tmp_path_factory) -> Path:
    """A tiny C-RNN-GAN: two pretraining rounds, then four adversarial ones."""
    from deepsym.training.engine import Budget, train

    run = tmp_path_factory.mktemp("c-rnn-gan") / "run"
    train("c-rnn-gan", corpus.path, run, budget=Budget(steps=6), seed=0, device="cpu",
          tensorboard=False, settings={"hidden": 16, "layers": 1, "sequence_length": 24,
                                       "batch_size": 4, "pretrain_steps": 2})
    return run


def per_token_nll(run: Path, corpus: Corpus, split: str) -> tuple[float, int]:
    """The model's own per-token NLL summed over each piece's full encoding (an
    independent loop): the mean per token, and the tokens."""
    import torch

    from deepsym.sampling.run import trained_representation
    from deepsym.training.checkpoint import load_trained

    trained = load_trained(run)
    representation = trained_representation(trained.spec, trained.config)
    total = tokens = 0
    with torch.no_grad():
        for i in corpus.split(split):
            score = corpus.score(i)
            x = torch.as_tensor(representation.encode(score))[None]
            condition = torch.as_tensor(representation.condition_vector(score))[None]
            total += float(trained.model(x, condition).sum())
            tokens += x.shape[1]
    return total / tokens, tokens


def test_held_out_loss_is_the_models_cross_entropy_per_token(char_rnn_run, corpus, capsys):
    """The loss over whole held-out pieces equals the model's own per-token NLL, beside
    ln(vocabulary); the CLI chooses the loss by itself and says so."""
    from deepsym.evaluation import evaluate_run, held_out_loss

    result = held_out_loss(char_rnn_run, corpus.path)
    nll, tokens = per_token_nll(char_rnn_run, corpus, "test")
    assert (result.split, result.pieces, result.steps) == ("test", 7, tokens)
    assert result.loss == pytest.approx(nll, rel=1e-5) and result.target == "loss"
    assert result.uniform == pytest.approx(np.log(result.vocab_size))
    assert evaluate_run(char_rnn_run, corpus.path) == result
    assert main(["evaluate", "--run", str(char_rnn_run), "--corpus", str(corpus.path),
                 "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("measure: held-out loss, the trainer's validation target 'loss' "
                          "(auto: the model declares one)\n")
    assert "nats per step on the valid split (3 pieces" in out
    assert f"ln {result.vocab_size} = {np.log(result.vocab_size):.4f}" in out


def test_a_loss_declared_only_by_validation_is_measured(char_rnn_run, corpus, tmp_path):
    """A trainer that overrides only ``validation`` (its own target's name, no
    ``validation_loss``) is measured by that target: the same weights under such a model
    give the same loss."""
    from deepsym_plugins.char_rnn_train import RNNTrainer
    from registered_plugins import registered

    from deepsym.evaluation import held_out_loss
    from deepsym.hookspecs import hookimpl
    from deepsym.plugins import manager
    from deepsym.training.checkpoint import load_checkpoint, save_checkpoint

    class OnlyValidation(RNNTrainer):
        validation_target = "nll"

        def validation_loss(self, batch):
            return None

        def validation(self, batch):
            return {"other": 7.0, "nll": RNNTrainer.validation_loss(self, batch)}

    base = manager().models.get("char-rnn-conditional")

    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(dataclasses.replace(base, name="validation-only", trainer=OnlyValidation))

    state = load_checkpoint(char_rnn_run / "checkpoints" / "last.pt")
    checkpoint = save_checkpoint(tmp_path / "only.pt", {**state, "model": "validation-only"})
    with registered(Plugin(), "validation-only-plugin"):
        result = held_out_loss(checkpoint, corpus.path)
    nll, tokens = per_token_nll(char_rnn_run, corpus, "test")
    assert (result.model, result.target, result.steps) == ("validation-only", "nll", tokens)
    assert result.loss == pytest.approx(nll, rel=1e-5)


def test_a_gan_is_measured_by_its_metric_distance_to_the_held_out_split(gan_run, corpus):
    """C-RNN-GAN declares no validation loss: its sampled pieces (as many as the test
    split has, as long as its median piece) are compared metric by metric, with a
    finite distance for every metric defined on both sides, the same for the same seed."""
    from deepsym.evaluation import HeldOutDistance, evaluate_run, held_out_distance

    result = evaluate_run(gan_run, corpus.path)
    assert isinstance(result, HeldOutDistance)
    assert (result.model, result.split, result.held_out_pieces, result.pieces, result.seed) \
        == ("c-rnn-gan", "test", 7, 7, 0)
    durations = [corpus.pieces[i].duration for i in corpus.split("test")]
    assert result.seconds == pytest.approx(min(np.median(durations), 60.0))
    metrics = result.distance.metrics
    assert list(metrics) == [metric.name for metric in registered_metrics()]
    defined = [m for m in metrics.values() if m.generated[2] and m.reference[2]]
    assert len(defined) >= len(metrics) - 2
    assert all(np.isfinite(m.smd) and 0 <= m.non_overlap <= 1 for m in defined)
    assert metrics["notes"].generated[2] == 7 and metrics["notes"].reference[2] == 7
    assert np.isfinite(result.distance.smd) and result.distance.smd > 0
    assert result.distance.smd == pytest.approx(np.mean([m.smd for m in defined]))
    assert 0 < result.distance.non_overlap <= 1
    again = held_out_distance(gan_run, corpus.path)
    np.testing.assert_equal(dataclasses.asdict(again), dataclasses.asdict(result))  # NaN == NaN


def test_the_held_out_pieces_are_cut_to_the_sampled_length(gan_run, corpus):
    """With --pieces and --seconds: that many pieces are sampled, and every held-out
    piece counts only its notes beginning in the first ``seconds`` (counted by
    pretty_midi from the files)."""
    from deepsym.evaluation import held_out_distance

    seconds = 7.77
    result = held_out_distance(gan_run, corpus.path, "valid", pieces=3, seconds=seconds,
                               seed=5)
    counts = [sum(note.start < seconds for inst in pretty_midi.PrettyMIDI(
        corpus.pieces[i].path).instruments for note in inst.notes) for i in corpus.split("valid")]
    notes = result.distance.metrics["notes"]
    assert (result.pieces, result.held_out_pieces, result.seconds) == (3, 3, seconds)
    assert notes.generated[2] == 3
    assert notes.reference == pytest.approx((np.mean(counts), np.std(counts), 3))


def test_any_model_can_be_measured_by_distance(char_rnn_run, corpus):
    from deepsym.evaluation import evaluate_run

    result = evaluate_run(char_rnn_run, corpus.path, measure="distance", pieces=2, seconds=2)
    assert result.pieces == 2 and result.distance.metrics["notes"].generated[2] == 2
    assert np.isfinite(result.distance.smd)


def test_cli_prints_the_distance_table(gan_run, corpus, capsys):
    assert main(["evaluate", "--run", str(gan_run), "--corpus", str(corpus.path),
                 "--pieces", "4", "--seconds", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "measure: metric distance to the held-out split (auto: c-rnn-gan " \
                     "declares no validation loss)"
    assert "4 pieces of 10.0 s sampled with seed 0, against the test split" in out[1]
    header = out[2].split()
    assert header == ["metric", "sampled", "(4)", "test", "(7)", "SMD", "non-overlap"]
    rows = {line.split()[0]: line.split() for line in out[3:]}
    assert set(rows) == {metric.name for metric in registered_metrics()} | {"overall"}
    assert float(rows["overall"][-2]) > 0 and 0 < float(rows["overall"][-1]) <= 1
    assert float(rows["notes"][-2]) >= 0


def test_distance_of_a_set_to_itself_is_zero(corpus):
    from deepsym.metrics.distance import set_distance
    from deepsym.metrics.summary import summarize

    held = [summarize(corpus.score(i)) for i in corpus.split("test")]
    result = set_distance(held, held)
    defined = [m for m in result.metrics.values() if m.reference[2]]
    assert len(defined) >= len(result.metrics) - 1
    assert all(m.smd == 0 and m.non_overlap == 0 for m in defined)
    assert result.smd == 0 and result.non_overlap == 0


def test_distance_formulas():
    """SMD = |mean difference| / held-out std (the pooled std where the held-out values
    are all equal); non-overlap = half the L1 distance of the 10-bin histograms; NaN for a
    metric undefined on one side, left out of the overall means."""
    from deepsym.metrics.distance import set_distance

    reference = [{"a": float(v), "b": 2.0, "c": 1.0} for v in range(4)]
    generated = [{"a": 3.0, "b": 2.0 + 2 * (k % 2), "c": math.nan} for k in range(4)]
    result = set_distance(generated, reference)
    a, b, c = (result.metrics[name] for name in "abc")
    assert a.smd == pytest.approx(1.5 / np.sqrt(1.25))  # std of 0..3 (ddof=0)
    assert a.non_overlap == pytest.approx(0.75)  # 0,1,2,3 in bins 0,3,6,9; all 3s in bin 9
    assert b.smd == pytest.approx(1 / np.std([2, 2, 2, 2, 2, 4, 2, 4]))
    assert b.non_overlap == pytest.approx(0.5)
    assert math.isnan(c.smd) and math.isnan(c.non_overlap) and c.generated[2] == 0
    assert result.smd == pytest.approx((a.smd + b.smd) / 2)
    assert result.non_overlap == pytest.approx((0.75 + 0.5) / 2)
    disjoint = set_distance([{"a": 10.0}], reference)
    assert disjoint.metrics["a"].non_overlap == 1.0


@pytest.mark.parametrize("case", ["missing run", "empty held-out split", "loss of a gan",
                                  "no pieces", "bad seconds", "bad seed"])
def test_bad_run_input_is_one_error_line(case, gan_run, corpus, tmp_path, capsys):
    build_corpus(real_midi_files()[:3], tmp_path / "train-only", fractions=(1.0, 0.0, 0.0),
                 workers=1)
    args, expected = {
        "missing run": ([str(tmp_path / "nowhere"), str(corpus.path)], "no such checkpoint"),
        "empty held-out split": ([str(gan_run), str(tmp_path / "train-only")],
                                 "test and valid splits are empty"),
        "loss of a gan": ([str(gan_run), str(corpus.path), "--measure", "loss"],
                          "declares no validation loss"),
        "no pieces": ([str(gan_run), str(corpus.path), "--pieces", "0"],
                      "pieces must be at least 1"),
        "bad seconds": ([str(gan_run), str(corpus.path), "--seconds", "nan"],
                        "must be positive and finite"),
        "bad seed": ([str(gan_run), str(corpus.path), "--seed", "-1"],
                     "--seed must be a whole number"),
    }[case]
    assert main(["evaluate", "--run", args[0], "--corpus", *args[1:]]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("deepsym: error: ")
    assert expected in captured.err and not captured.out


def test_nothing_to_evaluate_is_one_error_line(corpus, capsys):
    assert main(["evaluate", "--corpus", str(corpus.path)]) == 1
    err = capsys.readouterr().err
    assert err == "deepsym: error: name the generated pieces (DIR) or a trained run " \
                  "(--run RUN)\n"
