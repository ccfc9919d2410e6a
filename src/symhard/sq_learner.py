"""The SQ learner that recovers an ``invariant-monomial`` member from few queries.

The target is :math:`p(x) = |O|^{-1/2} \\sum_{S' \\in O} x^{S'}` for an unknown orbit
``O`` of ``k``-subsets under a known group ``G``. Correlational queries need
about as many queries as there are orbits (:mod:`symhard.bounds`), but a query
may use :math:`y^2`:

.. math:: E\\Big[y^2 \\prod_{i \\in T} (x_i^2 - 1)\\Big]
          = 2^{|T|} \\, \\frac{\\#\\{S' \\in O : T \\subseteq S'\\}}{|O|},

which is positive exactly when ``T`` lies inside a subset of the orbit, and then at
least :math:`2^{|T|} / |O|`. The learner grows ``T`` one coordinate at a time:

1. For ``t = 1, ..., k - 1`` it queries :math:`\\phi_{T + j}` for every coordinate
   ``j`` outside ``T`` and keeps the ``j`` with the largest answer above the
   threshold :math:`a^t / (2 M)`. Level 1 scans all coordinates, so groups that
   are not transitive need no special case.
2. For the last coordinate it queries the correlation :math:`E[y \\, x^{T + j}]`,
   which is :math:`|O|^{-1/2}` when ``T + j`` is in the orbit and 0 otherwise, with
   threshold :math:`1 / (2 \\sqrt{M})`. These queries have a far smaller variance
   than :math:`\\phi_T` at :math:`|T| = k`.

The learner does not know ``|O|``. It uses :math:`M = \\min(|G|, \\binom{n}{k})`,
which bounds every orbit size, so every positive expectation is at least twice
its threshold and every other one is 0. Hence an oracle whose tolerance is below
the threshold makes every decision correct, and ``T`` ends as a member of ``O``
after at most ``k n`` queries. The sample cost is polynomial in ``n`` (through
``M``) times :math:`2^{O(k)}`, while CSQ learners need :math:`n^{\\Omega(k)}`
queries for the cyclic group.

Clipped queries
---------------
By default the factor :math:`x_i^2 - 1` is replaced by
:math:`\\min(x_i^2, 2) - E[\\min(z^2, 2)]` (:class:`~symhard.oracles.SquaredLabelQuery`
with ``clip=2``), an even function of mean 0 with the same closed form, where
``a = 0.855`` takes the place of 2. It lowers the spread of the answers relative
to their thresholds. We measured the ratio of standard deviation to threshold for
three sets ``T`` per level under ``C_12`` on 400,000 samples, with ``S = {0,2,7}``
and ``S = {0,1,3,7}``. The largest ratio per level was about 77 and 80 for
``k=3`` (109 and 191 without clipping), and 112, 127 and 146 for ``k=4`` (156,
226 and 479 without). Clipping levels 1.5 and 3 gave similar ratios.
``clip=None`` gives the unclipped query.

Tolerances of empirical answers
-------------------------------
The queries :math:`\\phi_T` are unbounded and heavy-tailed. Truncation with a
proven bias bound does not give a useful tolerance at practical sample sizes:
for ``n=12, k=3, S={0,2,7}`` under ``C_12`` the truncation bias of the unclipped
:math:`\\phi_{\\{0\\}}` alone is still about 0.09 at ``B = 80`` (estimated from 2
million samples), above the 1/12 that level 1 needs. The Hoeffding term alone
at ``B = 80`` with 400,000 samples is 0.34 for one query at confidence 0.95.
The empirical oracle therefore states central-limit estimates
:math:`z \\hat\\sigma / \\sqrt{N}` for these queries, and
:attr:`SQLearnerResult.guaranteed` reports whether all stated tolerances were below
their thresholds. NOTE: these estimates undercover somewhat at small ``N``; for
the level-1 query of ``S={0,1,3}`` under ``C_8`` at nominal 90%, 11.5% of 200
runs missed at 2,000 samples and 7% at 20,000.

References
----------
A. Andoni, R. Panigrahy, G. Valiant and L. Zhang, *Learning sparse polynomial
functions*, SODA 2014 (the Growing Basis algorithm).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from symhard._validation import (
    SeedLike,
    check_choice,
    check_int,
    invalid,
)
from symhard.families.invariant_monomial import InvariantMonomial, MultilinearPolynomial
from symhard.groups import PermutationGroup
from symhard.oracles import (
    MIN_CLT_SAMPLES,
    CorrelationQuery,
    SquaredLabelQuery,
    StatisticalQueryOracle,
    check_confidence,
    clipped_square_moments,
    make_oracle,
)

__all__ = ["SQLearnerResult", "learn_orbit", "possible_queries", "sq_learn"]

SQ_ORACLES = ("empirical", "exact")

# Clipping level of x_i^2 in the learner's queries; see "Clipped queries" above.
DEFAULT_CLIP = 2.0


@dataclass
class SQLearnerResult:
    """The outcome of the SQ learner.

    Attributes
    ----------
    recovered : tuple of int or None
        Canonical subset of the recovered orbit; None when some level had no
        answer above its threshold.
    true : tuple of int or None
        Canonical subset of the target's orbit, when known.
    exact : bool
        Whether ``recovered`` equals ``true`` (False when ``true`` is None).
    queries : int
        Queries the oracle answered.
    samples : int
        Samples the oracle drew (0 for an exact oracle).
    guaranteed : bool
        Whether every stated tolerance was below the threshold margin of its
        decision, so that every decision was correct (with the oracle's confidence
        for empirical oracles).
    samples_needed : int or None
        For empirical oracles, the samples at which every stated tolerance of the
        queries made would fall below its margin, from the :math:`1/\\sqrt{N}`
        scaling of the tolerances; an estimate when the tolerances were
        central-limit estimates. None for exact oracles.
    tolerance_method : str
        How the oracle stated its tolerances (``"exact"``, ``"clt-estimate"``, ...).
    levels : list of dict
        Per step: the set ``T`` after the step, its threshold, the best answer,
        the largest stated tolerance and the number of candidates above threshold.
    """

    recovered: tuple[int, ...] | None
    true: tuple[int, ...] | None
    exact: bool
    queries: int
    samples: int
    guaranteed: bool
    samples_needed: int | None
    tolerance_method: str
    levels: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("recovered", "true"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data


def possible_queries(n: int, k: int) -> int:
    """Count the distinct queries the learner can ask on ``n`` coordinates.

    It is :math:`\\sum_{t=1}^{k-1} \\binom{n}{t} + \\binom{n}{k}`: every set ``T``
    of size below ``k`` and every candidate ``k``-subset. With one reused sample
    the union bound runs over all of them, because later queries depend on earlier
    answers.
    """
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=1, high=n, high_text=f"n={n}")
    return sum(math.comb(n, t) for t in range(1, k)) + math.comb(n, k)


def learn_orbit(
    oracle: StatisticalQueryOracle,
    group: PermutationGroup,
    k: int,
    *,
    true: Sequence[int] | None = None,
    clip: float | None = DEFAULT_CLIP,
    warn: bool = True,
) -> SQLearnerResult:
    """Recover the orbit of an ``invariant-monomial`` target through an SQ oracle.

    Parameters
    ----------
    oracle : StatisticalQueryOracle
        An SQ oracle (``kind == "sq"``) for the target; exact or empirical.
    group : PermutationGroup
        The group ``G`` acting on the ``n`` coordinates.
    k : int
        Degree of the target, ``1 <= k <= n``.
    true : sequence of int or None, default=None
        A subset of the target's orbit, only used to fill ``true`` and ``exact``.
    clip : float or None, default=DEFAULT_CLIP
        Clipping level of :math:`x_i^2` in the queries, None for :math:`x_i^2 - 1`.
    warn : bool, default=True
        Emit a ``UserWarning`` when the stated tolerances do not guarantee the
        decisions, with the estimated number of samples that would.

    Returns
    -------
    SQLearnerResult
    """
    if getattr(oracle, "kind", None) != "sq":
        raise invalid("oracle", "an SQ oracle (kind 'sq')", oracle)
    n = group.n
    k = check_int("k", k, low=1, high=n, high_text=f"n={n}")
    max_orbit = min(group.order, math.comb(n, k))
    factor = clipped_square_moments(clip)[1]
    subset: list[int] = []
    levels: list[dict[str, Any]] = []
    answers_made: list[tuple[float, float]] = []  # (tolerance, margin)
    methods: set[str] = set()

    for size in range(1, k + 1):
        candidates = [j for j in range(n) if j not in subset]
        if size < k:
            queries = [SquaredLabelQuery([*subset, j], clip=clip) for j in candidates]
            threshold = factor**size / (2.0 * max_orbit)
        else:
            monomials = [_monomial([*subset, j], n) for j in candidates]
            queries = [CorrelationQuery(monomial) for monomial in monomials]
            threshold = 1.0 / (2.0 * math.sqrt(max_orbit))
        answers = oracle.answer_many(queries)
        values = np.array([answer.value for answer in answers])
        tolerances = np.array([answer.tolerance for answer in answers])
        methods.update(answer.method for answer in answers)
        answers_made.extend((float(t), threshold) for t in tolerances)
        above = values > threshold
        best = int(np.argmax(np.where(above, values, -np.inf)))
        levels.append(
            {
                "size": size,
                "threshold": threshold,
                "above_threshold": int(above.sum()),
                "best_answer": float(values[best]),
                "max_tolerance": float(tolerances.max()),
                "subset": sorted([*subset, candidates[best]]) if above.any() else None,
            }
        )
        if not above.any():
            break
        subset.append(candidates[best])

    recovered = group.canonical(subset) if len(subset) == k else None
    true_subset = None if true is None else group.canonical(true)
    # Correct decisions always reach a member of O. So a run that stopped early had
    # an answer outside its stated tolerance, and it is not guaranteed.
    guaranteed = recovered is not None and all(
        tolerance < margin for tolerance, margin in answers_made
    )
    samples_needed = _samples_needed(oracle, answers_made)
    result = SQLearnerResult(
        recovered=recovered,
        true=true_subset,
        exact=recovered is not None and recovered == true_subset,
        queries=oracle.queries,
        samples=oracle.samples,
        guaranteed=guaranteed,
        samples_needed=samples_needed,
        tolerance_method="+".join(sorted(methods)),
        levels=levels,
    )
    if warn and not guaranteed:
        warnings.warn(_shortfall_message(result, oracle), UserWarning, stacklevel=2)
    return result


def sq_learn(
    family: InvariantMonomial,
    member: int | Sequence[int] = 0,
    *,
    n_samples: int | None = None,
    oracle: str = "empirical",
    confidence: float = 0.95,
    fresh: bool = False,
    seed: SeedLike = None,
    clip: float | None = DEFAULT_CLIP,
    warn: bool = True,
) -> SQLearnerResult:
    """Run the SQ learner on ``member`` of an ``invariant-monomial`` family.

    Parameters
    ----------
    family : InvariantMonomial
    member : int or sequence of int, default=0
        Member index or a subset of its orbit.
    n_samples : int or None, default=None
        Samples of the empirical oracle; required for ``oracle="empirical"`` and
        ignored for ``"exact"``.
    oracle : str, default="empirical"
        ``"empirical"`` or ``"exact"``.
    confidence : float, default=0.95
        Probability that all answers are within their stated tolerances. The
        oracle gets ``1 - (1 - confidence) / q`` per answer, where ``q`` is
        :func:`possible_queries` for a reused sample and ``k n`` for fresh ones.
    fresh : bool, default=False
        False draws one sample of size ``n_samples`` and answers every query from
        it (``samples == n_samples``); True draws a new one for each level.
    seed : int, numpy Generator or None, default=None
        Source of the samples.
    clip : float or None, default=DEFAULT_CLIP
        Clipping level of :math:`x_i^2` in the queries, None for :math:`x_i^2 - 1`.
    warn : bool, default=True
        Emit a ``UserWarning`` when the tolerances do not guarantee recovery.

    Returns
    -------
    SQLearnerResult

    Examples
    --------
    >>> family = InvariantMonomial(n=12, k=3, group="cyclic")
    >>> result = sq_learn(family, (0, 2, 7), oracle="exact")
    >>> result.recovered, result.exact, result.queries
    ((0, 2, 7), True, 33)
    """
    if not isinstance(family, InvariantMonomial):
        raise TypeError(
            f"sq_learn needs an InvariantMonomial family, got {type(family).__name__}"
        )
    oracle = check_choice("oracle", oracle, SQ_ORACLES)
    confidence = check_confidence(confidence)
    true = family.member_subset(member)
    if oracle == "exact":
        built = make_oracle(family, true, kind="sq", oracle="exact")
    else:
        if n_samples is None:
            raise invalid("n_samples", "an integer >= 2 for oracle='empirical'", None)
        n_samples = check_int("n_samples", n_samples, low=2)
        count = family.k * family.n if fresh else possible_queries(family.n, family.k)
        built = make_oracle(
            family,
            true,
            kind="sq",
            oracle="empirical",
            n_samples=n_samples,
            confidence=1.0 - (1.0 - confidence) / count,
            fresh=fresh,
            seed=seed,
        )
    result = learn_orbit(
        built, family.group, family.k, true=true, clip=clip, warn=False
    )
    if warn and not result.guaranteed:
        warnings.warn(_shortfall_message(result, built), UserWarning, stacklevel=2)
    return result


def _monomial(subset: Sequence[int], n: int) -> MultilinearPolynomial:
    return MultilinearPolynomial(np.array([sorted(subset)]), np.ones(1), n)


def _samples_needed(
    oracle: StatisticalQueryOracle, answers_made: list[tuple[float, float]]
) -> int | None:
    # Hoeffding and central-limit tolerances both scale like 1 / sqrt(N) at a fixed
    # confidence, so N (tolerance / margin)^2 samples bring a tolerance to its margin.
    n_samples = oracle.n_samples
    if n_samples is None or not answers_made:
        return None
    ratio = max(tolerance / margin for tolerance, margin in answers_made)
    if not math.isfinite(ratio):
        return None
    return int(math.floor(n_samples * ratio**2)) + 1


def _shortfall_message(result: SQLearnerResult, oracle: StatisticalQueryOracle) -> str:
    if oracle.n_samples is None:
        return (
            f"SQ learner: no answer passed the threshold at step "
            f"{len(result.levels)} although the oracle's answers are exact, so the "
            "target is not an invariant monomial of this degree under this group."
        )
    worst = max(
        result.levels, key=lambda level: level["max_tolerance"] / level["threshold"]
    )
    if result.samples_needed is not None:
        needed = f"about {result.samples_needed} samples would be needed"
    elif (oracle.n_samples or 0) < MIN_CLT_SAMPLES:
        needed = f"at least {MIN_CLT_SAMPLES} are needed to state a tolerance at all"
    else:
        needed = "the number of samples needed is unknown"
    stopped = (
        ""
        if result.recovered is not None
        else f" No answer passed the threshold at step {len(result.levels)}."
    )
    return (
        f"SQ learner: with {oracle.n_samples} samples the oracle's tolerance "
        f"{worst['max_tolerance']:.3g} ({result.tolerance_method}) at step "
        f"{worst['size']} is not below the threshold {worst['threshold']:.3g}, so "
        f"recovery is not guaranteed; {needed} (estimated from the tolerances of "
        f"the queries made).{stopped}"
    )
