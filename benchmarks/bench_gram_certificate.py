"""Time the exact Gram certificate of ``subspace-relu`` against Monte Carlo.

The exact side computes the largest correlation over all pairs of ``planes``
random planes with :func:`symhard.gram.exact_gram_certificate`. The Monte Carlo
side is measured, not run to the end. The standard deviation ``c`` of the product
of two unit-norm members gives the error ``z c / sqrt(N)`` of an ``N``-sample
estimate. Reaching the maximum error ``--target-error`` on every pair at once
(Bonferroni over the pairs, 95% overall) needs ``N = (z c / error)^2`` samples.
The script times one chunk of samples (all members evaluated and the Gram matrix
accumulated) and multiplies: that time and the ratio are extrapolated.

Both sides run on one thread (OpenBLAS and torch), so the ratio compares equal
resources.

Usage::

    python benchmarks/bench_gram_certificate.py
    python benchmarks/bench_gram_certificate.py --planes 500 --d 32
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--planes", type=int, default=2000, help="members M")
    parser.add_argument("--d", type=int, default=64, help="input dimension")
    parser.add_argument("--m", type=int, default=4, help="F has 2m ReLU units")
    parser.add_argument("--seed", type=int, default=0, help="seed of the planes")
    parser.add_argument(
        "--target-error",
        type=float,
        default=1e-6,
        help="maximum error of every Monte Carlo correlation (absolute)",
    )
    parser.add_argument(
        "--pilot-samples",
        type=int,
        default=200_000,
        help="samples per pair used to measure the standard deviation c",
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=2000,
        help="samples in the timed Monte Carlo chunk",
    )
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    # Set before NumPy loads OpenBLAS, so that both sides use one thread.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"

    import numpy as np
    import scipy.stats
    import torch

    from symhard.families.subspace_relu import SubspaceReLU
    from symhard.gram import exact_gram_certificate, monte_carlo_correlation

    torch.set_num_threads(1)
    family = SubspaceReLU(
        d=arguments.d, m=arguments.m, planes=arguments.planes, seed=arguments.seed
    )
    frames, template = family.frames, family.template

    # Exact certificate (planes drawn beforehand, so only the certificate is timed).
    start = time.perf_counter()
    certificate = exact_gram_certificate(frames, template)
    exact_seconds = time.perf_counter() - start

    # Standard deviation of the product f_a f_b on a few pairs. The largest is used.
    rng = np.random.default_rng(arguments.seed + 1)
    pairs = [certificate.argmax] + [
        tuple(int(i) for i in rng.choice(arguments.planes, 2, replace=False))
        for _ in range(4)
    ]
    spreads = []
    for pair in pairs:
        estimate = monte_carlo_correlation(
            frames, template, pair, n_samples=arguments.pilot_samples, seed=rng
        )
        # half_width = z * c / sqrt(N) with z for the estimate's 95% interval.
        z_pair = scipy.stats.norm.ppf(0.975)
        spreads.append(estimate.half_width * np.sqrt(estimate.n_samples) / z_pair)
    spread = max(spreads)
    pilot = monte_carlo_correlation(
        frames,
        template,
        certificate.argmax,
        n_samples=arguments.pilot_samples,
        seed=rng,
    )

    # Samples needed: every pair within target_error at once (Bonferroni, 95%),
    # and for one pair alone.
    z_all = scipy.stats.norm.ppf(1 - 0.05 / (2 * certificate.n_pairs))
    z_one = scipy.stats.norm.ppf(0.975)
    samples_all = (z_all * spread / arguments.target_error) ** 2
    samples_one = (z_one * spread / arguments.target_error) ** 2

    # Time per sample of the Monte Carlo Gram matrix: evaluate all members on a
    # chunk and accumulate F^T F. Best of three repetitions.
    evaluate = template.evaluator(frames)
    scale = torch.from_numpy(1.0 / np.sqrt(certificate.norms_sq))
    gram = torch.zeros(arguments.planes, arguments.planes, dtype=torch.float64)
    generator = torch.Generator().manual_seed(arguments.seed)
    chunk_seconds = []
    for _ in range(3):
        z = torch.randn(
            arguments.chunk, arguments.d, generator=generator, dtype=torch.float64
        )
        start = time.perf_counter()
        values = evaluate(z) * scale
        gram += values.T @ values
        chunk_seconds.append(time.perf_counter() - start)
    per_sample_all = min(chunk_seconds) / arguments.chunk

    # Time per sample for one pair alone (two members).
    pair_evaluate = template.evaluator(frames[list(certificate.argmax)])
    z = torch.randn(100_000, arguments.d, generator=generator, dtype=torch.float64)
    start = time.perf_counter()
    pair_values = pair_evaluate(z)
    _ = (pair_values[:, 0] * pair_values[:, 1]).mean()
    per_sample_one = (time.perf_counter() - start) / len(z)

    monte_carlo_all = samples_all * per_sample_all
    monte_carlo_one = samples_one * per_sample_one
    print(
        f"machine: {platform.processor() or platform.machine()}, 1 thread, "
        f"{os.cpu_count()} CPUs visible; numpy {np.__version__}, torch "
        f"{torch.__version__}"
    )
    print(
        f"family: subspace-relu d={arguments.d} m={arguments.m} "
        f"planes={arguments.planes} seed={arguments.seed}"
    )
    print(
        f"exact certificate: {certificate.n_pairs} pairs in {exact_seconds:.2f} s"
        f" (measured)"
    )
    print(f"  gamma = {certificate.gamma:.6e} (exact) at planes {certificate.argmax}")
    print(f"  mean |corr| = {certificate.mean_abs:.4e} (exact)")
    print(
        f"  Monte Carlo check of that pair: {pilot.value:.4e} "
        f"[{pilot.low:.4e}, {pilot.high:.4e}] with {pilot.n_samples} samples "
        f"(estimated, 95%)"
    )
    print(
        f"Monte Carlo spread c = {spread:.3f} (measured, max over {len(pairs)} pairs)"
    )
    print(
        f"Monte Carlo to max error {arguments.target_error:g} on all pairs "
        f"(z = {z_all:.2f}): N = {samples_all:.3e} samples, "
        f"{per_sample_all * 1e6:.2f} us per sample (measured on {arguments.chunk}),"
        f" {monte_carlo_all:.3e} s (extrapolated)"
    )
    print(
        f"  ratio Monte Carlo / exact = {monte_carlo_all / exact_seconds:.3e} "
        "(extrapolated)"
    )
    print(
        f"Monte Carlo to error {arguments.target_error:g} on one pair "
        f"(z = {z_one:.2f}): N = {samples_one:.3e} samples, "
        f"{per_sample_one * 1e9:.1f} ns per sample (measured), "
        f"{monte_carlo_one:.3e} s (extrapolated)"
    )
    print(
        f"  ratio one-pair Monte Carlo / exact certificate of all pairs = "
        f"{monte_carlo_one / exact_seconds:.3e} (extrapolated)"
    )


if __name__ == "__main__":
    main()
