"""Tests for the Set Splitting to GNN-consistency reduction and its solvers."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from symhard import cli as symhard_cli
from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.nphard import (
    DegreeHistogramGNN,
    SetSplittingInstance,
    brute_force_split,
    check_split,
    compare_gradient_training,
    default_weight_bound,
    degree_histograms,
    dense_adjacency,
    encode_graph,
    experiment,
    fit_readout_milp,
    gnn_from_split,
    gradient_table,
    halfspace_points,
    halfspaces_from_split,
    is_valid_split,
    parse_instance,
    random_instance,
    read_instance,
    reduction_graphs,
    relu_one_hot,
    solve_milp,
    split_from_readout,
    to_pyg,
    train_gradient,
)
from symhard.nphard import cli as nphard_cli

# Sets {1,2}, {2,3}, {1,3}: a triangle, so every split leaves one pair together.
TRIANGLE = SetSplittingInstance(3, ((1, 2), (2, 3), (1, 3)))
# Splits exist, for example part 1 = {1, 3}, part 2 = {2, 4}.
SQUARE = SetSplittingInstance(4, ((1, 2), (2, 3), (3, 4), (1, 4)))


def _random_instances(count: int, seed: int) -> list[SetSplittingInstance]:
    """Draw small instances near the satisfiability threshold of 2- and 3-sets."""
    rng = np.random.default_rng(seed)
    instances = []
    for _ in range(count):
        n_elements = int(rng.integers(3, 8))
        n_sets = int(rng.integers(n_elements, round(2.5 * n_elements) + 1))
        instances.append(random_instance(n_elements, n_sets, set_size=(2, 3), seed=rng))
    return instances


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="symhard")
    nphard_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


# Instances


def test_instance_sorts_each_set() -> None:
    instance = SetSplittingInstance(4, ((3, 1), (4, 2, 1)))
    assert instance.sets == ((1, 3), (1, 2, 4))
    assert instance.n_sets == 2


def test_instance_repr_shows_sizes_and_sets() -> None:
    assert repr(SQUARE) == (
        "SetSplittingInstance(n_elements=4, n_sets=4, "
        "sets=((1, 2), (2, 3), (3, 4), (1, 4)))"
    )


def test_instance_repr_truncates_many_sets() -> None:
    instance = random_instance(6, 20, seed=0)
    text = repr(instance)
    assert "n_sets=20" in text
    assert "..." in text


def test_instance_empty_set_raises() -> None:
    with pytest.raises(InvalidParameterError, match=r"'sets\[1\]'.*non-empty"):
        SetSplittingInstance(3, ((1, 2), ()))


def test_instance_element_out_of_range_raises() -> None:
    with pytest.raises(
        InvalidParameterError, match=r"'sets\[0\]'.*\[1, n_elements=3\], got 4"
    ):
        SetSplittingInstance(3, ((1, 4),))


def test_instance_repeated_element_raises() -> None:
    with pytest.raises(InvalidParameterError, match="distinct elements"):
        SetSplittingInstance(3, ((1, 1),))


def test_instance_incidence_rows_are_indicators() -> None:
    expected = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]])
    np.testing.assert_array_equal(SQUARE.incidence(), expected)


def test_random_instance_same_seed_same_instance() -> None:
    assert random_instance(9, 12, seed=5) == random_instance(9, 12, seed=5)
    assert random_instance(9, 12, seed=5) != random_instance(9, 12, seed=6)


def test_random_instance_fixed_size_distinct_elements() -> None:
    instance = random_instance(7, 50, set_size=3, seed=1)
    assert instance.n_sets == 50
    for elements in instance.sets:
        assert len(elements) == 3
        assert len(set(elements)) == 3
        assert all(1 <= element <= 7 for element in elements)


def test_random_instance_size_range_covers_both_ends() -> None:
    instance = random_instance(6, 200, set_size=(2, 4), seed=2)
    sizes = {len(elements) for elements in instance.sets}
    assert sizes == {2, 3, 4}


def test_random_instance_size_above_elements_raises() -> None:
    with pytest.raises(InvalidParameterError, match="'set_size'.*within \\[1, 3\\]"):
        random_instance(3, 2, set_size=4, seed=0)


def test_random_instance_text_size_range() -> None:
    instance = random_instance(6, 100, set_size="2-3", seed=3)
    assert {len(elements) for elements in instance.sets} == {2, 3}


def test_parse_instance_skips_blank_and_comment_lines() -> None:
    text = "# header\n1 2 3\n\n   # indented comment\n2 4  # trailing comment\n"
    instance = parse_instance(text)
    assert instance.sets == ((1, 2, 3), (2, 4))
    assert instance.n_elements == 4


def test_parse_instance_given_element_count() -> None:
    instance = parse_instance("1 2\n", n_elements=5)
    assert instance.n_elements == 5


def test_parse_instance_element_out_of_range() -> None:
    with pytest.raises(
        InvalidParameterError, match=r"^f.txt line 3: element 9 is out of range"
    ):
        parse_instance("1 2\n\n3 9\n", n_elements=5, source="f.txt")


def test_parse_instance_element_zero_names_line() -> None:
    with pytest.raises(InvalidParameterError, match="line 1: element 0 .*>= 1"):
        parse_instance("0 1\n")


def test_parse_instance_unreadable_line_names_text() -> None:
    with pytest.raises(InvalidParameterError, match=r"line 2: cannot read '1 x'"):
        parse_instance("1 2\n1 x\n")


def test_parse_instance_negative_element_is_unreadable() -> None:
    with pytest.raises(InvalidParameterError, match=r"line 1: cannot read '-1 2'"):
        parse_instance("-1 2\n")


def test_parse_instance_repeated_element_names_line() -> None:
    with pytest.raises(InvalidParameterError, match="line 1: element 2 appears twice"):
        parse_instance("2 3 2\n")


def test_parse_instance_without_sets_raises() -> None:
    with pytest.raises(InvalidParameterError, match="contains no sets"):
        parse_instance("# only a comment\n\n")


def test_read_instance_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="instance file not found"):
        read_instance(tmp_path / "missing.txt")


def test_instance_to_text_round_trip(tmp_path: Path) -> None:
    # Element 7 is in no set, so reading back needs n_elements=7.
    instance = SetSplittingInstance(7, ((1, 2, 3), (4, 5), (2, 6)))
    path = tmp_path / "instance.txt"
    path.write_text(instance.to_text())
    assert read_instance(path, n_elements=7) == instance
    assert read_instance(path).n_elements == 6


def test_is_valid_split_cases() -> None:
    assert is_valid_split(SQUARE, (1, 2, 1, 2))
    assert not is_valid_split(SQUARE, (1, 1, 2, 2))
    assert not is_valid_split(SQUARE, (1, 1, 1, 1))


def test_check_split_wrong_length_raises() -> None:
    with pytest.raises(InvalidParameterError, match="'split'.*4 part labels"):
        check_split(SQUARE, (1, 2, 1))


def test_check_split_bad_label_raises() -> None:
    with pytest.raises(InvalidParameterError, match="each 1 or 2"):
        check_split(SQUARE, (1, 2, 3, 1))


# Reduction, step 1


def test_halfspace_points_order_and_labels() -> None:
    points, labels = halfspace_points(SQUARE)
    assert points.shape == (1 + 4 + 4, 4)
    np.testing.assert_array_equal(points[0], 0)
    np.testing.assert_array_equal(points[1:5], np.eye(4))
    np.testing.assert_array_equal(points[5:], SQUARE.incidence())
    np.testing.assert_array_equal(labels, [1, -1, -1, -1, -1, 1, 1, 1, 1])


def test_halfspaces_from_split_separate_with_margin() -> None:
    checked = 0
    for instance in _random_instances(150, seed=11):
        answer = brute_force_split(instance)
        if not answer.satisfiable:
            continue
        weights, thresholds = halfspaces_from_split(instance, answer.split)
        points, labels = halfspace_points(instance)
        margins = points @ weights.T - thresholds
        positive = labels == 1
        assert (margins[positive] >= 1).all(), instance
        assert (margins[~positive].min(axis=1) <= -1).all(), instance
        checked += 1
    assert checked >= 50


def test_halfspaces_from_split_invalid_split_misses_a_set() -> None:
    weights, thresholds = halfspaces_from_split(SQUARE, (1, 1, 2, 2))
    points, labels = halfspace_points(SQUARE)
    inside_both = (points @ weights.T - thresholds >= 0).all(axis=1)
    # Set {1, 2} lies in part 1, so halfspace 1 cuts off its indicator (row 5).
    assert not inside_both[5]
    assert labels[5] == 1


def test_halfspaces_from_split_large_set_keeps_margin() -> None:
    # One set with all d elements; d - 1 of them share a part.
    instance = SetSplittingInstance(6, (tuple(range(1, 7)),))
    weights, thresholds = halfspaces_from_split(instance, (1, 1, 1, 1, 1, 2))
    margins = np.ones(6) @ weights.T - thresholds
    assert margins.min() >= 1


# Reduction, step 2


def test_encode_graph_star_sizes() -> None:
    adjacency = encode_graph([1, 0, 1])
    # Isolated node, star of element 1 (centre + 2 leaves), element 3 (centre + 4).
    assert adjacency.shape == (1 + 3 + 5, 1 + 3 + 5)
    np.testing.assert_array_equal(adjacency, adjacency.T)
    degrees = adjacency.sum(axis=1)
    np.testing.assert_array_equal(degrees, [0, 2, 1, 1, 4, 1, 1, 1, 1])


def test_encode_graph_origin_is_one_node() -> None:
    np.testing.assert_array_equal(encode_graph([0, 0, 0, 0]), np.zeros((1, 1)))


def test_encode_graph_non_binary_raises() -> None:
    with pytest.raises(InvalidParameterError, match="'x'.*0/1 entries"):
        encode_graph([0, 2, 1])


def test_degree_histograms_recover_points() -> None:
    for instance in _random_instances(40, seed=3):
        graphs = reduction_graphs(instance)
        histograms = degree_histograms(graphs.adj, graphs.max_degree)
        d = instance.n_elements
        np.testing.assert_array_equal(histograms[:, 2 : d + 2], graphs.points)
        leaves = graphs.points @ (np.arange(1, d + 1) + 1)
        np.testing.assert_array_equal(histograms[:, 1], leaves)


def test_reduction_graphs_padding_is_isolated_nodes() -> None:
    graphs = reduction_graphs(SQUARE)
    assert len(graphs) == 9
    n_max = graphs.adj.shape[1]
    assert n_max == int(graphs.num_nodes.max())
    for index, matrix in enumerate(graphs.adjacency):
        size = len(matrix)
        assert graphs.num_nodes[index] == size
        np.testing.assert_array_equal(graphs.adj[index, :size, :size], matrix)
        assert graphs.adj[index, size:].sum() == 0
        assert graphs.adj[index, :, size:].sum() == 0
    histograms = graphs.histograms()
    np.testing.assert_array_equal(histograms[:, 0], n_max - graphs.num_nodes + 1)


def test_to_pyg_round_trip_matches_padded_adj() -> None:
    graphs = reduction_graphs(random_instance(6, 8, seed=4))
    data_list = to_pyg(graphs)
    assert len(data_list) == len(graphs)
    for data, size, label in zip(data_list, graphs.num_nodes, graphs.y, strict=True):
        assert data.num_nodes == size
        assert data.y.tolist() == [label]
        assert data.x is None
    dense = dense_adjacency(data_list)
    np.testing.assert_array_equal(dense.numpy(), graphs.adj)


# The GNN class


def test_relu_one_hot_matches_indicator() -> None:
    degrees = torch.arange(0, 9, dtype=torch.float32)
    encoded = relu_one_hot(degrees, 5)
    expected = torch.zeros(9, 6)
    for degree in range(6):
        expected[degree, degree] = 1
    torch.testing.assert_close(encoded, expected)


def test_gnn_histogram_matches_numpy() -> None:
    graphs = reduction_graphs(random_instance(7, 10, seed=8))
    model = DegreeHistogramGNN(graphs.max_degree)
    histograms = model.histogram(graphs.adj_tensor()).numpy()
    np.testing.assert_array_equal(histograms, graphs.histograms())


def test_gnn_from_split_labels_every_graph() -> None:
    checked = 0
    for instance in _random_instances(120, seed=21):
        answer = brute_force_split(instance)
        if not answer.satisfiable:
            continue
        graphs = reduction_graphs(instance)
        model = gnn_from_split(instance, answer.split)
        with torch.no_grad():
            labels = model(graphs.adj_tensor()).numpy()
        np.testing.assert_array_equal(labels, graphs.y)
        checked += 1
    assert checked >= 40


def test_gnn_from_split_labels_pyg_graphs() -> None:
    instance = random_instance(8, 12, seed=9)
    answer = brute_force_split(instance)
    assert answer.satisfiable
    graphs = reduction_graphs(instance)
    model = gnn_from_split(instance, answer.split)
    with torch.no_grad():
        labels = model(dense_adjacency(to_pyg(graphs))).numpy()
    np.testing.assert_array_equal(labels, graphs.y)


def test_gnn_from_split_weights_within_milp_bound() -> None:
    for n_elements in range(1, 16):
        instance = SetSplittingInstance(n_elements, ())
        split = tuple(1 + (i % 2) for i in range(n_elements))
        model = gnn_from_split(instance, split)
        bound = default_weight_bound(n_elements)
        assert model.weight.abs().max().item() <= bound
        assert model.threshold.abs().max().item() <= bound


def test_gnn_from_split_meets_milp_margins() -> None:
    # The MILP requires scores >= 1 on positives and <= -1 on the rejecting unit.
    for instance in _random_instances(100, seed=13):
        answer = brute_force_split(instance)
        if not answer.satisfiable:
            continue
        graphs = reduction_graphs(instance)
        model = gnn_from_split(instance, answer.split)
        with torch.no_grad():
            scores = model.unit_scores(model.histogram(graphs.adj_tensor())).numpy()
        positive = graphs.y == 1
        assert (scores[positive] >= 1).all()
        assert (scores[~positive].min(axis=1) <= -1).all()


def test_gnn_padding_leaves_output_unchanged() -> None:
    instance = random_instance(6, 9, seed=12)
    answer = brute_force_split(instance)
    assert answer.satisfiable
    graphs = reduction_graphs(instance)
    model = gnn_from_split(instance, answer.split)
    padded = torch.nn.functional.pad(graphs.adj_tensor(), (0, 25, 0, 25))
    with torch.no_grad():
        np.testing.assert_array_equal(
            model(padded).numpy(), model(graphs.adj_tensor()).numpy()
        )


def test_gnn_soft_output_sign_matches_hard() -> None:
    instance = random_instance(6, 10, seed=14)
    answer = brute_force_split(instance)
    assert answer.satisfiable
    adj = reduction_graphs(instance).adj_tensor()
    hard = gnn_from_split(instance, answer.split, hard=True)
    soft = gnn_from_split(instance, answer.split, hard=False, sharpness=3.0)
    with torch.no_grad():
        soft_output = soft(adj)
        hard_output = hard(adj)
    assert soft_output.abs().max() <= 1
    # The origin's scores are exactly 1, so its soft output is 2 sigmoid(3)^2 - 1.
    assert soft_output[0].item() == pytest.approx(2 * (1 / (1 + np.exp(-3))) ** 2 - 1)
    torch.testing.assert_close(torch.sign(soft_output), hard_output)


def test_gnn_soft_output_is_differentiable() -> None:
    adj = reduction_graphs(SQUARE).adj_tensor()
    model = gnn_from_split(SQUARE, (1, 2, 1, 2), hard=False, sharpness=0.5)
    model(adj).sum().backward()
    assert model.weight.grad is not None
    assert model.weight.grad.abs().sum() > 0


def test_gnn_bad_adjacency_shape_raises() -> None:
    model = DegreeHistogramGNN(4)
    with pytest.raises(InvalidParameterError, match=r"'adj'.*\(batch, n, n\)"):
        model(torch.zeros(3, 4, 5))


def test_gnn_set_readout_wrong_shape_raises() -> None:
    model = DegreeHistogramGNN(4)
    with pytest.raises(InvalidParameterError, match=r"'weight'.*shape \(2, 4\)"):
        model.set_readout(torch.zeros(2, 3), torch.zeros(2))


def test_gnn_sharpness_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match="'sharpness'.*> 0"):
        DegreeHistogramGNN(4, sharpness=0.0)


# Exact solvers


def test_brute_force_triangle_has_no_split() -> None:
    result = brute_force_split(TRIANGLE)
    assert result.satisfiable is False
    assert result.split is None
    assert result.splits_checked == 4
    assert "all 4 splits" in result.certificate


def test_brute_force_square_finds_alternating_split() -> None:
    result = brute_force_split(SQUARE)
    assert result.satisfiable is True
    assert result.split == (1, 2, 1, 2)
    assert result.verified


def test_brute_force_singleton_set_has_no_split() -> None:
    result = brute_force_split(SetSplittingInstance(3, ((2,),)))
    assert result.satisfiable is False


def test_brute_force_no_sets_has_split() -> None:
    result = brute_force_split(SetSplittingInstance(5, ()))
    assert result.satisfiable is True
    assert result.splits_checked == 1


def test_brute_force_too_many_elements_raises() -> None:
    with pytest.raises(LimitExceededError, match="at most 30 elements.*use the MILP"):
        brute_force_split(SetSplittingInstance(31, ((1, 2),)))


def test_milp_triangle_is_infeasible() -> None:
    result = solve_milp(TRIANGLE)
    assert result.satisfiable is False
    assert result.milp_status == 2
    assert "infeasible" in result.certificate.lower()


def test_milp_square_reads_back_valid_split() -> None:
    result = solve_milp(SQUARE)
    assert result.satisfiable is True
    assert result.verified
    assert is_valid_split(SQUARE, result.split)
    assert np.shape(result.readout_weight) == (2, 5)


def test_solvers_agree_on_random_instances() -> None:
    instances = _random_instances(300, seed=2024)
    answers = []
    for instance in instances:
        brute = brute_force_split(instance)
        exact = solve_milp(instance)
        assert brute.satisfiable == exact.satisfiable, instance
        assert exact.verified, instance
        if exact.satisfiable:
            assert is_valid_split(instance, exact.split), instance
        answers.append(brute.satisfiable)
    # Both outcomes must occur often, or agreement would prove little.
    assert 75 <= sum(answers) <= 225


def test_milp_time_limit_gives_unknown() -> None:
    result = solve_milp(random_instance(24, 60, seed=0), time_limit=0.001)
    assert result.satisfiable is None
    assert result.milp_status == 1
    assert result.split is None
    assert "time limit" in result.certificate.lower()


def test_milp_weight_bound_below_margin_is_infeasible() -> None:
    # The origin needs -theta >= 1, impossible with |theta| <= 0.5.
    result = solve_milp(SQUARE, weight_bound=0.5)
    assert result.satisfiable is False


def test_fit_readout_milp_without_negatives_is_feasible() -> None:
    histograms = np.array([[1, 2, 1], [1, 0, 0]])
    fit = fit_readout_milp(histograms, np.array([1, 1]), weight_bound=2.0)
    assert fit.feasible is True
    assert fit.weight.shape == (2, 2)


def test_fit_readout_milp_bad_labels_raise() -> None:
    with pytest.raises(InvalidParameterError, match="'y'.*labels in"):
        fit_readout_milp(np.ones((2, 3)), np.array([1, 0]), weight_bound=2.0)


def test_split_from_readout_of_construction_is_split() -> None:
    graphs = reduction_graphs(SQUARE)
    model = gnn_from_split(SQUARE, (1, 2, 1, 2))
    split = split_from_readout(
        graphs.histograms(),
        model.weight.detach().numpy(),
        model.threshold.detach().numpy(),
        n_elements=4,
    )
    assert split == (1, 2, 1, 2)


def test_solver_result_to_dict_is_json() -> None:
    row = solve_milp(SQUARE).to_dict()
    decoded = json.loads(json.dumps(row))
    assert decoded["solver"] == "milp"
    assert decoded["split"] == list(solve_milp(SQUARE).split)


def test_solvers_twelve_elements_within_seconds() -> None:
    instance = random_instance(12, 30, seed=1)
    start = time.perf_counter()
    brute = brute_force_split(instance)
    exact = solve_milp(instance)
    assert time.perf_counter() - start < 5.0
    assert brute.satisfiable == exact.satisfiable


# Gradient training


def test_train_gradient_finds_network_on_square() -> None:
    result = train_gradient(reduction_graphs(SQUARE), restarts=8, steps=500, seed=0)
    assert result.found
    assert result.best_accuracy == 1.0
    assert is_valid_split(SQUARE, result.split)


def test_train_gradient_triangle_never_found() -> None:
    result = train_gradient(reduction_graphs(TRIANGLE), restarts=4, steps=100, seed=0)
    assert not result.found
    assert result.split is None
    assert result.best_accuracy < 1.0
    assert result.steps == 100


def test_train_gradient_same_seed_same_result() -> None:
    graphs = reduction_graphs(random_instance(6, 12, seed=3))
    first = train_gradient(graphs, restarts=3, steps=60, seed=7)
    second = train_gradient(graphs, restarts=3, steps=60, seed=7)
    np.testing.assert_array_equal(first.weight, second.weight)
    assert first.best_accuracy == second.best_accuracy


def test_train_gradient_leaves_global_rng_alone() -> None:
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    train_gradient(reduction_graphs(SQUARE), restarts=2, steps=20, seed=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)


def test_compare_gradient_training_table_counts() -> None:
    instances = [SQUARE, TRIANGLE, SQUARE]
    rows = compare_gradient_training(instances, restarts=4, steps=300, seed=0)
    assert [row["satisfiable"] for row in rows] == [True, False, True]
    assert [row["found_by_milp"] for row in rows] == [True, False, True]
    assert not rows[1]["found_by_gradient"]
    table = gradient_table(rows)
    assert [(row["n_elements"], row["instances"]) for row in table] == [(3, 1), (4, 2)]
    assert table[1]["satisfiable"] == 2
    assert table[1]["found_by_milp"] == 2
    assert table[1]["found_by_gradient"] == sum(
        row["found_by_gradient"] for row in rows if row["n_elements"] == 4
    )


# Experiment and report section


def test_run_scaling_rows_agree() -> None:
    rows = experiment.run_scaling([4, 5], trials=3, seed=0)
    assert len(rows) == 6
    assert all(row["agree"] for row in rows)
    assert all(row["milp_verified"] for row in rows)
    assert {row["n_sets"] for row in rows} == {10, 12}
    summary = experiment.summarize_scaling(rows)
    assert [row["instances"] for row in summary] == [3, 3]


def test_plot_scaling_writes_png_and_svg(tmp_path: Path) -> None:
    rows = experiment.run_scaling([4, 5], trials=2, seed=1)
    paths = experiment.plot_scaling(rows, tmp_path / "figs" / "scaling")
    assert [path.suffix for path in paths] == [".png", ".svg"]
    for path in paths:
        assert path.stat().st_size > 1000


def test_nphard_section_small_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = {
        "n_elements": [4, 5],
        "trials": 2,
        "gradient_elements": [4],
        "gradient_instances": 2,
        "gradient_restarts": 4,
        "gradient_steps": 100,
    }
    monkeypatch.setitem(experiment.PROFILES, "quick", small)
    section = experiment.nphard_section(tmp_path, profile="quick", seed=3)
    assert section.figures == [tmp_path / "figures" / "nphard_scaling.png"]
    assert section.figures[0].exists()
    assert (tmp_path / "figures" / "nphard_scaling.svg").exists()
    kinds = [row["experiment"] for row in section.summary_rows]
    assert kinds == ["np-hard-scaling"] * 2 + ["np-hard-gradient"]
    scaling_rows = json.loads((tmp_path / "nphard" / "scaling.json").read_text())
    satisfiable_d4 = sum(row["satisfiable"] for row in scaling_rows[:2])
    assert section.summary_rows[0]["satisfiable"] == satisfiable_d4
    assert "| d | sets | instances | satisfiable |" in section.markdown
    assert "found by gradient training" in section.markdown


def test_nphard_section_unknown_profile_raises(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'profile'.*quick, paper"):
        experiment.nphard_section(tmp_path, profile="fast", seed=0)


# Command line


def test_cli_generate_npz_matches_reduction(tmp_path: Path) -> None:
    out = tmp_path / "graphs.npz"
    status = _run_cli(
        [
            "np-hard",
            "generate",
            "elements=6",
            "sets=9",
            "--seed",
            "4",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    graphs = reduction_graphs(random_instance(6, 9, seed=4))
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["adj"], graphs.adj)
        np.testing.assert_array_equal(saved["y"], graphs.y)
        np.testing.assert_array_equal(saved["points"], graphs.points)
        np.testing.assert_array_equal(saved["point_labels"], graphs.y)
        assert saved["sets"].shape == (9, 3)
        assert int(saved["n_elements"]) == 6


def test_cli_generate_pt_from_input_file(tmp_path: Path) -> None:
    instance_path = tmp_path / "instance.txt"
    instance_path.write_text(SQUARE.to_text())
    out = tmp_path / "graphs.pt"
    status = _run_cli(
        ["np-hard", "generate", "--input", str(instance_path), "--out", str(out)]
    )
    assert status == 0
    data_list = torch.load(out, weights_only=False)
    assert len(data_list) == 9
    assert [int(data.y) for data in data_list] == reduction_graphs(SQUARE).y.tolist()


def test_cli_generate_bad_suffix_raises(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="ending in .npz or .pt"):
        _run_cli(["np-hard", "generate", "elements=4", "sets=2", "--out", "x.csv"])


def test_cli_solve_prints_both_results(capsys: pytest.CaptureFixture[str]) -> None:
    status = _run_cli(["np-hard", "solve", "elements=12", "sets=30", "--seed", "1"])
    output = capsys.readouterr().out
    assert status == 0
    assert "brute-force: split exists" in output
    assert "milp: split exists" in output
    assert "split: part 1 = [1," in output


def test_cli_solve_json_infeasible_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance_path = tmp_path / "triangle.txt"
    instance_path.write_text("1 2\n2 3\n1 3\n")
    status = _run_cli(["np-hard", "solve", "--input", str(instance_path), "--json"])
    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert output["agree"] is True
    brute, exact = output["results"]
    assert brute["satisfiable"] is False
    assert brute["splits_checked"] == 4
    assert exact["milp_status"] == 2


def test_cli_solve_keys_around_flags(capsys: pytest.CaptureFixture[str]) -> None:
    status = _run_cli(
        ["np-hard", "solve", "elements=6", "--seed", "1", "sets=12", "--json"]
    )
    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert output["instance"]["n_elements"] == 6
    assert len(output["instance"]["sets"]) == 12


def test_cli_solve_time_limit_reports_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["np-hard", "solve", "elements=24", "sets=60", "--solver", "milp"]
    status = _run_cli([*argv, "--time-limit", "0.001"])
    output = capsys.readouterr().out
    assert status == 0
    assert "milp: unknown (stopped at the time limit)" in output
    assert "brute-force" not in output


def test_cli_solve_unknown_key_lists_known_keys() -> None:
    with pytest.raises(
        InvalidParameterError,
        match="unknown parameter 'elemnts': expected one of elements, sets, set_size",
    ):
        _run_cli(["np-hard", "solve", "elemnts=4", "sets=3"])


def test_cli_solve_non_integer_value_raises() -> None:
    with pytest.raises(InvalidParameterError, match="'elements'.*got 'four'"):
        _run_cli(["np-hard", "solve", "elements=four", "sets=3"])


def test_cli_solve_missing_sets_raises() -> None:
    with pytest.raises(InvalidParameterError, match="missing parameter 'sets'"):
        _run_cli(["np-hard", "solve", "elements=4"])


def test_cli_solve_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="instance file not found"):
        _run_cli(["np-hard", "solve", "--input", str(tmp_path / "none.txt")])


def test_cli_solve_bad_file_line_raises(tmp_path: Path) -> None:
    instance_path = tmp_path / "bad.txt"
    instance_path.write_text("1 2\n3, 4\n")
    with pytest.raises(InvalidParameterError, match=r"line 2: cannot read '3, 4'"):
        _run_cli(["np-hard", "solve", "--input", str(instance_path)])


def test_cli_solve_sets_with_input_raises(tmp_path: Path) -> None:
    instance_path = tmp_path / "square.txt"
    instance_path.write_text(SQUARE.to_text())
    with pytest.raises(InvalidParameterError, match="'sets' cannot be combined"):
        _run_cli(["np-hard", "solve", "--input", str(instance_path), "sets=3"])


def test_cli_solve_token_without_equals_raises() -> None:
    with pytest.raises(InvalidParameterError, match="expected key=value"):
        _run_cli(["np-hard", "solve", "elements"])


def test_cli_scaling_writes_figure_and_rows(tmp_path: Path) -> None:
    out = tmp_path / "scaling"
    status = _run_cli(
        ["np-hard", "scaling", "--out", str(out), "--max-elements", "5", "trials=2"]
    )
    assert status == 0
    rows = json.loads((out / "scaling.json").read_text())
    assert [row["n_elements"] for row in rows] == [4, 4, 5, 5]
    assert (out / "nphard_scaling.png").exists()
    assert (out / "nphard_scaling.svg").exists()


def test_cli_scaling_key_and_flag_together_raises(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'trials' is given both"):
        _run_cli(
            ["np-hard", "scaling", "--out", str(tmp_path), "trials=2", "--trials", "3"]
        )


def test_cli_main_reports_error_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = symhard_cli.main(["np-hard", "solve", "elements=4", "sets=x"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("symhard: error: invalid value for 'sets'")
    assert captured.err.count("\n") == 1
