"""Token models as policies (``deepsym.sampling.policy``): inverse-transform draws,
teacher-forced log-probabilities, and batched rollouts equal to the naive loop."""
from __future__ import annotations

import pytest
import torch
from deepsym_plugins.char_rnn_model import CharRNN, CharRNNConfig

from deepsym.sampling.policy import draw, log_probs, pick, rollouts, rollouts_loop

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def model(layers: int = 2) -> CharRNN:
    torch.manual_seed(0)
    config = CharRNNConfig(vocabulary="events", embedding=8, hidden=16, layers=layers)
    return CharRNN(config).double().eval()  # float64: no draw near a boundary differs


def test_pick_inverts_the_cumulative_distribution():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]] * 5))
    uniforms = torch.tensor([0.0, 0.49, 0.51, 0.76, 0.999])
    assert pick(logits, uniforms).tolist() == [0, 0, 1, 2, 2]
    # temperature 0.5 squares the probabilities: 4/6, 1/6, 1/6
    assert pick(logits, torch.tensor([0.6, 0.7, 0.8, 0.85, 0.9]), 0.5).tolist() == \
        [0, 1, 1, 2, 2]


def test_log_probs_are_the_models_own_likelihood():
    net = model()
    tokens = draw(net, 3, 10, generator=torch.Generator().manual_seed(1))
    assert tokens.shape == (3, 10) and tokens.dtype == torch.long
    assert torch.allclose(log_probs(net, tokens), -net(tokens))


def test_draws_depend_only_on_their_uniforms():
    net = model()
    uniforms = torch.rand(4, 12, generator=torch.Generator().manual_seed(2))
    tokens = draw(net, 4, 12, uniforms=uniforms)
    assert torch.equal(tokens[1:3], draw(net, 2, 12, uniforms=uniforms[1:3]))
    changed = uniforms.clone()
    changed[:, 6:] = 1 - changed[:, 6:]
    assert torch.equal(draw(net, 4, 12, uniforms=changed)[:, :6], tokens[:, :6])


@pytest.mark.parametrize("layers", [1, 2])
def test_batched_rollouts_equal_the_naive_loop(layers):
    net = model(layers)
    tokens = draw(net, 3, 7, generator=torch.Generator().manual_seed(3))
    uniforms = torch.rand(6, 4, 3, 7, generator=torch.Generator().manual_seed(4))
    batched = rollouts(net, tokens, 4, uniforms=uniforms)
    assert batched.shape == (6, 4, 3, 7)
    assert torch.equal(batched, rollouts_loop(net, tokens, 4, uniforms=uniforms))
    for t in range(1, 7):  # each keeps its prefix, and the rollouts differ after it
        assert torch.equal(batched[t - 1, :, :, :t], tokens[None, :, :t].expand(4, 3, t))
    assert (batched[0, 0] != batched[0, 1]).any()


def test_a_rollout_of_the_last_prefix_draws_from_the_models_distribution():
    """Completing ``y_1..y_{T-1}`` many times: the last token's frequencies are the
    model's probabilities (chi-square-sized tolerance, a fixed seed)."""
    net = model(1)
    with torch.no_grad():
        net.head.weight.mul_(40)  # a peaked distribution: a few likely tokens to count
    tokens = draw(net, 1, 4, generator=torch.Generator().manual_seed(5))
    n = 4000
    drawn = rollouts(net, tokens, n, generator=torch.Generator().manual_seed(6))[-1, :, 0, -1]
    logits, _ = net.step(torch.cat([net.start(1).long(), tokens[:, :3]], 1))
    expected = torch.softmax(logits[0, -1], -1)
    counts = torch.bincount(drawn, minlength=len(expected)).double()
    likely = expected > 0.01
    assert likely.any()
    assert torch.allclose(counts[likely] / n, expected[likely], atol=0.02)


def test_shapes_are_checked():
    net = model()
    tokens = draw(net, 2, 5, generator=torch.Generator().manual_seed(7))
    with pytest.raises(ValueError, match="expected"):
        rollouts(net, tokens, 3, uniforms=torch.rand(4, 3, 2, 4))
