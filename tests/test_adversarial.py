"""The adversarial building blocks on hand-checkable tensors: each loss against its
formula, the gradient penalty of critics whose gradient is known (also under a
GradScaler and autocast), feature matching, freezing decisions, label smoothing and noise,
and the history buffer's content, determinism and exact resume."""
from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from deepsym.errors import ConfigError
from deepsym.training.adversarial import (
    LOSSES,
    Freezer,
    HistoryBuffer,
    discriminator_loss,
    feature_matching,
    generator_loss,
    gradient_penalty,
    smooth_labels,
)

REAL = [0.5, 2.5]
FAKE = [-1.0, 2.0]


def _t(values: list) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _bce(x: float, t: float) -> float:
    return _softplus(x) - t * x


@pytest.mark.parametrize(("kind", "d_loss", "g_loss"), [
    ("non-saturating",
     (_bce(0.5, 1) + _bce(2.5, 1)) / 2 + (_bce(-1, 0) + _bce(2, 0)) / 2,
     (_softplus(1) + _softplus(-2)) / 2),
    ("wasserstein", 0.5 - 1.5, -0.5),
    ("least-squares", (0.25 + 2.25) / 4 + (1 + 4) / 4, (4 + 1) / 4),
    ("hinge", (0.5 + 0) / 2 + (0 + 3) / 2, -0.5),
])
def test_losses_match_hand_computation(kind: str, d_loss: float, g_loss: float) -> None:
    assert discriminator_loss(kind, _t(REAL), _t(FAKE)).item() == pytest.approx(d_loss, 1e-12)
    assert generator_loss(kind, _t(FAKE)).item() == pytest.approx(g_loss, 1e-12)


@pytest.mark.parametrize("kind", ["non-saturating", "wasserstein", "least-squares", "hinge"])
def test_the_mean_of_the_terms_is_the_callers(kind: str) -> None:
    """Data parallelism passes a mean over every process's scores; a mean that doubles
    every term's weight doubles each term of the loss."""
    def double(terms: torch.Tensor) -> torch.Tensor:
        return 2 * terms.mean()

    assert discriminator_loss(kind, _t(REAL), _t(FAKE), mean=double).item() == \
        pytest.approx(2 * discriminator_loss(kind, _t(REAL), _t(FAKE)).item(), 1e-12)
    assert generator_loss(kind, _t(FAKE), mean=double).item() == \
        pytest.approx(2 * generator_loss(kind, _t(FAKE)).item(), 1e-12)


def test_smoothing_lowers_only_real_targets() -> None:
    got = discriminator_loss("non-saturating", _t(REAL), _t(FAKE), smoothing=0.1).item()
    want = (_bce(0.5, 0.9) + _bce(2.5, 0.9)) / 2 + (_bce(-1, 0) + _bce(2, 0)) / 2
    assert got == pytest.approx(want, 1e-12)
    got = discriminator_loss("least-squares", _t(REAL), _t(FAKE), smoothing=0.5).item()
    assert got == pytest.approx((0 + 4) / 4 + (1 + 4) / 4, 1e-12)


def test_full_label_noise_swaps_the_targets() -> None:
    got = discriminator_loss("least-squares", _t(REAL), _t(FAKE), noise=0.999999,
                             generator=torch.Generator().manual_seed(0)).item()
    assert got == pytest.approx((0.25 + 6.25) / 4 + (4 + 1) / 4, 1e-12)


def test_half_precision_scores_give_float32_losses() -> None:
    scores = torch.full((4,), 300.0, dtype=torch.float16)  # 300^2 overflows float16
    assert generator_loss("least-squares", scores).item() == 299.0 ** 2 / 2


def test_unknown_kind_lists_the_kinds() -> None:
    for call in (lambda: generator_loss("vanilla", _t(FAKE)),
                 lambda: discriminator_loss("vanilla", _t(REAL), _t(FAKE))):
        with pytest.raises(ConfigError, match="'vanilla'") as info:
            call()
        assert all(kind in str(info.value) for kind in LOSSES)


@pytest.mark.parametrize("kind", ["wasserstein", "hinge"])
def test_smoothing_needs_targets(kind: str) -> None:
    with pytest.raises(ConfigError, match="non-saturating, least-squares"):
        discriminator_loss(kind, _t(REAL), _t(FAKE), smoothing=0.1)


def _linear_critic() -> nn.Linear:
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))
        critic.bias.fill_(-7.0)
    return critic


def test_gradient_penalty_of_a_linear_critic() -> None:
    critic = _linear_critic()
    real, fake = torch.randn(8, 2) * 5, torch.randn(8, 2)
    penalty = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert penalty.item() == 16.0  # (||(3, 4)|| - 1)^2, wherever the points are
    assert gradient_penalty(critic, real, fake, target=5.0).item() == 0.0
    penalty.backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert critic.weight.grad.flatten().tolist() == pytest.approx([4.8, 6.4], 1e-6)
    assert critic.bias.grad is None  # the bias does not change grad f


def _half_square_norm(x: torch.Tensor) -> torch.Tensor:
    """f(x) = ||x||^2 / 2 per sample, so grad f(x) = x."""
    return (x ** 2).flatten(1).sum(1) / 2


def test_gradient_penalty_is_a_mean_of_per_sample_norms() -> None:
    points = torch.tensor([[[3.0, 4.0]], [[0.0, 0.5]]])  # (batch, time, features)
    penalty = gradient_penalty(_half_square_norm, points, points)  # x_hat = the points
    assert penalty.item() == pytest.approx(((5 - 1) ** 2 + (0.5 - 1) ** 2) / 2, 1e-6)


def test_gradient_penalty_interpolates_with_the_generators_draws() -> None:
    generator = torch.Generator().manual_seed(7)
    eps = torch.rand(3, generator=generator.clone_state())
    real, fake = torch.tensor([[2.0], [4.0], [-2.0]]), torch.zeros(3, 1)
    penalty = gradient_penalty(_half_square_norm, real, fake, generator=generator)
    norms = (eps * real.squeeze(1)).abs()  # x_hat = eps real
    assert penalty.item() == pytest.approx(((norms - 1) ** 2).mean().item(), 1e-6)
    again = gradient_penalty(_half_square_norm, real, fake,
                             generator=torch.Generator().manual_seed(7))
    assert again.item() == penalty.item()


def test_gradient_penalty_takes_the_callers_mixing_weights() -> None:
    """``weights``: eps_i given (drawn for a global batch), x_hat = eps real + (1-eps) fake."""
    real, fake = torch.tensor([[2.0], [4.0]]), torch.tensor([[0.0], [1.0]])
    penalty = gradient_penalty(_half_square_norm, real, fake,
                               weights=torch.tensor([0.25, 0.5]))
    norms = torch.tensor([0.25 * 2.0, 0.5 * 4.0 + 0.5 * 1.0])
    assert penalty.item() == pytest.approx(((norms - 1) ** 2).mean().item(), 1e-6)


def test_gradient_penalty_under_a_grad_scaler_equals_the_unscaled_one() -> None:
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)
    critic = _linear_critic()
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    plain = gradient_penalty(_half_square_norm, real, fake,
                             generator=torch.Generator().manual_seed(3))
    scaled = gradient_penalty(_half_square_norm, real, fake, scaler=scaler,
                              generator=torch.Generator().manual_seed(3))
    assert scaled.item() == pytest.approx(plain.item(), 1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, real, fake, scaler=scaler)
    assert penalty.dtype == torch.float32
    assert penalty.item() == 16.0  # 3 and 4 are exact in bfloat16


def test_feature_matching() -> None:
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]], requires_grad=True)  # mean (1, 1)
    distance = feature_matching(real, fake)
    assert distance.item() == 1 + 4
    distance.backward()  # d/d fake_i = -2 (mean_real - mean_fake) / batch
    assert fake.grad.tolist() == [[-1.0, -2.0], [-1.0, -2.0]]
    assert real.grad is None


def test_freezer_decisions_on_a_sequence_of_losses() -> None:
    freezer = Freezer()
    steps = [("discriminator", 0.1, True),  # no generator loss yet
             ("generator", 1.0, True),  # 1.0 >= 0.7 * 0.1
             ("discriminator", 0.69, False),  # 0.69 < 0.7 * 1.0
             ("discriminator", 0.71, True),  # 0.71 >= 0.7
             ("generator", 0.49, False),  # 0.49 < 0.7 * 0.71 = 0.497
             ("generator", torch.tensor(0.5), True),  # a tensor works too
             ("discriminator", 0.3, False)]  # 0.3 < 0.7 * 0.5
    assert [freezer.decide(side, loss) for side, loss, _ in steps] == [
        trains for *_, trains in steps]


def test_freezer_resumes_exactly() -> None:
    freezer = Freezer(0.5)
    freezer.decide("generator", 1.0)
    state = _round_trip(freezer.state_dict())
    freezer.decide("generator", 9.0)
    resumed = Freezer(0.5)
    resumed.load_state_dict(state)
    assert resumed.decide("discriminator", 0.45) is False
    assert resumed.decide("discriminator", 0.5) is True


def test_freezer_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        Freezer(1.5)
    with pytest.raises(ConfigError, match="discriminator, generator"):
        Freezer().decide("critic", 1.0)
    with pytest.raises(ConfigError, match="non-negative"):
        Freezer().decide("generator", -0.5)


def test_smooth_labels() -> None:
    target = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert smooth_labels(target, 0.1).tolist() == pytest.approx([0.9, 0, 0.9, 0])
    assert smooth_labels(target).tolist() == target.tolist()
    generator = torch.Generator().manual_seed(5)
    flips = torch.rand(4, generator=generator.clone_state()) < 0.5
    noisy = smooth_labels(target, 0.25, 0.5, generator)
    want = torch.where(flips, 1 - target, target) * 0.75
    assert noisy.tolist() == want.tolist()
    with pytest.raises(ConfigError, match="noise must be in"):
        smooth_labels(target, noise=1.0)


def _batches(count: int, size: int = 2) -> list[torch.Tensor]:
    """Fakes numbered 1, 2, 3, ... (one value per row), so every row is traceable."""
    values = torch.arange(1, count * size + 1, dtype=torch.float32)
    return list(values.reshape(count, size, 1))


def _round_trip(state: dict) -> dict:
    out = io.BytesIO()
    torch.save(state, out)
    out.seek(0)
    return torch.load(out, weights_only=True)


def test_history_buffer_fills_then_swaps_half() -> None:
    generator = torch.Generator().manual_seed(11)
    buffer = HistoryBuffer(4, generator)
    first, second, third = _batches(3)
    assert buffer.query(first).tolist() == [[1.0], [2.0]]
    assert buffer.query(second).tolist() == [[3.0], [4.0]]
    assert buffer.items.flatten().tolist() == [1.0, 2.0, 3.0, 4.0]
    slot = torch.randperm(4, generator=generator.clone_state())[0].item()
    batch = buffer.query(third)  # fakes 5, 6: 5 stays, 6 replaces an old one
    assert batch.flatten().tolist() == [5.0, slot + 1.0]
    stored = [1.0, 2.0, 3.0, 4.0]
    stored[slot] = 6.0
    assert buffer.items.flatten().tolist() == stored


def test_history_buffer_detaches_and_keeps_odd_batches_mostly_fresh() -> None:
    buffer = HistoryBuffer(2, torch.Generator().manual_seed(0))
    fakes = torch.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    assert not buffer.query(fakes).requires_grad
    batch = buffer.query(fakes * 10)  # 10 and 20 stay, 30 swaps with 1 or 2
    assert batch.flatten().tolist()[:2] == [10.0, 20.0]
    assert batch[2].item() in (1.0, 2.0)
    assert sorted(buffer.items.flatten().tolist()) == sorted([3.0 - batch[2].item(), 30.0])
    assert not batch.requires_grad and not buffer.items.requires_grad


def test_history_buffer_resumes_exactly() -> None:
    buffer = HistoryBuffer(3, torch.Generator().manual_seed(2))
    batches = _batches(8)
    for fakes in batches[:4]:
        buffer.query(fakes)
    state = _round_trip(buffer.state_dict())
    expected = [buffer.query(fakes).tolist() for fakes in batches[4:]]
    resumed = HistoryBuffer(3, torch.Generator().manual_seed(99))
    resumed.load_state_dict(state)
    assert [resumed.query(fakes).tolist() for fakes in batches[4:]] == expected
    twin = HistoryBuffer(3, torch.Generator().manual_seed(2))  # same seed, same batches
    assert [twin.query(fakes).tolist() for fakes in batches][4:] == expected


def test_history_buffer_rejects_no_capacity() -> None:
    with pytest.raises(ConfigError, match="positive"):
        HistoryBuffer(0, torch.Generator())
