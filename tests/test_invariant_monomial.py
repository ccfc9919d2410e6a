"""Tests for the invariant-monomial family and its multilinear polynomials."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.families import base, make_family
from symhard.families.invariant_monomial import (
    InvariantMonomial,
    MultilinearPolynomial,
)
from symhard.groups import generated
from symhard.learners import MLP, GroupAveragedMLP

# Two 4-cycles on disjoint halves of 8 points: a group that is not transitive.
TWO_CYCLES = [[1, 2, 3, 0, 4, 5, 6, 7], [0, 1, 2, 3, 5, 6, 7, 4]]


def _brute_orbit(elements: np.ndarray, subset: tuple[int, ...]) -> set:
    return {tuple(sorted(int(g[i]) for i in subset)) for g in elements}


def _shifts(n: int) -> np.ndarray:
    return np.array([[(i + s) % n for i in range(n)] for s in range(n)])


def _necklaces(n: int, k: int) -> int:
    # Binary necklaces: (1/n) sum over t | gcd(n, k) of phi(t) C(n/t, k/t).
    total = 0
    for t in range(1, math.gcd(n, k) + 1):
        if math.gcd(n, k) % t == 0:
            totient = sum(1 for s in range(1, t + 1) if math.gcd(s, t) == 1)
            total += totient * math.comb(n // t, k // t)
    return total // n


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2024)


@pytest.mark.parametrize(("n", "k"), [(6, 3), (8, 4), (12, 3), (10, 4)])
def test_family_size_matches_necklace_count(n, k):
    assert InvariantMonomial(n, k).family_size == _necklaces(n, k)


def test_member_index_follows_lexicographic_canonical_order():
    family = InvariantMonomial(8, 3, group="dihedral")
    elements = family.group.elements()
    canonical = sorted(
        {min(_brute_orbit(elements, s)) for s in itertools.combinations(range(8), 3)}
    )
    assert [family.member_subset(i) for i in range(family.family_size)] == canonical


def test_member_subset_accepts_any_orbit_element():
    family = InvariantMonomial(12, 3)
    assert family.member_subset((5, 7, 12 - 2)) == (0, 2, 5)


def test_evaluate_matches_brute_force_formula(rng):
    family = InvariantMonomial(9, 3)
    subset = (0, 1, 4)
    orbit = sorted(_brute_orbit(_shifts(9), subset))
    x = rng.standard_normal((50, 9))
    expected = sum(x[:, list(s)].prod(axis=1) for s in orbit) / math.sqrt(len(orbit))
    np.testing.assert_allclose(family.evaluate({"x": x}, member=subset), expected)


def test_member_unit_norm_exact_and_monte_carlo(rng):
    family = InvariantMonomial(10, 3)
    member = (0, 1, 5)
    assert family.member_polynomial(member).norm_sq() == pytest.approx(1.0)
    y = family.sample(200_000, member=member, seed=rng)["y"]
    squares = y**2
    standard_error = squares.std(ddof=1) / math.sqrt(len(squares))
    assert abs(squares.mean() - 1.0) < 5 * standard_error


def test_distinct_orbits_exactly_orthogonal():
    family = InvariantMonomial(8, 3, group="cyclic")
    polynomials = [family.member_polynomial(i) for i in range(family.family_size)]
    gram = np.array([[p.inner(q) for q in polynomials] for p in polynomials])
    np.testing.assert_array_equal(gram, np.eye(len(polynomials)) * gram.diagonal())
    np.testing.assert_allclose(gram.diagonal(), 1.0)


def test_orthogonality_confirmed_by_monte_carlo(rng):
    family = InvariantMonomial(8, 3)
    x = rng.standard_normal((200_000, 8))
    products = family.evaluate({"x": x}, member=0) * family.evaluate({"x": x}, member=1)
    standard_error = products.std(ddof=1) / math.sqrt(len(products))
    assert abs(products.mean()) < 5 * standard_error


@pytest.mark.parametrize(
    "group", ["cyclic", "dihedral", generated(TWO_CYCLES)], ids=str
)
def test_member_invariant_under_random_elements(group, rng):
    family = InvariantMonomial(8, 3, group=group)
    member = (0, 1, 5)
    x = rng.standard_normal((64, 8))
    y = family.evaluate({"x": x}, member=member)
    for _ in range(5):
        g = family.group.random_element(rng)
        moved = family.group.act(g, x, axis=1)
        np.testing.assert_allclose(family.evaluate({"x": moved}, member=member), y)


def test_member_changes_under_non_group_permutation(rng):
    family = InvariantMonomial(8, 3, group="cyclic")
    x = rng.standard_normal((64, 8))
    swapped = x[:, [1, 0, 2, 3, 4, 5, 6, 7]]
    y = family.evaluate({"x": x}, member=(0, 1, 3))
    assert not np.allclose(family.evaluate({"x": swapped}, member=(0, 1, 3)), y)


def test_teacher_matches_evaluate(rng):
    family = InvariantMonomial(10, 4, group="dihedral")
    x = rng.standard_normal((100, 10))
    teacher = family.teacher((0, 1, 3, 6)).double()
    output = teacher(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(output, family.evaluate({"x": x}, member=(0, 1, 3, 6)))


def test_task_labels_follow_formula():
    family = InvariantMonomial(8, 2)
    task = family.task((0, 3))
    x, y = task.sample(256, torch.Generator().manual_seed(0))
    expected = family.evaluate({"x": x.double().numpy()}, member=(0, 3))
    assert x.shape == (256, 8)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_sample_same_seed_same_bytes():
    family = InvariantMonomial(6, 2)
    first = family.sample(10, member=1, seed=3)
    second = family.sample(10, member=1, seed=3)
    assert first["x"].tobytes() == second["x"].tobytes()
    assert first["y"].tobytes() == second["y"].tobytes()


def test_random_member_is_canonical(rng):
    family = InvariantMonomial(12, 3, group="dihedral")
    for _ in range(10):
        member = family.random_member(rng)
        assert family.group.canonical(member) == member


def test_correlation_and_bound_info():
    family = InvariantMonomial(12, 3)
    certificate = family.correlation()
    info = family.bound_info(0.1)
    assert certificate.gamma == 0.0
    assert certificate.method == "exact"
    assert info["csq_lower_bound"] == pytest.approx((19 - 2) * 0.1**2)


def test_info_reports_size_and_norm():
    family = InvariantMonomial(12, 3, group="dihedral")
    elements = family.group.elements()
    orbits = {
        min(_brute_orbit(elements, s)) for s in itertools.combinations(range(12), 3)
    }
    info = family.info()
    assert info["family_size"] == len(orbits)
    assert info["norm_sq"] == 1.0
    assert info["max_orbit_size"] == min(2 * 12, math.comb(12, 3))


def test_make_learner_uses_family_group():
    family = InvariantMonomial(6, 2, group="dihedral")
    learner = family.make_learner("group-mlp", width=8, depth=1)
    assert isinstance(learner, GroupAveragedMLP)
    assert learner.group is family.group
    assert isinstance(family.make_learner("mlp", width=8), MLP)


def test_make_family_registry_builds_from_strings():
    family = make_family("invariant-monomial", {"n": "12", "k": "3"})
    assert isinstance(family, InvariantMonomial)
    assert family.family_size == 19


def test_torus_group_with_shape():
    family = make_family(
        "invariant-monomial", {"n": "6", "k": "2", "group": "torus", "shape": "2x3"}
    )
    assert family.group.shape == (2, 3)


def test_polynomial_weight_containing_brute_force():
    subsets = np.array([[0, 1, 2], [1, 2, 3], [0, 2, 4]])
    coefficients = np.array([0.5, -1.5, 2.0])
    polynomial = MultilinearPolynomial(subsets, coefficients, 5)
    for size in range(4):
        for subset in itertools.combinations(range(5), size):
            expected = sum(
                c**2
                for row, c in zip(subsets, coefficients, strict=True)
                if set(subset) <= set(row)
            )
            assert polynomial.weight_containing(subset) == pytest.approx(expected)


def test_polynomial_inner_sums_shared_coefficients():
    first = MultilinearPolynomial(np.array([[0, 1], [1, 2]]), np.array([2.0, 3.0]), 4)
    second = MultilinearPolynomial(np.array([[2, 1], [0, 3]]), np.array([5.0, 7.0]), 4)
    assert first.inner(second) == 15.0


def test_polynomial_inner_different_degree_is_zero():
    first = MultilinearPolynomial(np.array([[0, 1]]), np.array([1.0]), 4)
    second = MultilinearPolynomial(np.array([[0, 1, 2]]), np.array([1.0]), 4)
    assert first.inner(second) == 0.0


def test_polynomial_rejects_duplicate_rows():
    with pytest.raises(InvalidParameterError, match="expected distinct rows"):
        MultilinearPolynomial(np.array([[0, 1], [1, 0]]), np.ones(2), 3)


def test_polynomial_rejects_out_of_range_index():
    with pytest.raises(InvalidParameterError, match=r"indices in \[0, 2\]"):
        MultilinearPolynomial(np.array([[0, 3]]), np.ones(1), 3)


def test_family_rejects_k_above_n():
    with pytest.raises(InvalidParameterError, match=r"'k': expected .*n=5.*got 6"):
        InvariantMonomial(5, 6)


def test_family_rejects_group_of_wrong_size():
    with pytest.raises(InvalidParameterError, match="a group acting on n=6 points"):
        InvariantMonomial(6, 2, group=generated(TWO_CYCLES))


def test_family_rejects_unknown_group_name():
    with pytest.raises(InvalidParameterError, match="'group': expected one of"):
        InvariantMonomial(6, 2, group="wallpaper")


def test_member_rejects_wrong_subset_size():
    with pytest.raises(InvalidParameterError, match="expected 3 distinct integers"):
        InvariantMonomial(8, 3).member_subset((0, 1))


def test_member_rejects_index_past_family_size():
    with pytest.raises(InvalidParameterError, match="family_size - 1 = 6"):
        InvariantMonomial(8, 3).member_subset(7)


def test_evaluate_rejects_wrong_width(rng):
    with pytest.raises(InvalidParameterError, match=r"shape \(num, 8\)"):
        InvariantMonomial(8, 3).evaluate({"x": rng.standard_normal((4, 7))})


def test_make_family_rejects_unknown_parameter():
    with pytest.raises(InvalidParameterError, match="'parameter'.*got 'width'"):
        make_family("invariant-monomial", {"n": "8", "k": "2", "width": "3"})


def test_make_family_missing_n():
    with pytest.raises(
        InvalidParameterError,
        match=r"^missing value for 'n': expected an integer >= 1$",
    ):
        make_family("invariant-monomial", {"k": "2"})


def test_sample_memory_limit(monkeypatch):
    # x (num, 6), y and a copy of y, all float64.
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 8 * 8 * 30)
    family = InvariantMonomial(6, 2)
    assert family.sample(30, seed=0)["x"].shape == (30, 6)
    with pytest.raises(LimitExceededError, match=r"'num'.*use at most 30 samples"):
        family.sample(31, seed=0)
