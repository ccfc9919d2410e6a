"""Time the trial executors: the local pool with 2 workers against 1, and Ray.

Two measurements:

1. **Local speedup.** The same CPU-bound trials (parity-relu, cyclic, n=16, k=4,
   an MLP of width 256, 1000 Adam steps of batch 256) run through
   ``symhard.experiment.run_trials`` with ``workers=1`` (in this process) and
   ``workers=2`` (a pool of 2 spawned processes), each into a fresh store. The
   script prints both wall times and the speedup ``time(1) / time(2)``, once for
   the whole call (pool start included) and once for the trials after the
   workers have started. Rounds alternate the two.
2. **Ray overhead.** Tiny trials (5 steps, width 8) run through the local pool
   and through a local Ray instance, both with 2 workers that already ran one
   trial each. The difference of the wall times per trial is Ray's dispatch
   overhead; Ray's start and shutdown are timed on their own.

Before both, a plain matrix-multiplication loop in 1 and in 2 processes measures
the speedup the machine itself gives at that moment, which caps the executor's.
Every trial uses one torch thread. Run from the repository root::

    python benchmarks/bench_executors.py

It takes about 3 minutes on an idle 2-core machine. Wall-clock speedups need
the cores free: on a machine shared with other jobs the ratio shows how much of
two cores the run got, not what the executor can do. The script prints the load
average before and after.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from symhard.executors import Executor, make_executor
from symhard.experiment import TrialSpec, run_trials
from symhard.results import ResultStore
from symhard.training import TrainConfig


def make_specs(count: int, *, steps: int, width: int, n: int, k: int) -> list:
    """Return ``count`` trials that differ only in their seed."""
    base = TrialSpec(
        experiment="bench",
        family="parity-relu",
        params={"n": n, "k": k, "group": "cyclic"},
        size_name="n",
        size=n,
        k=k,
        learner="mlp",
        width=width,
        depth=2,
        train=TrainConfig(
            steps=steps,
            batch_size=256,
            learning_rate=1e-3,
            test_size=1024,
            eval_every=steps,
        ),
        seed=0,
    )
    return [dataclasses.replace(base, seed=seed) for seed in range(count)]


def drive(executor: Executor, specs: list) -> tuple[float, float]:
    """Run ``specs`` on ``executor`` as run_trials does.

    Returns the wall time and the mean CPU time per trial, in seconds.
    """
    queue = list(specs)
    cpu_seconds = []
    started = time.perf_counter()
    while queue or executor.in_flight:
        while queue and executor.in_flight < executor.workers:
            spec = queue.pop()
            executor.submit(spec.key(), spec)
        for _, outcome in executor.wait(0.05):
            cpu_seconds.append(outcome.get("cpu_seconds") or 0.0)
    return time.perf_counter() - started, statistics.mean(cpu_seconds)


def matmul_loop(repeats: int = 3000) -> float:
    """Multiply two 256 x 256 matrices ``repeats`` times; return the wall time."""
    torch.set_num_threads(1)
    matrix = torch.randn(256, 256)
    started = time.perf_counter()
    for _ in range(repeats):
        matrix @ matrix
    return time.perf_counter() - started


def machine_speedup() -> float:
    """Return the speedup the machine gives now to 2 processes over 1.

    The same matrix loop runs once in this process and then in 2 spawned
    processes at the same time. On 2 free cores the ratio is about 2; other jobs
    on the machine lower it, and it caps what any executor can reach.
    """
    alone = matmul_loop()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        list(pool.map(matmul_loop, [10, 10]))  # start both processes first
        started = time.perf_counter()
        list(pool.map(matmul_loop, [3000, 3000]))
        together = time.perf_counter() - started
    return 2 * alone / together


def local_speedup(args: argparse.Namespace) -> None:
    specs = make_specs(args.trials, steps=args.steps, width=args.width, n=16, k=4)
    whole: dict[int, list[float]] = {1: [], 2: []}
    warm: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    # Rounds alternate 1 and 2 workers, so a change of machine load hits both.
    for _ in range(args.rounds):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as folder:
                with ResultStore(Path(folder) / "results.sqlite") as store:
                    started = time.perf_counter()
                    run_trials(specs, store, workers=workers, show_progress=False)
                    whole[workers].append(time.perf_counter() - started)
            with make_executor("local", workers) as executor:
                drive(executor, specs[:workers])  # start the workers
                seconds, cpu_per_trial = drive(executor, specs)
                warm[workers].append(seconds)
                cpu[workers].append(cpu_per_trial)
    print(
        f"local executor, {args.trials} trials of {args.steps} steps "
        f"(MLP width {args.width}), median of {args.rounds} rounds:"
    )
    for label, times in (("whole call", whole), ("pool warm ", warm)):
        one_worker = statistics.median(times[1])
        two_workers = statistics.median(times[2])
        print(
            f"  {label}: 1 worker {one_worker:.1f} s, 2 workers {two_workers:.1f} s, "
            f"speedup {one_worker / two_workers:.2f}"
        )
    # Equal CPU time per trial with a slower wall time means the workers waited
    # for a core, not that the executor added work.
    cpu_one, cpu_two = statistics.median(cpu[1]), statistics.median(cpu[2])
    print(
        f"  CPU time per trial (pool warm): 1 worker {cpu_one:.2f} s, "
        f"2 workers {cpu_two:.2f} s"
    )


def ray_overhead(args: argparse.Namespace) -> None:
    specs = make_specs(args.tiny_trials, steps=5, width=8, n=8, k=2)
    per_trial = {}
    for backend in ("local", "ray"):
        started = time.perf_counter()
        executor = make_executor(backend, 2)
        start_seconds = time.perf_counter() - started
        with executor:
            drive(executor, specs[:2])  # the workers import torch once
            per_trial[backend] = drive(executor, specs)[0] / len(specs)
            closing = time.perf_counter()
        close_seconds = time.perf_counter() - closing
        print(
            f"{backend:5s}: start {start_seconds:.2f} s, close {close_seconds:.2f} s, "
            f"{per_trial[backend] * 1000:.1f} ms per tiny trial"
        )
    overhead = per_trial["ray"] - per_trial["local"]
    print(
        f"Ray overhead per trial over the local pool: {overhead * 1000:.1f} ms "
        f"({args.tiny_trials} trials of 5 steps, 2 workers)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="CPU-bound trials")
    parser.add_argument("--steps", type=int, default=1000, help="steps per trial")
    parser.add_argument("--width", type=int, default=256, help="MLP width")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each")
    parser.add_argument("--tiny-trials", type=int, default=60, help="tiny trials")
    parser.add_argument("--skip-ray", action="store_true", help="skip the Ray part")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}")
    print(f"machine speedup of 2 processes over 1 now: {machine_speedup():.2f}")
    local_speedup(args)
    if not args.skip_ray:
        ray_overhead(args)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
