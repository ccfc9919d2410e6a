"""Tests for the ``degree-parity`` family."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.families import FAMILIES, base, degree_parity, make_family
from symhard.families.degree_parity import (
    CONFIDENCE,
    DegreeParity,
    check_adjacency,
    degree_window,
    estimate_max_bias,
    random_adjacency,
    smallest_n_with_window,
    walsh_hadamard,
)


@pytest.fixture
def family() -> DegreeParity:
    return DegreeParity(n=40, correlation_samples=4000, correlation_seed=1)


def expected_count(n: int, degree: int) -> float:
    """n * P(Binomial(n - 1, 1/2) = degree), from the binomial coefficient."""
    return n * math.comb(n - 1, degree) / 2 ** (n - 1)


def brute_force_labels(adj: np.ndarray, degrees: tuple[int, ...]) -> np.ndarray:
    labels = []
    for graph in adj:
        histogram = np.bincount(graph.sum(axis=1), minlength=len(graph))
        labels.append((-1.0) ** sum(histogram[i] for i in degrees))
    return np.array(labels)


def permute_nodes(adj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    permuted = np.empty_like(adj)
    for index, graph in enumerate(adj):
        order = rng.permutation(len(graph))
        permuted[index] = graph[np.ix_(order, order)]
    return permuted


# Window and family size ---------------------------------------------------------


@pytest.mark.parametrize("n", [25, 40, 64, 100])
def test_degree_window_matches_definition(n):
    expected = tuple(i for i in range(n) if expected_count(n, i) >= 4.0)
    assert degree_window(n, 4.0) == expected


def test_family_size_counts_nonempty_subsets(family):
    assert family.family_size == 2 ** len(family.window) - 1


@pytest.mark.parametrize("lambda_min", [0.5, 2.0, 4.0, 6.5])
def test_smallest_n_with_window_brute_force(lambda_min):
    smallest = next(
        n
        for n in itertools.count(2)
        if any(expected_count(n, i) >= lambda_min for i in range(n))
    )
    assert smallest_n_with_window(lambda_min) == smallest


def test_empty_window_names_smallest_n():
    smallest = smallest_n_with_window(4.0)
    with pytest.raises(
        InvalidParameterError, match=rf"'n': expected an integer >= {smallest} .*got 24"
    ):
        DegreeParity(n=24)


def test_smallest_accepted_n_builds():
    smallest = smallest_n_with_window(4.0)
    assert len(DegreeParity(n=smallest).window) >= 1


@pytest.mark.parametrize("value", [0, -1.0])
def test_nonpositive_lambda_min_rejected(value):
    with pytest.raises(
        InvalidParameterError, match=r"'lambda_min': expected a number in \(0, 1e\+06\]"
    ):
        DegreeParity(n=40, lambda_min=value)


def test_registered_and_built_from_strings():
    family = make_family("degree-parity", {"n": "40", "lambda_min": "3.5"})
    assert FAMILIES["degree-parity"] is DegreeParity
    assert family.lambda_min == 3.5
    assert family.window == degree_window(40, 3.5)


# Members --------------------------------------------------------------------------


def test_member_mask_and_degrees_agree(family):
    # Window (18, 19, 20, 21): bit 0 is degree 18, bit 2 is degree 20.
    assert family.member_degrees(5) == (family.window[0], family.window[2])
    assert family.member_mask([family.window[2], family.window[0]]) == 5


def test_member_from_strings(family):
    assert family.member_mask("5") == 5
    assert family.member_mask(f"{family.window[0]},{family.window[2]}") == 5


@pytest.mark.parametrize("member", [0, 16, [17], [18, 18], [], "x", True])
def test_invalid_member_rejected(family, member):
    with pytest.raises(InvalidParameterError, match=r"'member': expected a bitmask"):
        family.member_mask(member)


def test_random_member_covers_every_subset():
    family = DegreeParity(n=26)
    rng = np.random.default_rng(0)
    members = {family.random_member(rng) for _ in range(200)}
    assert members == set(range(1, family.family_size + 1))


# Data and labels -----------------------------------------------------------------


def test_sample_is_simple_graph(family):
    adj = family.sample(50, seed=2)["adj"]
    assert adj.dtype == np.uint8
    assert adj.shape == (50, 40, 40)
    assert np.array_equal(adj, adj.transpose(0, 2, 1))
    assert not np.diagonal(adj, axis1=1, axis2=2).any()


def test_sample_edge_density_half():
    adj = random_adjacency(400, 30, np.random.default_rng(3))
    upper = adj[:, np.triu_indices(30, k=1)[0], np.triu_indices(30, k=1)[1]]
    # 174,000 fair bits: the standard deviation of their mean is about 0.0012.
    assert abs(upper.mean() - 0.5) < 0.006


def test_sample_labels_match_histogram_formula(family):
    arrays = family.sample(200, member=11, seed=4)
    expected = brute_force_labels(arrays["adj"], family.member_degrees(11))
    assert np.array_equal(arrays["y"], expected)


def test_sample_same_seed_same_bytes(family):
    first = family.sample(20, seed=5)
    second = family.sample(20, seed=5)
    assert first["adj"].tobytes() == second["adj"].tobytes()
    assert np.array_equal(first["y"], second["y"])


def test_labels_invariant_under_node_permutation(family):
    adj = family.sample(100, seed=6)["adj"]
    permuted = permute_nodes(adj, np.random.default_rng(7))
    for member in range(1, family.family_size + 1):
        original = family.evaluate({"adj": adj}, member=member)
        relabeled = family.evaluate({"adj": permuted}, member=member)
        assert np.array_equal(relabeled, original)


def test_labels_balanced_for_every_member(family):
    adj = family.sample(4000, seed=8)["adj"]
    for member in range(1, family.family_size + 1):
        # The bias is about 1e-4; 4000 samples give a standard deviation of 0.016.
        assert abs(family.evaluate({"adj": adj}, member=member).mean()) < 0.08


def test_task_sampler_shapes_and_labels(family):
    task = family.task(6)
    (adj, x), y = task.sample(32, torch.Generator().manual_seed(9))
    assert adj.shape == (32, 40, 40)
    assert x.shape == (32, 40, 1)
    assert torch.equal(x, torch.ones_like(x))
    expected = family.evaluate({"adj": adj.to(torch.uint8).numpy()}, member=6)
    assert np.array_equal(y.numpy(), expected.astype(np.float32))


# Input checks -------------------------------------------------------------------


def valid_adjacency(family: DegreeParity) -> np.ndarray:
    return family.sample(2, seed=10)["adj"].copy()


def test_evaluate_rejects_wrong_shape(family):
    with pytest.raises(InvalidParameterError, match=r"'adj'.*\(num, 40, 40\)"):
        family.evaluate({"adj": np.zeros((2, 39, 39))})


def test_evaluate_rejects_non_binary_entry(family):
    adj = valid_adjacency(family)
    adj[1, 3, 5] = adj[1, 5, 3] = 2
    with pytest.raises(InvalidParameterError, match=r"'adj'.*0 or 1.*adj\[1, 3, 5\]"):
        family.evaluate({"adj": adj})


def test_evaluate_rejects_asymmetric(family):
    adj = valid_adjacency(family)
    adj[0, 2, 7] = 1 - adj[0, 7, 2]
    with pytest.raises(
        InvalidParameterError, match=r"'adj'.*symmetric.*adj\[0, 2, 7\]"
    ):
        family.evaluate({"adj": adj})


def test_evaluate_rejects_self_loop(family):
    adj = valid_adjacency(family)
    adj[1, 4, 4] = 1
    with pytest.raises(InvalidParameterError, match=r"'adj'.*diagonal.*adj\[1, 4, 4\]"):
        family.evaluate({"adj": adj})


def test_evaluate_requires_adj_entry(family):
    with pytest.raises(InvalidParameterError, match="'arrays'.*'adj'"):
        family.evaluate({"x": np.zeros((1, 40))})


def test_check_adjacency_accepts_float_input(family):
    adj = valid_adjacency(family).astype(np.float32)
    assert check_adjacency(adj, 40).dtype == np.uint8


# Teacher ----------------------------------------------------------------------------


def teacher_output(family: DegreeParity, member: int, adj: np.ndarray) -> np.ndarray:
    teacher = family.teacher(member)
    adjacency = torch.from_numpy(adj).double()
    ones = torch.ones(len(adj), family.n, 1, dtype=torch.float64)
    with torch.no_grad():
        return teacher(adjacency, ones).numpy()


def test_teacher_equals_labels_exactly_every_member(family):
    adj = family.sample(300, seed=11)["adj"]
    for member in range(1, family.family_size + 1):
        labels = family.evaluate({"adj": adj}, member=member)
        assert np.array_equal(teacher_output(family, member, adj), labels)


def test_teacher_exact_on_larger_graphs():
    family = DegreeParity(n=90)
    member = family.random_member(np.random.default_rng(12))
    adj = family.sample(100, member=member, seed=13)["adj"]
    labels = family.evaluate({"adj": adj}, member=member)
    assert np.array_equal(teacher_output(family, member, adj), labels)


def test_teacher_exact_on_extreme_graphs(family):
    # Empty and complete graphs put every node outside the window (degree 0 or
    # n - 1), so s_T = 0 and the label is +1.
    empty = np.zeros((1, 40, 40), dtype=np.uint8)
    complete = 1 - np.eye(40, dtype=np.uint8)[None]
    adj = np.concatenate([empty, complete])
    assert np.array_equal(teacher_output(family, 15, adj), [1.0, 1.0])


def test_teacher_invariant_under_node_permutation(family):
    adj = family.sample(60, seed=14)["adj"]
    permuted = permute_nodes(adj, np.random.default_rng(15))
    expected = teacher_output(family, 9, adj)
    assert np.array_equal(teacher_output(family, 9, permuted), expected)


def test_teacher_width_matches_info(family):
    teacher = family.teacher(3)
    assert teacher.layers[0].mlp.first.out_features == family.teacher_width
    assert family.info()["teacher_hidden_units"] == max(len(family.window) + 2, 43)


def test_make_learner_runs_on_task_inputs(family):
    model = family.make_learner("gin-dense", width=8, depth=1)
    (adj, x), _ = family.task(1).sample(4, torch.Generator().manual_seed(16))
    assert model(adj, x).shape == (4,)


# Correlation ------------------------------------------------------------------------


def test_walsh_hadamard_matches_brute_force():
    values = np.random.default_rng(17).integers(0, 9, size=16)
    expected = [
        sum(values[x] * (-1) ** bin(x & mask).count("1") for x in range(16))
        for mask in range(16)
    ]
    assert np.array_equal(walsh_hadamard(values), expected)


def test_walsh_hadamard_rejects_non_power_of_two():
    with pytest.raises(InvalidParameterError, match="'values'.*power of 2.*got 6"):
        walsh_hadamard(np.ones(6))


def test_estimate_max_bias_matches_direct_computation():
    n, samples, seed = 30, 3000, 18
    window = degree_window(n, 4.0)
    estimate = estimate_max_bias(n, window, n_samples=samples, seed=seed)
    adj = random_adjacency(samples, n, np.random.default_rng(seed))
    biases = {
        subset: brute_force_labels(adj, subset).mean()
        for size in range(1, len(window) + 1)
        for subset in itertools.combinations(window, size)
    }
    best = max(biases, key=lambda subset: abs(biases[subset]))
    assert estimate.exhaustive
    assert estimate.n_subsets == 2 ** len(window) - 1
    assert estimate.max_abs_bias == pytest.approx(abs(biases[best]), abs=1e-12)
    assert estimate.argmax_degrees == best


def test_estimate_interval_is_hoeffding_union_bound():
    estimate = estimate_max_bias(30, degree_window(30, 4.0), n_samples=2000, seed=19)
    delta = 1 - CONFIDENCE
    half = math.sqrt(2 * math.log(2 * estimate.n_subsets / delta) / 2000)
    assert estimate.half_width == pytest.approx(half)
    assert estimate.high == pytest.approx(min(1.0, estimate.max_abs_bias + half))
    assert estimate.low == pytest.approx(max(0.0, estimate.max_abs_bias - half))


def test_central_window_has_large_bias():
    # The window |i - (n-1)/2| <= sqrt(n) at n=80 reaches degrees whose expected
    # count is near 1, so their counts are often 0 and the parity is biased.
    n = 80
    center = (n - 1) / 2
    window = tuple(i for i in range(n) if abs(i - center) <= math.sqrt(n))
    lowest = min(expected_count(n, i) for i in window)
    estimate = estimate_max_bias(n, window, n_samples=6000, seed=20)
    assert len(window) > 16
    assert not estimate.exhaustive
    assert lowest < 1.5
    assert estimate.low > 0.05


def test_expected_count_window_has_small_bias():
    family = DegreeParity(n=80, correlation_samples=6000, correlation_seed=21)
    estimate = family.bias_estimate()
    assert estimate.exhaustive
    # Only sampling noise: the interval must contain 0.
    assert estimate.low == 0.0


def test_correlation_certificate_uses_interval_high(family):
    certificate = family.correlation()
    assert certificate.method == "monte-carlo"
    assert certificate.gamma == certificate.interval[1]
    assert f"all {family.family_size} nonempty subsets" in certificate.detail


def test_correlation_cached_per_settings(family):
    first = family.bias_estimate()
    again = DegreeParity(n=40, correlation_samples=4000, correlation_seed=1)
    assert again.bias_estimate() is first
    other = DegreeParity(n=40, correlation_samples=4000, correlation_seed=2)
    assert other.bias_estimate() is not first


def test_bound_info_uses_family_size(family):
    info = family.bound_info(0.5)
    gamma = family.correlation().gamma
    m = family.family_size
    assert info["csq_lower_bound"] == pytest.approx(
        (m - 2) * 0.25 / (1 + (m - 1) * gamma)
    )


def test_info_lists_window_and_counts(family):
    info = family.info()
    assert info["window"] == list(family.window)
    assert info["expected_counts"] == pytest.approx(
        [expected_count(40, i) for i in family.window]
    )
    assert min(info["expected_counts"]) >= 4.0


# Large sizes, missing values and plain messages -------------------------------------


def test_gamma_huge_n_rejected():
    family = DegreeParity(n=100_000)
    # 100,000 graphs of n^2 adjacency bits within 3e10 bits.
    largest = math.isqrt(3 * 10**10 // 100_000)
    with pytest.raises(
        LimitExceededError,
        match=rf"^invalid value for 'n': .*n=100000 .*use n <= {largest}$",
    ):
        family.correlation()


def test_gamma_suggests_fewer_samples():
    family = DegreeParity(n=1000)
    fewer = 3 * 10**10 // 1000**2
    with pytest.raises(
        LimitExceededError,
        match=rf"^invalid value for 'correlation_samples': estimating gamma from "
        rf"100000 .*correlation_samples <= {fewer} \(a wider interval\) or n <= 547$",
    ):
        family.bound_info(0.01)


def test_gamma_graph_memory_rejected(monkeypatch):
    # Sampling one graph uses 3 bytes per adjacency entry.
    monkeypatch.setattr(degree_parity, "memory_limit_bytes", lambda: 3 * 200 * 200)
    family = DegreeParity(n=201, correlation_samples=1)
    with pytest.raises(
        LimitExceededError, match=r"^invalid value for 'n': .*n=201 .*use n <= 200$"
    ):
        family.bias_estimate()


def test_sample_one_graph_too_large(monkeypatch):
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 2**20)
    family = DegreeParity(n=1000)
    with pytest.raises(
        LimitExceededError, match=r"'num'.*even one sample does not fit.*smaller n$"
    ):
        family.sample(1, seed=0)


def test_sample_memory_limit_suggests_count(monkeypatch):
    family = DegreeParity(n=30)
    # Three uint8 copies of adj and the packed bits while sampling, then the
    # degrees, labels and their temporaries: 17 n + 16 bytes.
    per_graph = 3 * 900 + (900 + 7) // 8 + 17 * 30 + 16
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 20 * per_graph)
    assert family.sample(20, seed=0)["adj"].shape == (20, 30, 30)
    with pytest.raises(LimitExceededError, match=r"use at most 20 samples"):
        family.sample(21, seed=0)


def test_make_family_missing_n():
    # The smallest n with n * P(Binomial(n - 1, 1/2) = mode) >= 4, by counting up.
    n = 2
    while n * math.comb(n - 1, (n - 1) // 2) < 4 * 2 ** (n - 1):
        n += 1
    with pytest.raises(
        InvalidParameterError,
        match=rf"^missing value for 'n': expected an integer >= {n}$",
    ):
        make_family("degree-parity", {})


def test_lambda_min_huge_rejected():
    with pytest.raises(InvalidParameterError, match=r"'lambda_min'.*got 1e\+300"):
        DegreeParity(n=30, lambda_min=1e300)


def test_check_adjacency_entry_plain():
    adj = np.zeros((2, 5, 5), dtype=np.uint8)
    adj[1, 2, 3] = adj[1, 3, 2] = 2
    with pytest.raises(
        InvalidParameterError, match=r"got adj\[1, 2, 3\] = 2$"
    ) as raised:
        check_adjacency(adj, 5)
    assert "np." not in str(raised.value)


def test_check_adjacency_asymmetric_plain():
    adj = np.zeros((1, 5, 5))
    adj[0, 1, 4] = 1.0
    with pytest.raises(
        InvalidParameterError,
        match=r"symmetric matrix, got adj\[0, 1, 4\] = 1\.0 but adj\[0, 4, 1\] = 0\.0$",
    ):
        check_adjacency(adj, 5)


def test_check_adjacency_diagonal_plain():
    adj = np.zeros((1, 5, 5), dtype=np.int64)
    adj[0, 3, 3] = 1
    with pytest.raises(
        InvalidParameterError, match=r"zero diagonal, got adj\[0, 3, 3\] = 1$"
    ):
        check_adjacency(adj, 5)


def test_check_adjacency_chunks_report_batch_index(monkeypatch):
    monkeypatch.setattr(degree_parity, "_CHECK_CHUNK_ENTRIES", 25)
    adj = random_adjacency(4, 5, np.random.default_rng(0))
    adj[2, 0, 0] = 1
    with pytest.raises(InvalidParameterError, match=r"got adj\[2, 0, 0\] = 1$"):
        check_adjacency(adj, 5)


def test_check_adjacency_uint8_not_copied():
    adj = random_adjacency(3, 6, np.random.default_rng(1))
    assert check_adjacency(adj, 6) is adj


def test_check_adjacency_text_rejected():
    with pytest.raises(InvalidParameterError, match=r"'adj'.*numeric.*got '<U1'"):
        check_adjacency(np.full((1, 2, 2), "a"), 2)
