"""Compare the throughput of ``symhard.training.train`` with a hand-written loop.

Both runs train the same model (same initial weights) on the same parity-relu
task with Adam, the same batch size and the same number of steps. Each draws a
test set first, samples a fresh batch at every step from the same generator, and
evaluates once at the end. Rounds interleave the two so that a change in machine
load hits both alike. The script prints the median samples per second of each,
by wall clock and by process CPU time, and the median over rounds of the ratio
``train / hand-written`` (1.0 means no overhead). It also checks that both reach
the same final normalized test MSE.

Run from the repository root::

    python benchmarks/bench_training_loop.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from symhard._validation import torch_generator
from symhard.families.base import Task
from symhard.families.parity_relu import ParityReLU
from symhard.training import (
    TrainConfig,
    build_seeded,
    evaluate_nmse,
    train,
)


def hand_written_loop(
    model: torch.nn.Module, task: Task, config: TrainConfig, seed: int
) -> float:
    """Train with a minimal loop doing the same math, and return the final NMSE."""
    rng = np.random.default_rng(seed)
    # The same two generators, drawn in the same order, as train() derives.
    test_generator = torch_generator(rng)
    data_generator = torch_generator(rng)
    x_test, y_test = task.sample(config.test_size, test_generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    for _ in range(config.steps):
        x, y = task.sample(config.batch_size, data_generator)
        loss = torch.mean((model(x) - y) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return evaluate_nmse(model, x_test, y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="input size n")
    parser.add_argument("--k", type=int, default=4, help="subset size k")
    parser.add_argument("--learner", default="mlp", help="learner name")
    parser.add_argument("--width", type=int, default=256, help="hidden width")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=256, help="batch size")
    parser.add_argument("--repeats", type=int, default=7, help="rounds of each")
    args = parser.parse_args()
    torch.set_num_threads(1)

    family = ParityReLU(n=args.n, k=args.k, group="cyclic")
    task = family.task(0)
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        learning_rate=1e-3,
        test_size=4096,
        eval_every=args.steps,
    )

    def factory() -> torch.nn.Module:
        return family.make_learner(args.learner, width=args.width)

    # Warm-up: the first run pays for lazy initialization in torch and the task.
    train(build_seeded(factory, 0), task, config, seed=0)

    def run_library() -> float:
        return train(build_seeded(factory, 1), task, config, seed=2).test_nmse

    def run_hand_written() -> float:
        return hand_written_loop(build_seeded(factory, 1), task, config, seed=2)

    samples = args.steps * args.batch
    wall = {"train": [], "hand": []}
    cpu = {"train": [], "hand": []}
    nmse = {}
    for round_index in range(args.repeats):
        # Alternate which loop goes first, so that neither always runs second.
        order = ["train", "hand"] if round_index % 2 == 0 else ["hand", "train"]
        for name in order:
            run = run_library if name == "train" else run_hand_written
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            nmse[name] = run()
            wall[name].append(samples / (time.perf_counter() - wall_start))
            cpu[name].append(samples / (time.process_time() - cpu_start))

    print(f"task: {task.name}")
    print(
        f"learner {args.learner} width {args.width}, Adam, batch {args.batch}, "
        f"{args.steps} steps, 1 thread, {args.repeats} interleaved rounds"
    )
    # CPU time counts only this process's work, so it is the steadier measure
    # when other processes share the cores. Wall time is what a user waits for.
    for clock, rates in (("wall", wall), ("cpu", cpu)):
        ratios = [a / b for a, b in zip(rates["train"], rates["hand"], strict=True)]
        print(
            f"{clock:>4} clock: train {statistics.median(rates['train']):,.0f}, "
            f"hand-written {statistics.median(rates['hand']):,.0f} samples/s "
            f"(medians); median per-round ratio train / hand-written "
            f"{statistics.median(ratios):.3f}"
        )
    print(
        f"final test NMSE: train {nmse['train']:.6f}, hand-written "
        f"{nmse['hand']:.6f}, equal: {nmse['train'] == nmse['hand']}"
    )


if __name__ == "__main__":
    main()
