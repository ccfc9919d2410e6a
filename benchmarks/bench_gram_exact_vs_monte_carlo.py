"""Compare the exact Gram matrix of parity-relu members with Monte Carlo estimates.

The exact Gram matrix comes from ``symhard.ridge.gram_matrix`` (arc-cosine kernel,
float64). The Monte Carlo estimate is ``Y^T Y / N`` with ``Y`` the members'
values on ``N`` Gaussian inputs. The script measures the largest entry error of
the estimate and its time at several ``N``, fits ``error = c / sqrt(N)``, and
extrapolates the samples and the time that Monte Carlo would need to reach a
target accuracy (default 1e-6). The extrapolated numbers are labeled as such.

Run from the repository root::

    python benchmarks/bench_gram_exact_vs_monte_carlo.py
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch

from symhard.families.parity_relu import ParityReLU
from symhard.ridge import gram_matrix

SAMPLE_SIZES = (1_000, 10_000, 100_000, 1_000_000)


def monte_carlo_gram(
    family: ParityReLU, members: list[int], n_samples: int, seed: int
) -> np.ndarray:
    """Estimate the Gram matrix from ``n_samples`` shared Gaussian inputs."""
    x = np.random.default_rng(seed).standard_normal((n_samples, family.n))
    values = np.stack([family.evaluate({"x": x}, member=m) for m in members], axis=1)
    return values.T @ values / n_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="input size n")
    parser.add_argument("--k", type=int, default=4, help="subset size k")
    parser.add_argument("--members", type=int, default=4, help="Gram matrix size")
    parser.add_argument("--target", type=float, default=1e-6, help="accuracy level")
    parser.add_argument("--repeats", type=int, default=5, help="timed exact rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)

    family = ParityReLU(n=args.n, k=args.k, group="cyclic")
    members = list(range(min(args.members, family.family_size)))
    ridges = [family.member_ridge(m) for m in members]
    gram_matrix(ridges)  # warm-up

    exact_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        exact = gram_matrix(ridges)
        exact_times.append(time.perf_counter() - start)
    exact_seconds = statistics.median(exact_times)
    # The members are orthonormal, so the identity is the Gram matrix in exact
    # arithmetic and the distance to it is the float64 rounding error.
    exact_error = float(np.abs(exact - np.eye(len(members))).max())

    print(f"family: {family!r}, members {members}")
    units = sum(len(ridge.weights) for ridge in ridges)
    print(f"{units} ridge units in total, float64, 1 thread")
    print(
        f"exact Gram matrix: {exact_seconds * 1e3:.2f} ms median of {args.repeats}, "
        f"max |G - I| = {exact_error:.1e}"
    )
    print(f"{'samples':>10} {'seconds':>9} {'max error':>10} {'error*sqrt(N)':>14}")
    scaled_errors, seconds_per_sample = [], []
    for seed, n_samples in enumerate(SAMPLE_SIZES):
        start = time.perf_counter()
        estimate = monte_carlo_gram(family, members, n_samples, seed)
        seconds = time.perf_counter() - start
        error = float(np.abs(estimate - exact).max())
        scaled_errors.append(error * math.sqrt(n_samples))
        seconds_per_sample.append(seconds / n_samples)
        print(
            f"{n_samples:>10} {seconds:>9.3f} {error:>10.2e} {scaled_errors[-1]:>14.3f}"
        )

    # error ~ c / sqrt(N): c from the median of error * sqrt(N), and the time per
    # sample from the largest run (the smaller ones are dominated by overhead).
    constant = statistics.median(scaled_errors)
    needed = (constant / args.target) ** 2
    needed_seconds = needed * seconds_per_sample[-1]
    print(f"fitted c = {constant:.3f} in max error = c / sqrt(N)")
    print(
        f"EXTRAPOLATED: Monte Carlo needs about {needed:.1e} samples and "
        f"{needed_seconds:.1e} s to reach max error {args.target:g}"
    )
    print(
        f"EXTRAPOLATED time ratio Monte Carlo / exact at {args.target:g}: "
        f"{needed_seconds / exact_seconds:.1e}"
    )


if __name__ == "__main__":
    main()
