"""Tests for the CSQ counting bound in symhard.bounds and the step behind it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symhard._validation import InvalidParameterError
from symhard.bounds import csq_query_lower_bound, log10_csq_query_lower_bound

# (m, gamma, tau, (m - 2) tau^2 / (1 + (m - 1) gamma) worked out by hand).
HAND_CASES = [
    (1002, 0.0, 0.1, 10.0),  # 1000 * 0.01 / 1
    (12, 0.1, 0.5, 25 / 21),  # 10 * 0.25 / (1 + 1.1)
    (3, 1.0, 1.0, 1 / 3),  # 1 * 1 / (1 + 2)
    (102, 0.01, 0.2, 4 / 2.01),  # 100 * 0.04 / (1 + 1.01)
    (2**40 + 2, 0.0, 0.5, 2**38),  # 2^40 / 4
]


@pytest.mark.parametrize(("family_size", "gamma", "tolerance", "expected"), HAND_CASES)
def test_csq_bound_hand_cases(family_size, gamma, tolerance, expected):
    bound = csq_query_lower_bound(family_size, gamma, tolerance)
    assert bound == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(("family_size", "gamma", "tolerance", "expected"), HAND_CASES)
def test_log10_csq_bound_hand_cases(family_size, gamma, tolerance, expected):
    log_bound = log10_csq_query_lower_bound(family_size, gamma, tolerance)
    assert log_bound == pytest.approx(math.log10(expected), abs=1e-12)


@pytest.mark.parametrize("family_size", [1, 2])
def test_csq_bound_two_members_zero(family_size):
    assert csq_query_lower_bound(family_size, 0.0, 0.1) == 0.0


@pytest.mark.parametrize("family_size", [1, 2])
def test_log10_csq_bound_two_members_minus_inf(family_size):
    assert log10_csq_query_lower_bound(family_size, 0.3, 0.1) == -math.inf


def test_log10_csq_bound_past_float_range():
    # m - 2 = 10^400 with tau = 0.1 and gamma = 0: log10 = 400 - 2.
    log_bound = log10_csq_query_lower_bound(10**400 + 2, 0.0, 0.1)
    assert log_bound == pytest.approx(398.0, abs=1e-9)


def test_csq_bound_grows_with_family_size():
    bounds = [csq_query_lower_bound(m, 0.01, 0.1) for m in (3, 10, 100, 1000)]
    assert bounds == sorted(bounds)
    assert bounds[0] < bounds[-1]


@pytest.mark.parametrize("tolerance", [0.0, -0.1, math.nan])
def test_csq_bound_rejects_tolerance(tolerance):
    with pytest.raises(InvalidParameterError, match="'tolerance'.*> 0"):
        csq_query_lower_bound(100, 0.0, tolerance)


@pytest.mark.parametrize("gamma", [-0.01, 1.5, math.inf])
def test_csq_bound_rejects_gamma(gamma):
    with pytest.raises(InvalidParameterError, match=r"'gamma'.*\[0, 1\]"):
        csq_query_lower_bound(100, gamma, 0.1)


@pytest.mark.parametrize("family_size", [0, -3])
def test_csq_bound_rejects_family_size(family_size):
    with pytest.raises(InvalidParameterError, match="'family_size'.*>= 1"):
        csq_query_lower_bound(family_size, 0.0, 0.1)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def max_abs_correlation(vectors: np.ndarray) -> float:
    gram = vectors @ vectors.T
    np.fill_diagonal(gram, 0.0)
    return float(np.abs(gram).max())


@pytest.mark.parametrize(("count", "dim"), [(3, 4), (6, 10), (20, 64), (40, 30)])
def test_gershgorin_step_random_queries(count, dim, rng):
    # Unit vectors in R^dim stand in for unit-norm functions in L2: both are inner
    # product spaces, and the step uses nothing else.
    for _ in range(20):
        members = unit_rows(rng.standard_normal((count, dim)))
        gamma = max_abs_correlation(members)
        queries = unit_rows(rng.standard_normal((200, dim)))
        sums = ((queries @ members.T) ** 2).sum(axis=1)
        assert sums.max() <= 1 + (count - 1) * gamma + 1e-12


@pytest.mark.parametrize(("count", "dim"), [(3, 4), (20, 64), (40, 30)])
def test_gershgorin_step_worst_query(count, dim, rng):
    # The largest sum over unit queries is the top eigenvalue of the Gram matrix,
    # reached at the matching combination of members.
    for _ in range(20):
        members = unit_rows(rng.standard_normal((count, dim)))
        gamma = max_abs_correlation(members)
        largest = np.linalg.eigvalsh(members @ members.T)[-1]
        assert largest <= 1 + (count - 1) * gamma + 1e-12


@pytest.mark.parametrize("gamma", [0.0, 0.05, 0.3])
def test_gershgorin_step_tight_for_equal_correlations(gamma):
    count = 8
    # f_i = sqrt(1 - gamma) e_i + sqrt(gamma) e_0 gives <f_i, f_j> = gamma for
    # every i != j, and phi = normalized sum of the f_i reaches 1 + (m - 1) gamma.
    basis = np.eye(count + 1)
    members = math.sqrt(1 - gamma) * basis[1:] + math.sqrt(gamma) * basis[0]
    assert max_abs_correlation(members) == pytest.approx(gamma, abs=1e-15)
    query = members.sum(axis=0)
    query /= np.linalg.norm(query)
    total = float(((members @ query) ** 2).sum())
    assert total == pytest.approx(1 + (count - 1) * gamma, rel=1e-12)


def test_zero_oracle_fooled_count_bounded(rng):
    count, dim, tolerance = 30, 40, 0.3
    members = unit_rows(rng.standard_normal((count, dim)))
    gamma = max_abs_correlation(members)
    queries = unit_rows(rng.standard_normal((500, dim)))
    # Members whose correlation with a query exceeds tau in absolute value.
    distinguished = (np.abs(queries @ members.T) > tolerance).sum(axis=1)
    assert distinguished.max() <= (1 + (count - 1) * gamma) / tolerance**2
