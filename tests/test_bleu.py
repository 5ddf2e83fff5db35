"""BLEU over note n-grams: hand-computed values, nltk's corpus_bleu as the oracle on random
token sequences and on real music, tokens, and empty input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from music21_corpus import real_midi_files
from nltk.translate.bleu_score import SmoothingFunction
from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

import deepsym
from deepsym import Score, Track
from deepsym.metrics import bleu, corpus_bleu, note_tokens


def seq(*tokens: int) -> np.ndarray:
    return np.array(tokens, dtype=np.int64)


def nltk_bleu(hyps, refs, max_n=4, epsilon=0.1) -> float:
    lists = [[int(t) for t in h] for h in hyps]
    ref_lists = [[int(t) for t in r] for r in refs]
    return nltk_corpus_bleu([ref_lists] * len(lists), lists, weights=(1 / max_n,) * max_n,
                            smoothing_function=SmoothingFunction(epsilon=epsilon).method1)


def test_bleu_by_hand():
    # 1-grams 3 of 4 match, 2-grams 2 of 3, 3-grams 1 of 2, 4-grams 0 of 1 (smoothed to
    # 0.1 / 1); hypothesis and reference both 4 long: no brevity penalty.
    value = corpus_bleu([seq(1, 2, 3, 4)], [seq(1, 2, 3, 5)])
    assert value == pytest.approx(math.exp((math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)
                                            + math.log(0.1)) / 4))
    assert corpus_bleu([seq(1, 2, 3, 4)], [seq(9), seq(1, 2, 3, 4)]) == 1.0


def test_counts_are_clipped_by_the_best_reference():
    # "7 7 7 7" against references holding 7 once and twice: at most two 7s count.
    assert corpus_bleu([seq(7, 7, 7, 7)], [seq(7, 1, 2, 3), seq(7, 7, 5, 6)], max_n=1) \
        == pytest.approx(2 / 4)


def test_brevity_penalty_uses_the_closest_reference_shorter_on_ties():
    assert corpus_bleu([seq(1, 2)], [seq(1, 2, 3, 4)], max_n=2) == pytest.approx(math.exp(-1))
    # 3 long; references 2 and 4 long are equally close: the shorter (2) gives no penalty.
    assert corpus_bleu([seq(1, 2, 3)], [seq(1, 2), seq(1, 2, 3, 9)], max_n=1) == 1.0
    # 3 long; references 4 and 6 long: 4 is closest, penalty exp(1 - 4/3).
    assert corpus_bleu([seq(1, 2, 3)], [seq(1, 2, 3, 4, 5, 6), seq(9, 1, 2, 3)], max_n=1) \
        == pytest.approx(math.exp(1 - 4 / 3))


def test_no_unigram_match_and_empty_input_give_zero():
    assert corpus_bleu([seq(1, 2)], [seq(3, 4)]) == 0.0
    assert corpus_bleu([], [seq(1, 2)]) == 0.0
    assert corpus_bleu([seq()], [seq(1, 2)]) == 0.0
    assert corpus_bleu([seq(1, 2)], []) == 0.0
    assert corpus_bleu([seq(1, 2, 3)], [seq(1, 2, 4)], smoothing=0.0) == 0.0  # no 3-gram
    with pytest.raises(ValueError, match="max_n must be at least 1"):
        corpus_bleu([seq(1)], [seq(1)], max_n=0)


@pytest.mark.parametrize("seed", range(40))
def test_same_as_nltk_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    vocabulary = int(rng.integers(2, 8))  # small: many n-grams repeat and match

    def pieces(count: int) -> list[np.ndarray]:
        return [rng.integers(0, vocabulary, int(rng.integers(0, 30))) for _ in range(count)]

    hyps, refs = pieces(int(rng.integers(1, 6))), pieces(int(rng.integers(1, 8)))
    if sum(len(r) for r in refs) == 0:
        refs.append(seq(0))
    max_n = int(rng.integers(1, 6))
    epsilon = float(rng.choice([0.1, 0.01, 1.0]))
    assert corpus_bleu(hyps, refs, max_n=max_n, smoothing=epsilon) \
        == pytest.approx(nltk_bleu(hyps, refs, max_n, epsilon), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("tokens", ["pitch", "pitch_duration"])
def test_same_as_nltk_on_real_music(tokens):
    files = real_midi_files()
    folk = [deepsym.read_midi(p) for p in files if p.name.startswith("folk")][:30]
    generated, references = folk[:6], folk[6:]
    value = bleu(generated, references, tokens=tokens)
    expected = nltk_bleu([note_tokens(s, tokens) for s in generated],
                         [note_tokens(s, tokens) for s in references])
    assert value == pytest.approx(expected, rel=1e-12)
    assert 0.05 < value < 1.0  # tunes of one collection share material, but not all of it
    assert bleu(references[0], references) == 1.0  # a reference scores itself perfectly
    assert bleu(generated, references, tokens="pitch_duration") < bleu(generated, references)


def test_note_tokens():
    s = Score(ticks_per_beat=480, tracks=[
        Track(notes=[(0, 480, 60, 80), (480, 240, 62, 80), (720, 41, 64, 80)]),
        Track(notes=[(0, 960, 48, 80)]), Track(notes=[(0, 10, 36, 80)], is_drum=True)])
    assert note_tokens(s).tolist() == [48, 60, 62, 64]
    # Durations in steps of 1/12 beat: 960 -> 24, 480 -> 12, 240 -> 6, 41 -> 1.
    assert note_tokens(s, "pitch_duration").tolist() == [48 + 128 * 24, 60 + 128 * 12,
                                                         62 + 128 * 6, 64 + 128 * 1]
    assert note_tokens(s.tracks[0], "pitch_duration", ticks_per_beat=240).tolist()[0] \
        == 60 + 128 * 24
    with pytest.raises(ValueError, match="pitch_duration tokens of a Track need ticks_per_beat"):
        note_tokens(s.tracks[0], "pitch_duration")
    with pytest.raises(ValueError, match="unknown tokens 'notes'; choose from pitch"):
        note_tokens(s, "notes")
