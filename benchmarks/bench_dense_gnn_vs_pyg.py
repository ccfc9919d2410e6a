"""Compare the dense GIN learner with the same model on PyG's sparse message passing.

Both models have identical weights: ``gin-dense`` (:class:`DenseGIN`, one batched
``adj @ h`` per layer) and ``pyg-gin`` (:class:`PyGGNN` with ``GINConv``, scatter
sums over ``edge_index``). Inputs are batches of :math:`G(n, 1/2)` graphs with the
constant node feature. The timed step is one forward and one backward pass of the
mean square output.

PyG is timed twice: on a ``Batch`` converted once before the timed region
("pyg, pre-converted"), and with the conversion ``dense_to_batch`` inside it
("pyg, with conversion"), which is what the ``pyg-gin`` learner does on every call.
Rounds interleave the three so that a change in machine load hits them alike. The
script prints medians by wall clock and by process CPU time, and the ratios
``pyg / dense``. A second table times the neighbour sum alone, forward and backward
on node features of shape (batch, n, width): ``torch.bmm(adj, h)`` against PyG's
``scatter`` of ``h[source]`` onto ``target``, to separate the aggregation from the
per-node MLPs that both models share.

Memory, two measures, both for one forward and backward pass:

- saved for backward: the bytes of the distinct tensor storages that autograd
  saves (``torch.autograd.graph.saved_tensors_hooks``), the activation memory
  that grows with the batch;
- peak allocated: the largest running sum of CPU allocations minus frees reported
  by ``torch.profiler`` with ``profile_memory=True``. The profiler charges each
  operator its net allocation, so peaks inside one operator are missed.

Run from the repository root::

    python benchmarks/bench_dense_gnn_vs_pyg.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile
from torch_geometric.nn import global_add_pool
from torch_geometric.utils import scatter

from symhard.graph_learners import DenseGIN, PyGGNN
from symhard.pyg import dense_to_batch
from symhard.training import build_seeded


def random_graphs(num: int, n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    upper = torch.randint(0, 2, (num, n, n), generator=generator).triu(1).float()
    return upper + upper.transpose(1, 2)


def copy_weights(dense: DenseGIN, pyg: PyGGNN) -> None:
    for layer, conv in zip(dense.layers, pyg.convs, strict=True):
        conv.nn.load_state_dict(layer.mlp.state_dict())
        with torch.no_grad():
            conv.eps.copy_(layer.eps)
    pyg.readout.load_state_dict(dense.readout.state_dict())


def pyg_on_batch(model: PyGGNN, batch) -> torch.Tensor:
    """Run the forward pass of ``PyGGNN`` on an already converted batch."""
    h = batch.x
    for conv in model.convs:
        h = torch.relu(conv(h, batch.edge_index))
    pooled = global_add_pool(h, batch.batch, size=batch.num_graphs)
    return model.readout(pooled).squeeze(-1)


def step(forward: Callable[[], torch.Tensor], model: torch.nn.Module) -> None:
    model.zero_grad(set_to_none=True)
    forward().square().mean().backward()


def time_step(
    forward: Callable[[], torch.Tensor], model: torch.nn.Module
) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    step(forward, model)
    return time.perf_counter() - wall, time.process_time() - cpu


def saved_bytes(forward: Callable[[], torch.Tensor], model: torch.nn.Module) -> int:
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step(forward, model)
    return sum(storages.values())


def peak_bytes(forward: Callable[[], torch.Tensor], model: torch.nn.Module) -> int:
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(forward, model)
    events = sorted(
        (event for event in prof.events() if event.self_cpu_memory_usage != 0),
        key=lambda event: event.time_range.start,
    )
    running = peak = 0
    for event in events:
        running += event.self_cpu_memory_usage
        peak = max(peak, running)
    return peak


def benchmark(n: int, args: argparse.Namespace) -> dict[str, float]:
    dense = build_seeded(lambda: DenseGIN(1, width=args.width, depth=args.depth), 0)
    pyg = PyGGNN("gin", 1, width=args.width, depth=args.depth)
    copy_weights(dense, pyg)
    adj = random_graphs(args.batch, n, seed=n)
    x = torch.ones(args.batch, n, 1)
    batch = dense_to_batch(adj, x)
    variants = {
        "dense": (lambda: dense(adj, x), dense),
        "pyg, pre-converted": (lambda: pyg_on_batch(pyg, batch), pyg),
        "pyg, with conversion": (lambda: pyg(adj, x), pyg),
    }
    with torch.no_grad():
        difference = (dense(adj, x) - pyg(adj, x)).abs().max().item()
    for forward, model in variants.values():
        step(forward, model)  # warm-up
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (forward, model) in variants.items():
            times[name].append(time_step(forward, model))
    edges = int(batch.edge_index.shape[1])
    result = {"n": n, "edges": edges, "max_abs_diff": difference}
    for name, (forward, model) in variants.items():
        result[f"{name} wall ms"] = 1e3 * statistics.median(t[0] for t in times[name])
        result[f"{name} cpu ms"] = 1e3 * statistics.median(t[1] for t in times[name])
        result[f"{name} saved MiB"] = saved_bytes(forward, model) / 2**20
        result[f"{name} peak MiB"] = peak_bytes(forward, model) / 2**20
    return result


def benchmark_aggregation(n: int, args: argparse.Namespace) -> dict[str, float]:
    adj = random_graphs(args.batch, n, seed=n)
    source, target = dense_to_batch(adj).edge_index
    generator = torch.Generator().manual_seed(n)
    h = torch.randn(args.batch, n, args.width, generator=generator)
    h.requires_grad_(True)
    flat = h.reshape(-1, args.width)

    def dense() -> torch.Tensor:
        return torch.bmm(adj, h)

    def sparse() -> torch.Tensor:
        return scatter(flat[source], target, dim=0, dim_size=len(flat), reduce="sum")

    variants = {"dense": dense, "sparse": sparse}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.rounds + 1):
        for name, forward in variants.items():
            wall, cpu = time.perf_counter(), time.process_time()
            h.grad = None
            forward().square().sum().backward()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    result = {"n": n}
    for name in variants:
        rounds = times[name][1:]  # the first round is a warm-up
        result[f"{name} wall ms"] = 1e3 * statistics.median(t[0] for t in rounds)
        result[f"{name} cpu ms"] = 1e3 * statistics.median(t[1] for t in rounds)
    return result


def print_results(results: list[dict[str, float]], args: argparse.Namespace) -> None:
    print(
        f"batch {args.batch} graphs, width {args.width}, depth {args.depth}, "
        f"{args.rounds} interleaved rounds, {torch.get_num_threads()} torch thread"
    )
    print(
        "| n | directed edges | dense ms (wall / CPU) | pyg pre-converted ms "
        "| pyg with conversion ms | ratio pyg / dense, pre-converted (wall / CPU) "
        "| ratio with conversion (wall / CPU) | max abs diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        cells = [f"{r['n']}", f"{r['edges']:,}"]
        for name in ("dense", "pyg, pre-converted", "pyg, with conversion"):
            cells.append(f"{r[f'{name} wall ms']:.1f} / {r[f'{name} cpu ms']:.1f}")
        for name in ("pyg, pre-converted", "pyg, with conversion"):
            wall = r[f"{name} wall ms"] / r["dense wall ms"]
            cpu = r[f"{name} cpu ms"] / r["dense cpu ms"]
            cells.append(f"{wall:.2f} / {cpu:.2f}")
        cells.append(f"{r['max_abs_diff']:.1e}")
        print("| " + " | ".join(cells) + " |")
    print()
    print("| n | saved for backward MiB (dense / pyg / pyg+conv) | peak MiB (same) |")
    print("|---|---|---|")
    for r in results:
        names = ("dense", "pyg, pre-converted", "pyg, with conversion")
        saved = " / ".join(f"{r[f'{name} saved MiB']:.1f}" for name in names)
        peak = " / ".join(f"{r[f'{name} peak MiB']:.1f}" for name in names)
        print(f"| {r['n']} | {saved} | {peak} |")


def print_aggregation(results: list[dict[str, float]]) -> None:
    print(
        "| n | bmm ms (wall / CPU) | scatter ms (wall / CPU) "
        "| ratio scatter / bmm (wall / CPU) |"
    )
    print("|---|---|---|---|")
    for r in results:
        dense = f"{r['dense wall ms']:.2f} / {r['dense cpu ms']:.2f}"
        sparse = f"{r['sparse wall ms']:.2f} / {r['sparse cpu ms']:.2f}"
        wall = r["sparse wall ms"] / r["dense wall ms"]
        cpu = r["sparse cpu ms"] / r["dense cpu ms"]
        print(f"| {r['n']} | {dense} | {sparse} | {wall:.2f} / {cpu:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[16, 32, 64, 128], help="node counts"
    )
    parser.add_argument("--batch", type=int, default=64, help="graphs per batch")
    parser.add_argument("--width", type=int, default=64, help="channels per layer")
    parser.add_argument("--depth", type=int, default=2, help="GIN layers")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = [benchmark(n, args) for n in args.sizes]
    print_results(results, args)
    print()
    print("Neighbour sum alone, forward and backward:")
    print_aggregation([benchmark_aggregation(n, args) for n in args.sizes])


if __name__ == "__main__":
    main()
