"""Tests of gradient descent through a CSQ oracle (``symhard.oracle_descent``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from symhard import bound_commands, oracle_descent
from symhard._validation import InvalidParameterError
from symhard.families import make_family
from symhard.oracle_descent import (
    ExactGradientOracle,
    GradientQueries,
    GradientQuery,
    MiniBatchGradientOracle,
    ReluNetwork,
    csq_section,
    exact_nmse,
    make_gradient_oracle,
    relu_kernel_terms,
)
from symhard.oracle_descent import (
    oracle_descent as run_descent,
)
from symhard.oracles import AdversarialOracle, exact_target
from symhard.ridge import RidgeSum, kernel_matrix


@pytest.fixture
def small_target() -> RidgeSum:
    family = make_family("parity-relu", {"n": 6, "k": 2, "group": "cyclic"})
    return exact_target(family, (0, 1))


@pytest.fixture
def network() -> ReluNetwork:
    return ReluNetwork.random(6, 5, seed=3)


def _population_loss(network: ReluNetwork, target: RidgeSum) -> float:
    """Return 1/2 ||h - f||^2 from RidgeSum's own exact inner products."""
    hidden = network.as_ridge()
    return 0.5 * (hidden.norm_sq() - 2 * hidden.inner(target) + target.norm_sq())


def _finite_difference_gradient(function, network: ReluNetwork) -> np.ndarray:
    step = 1e-6
    gradient = []
    for array in (network.readout, network.weights):
        flat = array.reshape(-1)
        for index in range(flat.size):
            saved = flat[index]
            flat[index] = saved + step
            above = function(network)
            flat[index] = saved - step
            below = function(network)
            flat[index] = saved
            gradient.append((above - below) / (2 * step))
    return np.array(gradient)


# Closed forms ------------------------------------------------------------------------


def test_kernel_terms_values_match_kernel_matrix(rng):
    u, v = rng.standard_normal((7, 5)), rng.standard_normal((9, 5))
    coefficients = rng.standard_normal(9)

    values, _ = relu_kernel_terms(u, v, coefficients)

    np.testing.assert_allclose(values, kernel_matrix("relu", u, v) @ coefficients)


def test_kernel_terms_gradient_finite_differences(rng):
    u, v = rng.standard_normal((4, 5)), rng.standard_normal((6, 5))
    coefficients = rng.standard_normal(6)
    step = 1e-6

    _, gradients = relu_kernel_terms(u, v, coefficients)

    for row in range(4):
        for column in range(5):
            shifted = u.copy()
            shifted[row, column] += step
            above = kernel_matrix("relu", shifted[row : row + 1], v) @ coefficients
            shifted[row, column] -= 2 * step
            below = kernel_matrix("relu", shifted[row : row + 1], v) @ coefficients
            expected = (above[0] - below[0]) / (2 * step)
            assert gradients[row, column] == pytest.approx(expected, abs=1e-6)


def test_kernel_terms_gradient_on_itself(rng):
    # grad_u kappa(u, v) at v = u is u / 2 (Stein: E[relu(<u,x>) x] = u / 2).
    u = rng.standard_normal((1, 4))

    _, gradients = relu_kernel_terms(u, u, np.ones(1))

    np.testing.assert_allclose(gradients[0], u[0] / 2, atol=1e-7)


def test_per_sample_gradients_match_autograd(network, rng):
    x = rng.standard_normal((11, 6))
    weights = torch.tensor(network.weights, requires_grad=True)
    readout = torch.tensor(network.readout, requires_grad=True)
    expected = []
    for sample in torch.from_numpy(x):
        output = torch.relu(weights @ sample) @ readout
        grad_readout, grad_weights = torch.autograd.grad(output, (readout, weights))
        expected.append(torch.cat([grad_readout, grad_weights.reshape(-1)]).numpy())

    np.testing.assert_allclose(network.per_sample_gradients(x), np.array(expected))


def test_network_matches_ridge_sum(network, rng):
    x = rng.standard_normal((20, 6))

    np.testing.assert_allclose(network(x), network.as_ridge()(x))


# Oracles ---------------------------------------------------------------------------


def test_exact_oracle_population_gradient(network, small_target):
    # Target-free part minus the exact answers is the gradient of 1/2 ||h - f||^2.
    oracle = ExactGradientOracle(small_target)
    answers = oracle.query_many(GradientQueries(network))
    target_free = oracle_descent._target_free_gradient(network)

    expected = _finite_difference_gradient(
        lambda net: _population_loss(net, small_target), network
    )

    np.testing.assert_allclose(target_free - answers, expected, atol=1e-6)


def test_exact_oracle_matches_monte_carlo(network, small_target, rng):
    x = rng.standard_normal((200_000, 6))
    products = network.per_sample_gradients(x) * small_target(x)[:, None]
    mean = products.mean(axis=0)
    standard_error = products.std(axis=0) / math.sqrt(len(x))

    answers = ExactGradientOracle(small_target).query_many(GradientQueries(network))

    assert np.all(np.abs(answers - mean) <= 5 * standard_error + 1e-9)


def test_exact_oracle_counts_queries(network, small_target):
    oracle = ExactGradientOracle(small_target)

    oracle.query_many(GradientQueries(network))
    single = oracle.query(GradientQuery(network, 3))

    assert oracle.queries == network.n_parameters + 1
    assert oracle.samples == 0
    assert single == pytest.approx(
        ExactGradientOracle(small_target).query_many(GradientQueries(network))[3]
    )


def test_query_subset_matches_batch(network, small_target):
    oracle = ExactGradientOracle(small_target)
    full = oracle.query_many(GradientQueries(network))

    picked = oracle.query_many([GradientQuery(network, j) for j in (7, 0, 12)])

    np.testing.assert_array_equal(picked, full[[7, 0, 12]])


def test_adversarial_oracle_zero_within_tolerance(network, small_target):
    exact = ExactGradientOracle(small_target).query_many(GradientQueries(network))
    tolerance = float(np.median(np.abs(exact)))
    oracle = make_gradient_oracle(small_target, "adversarial", tolerance=tolerance)

    answers = oracle.query_many(GradientQueries(network))
    hidden = np.abs(exact) <= tolerance

    assert isinstance(oracle, AdversarialOracle)
    np.testing.assert_array_equal(answers[hidden], 0.0)
    np.testing.assert_allclose(answers[~hidden], exact[~hidden])
    assert oracle.zero_answers == hidden.sum()
    assert oracle.queries == network.n_parameters


def test_mini_batch_oracle_same_samples(network, small_target):
    oracle = MiniBatchGradientOracle(small_target, batch_size=50, seed=9)
    x = np.random.default_rng(9).standard_normal((50, 6))
    products = network.per_sample_gradients(x) * small_target(x)[:, None]

    answers = oracle.answer_many(GradientQueries(network))

    np.testing.assert_allclose([a.value for a in answers], products.mean(axis=0))
    expected_half = 1.959963984540054 * products.std(axis=0, ddof=1) / math.sqrt(50)
    np.testing.assert_allclose([a.tolerance for a in answers], expected_half)
    assert not answers[0].guaranteed
    assert oracle.samples == 50
    assert oracle.queries == network.n_parameters


def test_exact_nmse_matches_samples(network, small_target, rng):
    x = rng.standard_normal((200_000, 6))
    errors = (network(x) - small_target(x)) ** 2
    estimate = errors.mean() / (small_target(x) ** 2).mean()
    standard_error = errors.std() / math.sqrt(len(x)) / small_target.norm_sq()

    value = exact_nmse(network, small_target, small_target.norm_sq())

    assert abs(value - estimate) <= 6 * standard_error


# Descent ---------------------------------------------------------------------------


def test_descent_exact_oracle_learns_small_member():
    family = make_family("parity-relu", {"n": 8, "k": 2, "group": "cyclic"})
    target = exact_target(family, 0)
    network = ReluNetwork.random(8, 16, seed=0)

    result = run_descent(
        network, target, ExactGradientOracle(target), steps=150, learning_rate=0.2
    )

    assert result.history[0]["nmse"] > 1.0
    assert result.final_nmse < 0.3
    assert result.history[-1]["queries"] == 150 * network.n_parameters


def test_descent_adversarial_oracle_learns_nothing():
    family = make_family("parity-relu", {"n": 12, "k": 4, "group": "cyclic"})
    target = exact_target(family, 0)
    network = ReluNetwork.random(12, 16, seed=0)
    oracle = make_gradient_oracle(target, "adversarial", tolerance=0.1)

    result = run_descent(network, target, oracle, steps=100, learning_rate=0.2)

    assert result.history[-1]["zero_answers"] == result.history[-1]["queries"]
    assert result.final_nmse >= 0.99
    assert result.history[-1]["stated_tolerance"] == 0.1


def test_descent_adversarial_equals_target_free_descent():
    # When every answer is 0 the updates ignore the target: the same run against
    # another member of the family must give the same network.
    family = make_family("parity-relu", {"n": 12, "k": 4, "group": "cyclic"})
    networks = []
    for member in (0, 1):
        target = exact_target(family, member)
        network = ReluNetwork.random(12, 8, seed=1)
        oracle = make_gradient_oracle(target, "adversarial", tolerance=0.1)
        run_descent(network, target, oracle, steps=30, learning_rate=0.2)
        networks.append(network.flat())

    np.testing.assert_array_equal(networks[0], networks[1])


def test_descent_history_steps(small_target):
    network = ReluNetwork.random(6, 4, seed=2)
    oracle = ExactGradientOracle(small_target)

    result = run_descent(
        network, small_target, oracle, steps=25, learning_rate=0.1, eval_every=10
    )

    assert [row["step"] for row in result.history] == [0, 10, 20, 25]
    assert result.history[0]["stated_tolerance"] is None


def test_descent_divergence_names_learning_rate(small_target):
    network = ReluNetwork.random(6, 4, init_scale=10.0, seed=2)
    oracle = ExactGradientOracle(small_target)

    with pytest.raises(
        InvalidParameterError, match="'learning_rate': descent diverged"
    ):
        run_descent(network, small_target, oracle, steps=200, learning_rate=1e6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda t: make_gradient_oracle(t, "adversarial"),
            "'tolerance': expected a number > 0",
        ),
        (lambda t: make_gradient_oracle(t, "mini-batch"), "'batch_size': expected"),
        (lambda t: make_gradient_oracle(t, "noisy"), "'oracle': expected one of"),
        (
            lambda t: ExactGradientOracle(
                t.scaled(1.0).__class__(t.weights, t.coefficients, "tanh")
            ),
            "'target': expected a RidgeSum with activation relu",
        ),
        (
            lambda t: run_descent(
                ReluNetwork.random(6, 2, seed=0),
                t,
                ExactGradientOracle(t),
                steps=1,
                learning_rate=0.0,
            ),
            "'learning_rate': expected a number > 0",
        ),
    ],
)
def test_oracle_descent_rejects_bad_values(small_target, call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call(small_target)


# Report section ----------------------------------------------------------------------


TINY_PROFILE = {
    "sizes": [
        {"label": "learnable", "n": 6, "k": 2, "steps": 20},
        {"label": "hard", "n": 10, "k": 4, "steps": 10},
    ],
    "seeds": 2,
    "width": 4,
    "batch_size": 100,
    "learning_rate": 0.2,
    "eval_every": 5,
}


@pytest.fixture(scope="module")
def tiny_section(tmp_path_factory):
    """Build the section once with tiny sizes (drawing the figures dominates)."""
    run_dir = tmp_path_factory.mktemp("csq_run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(oracle_descent.PROFILES, "quick", TINY_PROFILE)
        patch.setitem(bound_commands._PARITY_SIZES, "quick", [8, 16])
        patch.setitem(bound_commands._DEGREE_PARITY_SIZES, "quick", [32])
        patch.setitem(bound_commands._DEGREE_PARITY_SAMPLES, "quick", 500)
        patch.setitem(bound_commands._DEGREE_PARITY_CEILING_SIZES, "quick", [32])
        patch.setitem(bound_commands._SUBSPACE_SIZES, "quick", [8])
        patch.setitem(bound_commands._SUBSPACE_MAX_PLANES, "quick", 16)
        section = csq_section(run_dir, profile="quick", seed=0)
    return run_dir, section


def test_csq_section_files_and_rows(tiny_section):
    run_dir, section = tiny_section
    experiments = {row["experiment"] for row in section.summary_rows}
    descent = [r for r in section.summary_rows if r["experiment"] == "oracle-descent"]

    assert experiments == {"bound", "oracle-descent"}
    assert [path.name for path in section.figures] == [
        "csq_bounds.png",
        "oracle_descent.png",
    ]
    assert all(path.with_suffix(".svg").exists() for path in section.figures)
    assert len(descent) == 2 * 3
    assert (run_dir / "csq" / "histories.json").exists()


def test_csq_section_descent_rows_consistent(tiny_section):
    _, section = tiny_section
    descent = [r for r in section.summary_rows if r["experiment"] == "oracle-descent"]

    for row in descent:
        family = make_family("parity-relu", {"n": row["n"], "k": row["k"]})
        assert row["family_size"] == family.family_size
        assert row["queries_per_run"] == row["steps"] * row["n_parameters"]
        assert row["n_parameters"] == 4 * (row["n"] + 1)
        assert row["seeds"] == 2
        assert row["final_nmse_low"] <= row["final_nmse"] <= row["final_nmse_high"]


def test_csq_section_bound_rows_exact(tiny_section):
    _, section = tiny_section
    bounds = [r for r in section.summary_rows if r["experiment"] == "bound"]
    parity = [r for r in bounds if r["family"] == "parity-relu"]

    assert {r["size"] for r in parity} == {8, 16}
    for row in parity:
        family = make_family("parity-relu", row["params"])
        expected = math.log10((family.family_size - 2) * row["tolerance"] ** 2)
        assert row["family_size"] == family.family_size
        assert row["log10_queries"] == pytest.approx(expected)
        assert row["method"] == "exact"


def test_csq_section_markdown_tables(tiny_section):
    _, section = tiny_section

    assert "| curve | size | family size m (exact) |" in section.markdown
    assert "| setting | n | k | m | oracle |" in section.markdown
    assert "Where the bound bites: Forbidden region:" in section.markdown


def test_oracle_experiment_same_seed_same_rows():
    def rows(seed):
        runs = oracle_descent.run_oracle_experiment(TINY_PROFILE, seed=seed)
        return [
            (row["oracle"], row["final_nmse"], tuple(row["member"]))
            for row in oracle_descent.oracle_rows(runs, TINY_PROFILE)
        ]

    assert rows(4) == rows(4)
