"""Recurrent layers one time step at a time, for models that feed each output back as
the next input (free-running generators, sampling).

Calling an ``nn.LSTM`` on one step at a time runs its whole-sequence kernel once per
step. On CPU that kernel costs far more per call than the step's arithmetic: free
running the C-RNN-GAN generator (2 x 350 units, 10 rows, 200 steps, one thread) took
0.3 s forward and 2.4 s backward through ``nn.LSTM``, 0.18 s and 0.48 s through its
cells (``lstm_step``).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

State = tuple[torch.Tensor, torch.Tensor]


def lstm_step(lstm: nn.LSTM, x: torch.Tensor, state: State | None = None
              ) -> tuple[torch.Tensor, State]:
    """``lstm(x, state)`` for one step ``x`` ``(batch, 1, input)`` of a unidirectional,
    batch-first ``nn.LSTM`` without projections, through its cells and its own
    parameters: the same outputs and state (within float rounding) and the same
    gradients. Between layers, dropout applies as in ``nn.LSTM`` (training mode only),
    drawn from torch's global generator."""
    if lstm.bidirectional or lstm.proj_size or not lstm.batch_first:
        raise ValueError("lstm_step steps a unidirectional, batch-first LSTM without "
                         "projections")
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"lstm_step takes one step (batch, 1, input), not {tuple(x.shape)}")
    if state is None:
        zeros = x.new_zeros(lstm.num_layers, len(x), lstm.hidden_size)
        state = (zeros, zeros)
    h, c = state
    out, hs, cs = x[:, 0], [], []
    for layer in range(lstm.num_layers):
        if layer and lstm.dropout and lstm.training:
            out = functional.dropout(out, lstm.dropout, training=True)
        weights = [getattr(lstm, f"{name}_l{layer}", None)
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        out, cell = torch.lstm_cell(out, (h[layer], c[layer]), *weights)
        hs.append(out)
        cs.append(cell)
    return out[:, None], (torch.stack(hs), torch.stack(cs))
