"""Tests for the subspace-relu family: the plain family and its GNN and group lifts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats
import torch

from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.families import FAMILIES, base, make_family
from symhard.families.subspace_relu import (
    SubspaceReLU,
    alternating_units,
    normalized_aggregation,
)
from symhard.gram import exact_gram_certificate
from symhard.groups import make_group
from symhard.learners import CircularCNN, GroupAveragedMLP

Z_999 = scipy.stats.norm.ppf(0.9995)


def reference_f(y: np.ndarray, m: int) -> np.ndarray:
    """F(y) = sum_j (-1)^j relu(<u_j, y>), written out from the definition."""
    total = np.zeros(len(y))
    for j in range(2 * m):
        angle = math.pi * j / m
        total += (-1) ** j * np.maximum(
            y[:, 0] * math.cos(angle) + y[:, 1] * math.sin(angle), 0
        )
    return total


def teacher_output(family: SubspaceReLU, model: torch.nn.Module, arrays) -> np.ndarray:
    with torch.no_grad():
        if family.lift == "gnn":
            return model(
                torch.from_numpy(arrays["adj"]), torch.from_numpy(arrays["x"])
            ).numpy()
        return model(torch.from_numpy(arrays["x"])).numpy()


FAMILY_SETTINGS = {
    "none": {"d": 6},
    "gnn-cycle": {"d": 4, "lift": "gnn", "n": 5},
    "gnn-erdos-renyi": {"d": 4, "lift": "gnn", "n": 6, "graph": "erdos-renyi"},
    "group-cyclic": {"d": 6, "lift": "group"},
    "group-dihedral": {"d": 5, "lift": "group", "group": "dihedral"},
}


# F itself -------------------------------------------------------------------------


@pytest.mark.parametrize("m", [2, 4, 6])
def test_f_has_no_low_angular_frequencies(m):
    # F = r h(theta); the Fourier coefficients of h below frequency m vanish, and
    # the one at m does not. The trapezoid rule on 2^16 points is exact to ~1e-9
    # for this piecewise smooth periodic h.
    theta = np.linspace(0, 2 * np.pi, 2**16, endpoint=False)
    h = reference_f(np.stack([np.cos(theta), np.sin(theta)], axis=1), m)
    coefficients = np.abs(np.fft.rfft(h)) / len(theta)
    assert coefficients[:m].max() < 1e-8
    assert coefficients[m] > 1e-2


def test_alternating_units_match_definition():
    directions, coefficients = alternating_units(4)
    y = np.random.default_rng(0).standard_normal((50, 2))
    values = np.maximum(y @ directions.T, 0) @ coefficients
    assert np.allclose(values, reference_f(y, 4), rtol=0, atol=1e-14)


def test_norm_sq_matches_monte_carlo():
    family = SubspaceReLU(d=2, planes=1)
    y = np.random.default_rng(11).standard_normal((1_000_000, 2))
    squares = reference_f(y, 4) ** 2
    half_width = Z_999 * squares.std() / math.sqrt(len(squares))
    assert abs(family.info()["norm_sq"] - squares.mean()) <= half_width


def test_m_one_members_are_linear(rng):
    family = SubspaceReLU(d=5, m=1, planes=3)
    x = rng.standard_normal((10, 5))
    expected = x @ family.frames[2][:, 0]
    assert np.allclose(family.evaluate({"x": x}, member=2), expected, atol=1e-14)


@pytest.mark.parametrize("m", [3, 5])
def test_odd_m_rejected(m):
    with pytest.raises(InvalidParameterError, match=f"'m'.*use an even m.*got {m}"):
        SubspaceReLU(d=4, m=m)


# Correlations ---------------------------------------------------------------------


def test_mean_correlation_check_values_and_decay():
    # Mean |corr| for m = 4 and independent random planes is about 4.8e-3 at d=16,
    # 2.7e-4 at d=64 and 1.5e-5 at d=256, decaying like d^(-m/2).
    expected = {16: 4.8e-3, 64: 2.7e-4, 256: 1.5e-5}
    means = {}
    for d, value in expected.items():
        means[d] = SubspaceReLU(d=d, planes=200, seed=3).gram_certificate().mean_abs
        assert value / 2 < means[d] < value * 2
    slope = math.log(means[256] / means[16]) / math.log(256 / 16)
    assert -2.4 < slope < -1.7


def test_correlation_below_operator_norm_power():
    family = SubspaceReLU(d=3, planes=30, seed=2)
    gram = exact_gram_certificate(family.frames, family.template, return_gram=True).gram
    frames = family.frames
    overlaps = np.linalg.norm(
        np.einsum("adk,bdl->abkl", frames, frames), ord=2, axis=(2, 3)
    )
    pairs = np.triu_indices(30, k=1)
    assert np.all(np.abs(gram[pairs]) <= overlaps[pairs] ** 4 + 1e-12)
    # The bound is not vacuous here: some pairs are strongly correlated.
    assert np.abs(gram[pairs]).max() > 0.1


def test_correlation_certificate_is_exact_maximum():
    family = SubspaceReLU(d=4, planes=12, seed=1, lift="gnn", n=4)
    certificate = family.correlation()
    gram = exact_gram_certificate(family.frames, family.template, return_gram=True).gram
    expected = np.abs(gram[np.triu_indices(12, k=1)]).max()
    assert certificate.method == "exact"
    assert certificate.gamma == pytest.approx(expected, abs=1e-15)
    assert "66 pairs" in certificate.detail
    assert certificate.interval is None


def test_gnn_empty_graph_matches_plain_gamma():
    plain = SubspaceReLU(d=5, planes=10, seed=4)
    lifted = SubspaceReLU(d=5, planes=10, seed=4, lift="gnn", n=3, graph="empty")
    assert lifted.correlation().gamma == pytest.approx(
        plain.correlation().gamma, abs=1e-14
    )


def test_csq_bound_uses_planes():
    family = SubspaceReLU(d=8, planes=20)
    gamma = family.correlation().gamma
    expected = 18 * 0.01**2 / (1 + 19 * gamma)
    assert family.csq_lower_bound(0.01) == pytest.approx(expected, rel=1e-12)


# Members and data -----------------------------------------------------------------


def test_frames_orthonormal_and_seeded():
    frames = SubspaceReLU(d=7, planes=5, seed=9).frames
    gram = np.einsum("adk,adl->akl", frames, frames)
    assert np.allclose(gram, np.eye(2), atol=1e-13)
    assert np.array_equal(frames, SubspaceReLU(d=7, planes=5, seed=9).frames)
    assert not np.allclose(frames, SubspaceReLU(d=7, planes=5, seed=10).frames)


@pytest.mark.parametrize("setting", FAMILY_SETTINGS)
def test_members_have_unit_norm(setting):
    family = SubspaceReLU(planes=3, **FAMILY_SETTINGS[setting])
    y = family.sample(100_000, member=1, seed=0)["y"]
    squares = y**2
    half_width = Z_999 * squares.std() / math.sqrt(len(squares))
    assert abs(squares.mean() - 1.0) <= half_width


def test_plain_member_matches_formula(rng):
    family = SubspaceReLU(d=6, planes=4)
    x = rng.standard_normal((30, 6))
    raw = reference_f(x @ family.frames[3], 4)
    expected = raw / math.sqrt(family.base_norm_sq)
    assert np.allclose(family.evaluate({"x": x}, member=3), expected, atol=1e-13)


def test_gnn_member_matches_formula(rng):
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=5, graph="erdos-renyi")
    x = rng.standard_normal((20, 5, 3))
    mixed = normalized_aggregation(family.adjacency) @ x  # (20, 5, 3)
    raw = sum(reference_f(mixed[:, v] @ family.frames[1], 4) for v in range(5))
    expected = raw / math.sqrt(5) / math.sqrt(family.member_norms_sq[1])
    assert np.allclose(family.evaluate({"x": x}, member=1), expected, atol=1e-13)


def test_group_member_matches_formula(rng):
    family = SubspaceReLU(d=4, planes=2, lift="group", group="dihedral")
    x = rng.standard_normal((20, 4))
    group = family.group
    raw = np.mean(
        [reference_f(group.act(g, x) @ family.frames[0], 4) for g in group.elements()],
        axis=0,
    )
    expected = raw / math.sqrt(family.member_norms_sq[0])
    assert np.allclose(family.evaluate({"x": x}, member=0), expected, atol=1e-13)


def test_sample_shapes_and_reproducibility():
    family = SubspaceReLU(d=4, planes=3, lift="gnn", n=6)
    arrays = family.sample(11, member=2, seed=7)
    assert arrays["x"].shape == (11, 6, 4)
    assert arrays["adj"].shape == (11, 6, 6)
    assert arrays["y"].shape == (11,)
    assert np.array_equal(arrays["adj"][5], family.adjacency)
    assert np.array_equal(arrays["y"], family.sample(11, member=2, seed=7)["y"])


def test_task_matches_evaluate():
    family = SubspaceReLU(d=4, planes=3, lift="gnn", n=5)
    (adj, x), y = family.task(1).sample(9, torch.Generator().manual_seed(0))
    assert adj.shape == (9, 5, 5)
    assert x.dtype == torch.float32
    expected = family.evaluate({"x": x.double().numpy()}, member=1)
    assert np.allclose(y.numpy(), expected, atol=1e-5)


def test_plain_task_returns_tensor_inputs():
    family = SubspaceReLU(d=4, planes=3)
    x, y = family.task(0).sample(9, torch.Generator().manual_seed(0))
    assert x.shape == (9, 4)
    assert y.shape == (9,)


def test_member_description_and_random_member():
    family = SubspaceReLU(d=5, planes=7)
    description = family.member_description(0)
    assert description["overlap_with_plane_0"] == pytest.approx(1.0)
    members = {family.random_member(np.random.default_rng(seed)) for seed in range(40)}
    assert members <= set(range(7))
    assert len(members) > 1


def test_info_is_json_ready():
    family = SubspaceReLU(d=5, planes=4, lift="gnn", n=4, graph="erdos-renyi")
    info = json.loads(json.dumps(family.info()))
    assert info["family_size"] == 4
    assert info["graph"]["n"] == 4
    assert info["hermite_min_degree"] == 4


def test_family_registered_and_built_from_strings():
    family = make_family("subspace-relu", {"d": "8", "m": "2", "planes": "5"})
    # Compared by name: a doctest run may import this module a second time.
    assert FAMILIES["subspace-relu"].__name__ == "SubspaceReLU"
    assert family.family_size == 5
    assert family.m == 2


# Teachers and invariance -------------------------------------------------------


@pytest.mark.parametrize("setting", FAMILY_SETTINGS)
def test_teacher_matches_evaluate(setting):
    family = SubspaceReLU(planes=4, **FAMILY_SETTINGS[setting])
    arrays = family.sample(64, member=2, seed=1)
    output = teacher_output(family, family.teacher(2), arrays)
    assert np.allclose(
        output, arrays["y"], rtol=1e-6, atol=1e-6 * np.abs(arrays["y"]).max()
    )


def test_group_teacher_architecture():
    cyclic_family = SubspaceReLU(d=5, planes=2, lift="group")
    dihedral_family = SubspaceReLU(d=5, planes=2, lift="group", group="dihedral")
    assert isinstance(cyclic_family.teacher(0), CircularCNN)
    assert isinstance(dihedral_family.teacher(0), GroupAveragedMLP)


def test_gnn_teacher_invariant_under_node_permutation(rng):
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=6, graph="erdos-renyi")
    arrays = family.sample(16, member=1, seed=2)
    teacher = family.teacher(1)
    before = teacher_output(family, teacher, arrays)
    for _ in range(3):
        order = rng.permutation(6)
        permuted = {
            "adj": arrays["adj"][:, order][:, :, order],
            "x": arrays["x"][:, order],
        }
        after = teacher_output(family, teacher, permuted)
        assert np.allclose(after, before, rtol=0, atol=1e-12)


def test_gnn_target_invariant_under_graph_automorphism(rng):
    # Rotations of the cycle map the graph to itself, so the target is invariant.
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=7)
    x = rng.standard_normal((16, 7, 3))
    before = family.evaluate({"x": x}, member=0)
    for shift in (1, 3):
        after = family.evaluate({"x": np.roll(x, shift, axis=1)}, member=0)
        assert np.allclose(after, before, rtol=0, atol=1e-12)


def test_gnn_target_changes_under_non_automorphism(rng):
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=7)
    x = rng.standard_normal((16, 7, 3))
    swapped = x[:, [1, 0, 2, 3, 4, 5, 6]]
    before = family.evaluate({"x": x}, member=0)
    assert not np.allclose(family.evaluate({"x": swapped}, member=0), before)


@pytest.mark.parametrize("group", ["cyclic", "dihedral", "symmetric"])
def test_group_target_and_teacher_invariant(rng, group):
    family = SubspaceReLU(d=5, planes=2, lift="group", group=group)
    x = rng.standard_normal((16, 5))
    teacher = family.teacher(1)
    before = family.evaluate({"x": x}, member=1)
    for seed in range(3):
        moved = family.group.act(family.group.random_element(seed), x)
        assert np.allclose(family.evaluate({"x": moved}, member=1), before, atol=1e-12)
        after = teacher_output(family, teacher, {"x": moved})
        assert np.allclose(after, before, rtol=0, atol=1e-12)


def test_group_lift_accepts_permutation_group():
    group = make_group("torus", shape=(2, 3))
    family = SubspaceReLU(d=6, planes=3, lift="group", group=group)
    assert family.params["group"] == "torus"
    assert family.correlation().gamma > 0


# Learners ----------------------------------------------------------------------


def test_make_learner_plain_and_group():
    plain = SubspaceReLU(d=6, planes=2).make_learner("mlp", width=8)
    cnn = SubspaceReLU(d=6, planes=2, lift="group").make_learner(
        "circular-cnn", width=8
    )
    assert plain(torch.randn(3, 6)).shape == (3,)
    assert cnn(torch.randn(3, 6)).shape == (3,)


def test_make_learner_gnn():
    pytest.importorskip("symhard.graph_learners")
    family = SubspaceReLU(d=4, planes=2, lift="gnn", n=5)
    (adj, x), _ = family.task(0).sample(3, torch.Generator().manual_seed(0))
    model = family.make_learner("gin-dense", width=8, depth=1)
    assert model(adj, x).shape == (3,)


# Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"d": 1}, r"'d'.*>= 2.*got 1"),
        ({"d": 4, "planes": 0}, r"'planes'.*>= 1.*got 0"),
        ({"d": 4, "lift": "cnn"}, r"'lift'.*none, gnn, group.*'cnn'"),
        ({"d": 4, "lift": "gnn", "n": 4, "graph": "star"}, r"'graph'.*empty, cycle"),
        ({"d": 4, "graph": "cycle"}, r"'graph'.*unless lift=gnn"),
        ({"d": 4, "lift": "gnn", "n": 4, "group": "cyclic"}, r"'group'.*lift=group"),
        ({"d": 4, "lift": "gnn"}, r"'n'.*number of nodes"),
        ({"d": 4, "lift": "gnn", "n": 2}, r"'n'.*>= 3"),
        ({"d": 4, "lift": "gnn", "n": 4, "edge_prob": 0.2}, r"'edge_prob'.*erdos"),
        (
            {"d": 4, "lift": "gnn", "n": 4, "graph": "erdos-renyi", "edge_prob": 2},
            r"'edge_prob'.*\[0, 1\]",
        ),
        ({"d": 2, "lift": "group", "group": "dihedral"}, r"'d'.*dihedral"),
        ({"d": 6, "lift": "group", "group": "torus", "shape": "2x2"}, r"'shape'"),
        ({"d": 6, "lift": "group", "group": "generated"}, r"'group'.*one of"),
    ],
)
def test_invalid_parameters_rejected(kwargs, pattern):
    with pytest.raises(InvalidParameterError, match=pattern):
        SubspaceReLU(**kwargs)


@pytest.mark.parametrize(
    ("matrix", "pattern"),
    [
        (np.zeros((3, 4)), "square matrix"),
        (np.full((3, 3), 2.0) - 2 * np.eye(3), "entries 0 or 1"),
        (np.triu(np.ones((3, 3)), k=1), "symmetric"),
        (np.ones((3, 3)), "zero diagonal"),
    ],
)
def test_bad_adjacency_rejected(matrix, pattern):
    with pytest.raises(InvalidParameterError, match=f"'adjacency'.*{pattern}"):
        SubspaceReLU(d=3, lift="gnn", adjacency=matrix)


def test_adjacency_files_loaded(tmp_path):
    matrix = np.ones((4, 4)) - np.eye(4)
    np.save(tmp_path / "graph.npy", matrix)
    np.savetxt(tmp_path / "graph.txt", matrix, fmt="%d")
    from_npy = SubspaceReLU(
        d=3, planes=2, lift="gnn", adjacency=str(tmp_path / "graph.npy")
    )
    from_txt = SubspaceReLU(d=3, planes=2, lift="gnn", adjacency=tmp_path / "graph.txt")
    assert np.array_equal(from_npy.adjacency, matrix)
    assert np.array_equal(from_txt.adjacency, matrix)
    assert from_txt.n_nodes == 4
    assert from_txt.params["adjacency"] == str(tmp_path / "graph.txt")
    assert "graph" not in from_txt.params


def test_adjacency_missing_file_rejected(tmp_path):
    with pytest.raises(InvalidParameterError, match="'adjacency'.*existing"):
        SubspaceReLU(d=3, lift="gnn", adjacency=str(tmp_path / "none.npy"))


def test_adjacency_with_graph_rejected():
    with pytest.raises(InvalidParameterError, match="'graph'.*adjacency"):
        SubspaceReLU(d=3, lift="gnn", graph="cycle", adjacency=np.zeros((3, 3)))


def test_adjacency_size_mismatch_rejected():
    with pytest.raises(InvalidParameterError, match="'n'.*adjacency size 3"):
        SubspaceReLU(d=3, lift="gnn", n=4, adjacency=np.zeros((3, 3)))


def test_evaluate_wrong_shape_rejected():
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=4)
    with pytest.raises(InvalidParameterError, match=r"'x'.*\(num, 4, 3\)"):
        family.evaluate({"x": np.zeros((5, 3))})


def test_evaluate_other_graph_rejected():
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=4)
    arrays = family.sample(2, seed=0)
    arrays["adj"] = np.zeros_like(arrays["adj"])
    with pytest.raises(InvalidParameterError, match="'adj'.*fixed graph"):
        family.evaluate(arrays)


def test_member_out_of_range_rejected():
    with pytest.raises(InvalidParameterError, match=r"'member'.*planes - 1 = 2"):
        SubspaceReLU(d=3, planes=3).member_description(3)


def test_memory_limit_rejected():
    with pytest.raises(LimitExceededError, match="'memory_limit_mb'.*planes"):
        SubspaceReLU(d=1000, planes=100_000, memory_limit_mb=16)


# Large sizes, missing values and plain messages -------------------------------------


def largest_planes_within(limit: int, per_pair: int) -> int:
    """Largest M with M (M - 1) / 2 * per_pair <= limit, by counting up."""
    planes = 1
    while (planes + 1) * planes // 2 * per_pair <= limit:
        planes += 1
    return planes


def test_gamma_many_planes_rejected():
    family = SubspaceReLU(d=8, m=2, planes=100_000)
    # m = 2 gives 4 ReLU units whose directions pair up into 2 even units, so each
    # pair of planes needs 2 * 2 kernel values.
    largest = largest_planes_within(10**9, 4)
    with pytest.raises(
        LimitExceededError,
        match=rf"^invalid value for 'planes': .* 100000 planes .*"
        rf"use planes <= {largest},",
    ):
        family.correlation()


def test_gamma_suggested_planes_within_limit():
    limit = 500
    largest = largest_planes_within(limit, 4)
    with pytest.raises(LimitExceededError, match=rf"use planes <= {largest},"):
        SubspaceReLU(
            d=4, m=2, planes=largest + 1, max_kernel_evaluations=limit
        ).correlation()
    family = SubspaceReLU(d=4, m=2, planes=largest, max_kernel_evaluations=limit)
    assert family.correlation().method == "exact"


def test_max_kernel_evaluations_rejects_zero():
    with pytest.raises(InvalidParameterError, match="'max_kernel_evaluations'.*got 0"):
        SubspaceReLU(d=4, max_kernel_evaluations=0)


def test_max_kernel_evaluations_from_strings():
    family = make_family(
        "subspace-relu", {"d": "4", "planes": "3", "max_kernel_evaluations": "7"}
    )
    assert family.max_kernel_evaluations == 7


def test_gnn_huge_graph_rejected_before_building():
    largest = math.isqrt(1024 * 2**20 // 32)
    with pytest.raises(
        LimitExceededError,
        match=rf"^invalid value for 'n': a graph on 100000 nodes .*n <= {largest} ",
    ):
        SubspaceReLU(d=4, lift="gnn", n=100_000)


def test_group_huge_order_rejected_without_overflow():
    with pytest.raises(
        LimitExceededError, match=r"'memory_limit_mb'.*e\+2567 group elements"
    ):
        SubspaceReLU(d=1000, lift="group", group="symmetric")


def test_gnn_missing_nodes():
    with pytest.raises(
        InvalidParameterError,
        match=r"^missing value for 'n': expected the number of nodes for graph=cycle$",
    ):
        SubspaceReLU(d=4, lift="gnn")


def test_make_family_missing_d():
    with pytest.raises(
        InvalidParameterError,
        match=r"^missing value for 'd': expected an integer >= 2$",
    ):
        make_family("subspace-relu", {"planes": "10"})


def test_adjacency_entry_plain_value():
    matrix = np.zeros((3, 3))
    matrix[0, 1] = matrix[1, 0] = 2.0
    with pytest.raises(InvalidParameterError, match=r"entry \(0, 1\) = 2\.0'$"):
        SubspaceReLU(d=3, lift="gnn", adjacency=matrix)


def test_sample_memory_counts_graph(monkeypatch):
    family = SubspaceReLU(d=3, planes=2, lift="gnn", n=4)
    # x (4 x 3) and adj (4 x 4) in float64, one byte per adj entry for the check,
    # and y with a copy: 96 + 128 + 16 + 16 bytes per sample.
    per_sample = 8 * 12 + 8 * 16 + 16 + 16
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 10 * per_sample)
    assert family.sample(10, seed=0)["adj"].shape == (10, 4, 4)
    with pytest.raises(LimitExceededError, match=r"'num'.*use at most 10 samples"):
        family.sample(11, seed=0)
