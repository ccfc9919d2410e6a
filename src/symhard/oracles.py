"""Statistical-query oracles: exact, empirical and adversarial, CSQ and SQ.

A **CSQ oracle** takes a query :math:`\\phi: X \\to [-1, 1]` and returns a number
within its tolerance of :math:`E[\\phi(x) f(x)]`. An **SQ oracle** takes
:math:`\\phi: X \\times Y \\to [-1, 1]` and returns a number within its tolerance of
:math:`E[\\phi(x, f(x))]`. Every oracle counts the queries it answered
(``queries``) and the samples it drew (``samples``), so an algorithm that runs
through an oracle reports its cost in the units of the lower bounds.

Three kinds of oracle:

- :class:`ExactCSQOracle` and :class:`ExactSQOracle` return exact expectations for
  queries whose expectation has a closed form: a :class:`~symhard.ridge.RidgeSum`
  query against a ridge-sum target (``RidgeSum.inner``), a
  :class:`~symhard.families.invariant_monomial.MultilinearPolynomial` query against
  a polynomial target, and the SQ learner's :class:`SquaredLabelQuery` and
  :class:`CorrelationQuery`.
- :class:`EmpiricalCSQOracle` and :class:`EmpiricalSQOracle` average the query over
  samples, either fresh for every call or one fixed set, and state the tolerance
  that a confidence level gives (see :class:`Query` for the rules).
- :class:`AdversarialOracle` returns 0 whenever 0 is within its tolerance of the
  true value, and the true value otherwise. This is the oracle behind the counting
  bound of :mod:`symhard.bounds`: against a family of nearly orthogonal members it
  reveals almost nothing.

Gradient descent as a CSQ algorithm
-----------------------------------
For the square loss the population gradient is
:math:`E[h \\nabla h] - E[f \\nabla h]`, and only the second term involves the
target: one CSQ query :math:`\\phi_j = \\partial h / \\partial \\theta_j` per
parameter. :meth:`StatisticalQueryOracle.answer_many` answers such a list of
queries from one set of samples, as one mini-batch gradient does.

Examples
--------
>>> from symhard.families.invariant_monomial import InvariantMonomial
>>> family = InvariantMonomial(n=8, k=2, group="cyclic")
>>> target = family.member_polynomial((0, 3))
>>> oracle = ExactSQOracle(target)
>>> round(oracle.query(SquaredLabelQuery([0])), 12)  # 2 * 2 / 8
0.5
>>> oracle.queries, oracle.samples
(1, 0)
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.stats

from symhard._validation import (
    InvalidParameterError,
    SeedLike,
    as_generator,
    check_choice,
    check_float,
    check_int,
    invalid,
)
from symhard.families.base import HardFamily
from symhard.families.invariant_monomial import MultilinearPolynomial
from symhard.ridge import RidgeSum

__all__ = [
    "AdversarialOracle",
    "CorrelationQuery",
    "EmpiricalCSQOracle",
    "EmpiricalSQOracle",
    "ExactCSQOracle",
    "ExactSQOracle",
    "SquaredLabelQuery",
    "OracleAnswer",
    "Query",
    "StatisticalQueryOracle",
    "check_confidence",
    "clipped_square_moments",
    "clt_tolerance",
    "exact_correlation",
    "exact_expectation",
    "family_sampler",
    "hoeffding_tolerance",
    "make_oracle",
]

# A sampler draws ``num`` labeled samples: ``sampler(num, rng) -> (x, y)`` with
# ``y`` of shape (num,) and ``x`` what the queries take (shape (num, n) for the
# Gaussian families).
Sampler = Callable[[int, np.random.Generator], tuple[Any, np.ndarray]]

ORACLE_KINDS = ("csq", "sq")
ORACLE_NAMES = ("exact", "empirical", "adversarial")
TOLERANCE_METHODS = ("guaranteed", "clt")
# Minimum number of samples for a central-limit tolerance (the usual rule of
# thumb). With fewer samples the tolerance is infinite.
MIN_CLT_SAMPLES = 30


# Queries -----------------------------------------------------------------------


class Query:
    """A query function with the value range that the empirical oracles rely on.

    An empirical oracle truncates the values to ``[-bound, bound]`` and states the
    Hoeffding tolerance for that range plus ``tail_bias``. With ``tail_bias=0`` the
    function must stay inside the range, and the oracle raises if a sample leaves
    it. Pass a positive ``tail_bias`` for an unbounded function: it must be an upper
    bound on :math:`E|\\phi - \\mathrm{clip}(\\phi, -B, B)|`, the bias that the
    truncation adds. For a second moment bound :math:`E[\\phi^2] \\le M`,
    :math:`M / (4B)` is such a bound because :math:`(|z| - B)_+ \\le z^2 / (4B)`.
    With ``bound=None`` nothing is truncated, and the oracle states a
    central-limit estimate of the tolerance instead of a guarantee.

    Parameters
    ----------
    function : callable
        For a CSQ oracle ``function(x)``, for an SQ oracle ``function(x, y)``;
        returns an array of shape (num,).
    bound : float or None, default=1.0
        Truncation level ``B`` > 0, or None for no truncation.
    tail_bias : float, default=0.0
        Upper bound on the truncation bias, >= 0.
    """

    def __init__(
        self,
        function: Callable[..., np.ndarray],
        *,
        bound: float | None = 1.0,
        tail_bias: float = 0.0,
    ) -> None:
        if not callable(function):
            raise TypeError(f"query function must be callable, got {function!r}")
        self.function = function
        self.bound = (
            None
            if bound is None
            else check_float("bound", bound, low=0.0, low_open=True)
        )
        self.tail_bias = check_float("tail_bias", tail_bias, low=0.0)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.function!r}, bound={self.bound}, "
            f"tail_bias={self.tail_bias})"
        )

    def __call__(self, *arrays: Any) -> np.ndarray:
        return np.asarray(self.function(*arrays), dtype=np.float64)


class SquaredLabelQuery(Query):
    """The SQ query :math:`\\phi_T(x, y) = y^2 \\prod_{i \\in T} g(x_i)`.

    Without ``clip``, :math:`g(t) = t^2 - 1`, the second Hermite polynomial. With
    ``clip`` ``c``, :math:`g(t) = \\min(t^2, c) - E[\\min(z^2, c)]`, which has the
    same structure but lighter tails. Both are even with :math:`E[g(z)] = 0`, so for
    a multilinear target :math:`p = \\sum_S c_S x^S` every cross term of
    :math:`p^2` keeps one coordinate with an odd power and vanishes, and

    .. math:: E[\\phi_T] = a^{|T|} \\sum_{S \\supseteq T} c_S^2,
              \\qquad a = E[z^2 g(z)]

    (``a = 2`` without clipping): positive exactly when ``T`` lies inside a
    monomial of ``p``. The values are unbounded and heavy-tailed, so empirical
    oracles state a central-limit estimate of the tolerance (``bound=None``).

    Parameters
    ----------
    subset : sequence of int
        The set ``T`` of coordinates.
    clip : float or None, default=None
        Clipping level ``c`` > 0 of :math:`t^2`, or None for :math:`t^2 - 1`.
    """

    def __init__(self, subset: Sequence[int], *, clip: float | None = None) -> None:
        self.subset = tuple(sorted(int(i) for i in subset))
        if len(set(self.subset)) != len(self.subset) or min(self.subset, default=0) < 0:
            raise invalid("subset", "distinct non-negative indices", subset)
        self.clip = (
            None if clip is None else check_float("clip", clip, low=0.0, low_open=True)
        )
        self.offset, self.factor = clipped_square_moments(self.clip)
        super().__init__(self._evaluate, bound=None)

    def __repr__(self) -> str:
        return f"SquaredLabelQuery({list(self.subset)}, clip={self.clip})"

    def expectation(self, target: MultilinearPolynomial) -> float:
        """Return :math:`a^{|T|} \\sum_{S \\supseteq T} c_S^2` for ``target``."""
        weight = target.weight_containing(self.subset)
        return float(self.factor ** len(self.subset) * weight)

    def _evaluate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        squares = np.asarray(x, dtype=np.float64)[:, list(self.subset)] ** 2
        if self.clip is not None:
            squares = np.minimum(squares, self.clip)
        factors = (squares - self.offset).prod(axis=1)
        return np.asarray(y, dtype=np.float64) ** 2 * factors


def clipped_square_moments(clip: float | None) -> tuple[float, float]:
    """Return :math:`m = E[\\min(z^2, c)]` and :math:`a = E[z^2 \\min(z^2, c)] - m`.

    For :math:`z \\sim N(0, 1)` and :math:`r = \\sqrt{c}`, with the truncated
    moments :math:`E[z^2; |z| < r] = (2\\Phi(r) - 1) - 2 r \\varphi(r)` and
    :math:`E[z^4; |z| < r] = 3 (2\\Phi(r) - 1) - 2 (r^3 + 3 r) \\varphi(r)`.
    ``clip=None`` gives ``(1, 2)``, the moments of :math:`t^2 - 1`.

    Examples
    --------
    >>> [round(value, 4) for value in clipped_square_moments(2.0)]
    [0.7422, 0.8552]
    """
    if clip is None:
        return 1.0, 2.0
    c = check_float("clip", clip, low=0.0, low_open=True)
    r = math.sqrt(c)
    inside = 2.0 * scipy.stats.norm.cdf(r) - 1.0
    density = scipy.stats.norm.pdf(r)
    second_inside = inside - 2.0 * r * density
    fourth_inside = 3.0 * inside - 2.0 * (r**3 + 3.0 * r) * density
    offset = second_inside + c * (1.0 - inside)
    factor = fourth_inside + c * (1.0 - second_inside) - offset
    return float(offset), float(factor)


class CorrelationQuery(Query):
    """The SQ query :math:`\\phi(x, y) = y \\, \\psi(x)`, a CSQ query seen as an SQ one.

    Its expectation is :math:`E[\\psi f]`, exact when ``psi`` is a ridge sum or a
    multilinear polynomial of the target's kind.

    Parameters
    ----------
    psi : callable
        Maps x to an array of shape (num,).
    bound : float or None, default=None
        Truncation level for the product :math:`y \\psi(x)`, see :class:`Query`.
    tail_bias : float, default=0.0
    """

    def __init__(
        self,
        psi: Callable[[Any], np.ndarray],
        *,
        bound: float | None = None,
        tail_bias: float = 0.0,
    ) -> None:
        self.psi = psi
        super().__init__(self._evaluate, bound=bound, tail_bias=tail_bias)

    def __repr__(self) -> str:
        return f"CorrelationQuery({self.psi!r}, bound={self.bound})"

    def _evaluate(self, x: Any, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * np.asarray(self.psi(x))


def exact_correlation(target: Any, phi: Any) -> float:
    """Return :math:`E[\\phi(x) f(x)]` exactly, for the pairs that have a closed form.

    Parameters
    ----------
    target : RidgeSum or MultilinearPolynomial
        The target ``f``.
    phi : RidgeSum, MultilinearPolynomial or Query wrapping one
        Of the same kind as ``target``.

    Raises
    ------
    TypeError
        For a pair without a closed form.
    """
    function = phi.function if isinstance(phi, Query) else phi
    if isinstance(target, RidgeSum) and isinstance(function, RidgeSum):
        return target.inner(function)
    if isinstance(target, MultilinearPolynomial) and isinstance(
        function, MultilinearPolynomial
    ):
        return target.inner(function)
    raise TypeError(
        f"no exact correlation for a {type(function).__name__} query against a "
        f"{type(target).__name__} target; use a query of the target's kind or an "
        "empirical oracle"
    )


def exact_expectation(target: Any, phi: Any) -> float:
    """Return :math:`E[\\phi(x, f(x))]` exactly, for the SQ queries with a closed form.

    Parameters
    ----------
    target : RidgeSum or MultilinearPolynomial
    phi : SquaredLabelQuery or CorrelationQuery
        A SquaredLabelQuery needs a MultilinearPolynomial target.

    Raises
    ------
    TypeError
        For a pair without a closed form.
    """
    if isinstance(phi, SquaredLabelQuery) and isinstance(target, MultilinearPolynomial):
        return phi.expectation(target)
    if isinstance(phi, CorrelationQuery):
        return exact_correlation(target, phi.psi)
    raise TypeError(
        f"no exact expectation for {phi!r} against a {type(target).__name__} "
        "target; use SquaredLabelQuery or CorrelationQuery, or an empirical oracle"
    )


# Tolerances --------------------------------------------------------------------


def hoeffding_tolerance(bound: float, n_samples: int, confidence: float) -> float:
    """Return the Hoeffding half-width for a mean of values in ``[-bound, bound]``.

    With probability at least ``confidence`` the mean of ``n_samples`` independent
    values lies within :math:`B \\sqrt{2 \\ln(2 / \\delta) / N}` of its expectation,
    where :math:`\\delta = 1 -` ``confidence``.

    Examples
    --------
    >>> round(hoeffding_tolerance(1.0, 10_000, 0.95), 6)
    0.027162
    """
    bound = check_float("bound", bound, low=0.0, low_open=True)
    n_samples = check_int("n_samples", n_samples, low=1)
    delta = 1.0 - check_confidence(confidence)
    return bound * math.sqrt(2.0 * math.log(2.0 / delta) / n_samples)


def clt_tolerance(values: np.ndarray, confidence: float) -> np.ndarray | float:
    """Estimate the half-width :math:`z \\hat\\sigma / \\sqrt{N}` of a sample mean.

    ``z`` is the two-sided normal quantile for ``confidence`` and
    :math:`\\hat\\sigma` the sample standard deviation along axis 0. This is an
    estimate from the central limit theorem, not a guarantee: heavy tails make the
    coverage lower at small ``N``. Below :data:`MIN_CLT_SAMPLES` samples the
    tolerance is infinite, because the spread cannot be estimated from so few.

    Parameters
    ----------
    values : ndarray of shape (num,) or (num, q)
    confidence : float
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) < MIN_CLT_SAMPLES:
        return np.full(values.shape[1:], math.inf) if values.ndim > 1 else math.inf
    z = float(scipy.stats.norm.ppf(0.5 + check_confidence(confidence) / 2))
    half_width = z * values.std(axis=0, ddof=1) / math.sqrt(len(values))
    return half_width if values.ndim > 1 else float(half_width)


def check_confidence(confidence: float, name: str = "confidence") -> float:
    """Return ``confidence`` as a float after checking ``0 < confidence < 1``."""
    value = check_float(name, confidence)
    if not 0.0 < value < 1.0:
        raise invalid(name, "a number in (0, 1)", confidence)
    return value


# Oracles -----------------------------------------------------------------------


@dataclass(frozen=True)
class OracleAnswer:
    """One answer of an oracle.

    Attributes
    ----------
    value : float
        The answer.
    tolerance : float
        Stated distance to the true expectation.
    method : str
        How ``tolerance`` was obtained: ``"exact"``, ``"hoeffding"`` (holds with
        the oracle's confidence), ``"hoeffding-truncated"`` (the same, for a
        truncated product with a bias bound), ``"clt-estimate"`` (a central-limit
        estimate) or ``"adversarial"``.
    guaranteed : bool
        Whether ``tolerance`` holds with at least the oracle's confidence (always
        for exact answers); False for central-limit estimates.
    """

    value: float
    tolerance: float
    method: str
    guaranteed: bool


class StatisticalQueryOracle(abc.ABC):
    """Base class of every oracle: answering, counting queries and samples.

    Attributes
    ----------
    kind : str
        ``"csq"`` (queries ``phi(x)``) or ``"sq"`` (queries ``phi(x, y)``).
    queries : int
        Queries answered so far.
    samples : int
        Labeled samples drawn so far.
    """

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.queries = 0
        self.samples = 0

    @property
    def n_samples(self) -> int | None:
        """Samples behind one answer, None for oracles that do not sample."""
        return None

    def query(self, phi: Any) -> float:
        """Return a value within the stated tolerance of the query's expectation."""
        return self.answer(phi).value

    def query_many(self, phis: Sequence[Any]) -> np.ndarray:
        """Answer several queries; returns an array of shape (len(phis),)."""
        return np.array([answer.value for answer in self.answer_many(phis)])

    @abc.abstractmethod
    def answer(self, phi: Any) -> OracleAnswer:
        """Answer one query and state the tolerance of the answer."""

    def answer_many(self, phis: Sequence[Any]) -> list[OracleAnswer]:
        """Answer several queries; each counts as one query."""
        return [self.answer(phi) for phi in phis]


class ExactCSQOracle(StatisticalQueryOracle):
    """Return :math:`E[\\phi(x) f(x)]` exactly (tolerance 0); draws no samples.

    Parameters
    ----------
    target : RidgeSum or MultilinearPolynomial
        The target; queries must be of the same kind (see
        :func:`exact_correlation`).
    """

    kind = "csq"

    def __init__(self, target: RidgeSum | MultilinearPolynomial) -> None:
        super().__init__()
        self.target = target

    def answer(self, phi: Any) -> OracleAnswer:
        value = exact_correlation(self.target, phi)
        self.queries += 1
        return OracleAnswer(value, 0.0, "exact", True)


class ExactSQOracle(StatisticalQueryOracle):
    """Return :math:`E[\\phi(x, f(x))]` exactly (tolerance 0); draws no samples.

    Parameters
    ----------
    target : RidgeSum or MultilinearPolynomial
        The target; queries must have a closed form (see
        :func:`exact_expectation`).
    """

    kind = "sq"

    def __init__(self, target: RidgeSum | MultilinearPolynomial) -> None:
        super().__init__()
        self.target = target

    def answer(self, phi: Any) -> OracleAnswer:
        value = exact_expectation(self.target, phi)
        self.queries += 1
        return OracleAnswer(value, 0.0, "exact", True)


class _EmpiricalOracle(StatisticalQueryOracle):
    """Sample handling shared by the empirical CSQ and SQ oracles."""

    def __init__(
        self,
        sampler: Sampler,
        *,
        n_samples: int,
        confidence: float = 0.95,
        fresh: bool = True,
        tolerance_method: str = "guaranteed",
        seed: SeedLike = None,
    ) -> None:
        super().__init__()
        if not callable(sampler):
            raise TypeError(f"sampler must be callable, got {sampler!r}")
        self.sampler = sampler
        self._n_samples = check_int("n_samples", n_samples, low=2)
        self.confidence = check_confidence(confidence)
        self.fresh = bool(fresh)
        self.tolerance_method = check_choice(
            "tolerance_method", tolerance_method, TOLERANCE_METHODS
        )
        self._rng = as_generator(seed)
        self._fixed: tuple[Any, np.ndarray] | None = None

    @property
    def n_samples(self) -> int:
        return self._n_samples

    def answer(self, phi: Any) -> OracleAnswer:
        return self.answer_many([phi])[0]

    def answer_many(self, phis: Sequence[Any]) -> list[OracleAnswer]:
        """Answer several queries from one set of samples.

        With ``fresh=True`` one new set of ``n_samples`` samples serves the whole
        call, as one mini-batch serves every coordinate of a stochastic gradient.
        With ``fresh=False`` every call reuses the set drawn at the first call.
        """
        if not phis:
            return []
        x, y = self._draw()
        answers = [self._answer_on(_as_query(phi), x, y) for phi in phis]
        self.queries += len(answers)
        return answers

    def _draw(self) -> tuple[Any, np.ndarray]:
        if self.fresh or self._fixed is None:
            x, y = self.sampler(self._n_samples, self._rng)
            y = np.asarray(y, dtype=np.float64)
            if y.shape != (self._n_samples,):
                raise invalid(
                    "sampler", f"labels of shape ({self._n_samples},)", y.shape
                )
            self.samples += self._n_samples
            if not self.fresh:
                self._fixed = (x, y)
            return x, y
        return self._fixed

    @abc.abstractmethod
    def _answer_on(self, query: Query, x: Any, y: np.ndarray) -> OracleAnswer:
        """Answer ``query`` from the samples ``(x, y)``."""

    def _mean_with_tolerance(
        self, values: np.ndarray, bound: float | None, tail_bias: float, name: str
    ) -> OracleAnswer:
        # Truncate to [-bound, bound] and state Hoeffding plus the declared bias, or
        # estimate the tolerance from the spread when there is no bound.
        if values.shape != (self._n_samples,):
            raise invalid(name, f"values of shape ({self._n_samples},)", values.shape)
        if bound is None or self.tolerance_method == "clt":
            if bound is not None:
                values = np.clip(values, -bound, bound)
            tolerance = clt_tolerance(values, self.confidence) + tail_bias
            return OracleAnswer(float(values.mean()), tolerance, "clt-estimate", False)
        if tail_bias == 0.0 and np.abs(values).max() > bound:
            raise InvalidParameterError(
                f"invalid value for '{name}': expected values in [-{bound:g}, "
                f"{bound:g}], got a value of {np.abs(values).max():.6g}; declare an "
                "unbounded query with Query(function, bound=B, tail_bias=...) or "
                "bound=None"
            )
        mean = float(np.clip(values, -bound, bound).mean())
        tolerance = (
            hoeffding_tolerance(bound, self._n_samples, self.confidence) + tail_bias
        )
        return OracleAnswer(mean, tolerance, "hoeffding", True)


class EmpiricalSQOracle(_EmpiricalOracle):
    """Answer :math:`E[\\phi(x, y)]` by a sample mean, with a stated tolerance.

    For a query with a ``bound`` (plain callables get ``bound=1``, the SQ
    definition) the values are truncated to ``[-bound, bound]`` and the tolerance
    is :func:`hoeffding_tolerance` at ``confidence`` plus the query's
    ``tail_bias``: it holds with probability at least ``confidence`` for each
    answer. For ``bound=None`` (for example :class:`SquaredLabelQuery`) the
    tolerance is :func:`clt_tolerance`, an estimate.

    Parameters
    ----------
    sampler : callable
        ``sampler(num, rng) -> (x, y)``, see :func:`family_sampler`.
    n_samples : int
        Samples behind each answer, >= 2.
    confidence : float, default=0.95
        Probability with which each guaranteed tolerance holds. Over ``q``
        answers the union bound gives ``1 - q (1 - confidence)`` for all of them.
    fresh : bool, default=True
        Draw new samples for every call of :meth:`answer` or
        :meth:`answer_many`; False draws one set at the first call and reuses it.
        With a reused set an adaptive algorithm needs the union bound over every
        query it could ask, not only those it asked.
    tolerance_method : str, default="guaranteed"
        ``"guaranteed"`` follows the rules above; ``"clt"`` states the
        central-limit estimate for every query.
    seed : int, numpy Generator or None, default=None
        Source of the samples.
    """

    kind = "sq"

    def _answer_on(self, query: Query, x: Any, y: np.ndarray) -> OracleAnswer:
        values = query(x, y)
        return self._mean_with_tolerance(values, query.bound, query.tail_bias, "phi")


class EmpiricalCSQOracle(_EmpiricalOracle):
    """Answer :math:`E[\\phi(x) f(x)]` by a sample mean, with a stated tolerance.

    The query must be bounded: plain callables get ``bound=1`` (the CSQ
    definition), a :class:`Query` may declare another bound, and values outside it
    raise. The tolerance of the mean of :math:`\\phi(x) y` depends on what is known
    about the labels:

    - ``label_bound`` ``L`` (:math:`|y| \\le L`): the products lie in
      :math:`[-BL, BL]` and Hoeffding applies (``"hoeffding"``).
    - ``target_second_moment`` ``M`` (:math:`E[y^2] \\le M`, 1 for unit-norm
      targets): the products are truncated at
      :math:`C = B \\sqrt{M \\sqrt{N} / (4c)}` with
      :math:`c = \\sqrt{2\\ln(2/\\delta)}`, which costs a bias of at most
      :math:`B^2 M / (4C)`. Hoeffding at ``C`` plus that bias is
      :math:`B \\sqrt{c M} N^{-1/4}` (``"hoeffding-truncated"``): a guarantee, but
      one that shrinks only like :math:`N^{-1/4}`.
    - neither, or ``tolerance_method="clt"``: the central-limit estimate.

    Parameters
    ----------
    sampler : callable
        ``sampler(num, rng) -> (x, y)``, see :func:`family_sampler`.
    n_samples : int
        Samples behind each answer, >= 2.
    confidence : float, default=0.95
        Probability with which each guaranteed tolerance holds.
    fresh : bool, default=True
        As for :class:`EmpiricalSQOracle`.
    label_bound : float or None, default=None
        Almost-sure bound on ``|y|``.
    target_second_moment : float or None, default=None
        Upper bound on :math:`E[y^2]`.
    tolerance_method : str, default="guaranteed"
        ``"guaranteed"`` or ``"clt"``.
    seed : int, numpy Generator or None, default=None
    """

    kind = "csq"

    def __init__(
        self,
        sampler: Sampler,
        *,
        n_samples: int,
        confidence: float = 0.95,
        fresh: bool = True,
        label_bound: float | None = None,
        target_second_moment: float | None = None,
        tolerance_method: str = "guaranteed",
        seed: SeedLike = None,
    ) -> None:
        super().__init__(
            sampler,
            n_samples=n_samples,
            confidence=confidence,
            fresh=fresh,
            tolerance_method=tolerance_method,
            seed=seed,
        )
        self.label_bound = (
            None
            if label_bound is None
            else check_float("label_bound", label_bound, low=0.0, low_open=True)
        )
        self.target_second_moment = (
            None
            if target_second_moment is None
            else check_float(
                "target_second_moment", target_second_moment, low=0.0, low_open=True
            )
        )

    def _answer_on(self, query: Query, x: Any, y: np.ndarray) -> OracleAnswer:
        if query.bound is None or query.tail_bias > 0:
            raise invalid(
                "phi",
                "a bounded CSQ query (a callable with values in [-1, 1] or a Query "
                "with a bound and tail_bias=0)",
                query,
            )
        values = query(x)
        bound = query.bound
        if values.shape != (self._n_samples,):
            raise invalid("phi", f"values of shape ({self._n_samples},)", values.shape)
        if np.abs(values).max() > bound:
            raise invalid(
                "phi",
                f"values in [-{bound:g}, {bound:g}]",
                f"a value of {np.abs(values).max():.6g}",
            )
        products = values * y
        if self.tolerance_method == "clt" or (
            self.label_bound is None and self.target_second_moment is None
        ):
            return self._mean_with_tolerance(products, None, 0.0, "phi")
        if self.label_bound is not None:
            return self._mean_with_tolerance(
                products, bound * self.label_bound, 0.0, "phi"
            )
        return self._truncated_answer(products, bound)

    def _truncated_answer(self, products: np.ndarray, bound: float) -> OracleAnswer:
        # (|z| - C)_+ <= z^2 / (4C) and E[(phi y)^2] <= B^2 M bound the truncation
        # bias by B^2 M / (4C); C balances it against the Hoeffding term C c / sqrt N.
        delta = 1.0 - self.confidence
        c = math.sqrt(2.0 * math.log(2.0 / delta))
        moment = bound**2 * self.target_second_moment
        root_n = math.sqrt(self._n_samples)
        cutoff = math.sqrt(moment * root_n / (4.0 * c))
        mean = float(np.clip(products, -cutoff, cutoff).mean())
        tolerance = cutoff * c / root_n + moment / (4.0 * cutoff)
        return OracleAnswer(mean, tolerance, "hoeffding-truncated", True)


class AdversarialOracle(StatisticalQueryOracle):
    """Return 0 whenever 0 is within ``tolerance`` of the true value, else the value.

    The true value comes from ``reference``, an oracle of tolerance at most
    ``tolerance`` (an exact oracle gives the rule exactly). The answer is 0 when
    ``|reference answer| + reference tolerance <= tolerance``, which makes 0 a
    valid answer, and the reference answer otherwise. Against ``m`` unit-norm
    members with pairwise correlation at most ``gamma`` it returns 0 for all but
    at most ``(1 + (m - 1) gamma) / tolerance^2`` of them per query.

    Parameters
    ----------
    reference : StatisticalQueryOracle
        Source of the true values; its ``kind`` becomes this oracle's kind.
    tolerance : float
        Tolerance > 0 of this oracle.

    Raises
    ------
    InvalidParameterError
        From :meth:`answer`, when the reference's tolerance for a query exceeds
        ``tolerance``.
    """

    def __init__(self, reference: StatisticalQueryOracle, *, tolerance: float) -> None:
        super().__init__()
        if not isinstance(reference, StatisticalQueryOracle):
            raise TypeError(
                f"reference must be a StatisticalQueryOracle, got {reference!r}"
            )
        self.reference = reference
        self.tolerance = check_float("tolerance", tolerance, low=0.0, low_open=True)
        self.zero_answers = 0

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.reference.kind

    @property
    def n_samples(self) -> int | None:
        return self.reference.n_samples

    def answer(self, phi: Any) -> OracleAnswer:
        return self.answer_many([phi])[0]

    def answer_many(self, phis: Sequence[Any]) -> list[OracleAnswer]:
        answers = []
        for reference in self.reference.answer_many(phis):
            if reference.tolerance > self.tolerance:
                raise InvalidParameterError(
                    "invalid value for 'tolerance': expected at least the reference "
                    f"oracle's tolerance {reference.tolerance:.6g}, got "
                    f"{self.tolerance:.6g}; give the reference more samples"
                )
            hidden = abs(reference.value) + reference.tolerance <= self.tolerance
            self.zero_answers += int(hidden)
            value = 0.0 if hidden else reference.value
            answers.append(
                OracleAnswer(value, self.tolerance, "adversarial", reference.guaranteed)
            )
        self.queries += len(answers)
        self.samples = self.reference.samples
        return answers


def _as_query(phi: Any) -> Query:
    return phi if isinstance(phi, Query) else Query(phi)


# Building oracles for a family ---------------------------------------------------


def family_sampler(family: HardFamily, member: Any = 0) -> Sampler:
    """Return a sampler that draws labeled samples of ``member`` from ``family``.

    Queries receive ``x`` of shape (num, n) when the family's samples have one
    input array ``"x"``, and otherwise the dict of input arrays (for example
    ``{"adj": ...}`` for graph families).
    """

    def sampler(num: int, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        arrays = dict(family.sample(num, member=member, seed=rng))
        labels = arrays.pop("y")
        inputs = arrays["x"] if set(arrays) == {"x"} else arrays
        return inputs, labels

    return sampler


def exact_target(family: HardFamily, member: Any = 0) -> Any:
    """Return the member in the form exact oracles use.

    A :class:`MultilinearPolynomial` for families with ``member_polynomial`` and a
    :class:`RidgeSum` for families with ``member_ridge``.

    Raises
    ------
    TypeError
        For a family with neither.
    """
    if hasattr(family, "member_polynomial"):
        return family.member_polynomial(member)
    if hasattr(family, "member_ridge"):
        return family.member_ridge(member)
    raise TypeError(
        f"family {family.name} has no exact form for its members; use an empirical "
        "oracle"
    )


def make_oracle(
    family: HardFamily,
    member: Any = 0,
    *,
    kind: str = "sq",
    oracle: str = "exact",
    n_samples: int | None = None,
    confidence: float = 0.95,
    fresh: bool = True,
    tolerance: float | None = None,
    seed: SeedLike = None,
) -> StatisticalQueryOracle:
    """Build an oracle for ``member`` of ``family``.

    Parameters
    ----------
    family : HardFamily
    member : int or sequence of int, default=0
    kind : str, default="sq"
        ``"csq"`` or ``"sq"``.
    oracle : str, default="exact"
        ``"exact"``, ``"empirical"`` or ``"adversarial"`` (on an exact reference).
    n_samples : int or None, default=None
        Samples per answer; required for ``"empirical"``.
    confidence : float, default=0.95
        Per-answer confidence of the empirical oracle.
    fresh : bool, default=True
        Fresh samples per call, or one reused set.
    tolerance : float or None, default=None
        Tolerance of the adversarial oracle; required for ``"adversarial"``.
    seed : int, numpy Generator or None, default=None

    Returns
    -------
    StatisticalQueryOracle
        Empirical CSQ oracles use ``target_second_moment=1`` because every member
        has unit norm.
    """
    kind = check_choice("kind", kind, ORACLE_KINDS)
    oracle = check_choice("oracle", oracle, ORACLE_NAMES)
    if oracle == "empirical":
        if n_samples is None:
            raise invalid("n_samples", "an integer >= 2 for an empirical oracle", None)
        sampler = family_sampler(family, member)
        if kind == "csq":
            return EmpiricalCSQOracle(
                sampler,
                n_samples=n_samples,
                confidence=confidence,
                fresh=fresh,
                target_second_moment=1.0,
                seed=seed,
            )
        return EmpiricalSQOracle(
            sampler,
            n_samples=n_samples,
            confidence=confidence,
            fresh=fresh,
            seed=seed,
        )
    target = exact_target(family, member)
    exact = ExactCSQOracle(target) if kind == "csq" else ExactSQOracle(target)
    if oracle == "exact":
        return exact
    if tolerance is None:
        raise invalid("tolerance", "a number > 0 for an adversarial oracle", None)
    return AdversarialOracle(exact, tolerance=tolerance)
