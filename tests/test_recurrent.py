"""One step of an LSTM through its cells equals the LSTM itself: outputs, state and
gradients."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from deepsym.training.recurrent import lstm_step


@pytest.mark.parametrize(("layers", "bias", "given_state"),
                         [(1, True, False), (2, True, True), (3, False, True)])
def test_a_step_through_the_cells_equals_the_lstm(layers, bias, given_state):
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 7, layers, bias=bias, batch_first=True)
    x = torch.randn(3, 1, 5, requires_grad=True)
    state = (torch.randn(layers, 3, 7), torch.randn(layers, 3, 7)) if given_state else None
    expected, (h, c) = lstm(x, state)
    got, (h2, c2) = lstm_step(lstm, x, state)
    for a, b in ((expected, got), (h, h2), (c, c2)):
        torch.testing.assert_close(b, a)
    grads = torch.autograd.grad((expected.sum() + c.sum()), [x, *lstm.parameters()])
    grads2 = torch.autograd.grad((got.sum() + c2.sum()), [x, *lstm.parameters()])
    for a, b in zip(grads, grads2, strict=True):
        torch.testing.assert_close(b, a)


def test_free_running_steps_chain_like_a_whole_sequence():
    torch.manual_seed(1)
    lstm = nn.LSTM(4, 6, 2, batch_first=True)
    x = torch.randn(2, 9, 4)
    state, outs = None, []
    for t in range(9):
        out, state = lstm_step(lstm, x[:, t:t + 1], state)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), lstm(x)[0])


def test_dropout_between_layers_follows_training_mode():
    torch.manual_seed(2)
    lstm = nn.LSTM(4, 6, 2, batch_first=True, dropout=0.5)
    x = torch.randn(8, 1, 4)
    lstm.eval()
    torch.testing.assert_close(lstm_step(lstm, x)[0], lstm(x)[0])
    lstm.train()
    assert not torch.allclose(lstm_step(lstm, x)[0], lstm.eval()(x)[0])


@pytest.mark.parametrize("lstm", [nn.LSTM(4, 6, bidirectional=True, batch_first=True),
                                  nn.LSTM(4, 6), nn.LSTM(4, 6, proj_size=3, batch_first=True)])
def test_other_lstms_are_refused(lstm):
    with pytest.raises(ValueError, match="unidirectional, batch-first"):
        lstm_step(lstm, torch.randn(2, 1, 4))


def test_more_than_one_step_is_refused():
    with pytest.raises(ValueError, match=r"one step \(batch, 1, input\), not \(2, 3, 4\)"):
        lstm_step(nn.LSTM(4, 6, batch_first=True), torch.randn(2, 3, 4))
