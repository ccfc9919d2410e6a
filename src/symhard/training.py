"""Training a learner on a task with the square loss, and the metric every run reports.

The metric is the normalized test MSE, :math:`E[(h - f)^2] / E[f^2]` on a fresh test
set: 1 means nothing was learned (predicting 0 scores 1 on a unit-norm target).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from symhard._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_float,
    check_int,
    torch_generator,
)
from symhard.families.base import Task
from symhard.learners import count_parameters

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd")

# A batch of inputs: one tensor, or a tuple such as (adjacency, node features)
# that is passed to the model as separate arguments.
Inputs = torch.Tensor | tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Attributes
    ----------
    steps : int
        Optimizer steps.
    batch_size : int
        Samples per step.
    learning_rate : float
    optimizer : str
        ``"adam"`` or ``"sgd"`` (with ``momentum``).
    momentum : float
        SGD momentum; unused by Adam.
    weight_decay : float
    init_scale : float
        Factor applied to every initial parameter.
    train_size : int or None
        Size of a fixed training set sampled once; None draws fresh samples at every
        step (online SGD).
    test_size : int
        Size of the fresh test set.
    eval_every : int
        Steps between evaluations on the test set (the last step is always
        evaluated).
    """

    steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    init_scale: float = 1.0
    train_size: int | None = None
    test_size: int = 8192
    eval_every: int = 500

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_float("learning_rate", self.learning_rate, low=0.0, low_open=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("momentum", self.momentum, low=0.0, high=1.0)
        check_float("weight_decay", self.weight_decay, low=0.0)
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        if self.train_size is not None:
            check_int("train_size", self.train_size, low=1)
        check_int("test_size", self.test_size, low=2)
        check_int("eval_every", self.eval_every, low=1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    test_nmse : float
        Normalized test MSE at the end (NaN when the run diverged).
    history : list of dict
        One row per evaluation: ``step``, ``train_loss`` (mean over the steps since
        the previous row) and ``test_nmse``.
    diverged_at : int or None
        The first evaluation step at which the mean training loss since the
        previous evaluation was NaN or infinite. The loss is checked only at
        evaluation steps, so the blow-up may have happened up to
        ``eval_every - 1`` steps earlier.
    samples_seen : int
        Training samples used, counting repeats.
    seconds : float
        Wall time of the training loop.
    n_parameters : int
    """

    test_nmse: float
    history: list[dict[str, float]] = field(default_factory=list)
    diverged_at: int | None = None
    samples_seen: int = 0
    seconds: float = 0.0
    n_parameters: int = 0


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded, restoring it afterwards.

    Module constructors draw their initial weights from the global generator; this
    makes them reproducible without changing the caller's random state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_seeded(factory: Callable[[], nn.Module], seed: SeedLike) -> nn.Module:
    """Call ``factory`` with torch's generator seeded from ``seed``."""
    rng = as_generator(seed)
    with seeded_torch(int(rng.integers(2**63 - 1))):
        return factory()


def normalized_mse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Return :math:`\\sum (h - y)^2 / \\sum y^2` in float64."""
    prediction = prediction.double()
    target = target.double()
    return float(((prediction - target) ** 2).sum() / (target**2).sum())


def train(
    model: nn.Module,
    task: Task,
    config: TrainConfig,
    *,
    seed: SeedLike = None,
    device: str | torch.device = "cpu",
    on_evaluation: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``task`` with the square loss.

    Parameters
    ----------
    model : nn.Module
        Maps (batch, n) to (batch,). Trained in place, on ``device``.
    task : Task
    config : TrainConfig
    seed : int, numpy Generator or None
        Drives the training data, the test set and batch order.
    device : str or torch.device, default="cpu"
    on_evaluation : callable or None
        Called with each history row as it is made (for progress and storage).

    Returns
    -------
    TrainResult
    """
    device = torch.device(device)
    rng = as_generator(seed)
    test_generator = torch_generator(rng, device.type)
    data_generator = torch_generator(rng, device.type)
    model.to(device)
    _scale_parameters(model, config.init_scale)
    optimizer = _make_optimizer(model, config)

    x_test, y_test = task.sample(config.test_size, test_generator, device)
    if config.train_size is not None:
        x_train, y_train = task.sample(config.train_size, data_generator, device)

    result = TrainResult(
        test_nmse=math.nan,
        n_parameters=count_parameters(model),
    )
    loss_sum = torch.zeros((), device=device)
    steps_since = 0
    start = time.perf_counter()
    for step in range(1, config.steps + 1):
        if config.train_size is None:
            x, y = task.sample(config.batch_size, data_generator, device)
        else:
            index = torch.randint(
                config.train_size,
                (config.batch_size,),
                generator=data_generator,
                device=device,
            )
            x, y = _index_inputs(x_train, index), y_train[index]
        loss = torch.mean((_forward(model, x) - y) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
        steps_since += 1

        if step % config.eval_every == 0 or step == config.steps:
            train_loss = float(loss_sum) / steps_since
            loss_sum.zero_()
            steps_since = 0
            if not math.isfinite(train_loss):
                result.diverged_at = step
                logger.warning("%s diverged at step %d", task.name, step)
                break
            row = {
                "step": step,
                "train_loss": train_loss,
                "test_nmse": evaluate_nmse(model, x_test, y_test),
            }
            result.history.append(row)
            if on_evaluation is not None:
                on_evaluation(row)
    result.seconds = time.perf_counter() - start
    result.samples_seen = (
        result.history[-1]["step"] * config.batch_size if result.history else 0
    )
    if result.diverged_at is None and result.history:
        result.test_nmse = result.history[-1]["test_nmse"]
    return result


@torch.no_grad()
def evaluate_nmse(
    model: nn.Module, x: Inputs, y: torch.Tensor, *, batch_size: int = 8192
) -> float:
    """Return the normalized MSE of ``model`` on ``(x, y)``, in evaluation mode."""
    was_training = model.training
    model.eval()
    count = len(x[0]) if isinstance(x, tuple) else len(x)
    predictions = torch.cat(
        [
            _forward(model, _index_inputs(x, slice(i, i + batch_size)))
            for i in range(0, count, batch_size)
        ]
    )
    model.train(was_training)
    return normalized_mse(predictions, y)


def _forward(model: nn.Module, inputs: Inputs) -> torch.Tensor:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _index_inputs(inputs: Inputs, index: torch.Tensor | slice) -> Inputs:
    if isinstance(inputs, tuple):
        return tuple(part[index] for part in inputs)
    return inputs[index]


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(
            model.parameters(),
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
        )
    return torch.optim.SGD(
        model.parameters(),
        lr=config.learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )


def _scale_parameters(model: nn.Module, scale: float) -> None:
    if scale != 1.0:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.mul_(scale)


def interval_over_seeds(
    values: list[float], *, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Return the mean and a Student-t interval of per-seed values.

    With one value the interval is that value on both sides.
    """
    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    if array.size < 2:
        return mean, mean, mean
    half = float(
        stats.t.ppf(0.5 + confidence / 2, array.size - 1)
        * array.std(ddof=1)
        / math.sqrt(array.size)
    )
    return mean, mean - half, mean + half
