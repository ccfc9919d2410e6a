"""Tests for symhard.training: the loop, reproducibility, divergence and metrics."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from symhard._validation import InvalidParameterError
from symhard.families.base import Task
from symhard.families.parity_relu import ParityReLU
from symhard.learners import MLP, count_parameters
from symhard.training import (
    TrainConfig,
    build_seeded,
    evaluate_nmse,
    interval_over_seeds,
    normalized_mse,
    train,
)

pytestmark = pytest.mark.usefixtures("torch_single_thread")


# Adam at learning rate 1e-2 on a width-32 MLP brings k=2, n=4 parity-relu to a
# normalized test MSE of 0.013-0.024 after 150 steps (model and data seeds 0-4,
# torch 2.13 on CPU).
EASY_CONFIG = TrainConfig(
    steps=150, batch_size=64, learning_rate=1e-2, test_size=2048, eval_every=50
)


def easy_run(model_seed: int, train_seed: int, config: TrainConfig = EASY_CONFIG):
    family = ParityReLU(n=4, k=2)
    model = build_seeded(lambda: family.make_learner("mlp", width=32), model_seed)
    return train(model, family.task(0), config, seed=train_seed)


class CountingTask:
    """A linear-target task that counts how often its sampler is called."""

    def __init__(self, n_inputs: int = 3) -> None:
        self.calls: list[int] = []
        self.task = Task("linear", n_inputs, self.sample)

    def sample(self, num: int, generator: torch.Generator, device: torch.device):
        self.calls.append(num)
        x = torch.randn(num, self.task.n_inputs, generator=generator, device=device)
        return x, x.sum(dim=1)


class TwoInputModel(nn.Module):
    """Takes (a, b) as separate arguments, like a graph model takes (adj, x)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.cat([a, b], dim=1)).squeeze(-1)


def two_input_sampler(num: int, generator: torch.Generator, device: torch.device):
    a = torch.randn(num, 2, generator=generator, device=device)
    b = torch.randn(num, 2, generator=generator, device=device)
    return (a, b), a[:, 0] - b[:, 1]


# The loop ---------------------------------------------------------------------


def test_train_learns_easy_task():
    result = easy_run(model_seed=0, train_seed=0)
    assert result.history[0]["step"] == 50
    assert result.test_nmse < 0.2
    assert result.diverged_at is None


def test_train_untrained_model_near_one():
    # The trivial baseline: a fresh network's normalized test MSE is far from 0.
    family = ParityReLU(n=4, k=2)
    model = build_seeded(lambda: family.make_learner("mlp", width=32), 0)
    x, y = family.task(0).sample(2048, torch.Generator().manual_seed(0))
    assert evaluate_nmse(model, x, y) > 0.5


def test_train_same_seed_same_history():
    first = easy_run(model_seed=1, train_seed=7)
    second = easy_run(model_seed=1, train_seed=7)
    assert first.history == second.history
    assert first.test_nmse == second.test_nmse


def test_train_different_seed_differs():
    first = easy_run(model_seed=1, train_seed=7)
    second = easy_run(model_seed=1, train_seed=8)
    assert first.history[0]["train_loss"] != second.history[0]["train_loss"]
    assert first.test_nmse != second.test_nmse


def test_train_result_bookkeeping():
    config = TrainConfig(steps=30, batch_size=16, test_size=64, eval_every=12)
    counting = CountingTask()
    model = build_seeded(lambda: MLP(3, width=8), 0)
    rows = []
    result = train(model, counting.task, config, seed=0, on_evaluation=rows.append)
    # Evaluations at every 12th step and at the last one.
    assert [row["step"] for row in result.history] == [12, 24, 30]
    assert rows == result.history
    assert result.samples_seen == 30 * 16
    assert result.n_parameters == count_parameters(model)
    assert result.seconds > 0


def test_train_online_samples_every_step():
    config = TrainConfig(steps=25, batch_size=8, test_size=32, eval_every=10)
    counting = CountingTask()
    train(build_seeded(lambda: MLP(3, width=8), 0), counting.task, config, seed=0)
    # One test set, then one fresh batch per step.
    assert counting.calls == [32] + [8] * 25


def test_train_fixed_train_size_samples_once():
    config = TrainConfig(
        steps=25, batch_size=8, train_size=40, test_size=32, eval_every=10
    )
    counting = CountingTask()
    result = train(
        build_seeded(lambda: MLP(3, width=8), 0), counting.task, config, seed=0
    )
    assert counting.calls == [32, 40]
    assert result.samples_seen == 25 * 8
    assert math.isfinite(result.test_nmse)


def test_train_fixed_train_size_reproducible():
    config = TrainConfig(steps=40, batch_size=16, train_size=100, eval_every=20)
    first = easy_run(model_seed=2, train_seed=3, config=config)
    second = easy_run(model_seed=2, train_seed=3, config=config)
    assert first.history == second.history


def test_train_tuple_inputs_fixed_train_set():
    config = TrainConfig(
        steps=200, batch_size=32, learning_rate=0.05, train_size=256, eval_every=100
    )
    task = Task("two inputs", 4, two_input_sampler)
    model = build_seeded(TwoInputModel, 0)
    result = train(model, task, config, seed=0)
    # The target is linear in the inputs, so a linear model fits it.
    assert result.test_nmse < 0.05


def test_train_diverges_with_huge_learning_rate(caplog):
    config = TrainConfig(
        steps=50,
        batch_size=32,
        learning_rate=1e6,
        optimizer="sgd",
        test_size=128,
        eval_every=5,
    )
    with caplog.at_level(logging.WARNING, logger="symhard.training"):
        result = easy_run(model_seed=0, train_seed=0, config=config)
    assert result.diverged_at is not None
    assert 1 <= result.diverged_at <= 50
    # The loss is checked at evaluation steps only.
    assert result.diverged_at % 5 == 0
    assert math.isnan(result.test_nmse)
    assert "diverged at step" in caplog.text


def test_train_init_scale_multiplies_parameters():
    config = TrainConfig(
        steps=1, batch_size=4, learning_rate=1e-30, optimizer="sgd", init_scale=2.0
    )
    original = build_seeded(lambda: MLP(3, width=8), 4)
    scaled = build_seeded(lambda: MLP(3, width=8), 4)
    train(scaled, CountingTask().task, config, seed=0)
    for before, after in zip(original.parameters(), scaled.parameters(), strict=True):
        torch.testing.assert_close(after, 2 * before)


# Configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"steps": 0}, "'steps'.*>= 1.*got 0"),
        ({"batch_size": 0}, "'batch_size'.*>= 1.*got 0"),
        ({"learning_rate": 0.0}, "'learning_rate'.*> 0.*got 0.0"),
        ({"learning_rate": math.inf}, "'learning_rate'.*> 0.*got inf"),
        ({"optimizer": "rmsprop"}, "'optimizer'.*adam, sgd.*'rmsprop'"),
        ({"momentum": 1.5}, r"'momentum'.*\[0, 1\].*got 1.5"),
        ({"weight_decay": -0.1}, "'weight_decay'.*>= 0.*got -0.1"),
        ({"init_scale": 0.0}, "'init_scale'.*> 0.*got 0.0"),
        ({"train_size": 0}, "'train_size'.*>= 1.*got 0"),
        ({"test_size": 1}, "'test_size'.*>= 2.*got 1"),
        ({"eval_every": 0}, "'eval_every'.*>= 1.*got 0"),
    ],
)
def test_train_config_rejects(settings, message):
    with pytest.raises(InvalidParameterError, match=message):
        TrainConfig(**settings)


def test_train_config_to_dict_round_trip():
    config = TrainConfig(steps=7, optimizer="sgd", train_size=11)
    assert TrainConfig(**config.to_dict()) == config


# Metrics ------------------------------------------------------------------------


def test_normalized_mse_hand_cases():
    target = torch.tensor([1.0, 2.0, 2.0])  # sum of squares 9
    assert normalized_mse(target.clone(), target) == 0.0
    assert normalized_mse(torch.zeros(3), target) == pytest.approx(1.0, abs=1e-15)
    assert normalized_mse(2 * target, target) == pytest.approx(1.0, abs=1e-15)
    prediction = torch.tensor([0.0, 2.0, 2.0])
    assert normalized_mse(prediction, target) == pytest.approx(1 / 9, abs=1e-15)


def test_normalized_mse_float64_from_float32():
    # 1 + 1e-7 is not a float32, so the squares are summed after the cast.
    target = torch.full((4,), 3.0, dtype=torch.float32)
    prediction = target + 1e-3
    value = normalized_mse(prediction, target)
    expected = float(((prediction.double() - 3.0) ** 2).sum() / 36.0)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12)


def test_evaluate_nmse_batches_agree(rng):
    model = build_seeded(lambda: MLP(3, width=8), 0)
    x = torch.from_numpy(rng.standard_normal((50, 3))).float()
    y = x.sum(dim=1)
    whole = evaluate_nmse(model, x, y)
    batched = evaluate_nmse(model, x, y, batch_size=7)
    assert batched == pytest.approx(whole, rel=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_nmse_restores_mode(training):
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))
    model.train(training)
    evaluate_nmse(model, torch.randn(5, 3), torch.randn(5))
    assert model.training is training


def test_evaluate_nmse_uses_eval_mode():
    model = build_seeded(
        lambda: nn.Sequential(nn.Linear(3, 1), nn.Dropout(0.9), nn.Flatten(0)), 0
    )
    x = torch.randn(64, 3)
    y = torch.randn(64)
    model.eval()
    with torch.no_grad():
        expected = normalized_mse(model(x), y)
    model.train()
    assert evaluate_nmse(model, x, y) == pytest.approx(expected, rel=1e-12)


def test_interval_over_seeds_matches_scipy():
    values = [0.91, 0.97, 0.88, 1.02, 0.95]
    mean, low, high = interval_over_seeds(values, confidence=0.9)
    expected_low, expected_high = scipy.stats.t.interval(
        0.9, df=4, loc=np.mean(values), scale=scipy.stats.sem(values)
    )
    assert mean == pytest.approx(np.mean(values), abs=1e-15)
    assert low == pytest.approx(expected_low, abs=1e-14)
    assert high == pytest.approx(expected_high, abs=1e-14)


def test_interval_over_seeds_single_value():
    assert interval_over_seeds([0.4]) == (0.4, 0.4, 0.4)
