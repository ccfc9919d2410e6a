"""Tests for the parity-relu family: norms, orthogonality, invariance, teachers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch

from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.families import base, make_family
from symhard.families.parity_relu import ParityReLU, _sign_patterns
from symhard.groups import PermutationGroup, generated, make_group
from symhard.learners import CircularCNN, GroupAveragedMLP
from symhard.ridge import RidgeSum, gram_matrix

pytestmark = pytest.mark.usefixtures("torch_single_thread")


# Squared norms of f_S for ReLU before normalization, rounded to 7 decimals: the
# family's documented check values.
DOCUMENTED_NORM_SQ = {2: 0.7267605, 4: 0.3030165, 6: 0.4292328}

Z_999 = scipy.stats.norm.ppf(0.9995)

REFERENCE_ACTIVATIONS = {
    "relu": lambda t: np.maximum(t, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda t: 1.0 / (1.0 + np.exp(-t)),
    "gelu": lambda t: t * scipy.stats.norm.cdf(t),
    "softplus": lambda t: np.logaddexp(0.0, t),
}

# (0 1 2)(3 4 5) on 6 points: a group of order 3 that is not transitive.
TWO_TRIANGLES = [[1, 2, 0, 4, 5, 3]]


def sign_patterns(k: int) -> np.ndarray:
    return np.array(list(itertools.product((-1.0, 1.0), repeat=k)))


def reference_parity(
    x: np.ndarray, subset: tuple[int, ...], activation: str = "relu"
) -> np.ndarray:
    """Evaluate f_S(x) = sum_w prod(w) sigma(<w, x_S> / sqrt(k)) term by term."""
    signs = sign_patterns(len(subset))
    projections = x[:, list(subset)] @ signs.T / math.sqrt(len(subset))
    return REFERENCE_ACTIVATIONS[activation](projections) @ signs.prod(axis=1)


def relu_arc_cosine(cosine: float) -> float:
    """E[relu(<u, z>) relu(<v, z>)] for unit vectors u, v with the given cosine."""
    angle = math.acos(max(-1.0, min(1.0, cosine)))
    return (math.sin(angle) + (math.pi - angle) * cosine) / (2 * math.pi)


def relu_norm_sq_by_hamming_distance(k: int) -> float:
    """Sum kappa over pairs (w, w') of sign patterns, grouped by Hamming distance.

    A pair at distance d has prod(w) prod(w') = (-1)^d and cosine 1 - 2d/k, and
    there are 2^k C(k, d) such pairs.
    """
    return 2**k * sum(
        math.comb(k, d) * (-1) ** d * relu_arc_cosine(1 - 2 * d / k)
        for d in range(k + 1)
    )


def brute_force_canonical_subsets(
    group: PermutationGroup, k: int
) -> list[tuple[int, ...]]:
    """List the smallest image of every k-subset's orbit, in lexicographic order."""
    elements = group.elements()
    canonical = set()
    for subset in itertools.combinations(range(group.n), k):
        images = [tuple(sorted(int(g[i]) for i in subset)) for g in elements]
        canonical.add(min(images))
    return sorted(canonical)


def group_lift(
    x: np.ndarray, subset: tuple[int, ...], group: PermutationGroup
) -> np.ndarray:
    """Average f_S(g x) over a literal loop on the group's elements."""
    values = [reference_parity(group.act(g, x), subset) for g in group.elements()]
    return np.mean(values, axis=0)


FAMILY_CASES = {
    "cyclic": dict(n=8, k=4, group="cyclic"),
    "dihedral": dict(n=8, k=4, group="dihedral"),
    "torus": dict(n=12, k=2, group="torus", shape="3x4"),
    "trivial": dict(n=6, k=2, group="trivial"),
    "generated": dict(n=6, k=2, group=generated(TWO_TRIANGLES)),
}
FAMILY_PARAMS = [pytest.param(case, id=key) for key, case in FAMILY_CASES.items()]


# Norms --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 4, 6])
def test_base_norm_sq_matches_hamming_sum(k):
    family = ParityReLU(n=k, k=k)
    expected = relu_norm_sq_by_hamming_distance(k)
    assert family.base_norm_sq == pytest.approx(expected, abs=1e-12)


def test_base_norm_sq_k2_closed_form():
    # 4 (kappa(1) - 2 kappa(0) + kappa(-1)) = 4 (1/2 - 1/pi + 0).
    family = ParityReLU(n=2, k=2)
    assert family.base_norm_sq == pytest.approx(2 - 4 / math.pi, abs=1e-14)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_base_norm_sq_documented_value(k):
    family = ParityReLU(n=k, k=k)
    assert round(family.base_norm_sq, 7) == DOCUMENTED_NORM_SQ[k]


@pytest.mark.parametrize("k", [2, 4, 6])
def test_base_norm_sq_within_monte_carlo(k):
    rng = np.random.default_rng(100 + k)
    squares = np.concatenate(
        [
            reference_parity(rng.standard_normal((100_000, k)), tuple(range(k))) ** 2
            for _ in range(4)
        ]
    )
    mean = squares.mean()
    half_width = Z_999 * squares.std(ddof=1) / math.sqrt(squares.size)
    assert abs(ParityReLU(n=k, k=k).base_norm_sq - mean) <= half_width


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_member_ridge_unit_norm_exact(case):
    family = ParityReLU(**case)
    for member in range(min(family.family_size, 4)):
        norm_sq = family.member_ridge(member).norm_sq()
        assert norm_sq == pytest.approx(1.0, abs=1e-12), member


@pytest.mark.parametrize("group", ["cyclic", "dihedral"])
def test_member_unit_norm_monte_carlo(group):
    family = ParityReLU(n=8, k=4, group=group)
    x = np.random.default_rng(11).standard_normal((200_000, 8))
    squares = family.evaluate({"x": x}, member=2) ** 2
    half_width = Z_999 * squares.std(ddof=1) / math.sqrt(squares.size)
    assert abs(squares.mean() - 1.0) <= half_width


# Orthogonality and family size ----------------------------------------------------


@pytest.mark.parametrize("group", ["cyclic", "dihedral"])
def test_members_orthonormal_exact(group):
    family = ParityReLU(n=8, k=4, group=group)
    ridges = [family.member_ridge(i) for i in range(family.family_size)]
    gram = gram_matrix(ridges)
    np.testing.assert_allclose(gram, np.eye(len(ridges)), rtol=0, atol=1e-12)


def test_correlation_certificate_exact_zero():
    certificate = ParityReLU(n=8, k=4).correlation()
    assert certificate.gamma == 0.0
    assert certificate.method == "exact"
    assert certificate.interval is None


def test_csq_lower_bound_formula():
    family = ParityReLU(n=10, k=4, group="cyclic")
    # gamma = 0, so the bound is (m - 2) tau^2.
    expected = (family.family_size - 2) * 0.1**2
    assert family.csq_lower_bound(0.1) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_family_size_counts_orbits(case):
    family = ParityReLU(**case)
    assert family.family_size == family.group.count_orbits(family.k)
    brute_force = brute_force_canonical_subsets(family.group, family.k)
    assert family.family_size == len(brute_force)


def test_family_size_symmetric_group_one():
    family = ParityReLU(n=7, k=4, group="symmetric")
    assert family.family_size == 1


# Members: indices and subsets -----------------------------------------------------


@pytest.mark.parametrize(
    ("group", "k", "activation"),
    [
        (make_group("cyclic", 8), 4, "relu"),
        (make_group("dihedral", 8), 3, "tanh"),
        (make_group("torus", shape=(2, 3)), 2, "relu"),
        (make_group("trivial", 6), 3, "sigmoid"),
        (generated(TWO_TRIANGLES), 2, "relu"),
        (make_group("symmetric", 5), 2, "relu"),
    ],
    ids=["cyclic", "dihedral", "torus", "trivial", "generated", "symmetric"],
)
def test_member_subset_lexicographic_canonical(group, k, activation):
    family = ParityReLU(n=group.n, k=k, group=group, activation=activation)
    subsets = [family.member_subset(i) for i in range(family.family_size)]
    assert subsets == brute_force_canonical_subsets(group, k)


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_member_index_and_subset_agree(case, rng):
    family = ParityReLU(**case)
    x = rng.standard_normal((64, family.n))
    member = family.family_size - 1
    subset = family.member_subset(member)
    image = family.group.act_on_set(family.group.random_element(rng), subset)
    by_index = family.evaluate({"x": x}, member=member)
    np.testing.assert_array_equal(family.evaluate({"x": x}, member=subset), by_index)
    np.testing.assert_array_equal(family.evaluate({"x": x}, member=image), by_index)


def test_member_description_fields():
    family = ParityReLU(n=8, k=4, group="cyclic")
    description = family.member_description((1, 3, 5, 7))
    assert description["subset"] == [0, 2, 4, 6]
    # Rotating {0, 2, 4, 6} by one gives {1, 3, 5, 7}, and by two gives it back.
    assert description["orbit_size"] == 2


def test_random_member_is_canonical(rng):
    family = ParityReLU(n=9, k=4, group="dihedral")
    for _ in range(10):
        subset = family.random_member(rng)
        assert family.group.canonical(subset) == subset


# Values: invariance, the group lift and teachers ----------------------------------


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_evaluate_invariant_under_group(case, rng):
    family = ParityReLU(**case)
    x = rng.standard_normal((128, family.n))
    y = family.evaluate({"x": x}, member=1)
    for _ in range(5):
        g = family.group.random_element(rng)
        moved = family.evaluate({"x": family.group.act(g, x)}, member=1)
        np.testing.assert_allclose(moved, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_evaluate_matches_group_lift(case, rng):
    family = ParityReLU(**case)
    x = rng.standard_normal((128, family.n))
    subset = family.member_subset(1)
    orbit_size = len(
        {family.group.act_on_set(g, subset) for g in family.group.elements()}
    )
    # The lift averages |O| orthogonal f_S', so its squared norm is base / |O|.
    norm = math.sqrt(relu_norm_sq_by_hamming_distance(family.k) / orbit_size)
    expected = group_lift(x, subset, family.group) / norm
    np.testing.assert_allclose(
        family.evaluate({"x": x}, member=1), expected, atol=1e-12
    )


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_member_ridge_matches_evaluate(case, rng):
    family = ParityReLU(**case)
    x = rng.standard_normal((64, family.n))
    ridge_values = family.member_ridge(0)(x)
    np.testing.assert_allclose(ridge_values, family.evaluate({"x": x}), atol=1e-12)


@pytest.mark.parametrize("case", FAMILY_PARAMS)
def test_teacher_matches_evaluate(case, rng):
    family = ParityReLU(**case)
    x = rng.standard_normal((256, family.n))
    for member in range(min(family.family_size, 3)):
        teacher = family.teacher(member)
        with torch.no_grad():
            predicted = teacher(torch.from_numpy(x)).numpy()
        expected = family.evaluate({"x": x}, member=member)
        assert predicted.dtype == np.float64
        assert np.abs(predicted - expected).max() <= 1e-6 * np.abs(expected).max()


def test_teacher_cyclic_is_circular_cnn():
    teacher = ParityReLU(n=8, k=4, group="cyclic").teacher(0)
    assert isinstance(teacher, CircularCNN)
    assert teacher.conv.out_channels == 2**4


def test_teacher_dihedral_is_group_averaged():
    teacher = ParityReLU(n=8, k=4, group="dihedral").teacher(0)
    assert isinstance(teacher, GroupAveragedMLP)


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_teacher_other_activations(activation, rng):
    k = 3 if activation == "tanh" else 2
    family = ParityReLU(n=7, k=k, group="cyclic", activation=activation)
    x = rng.standard_normal((128, 7))
    with torch.no_grad():
        predicted = family.teacher(1)(torch.from_numpy(x)).numpy()
    expected = family.evaluate({"x": x}, member=1)
    assert np.abs(predicted - expected).max() <= 1e-6 * np.abs(expected).max()


# Zero functions -------------------------------------------------------------------

ZERO_PAIRS = [
    ("relu", 3),
    ("relu", 5),
    ("gelu", 3),
    ("softplus", 3),
    ("tanh", 2),
    ("tanh", 4),
    ("sigmoid", 2),
    ("sigmoid", 4),
]


@pytest.mark.parametrize(("activation", "k"), ZERO_PAIRS)
def test_zero_pairs_really_vanish(activation, k, rng):
    x = rng.standard_normal((256, k))
    values = reference_parity(x, tuple(range(k)), activation)
    assert np.abs(values).max() <= 1e-12


@pytest.mark.parametrize(("activation", "k"), ZERO_PAIRS)
def test_zero_pairs_rejected(activation, k):
    with pytest.raises(InvalidParameterError, match=f"'k'.*got {k}$"):
        ParityReLU(n=6, k=k, activation=activation)


def test_zero_pair_relu_message_suggests_fix():
    with pytest.raises(InvalidParameterError, match="even k.*activation=tanh"):
        ParityReLU(n=6, k=3)


def test_zero_pair_tanh_message_suggests_fix():
    with pytest.raises(InvalidParameterError, match="odd k.*activation=relu"):
        ParityReLU(n=6, k=2, activation="tanh")


@pytest.mark.parametrize(
    ("activation", "k"),
    [("relu", 1), ("relu", 2), ("tanh", 1), ("tanh", 3), ("sigmoid", 5), ("gelu", 4)],
)
def test_nonzero_pairs_accepted(activation, k):
    family = ParityReLU(n=6, k=k, activation=activation)
    assert family.base_norm_sq > 1e-3


# Argument errors ------------------------------------------------------------------


def test_k_above_n_rejected():
    with pytest.raises(InvalidParameterError, match=r"'k'.*\[1, n=3\].*got 4"):
        ParityReLU(n=3, k=4)


def test_k_below_one_rejected():
    with pytest.raises(InvalidParameterError, match=r"'k'.*\[1, n=3\].*got 0"):
        ParityReLU(n=3, k=0)


def test_unknown_group_lists_known():
    with pytest.raises(
        InvalidParameterError, match="'group'.*trivial, cyclic, dihedral.*'foo'"
    ):
        ParityReLU(n=4, k=2, group="foo")


def test_group_on_wrong_points_rejected():
    with pytest.raises(InvalidParameterError, match="'group'.*n=5"):
        ParityReLU(n=5, k=2, group=generated(TWO_TRIANGLES))


def test_unknown_activation_lists_known():
    with pytest.raises(InvalidParameterError, match="'activation'.*relu.*'elu'"):
        ParityReLU(n=4, k=2, activation="elu")


def test_bad_torus_shape_rejected():
    with pytest.raises(InvalidParameterError, match="'shape'.*AxB.*'3by4'"):
        ParityReLU(n=12, k=2, group="torus", shape="3by4")


@pytest.mark.parametrize("member", [10, -1])
def test_member_index_out_of_range(member):
    family = ParityReLU(n=8, k=4)
    with pytest.raises(InvalidParameterError, match=r"'member'.*= 9\], got -?\d+$"):
        family.member_subset(member)


@pytest.mark.parametrize(
    "member", [(0, 1, 2), (0, 0, 1, 2), (0, 1, 2, 8), (-1, 0, 1, 2), "abcd", 2.5]
)
def test_bad_subset_rejected(member):
    family = ParityReLU(n=8, k=4)
    with pytest.raises(InvalidParameterError, match=r"'member'.*4 distinct.*\[0, 7\]"):
        family.evaluate({"x": np.zeros((2, 8))}, member=member)


def test_memory_limit_exceeded():
    # The cyclic orbit of {0..7} on 40 points has 40 subsets of 2^8 units each:
    # 40 * 256 * 40 * 8 bytes, about 3 MiB.
    family = ParityReLU(n=40, k=8, memory_limit_mb=1)
    subset = tuple(range(8))
    with pytest.raises(LimitExceededError, match="'memory_limit_mb'.*limit of 1 MiB"):
        family.member_ridge(subset)
    with pytest.raises(LimitExceededError, match="'memory_limit_mb'"):
        family.evaluate({"x": np.zeros((2, 40))}, member=subset)


def test_memory_limit_rejects_zero():
    with pytest.raises(InvalidParameterError, match="'memory_limit_mb'.*>= 1"):
        ParityReLU(n=4, k=2, memory_limit_mb=0)


def test_evaluate_rejects_wrong_width():
    family = ParityReLU(n=8, k=4)
    with pytest.raises(InvalidParameterError, match=r"'x'.*\(num, 8\)"):
        family.evaluate({"x": np.zeros((3, 7))})


def test_evaluate_rejects_missing_x():
    family = ParityReLU(n=8, k=4)
    with pytest.raises(InvalidParameterError, match="entry 'x'"):
        family.evaluate({"inputs": np.zeros((3, 8))})


# Sampling, tasks and the registry -------------------------------------------------


def test_sample_same_seed_same_bytes():
    family = ParityReLU(n=8, k=4, group="dihedral")
    first = family.sample(100, member=3, seed=42)
    second = family.sample(100, member=3, seed=42)
    assert first["x"].tobytes() == second["x"].tobytes()
    assert first["y"].tobytes() == second["y"].tobytes()


def test_sample_different_seed_differs():
    family = ParityReLU(n=8, k=4)
    first = family.sample(10, seed=1)
    second = family.sample(10, seed=2)
    assert not np.array_equal(first["x"], second["x"])


def test_sample_shapes_and_dtypes():
    sample = ParityReLU(n=8, k=4).sample(33, seed=0)
    assert sample["x"].shape == (33, 8)
    assert sample["y"].shape == (33,)
    assert sample["x"].dtype == np.float64
    assert sample["y"].dtype == np.float64


def test_sample_labels_reproduced_by_evaluate():
    family = ParityReLU(n=12, k=2, group="torus", shape="3x4")
    sample = family.sample(50, member=2, seed=9)
    np.testing.assert_array_equal(family.evaluate(sample, member=2), sample["y"])


def test_sample_rejects_zero_count():
    with pytest.raises(InvalidParameterError, match="'num'.*>= 1.*got 0"):
        ParityReLU(n=8, k=4).sample(0, seed=0)


def test_task_matches_evaluate_float32():
    family = ParityReLU(n=8, k=4, group="dihedral")
    task = family.task(2)
    x, y = task.sample(500, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32
    assert y.shape == (500,)
    expected = family.evaluate({"x": x.double().numpy()}, member=2)
    assert np.abs(y.double().numpy() - expected).max() <= 1e-5 * np.abs(expected).max()


def test_task_same_generator_seed_same_data():
    task = ParityReLU(n=8, k=4).task(1)
    first = task.sample(64, torch.Generator().manual_seed(3))
    second = task.sample(64, torch.Generator().manual_seed(3))
    assert torch.equal(first[0], second[0])
    assert torch.equal(first[1], second[1])


def test_info_keys_and_values():
    family = ParityReLU(n=8, k=4, group="dihedral")
    info = family.info()
    expected_keys = {
        "family",
        "params",
        "group_order",
        "family_size",
        "norm_sq",
        "norm_sq_method",
        "architecture",
        "teacher_hidden_units",
    }
    assert expected_keys <= set(info)
    assert info["family"] == "parity-relu"
    assert info["group_order"] == 16
    assert info["family_size"] == family.family_size
    assert info["norm_sq"] == family.base_norm_sq
    assert info["teacher_hidden_units"] == 2**4


def test_make_family_from_strings():
    family = make_family("parity-relu", {"n": "8", "k": "4", "group": "dihedral"})
    assert isinstance(family, ParityReLU)
    assert family.family_size == ParityReLU(n=8, k=4, group="dihedral").family_size


# Large k and large samples ---------------------------------------------------------


def relu_norm_error_bound(k: int) -> float:
    """(sum of |terms|) / |sum of terms| times 2^-52 for the Hamming-distance sum."""
    terms = [
        math.comb(k, d) * (-1) ** d * relu_arc_cosine(1 - 2 * d / k)
        for d in range(k + 1)
    ]
    return sum(abs(term) for term in terms) / abs(sum(terms)) * 2.0**-52


VALID_SMALL_K = [
    ("relu", 1),
    ("relu", 2),
    ("relu", 4),
    ("relu", 8),
    ("tanh", 1),
    ("tanh", 3),
    ("sigmoid", 5),
    ("gelu", 4),
    ("softplus", 2),
]


@pytest.mark.parametrize(("activation", "k"), VALID_SMALL_K)
def test_base_norm_sq_matches_all_unit_pairs(activation, k):
    # The ridge sum with all 2^k units, whose norm sums all 4^k kernel values.
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=k)))
    ridge = RidgeSum(signs / math.sqrt(k), signs.prod(axis=1), activation)
    family = ParityReLU(n=k, k=k, activation=activation)
    assert family.base_norm_sq == pytest.approx(ridge.norm_sq(), rel=1e-10)


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_sign_patterns_itertools_order(k):
    expected = np.array(list(itertools.product((-1.0, 1.0), repeat=k)))
    np.testing.assert_array_equal(_sign_patterns(k), expected)


def test_norm_error_bound_crosses_between_22_and_24():
    # The family allows a relative error bound of 1e-6 on the norm.
    assert relu_norm_error_bound(22) <= 1e-6
    assert relu_norm_error_bound(24) > 1e-6


def test_base_norm_sq_k22_accepted():
    family = ParityReLU(n=22, k=22)
    assert family.base_norm_sq == pytest.approx(
        relu_norm_sq_by_hamming_distance(22), rel=1e-6
    )


def test_base_norm_sq_k24_rejected():
    family = ParityReLU(n=30, k=24)
    with pytest.raises(
        LimitExceededError, match=r"^invalid value for 'k': .* at k=24 .*use k <= 22"
    ):
        _ = family.base_norm_sq


def test_info_huge_k_rejected():
    family = make_family("parity-relu", {"n": "60", "k": "30"})
    with pytest.raises(LimitExceededError, match=r"'k'.*k=30.*use k <= 22"):
        family.info()


def test_base_norm_sq_k_past_float_range_rejected():
    family = ParityReLU(n=2000, k=1000, group="trivial")
    with pytest.raises(LimitExceededError, match=r"k=1000 .*too large for float64"):
        _ = family.base_norm_sq


def test_base_norm_sq_tanh_limit_names_activation():
    family = ParityReLU(n=5, k=5, activation="tanh")
    with pytest.raises(
        LimitExceededError, match=r"'k'.*k=5 .*use k <= 3 with activation=tanh"
    ):
        _ = family.base_norm_sq


def test_teacher_memory_rejected_before_allocation():
    family = ParityReLU(n=40, k=20, memory_limit_mb=100)
    with pytest.raises(
        LimitExceededError, match=r"'memory_limit_mb'.*1048576 hidden units on n=40"
    ):
        family.teacher(member=tuple(range(20)))


def test_sample_huge_num_rejected(monkeypatch):
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 2**30)
    family = ParityReLU(n=12, k=4)
    with pytest.raises(LimitExceededError, match=r"^invalid value for 'num': 10{11} "):
        family.sample(10**11, seed=0)


def test_sample_limit_suggests_count_that_fits(monkeypatch):
    # 8 bytes for each of n = 12 entries of x, y and a copy of y.
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 8 * 14 * 50)
    family = ParityReLU(n=12, k=4)
    with pytest.raises(LimitExceededError, match=r"use at most 50 samples"):
        family.sample(51, seed=0)
    assert family.sample(50, seed=0)["x"].shape == (50, 12)


def test_make_family_missing_k():
    with pytest.raises(
        InvalidParameterError,
        match=r"^missing value for 'k': expected an integer in \[1, n=8\]$",
    ):
        make_family("parity-relu", {"n": "8"})
