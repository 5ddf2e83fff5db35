"""The exponential moving average of weights (``deepsym.training.averaging``) by hand:
its rule and warm-up, swapping the average in and out, its own batch-norm statistics,
its checkpoint state."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepsym.errors import CheckpointError
from deepsym.training.averaging import WeightAverage, averaged_weights


def scalar_module(value: float) -> nn.Module:
    """One weight, one batch-norm buffer set."""
    module = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1, affine=False))
    with torch.no_grad():
        module[0].weight.fill_(value)
    return module


def set_weight(module: nn.Module, value: float) -> None:
    with torch.no_grad():
        module[0].weight.fill_(value)


def test_the_average_keeps_a_rising_share_up_to_the_decay():
    module = scalar_module(0.0)
    average = WeightAverage(module, decay=0.5)
    expected = 0.0
    for n, value in enumerate([1.0, 2.0, 4.0, -3.0] + [1.0] * 10):
        set_weight(module, value)
        kept = min(0.5, (1 + n) / (10 + n))  # 0.1, 2/11, 3/12, ... then 0.5 from n = 8
        assert average.rate() == pytest.approx(kept)
        average.update()
        expected = kept * expected + (1 - kept) * value
        assert average.weights["0.weight"].item() == pytest.approx(expected)
    assert average.updates == 14
    assert average.rate() == 0.5
    assert expected == pytest.approx(1.0, abs=0.05)  # it follows a weight that stays


def test_applied_swaps_the_average_in_and_back_out_and_leaves_buffers_alone():
    module = scalar_module(0.0)
    average = WeightAverage(module, decay=0.9)
    set_weight(module, 10.0)
    average.update()  # 0.1 * 0 + 0.9 * 10
    module[1].running_mean.fill_(3.0)
    with average.applied():
        assert module[0].weight.item() == pytest.approx(9.0)
        assert module[1].running_mean.item() == 3.0
    assert module[0].weight.item() == 10.0
    with pytest.raises(RuntimeError), average.applied():
        raise RuntimeError("the block failed")
    assert module[0].weight.item() == 10.0  # restored on the way out of a failure too


def test_the_state_round_trips_and_refuses_another_module():
    module = scalar_module(2.0)
    average = WeightAverage(module, decay=0.9, part="generator")
    set_weight(module, 4.0)
    average.update()
    other = WeightAverage(scalar_module(0.0), decay=0.9, part="generator")
    other.load_state_dict(average.state_dict())
    assert other.updates == 1
    assert other.weights["0.weight"].item() == pytest.approx(0.1 * 2 + 0.9 * 4)
    with pytest.raises(CheckpointError, match=r"module 'generator'.*the whole model"):
        WeightAverage(scalar_module(0.0), decay=0.9).load_state_dict(average.state_dict())


def test_a_checkpoints_weights_take_the_average_of_its_part_only():
    live = {"generator.w": torch.tensor(1.0), "generator.bn": torch.tensor(5.0),
            "critic.w": torch.tensor(2.0)}
    state = {"model": live, "ema": {"part": "generator", "decay": 0.9, "updates": 3,
                                    "weights": {"w": torch.tensor(0.5)}}}
    assert averaged_weights(state) == {"generator.w": torch.tensor(0.5),
                                       "generator.bn": torch.tensor(5.0),
                                       "critic.w": torch.tensor(2.0)}
    assert averaged_weights({"model": live, "ema": None}) is live
    assert averaged_weights({"model": live}) is live  # a checkpoint from before averaging



def test_calibrate_measures_the_averages_own_batch_norm_statistics():
    """Under the average (weight 9) the batches [1, 3] and [2, 0] give [9, 27] (mean 18,
    unbiased variance 162) and [18, 0] (mean 9, variance 162), counted alike: mean 13.5,
    variance 162. The module keeps its own statistics, momentum and mode; the average
    carries its statistics into ``applied``, its state and a checkpoint's weights."""
    module = scalar_module(0.0)
    average = WeightAverage(module, decay=0.9, part="generator")
    set_weight(module, 10.0)
    average.update()  # 0.1 * 0 + 0.9 * 10
    module.eval()
    module[1].running_mean.fill_(3.0)
    batches = [torch.tensor([[1.0], [3.0]]), torch.tensor([[2.0], [0.0]])]
    average.calibrate(batches.__getitem__, batches=2)
    assert average.buffers["1.running_mean"].item() == pytest.approx(13.5)
    assert average.buffers["1.running_var"].item() == pytest.approx(162.0)
    assert module[1].running_mean.item() == 3.0 and module[1].running_var.item() == 1.0
    assert module[1].momentum == 0.1 and not module.training
    assert module[0].weight.item() == 10.0
    with average.applied():
        assert module[1].running_mean.item() == pytest.approx(13.5)
        out = module(torch.tensor([[1.0]])).item()
        assert out == pytest.approx((9.0 - 13.5) / math.sqrt(162.0 + 1e-5))
    assert module[1].running_mean.item() == 3.0
    other = WeightAverage(scalar_module(0.0), decay=0.9, part="generator")
    assert average.measured_at == average.updates == 1
    other.load_state_dict(average.state_dict())
    assert other.buffers["1.running_var"].item() == pytest.approx(162.0)
    assert other.measured_at == 1  # a resumed run need not measure them again
    weights = averaged_weights({"model": {"generator.1.running_mean": torch.tensor(3.0)},
                                "ema": average.state_dict()})
    assert weights["generator.1.running_mean"].item() == pytest.approx(13.5)
    assert weights["generator.0.weight"].item() == pytest.approx(9.0)


def test_calibrate_leaves_a_module_without_batch_norm_alone():
    module = nn.Linear(1, 1)
    average = WeightAverage(module, decay=0.9)
    average.calibrate(lambda i: pytest.fail("no batch norm: nothing to run"))
    assert average.buffers == {} and average.state_dict()["buffers"] == {}
