"""Trials: one learner trained on one task from one seed, run in parallel and resumed.

A :class:`TrialSpec` fixes everything a trial depends on. Its key is a hash of the
resolved specification and the code version, so a run that stops part-way and is
started again skips the trials it already stored and runs only the rest.

:func:`run_trials` hands the pending trials to an executor: this process, a local
process pool, or Ray (see :mod:`symhard.executors`). It stores each outcome in the
main process as it arrives, shows one progress bar and appends every trial's
details to a log file. A trial that raises is stored as failed with its traceback
instead of stopping the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import subprocess
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

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

# Seconds between checks for Ctrl-C while waiting on running trials.
_POLL_SECONDS = 0.5


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
        Training settings, including the hyperparameters a sweep grids over
        (learning rate, optimizer, initialization scale, batch size).
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
        """Return a hash of the specification.

        The code version is not part of it, so a run resumed after an update of
        symhard keeps its stored trials. Each stored trial records the version
        it ran under, and the report lists the versions when a run mixes them.
        """
        text = json.dumps(self.to_dict(), sort_keys=True)
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
    """Build a task whose target is a random network of the learner's architecture."""
    teacher_width = int(spec.control_params.get("teacher_width", 16))
    teacher = build_seeded(
        lambda: family.make_learner(
            spec.learner, width=teacher_width, depth=spec.depth
        ),
        rngs[0],
    )
    # Evaluation mode, so layers such as batch norm give each input one label.
    teacher.requires_grad_(False).eval()
    base = family.task(family.random_member(rngs[0]))
    # Center and scale the output to zero mean and unit variance on 16384 inputs;
    # otherwise a constant predictor could score a small normalized MSE.
    generator = torch.Generator().manual_seed(int(rngs[0].integers(2**62)))
    inputs, _ = base.sample(16384, generator, "cpu")
    with torch.no_grad():
        outputs = teacher(*inputs) if isinstance(inputs, tuple) else teacher(inputs)
    offset = float(outputs.double().mean())
    scale = float(outputs.double().std().reciprocal())

    def sampler(num: int, generator: torch.Generator, device: torch.device):
        inputs, _ = base.sample(num, generator, device)
        teacher.to(device)
        with torch.no_grad():
            out = teacher(*inputs) if isinstance(inputs, tuple) else teacher(inputs)
        return inputs, (out - offset) * scale

    task = Task(f"random {spec.learner} teacher", base.n_inputs, sampler)
    description = {"teacher_width": teacher_width, "offset": offset, "scale": scale}
    return task, description


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

# The settings each control reads from ``TrialSpec.control_params``.
CONTROL_SETTINGS: dict[str, tuple[str, ...]] = {
    "random-teacher": ("teacher_width",),
    "sparse-parity": ("parity_order",),
}


# Running one trial ------------------------------------------------------------------


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
    """Run one trial on one CPU thread and return its outcome (see ResultStore).

    Every random stream comes from ``spec.seed``, so the outcome is the same,
    bit for bit, in any process on the same machine and software. An exception
    raised while building or training is caught and returned as a ``"failed"``
    outcome with its traceback in ``error``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        task, model, member = build_trial(spec)
        train_seed = np.random.default_rng(spec.seed).spawn(3)[2]
        result = train(model, task, spec.train, seed=train_seed)
    except Exception:  # a broken trial must not stop the sweep
        return failed_outcome(traceback.format_exc(), time.perf_counter() - started)
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
        "error": None,
        # CPU time of this process while the trial ran, building it included;
        # other threads of the process count too.
        "cpu_seconds": time.process_time() - cpu_started,
    }


def failed_outcome(error: str, seconds: float = 0.0) -> dict[str, Any]:
    """Return the outcome of a trial that raised, with ``error`` as its text."""
    return {
        "status": "failed",
        "test_nmse": None,
        "diverged_at": None,
        "seconds": seconds,
        "samples_seen": 0,
        "n_parameters": None,
        "member": None,
        "history": [],
        "error": error,
    }


def estimated_cost(spec: TrialSpec) -> float:
    """Return a rough count of multiply-adds of one trial, used to order trials.

    Running the most expensive trials first keeps every worker busy until the
    end. Learners other than the three built-in ones get the MLP estimate.
    """
    per_sample = spec.size * spec.width + max(spec.depth - 1, 0) * spec.width**2
    if spec.learner == "group-mlp":
        per_sample *= spec.size  # one copy per group element for cyclic groups
    elif spec.learner == "circular-cnn":
        per_sample = spec.size**2 * spec.width
    return float(spec.train.steps * spec.train.batch_size * per_sample)


def default_workers() -> int:
    """Return the number of CPU cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


# Running many trials ----------------------------------------------------------------


def run_trials(
    specs: Sequence[TrialSpec],
    store: ResultStore,
    *,
    workers: int | None = None,
    description: str = "trials",
    show_progress: bool = True,
    backend: str = "local",
    address: str | None = None,
    log_path: str | Path | None = None,
) -> int:
    """Run the trials of ``specs`` that ``store`` does not hold a result for yet.

    Each finished trial is written to ``store`` at once, in this process. On the
    first Ctrl-C no new trial starts, the trials already running finish and are
    stored, and then ``KeyboardInterrupt`` is raised. A second Ctrl-C stops the
    running trials too, and their results are lost.

    Parameters
    ----------
    specs : sequence of TrialSpec
        Duplicates (same key) run once.
    store : ResultStore
    workers : int or None, default=None
        Trials running at once. None uses every available core (for Ray with
        ``address``, every CPU of the cluster). With 1 and the local backend,
        trials run in this process.
    description : str, default="trials"
        Label of the progress bar.
    show_progress : bool, default=True
    backend : str, default="local"
        ``"local"`` (process pool) or ``"ray"``.
    address : str or None, default=None
        Address of an existing Ray cluster; None starts a local Ray for this call.
        Only used by the Ray backend.
    log_path : str, Path or None, default=None
        File to which each trial's start, spec, per-evaluation metrics and error
        are appended; None writes no log.

    Returns
    -------
    int
        The number of trials run now (not counting those already stored).
    """
    from symhard.executors import check_backend, make_executor

    check_backend(backend, address)
    done = store.finished_keys()
    pending: dict[str, TrialSpec] = {}
    for spec in specs:
        key = spec.key()
        if key not in done:
            pending.setdefault(key, spec)
    total = len({spec.key() for spec in specs})
    if len(pending) < total:
        logger.info(
            "%s: %d of %d trials already stored, running %d",
            description,
            total - len(pending),
            total,
            len(pending),
        )
    if not pending:
        return 0
    queue = deque(sorted(pending, key=lambda k: -estimated_cost(pending[k])))
    with (
        _TrialLog(log_path) as trial_log,
        _graceful_interrupt() as interrupt,
        make_executor(backend, workers, address=address, n_trials=len(pending)) as ex,
    ):
        progress = _Progress(len(pending), description, show_progress)
        try:
            while ex.in_flight or (queue and not interrupt.requested):
                while queue and ex.in_flight < ex.workers and not interrupt.requested:
                    key = queue.popleft()
                    ex.submit(key, pending[key])
                    trial_log.started(key, pending[key])
                progress.show(running=ex.in_flight)
                if interrupt.requested and not interrupt.announced:
                    interrupt.announced = True
                    logger.warning(
                        "interrupted: finishing and saving the %d running trials "
                        "(press Ctrl-C again to stop them now)",
                        ex.in_flight,
                    )
                for key, outcome in ex.wait(_POLL_SECONDS):
                    outcome = {**outcome, "code_version": code_version()}
                    store.record(key, pending[key].to_dict(), outcome)
                    trial_log.finished(key, outcome)
                    _log_outcome(key, pending[key], outcome)
                    progress.finished(outcome["status"])
        except KeyboardInterrupt:
            logger.warning("stopped %d running trials without saving", ex.in_flight)
            ex.stop()
            raise
        finally:
            progress.show(running=ex.in_flight)
            progress.close()
    if interrupt.requested:
        raise KeyboardInterrupt
    return len(pending)


class _Progress:
    """One tqdm bar: trials done, with running and failed counts and time left."""

    def __init__(self, total: int, description: str, show: bool) -> None:
        self.bar = tqdm(total=total, desc=description, disable=not show, unit="trial")
        self.failed = 0
        self.diverged = 0
        self._postfix = ""

    def show(self, *, running: int) -> None:
        """Show the counts; the bar is redrawn only when they changed."""
        postfix = (
            f"running {running}, failed {self.failed + self.diverged} "
            f"({self.diverged} diverged)"
        )
        if postfix != self._postfix:
            self._postfix = postfix
            self.bar.set_postfix_str(postfix)

    def finished(self, status: str) -> None:
        self.failed += status == "failed"
        self.diverged += status == "diverged"
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class _Interrupt:
    """Whether Ctrl-C was pressed once, and whether that was logged."""

    requested: bool = False
    announced: bool = False


@contextmanager
def _graceful_interrupt() -> Iterator[_Interrupt]:
    """Turn the first SIGINT into a flag; a second one raises KeyboardInterrupt.

    The handler is installed only in the main thread and only where SIGINT has
    Python's default handler, so processes that ignore SIGINT (pool workers)
    keep ignoring it.
    """
    state = _Interrupt()
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:
        previous = None
    if previous is not signal.default_int_handler:
        yield state
        return

    def handler(signum: int, frame: object) -> None:
        if state.requested:
            raise KeyboardInterrupt
        state.requested = True

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield state
        return
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


class _TrialLog:
    """Appends each trial's start, spec, metrics and error to a text file."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        self._file: IO[str] | None = None

    def __enter__(self) -> _TrialLog:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()

    def started(self, key: str, spec: TrialSpec) -> None:
        self._write(f"start {key} {json.dumps(spec.to_dict(), sort_keys=True)}")

    def finished(self, key: str, outcome: dict[str, Any]) -> None:
        lines = [
            f"finish {key} status={outcome['status']} "
            f"test_nmse={outcome['test_nmse']} diverged_at={outcome['diverged_at']} "
            f"seconds={outcome['seconds']:.3f} "
            f"cpu_seconds={outcome.get('cpu_seconds') or 0.0:.3f}"
        ]
        lines += [
            f"    step {row['step']}: train_loss {row['train_loss']:.6g}, "
            f"test_nmse {row['test_nmse']:.6g}"
            for row in outcome["history"]
        ]
        if outcome.get("error"):
            lines += ["    " + line for line in outcome["error"].rstrip().splitlines()]
        self._write("\n".join(lines))

    def _write(self, text: str) -> None:
        if self._file is None:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._file.write(f"{stamp} {text}\n")
        self._file.flush()


def _log_outcome(key: str, spec: TrialSpec, outcome: dict[str, Any]) -> None:
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
    elif outcome["status"] == "failed":
        last_line = (outcome.get("error") or "").strip().splitlines()[-1:]
        logger.error(
            "trial %s (%s, %s=%d, %s) failed: %s",
            key,
            spec.experiment,
            spec.size_name,
            spec.size,
            spec.learner,
            last_line[0] if last_line else "no error text",
        )
    elif math.isfinite(outcome["test_nmse"]):
        logger.debug("trial %s finished: nmse %.4f", key, outcome["test_nmse"])
