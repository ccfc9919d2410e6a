"""Tests of the bound calculator in ``symhard.bounds``.

The counting argument is checked by brute force on explicit unit vectors, the
sample sizes by simulation, and every closed form against exact integer arithmetic.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from symhard._validation import InvalidParameterError
from symhard.bounds import (
    csq_query_lower_bound,
    format_count,
    gradient_run_region,
    log10_csq_query_lower_bound,
    log10_tolerance_for_query_budget,
    samples_per_query,
    tolerance_for_query_budget,
)


def _near_orthogonal_family(
    count: int, dim: int, seed: int
) -> tuple[np.ndarray, float]:
    """Return ``count`` random unit rows in R^dim and their largest |<f_i, f_j>|."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    gram = vectors @ vectors.T
    np.fill_diagonal(gram, 0.0)
    return vectors, float(np.abs(gram).max())


def _orthonormal_family(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, count)))
    return basis.T


def _random_unit_queries(num: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    queries = rng.standard_normal((num, dim))
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


# The counting argument, by brute force ------------------------------------------


@pytest.mark.parametrize(("count", "dim"), [(40, 40), (60, 400), (200, 2000)])
def test_counting_sum_of_squares_bounded(count, dim):
    members, gamma = _near_orthogonal_family(count, dim, seed=count)
    limit = 1 + (count - 1) * gamma
    queries = _random_unit_queries(500, dim, seed=1)
    # The worst query is the top eigenvector of the Gram matrix, spread over R^dim.
    gram = members @ members.T
    _, eigenvectors = np.linalg.eigh(gram)
    worst = eigenvectors[:, -1] @ members
    queries = np.vstack([queries, worst / np.linalg.norm(worst), members])

    sums = ((queries @ members.T) ** 2).sum(axis=1)

    assert sums.max() <= limit + 1e-9
    assert sums[500] == pytest.approx(np.linalg.eigvalsh(gram)[-1], rel=1e-9)


@pytest.mark.parametrize("tolerance", [0.05, 0.1, 0.3])
def test_zero_oracle_wrong_count_bounded(tolerance):
    members, gamma = _near_orthogonal_family(300, 3000, seed=7)
    limit = (1 + (len(members) - 1) * gamma) / tolerance**2
    rng = np.random.default_rng(3)
    # Random queries, queries aimed at one member, and queries spread evenly over
    # r members, which make the answer 0 wrong for as many members as possible.
    queries = [_random_unit_queries(200, members.shape[1], seed=4), members]
    for spread in (2, 5, 10, 11, 50, 300):
        for _ in range(20):
            chosen = rng.choice(len(members), size=spread, replace=False)
            query = members[chosen].sum(axis=0)
            queries.append((query / np.linalg.norm(query))[None])
    queries = np.vstack(queries)

    wrong = (np.abs(queries @ members.T) > tolerance).sum(axis=1)

    assert wrong.max() <= limit


def test_greedy_learner_needs_counting_bound():
    # Orthonormal members, tolerance 0.3: a query spread over r members has
    # correlation 1/sqrt(r) with each, so it rules out at most 11 = floor(1/0.09)
    # members against the all-zero oracle. Count the queries a greedy learner needs
    # until at most one member is consistent with every answer 0.
    count, tolerance = 64, 0.3
    members = _orthonormal_family(count, count, seed=5)
    alive = list(range(count))
    queries_used = 0
    while len(alive) > 1:
        best_ruled_out: list[int] = []
        for spread in range(1, len(alive) + 1):
            query = members[alive[:spread]].sum(axis=0)
            query /= np.linalg.norm(query)
            ruled_out = [i for i in alive if abs(members[i] @ query) > tolerance]
            if len(ruled_out) > len(best_ruled_out):
                best_ruled_out = ruled_out
        alive = [i for i in alive if i not in best_ruled_out]
        queries_used += 1

    bound = csq_query_lower_bound(count, 0.0, tolerance)

    assert queries_used >= bound
    assert queries_used == math.ceil((count - 1) / math.floor(1 / tolerance**2))
    assert bound == pytest.approx((count - 2) * tolerance**2)


# Closed forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family_size", "gamma", "tolerance"),
    [(3, 0.0, 0.5), (1002, 0.0, 0.1), (10**6, 0.001, 0.05), (2**40, 0.25, 0.01)],
)
def test_csq_bound_matches_rational_formula(family_size, gamma, tolerance):
    tau, g = Fraction(str(tolerance)), Fraction(str(gamma))
    expected = (family_size - 2) * tau**2 / (1 + (family_size - 1) * g)

    assert csq_query_lower_bound(family_size, gamma, tolerance) == float(expected)


def test_csq_bound_small_family_zero():
    assert csq_query_lower_bound(2, 0.0, 0.1) == 0.0
    assert log10_csq_query_lower_bound(2, 0.0, 0.1) == -math.inf


def test_csq_bound_huge_family_logs():
    exponent = 2000
    log10_two = math.log10(2)

    assert csq_query_lower_bound(2**exponent, 0.0, 0.5) == math.inf
    assert log10_csq_query_lower_bound(2**exponent, 0.0, 0.5) == pytest.approx(
        (exponent - 2) * log10_two, rel=1e-12
    )
    # With gamma > 0 the bound tends to tau^2 / gamma for huge m.
    assert log10_csq_query_lower_bound(2**exponent, 0.01, 0.1) == pytest.approx(
        0.0, abs=1e-12
    )


def test_csq_bound_near_float_limit_finite():
    value = csq_query_lower_bound(2**1000, 0.0, 1.0)

    assert value == float(2**1000 - 2)


def test_tolerance_budget_inverts_bound():
    for family_size, gamma, tolerance in [(1002, 0.0, 0.1), (10**5, 0.0002, 0.05)]:
        queries = csq_query_lower_bound(family_size, gamma, tolerance)
        # The bound is not an integer in general: the budget ceil(q) affords a
        # tolerance just above tau, and floor(q) one just below.
        above = tolerance_for_query_budget(family_size, gamma, math.ceil(queries))
        below = tolerance_for_query_budget(family_size, gamma, math.floor(queries))

        assert below <= tolerance <= above


def test_tolerance_budget_exact_value():
    assert tolerance_for_query_budget(1002, 0.0, 10) == 0.1
    assert tolerance_for_query_budget(2, 0.0, 10) == math.inf


def test_tolerance_budget_huge_family_logs():
    family_size = 2**3000 + 2
    expected = -1500 * math.log10(2)

    assert log10_tolerance_for_query_budget(family_size, 0.0, 1) == pytest.approx(
        expected, rel=1e-12
    )
    assert tolerance_for_query_budget(family_size, 0.0, 1) == 0.0
    assert tolerance_for_query_budget(2**1000 + 2, 0.0, 1) == pytest.approx(
        2.0**-500, rel=1e-12
    )


# Samples per query ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("hoeffding", math.ceil(2 * math.log(2 / 0.05) / 0.1**2)),
        ("chebyshev", math.ceil(1 / (0.05 * 0.1**2))),
        ("standard-error", 100),
    ],
)
def test_samples_per_query_formulas(method, expected):
    assert samples_per_query(0.1, delta=0.05, method=method) == expected


def test_samples_per_query_tiny_tolerance_exact():
    samples = samples_per_query(1e-200, method="standard-error")

    assert samples == 10**400


def test_samples_hoeffding_covers_bounded_products():
    # Products phi(x) f(x) in {-1, +1} with mean 0.3; the failure rate of the mean
    # of b samples must stay below delta. With b = 1/tau^2 it would be about 0.3.
    tolerance, delta, mean = 0.2, 0.1, 0.3
    samples = samples_per_query(tolerance, delta=delta, method="hoeffding")
    rng = np.random.default_rng(11)
    successes = rng.binomial(samples, (1 + mean) / 2, size=20_000)
    estimates = (2 * successes - samples) / samples

    failure_rate = np.mean(np.abs(estimates - mean) > tolerance)

    assert failure_rate <= delta


def test_samples_chebyshev_covers_unbounded_products():
    # phi = sign(x) in [-1, 1] and the unit-norm f(x) = x: the product |x| is
    # unbounded, with mean sqrt(2/pi) and variance 1 - 2/pi.
    tolerance, delta = 0.1, 0.05
    samples = samples_per_query(tolerance, delta=delta, method="chebyshev")
    rng = np.random.default_rng(12)
    estimates = np.abs(rng.standard_normal((2000, samples))).mean(axis=1)

    failure_rate = np.mean(np.abs(estimates - math.sqrt(2 / math.pi)) > tolerance)

    assert failure_rate <= delta


# Gradient runs ---------------------------------------------------------------------


def test_gradient_region_exact_boundary():
    # m = 1002, gamma = 0, b = 100: the bound is exactly 1000 / 100 = 10 queries.
    at_bound = gradient_run_region(5, 100, 2, family_size=1002, gamma=0.0)
    below = gradient_run_region(9, 100, 1, family_size=1002, gamma=0.0)

    assert at_bound.queries == 10
    assert at_bound.queries_needed == 10.0
    assert not at_bound.forbidden
    assert below.forbidden


def test_gradient_region_fields():
    region = gradient_run_region(300, 64, 1000, family_size=10**9, gamma=0.0)

    assert region.queries == 300 * 1000
    assert region.tolerance == pytest.approx(1 / 8)
    assert region.queries_needed == pytest.approx((10**9 - 2) / 64)
    assert region.tolerance_allowed == pytest.approx(
        math.sqrt(300 * 1000 / (10**9 - 2))
    )
    assert region.log10_queries == pytest.approx(math.log10(300_000))
    assert region.forbidden


def test_gradient_region_verdict_states_assumption():
    forbidden = gradient_run_region(10, 100, 10, family_size=10**6, gamma=0.0)
    allowed = gradient_run_region(10, 100, 10, family_size=100, gamma=0.0)

    assert forbidden.verdict.startswith("Forbidden region:")
    assert allowed.verdict.startswith("Not in the forbidden region:")
    assert "not a proof" in forbidden.verdict
    assert "1/sqrt(b)" in allowed.verdict


def test_gradient_region_huge_family():
    region = gradient_run_region(10**6, 10**4, 10**6, family_size=2**2000, gamma=0.0)

    assert region.queries_needed == math.inf
    assert region.log10_queries_needed == pytest.approx(
        2000 * math.log10(2) - 4, rel=1e-12
    )
    assert region.forbidden
    assert region.to_dict()["family_size"] == 2**2000


def test_format_count_exact_and_approximate():
    assert format_count(999_999_999_999) == "999999999999"
    assert format_count(2**100) == f"about {2.0**100:.2e}"
    assert format_count(2**2000).startswith("about 1.15e+602")


# Errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: csq_query_lower_bound(10, 1.5, 0.1), r"'gamma': .* \[0, 1\]"),
        (lambda: csq_query_lower_bound(10, 0.0, 0.0), r"'tolerance': .* > 0"),
        (lambda: csq_query_lower_bound(0, 0.0, 0.1), r"'family_size': .* >= 1"),
        (lambda: tolerance_for_query_budget(10, 0.0, 0), r"'queries': .* >= 1"),
        (lambda: samples_per_query(0.1, delta=1.0), r"'delta': .* \(0, 1\)"),
        (lambda: samples_per_query(0.1, method="exact"), r"'method': .*hoeffding"),
        (
            lambda: gradient_run_region(0, 1, 1, family_size=10, gamma=0.0),
            r"'n_parameters': .* >= 1",
        ),
    ],
)
def test_calculator_rejects_bad_values(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()
