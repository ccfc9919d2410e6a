"""Tests for symhard.gram: the blocked exact Gram engine and its Monte Carlo check.

The reference values come from explicit ridge sums (every unit materialized) and
``symhard.ridge.gram_matrix``, which uses the full arc-cosine kernel instead of the
even and linear split of the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from symhard import gram
from symhard._validation import InvalidParameterError, LimitExceededError
from symhard.gram import (
    FrameTemplate,
    exact_gram_certificate,
    exact_inner_products,
    gram_kernel_evaluations,
    monte_carlo_correlation,
)
from symhard.groups import cyclic, dihedral
from symhard.ridge import gram_matrix


def random_frames(rng: np.random.Generator, count: int, dim: int, k: int = 2):
    q, _ = np.linalg.qr(rng.standard_normal((count, dim, k)))
    return q


def alternating_template(m: int = 4, **lift) -> FrameTemplate:
    angles = np.pi * np.arange(m) / m
    half = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    directions = np.concatenate([half, -half])
    return FrameTemplate(directions, (-1.0) ** np.arange(2 * m), **lift)


def cycle_aggregation(n: int) -> np.ndarray:
    with_loops = np.eye(n) + np.roll(np.eye(n), 1, axis=1) + np.roll(np.eye(n), -1, 1)
    return with_loops / np.sqrt(with_loops.sum(axis=1, keepdims=True))


def random_graph_aggregation(rng: np.random.Generator, n: int) -> np.ndarray:
    upper = np.triu(rng.random((n, n)) < 0.5, k=1)
    with_loops = (upper | upper.T) + np.eye(n)
    return with_loops / np.sqrt(with_loops.sum(axis=1, keepdims=True))


def brute_force_gram(frames: np.ndarray, template: FrameTemplate) -> np.ndarray:
    """Raw Gram matrix from explicit ridge sums, one unit per row."""
    return gram_matrix([template.ridge_sum(frame) for frame in frames])


def normalized(gram: np.ndarray) -> np.ndarray:
    scale = 1.0 / np.sqrt(np.diag(gram))
    return gram * np.outer(scale, scale)


LIFTS = {
    "none": lambda rng: alternating_template(),
    "cycle": lambda rng: alternating_template(aggregation=cycle_aggregation(4)),
    "random-graph": lambda rng: alternating_template(
        aggregation=random_graph_aggregation(rng, 5)
    ),
    "cyclic": lambda rng: alternating_template(group_elements=cyclic(5).elements()),
    "dihedral": lambda rng: alternating_template(group_elements=dihedral(5).elements()),
}


@pytest.mark.parametrize("lift", LIFTS)
def test_exact_gram_matches_brute_force(rng, lift):
    template = LIFTS[lift](rng)
    frames = random_frames(rng, 6, 5)
    reference = brute_force_gram(frames, template)
    certificate = exact_gram_certificate(frames, template, return_gram=True)
    assert np.allclose(certificate.norms_sq, np.diag(reference), rtol=0, atol=1e-13)
    assert np.allclose(certificate.gram, normalized(reference), rtol=0, atol=1e-13)


def test_exact_gram_general_template_matches_brute_force(rng):
    # Units that are not antipodal, not unit length and carry a linear part.
    template = FrameTemplate(
        rng.standard_normal((5, 3)), rng.standard_normal(5), group_elements=None
    )
    frames = random_frames(rng, 5, 4, k=3)
    reference = brute_force_gram(frames, template)
    certificate = exact_gram_certificate(frames, template, return_gram=True)
    assert np.allclose(certificate.gram, normalized(reference), rtol=0, atol=1e-13)


def test_exact_inner_products_match_brute_force_pairs(rng):
    template = alternating_template(aggregation=cycle_aggregation(3))
    first, second = random_frames(rng, 4, 3), random_frames(rng, 4, 3)
    exact = exact_inner_products(first, second, template)
    for index in range(4):
        left = template.ridge_sum(first[index])
        expected = left.inner(template.ridge_sum(second[index]))
        assert exact[index] == pytest.approx(expected, abs=1e-14)


def test_certificate_gamma_is_max_off_diagonal(rng):
    frames = random_frames(rng, 9, 3)
    certificate = exact_gram_certificate(
        frames, alternating_template(), return_gram=True
    )
    off_diagonal = np.abs(certificate.gram[np.triu_indices(9, k=1)])
    first, second = certificate.argmax
    assert certificate.gamma == pytest.approx(off_diagonal.max(), abs=1e-15)
    assert first < second
    assert abs(certificate.gram[first, second]) == certificate.gamma
    assert certificate.mean_abs == pytest.approx(off_diagonal.mean(), rel=1e-12)
    assert certificate.n_pairs == 36
    assert certificate.method == "exact"


@pytest.mark.parametrize("block_size", [1, 2, 4, 7, None])
def test_certificate_independent_of_block_size(rng, block_size):
    frames = random_frames(rng, 11, 4)
    template = alternating_template(group_elements=cyclic(4).elements())
    reference = exact_gram_certificate(frames, template, block_size=11)
    certificate = exact_gram_certificate(frames, template, block_size=block_size)
    assert certificate.argmax == reference.argmax
    assert certificate.gamma == pytest.approx(reference.gamma, abs=1e-15)
    assert certificate.mean_abs == pytest.approx(reference.mean_abs, rel=1e-12)


def test_certificate_single_member_has_no_pairs(rng):
    certificate = exact_gram_certificate(
        random_frames(rng, 1, 3), alternating_template()
    )
    assert certificate.gamma == 0.0
    assert certificate.argmax is None
    assert certificate.n_pairs == 0


def test_certificate_docstring_pair_value():
    # f = relu(z1) - relu(z2), g = relu(z1) - relu(z3):
    # <f, g> = 1/2 - 1/(2 pi) and |f|^2 = |g|^2 = 1 - 1/pi, so the correlation is 1/2.
    template = FrameTemplate(np.eye(2), np.array([1.0, -1.0]))
    frames = np.stack([np.eye(3)[:, :2], np.eye(3)[:, [0, 2]]])
    certificate = exact_gram_certificate(frames, template)
    assert certificate.gamma == pytest.approx(0.5, abs=1e-15)
    assert certificate.norms_sq[0] == pytest.approx(1 - 1 / math.pi, abs=1e-15)


def test_identical_frames_have_correlation_one(rng):
    frame = random_frames(rng, 1, 6)
    certificate = exact_gram_certificate(
        np.concatenate([frame, frame]), alternating_template()
    )
    assert certificate.gamma == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("lift", ["cycle", "dihedral"])
def test_template_evaluate_matches_ridge_sum(rng, lift):
    template = LIFTS[lift](rng)
    frames = random_frames(rng, 3, 5 if lift == "dihedral" else 3)
    inputs = rng.standard_normal((20, *template.input_shape(frames.shape[1])))
    values = template.evaluate(frames, inputs)
    flat = inputs.reshape(20, -1)
    for index, frame in enumerate(frames):
        expected = template.ridge_sum(frame)(flat)
        assert np.allclose(values[:, index], expected, rtol=0, atol=1e-13)


def test_template_evaluator_keeps_dtype_and_device(rng):
    template = alternating_template()
    evaluate = template.evaluator(random_frames(rng, 2, 3), dtype=torch.float32)
    values = evaluate(torch.randn(4, 3))
    assert values.dtype == torch.float32
    assert values.shape == (4, 2)


def test_monte_carlo_correlation_contains_exact(rng):
    # d = 3 keeps the correlations of order 0.3, far above the interval width.
    template = alternating_template(aggregation=cycle_aggregation(3))
    frames = random_frames(rng, 2, 3)
    exact = exact_gram_certificate(frames, template, return_gram=True).gram[0, 1]
    estimate = monte_carlo_correlation(
        frames, template, (0, 1), n_samples=200_000, seed=5, confidence=0.999
    )
    assert estimate.contains(exact)
    assert estimate.half_width < 0.02


def test_monte_carlo_raw_norm_contains_exact(rng):
    template = alternating_template(group_elements=cyclic(4).elements())
    frames = random_frames(rng, 1, 4)
    exact = exact_inner_products(frames, frames, template)[0]
    estimate = monte_carlo_correlation(
        frames,
        template,
        (0, 0),
        n_samples=200_000,
        seed=6,
        normalize=False,
        confidence=0.999,
    )
    assert estimate.contains(exact)


def test_abs_kernel_matches_monte_carlo():
    # E|X||Y| = (2/pi)(sqrt(1 - c^2) + c arcsin c) for correlation c, through the
    # template relu(t) + relu(-t) = |t| on the pair of frames e1 and (c, s).
    template = FrameTemplate(np.array([[1.0], [-1.0]]), np.ones(2))
    rng = np.random.default_rng(3)
    z = rng.standard_normal((400_000, 2))
    for c in (-0.9, 0.3, 0.999):
        frames = np.array([[[1.0], [0.0]], [[c], [math.sqrt(1 - c * c)]]])
        exact = exact_inner_products(frames[:1], frames[1:], template)[0]
        products = np.abs(z[:, 0]) * np.abs(z @ frames[1, :, 0])
        half_width = scipy.stats.norm.ppf(0.9995) * products.std() / math.sqrt(len(z))
        assert abs(exact - products.mean()) <= half_width


def test_node_cosine_grouping_counts_all_pairs(rng):
    aggregation = random_graph_aggregation(rng, 7)
    template = alternating_template(aggregation=aggregation)
    values, weights = template._node_cosines, template._node_weights
    assert weights.sum() * 7 == pytest.approx(49)
    assert values @ weights * 7 == pytest.approx((aggregation @ aggregation.T).sum())


def test_frames_not_orthonormal_rejected(rng):
    frames = random_frames(rng, 2, 3) * 1.1
    with pytest.raises(InvalidParameterError, match="'frames'.*orthonormal columns"):
        exact_gram_certificate(frames, alternating_template())


def test_frames_wrong_shape_rejected(rng):
    with pytest.raises(InvalidParameterError, match=r"'frames'.*\(M, D, 2\)"):
        exact_gram_certificate(random_frames(rng, 2, 3, k=3), alternating_template())


def test_frames_outside_group_dimension_rejected(rng):
    template = alternating_template(group_elements=cyclic(5).elements())
    with pytest.raises(InvalidParameterError, match="'frames'.*R\\^5"):
        exact_gram_certificate(random_frames(rng, 2, 4), template)


def test_memory_limit_too_small_rejected(rng):
    template = alternating_template(group_elements=dihedral(6).elements())
    with pytest.raises(LimitExceededError, match="'memory_limit_mb'.*one pair"):
        exact_gram_certificate(random_frames(rng, 2, 6), template, memory_limit_mb=1e-4)


def test_gram_matrix_past_memory_limit_rejected(rng):
    with pytest.raises(LimitExceededError, match="return_gram=False"):
        exact_gram_certificate(
            random_frames(rng, 400, 3),
            alternating_template(),
            return_gram=True,
            memory_limit_mb=1,
        )


def test_block_size_past_memory_limit_rejected(rng):
    with pytest.raises(LimitExceededError, match="'block_size'"):
        exact_gram_certificate(
            random_frames(rng, 4, 3),
            alternating_template(),
            block_size=4096,
            memory_limit_mb=1,
        )


def test_template_with_both_lifts_rejected():
    with pytest.raises(InvalidParameterError, match="'group_elements'.*aggregation"):
        alternating_template(
            aggregation=cycle_aggregation(3), group_elements=cyclic(3).elements()
        )


def test_aggregation_rows_not_unit_rejected():
    with pytest.raises(InvalidParameterError, match="'aggregation'.*unit-norm rows"):
        alternating_template(aggregation=np.ones((3, 3)))


def test_group_elements_not_permutations_rejected():
    with pytest.raises(InvalidParameterError, match="'group_elements'"):
        alternating_template(group_elements=np.array([[0, 0, 1]]))


def test_coefficients_shape_mismatch_rejected():
    with pytest.raises(InvalidParameterError, match="'coefficients'"):
        FrameTemplate(np.eye(2), np.ones(3))


# Cost estimate --------------------------------------------------------------------


def count_kernel_calls(monkeypatch) -> list[int]:
    """Wrap the kernel of the engine so that it records how many values it computes."""
    calls: list[int] = []
    original = gram._abs_kernel_inplace

    def counting(correlations):
        calls.append(correlations.size)
        return original(correlations)

    monkeypatch.setattr(gram, "_abs_kernel_inplace", counting)
    return calls


@pytest.mark.parametrize(
    "lift",
    [
        pytest.param({}, id="none"),
        pytest.param({"group_elements": cyclic(5).elements()}, id="group"),
        pytest.param({"aggregation": cycle_aggregation(4)}, id="gnn"),
    ],
)
def test_gram_kernel_evaluations_counts_kernel(lift, rng, monkeypatch):
    template = alternating_template(m=4, **lift)
    frames = random_frames(rng, 7, 5)
    calls = count_kernel_calls(monkeypatch)
    exact_gram_certificate(frames, template, block_size=1)
    # Blocks of one row visit the 21 pairs a < b, the 7 pairs (a, a) on the
    # diagonal, and the 7 norms: 35 pairs in all, every one with the same count.
    per_pair = sum(calls) // 35
    assert sum(calls) == 35 * per_pair
    assert gram_kernel_evaluations(template, 7) == 21 * per_pair


def test_gram_kernel_evaluations_one_member():
    assert gram_kernel_evaluations(alternating_template(), 1) == 0


def test_gram_kernel_evaluations_rejects_zero_members():
    with pytest.raises(InvalidParameterError, match="'members'.*got 0"):
        gram_kernel_evaluations(alternating_template(), 0)
