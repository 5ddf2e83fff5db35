"""Self-BLEU, leave-one-out BLEU, repeated n-grams and distinct pieces: hand-computed values,
the per-piece corpus_bleu and nltk as oracles, and empty input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

from deepsym.metrics.bleu import corpus_bleu, leave_one_out_bleu, self_bleu
from deepsym.metrics.diversity import distinct_pieces, repeated_ngram_share


def seq(*tokens: int) -> np.ndarray:
    return np.array(tokens, dtype=np.int64)


def others(pieces: list[np.ndarray], i: int) -> list[list[int]]:
    return [[int(t) for t in p] for j, p in enumerate(pieces) if j != i]


def random_set(seed: int) -> tuple[list[np.ndarray], int, float]:
    """2-6 sequences of 0-24 tokens from a small vocabulary (many n-grams repeat), an
    order and an epsilon."""
    rng = np.random.default_rng(seed)
    vocabulary = int(rng.integers(2, 6))
    pieces = [rng.integers(0, vocabulary, int(rng.integers(0, 25)))
              for _ in range(int(rng.integers(2, 7)))]
    return pieces, int(rng.integers(1, 6)), float(rng.choice([0.1, 0.01, 1.0]))


def test_self_bleu_of_identical_and_disjoint_pieces():
    piece = seq(60, 62, 64, 65, 67)
    assert self_bleu([piece, piece.copy()]) == 1.0
    assert self_bleu([piece, piece, piece]) == 1.0
    assert self_bleu([seq(1, 2, 3, 4), seq(5, 6, 7, 8)]) == 0.0


def test_self_bleu_by_hand():
    # Each against the other: 1-grams 3 of 4 match, 2-grams 2 of 3, 3-grams 1 of 2,
    # 4-grams 0 of 1 (smoothed to 0.1 / 1); equal lengths: no brevity penalty.
    value = math.exp((math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2) + math.log(0.1)) / 4)
    assert self_bleu([seq(1, 2, 3, 4), seq(1, 2, 3, 5)]) == pytest.approx(value)
    # Unigrams, clipped by the best *other* piece: 7 7 7 7 may count two 7s (the third
    # piece's), 7 1 2 3 one, 7 7 5 6 two: (2/4 + 1/4 + 2/4) / 3.
    pieces = [seq(7, 7, 7, 7), seq(7, 1, 2, 3), seq(7, 7, 5, 6)]
    assert self_bleu(pieces, max_n=1) == pytest.approx(5 / 12)
    # Two pieces share the largest count: each counts it in full. The third, 1 long
    # against others 2 long, pays exp(1 - 2/1).
    assert self_bleu([seq(7, 7), seq(7, 7), seq(7)], max_n=1) \
        == pytest.approx((2 + math.exp(-1)) / 3)


def test_leave_one_out_bleu_by_hand():
    # Pooled over the pieces: (2 + 1 + 2) / 12 unigrams match; c = r = 12.
    pieces = [seq(7, 7, 7, 7), seq(7, 1, 2, 3), seq(7, 7, 5, 6)]
    assert leave_one_out_bleu(pieces, max_n=1) == pytest.approx(5 / 12)
    assert leave_one_out_bleu([seq(1, 2, 3, 4)] * 2) == 1.0


@pytest.mark.parametrize("seed", range(30))
def test_self_bleu_is_the_mean_of_each_piece_against_the_others(seed):
    pieces, max_n, epsilon = random_set(seed)
    expected = np.mean([corpus_bleu([p], [q for j, q in enumerate(pieces) if j != i],
                                    max_n=max_n, smoothing=epsilon)
                        for i, p in enumerate(pieces)])
    assert self_bleu(pieces, max_n=max_n, smoothing=epsilon) \
        == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert self_bleu(pieces, max_n=max_n, smoothing=0.0) \
        == pytest.approx(np.mean([corpus_bleu([p], [q for j, q in enumerate(pieces) if j != i],
                                              max_n=max_n, smoothing=0.0)
                                  for i, p in enumerate(pieces)]), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", range(30))
def test_same_as_nltk(seed):
    """Texygen's self-BLEU: nltk's sentence_bleu of each piece against the others, averaged;
    leave-one-out BLEU: nltk's corpus_bleu with the others as each piece's references."""
    pieces, max_n, epsilon = random_set(seed)
    weights = (1 / max_n,) * max_n
    smoothing = SmoothingFunction(epsilon=epsilon).method1
    lists = [[int(t) for t in p] for p in pieces]
    if all(lists):  # nltk's sentence_bleu divides by zero on an empty hypothesis
        texygen = np.mean([sentence_bleu(others(pieces, i), h, weights,
                                         smoothing_function=smoothing)
                           for i, h in enumerate(lists)])
        assert self_bleu(pieces, max_n=max_n, smoothing=epsilon) \
            == pytest.approx(texygen, rel=1e-12, abs=1e-15)
    pooled = nltk_corpus_bleu([others(pieces, i) for i in range(len(pieces))], lists, weights,
                              smoothing_function=smoothing)
    assert leave_one_out_bleu(pieces, max_n=max_n, smoothing=epsilon) \
        == pytest.approx(pooled, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("measure", [self_bleu, leave_one_out_bleu])
def test_fewer_than_two_pieces_or_no_tokens_give_zero(measure):
    assert measure([]) == 0.0
    assert measure([seq(1, 2, 3, 4)]) == 0.0
    assert measure([seq(), seq()]) == 0.0
    assert measure([seq(), seq(1, 2)]) == 0.0
    with pytest.raises(ValueError, match="max_n must be at least 1"):
        measure([seq(1), seq(1)], max_n=0)


def test_fewer_tokens_than_the_order():
    # p_1 = 1; p_2..p_4 have no n-gram: 0.1 / 1 each (nltk gives the same)
    assert corpus_bleu([seq(1)], [seq(1)]) == pytest.approx(0.1 ** 0.75)
    assert self_bleu([seq(1), seq(1)]) == pytest.approx(0.1 ** 0.75)
    # pooled: p_2..p_4 = 0.1 / (1 + 1), no n-gram in either piece
    assert leave_one_out_bleu([seq(1), seq(1)]) == pytest.approx(0.05 ** 0.75)


def test_repeated_ngram_share():
    # 5 4-grams, one (1 2 3 4) occurring before: 1 - 4/5.
    assert repeated_ngram_share(seq(1, 2, 3, 4, 1, 2, 3, 4)) == pytest.approx(0.2)
    assert repeated_ngram_share(seq(5, 5, 5, 5, 5, 5, 5, 5, 5, 5)) == pytest.approx(1 - 1 / 7)
    assert repeated_ngram_share(seq(1, 2, 3, 4, 5, 6)) == 0.0
    assert repeated_ngram_share(seq(1, 1, 2), n=1) == pytest.approx(1 - 2 / 3)
    assert repeated_ngram_share(seq(1, 2, 1), n=2) == 0.0
    assert repeated_ngram_share(seq(1, 2, 3)) == 0.0  # no 4-gram
    assert repeated_ngram_share(seq()) == 0.0
    with pytest.raises(ValueError, match="n must be at least 1"):
        repeated_ngram_share(seq(1, 2), n=0)


def test_distinct_pieces():
    a = seq(60, 62, 64)
    assert distinct_pieces([a, a.copy(), seq(60, 62), seq(60, 62, 64, 0), seq(62, 60, 64)]) == 4
    assert distinct_pieces([seq(), seq()]) == 1
    assert distinct_pieces([a.astype(np.int32), a]) == 1
    assert distinct_pieces([]) == 0
