"""Trials: one learner trained on one task from one seed, run in parallel and resumed.

A :class:`TrialSpec` fixes everything a trial depends on. Its key is a hash of the
resolved specification and the code version, so a run that stops part-way and is
started again skips the trials it already stored and runs only the rest.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import symhard
from symhard._validation import invalid
from symhard.families import make_family
from symhard.families.base import HardFamily, Task
from symhard.groups import make_group
from symhard.learners import make_learner
from symhard.results import ResultStore
from symhard.training import TrainConfig, build_seeded, train

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial depends on.

    Attributes
    ----------
    experiment : str
        The group of trials this one is reported with (for example ``"parity-relu"``).
    family : str
        Family name for ``make_family``; controls use it for their input
        distribution and group.
    params : dict
        Family parameters.
    size_name : str
        The swept parameter (``"n"``, ``"d"``).
    size : int
    k : int or None
    learner : str
    width : int
    depth : int
    train : TrainConfig
    seed : int
        Drives the member drawn, the initialization, the data and the test set.
    control : str or None
        None for a hard-family trial, else a name in ``CONTROLS``.
    control_params : dict
        Settings of the control (for example the teacher's width).
    member : Any
        A fixed member; None draws one from ``seed``.
    """

    experiment: str
    family: str
    params: dict[str, Any]
    size_name: str
    size: int
    k: int | None
    learner: str
    width: int
    depth: int
    train: TrainConfig
    seed: int
    control: str | None = None
    control_params: dict[str, Any] = field(default_factory=dict)
    member: Any = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train"] = self.train.to_dict()
        return data

    def key(self) -> str:
        """Return a hash of the specification and the code version."""
        text = json.dumps(self.to_dict(), sort_keys=True) + code_version()
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def kind(self) -> str:
        return "hard" if self.control is None else "control"


@cache
def code_version() -> str:
    """Return the package version with the git revision when run from a checkout."""
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        revision = "unknown"
    return f"{symhard.__version__}+{revision}"


# Controls -----------------------------------------------------------------------


def _random_teacher(
    spec: TrialSpec, family: HardFamily, rngs: Sequence[np.random.Generator]
) -> tuple[Task, dict[str, Any]]:
    """A randomly initialized network of the learner's own architecture as target."""
    teacher_width = int(spec.control_params.get("teacher_width", 16))
    teacher = build_seeded(
        lambda: family.make_learner(
            spec.learner, width=teacher_width, depth=spec.depth
        ),
        rngs[0],
    )
    teacher.requires_grad_(False)
    base = family.task(family.random_member(rngs[0]))
    # Scale the teacher's output to unit mean square on 16384 inputs.
    generator = torch.Generator().manual_seed(int(rngs[0].integers(2**62)))
    inputs, _ = base.sample(16384, generator, "cpu")
    with torch.no_grad():
        outputs = teacher(*inputs) if isinstance(inputs, tuple) else teacher(inputs)
    scale = float(outputs.double().pow(2).mean().rsqrt())

    def sampler(num: int, generator: torch.Generator, device: torch.device):
        inputs, _ = base.sample(num, generator, device)
        teacher.to(device)
        with torch.no_grad():
            out = teacher(*inputs) if isinstance(inputs, tuple) else teacher(inputs)
        return inputs, out * scale

    task = Task(f"random {spec.learner} teacher", base.n_inputs, sampler)
    return task, {"teacher_width": teacher_width, "output_scale": scale}


def _sparse_parity(
    spec: TrialSpec, family: HardFamily, rngs: Sequence[np.random.Generator]
) -> tuple[Task, dict[str, Any]]:
    """``y = prod_{i in S} x_i`` for ``x`` uniform on the hypercube (SGD learns it)."""
    n = spec.size
    order = int(spec.control_params.get("parity_order", 3))
    subset = sorted(int(i) for i in rngs[0].choice(n, size=order, replace=False))
    index = torch.tensor(subset)

    def sampler(num: int, generator: torch.Generator, device: torch.device):
        bits = torch.randint(0, 2, (num, n), generator=generator, device=device)
        x = bits.float() * 2 - 1
        return x, x[:, index.to(device)].prod(dim=1)

    return Task(f"sparse parity on {subset}", n, sampler), {"subset": subset}


ControlBuilder = Callable[
    [TrialSpec, HardFamily, Sequence[np.random.Generator]], tuple[Task, dict[str, Any]]
]

CONTROLS: dict[str, ControlBuilder] = {
    "random-teacher": _random_teacher,
    "sparse-parity": _sparse_parity,
}


# Running trials -------------------------------------------------------------------


def build_trial(spec: TrialSpec) -> tuple[Task, torch.nn.Module, dict[str, Any]]:
    """Return the task, the initialized learner and the member's description."""
    member_rng, init_rng = np.random.default_rng(spec.seed).spawn(2)
    family = make_family(spec.family, spec.params)
    if spec.control is None:
        member = (
            spec.member if spec.member is not None else family.random_member(member_rng)
        )
        task = family.task(member)
        description = family.member_description(member)
    elif spec.control in CONTROLS:
        task, description = CONTROLS[spec.control](spec, family, [member_rng])
    else:
        raise invalid("control", "one of " + ", ".join(CONTROLS), spec.control)

    if spec.control == "sparse-parity":
        group = make_group("trivial", spec.size)
        factory = lambda: make_learner(  # noqa: E731
            spec.learner, group, width=spec.width, depth=spec.depth
        )
    else:
        factory = lambda: family.make_learner(  # noqa: E731
            spec.learner, width=spec.width, depth=spec.depth
        )
    return task, build_seeded(factory, init_rng), description


def execute_trial(spec: TrialSpec) -> dict[str, Any]:
    """Run one trial on one CPU thread and return its outcome (see ResultStore)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        task, model, member = build_trial(spec)
        train_seed = np.random.default_rng(spec.seed).spawn(3)[2]
        result = train(model, task, spec.train, seed=train_seed)
    finally:
        torch.set_num_threads(threads)
    return {
        "status": "diverged" if result.diverged_at is not None else "done",
        "test_nmse": result.test_nmse,
        "diverged_at": result.diverged_at,
        "seconds": result.seconds,
        "samples_seen": result.samples_seen,
        "n_parameters": result.n_parameters,
        "member": member,
        "history": result.history,
    }


def default_workers() -> int:
    """Return the number of CPU cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def run_trials(
    specs: Sequence[TrialSpec],
    store: ResultStore,
    *,
    workers: int | None = None,
    description: str = "trials",
    show_progress: bool = True,
) -> int:
    """Run the trials of ``specs`` that ``store`` does not hold yet.

    Each finished trial is written to ``store`` at once, in the main process, so an
    interruption (Ctrl-C) loses only the trials still running.

    Parameters
    ----------
    specs : sequence of TrialSpec
    store : ResultStore
    workers : int or None, default=None
        Worker processes; None uses every available core. With 1, trials run in
        this process.
    description : str, default="trials"
        Label of the progress bar.
    show_progress : bool, default=True

    Returns
    -------
    int
        The number of trials run now (not counting those already stored).
    """
    done = store.finished_keys()
    pending = {spec.key(): spec for spec in specs if spec.key() not in done}
    if len(pending) < len(specs):
        logger.info(
            "%s: %d of %d trials already stored, running %d",
            description,
            len(specs) - len(pending),
            len(specs),
            len(pending),
        )
    if not pending:
        return 0
    workers = min(workers or default_workers(), len(pending))
    bar = tqdm(
        total=len(pending), desc=description, disable=not show_progress, unit="trial"
    )
    try:
        if workers == 1:
            for key, spec in pending.items():
                _store_outcome(store, key, spec, execute_trial(spec), bar)
        else:
            _run_in_pool(pending, store, workers, bar)
    finally:
        bar.close()
    return len(pending)


def _run_in_pool(
    pending: dict[str, TrialSpec], store: ResultStore, workers: int, bar: tqdm
) -> None:
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_ignore_interrupts
    )
    futures = {pool.submit(execute_trial, spec): key for key, spec in pending.items()}
    try:
        for future in concurrent.futures.as_completed(futures):
            key = futures[future]
            _store_outcome(store, key, pending[key], future.result(), bar)
    except KeyboardInterrupt:
        # Keep what the workers are finishing now; drop what has not started.
        running = [f for f in futures if not f.cancel()]
        logger.warning("interrupted: saving the %d trials still running", len(running))
        for future in concurrent.futures.as_completed(running):
            if future.exception() is None:
                key = futures[future]
                _store_outcome(store, key, pending[key], future.result(), bar)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_interrupts() -> None:
    # Workers leave Ctrl-C to the main process, which stores their results.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _store_outcome(
    store: ResultStore,
    key: str,
    spec: TrialSpec,
    outcome: dict[str, Any],
    bar: tqdm,
) -> None:
    store.record(key, spec.to_dict(), outcome)
    bar.update(1)
    if outcome["status"] == "diverged":
        logger.warning(
            "trial %s (%s, %s=%d, %s) diverged at step %d",
            key,
            spec.experiment,
            spec.size_name,
            spec.size,
            spec.learner,
            outcome["diverged_at"],
        )
    else:
        logger.debug("trial %s finished: nmse %.4f", key, outcome["test_nmse"])
