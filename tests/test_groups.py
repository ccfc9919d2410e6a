"""Tests for symhard.groups: group laws, orbits and Burnside orbit counts."""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import combinations, permutations

import numpy as np
import pytest
import torch

from symhard import groups
from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.groups import (
    GROUP_NAMES,
    MAX_POINTS,
    MAX_SYMMETRIC_POINTS,
    PermutationGroup,
    compose,
    cyclic,
    dihedral,
    generated,
    inverse,
    make_group,
    symmetric,
    torus,
    trivial,
)

# (0 1 2 3 4) and (0 1) generate S_5. A 3-cycle and a transposition on 5 points
# move at most 4 of them, so they never generate S_5.
S5_GENERATORS = [[1, 2, 3, 4, 0], [1, 0, 2, 3, 4]]
# (0 1 2)(3 4) alone generates C_6 with orbits {0, 1, 2} and {3, 4}.
DISJOINT_CYCLES = [[1, 2, 0, 4, 3]]
# (0 1 2) and (2 3) generate S_4 on {0, 1, 2, 3}, and point 4 stays fixed.
S4_FIXING_ONE = [[1, 2, 0, 3, 4], [0, 1, 3, 2, 4]]

SMALL_GROUPS = {
    "trivial-1": trivial(1),
    "trivial-4": trivial(4),
    "cyclic-1": cyclic(1),
    "cyclic-2": cyclic(2),
    "cyclic-5": cyclic(5),
    "cyclic-8": cyclic(8),
    "dihedral-3": dihedral(3),
    "dihedral-4": dihedral(4),
    "dihedral-7": dihedral(7),
    "dihedral-8": dihedral(8),
    "torus-1x4": torus(1, 4),
    "torus-2x3": torus(2, 3),
    "torus-3x4": torus(3, 4),
    "torus-3x3": torus(3, 3),
    "symmetric-1": symmetric(1),
    "symmetric-2": symmetric(2),
    "symmetric-4": symmetric(4),
    "symmetric-5": symmetric(5),
    "generated-s5": generated(S5_GENERATORS),
    "generated-disjoint": generated(DISJOINT_CYCLES),
    "generated-s4-fixing-one": generated(S4_FIXING_ONE),
}
SMALL_GROUP_PARAMS = [
    pytest.param(group, id=key) for key, group in SMALL_GROUPS.items()
]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def element_keys(group: PermutationGroup) -> set[bytes]:
    return {row.tobytes() for row in group.elements()}


def brute_force_cycle_type(perm: np.ndarray) -> tuple[int, ...]:
    visited = [False] * len(perm)
    lengths = []
    for start in range(len(perm)):
        length = 0
        point = start
        while not visited[point]:
            visited[point] = True
            point = int(perm[point])
            length += 1
        if length:
            lengths.append(length)
    return tuple(sorted(lengths))


def brute_force_canonical(elements: np.ndarray, subset: tuple[int, ...]) -> tuple:
    images = np.sort(elements[:, list(subset)], axis=1)
    return min(tuple(row) for row in images.tolist())


def brute_force_orbit_count(group: PermutationGroup, k: int) -> int:
    """Count orbits by listing every k-subset and its smallest image."""
    elements = group.elements()
    representatives = {
        brute_force_canonical(elements, subset)
        for subset in combinations(range(group.n), k)
    }
    return len(representatives)


def cyclic_orbit_formula(n: int, k: int) -> int:
    """Return (1/n) * sum over t | gcd(n, k) of phi(t) * C(n/t, k/t)."""
    total = 0
    common = math.gcd(n, k)
    for t in range(1, common + 1):
        if common % t == 0:
            phi = sum(1 for s in range(1, t + 1) if math.gcd(s, t) == 1)
            total += phi * math.comb(n // t, k // t)
    assert total % n == 0
    return total // n


def random_subset(group: PermutationGroup, rng: np.random.Generator) -> list[int]:
    k = int(rng.integers(group.n + 1))
    return sorted(int(point) for point in rng.choice(group.n, size=k, replace=False))


# ------------------------------------------------------------------ elements


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_elements_length_equals_order(group):
    assert len(group.elements()) == group.order


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_elements_identity_first_and_distinct(group):
    elements = group.elements()
    assert elements.shape == (group.order, group.n)
    assert elements.dtype == np.int64
    assert np.array_equal(elements[0], np.arange(group.n))
    assert len(element_keys(group)) == group.order


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_elements_are_permutations(group):
    for row in group.elements():
        assert sorted(row.tolist()) == list(range(group.n))


def test_elements_cached_and_read_only():
    group = cyclic(6)
    elements = group.elements()
    assert group.elements() is elements
    with pytest.raises(ValueError):
        elements[0, 0] = 3


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (trivial(7), 1),
        (cyclic(9), 9),
        (dihedral(9), 18),
        (torus(3, 5), 15),
        (symmetric(5), 120),
        (symmetric(20), math.factorial(20)),
        (generated(S5_GENERATORS), 120),
        (generated(DISJOINT_CYCLES), 6),
        (generated(S4_FIXING_ONE), 24),
    ],
    ids=repr,
)
def test_order_known_values(group, expected):
    assert group.order == expected
    assert isinstance(group.order, int)


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_generators_are_elements(group):
    for generator in group.generators:
        assert group.contains(generator)


@pytest.mark.parametrize(
    ("closed_form", "generators"),
    [
        (cyclic(7), cyclic(7).generators),
        (dihedral(6), dihedral(6).generators),
        (torus(3, 4), torus(3, 4).generators),
        (symmetric(5), symmetric(5).generators),
    ],
    ids=repr,
)
def test_elements_match_generated_closure(closed_form, generators):
    closure = generated(generators)
    assert closure.order == closed_form.order
    assert element_keys(closure) == element_keys(closed_form)


# ----------------------------------------------------------------- group laws


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_contains_matches_enumeration(group):
    keys = element_keys(group)
    candidates = permutations(range(group.n)) if group.n <= 6 else []
    for candidate in candidates:
        perm = np.array(candidate, dtype=np.int64)
        assert group.contains(perm) == (perm.tobytes() in keys), candidate


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_contains_rejects_non_permutations(group):
    assert not group.contains(np.zeros(group.n, dtype=np.int64) + group.n)
    assert not group.contains(np.arange(group.n + 1))


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_group_laws_random_elements(group, rng):
    identity = np.arange(group.n)
    assert group.contains(identity)
    for _ in range(20):
        g = group.random_element(rng)
        h = group.random_element(rng)
        assert group.contains(g)
        assert group.contains(compose(g, h))
        assert group.contains(inverse(g))
        assert np.array_equal(compose(g, inverse(g)), identity)
        assert np.array_equal(compose(inverse(g), g), identity)
        assert np.array_equal(compose(g, identity), g)


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_act_compose_successive(group, rng):
    x = rng.normal(size=(3, group.n))
    for _ in range(10):
        g = group.random_element(rng)
        h = group.random_element(rng)
        once = group.act(compose(g, h), x)
        twice = group.act(g, group.act(h, x))
        assert np.array_equal(once, twice)


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_act_on_set_compose_successive(group, rng):
    for _ in range(10):
        g = group.random_element(rng)
        h = group.random_element(rng)
        subset = random_subset(group, rng)
        once = group.act_on_set(compose(g, h), subset)
        twice = group.act_on_set(g, group.act_on_set(h, subset))
        assert once == twice


def test_act_moves_entry_i_to_perm_i():
    group = symmetric(4)
    perm = np.array([2, 0, 3, 1])
    x = np.array([10.0, 11.0, 12.0, 13.0])
    y = group.act(perm, x)
    for i in range(4):
        assert y[perm[i]] == x[i]


def test_act_along_first_axis():
    group = cyclic(3)
    x = np.arange(6).reshape(3, 2)
    y = group.act([1, 2, 0], x, axis=0)
    assert np.array_equal(y, x[[2, 0, 1]])


def test_act_torch_matches_numpy(rng):
    group = torus(3, 4)
    g = group.random_element(rng)
    x = rng.normal(size=(2, 5, 12))
    tensor = torch.tensor(x, requires_grad=True)
    result = group.act(g, tensor)
    assert isinstance(result, torch.Tensor)
    assert np.array_equal(result.detach().numpy(), group.act(g, x))
    result.sum().backward()
    assert torch.equal(tensor.grad, torch.ones_like(tensor))


def test_act_on_set_sorted_image():
    group = cyclic(6)
    assert group.act_on_set([2, 3, 4, 5, 0, 1], {5, 1}) == (1, 3)


def test_act_rejects_wrong_length():
    with pytest.raises(InvalidParameterError, match=r"'x'.*n=4"):
        cyclic(4).act([1, 2, 3, 0], np.zeros(5))


# ------------------------------------------------------------ random elements


@pytest.mark.parametrize(
    "group",
    [
        pytest.param(SMALL_GROUPS[key], id=key)
        for key in ("trivial-4", "cyclic-5", "dihedral-4", "dihedral-7", "torus-2x3")
        + ("symmetric-4", "generated-disjoint", "generated-s4-fixing-one")
    ],
)
def test_random_element_uniform(group, rng):
    draws_per_element = 200
    counts = Counter(
        group.random_element(rng).tobytes()
        for _ in range(draws_per_element * group.order)
    )
    assert set(counts) == element_keys(group)
    # Each count is Binomial(200 * order, 1 / order), standard deviation about 14,
    # so the +-100 band is about 7 standard deviations wide.
    assert min(counts.values()) > 0.5 * draws_per_element
    assert max(counts.values()) < 1.5 * draws_per_element


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_random_element_same_seed_same_element(group):
    first = group.random_element(7)
    second = group.random_element(7)
    assert np.array_equal(first, second)


def test_random_element_large_symmetric():
    group = symmetric(500)
    perm = group.random_element(3)
    assert sorted(perm.tolist()) == list(range(500))


# --------------------------------------------------------------- cycle types


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_cycle_type_counts_match_enumeration(group):
    expected = Counter(brute_force_cycle_type(row) for row in group.elements())
    assert group.cycle_type_counts() == dict(expected)


@pytest.mark.parametrize(
    "group",
    [cyclic(36), dihedral(30), dihedral(31), torus(6, 10), symmetric(7)],
    ids=repr,
)
def test_cycle_type_counts_closed_forms_larger_n(group):
    expected = Counter(brute_force_cycle_type(row) for row in group.elements())
    assert group.cycle_type_counts() == dict(expected)


def test_cycle_type_counts_symmetric_past_limit():
    with pytest.raises(LimitExceededError, match=r"max_types=10\b"):
        symmetric(12).cycle_type_counts(max_types=10)


# -------------------------------------------------------------- orbit counts


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_count_orbits_matches_brute_force(group):
    for k in range(group.n + 1):
        assert group.count_orbits(k) == brute_force_orbit_count(group, k), k


@pytest.mark.parametrize(
    ("group", "k", "expected"),
    [
        (cyclic(6), 3, 4),
        (cyclic(8), 4, 10),
        (cyclic(10), 4, 22),
        (cyclic(12), 6, 80),
        (dihedral(8), 4, 8),
        (dihedral(12), 6, 50),
    ],
    ids=repr,
)
def test_count_orbits_documented_values(group, k, expected):
    assert brute_force_orbit_count(group, k) == expected
    assert group.count_orbits(k) == expected


@pytest.mark.parametrize(
    ("n", "k"), [(64, 8), (64, 32), (60, 12), (97, 5), (30, 15), (12, 0), (12, 12)]
)
def test_count_orbits_cyclic_totient_formula(n, k):
    assert cyclic(n).count_orbits(k) == cyclic_orbit_formula(n, k)


def test_count_orbits_cyclic_64_8_value():
    assert cyclic(64).count_orbits(8) == 69_159_400


@pytest.mark.parametrize(
    "group",
    [cyclic(12), dihedral(9), dihedral(10), torus(4, 6), torus(2, 9), symmetric(6)],
    ids=repr,
)
def test_count_orbits_matches_generated_closure(group):
    closure = generated(group.generators)
    for k in range(group.n + 1):
        assert group.count_orbits(k) == closure.count_orbits(k), k


@pytest.mark.parametrize(
    ("group", "k"),
    [
        (cyclic(64), 8),
        (dihedral(200), 40),
        (torus(12, 18), 30),
        (symmetric(40), 17),
        (trivial(30), 9),
    ],
    ids=repr,
)
def test_count_orbits_closed_forms_skip_enumeration(group, k, monkeypatch):
    def fail_enumeration(self, max_elements=100_000):
        raise AssertionError("count_orbits enumerated the group")

    monkeypatch.setattr(PermutationGroup, "elements", fail_enumeration)
    assert group.count_orbits(k) >= 1


def test_count_orbits_symmetric_is_one():
    group = symmetric(9)
    for k in range(10):
        assert group.count_orbits(k) == 1


def test_count_orbits_trivial_is_binomial():
    group = trivial(9)
    for k in range(10):
        assert group.count_orbits(k) == math.comb(9, k)


def test_count_orbits_rejects_k_above_n():
    with pytest.raises(InvalidParameterError, match=r"'k'.*\[0, n=6\].*got 7"):
        cyclic(6).count_orbits(7)


def test_count_orbits_rejects_negative_k():
    with pytest.raises(InvalidParameterError, match=r"'k'.*got -1"):
        dihedral(6).count_orbits(-1)


# -------------------------------------------------------------------- orbits


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_orbit_matches_enumeration(group, rng):
    elements = group.elements()
    for _ in range(10):
        subset = random_subset(group, rng)
        images = np.sort(elements[:, subset], axis=1)
        expected = sorted(set(map(tuple, images.tolist())))
        orbit = group.orbit(subset)
        assert orbit.shape == (len(expected), len(subset))
        assert [tuple(row) for row in orbit.tolist()] == expected


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_orbit_stabilizer_consistency(group, rng):
    elements = group.elements()
    for _ in range(10):
        subset = random_subset(group, rng)
        orbit = group.orbit(subset)
        stabilizer = group.stabilizer_size(subset)
        assert group.orbit_size(subset) == len(orbit)
        assert len(orbit) * stabilizer == group.order
        fixing = sum(
            1 for g in elements if group.act_on_set(g, subset) == tuple(subset)
        )
        assert stabilizer == fixing


@pytest.mark.parametrize("group", SMALL_GROUP_PARAMS)
def test_canonical_is_orbit_minimum(group, rng):
    for _ in range(10):
        subset = random_subset(group, rng)
        orbit = group.orbit(subset)
        canonical = group.canonical(subset)
        assert canonical == min(tuple(row) for row in orbit.tolist())
        for row in orbit:
            assert group.canonical(row) == canonical


def test_orbit_symmetric_lists_all_subsets():
    orbit = symmetric(6).orbit([1, 4])
    assert [tuple(row) for row in orbit.tolist()] == list(combinations(range(6), 2))


def test_orbit_empty_subset():
    orbit = torus(2, 3).orbit([])
    assert orbit.shape == (1, 0)


def test_orbit_symmetric_past_limit():
    with pytest.raises(LimitExceededError, match=r"'subset'.*max_size=1000\b"):
        symmetric(30).orbit(range(5), max_size=1000)


def test_orbit_size_large_symmetric_closed_form():
    assert symmetric(100).orbit_size(range(10)) == math.comb(100, 10)


def test_canonical_large_cyclic():
    group = cyclic(10_000)
    assert group.canonical([9_998, 3, 7]) == (0, 4, 9_995)


def test_orbit_rejects_repeated_points():
    with pytest.raises(InvalidParameterError, match=r"'subset'.*got \[1, 1\]"):
        cyclic(5).orbit([1, 1])


def test_orbit_rejects_point_out_of_range():
    with pytest.raises(InvalidParameterError, match=r"'subset'.*\[0, 4\]"):
        cyclic(5).canonical([0, 5])


# ------------------------------------------------------------- transitivity


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("trivial-1", True),
        ("trivial-4", False),
        ("cyclic-5", True),
        ("dihedral-7", True),
        ("torus-3x4", True),
        ("symmetric-5", True),
        ("generated-s5", True),
        ("generated-disjoint", False),
        ("generated-s4-fixing-one", False),
    ],
)
def test_is_transitive(key, expected):
    assert SMALL_GROUPS[key].is_transitive is expected


# ------------------------------------------------------------------- factory


@pytest.mark.parametrize("name", [name for name in GROUP_NAMES if name != "generated"])
def test_make_group_builds_each_name(name):
    group = make_group(name, 9)
    assert group.name == name
    assert group.n == 9


def test_make_group_generated():
    group = make_group("generated", generators=S5_GENERATORS)
    assert group.order == 120


def test_make_group_torus_shape():
    group = make_group("torus", shape=(3, 4))
    assert group.shape == (3, 4)
    assert group.n == 12


def test_make_group_torus_square_n():
    assert make_group("torus", 16).shape == (4, 4)


def test_repr_names_group():
    assert repr(cyclic(12)) == "PermutationGroup(name='cyclic', n=12, order=12)"


def test_repr_torus_shape():
    assert "shape=(3, 4)" in repr(torus(3, 4))


# -------------------------------------------------------------------- errors


def test_make_group_rejects_unknown_name():
    with pytest.raises(
        InvalidParameterError,
        match=r"'group': expected one of trivial, cyclic, .*got 'alternating'",
    ):
        make_group("alternating", 5)


def test_make_group_torus_rejects_non_square():
    with pytest.raises(InvalidParameterError, match=r"'shape'.*n=10"):
        make_group("torus", 10)


def test_make_group_torus_rejects_n_mismatch():
    with pytest.raises(InvalidParameterError, match=r"'n'.*a\*b=12"):
        make_group("torus", 10, shape=(3, 4))


def test_make_group_rejects_shape_for_cyclic():
    with pytest.raises(InvalidParameterError, match=r"'shape'"):
        make_group("cyclic", 12, shape=(3, 4))


def test_make_group_rejects_missing_n():
    with pytest.raises(
        InvalidParameterError, match=r"^missing value for 'n': expected an integer"
    ):
        make_group("cyclic")


@pytest.mark.parametrize("n", [0, 1, 2])
def test_dihedral_rejects_small_n(n):
    with pytest.raises(InvalidParameterError, match=rf"'n'.*>= 3, got {n}"):
        dihedral(n)


def test_make_group_dihedral_rejects_n_2():
    with pytest.raises(InvalidParameterError, match=r"'n'.*>= 3, got 2"):
        make_group("dihedral", 2)


def test_elements_past_limit():
    with pytest.raises(
        LimitExceededError,
        match=r"'group': the symmetric group on 12 points has 479001600 elements, "
        r"more than the limit max_elements=1000",
    ):
        symmetric(12).elements(max_elements=1000)


def test_elements_default_limit_symmetric_20():
    with pytest.raises(LimitExceededError, match=r"2432902008176640000 elements"):
        symmetric(20).elements()


def test_generated_rejects_non_permutation():
    with pytest.raises(
        InvalidParameterError,
        match=r"'generators'.*permutation of range\(4\), got row 1 = \[0, 0, 1, 2\]",
    ):
        generated([[1, 0, 2, 3], [0, 0, 1, 2]])


def test_generated_rejects_unequal_lengths():
    with pytest.raises(InvalidParameterError, match=r"'generators'.*row 1"):
        generated([[1, 0, 2], [1, 0]])


def test_generated_rejects_empty_list():
    with pytest.raises(InvalidParameterError, match=r"'generators'"):
        generated([])


def test_generated_past_max_order():
    with pytest.raises(LimitExceededError, match=r"'generators'.*max_order=100\b"):
        generated(S5_GENERATORS, max_order=100)


def test_compose_rejects_length_mismatch():
    with pytest.raises(InvalidParameterError, match=r"'h'.*range\(3\)"):
        compose([1, 2, 0], [1, 0])


# Size limits ----------------------------------------------------------------------


@pytest.mark.parametrize("constructor", [trivial, cyclic, dihedral, symmetric])
def test_constructor_huge_n_rejected(constructor):
    n = 10**12
    with pytest.raises(
        LimitExceededError, match=rf"^invalid value for 'n': .*got {n}; use a smaller n"
    ):
        constructor(n)


def test_torus_huge_grid_rejected():
    with pytest.raises(LimitExceededError, match=rf"'n'.*got {10**10}"):
        torus(10**5, 10**5)


def test_make_group_huge_n_rejected():
    with pytest.raises(LimitExceededError, match=rf"at most {MAX_POINTS} points"):
        make_group("cyclic", MAX_POINTS + 1)


def test_symmetric_points_limit():
    with pytest.raises(
        LimitExceededError, match=rf"at most {MAX_SYMMETRIC_POINTS} points"
    ):
        symmetric(MAX_SYMMETRIC_POINTS + 1)


def test_points_limit_boundary(monkeypatch):
    monkeypatch.setattr(groups, "MAX_POINTS", 12)
    assert cyclic(12).order == 12
    assert torus(3, 4).order == 12
    with pytest.raises(LimitExceededError, match=r"at most 12 points.*got 13"):
        cyclic(13)


def test_make_group_missing_generators():
    with pytest.raises(
        InvalidParameterError, match=r"^missing value for 'generators': expected"
    ):
        make_group("generated")


def test_make_group_torus_missing_shape():
    with pytest.raises(
        InvalidParameterError,
        match=r"^missing value for 'shape': .*n=12 is not a perfect square",
    ):
        make_group("torus", 12)


def test_count_orbits_huge_binomial_rejected():
    with pytest.raises(LimitExceededError, match=r"'k'.*use k <= \d+ or k >= \d+"):
        cyclic(2**24).count_orbits(2**23)


def test_count_orbits_suggested_k_counts(monkeypatch):
    monkeypatch.setattr(groups, "MAX_COUNT_BITS", 2000)
    group = cyclic(4096)
    with pytest.raises(LimitExceededError) as error:
        group.count_orbits(2048)
    largest = int(re.search(r"use k <= (\d+)", str(error.value)).group(1))
    assert group.count_orbits(largest) > 0
    with pytest.raises(LimitExceededError):
        group.count_orbits(largest + 1)
