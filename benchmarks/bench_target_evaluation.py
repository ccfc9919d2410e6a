"""Time the batched parity-relu evaluator against a loop over group elements.

The batched evaluator gathers x on every subset of the orbit and does one matrix
product, an activation and a weighted sum. The reference is the textbook group
lift: a PyTorch module computing the single-subset f_S, applied to each permuted
copy g x in a Python loop over the group's elements and averaged. Both run in
float64 on the same inputs; the script prints both times, their ratio and the
largest absolute difference between the two results.

Run from the repository root::

    python benchmarks/bench_target_evaluation.py
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time

import numpy as np
import torch
from torch import nn

from symhard.families.parity_relu import ParityReLU
from symhard.ridge import activation_module


class SubsetParity(nn.Module):
    """f_S(x) = sum over w in {-1, 1}^k of prod(w) sigma(<w, x_S> / sqrt(k))."""

    def __init__(self, subset: tuple[int, ...], activation: str = "relu") -> None:
        super().__init__()
        k = len(subset)
        signs = torch.tensor(
            list(itertools.product((-1.0, 1.0), repeat=k)), dtype=torch.float64
        )
        self.register_buffer("subset", torch.tensor(subset))
        self.register_buffer("directions", signs.T / math.sqrt(k))  # (k, 2^k)
        self.register_buffer("parities", signs.prod(dim=1))  # (2^k,)
        self.activation = activation_module(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, n) to (batch,)."""
        hidden = self.activation(x[:, self.subset] @ self.directions)
        return hidden @ self.parities


def group_lift_loop(
    family: ParityReLU, subset: tuple[int, ...], x: torch.Tensor
) -> torch.Tensor:
    """Average f_S(g x) over the group in a Python loop, scaled to unit norm."""
    module = SubsetParity(subset, family.activation)
    total = torch.zeros(len(x), dtype=x.dtype)
    elements = family.group.elements()
    for g in elements:
        total += module(family.group.act(g, x))
    lift = total / len(elements)
    # The lift averages |O| orthogonal f_S', so its squared norm is base / |O|.
    orbit_size = family.group.orbit_size(subset)
    return lift / math.sqrt(family.base_norm_sq / orbit_size)


def time_call(function) -> tuple[float, float, object]:
    """Run ``function`` once; return its wall seconds, CPU seconds and result."""
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall_start, time.process_time() - cpu_start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="input size n")
    parser.add_argument("--k", type=int, default=6, help="subset size k")
    parser.add_argument("--batch", type=int, default=4096, help="inputs per call")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    family = ParityReLU(n=args.n, k=args.k, group="cyclic")
    rng = np.random.default_rng(args.seed)
    subset = family.random_member(rng)
    x_numpy = rng.standard_normal((args.batch, args.n))
    x = torch.from_numpy(x_numpy)

    # Warm up both paths (and the family's cached norm and evaluator setup).
    family.evaluate({"x": x_numpy[:8]}, member=subset)
    group_lift_loop(family, subset, x[:8])

    times = {"batched": [], "loop": []}
    results = {}
    calls = {
        "batched": lambda: family.evaluate({"x": x_numpy}, member=subset),
        "loop": lambda: group_lift_loop(family, subset, x).numpy(),
    }
    for round_index in range(args.repeats):
        # Interleaved, and alternating which goes first, so that a change in
        # machine load hits both paths alike.
        order = ["batched", "loop"] if round_index % 2 == 0 else ["loop", "batched"]
        for name in order:
            wall, cpu, results[name] = time_call(calls[name])
            times[name].append((wall, cpu))

    difference = float(np.abs(results["batched"] - results["loop"]).max())
    print(f"family: {family!r}, member {list(subset)}")
    print(
        f"group order {family.group.order}, orbit size "
        f"{family.group.orbit_size(subset)}, batch {args.batch}, float64, 1 thread, "
        f"{args.repeats} interleaved rounds"
    )
    # CPU time counts only this process's work, so it is the steadier measure
    # when other processes share the cores.
    for column, clock in enumerate(("wall", "cpu")):
        batched = statistics.median(t[column] for t in times["batched"])
        loop = statistics.median(t[column] for t in times["loop"])
        print(
            f"{clock:>4} clock: batched evaluator (family.evaluate) "
            f"{batched * 1e3:.1f} ms, loop over group elements {loop * 1e3:.1f} ms "
            f"(medians); speed ratio loop / batched {loop / batched:.2f}"
        )
    print(f"max abs difference: {difference:.2e} (values have mean square ~1)")


if __name__ == "__main__":
    main()
