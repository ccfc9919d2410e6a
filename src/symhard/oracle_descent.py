"""Gradient descent that accesses the target only through a CSQ oracle.

For the square loss :math:`L = \\frac12 E[(h - f)^2]` the population gradient is

.. math:: \\nabla L = E[h \\nabla h] - E[f \\nabla h].

The first term does not involve the target and is computed exactly here. The
second is one correlational query per parameter, :math:`\\phi_j = \\partial h /
\\partial \\theta_j`, and comes from an oracle that counts every coordinate as one
query. The learner is a one-hidden-layer ReLU network without biases,
:math:`h(x) = \\sum_j a_j \\mathrm{ReLU}(\\langle w_j, x \\rangle)`, on Gaussian
inputs :math:`x \\sim N(0, I_n)`. Every expectation against a ReLU ridge-sum target
then has a closed form through the arc-cosine kernel

.. math:: \\kappa(u, v) = \\frac{1}{2\\pi}\\big(|u||v| \\sin t + (\\pi - t)
          \\langle u, v \\rangle\\big), \\qquad
          \\nabla_u \\kappa(u, v) = \\frac{1}{2\\pi}\\Big(|v| \\sin t
          \\frac{u}{|u|} + (\\pi - t) v\\Big),

with :math:`t` the angle between :math:`u` and :math:`v`, because
:math:`E[f \\partial h / \\partial a_j] = \\sum_i c_i \\kappa(w_j, v_i)` and
:math:`E[f \\partial h / \\partial w_j] = a_j \\sum_i c_i \\nabla_u \\kappa(w_j,
v_i)`. Three oracles answer the queries:

- ``"exact"``: the closed form (tolerance 0): population gradient descent.
- ``"adversarial"``: :class:`symhard.oracles.AdversarialOracle` on the exact one,
  which answers 0 whenever 0 is within ``tolerance`` of the true value. This is
  the oracle of the counting bound.
- ``"mini-batch"``: the mean of :math:`f(x) \\partial h / \\partial \\theta_j(x)`
  over ``batch_size`` fresh samples, all coordinates from one batch (ordinary
  mini-batch gradient descent for the target term). Its tolerance is a
  central-limit estimate.

The normalized error :math:`\\|h - f\\|^2 / \\|f\\|^2` is also exact (population),
from the same kernel.

Gradient queries are not bounded in [-1, 1] as the CSQ definition asks. The
adversarial oracle applies its tolerance to them as they are, which matches the
noise of a mini-batch of size ``1 / tolerance^2`` only when a query's standard
deviation is about 1. The mini-batch oracle states its own estimated tolerance per
answer, so the two can be compared in each run's history.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import (
    InvalidParameterError,
    SeedLike,
    as_generator,
    check_choice,
    check_float,
    check_int,
    invalid,
)
from symhard.bounds import (
    csq_query_lower_bound,
    format_count,
    gradient_run_region,
    log10_csq_query_lower_bound,
)
from symhard.jsonio import to_json
from symhard.oracles import (
    AdversarialOracle,
    OracleAnswer,
    StatisticalQueryOracle,
    clt_tolerance,
    exact_target,
)
from symhard.ridge import RidgeSum
from symhard.sections import ReportSection, save_figure_files
from symhard.training import interval_over_seeds

logger = logging.getLogger(__name__)

ORACLES = ("exact", "adversarial", "mini-batch")


# The learner ---------------------------------------------------------------------


@dataclass(eq=False)
class ReluNetwork:
    """A one-hidden-layer ReLU network without biases, in float64.

    :math:`h(x) = \\sum_j a_j \\mathrm{ReLU}(\\langle w_j, x \\rangle)`.

    Attributes
    ----------
    weights : ndarray of shape (width, n)
        Hidden weights :math:`w_j`, one per row.
    readout : ndarray of shape (width,)
        Output weights :math:`a_j`.

    Notes
    -----
    The flat parameter vector, of length ``width * (n + 1)``, contains the readout
    first and then the rows of ``weights``; query ``j`` is the partial derivative
    with respect to entry ``j``.
    """

    weights: np.ndarray
    readout: np.ndarray

    @classmethod
    def random(
        cls, n: int, width: int, *, init_scale: float = 1.0, seed: SeedLike = None
    ) -> ReluNetwork:
        """Draw a network with :math:`w_j \\sim N(0, I_n / n)`.

        The readout has :math:`a_j \\sim N(0, s^2 / \\mathrm{width})` with
        ``s = init_scale``.

        Examples
        --------
        >>> network = ReluNetwork.random(4, 3, seed=0)
        >>> network.weights.shape, network.n_parameters
        ((3, 4), 15)
        """
        n = check_int("n", n, low=1)
        width = check_int("width", width, low=1)
        init_scale = check_float("init_scale", init_scale, low=0.0)
        rng = as_generator(seed)
        weights = rng.standard_normal((width, n)) / math.sqrt(n)
        readout = rng.standard_normal(width) * init_scale / math.sqrt(width)
        return cls(weights, readout)

    @property
    def width(self) -> int:
        return self.weights.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.weights.shape[1]

    @property
    def n_parameters(self) -> int:
        return self.weights.size + self.readout.size

    def copy(self) -> ReluNetwork:
        return ReluNetwork(self.weights.copy(), self.readout.copy())

    def flat(self) -> np.ndarray:
        """Return the parameters as one vector of shape (n_parameters,)."""
        return np.concatenate([self.readout, self.weights.ravel()])

    def as_ridge(self) -> RidgeSum:
        return RidgeSum(self.weights, self.readout, "relu")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate on ``x`` of shape (num, n); returns shape (num,)."""
        return np.maximum(x @ self.weights.T, 0.0) @ self.readout

    def per_sample_gradients(self, x: np.ndarray) -> np.ndarray:
        """Return :math:`\\partial h(x_s) / \\partial \\theta_j` of shape (num, p).

        Closed form: :math:`\\mathrm{ReLU}(\\langle w_j, x \\rangle)` for
        :math:`a_j`, and :math:`a_j 1[\\langle w_j, x \\rangle > 0] x` for
        :math:`w_j`.
        """
        pre = x @ self.weights.T  # (num, width)
        readout_part = np.maximum(pre, 0.0)
        active = (pre > 0) * self.readout  # (num, width)
        weight_part = active[:, :, None] * x[:, None, :]  # (num, width, n)
        return np.concatenate([readout_part, weight_part.reshape(len(x), -1)], axis=1)


def relu_kernel_terms(
    u: np.ndarray, v: np.ndarray, coefficients: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return :math:`\\sum_i c_i \\kappa(u_j, v_i)` and its gradient in :math:`u_j`.

    Parameters
    ----------
    u : ndarray of shape (p, n)
    v : ndarray of shape (q, n)
    coefficients : ndarray of shape (q,)

    Returns
    -------
    values : ndarray of shape (p,)
        :math:`E[\\mathrm{ReLU}(\\langle u_j, x \\rangle) g(x)]` for the ridge sum
        :math:`g = \\sum_i c_i \\mathrm{ReLU}(\\langle v_i, x \\rangle)`.
    gradients : ndarray of shape (p, n)
        :math:`E[1[\\langle u_j, x \\rangle > 0]\\, x\\, g(x)]`, the gradient of
        ``values[j]`` in :math:`u_j`.
    """
    norm_u = np.linalg.norm(u, axis=1)
    norm_v = np.linalg.norm(v, axis=1)
    dot = u @ v.T
    outer = np.multiply.outer(norm_u, norm_v)
    safe_outer = np.where(outer > 0, outer, 1.0)
    cosine = np.clip(np.where(outer > 0, dot / safe_outer, 0.0), -1.0, 1.0)
    angle = np.arccos(cosine)
    sine = np.sqrt(1.0 - cosine**2)
    values = ((outer * sine + (np.pi - angle) * dot) @ coefficients) / (2 * np.pi)
    # A zero row u_j has no direction; its radial term is dropped (a subgradient).
    direction = u / np.where(norm_u > 0, norm_u, 1.0)[:, None]
    radial = (sine * norm_v) @ coefficients  # (p,)
    gradients = (radial[:, None] * direction + ((np.pi - angle) * coefficients) @ v) / (
        2 * np.pi
    )
    return values, gradients


# Queries and oracles -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GradientQuery:
    """The CSQ query :math:`\\phi_j(x) = \\partial h(x) / \\partial \\theta_j`.

    Attributes
    ----------
    network : ReluNetwork
        The network at the step the query is asked (not copied).
    index : int
        Position ``j`` in the flat parameter vector.
    """

    network: ReluNetwork
    index: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate on ``x`` of shape (num, n); returns shape (num,)."""
        return self.network.per_sample_gradients(x)[:, self.index]


class GradientQueries(Sequence[GradientQuery]):
    """All ``p`` gradient queries of one step, as a sequence oracles answer at once.

    Parameters
    ----------
    network : ReluNetwork
        The network at this step (not copied).
    """

    def __init__(self, network: ReluNetwork) -> None:
        self.network = network

    def __len__(self) -> int:
        return self.network.n_parameters

    def __getitem__(self, index: int) -> GradientQuery:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return GradientQuery(self.network, index)

    def __iter__(self) -> Iterator[GradientQuery]:
        return (GradientQuery(self.network, j) for j in range(len(self)))


# NOTE: symhard.oracles answers RidgeSum queries exactly, but a gradient query
# 1[<w_j, x> > 0] a_j x_l is not a ridge sum, and its EmpiricalCSQOracle rejects
# unbounded queries. The two oracles below fill that gap on the same base class,
# and the adversarial rule is reused from symhard.oracles.AdversarialOracle.
class ExactGradientOracle(StatisticalQueryOracle):
    """Answer gradient queries exactly against a ReLU ridge-sum target.

    Each query :math:`E[f \\partial h / \\partial \\theta_j]` has a closed form
    (:func:`relu_kernel_terms`). :meth:`answer_many` computes a whole
    :class:`GradientQueries` batch with one kernel evaluation and counts ``p``
    queries.

    Parameters
    ----------
    target : RidgeSum
        The target ``f``, with ReLU activation.
    """

    kind = "csq"

    def __init__(self, target: RidgeSum) -> None:
        super().__init__()
        if not isinstance(target, RidgeSum) or target.activation != "relu":
            raise invalid("target", "a RidgeSum with activation relu", target)
        self.target = target

    def answer(self, phi: GradientQuery) -> OracleAnswer:
        return self.answer_many([phi])[0]

    def answer_many(self, phis: Sequence[GradientQuery]) -> list[OracleAnswer]:
        values = self.correlations(phis)
        self.queries += len(values)
        return [OracleAnswer(float(v), 0.0, "exact", True) for v in values]

    def correlations(self, phis: Sequence[GradientQuery]) -> np.ndarray:
        """Return the exact answers to ``phis`` as an array, counting nothing."""
        network = _batch_network(phis)
        readout_part, weight_part = relu_kernel_terms(
            network.weights, self.target.weights, self.target.coefficients
        )
        weight_part = weight_part * network.readout[:, None]
        values = np.concatenate([readout_part, weight_part.ravel()])
        return values[_batch_indices(phis)]


class MiniBatchGradientOracle(StatisticalQueryOracle):
    """Answer gradient queries by the mean over ``batch_size`` fresh samples.

    All queries of one :meth:`answer_many` call share one batch, as in a
    mini-batch gradient. The stated tolerance of each answer is the central-limit
    estimate of its half-width at ``confidence`` (an estimate, not a guarantee).

    Parameters
    ----------
    target : RidgeSum
        The target; samples are :math:`x \\sim N(0, I_n)` and :math:`y = f(x)`.
    batch_size : int
        Samples per call, >= 2.
    confidence : float, default=0.95
    seed : int, numpy Generator or None, default=None
    """

    kind = "csq"

    def __init__(
        self,
        target: RidgeSum,
        *,
        batch_size: int,
        confidence: float = 0.95,
        seed: SeedLike = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.batch_size = check_int("batch_size", batch_size, low=2)
        self.confidence = check_float(
            "confidence", confidence, low=0.0, high=1.0, low_open=True
        )
        self._rng = as_generator(seed)

    @property
    def n_samples(self) -> int:
        return self.batch_size

    def answer(self, phi: GradientQuery) -> OracleAnswer:
        return self.answer_many([phi])[0]

    def answer_many(self, phis: Sequence[GradientQuery]) -> list[OracleAnswer]:
        network = _batch_network(phis)
        x = self._rng.standard_normal((self.batch_size, network.n_inputs))
        y = self.target(x)
        products = network.per_sample_gradients(x)[:, _batch_indices(phis)]
        products *= y[:, None]
        tolerances = clt_tolerance(products, self.confidence)
        self.samples += self.batch_size
        self.queries += products.shape[1]
        return [
            OracleAnswer(float(value), float(half), "clt-estimate", False)
            for value, half in zip(products.mean(axis=0), tolerances, strict=True)
        ]


def _batch_network(phis: Sequence[GradientQuery]) -> ReluNetwork:
    if isinstance(phis, GradientQueries):
        return phis.network
    if len(phis) == 0:
        raise invalid("phis", "at least one GradientQuery", phis)
    network = phis[0].network
    if any(phi.network is not network for phi in phis):
        raise invalid("phis", "GradientQuery objects of one network", phis)
    return network


def _batch_indices(phis: Sequence[GradientQuery]) -> np.ndarray | slice:
    if isinstance(phis, GradientQueries):
        return slice(None)
    return np.array([phi.index for phi in phis], dtype=np.int64)


def make_gradient_oracle(
    target: RidgeSum,
    oracle: str,
    *,
    tolerance: float | None = None,
    batch_size: int | None = None,
    seed: SeedLike = None,
) -> StatisticalQueryOracle:
    """Build the oracle ``oracle`` (one of ``ORACLES``) for ``target``.

    ``"adversarial"`` needs ``tolerance`` and ``"mini-batch"`` needs
    ``batch_size``.
    """
    oracle = check_choice("oracle", oracle, ORACLES)
    if oracle == "exact":
        return ExactGradientOracle(target)
    if oracle == "adversarial":
        if tolerance is None:
            raise invalid("tolerance", "a number > 0 for the adversarial oracle", None)
        return AdversarialOracle(ExactGradientOracle(target), tolerance=tolerance)
    if batch_size is None:
        raise invalid("batch_size", "an integer >= 2 for the mini-batch oracle", None)
    return MiniBatchGradientOracle(target, batch_size=batch_size, seed=seed)


# Descent -------------------------------------------------------------------------


@dataclass
class DescentResult:
    """The trajectory of one run of :func:`oracle_descent`.

    Attributes
    ----------
    oracle : str
    history : list of dict
        One row per evaluation: ``step``, ``nmse`` (exact population value),
        ``queries`` (cumulative), ``zero_answers`` (cumulative; adversarial only),
        ``samples`` (cumulative) and ``stated_tolerance`` (median over the
        step's answers of the tolerance the oracle states; None at step 0).
    n_parameters : int
    final_nmse : float
    seconds : float
    """

    oracle: str
    history: list[dict[str, float | None]] = field(default_factory=list)
    n_parameters: int = 0
    final_nmse: float = math.nan
    seconds: float = 0.0


def exact_nmse(network: ReluNetwork, target: RidgeSum, target_norm_sq: float) -> float:
    """Return :math:`\\|h - f\\|^2 / \\|f\\|^2` exactly (population, no sampling)."""
    hidden = network.as_ridge()
    error = hidden.norm_sq() - 2 * hidden.inner(target) + target_norm_sq
    return max(error, 0.0) / target_norm_sq


def oracle_descent(
    network: ReluNetwork,
    target: RidgeSum,
    oracle: StatisticalQueryOracle,
    *,
    steps: int,
    learning_rate: float,
    eval_every: int = 10,
    name: str = "",
) -> DescentResult:
    """Run gradient descent whose target term comes from ``oracle``.

    Each step asks the ``p`` queries :math:`E[f \\partial h / \\partial
    \\theta_j]` in one batch, adds the exact target-free term :math:`E[h \\nabla
    h]` and takes the step :math:`\\theta \\leftarrow \\theta - \\eta (E[h \\nabla
    h] - \\text{answers})`.

    Parameters
    ----------
    network : ReluNetwork
        Initial network; trained in place.
    target : RidgeSum
        The target, used only for the exact error in ``history`` (the updates see
        it only through ``oracle``).
    oracle : StatisticalQueryOracle
        Answers :class:`GradientQueries`; see :func:`make_gradient_oracle`.
    steps : int
    learning_rate : float
    eval_every : int, default=10
    name : str, default=""
        Label stored in the result.

    Returns
    -------
    DescentResult
    """
    steps = check_int("steps", steps, low=1)
    learning_rate = check_float("learning_rate", learning_rate, low=0.0, low_open=True)
    eval_every = check_int("eval_every", eval_every, low=1)
    target_norm_sq = target.norm_sq()
    result = DescentResult(name, n_parameters=network.n_parameters)
    start = time.perf_counter()
    first_row = _history_row(0, network, target, target_norm_sq, oracle)
    result.history.append({**first_row, "stated_tolerance": None})
    # Overflow is reported as a divergence below, not as a NumPy warning.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            answers = oracle.answer_many(GradientQueries(network))
            values = np.fromiter((a.value for a in answers), float, len(answers))
            gradient = _target_free_gradient(network) - values
            if not np.all(np.isfinite(gradient)):
                raise _divergence(step, learning_rate)
            width = network.width
            network.readout -= learning_rate * gradient[:width]
            network.weights -= learning_rate * gradient[width:].reshape(
                network.weights.shape
            )
            if step % eval_every == 0 or step == steps:
                row = _history_row(step, network, target, target_norm_sq, oracle)
                if not math.isfinite(row["nmse"]):
                    raise _divergence(step, learning_rate)
                tolerances = [answer.tolerance for answer in answers]
                row["stated_tolerance"] = float(np.median(tolerances))
                result.history.append(row)
    result.seconds = time.perf_counter() - start
    result.final_nmse = result.history[-1]["nmse"]
    logger.debug("oracle descent %s: final nmse %.4f", name, result.final_nmse)
    return result


def _divergence(step: int, learning_rate: float) -> InvalidParameterError:
    return InvalidParameterError(
        f"invalid value for 'learning_rate': descent diverged at step {step} with "
        f"learning_rate={learning_rate:g}; use a smaller one"
    )


def _target_free_gradient(network: ReluNetwork) -> np.ndarray:
    # E[h dh/da_j] = sum_l a_l kappa(w_j, w_l); E[h dh/dw_j] = a_j sum_l a_l
    # grad_u kappa(w_j, w_l).
    values, gradients = relu_kernel_terms(
        network.weights, network.weights, network.readout
    )
    return np.concatenate([values, (gradients * network.readout[:, None]).ravel()])


def _history_row(
    step: int,
    network: ReluNetwork,
    target: RidgeSum,
    target_norm_sq: float,
    oracle: StatisticalQueryOracle,
) -> dict[str, float]:
    return {
        "step": step,
        "nmse": exact_nmse(network, target, target_norm_sq),
        "queries": oracle.queries,
        "zero_answers": getattr(oracle, "zero_answers", 0),
        "samples": oracle.samples,
    }


# The experiment of the report ----------------------------------------------------

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "sizes": [
            {"label": "learnable", "n": 8, "k": 2, "steps": 500},
            {"label": "hard", "n": 16, "k": 4, "steps": 300},
        ],
        "seeds": 1,
        "width": 32,
        "batch_size": 100,
        "learning_rate": 0.2,
        "eval_every": 10,
    },
    "paper": {
        "sizes": [
            {"label": "learnable", "n": 8, "k": 2, "steps": 3000},
            {"label": "hard", "n": 16, "k": 4, "steps": 3000},
            {"label": "hard", "n": 32, "k": 4, "steps": 3000},
        ],
        "seeds": 5,
        "width": 32,
        "batch_size": 100,
        "learning_rate": 0.2,
        "eval_every": 25,
    },
}
"""Sizes and budgets of the oracle-descent experiment per report profile.

Every size is a ``parity-relu`` member under the cyclic group. The adversarial
oracle's tolerance is ``1 / sqrt(batch_size)``, the tolerance the mini-batch
oracle has in the gradient argument, so the two are compared at one tolerance.
"""


@dataclass
class SizeRuns:
    """All runs on one family size: one result per oracle and seed."""

    label: str
    family: Any
    member: tuple[int, ...]
    results: dict[str, list[DescentResult]]


def run_oracle_experiment(
    settings: dict[str, Any], *, seed: SeedLike = None
) -> list[SizeRuns]:
    """Run every oracle on every size of ``settings`` (an entry of ``PROFILES``).

    Within one seed all oracles start from the same network.
    """
    from symhard.families import make_family

    rng = as_generator(seed)
    tolerance = 1 / math.sqrt(settings["batch_size"])
    runs = []
    for size in settings["sizes"]:
        family = make_family(
            "parity-relu", {"n": size["n"], "k": size["k"], "group": "cyclic"}
        )
        member = family.random_member(rng)
        target = exact_target(family, member)
        results: dict[str, list[DescentResult]] = {name: [] for name in ORACLES}
        for _ in range(settings["seeds"]):
            initial = ReluNetwork.random(size["n"], settings["width"], seed=rng)
            for name in ORACLES:
                oracle = make_gradient_oracle(
                    target,
                    name,
                    tolerance=tolerance,
                    batch_size=settings["batch_size"],
                    seed=rng,
                )
                result = oracle_descent(
                    initial.copy(),
                    target,
                    oracle,
                    steps=size["steps"],
                    learning_rate=settings["learning_rate"],
                    eval_every=settings["eval_every"],
                    name=name,
                )
                results[name].append(result)
                logger.info(
                    "oracle descent n=%d k=%d %s: nmse %.4f after %d steps (%.1f s)",
                    size["n"],
                    size["k"],
                    name,
                    result.final_nmse,
                    size["steps"],
                    result.seconds,
                )
        runs.append(SizeRuns(size["label"], family, member, results))
    return runs


def oracle_rows(
    runs: Sequence[SizeRuns], settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """Summarize the runs: one row per size and oracle, final NMSE over seeds."""
    tolerance = 1 / math.sqrt(settings["batch_size"])
    rows = []
    for size_runs in runs:
        family = size_runs.family
        gamma = family.correlation().gamma
        for name, results in size_runs.results.items():
            first = results[0]
            mean, low, high = interval_over_seeds([r.final_nmse for r in results])
            last = first.history[-1]
            region = gradient_run_region(
                first.n_parameters,
                settings["batch_size"],
                int(last["step"]),
                family_size=family.family_size,
                gamma=gamma,
            )
            rows.append(
                {
                    "experiment": "oracle-descent",
                    "setting": size_runs.label,
                    "family": family.name,
                    "n": family.n,
                    "k": family.k,
                    "group": family.group.name,
                    "member": list(size_runs.member),
                    "family_size": family.family_size,
                    "oracle": name,
                    "tolerance": 0.0 if name == "exact" else tolerance,
                    "batch_size": settings["batch_size"]
                    if name == "mini-batch"
                    else None,
                    "median_stated_tolerance": last["stated_tolerance"],
                    "width": settings["width"],
                    "n_parameters": first.n_parameters,
                    "steps": int(last["step"]),
                    "learning_rate": settings["learning_rate"],
                    "seeds": len(results),
                    "queries_per_run": int(last["queries"]),
                    "zero_answers_per_run": int(last["zero_answers"]),
                    "samples_per_run": int(last["samples"]),
                    "initial_nmse": first.history[0]["nmse"],
                    "final_nmse": mean,
                    "final_nmse_low": low,
                    "final_nmse_high": high,
                    "nmse_method": "exact population value (arc-cosine kernel)",
                    "log10_csq_bound": log10_csq_query_lower_bound(
                        family.family_size, gamma, tolerance
                    ),
                    "in_forbidden_region": region.forbidden,
                }
            )
    return rows


_ORACLE_STYLES = {
    "exact": ("exact oracle (population gradient)", "tab:blue"),
    "adversarial": ("adversarial oracle (0 when within tolerance)", "tab:red"),
    "mini-batch": ("mini-batch oracle (estimated, fresh samples)", "tab:green"),
}


def plot_oracle_descent(
    runs: Sequence[SizeRuns],
    path_stem: str | Path,
    *,
    tolerance: float,
    reference_bounds: Sequence[tuple[str, float]] = (),
) -> list[Path]:
    """Plot NMSE against step per size and oracle, and the query count.

    Parameters
    ----------
    runs : sequence of SizeRuns
    path_stem : str or Path
        Output path without suffix; ``.png`` and ``.svg`` are written.
    tolerance : float
        Tolerance of the adversarial oracle, shown in the titles.
    reference_bounds : sequence of (str, float), default=()
        Further query bounds drawn as dotted lines on the query panel, with their
        legend labels.

    Returns
    -------
    list of Path
        The PNG and the SVG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    panels = len(runs) + 1
    figure, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.0))
    for axis, size_runs in zip(axes[:-1], runs, strict=True):
        for name, results in size_runs.results.items():
            label, color = _ORACLE_STYLES[name]
            steps = [row["step"] for row in results[0].history]
            curves = np.array([[row["nmse"] for row in r.history] for r in results])
            axis.plot(steps, curves.mean(axis=0), color=color, label=label)
            if len(results) > 1:
                axis.fill_between(
                    steps,
                    curves.min(axis=0),
                    curves.max(axis=0),
                    color=color,
                    alpha=0.2,
                )
        axis.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        family = size_runs.family
        axis.set_title(
            f"{size_runs.label}: parity-relu n={family.n}, k={family.k}, cyclic",
            fontsize=9,
        )
        axis.set_xlabel("step")
        axis.set_ylabel("normalized MSE (exact)")
        axis.set_ylim(0.0, max(1.8, axis.get_ylim()[1]))
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)

    query_axis = axes[-1]
    for size_runs in runs:
        history = size_runs.results["exact"][0].history
        family = size_runs.family
        line = query_axis.plot(
            [row["step"] for row in history],
            [max(row["queries"], 1) for row in history],
            label=f"queries asked, n={family.n}, k={family.k}",
        )[0]
        bound = csq_query_lower_bound(
            family.family_size, family.correlation().gamma, tolerance
        )
        if bound > 0:
            query_axis.axhline(
                bound,
                color=line.get_color(),
                linestyle="--",
                label=f"CSQ bound at tau={tolerance:g}, m={family.family_size}",
            )
    for label, value in reference_bounds:
        query_axis.axhline(value, color="black", linestyle=":", label=label)
    query_axis.set_yscale("log")
    query_axis.set_xlabel("step")
    query_axis.set_ylabel("cumulative queries (p per step)")
    query_axis.set_title("query count", fontsize=9)
    query_axis.legend(fontsize=7)
    query_axis.grid(True, alpha=0.3)
    figure.suptitle(
        f"Gradient descent through a CSQ oracle, tolerance {tolerance:g}", fontsize=10
    )
    figure.tight_layout()
    paths = save_figure_files(figure, path_stem, dpi=120)
    plt.close(figure)
    return paths


# The report section ----------------------------------------------------------------

# Sizes shown per bound curve in the section's table (all rows go to the summary).
_BOUND_TABLE_POINTS = 3


def csq_section(run_dir: str | Path, *, profile: str, seed: int) -> ReportSection:
    """Build the report section on certified bounds and descent through an oracle.

    Parameters
    ----------
    run_dir : str or Path
        Run directory; figures go to ``run_dir / "figures"`` and the raw rows to
        ``run_dir / "csq"``.
    profile : str
        ``"quick"`` or ``"paper"``; see :data:`PROFILES`.
    seed : int
        Seed of the members, initializations and mini-batches.

    Returns
    -------
    ReportSection
        The bound figure, the oracle-descent figure, two tables, and summary rows
        with ``experiment`` equal to ``"bound"`` or ``"oracle-descent"``.
    """
    from symhard.bound_commands import bound_figure

    profile = check_choice("profile", profile, PROFILES)
    settings = PROFILES[profile]
    run_dir = Path(run_dir)
    tolerance = 1 / math.sqrt(settings["batch_size"])
    start = time.perf_counter()

    bounds = bound_figure(
        run_dir / "figures" / "csq_bounds", tolerance=tolerance, profile=profile
    )
    runs = run_oracle_experiment(settings, seed=seed)
    region = _large_run_region(settings)
    descent_figure = plot_oracle_descent(
        runs,
        run_dir / "figures" / "oracle_descent",
        tolerance=tolerance,
        reference_bounds=[
            (
                f"CSQ bound, n=1024, k=10 (m {format_count(region.family_size)})",
                region.queries_needed,
            )
        ],
    )
    descent_rows = oracle_rows(runs, settings)
    bound_rows = _bound_summary_rows(bounds.curves)
    seconds = time.perf_counter() - start

    raw_dir = run_dir / "csq"
    raw_dir.mkdir(parents=True, exist_ok=True)
    _write_json(raw_dir / "bounds.json", bound_rows)
    _write_json(raw_dir / "oracle_descent.json", descent_rows)
    _write_json(raw_dir / "histories.json", _histories(runs))

    markdown = "\n\n".join(
        [
            _bound_text(tolerance),
            _bound_table(bounds.curves),
            _descent_text(settings, tolerance, profile, seed),
            _descent_table(descent_rows),
            f"Where the bound bites: {region.verdict}",
            f"Both parts took {seconds:.1f} s.",
        ]
    )
    return ReportSection(
        title="Certified CSQ lower bounds and gradient descent through an oracle",
        markdown=markdown,
        figures=[bounds.paths[0], descent_figure[0]],
        summary_rows=[
            {"profile": profile, "seed": seed, **row}
            for row in bound_rows + descent_rows
        ],
    )


def _bound_summary_rows(curves: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for curve in curves:
        for row in curve.rows:
            rows.append(
                {
                    "experiment": "bound",
                    "family": curve.family,
                    "size": row["params"][curve.size_parameter],
                    "family_size": row["family_size"],
                    "gamma": row["gamma"],
                    "method": row["gamma_method"],
                    "log10_queries": row["log10_queries_lower_bound"],
                    "gamma_interval": row["gamma_interval"],
                    "tolerance": row["tolerance"],
                    "size_parameter": curve.size_parameter,
                    "params": row["params"],
                    "curve": curve.label,
                }
            )
    return rows


def _large_run_region(settings: dict[str, Any]) -> Any:
    # The same learner on a size where the count is large: parity-relu under C_n
    # with n = 1024 and k = 10 (log2 n), trained for 10^4 steps.
    from symhard.families import make_family

    family = make_family("parity-relu", {"n": 1024, "k": 10, "group": "cyclic"})
    return gradient_run_region(
        settings["width"] * (family.n + 1),
        settings["batch_size"],
        10_000,
        family_size=family.family_size,
        gamma=family.correlation().gamma,
    )


def _bound_text(tolerance: float) -> str:
    return (
        "A CSQ learner that reaches squared error below (1 - gamma)/2 on every "
        "member of a family of m unit-norm functions with pairwise |correlation| "
        "<= gamma needs at least q >= (m - 2) tau^2 / (1 + (m - 1) gamma) queries "
        f"of tolerance tau. The figure plots log10 q at tau = {tolerance:g} "
        "against the size parameter. Family sizes are exact integers, and gamma is "
        "exact or the upper end of a 95% Monte Carlo interval, as the method "
        "column says. The dashed degree-parity line is (m - 2) tau^2, the value "
        "with gamma = 0: the Monte Carlo gamma cannot certify more than about "
        "tau^2 / gamma, so the certified curve stays flat. Subspace-relu's family "
        "size M (planes) is free: each point uses the M in d, 2d, 4d, ... with the "
        "largest certified bound, which is then near tau^2 / gamma."
    )


def _bound_table(curves: Sequence[Any]) -> str:
    lines = [
        "| curve | size | family size m (exact) | gamma | method | log10 q |",
        "|---|---|---|---|---|---|",
    ]
    for curve in curves:
        rows = curve.rows
        picks = sorted({0, len(rows) // 2, len(rows) - 1})[:_BOUND_TABLE_POINTS]
        for index in picks:
            row = rows[index]
            lines.append(
                f"| {curve.label} | {curve.size_parameter}="
                f"{row['params'][curve.size_parameter]} | "
                f"{format_count(row['family_size'])} | {row['gamma']:.3g} | "
                f"{row['gamma_method']} | {row['log10_queries_lower_bound']:.2f} |"
            )
    return "\n".join(lines)


def _descent_text(
    settings: dict[str, Any], tolerance: float, profile: str, seed: int
) -> str:
    return (
        "Gradient descent on a one-hidden-layer ReLU network (width "
        f"{settings['width']}, no biases) with the square loss, learning rate "
        f"{settings['learning_rate']:g}, on a random parity-relu member under the "
        "cyclic group. The target-free term E[h grad h] is exact (arc-cosine "
        "kernel). The target term E[f grad h] is one CSQ query per parameter, "
        "answered by the exact oracle, by the adversarial oracle at tolerance "
        f"{tolerance:g} = 1/sqrt({settings['batch_size']}), which answers 0 "
        "whenever 0 is within tolerance, or by a mini-batch of "
        f"{settings['batch_size']} fresh samples (estimated). The error is the "
        "exact population normalized MSE ||h - f||^2 / ||f||^2, where 1 means "
        f"nothing was learned. Profile '{profile}', seed {seed}, "
        f"{settings['seeds']} initialization(s) per size. When there are several, "
        "the table shows the mean and a 95% Student-t interval over them. The "
        "stated tolerance of the mini-batch oracle is the median central-limit "
        "half-width over the last step's answers: gradient queries are not scaled "
        "to [-1, 1], so it can be far below 1/sqrt(b) once the network is small."
    )


def _descent_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| setting | n | k | m | oracle | stated tolerance (median) | p | steps | "
        "queries | answers 0 | final NMSE (exact) | forbidden region |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        nmse = f"{row['final_nmse']:.3f}"
        if row["seeds"] > 1:
            nmse += f" [{row['final_nmse_low']:.3f}, {row['final_nmse_high']:.3f}]"
        lines.append(
            f"| {row['setting']} | {row['n']} | {row['k']} | {row['family_size']} | "
            f"{row['oracle']} | {_stated_tolerance_text(row)} | "
            f"{row['n_parameters']} | {row['steps']} | "
            f"{row['queries_per_run']} | {row['zero_answers_per_run']} | {nmse} | "
            f"{'yes' if row['in_forbidden_region'] else 'no'} |"
        )
    return "\n".join(lines)


def _stated_tolerance_text(row: dict[str, Any]) -> str:
    if row["oracle"] == "mini-batch":
        return f"{row['median_stated_tolerance']:.3g} (estimated, last step)"
    return f"{row['median_stated_tolerance']:g}"


def _histories(runs: Sequence[SizeRuns]) -> list[dict[str, Any]]:
    return [
        {
            "setting": size_runs.label,
            "n": size_runs.family.n,
            "k": size_runs.family.k,
            "member": list(size_runs.member),
            "oracle": name,
            "seed_index": index,
            "history": result.history,
        }
        for size_runs in runs
        for name, results in size_runs.results.items()
        for index, result in enumerate(results)
    ]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(to_json(data) + "\n")
