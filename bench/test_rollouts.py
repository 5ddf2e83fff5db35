"""SeqGAN's Monte Carlo rollouts: batched (``deepsym.sampling.policy.rollouts``) against
two loops, in the same run, with the same uniforms, so the same completed tokens and the
same rewards (both checked).

The model: SeqGAN's default generator (``seqgan``'s config: a 1 x 200 LSTM, embedding
32, over ``events`` tokens, vocabulary 388) and its default discriminator, random weights
(speed does not depend on training), one torch thread. A round completes every prefix of
a batch of ``B`` sequences of ``T`` tokens ``n`` times and scores the completions
(the rewards of one policy step).

- ``batched``: every rollout of every prefix as one batch, from cached prefix states,
  ``T - 1`` model steps in all.
- ``per prefix``: the structure of SeqGAN's released code (rollout.py): for each rollout
  and each prefix, the prefix run through the model, then its completion drawn one
  token at a time for the batch of ``B`` sequences.
- ``per rollout``: ``deepsym.sampling.policy.rollouts_loop``, one sequence's rollout at
  a time: a Python loop per token per rollout.

Cases: the config's defaults (``B`` 64, ``T`` 32, ``n`` 16: 31,744 rollouts; the
per-rollout loop takes minutes for its one round) and a small one (``B`` 8, ``T`` 16,
``n`` 4). tokens/s counts the drawn tokens (``n B T (T - 1) / 2``) over the mean
round time; ``speedup`` is a loop's mean over batched's. Results: bench/results/rollouts.json.
"""
from __future__ import annotations

import os
import platform

import midibench
import pytest
import torch
from deepsym_plugins.seqgan_model import SeqGAN, SeqGANConfig
from deepsym_plugins.seqgan_train import SeqGANTrainer

from deepsym.sampling.policy import pick, rollouts, rollouts_loop

RESULTS_PATH = midibench.BENCH_DIR / "results" / "rollouts.json"
CASES = {"defaults: B 64, T 32, n 16": (64, 32, 16), "small: B 8, T 16, n 4": (8, 16, 4)}
MODES = {"batched": 3, "per prefix": 1, "per rollout": 1}  # mode: timed rounds
RESULTS: dict[str, dict[str, dict]] = {}
DRAWN: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if RESULTS:
        midibench.write_json_atomic(report(), RESULTS_PATH)


def rollouts_per_prefix(model, tokens: torch.Tensor, n: int, *,
                        uniforms: torch.Tensor) -> torch.Tensor:
    """SeqGAN's code's loop: per rollout, per prefix, batched over the sequences."""
    size, length = tokens.shape
    out = tokens[None, None].expand(length - 1, n, size, length).clone()
    with torch.no_grad():
        for k in range(n):
            for t in range(1, length):
                inputs = torch.cat([model.start(size).to(tokens), tokens[:, :t]], dim=1)
                logits, state = model.step(inputs, None, None)
                for p in range(t, length):
                    drawn = pick(logits[:, -1], uniforms[t - 1, k, :, p])
                    out[t - 1, k, :, p] = drawn
                    if p + 1 < length:
                        logits, state = model.step(drawn[:, None], state, None)
    return out


LOOPS = {"batched": rollouts, "per prefix": rollouts_per_prefix, "per rollout": rollouts_loop}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(CASES))
def test_rollout_tokens_per_second(benchmark, case, mode):
    size, length, n = CASES[case]
    benchmark.group = f"rollouts {case}"
    config = SeqGANConfig(vocabulary="events", sequence_length=length)
    torch.manual_seed(0)
    trainer = SeqGANTrainer(SeqGAN(config), config, seed=0)
    tokens = trainer.fakes(size)
    uniforms = torch.rand(length - 1, n, size, length, generator=torch.Generator().manual_seed(1))
    policy = trainer.network.generator.eval()

    def run():
        completions = LOOPS[mode](policy, tokens, n, uniforms=uniforms)
        return completions, trainer.score(completions).mean(1)

    completions, rewards = benchmark.pedantic(run, rounds=MODES[mode], iterations=1,
                                              warmup_rounds=1 if mode == "batched" else 0)
    for (other_case, other), (tokens_there, rewards_there) in DRAWN.items():
        if other_case == case:  # every mode draws the same tokens and gets the same rewards
            assert torch.equal(completions, tokens_there), f"{mode} and {other} differ"
            assert torch.allclose(rewards, rewards_there, atol=1e-6), f"{mode}, {other}"
    DRAWN[case, mode] = completions, rewards
    if benchmark.stats:
        stats = benchmark.stats.stats
        drawn = n * size * length * (length - 1) // 2
        RESULTS.setdefault(case, {})[mode] = {
            "mean_s": stats.mean, "min_s": stats.min, "rounds": stats.rounds,
            "tokens_drawn": drawn, "tokens_per_s": drawn / stats.mean}


def report() -> dict:
    for rows in RESULTS.values():
        if "batched" in rows:
            rows["speedup"] = {mode: rows[mode]["mean_s"] / rows["batched"]["mean_s"]
                               for mode in rows if mode != "batched"}
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {d: midibench.version(d) for d in ("deepsym", "torch")},
        "torch_threads": 1,
        "speedup": "a loop's mean time / batched's for the same tokens and rewards",
        **RESULTS,
    }
