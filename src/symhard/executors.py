"""Executors: where :func:`symhard.experiment.run_trials` runs its trials.

- :class:`InlineExecutor` runs trials one at a time in this process (``local``
  backend with one worker).
- :class:`LocalExecutor` runs them in a pool of spawned worker processes that
  ignore Ctrl-C, so the main process decides what happens to running trials.
- :class:`RayExecutor` runs them as Ray tasks, on a Ray instance started for the
  run (and shut down after it) or on an existing cluster whose address the user
  gave. Ray is imported only here, only for this backend.

Every executor takes at most ``workers`` trials at once, so each submitted trial
is running, and returns ``(key, outcome)`` pairs as trials finish. Trials run
:func:`symhard.experiment.execute_trial` everywhere, with one torch thread and
every random stream derived from the spec's seed, so the backends give the same
metrics bit for bit.
"""

from __future__ import annotations

import abc
import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any

from symhard._validation import InvalidParameterError, check_int, invalid
from symhard.experiment import default_workers, execute_trial, failed_outcome

if TYPE_CHECKING:
    from symhard.experiment import TrialSpec

logger = logging.getLogger(__name__)

BACKENDS = ("local", "ray")

Outcome = dict[str, Any]


class Executor(abc.ABC):
    """Runs up to ``workers`` trials at once and reports them as they finish.

    Use as a context manager, so workers (and a Ray instance started for the run)
    are released.
    """

    workers: int

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    @abc.abstractmethod
    def in_flight(self) -> int:
        """The number of submitted trials not yet returned by :meth:`wait`."""

    @abc.abstractmethod
    def submit(self, key: str, spec: TrialSpec) -> None:
        """Start trial ``spec``; callers keep ``in_flight < workers``."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        """Return the trials that finished, waiting up to ``timeout`` seconds."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Abandon the running trials (after a second Ctrl-C)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the workers."""


class InlineExecutor(Executor):
    """Runs each trial in this process when :meth:`wait` is called."""

    def __init__(self) -> None:
        self.workers = 1
        self._queue: deque[tuple[str, TrialSpec]] = deque()

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def submit(self, key: str, spec: TrialSpec) -> None:
        self._queue.append((key, spec))

    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        if not self._queue:
            return []
        key, spec = self._queue[0]
        outcome = execute_trial(spec)
        self._queue.popleft()
        return [(key, outcome)]

    def stop(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        self._queue.clear()


class LocalExecutor(Executor):
    """A pool of ``workers`` spawned processes on this machine.

    Parameters
    ----------
    workers : int
        Worker processes.
    """

    def __init__(self, workers: int) -> None:
        self.workers = check_int("workers", workers, low=1)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_worker,
        )
        self._futures: dict[concurrent.futures.Future, str] = {}

    @property
    def in_flight(self) -> int:
        return len(self._futures)

    def submit(self, key: str, spec: TrialSpec) -> None:
        try:
            future = self._pool.submit(execute_trial, spec)
        except concurrent.futures.process.BrokenProcessPool:
            self._restart_pool()
            future = self._pool.submit(execute_trial, spec)
        self._futures[future] = key

    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        done, _ = concurrent.futures.wait(
            self._futures,
            timeout=timeout,
            return_when=concurrent.futures.FIRST_COMPLETED,
        )
        finished = []
        for future in done:
            key = self._futures.pop(future)
            try:
                outcome = future.result()
            except Exception:  # the worker died or the spec could not be sent
                outcome = failed_outcome(traceback.format_exc())
            finished.append((key, outcome))
        return finished

    def stop(self) -> None:
        # NOTE: ProcessPoolExecutor has no public way to end running calls before
        # Python 3.14, so the workers are terminated through its process table.
        for process in list(getattr(self._pool, "_processes", {}).values()):
            process.terminate()
        self._futures.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _restart_pool(self) -> None:
        logger.warning("a worker process died; starting a new pool")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_worker,
        )


def _prepare_worker() -> None:
    # Workers leave Ctrl-C to the main process, which decides whether the running
    # trials finish. They log errors only: the main process reports each trial's
    # status, and trials.log contains the details.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.ERROR, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    exit_with_parent()


def exit_with_parent(interval: float = 1.0) -> None:
    """End this worker process soon after its parent process dies.

    A pool worker waits on a queue whose write end it keeps open itself, so it never
    reads end-of-file when the parent is killed (SIGKILL, out of memory). A
    daemon thread checks the parent's process id every ``interval`` seconds and
    exits when it changes.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class RayExecutor(Executor):
    """Ray tasks, one CPU each, on a local Ray started here or an existing cluster.

    Parameters
    ----------
    workers : int or None
        Trials running at once. None means every available core for a local Ray,
        or every CPU of the cluster at ``address``.
    address : str or None, default=None
        Address of a running Ray cluster (for example ``"ray://head:10001"`` or
        ``"10.0.0.5:6379"``). None starts a new local Ray instance with
        ``workers`` CPUs and no dashboard, whose files go under Ray's default
        temporary folder (``/tmp/ray``), and shuts it down in :meth:`close`.
        A ``RAY_ADDRESS`` environment variable is ignored: only an address given
        here is ever contacted.

    Notes
    -----
    The tasks call :func:`symhard.experiment.execute_trial`, so every node of an
    existing cluster needs symhard (and the same torch) installed. Usage-statistics
    reporting is turned off (``RAY_USAGE_STATS_ENABLED=0``) unless the environment
    already sets that variable.
    """

    def __init__(self, workers: int | None, *, address: str | None = None) -> None:
        ray = import_ray()
        self._ray = ray
        self._started_here = False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if ray.is_initialized():
            logger.info("using the Ray session already open in this process")
        elif address is None:
            cores = workers or default_workers()
            logger.info("starting a local Ray instance with %d CPUs", cores)
            ray.init(
                address="local",
                num_cpus=cores,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
            self._started_here = True
        else:
            logger.info("connecting to the Ray cluster at %s", address)
            ray.init(
                address=address, log_to_driver=False, logging_level=logging.WARNING
            )
            self._started_here = True
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.workers = check_int("workers", workers, low=1)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute_trial)
        self._refs: dict[Any, str] = {}

    @property
    def in_flight(self) -> int:
        return len(self._refs)

    def submit(self, key: str, spec: TrialSpec) -> None:
        self._refs[self._remote.remote(spec)] = key

    def wait(self, timeout: float) -> list[tuple[str, Outcome]]:
        if not self._refs:
            return []
        ready, waiting = self._ray.wait(
            list(self._refs), num_returns=1, timeout=timeout
        )
        if ready and waiting:  # collect the others that are done too
            more, _ = self._ray.wait(waiting, num_returns=len(waiting), timeout=0)
            ready += more
        finished = []
        for ref in ready:
            key = self._refs.pop(ref)
            try:
                outcome = self._ray.get(ref)
            except self._ray.exceptions.RayError:  # the worker or node died
                outcome = failed_outcome(traceback.format_exc())
            finished.append((key, outcome))
        return finished

    def stop(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()
            self._started_here = False


def import_ray() -> Any:
    """Import Ray, or raise a one-line error that gives the install command."""
    try:
        import ray
    except ImportError:
        raise invalid(
            "--backend",
            "local, or ray with Ray installed (pip install 'symhard[ray]')",
            "ray",
        ) from None
    return ray


def check_backend(backend: str, address: str | None = None) -> None:
    """Check ``backend`` and that ``address`` is given only for Ray."""
    if backend not in BACKENDS:
        raise invalid("--backend", "one of " + ", ".join(BACKENDS), backend)
    if address is not None and backend != "ray":
        raise InvalidParameterError(
            f"invalid value for '--address': only the ray backend uses a cluster "
            f"address, got {address!r} with --backend {backend}"
        )


def make_executor(
    backend: str,
    workers: int | None,
    *,
    address: str | None = None,
    n_trials: int | None = None,
) -> Executor:
    """Build the executor for ``backend``.

    Parameters
    ----------
    backend : str
        ``"local"`` or ``"ray"``.
    workers : int or None
        Trials at once; None uses every available core (or cluster CPU).
    address : str or None, default=None
        Ray cluster address; only for ``backend="ray"``.
    n_trials : int or None, default=None
        Trials to run; a local pool gets no more workers than this.
    """
    check_backend(backend, address)
    if workers is not None:
        workers = check_int("--workers", workers, low=1)
    if backend == "ray":
        return RayExecutor(workers, address=address)
    workers = workers or default_workers()
    if n_trials is not None:
        workers = max(1, min(workers, n_trials))
    if workers == 1:
        return InlineExecutor()
    return LocalExecutor(workers)
