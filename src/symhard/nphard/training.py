"""Gradient training of the degree-histogram GNN class on the reduction graphs.

The threshold units are relaxed to ``sigmoid(sharpness * score)`` and their AND to
the product of the two sigmoids, read as the probability of label +1 and trained
with binary cross-entropy and Adam. Only the readout is trained, because the
message-passing layer and the histogram have no parameters, so the histograms are
computed once. All restarts train in one batch. Adam updates each entry on its own
and the restarts' losses are summed, so each restart follows the same path as if
it were trained alone.

A run counts as successful only when the hard-threshold network labels every graph
correctly, which implies a valid split (see :func:`split_from_readout`).

NOTE: :func:`train_gradient` sets PyTorch to one intra-op thread while it trains
and restores the previous count afterwards. That setting is process-wide, so other
Python threads that use PyTorch at the same time run single-threaded too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from symhard._validation import (
    SeedLike,
    as_generator,
    check_float,
    check_int,
    torch_generator,
)
from symhard.nphard.gnn import N_UNITS, DegreeHistogramGNN
from symhard.nphard.instances import SetSplittingInstance, Split, is_valid_split
from symhard.nphard.reduction import ReductionGraphs, reduction_graphs
from symhard.nphard.solvers import brute_force_split, solve_milp, split_from_readout

logger = logging.getLogger(__name__)

_CHECK_EVERY = 10
_LOG_ONE_MINUS_CLAMP = -1e-6


@dataclass
class GradientResult:
    """The outcome of gradient training on one instance's graphs.

    Attributes
    ----------
    found : bool
        Whether some restart reached a readout that labels every graph correctly
        with hard thresholds.
    restarts : int
        Number of random initializations trained together.
    steps : int
        Adam steps taken before stopping (early when ``found``).
    best_accuracy : float
        Largest fraction of graphs labeled correctly by one restart, hard
        thresholds.
    split : tuple of int or None
        The split read from the consistent readout when ``found``.
    weight : ndarray of shape (2, max_degree)
        Readout weights of the best restart.
    threshold : ndarray of shape (2,)
        Readout thresholds of the best restart.
    seconds : float
        Wall-clock training time.
    """

    found: bool
    restarts: int
    steps: int
    best_accuracy: float
    split: Split | None
    weight: np.ndarray
    threshold: np.ndarray
    seconds: float


def train_gradient(
    graphs: ReductionGraphs,
    *,
    restarts: int = 8,
    steps: int = 500,
    learning_rate: float = 0.1,
    sharpness: float = 1.0,
    seed: SeedLike = None,
) -> GradientResult:
    """Train the relaxed GNN class with Adam from several random initializations.

    Parameters
    ----------
    graphs : ReductionGraphs
        Labeled graphs from :func:`symhard.nphard.reduction.reduction_graphs`.
    restarts : int, default=8
        Number of random initializations (weights and thresholds drawn from a
        standard normal distribution).
    steps : int, default=500
        Maximum number of Adam steps; training stops early once a restart is
        consistent.
    learning_rate : float, default=0.1
        Adam learning rate.
    sharpness : float, default=1.0
        Slope of the sigmoids that replace the threshold units.
    seed : int, numpy.random.Generator or None, default=None
        Source of the initializations.

    Returns
    -------
    GradientResult
    """
    restarts = check_int("restarts", restarts, low=1)
    steps = check_int("steps", steps, low=1)
    learning_rate = check_float("learning_rate", learning_rate, low=0.0, low_open=True)
    sharpness = check_float("sharpness", sharpness, low=0.0, low_open=True)
    generator = torch_generator(as_generator(seed))
    start = time.perf_counter()

    model = DegreeHistogramGNN(graphs.max_degree)
    with torch.no_grad():
        histograms = model.histogram(graphs.adj_tensor())
    features = histograms[:, 1:]
    positive = torch.as_tensor(graphs.y == 1)
    weight = torch.randn(restarts, N_UNITS, graphs.max_degree, generator=generator)
    threshold = torch.randn(restarts, N_UNITS, generator=generator)
    with _single_intra_op_thread():
        steps_taken = _adam_steps(
            features,
            positive,
            weight,
            threshold,
            steps=steps,
            learning_rate=learning_rate,
            sharpness=sharpness,
        )

    accuracy = _hard_correct(features, positive, weight, threshold).double().mean(1)
    best = int(torch.argmax(accuracy))
    best_weight = weight[best].double().numpy()
    best_threshold = threshold[best].double().numpy()
    split = None
    if accuracy[best] == 1.0:
        split = _consistent_split(graphs, best_weight, best_threshold)
    seconds = time.perf_counter() - start
    logger.debug(
        "gradient training: found=%s after %d steps, best accuracy %.3f",
        split is not None,
        steps_taken,
        float(accuracy[best]),
    )
    return GradientResult(
        found=split is not None,
        restarts=restarts,
        steps=steps_taken,
        best_accuracy=float(accuracy[best]),
        split=split,
        weight=best_weight,
        threshold=best_threshold,
        seconds=seconds,
    )


def _adam_steps(
    features: torch.Tensor,
    positive: torch.Tensor,
    weight: torch.Tensor,
    threshold: torch.Tensor,
    *,
    steps: int,
    learning_rate: float,
    sharpness: float,
) -> int:
    """Train ``weight`` and ``threshold`` in place and return the steps taken.

    Stops early at the first check (every 10 steps) where some restart labels
    every graph correctly with hard thresholds.
    """
    weight.requires_grad_()
    threshold.requires_grad_()
    optimizer = torch.optim.Adam([weight, threshold], lr=learning_rate)
    step = 0
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        scores = _scores(features, weight, threshold)
        log_both = F.logsigmoid(sharpness * scores).sum(dim=-1)
        log_not_both = torch.log(-torch.expm1(log_both.clamp(max=_LOG_ONE_MINUS_CLAMP)))
        loss = -torch.where(positive, log_both, log_not_both).mean(dim=1).sum()
        loss.backward()
        optimizer.step()
        if step % _CHECK_EVERY == 0 or step == steps:
            consistent = _hard_correct(features, positive, weight, threshold).all(1)
            if consistent.any():
                break
    weight.requires_grad_(False)
    threshold.requires_grad_(False)
    return step


@torch.no_grad()
def _hard_correct(
    features: torch.Tensor,
    positive: torch.Tensor,
    weight: torch.Tensor,
    threshold: torch.Tensor,
) -> torch.Tensor:
    """Return whether each restart labels each graph right, shape (restarts, batch)."""
    predicted = (_scores(features, weight, threshold) >= 0).all(dim=-1)
    return predicted == positive


def _scores(
    features: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor
) -> torch.Tensor:
    """Return unit scores of shape (restarts, batch, 2)."""
    return torch.einsum("bf,ruf->rbu", features, weight) - threshold[:, None, :]


@contextmanager
def _single_intra_op_thread() -> Iterator[None]:
    """Run the block with one PyTorch intra-op thread, then restore the count.

    The training tensors are tiny. With 2 threads on a 2-core machine that also
    ran two busy processes, 1000 Adam steps took 1.2 to 5.3 s instead of 0.55 s.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _consistent_split(
    graphs: ReductionGraphs, weight: np.ndarray, threshold: np.ndarray
) -> Split | None:
    """Check a readout with the module itself and return its split, or None.

    Training decides consistency from its own batched scores. This re-check runs
    :class:`DegreeHistogramGNN`, whose rounding can differ for scores within
    float32 precision of 0, so a borderline readout is rejected here.
    """
    model = DegreeHistogramGNN(graphs.max_degree)
    model.set_readout(torch.as_tensor(weight), torch.as_tensor(threshold))
    with torch.no_grad():
        labels = model(graphs.adj_tensor()).numpy()
    if not np.array_equal(labels, graphs.y):
        logger.warning("trained readout failed the re-check with the module")
        return None
    split = split_from_readout(
        graphs.histograms(), weight, threshold, n_elements=graphs.instance.n_elements
    )
    if not is_valid_split(graphs.instance, split):
        raise RuntimeError(
            f"a consistent readout gave the invalid split {split}; "
            "the reduction or split_from_readout is broken"
        )
    return split


def compare_gradient_training(
    instances: Sequence[SetSplittingInstance],
    *,
    restarts: int = 8,
    steps: int = 500,
    learning_rate: float = 0.1,
    sharpness: float = 1.0,
    seed: SeedLike = None,
) -> list[dict[str, Any]]:
    """Run brute force, the MILP and gradient training on each instance.

    Parameters
    ----------
    instances : sequence of SetSplittingInstance
        The instances.
    restarts, steps, learning_rate, sharpness
        Passed to :func:`train_gradient`.
    seed : int, numpy.random.Generator or None, default=None
        Source of the initializations, shared across instances in order.

    Returns
    -------
    list of dict
        One row per instance with keys ``n_elements``, ``n_sets``, ``satisfiable``
        (brute force), ``found_by_milp`` (a verified MILP solution),
        ``found_by_gradient``, ``gradient_accuracy`` (best fraction of graphs
        labeled right), ``gradient_steps``, ``gradient_seconds`` and
        ``milp_seconds``.
    """
    rng = as_generator(seed)
    rows = []
    for index, instance in enumerate(instances):
        exact = brute_force_split(instance)
        milp_result = solve_milp(instance)
        trained = train_gradient(
            reduction_graphs(instance),
            restarts=restarts,
            steps=steps,
            learning_rate=learning_rate,
            sharpness=sharpness,
            seed=rng,
        )
        rows.append(
            {
                "n_elements": instance.n_elements,
                "n_sets": instance.n_sets,
                "satisfiable": bool(exact.satisfiable),
                "found_by_milp": bool(milp_result.satisfiable and milp_result.verified),
                "found_by_gradient": trained.found,
                "gradient_accuracy": trained.best_accuracy,
                "gradient_steps": trained.steps,
                "gradient_seconds": trained.seconds,
                "milp_seconds": milp_result.seconds,
            }
        )
        logger.info(
            "instance %d/%d (d=%d, r=%d): satisfiable=%s, gradient found=%s",
            index + 1,
            len(instances),
            instance.n_elements,
            instance.n_sets,
            exact.satisfiable,
            trained.found,
        )
    return rows


def gradient_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Aggregate :func:`compare_gradient_training` rows by ``(n_elements, n_sets)``.

    Returns
    -------
    list of dict
        Keys ``n_elements``, ``n_sets``, ``instances``, ``satisfiable``,
        ``found_by_gradient``, ``found_by_milp`` and ``mean_gradient_accuracy``,
        sorted by size.
    """
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["n_elements"], row["n_sets"]), []).append(row)
    table = []
    for (n_elements, n_sets), group in sorted(groups.items()):
        table.append(
            {
                "n_elements": n_elements,
                "n_sets": n_sets,
                "instances": len(group),
                "satisfiable": sum(row["satisfiable"] for row in group),
                "found_by_gradient": sum(row["found_by_gradient"] for row in group),
                "found_by_milp": sum(row["found_by_milp"] for row in group),
                "mean_gradient_accuracy": float(
                    np.mean([row["gradient_accuracy"] for row in group])
                ),
            }
        )
    return table
