"""Token models as policies: draw sequences as tensors, score them, and complete every
prefix of a batch many times at once (SeqGAN's Monte Carlo rollouts).

Any token model with the two methods ``IncrementalSampler`` uses fits:
``model.start(batch)`` (the input before the first token) and ``model.step(tokens,
state, condition) -> (logits, state)``. Its state is a tuple of tensors with the batch
on dimension ``model.state_batch_dim`` (default 1: an ``nn.LSTM``'s ``(h, c)``).

Every draw is by inverse transform from uniforms given or drawn up front (token ``i``
where the cumulative probability first exceeds ``u``), so that a draw depends only on
its own uniform: :func:`rollouts` (batched) and :func:`rollouts_loop` (the naive
reference, one rollout at a time) complete the same prefixes with the same tokens from
the same uniforms, which is what the tests and ``bench/rollouts.py`` compare.

:func:`rollouts` runs the ``n`` completions of all ``T - 1`` prefixes of a batch of
``B`` sequences as one batch of ``(T - 1) n B`` rows: each row starts from the cached
state of its prefix (one pass over the sequences builds them all), and the rows are
ordered by prefix length, so that after ``k`` steps the rows still drawing are the
first ones and every step runs on a shrinking slice: ``T - 1`` model steps in all, no
Python loop per token per rollout. torch is imported lazily.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

State = Any


def log_probs(model: Any, tokens: torch.Tensor, condition: torch.Tensor | None = None
              ) -> torch.Tensor:
    """``log p(token_t | tokens before it)`` for every token of ``tokens`` ``(batch, T)``,
    teacher-forced in one pass, with gradients; shape ``(batch, T)``."""
    import torch

    inputs = torch.cat([model.start(len(tokens)).to(tokens), tokens[:, :-1]], dim=1)
    logits, _ = model.step(inputs, None, condition)
    dtype = torch.promote_types(logits.dtype, torch.float32)  # float16 under AMP: float32
    return torch.log_softmax(logits, -1, dtype=dtype).gather(-1, tokens[..., None])[..., 0]


def pick(logits: torch.Tensor, uniforms: torch.Tensor, temperature: float = 1.0
         ) -> torch.Tensor:
    """One token per row of ``logits`` ``(rows, vocabulary)`` by inverse transform of
    ``uniforms`` ``(rows,)`` in [0, 1): the first token whose cumulative probability
    (at ``temperature``) exceeds the uniform. The cumulative weights are left
    unnormalized (the uniform is scaled by their total instead) and searched, not
    compared token by token: at SeqGAN's sizes, a third less time per rollout."""
    import torch

    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    shifted = logits - logits.amax(-1, keepdim=True)
    cumulative = torch.exp(shifted / temperature).cumsum(-1)
    target = uniforms.to(cumulative.dtype)[:, None] * cumulative[:, -1:]
    drawn = torch.searchsorted(cumulative, target, right=True)[:, 0]
    return drawn.clamp_(max=logits.shape[-1] - 1)


def draw(model: Any, n: int, steps: int, *, uniforms: torch.Tensor | None = None,
         generator: torch.Generator | None = None, temperature: float = 1.0,
         condition: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` sequences of ``steps`` tokens ``(n, steps)`` from the model, one step each,
    without gradients; ``uniforms`` ``(n, steps)`` (default: drawn from ``generator`` on
    the model's device)."""
    import torch

    start = model.start(n)
    if uniforms is None:
        uniforms = torch.rand(n, steps, generator=generator, device=start.device)
    tokens = torch.empty(n, steps, dtype=torch.long, device=start.device)
    with torch.no_grad():
        logits, state = model.step(start, None, condition)
        for t in range(steps):
            tokens[:, t] = pick(logits[:, -1], uniforms[:, t], temperature)
            if t + 1 < steps:
                logits, state = model.step(tokens[:, t:t + 1].to(start), state, condition)
    return tokens


def prefix_states(model: Any, tokens: torch.Tensor) -> tuple[torch.Tensor, list[State]]:
    """For each prefix ``tokens[:, :t]``, ``t = 1 .. T - 1``: the logits of the token after
    it ``(T - 1, batch, vocabulary)`` and the model's state after it (a list of ``T - 1``
    states), one model step per token."""
    import torch

    logits, states = [], []
    with torch.no_grad():
        _, state = model.step(model.start(len(tokens)).to(tokens), None, None)
        for t in range(tokens.shape[1] - 1):
            out, state = model.step(tokens[:, t:t + 1], state, None)
            logits.append(out[:, -1])
            states.append(state)
    return torch.stack(logits), states


def rollouts(model: Any, tokens: torch.Tensor, n: int, *,
             uniforms: torch.Tensor | None = None, generator: torch.Generator | None = None,
             temperature: float = 1.0) -> torch.Tensor:
    """Every prefix of ``tokens`` ``(B, T)`` completed ``n`` times by the model, batched:
    ``(T - 1, n, B, T)``, where ``[t - 1, k, b]`` is ``tokens[b, :t]`` followed by the
    ``k``-th completion's ``T - t`` drawn tokens. ``uniforms`` ``(T - 1, n, B, T)``: the
    draw at position ``p`` of that row uses ``uniforms[t - 1, k, b, p]`` (default: drawn
    from ``generator``). No gradients."""
    import torch

    size, length = tokens.shape
    uniforms = _uniforms(uniforms, (length - 1, n, size, length), generator, tokens.device)
    if length < 2:
        return tokens.new_empty(0, n, size, length)
    logits, states = prefix_states(model, tokens)
    dim = getattr(model, "state_batch_dim", 1)
    # rows ordered (prefix length t, rollout k, sequence b): t ascending
    rows = (length - 1) * n * size
    prefix = torch.arange(1, length, device=tokens.device).repeat_interleave(n * size)
    state = tuple(torch.cat([torch.cat([s] * n, dim=dim) for s in parts], dim=dim)
                  for parts in zip(*states, strict=True))
    logits = logits[:, None].expand(-1, n, -1, -1).reshape(rows, -1)
    flat = uniforms.reshape(rows, length)
    out = tokens[None, None].expand(length - 1, n, size, length).reshape(rows, length).clone()
    with torch.no_grad():
        for k in range(length - 1):
            active = (length - 1 - k) * n * size  # rows whose prefix is shorter than T - k
            position = prefix[:active] + k
            rows_now = torch.arange(active, device=tokens.device)
            picked = pick(logits[:active], flat[rows_now, position], temperature)
            out[rows_now, position] = picked
            if k + 1 < length - 1:
                state = tuple(s.narrow(dim, 0, active) for s in state)
                step, state = model.step(picked[:, None], state, None)
                logits = step[:, -1]
    return out.reshape(length - 1, n, size, length)


def rollouts_loop(model: Any, tokens: torch.Tensor, n: int, *,
                  uniforms: torch.Tensor | None = None,
                  generator: torch.Generator | None = None,
                  temperature: float = 1.0) -> torch.Tensor:
    """What :func:`rollouts` computes, the naive way: for every prefix, rollout and
    sequence, the prefix run through the model and the completion drawn one token at a
    time (the reference the tests and the benchmark compare with)."""
    import torch

    size, length = tokens.shape
    uniforms = _uniforms(uniforms, (length - 1, n, size, length), generator, tokens.device)
    out = tokens[None, None].expand(length - 1, n, size, length).clone()
    with torch.no_grad():
        for t in range(1, length):
            for k in range(n):
                for b in range(size):
                    row = tokens[b:b + 1, :t]
                    inputs = torch.cat([model.start(1).to(row), row], dim=1)
                    logits, state = model.step(inputs, None, None)
                    for p in range(t, length):
                        token = pick(logits[:, -1], uniforms[t - 1, k, b, p:p + 1],
                                     temperature)
                        out[t - 1, k, b, p] = token[0]
                        if p + 1 < length:
                            logits, state = model.step(token[:, None], state, None)
    return out


def _uniforms(uniforms: torch.Tensor | None, shape: tuple[int, ...],
              generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    import torch

    if uniforms is None:
        return torch.rand(shape, generator=generator, device=device)
    if tuple(uniforms.shape) != shape:
        raise ValueError(f"uniforms of shape {tuple(uniforms.shape)}, expected {shape}")
    return uniforms


__all__ = ["draw", "log_probs", "pick", "prefix_states", "rollouts", "rollouts_loop"]
