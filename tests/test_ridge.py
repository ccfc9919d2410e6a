"""Tests for symhard.ridge: exact kernels, ridge sums and Monte Carlo intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch

from symhard._validation import InvalidParameterError
from symhard.ridge import (
    ACTIVATIONS,
    KERNEL_RELATIVE_ERROR,
    RidgeSum,
    gram_matrix,
    kernel_matrix,
    max_abs_off_diagonal,
    mean_with_interval,
    unit_kernel,
)

pytestmark = pytest.mark.usefixtures("torch_single_thread")


# Written here rather than taken from symhard.ridge, so that the Monte Carlo check
# does not share code with the kernel it checks.
REFERENCE_ACTIVATIONS = {
    "relu": lambda t: np.maximum(t, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda t: 1.0 / (1.0 + np.exp(-t)),
    "gelu": lambda t: 0.5 * t * (1.0 + scipy.special.erf(t / math.sqrt(2.0))),
    "softplus": lambda t: np.log1p(np.exp(-np.abs(t))) + np.maximum(t, 0.0),
}

# Pairs (u, v) in R^3 with norms between 0.5 and 1.8 and cosines of both signs.
# At these norms the 64-node Gauss-Hermite rule is accurate to 1e-6 or better,
# far inside the Monte Carlo interval (half-width about 1e-3).
KERNEL_PAIRS = [
    (np.array([1.0, 0.0, 0.0]), np.array([0.3, 0.9, 0.0])),
    (np.array([1.5, -0.5, 0.2]), np.array([-0.8, 0.1, 0.6])),
    (np.array([0.4, 0.3, 0.0]), np.array([1.2, 1.0, -0.9])),
]

MONTE_CARLO_SAMPLES = 1_000_000
Z_999 = scipy.stats.norm.ppf(0.9995)


def test_activations_cover_reference_set():
    assert set(ACTIVATIONS) == set(REFERENCE_ACTIVATIONS)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_matrix_matches_monte_carlo(activation):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((MONTE_CARLO_SAMPLES, 3))
    sigma = REFERENCE_ACTIVATIONS[activation]
    for u, v in KERNEL_PAIRS:
        exact = kernel_matrix(activation, u[None, :], v[None, :])[0, 0]
        products = sigma(z @ u) * sigma(z @ v)
        mean = products.mean()
        half_width = Z_999 * products.std(ddof=1) / math.sqrt(products.size)
        assert abs(exact - mean) <= half_width, (activation, u, v, exact, mean)


def test_kernel_matrix_relu_equal_unit_vectors():
    u = np.array([[0.6, 0.8, 0.0]])
    # E[relu(z)^2] = E[z^2] / 2 for z ~ N(0, 1).
    assert kernel_matrix("relu", u, u)[0, 0] == pytest.approx(0.5, abs=1e-15)


def test_kernel_matrix_relu_orthogonal_unit_vectors():
    u = np.array([[1.0, 0.0]])
    v = np.array([[0.0, 1.0]])
    # Independent factors: E[relu(z)]^2 = (1 / sqrt(2 pi))^2.
    expected = 1 / (2 * math.pi)
    assert kernel_matrix("relu", u, v)[0, 0] == pytest.approx(expected, abs=1e-15)


def test_kernel_matrix_relu_opposite_vectors():
    u = np.array([[0.0, 0.6, -0.8]])
    # relu(t) relu(-t) = 0 for every t.
    assert kernel_matrix("relu", u, -u)[0, 0] == pytest.approx(0.0, abs=1e-15)


def test_kernel_matrix_relu_scales_with_norms():
    u = np.array([[1.0, 0.0]])
    v = np.array([[0.0, 1.0]])
    scaled = kernel_matrix("relu", 3 * u, 0.5 * v)[0, 0]
    assert scaled == pytest.approx(1.5 / (2 * math.pi), abs=1e-15)


def test_kernel_matrix_zero_vector_gives_sigma0_product():
    u = np.zeros((1, 2))
    v = np.array([[0.3, -0.4]])
    # sigma(0) is a constant, so kappa = sigma(0) E[sigma(<v, z>)], which is 0 for
    # ReLU.
    assert kernel_matrix("relu", u, v)[0, 0] == 0.0


def random_vectors(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    """Draw ``count`` vectors in R^dim with norms uniform in [0.5, 1.2]."""
    directions = rng.standard_normal((count, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions * rng.uniform(0.5, 1.2, size=(count, 1))


def gaussian_density(t: float) -> float:
    return math.exp(-t * t / 2) / math.sqrt(2 * math.pi)


def nested_quadrature_kernel(
    activation: str, norm_u: float, norm_v: float, cosine: float
) -> float:
    """Compute E[sigma(a) sigma(b)] by adaptive quadrature over two Gaussians.

    (a, b) = (|u| z1, |v| (c z1 + sqrt(1 - c^2) z2)) has the law of
    (<u, z>, <v, z>) when c is the cosine between u and v.
    """
    sigma = REFERENCE_ACTIVATIONS[activation]
    sine = math.sqrt(1 - cosine**2)

    def inner(z1: float) -> float:
        def integrand(z2: float) -> float:
            b = norm_v * (cosine * z1 + sine * z2)
            return float(sigma(b)) * gaussian_density(z2)

        return scipy.integrate.quad(integrand, -10, 10, epsabs=1e-13)[0]

    def outer(z1: float) -> float:
        return float(sigma(norm_u * z1)) * inner(z1) * gaussian_density(z1)

    return scipy.integrate.quad(outer, -10, 10, epsabs=1e-13)[0]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu", "softplus"])
def test_kernel_matrix_smooth_matches_quadrature(activation):
    for norm_u, norm_v, cosine in [(1.0, 0.8, 0.4), (0.6, 1.0, -0.7)]:
        u = np.array([[norm_u, 0.0]])
        v = norm_v * np.array([[cosine, math.sqrt(1 - cosine**2)]])
        exact = kernel_matrix(activation, u, v)[0, 0]
        reference = nested_quadrature_kernel(activation, norm_u, norm_v, cosine)
        assert exact == pytest.approx(reference, abs=1e-9), (norm_u, norm_v, cosine)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_matrix_symmetric(activation, rng):
    u = random_vectors(rng, 6, 4)
    v = random_vectors(rng, 5, 4)
    forward = kernel_matrix(activation, u, v)
    backward = kernel_matrix(activation, v, u)
    # The Gauss-Hermite rule is aligned with u, so for smooth activations
    # kappa(u, v) and kappa(v, u) agree only to its accuracy (about 1e-8 for tanh
    # at norm 1.2). The ReLU formula is symmetric.
    tolerance = 1e-14 if activation == "relu" else 1e-7
    np.testing.assert_allclose(forward, backward.T, rtol=0, atol=tolerance)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_matrix_positive_semidefinite(activation, rng):
    points = random_vectors(rng, 10, 4)
    kernel = kernel_matrix(activation, points, points)
    symmetric = (kernel + kernel.T) / 2
    eigenvalues = np.linalg.eigvalsh(symmetric)
    assert eigenvalues.min() >= -1e-10 * eigenvalues.max()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_matrix_float64_from_float32(activation, rng):
    points = rng.standard_normal((3, 2)).astype(np.float32)
    kernel = kernel_matrix(activation, points, points)
    assert kernel.dtype == np.float64
    assert kernel.shape == (3, 3)


def test_kernel_matrix_unknown_activation():
    with pytest.raises(InvalidParameterError, match="'activation'.*relu.*'elu'"):
        kernel_matrix("elu", np.eye(2), np.eye(2))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_ridge_sum_numpy_matches_torch(activation, rng):
    ridge = RidgeSum(rng.standard_normal((7, 5)), rng.standard_normal(7), activation)
    z = rng.standard_normal((64, 5))
    from_numpy = ridge(z)
    from_torch = ridge(torch.from_numpy(z)).numpy()
    assert isinstance(from_numpy, np.ndarray)
    np.testing.assert_allclose(from_numpy, from_torch, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_ridge_sum_matches_formula(activation, rng):
    weights = rng.standard_normal((7, 5))
    coefficients = rng.standard_normal(7)
    ridge = RidgeSum(weights, coefficients, activation)
    z = rng.standard_normal((64, 5))
    expected = REFERENCE_ACTIVATIONS[activation](z @ weights.T) @ coefficients
    np.testing.assert_allclose(ridge(z), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ridge_sum_call_preserves_dtype(dtype, rng):
    ridge = RidgeSum(rng.standard_normal((4, 3)), rng.standard_normal(4))
    output = ridge(torch.randn(16, 3, dtype=dtype))
    assert output.dtype == dtype
    assert output.shape == (16,)


def test_ridge_sum_call_preserves_device(rng):
    ridge = RidgeSum(rng.standard_normal((4, 3)), rng.standard_normal(4), "gelu")
    # The meta device computes shapes without data, and any CPU tensor created
    # inside the call would make the matrix product fail.
    output = ridge(torch.empty(16, 3, device="meta"))
    assert output.device.type == "meta"
    assert output.shape == (16,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ridge_sum_call_on_cuda(rng):
    ridge = RidgeSum(rng.standard_normal((4, 3)), rng.standard_normal(4))
    z = torch.randn(16, 3, dtype=torch.float64)
    output = ridge(z.cuda())
    assert output.device.type == "cuda"
    torch.testing.assert_close(output.cpu(), ridge(z))


def test_ridge_sum_stores_float64():
    ridge = RidgeSum(np.eye(2, dtype=np.float32), np.ones(2, dtype=np.float32))
    assert ridge.weights.dtype == np.float64
    assert ridge.coefficients.dtype == np.float64


def test_ridge_sum_shape_mismatch():
    with pytest.raises(ValueError, match=r"coefficients shape \(units,\)"):
        RidgeSum(np.eye(3), np.ones(2))


def test_ridge_sum_norm_sq_two_units():
    ridge = RidgeSum(np.eye(2), np.array([1.0, 1.0]))
    # E[relu(z1)^2] + E[relu(z2)^2] + 2 E[relu(z1)] E[relu(z2)] = 1 + 1 / pi.
    assert ridge.norm_sq() == pytest.approx(1 + 1 / math.pi, abs=1e-14)


def test_ridge_sum_inner_returns_float(rng):
    first = RidgeSum(rng.standard_normal((3, 4)), rng.standard_normal(3), "tanh")
    second = RidgeSum(rng.standard_normal((2, 4)), rng.standard_normal(2), "tanh")
    assert isinstance(first.inner(second), float)


def test_ridge_sum_inner_rejects_mixed_activations():
    first = RidgeSum(np.eye(2), np.ones(2), "relu")
    second = RidgeSum(np.eye(2), np.ones(2), "tanh")
    with pytest.raises(ValueError, match="share one activation"):
        first.inner(second)


def test_ridge_sum_scaled_scales_norm(rng):
    ridge = RidgeSum(rng.standard_normal((3, 4)), rng.standard_normal(3))
    assert ridge.scaled(3.0).norm_sq() == pytest.approx(9 * ridge.norm_sq(), rel=1e-12)


@pytest.mark.parametrize("activation", ["relu", "softplus"])
def test_monte_carlo_inner_contains_exact(activation, rng):
    first = RidgeSum(
        rng.standard_normal((3, 4)) / 2, rng.standard_normal(3), activation
    )
    second = RidgeSum(
        rng.standard_normal((5, 4)) / 2, rng.standard_normal(5), activation
    )
    estimate = first.monte_carlo_inner(
        second, n_samples=200_000, seed=3, confidence=0.999
    )
    assert estimate.contains(first.inner(second))
    assert estimate.n_samples == 200_000


def test_monte_carlo_inner_same_seed_same_value(rng):
    ridge = RidgeSum(rng.standard_normal((3, 4)), rng.standard_normal(3))
    first = ridge.monte_carlo_inner(ridge, n_samples=1000, seed=5, batch_size=300)
    second = ridge.monte_carlo_inner(ridge, n_samples=1000, seed=5, batch_size=300)
    assert first == second


def test_monte_carlo_inner_too_few_samples():
    ridge = RidgeSum(np.eye(2), np.ones(2))
    with pytest.raises(InvalidParameterError, match="'n_samples'.*>= 2.*got 1"):
        ridge.monte_carlo_inner(ridge, n_samples=1)


def test_mean_with_interval_matches_scipy(rng):
    values = rng.standard_normal(500)
    estimate = mean_with_interval(values, confidence=0.9)
    low, high = scipy.stats.norm.interval(
        0.9, loc=values.mean(), scale=scipy.stats.sem(values)
    )
    assert estimate.value == pytest.approx(values.mean(), abs=1e-15)
    assert estimate.low == pytest.approx(low, abs=1e-14)
    assert estimate.high == pytest.approx(high, abs=1e-14)
    assert estimate.half_width == pytest.approx((high - low) / 2, abs=1e-14)


def test_gram_matrix_symmetric(rng):
    functions = [
        RidgeSum(rng.standard_normal((units, 4)), rng.standard_normal(units), "gelu")
        for units in (1, 2, 3, 4)
    ]
    gram = gram_matrix(functions)
    assert gram.shape == (4, 4)
    assert gram.dtype == np.float64
    np.testing.assert_array_equal(gram, gram.T)


def test_gram_matrix_entries_are_inner_products(rng):
    functions = [
        RidgeSum(rng.standard_normal((2, 3)), rng.standard_normal(2)) for _ in range(3)
    ]
    gram = gram_matrix(functions)
    assert gram[0, 2] == pytest.approx(functions[0].inner(functions[2]), abs=1e-14)
    assert gram[1, 1] == pytest.approx(functions[1].norm_sq(), abs=1e-14)


def test_max_abs_off_diagonal_ignores_diagonal():
    gram = np.array([[5.0, -0.3, 0.1], [-0.3, 4.0, 0.2], [0.1, 0.2, 3.0]])
    assert max_abs_off_diagonal(gram) == 0.3


def test_max_abs_off_diagonal_single_function():
    assert max_abs_off_diagonal(np.array([[2.0]])) == 0.0


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_unit_kernel_matches_kernel_matrix(activation, rng):
    u = rng.standard_normal((1, 3))
    v = rng.standard_normal((6, 3))
    v[0] = u[0]
    v[1] = -u[0]
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    cosines = (v @ u[0]).clip(-1.0, 1.0)
    expected = kernel_matrix(activation, u, v)[0]
    np.testing.assert_allclose(unit_kernel(activation, cosines), expected, atol=1e-15)


def test_unit_kernel_relu_closed_form():
    cosines = np.array([-1.0, 0.0, 0.5, 1.0])
    angles = np.arccos(cosines)
    expected = (np.sin(angles) + (np.pi - angles) * cosines) / (2 * np.pi)
    np.testing.assert_allclose(unit_kernel("relu", cosines), expected, atol=1e-16)


def test_kernel_relative_error_covers_activations():
    assert set(KERNEL_RELATIVE_ERROR) == set(ACTIVATIONS)
