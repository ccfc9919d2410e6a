"""The main job: sweep a hard family's size, train learners on it, and write a report.

For ``parity-relu`` under the cyclic group and each ``k``, members are drawn from
the seed at a range of ``n``. Every learner trains on fresh samples. Its best
normalized test MSE over a hyperparameter grid is reported over seeds with an
interval, beside the CSQ lower bound at the tolerance a mini-batch gradient has
(``1 / sqrt(batch_size)``). Controls (a random teacher of each learner's own
architecture, and sparse parity) show that the trainer works. The trials run
through the sweep machinery (:mod:`symhard.sweep`) on the local process pool or
on Ray. The other experiments of the package add their sections through
``SECTION_BUILDERS``; they run in one background process beside the trials.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib
import logging
import multiprocessing
import signal
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from symhard._validation import check_choice, check_int
from symhard.executors import check_backend, exit_with_parent
from symhard.sections import (
    SECTION_BUILDERS,
    ReportSection,
    load_section,
    save_section,
)
from symhard.sweep import (
    SweepEntry,
    SweepSpec,
    environment,
    prepare_run_directory,
    resolve_spec,
    run_spec_trials,
    write_json,
)

logger = logging.getLogger(__name__)

FAMILY = "parity-relu"
GROUP = "cyclic"
LEARNERS = ("mlp", "group-mlp", "circular-cnn")


def parity_relu_profile(
    name: str,
    *,
    sizes: Mapping[int, Sequence[int]],
    learners: Sequence[str] = LEARNERS,
    seeds: int,
    train: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    tuned_grid: Mapping[str, Sequence[Any]] | None = None,
    control_n: int,
    sparse_parity_n: int,
    description: str = "",
) -> SweepSpec:
    """Build the ``reproduce`` sweep of ``parity-relu`` under the cyclic group.

    Parameters
    ----------
    name : str
    sizes : mapping of int to sequence of int
        For each ``k``, the values of ``n``.
    learners : sequence of str, default=LEARNERS
    seeds : int
    train : mapping
        Fixed training settings (``steps``, ``test_size``, ``eval_every``).
    grid : mapping of str to sequence
        The hyperparameter grid of every row and of the controls.
    tuned_grid : mapping of str to sequence or None, default=None
        A larger grid for the largest ``n`` of each ``k`` only, replacing the
        matching keys of ``grid`` there; None uses ``grid`` everywhere.
    control_n : int
        Input size of the random-teacher controls.
    sparse_parity_n : int
        Input size of the sparse-parity control (parity of 3 bits, MLP of width
        256).
    description : str, default=""
        Shown at the top of the report.
    """
    families = []
    for k, ns in sizes.items():
        ns = tuple(ns)
        untuned = ns if tuned_grid is None else ns[:-1]
        if untuned:
            families.append(SweepEntry(FAMILY, {"n": untuned, "k": k, "group": GROUP}))
        if tuned_grid is not None:
            families.append(
                SweepEntry(
                    FAMILY,
                    {"n": ns[-1], "k": k, "group": GROUP},
                    grid={key: tuple(values) for key, values in tuned_grid.items()},
                )
            )
    controls = (
        SweepEntry(
            FAMILY,
            {"n": control_n, "k": 2, "group": GROUP},
            control="random-teacher",
            control_params={"teacher_width": 16},
        ),
        SweepEntry(
            FAMILY,
            {"n": sparse_parity_n, "k": 2, "group": "trivial"},
            learners=("mlp",),
            grid={"width": (256,)},
            control="sparse-parity",
            control_params={"parity_order": 3},
        ),
    )
    spec = SweepSpec(
        name=name,
        families=tuple(families),
        learners=tuple(learners),
        grid={key: tuple(values) for key, values in grid.items()},
        train=dict(train),
        seeds=seeds,
        controls=controls,
        description=description,
    )
    return resolve_spec(spec)


# Trial times on 1 torch thread (process CPU time, one seed, measured on the shared
# 2-core development machine): the base grid of the quick profile about 150 s, the
# random-teacher and sparse-parity controls about 15 s, and the second learning
# rate at the largest n of each k about 70 s, 60% of it k = 6 group-mlp. With 3
# seeds that is about 12 CPU minutes, next to about 5 for the other sections, so
# the full grid on every n would not fit the 10-minute budget on 2 cores.
PROFILES: dict[str, SweepSpec] = {
    "quick": parity_relu_profile(
        "quick",
        sizes={2: (4, 8, 16), 4: (4, 8, 16, 24), 6: (6, 10, 16)},
        seeds=3,
        train={"steps": 1000, "test_size": 4096, "eval_every": 250},
        grid={"learning_rate": (3e-3,), "batch_size": (256,)},
        tuned_grid={"learning_rate": (1e-3, 3e-3)},
        control_n=16,
        sparse_parity_n=10,
        description=(
            "Quick profile: the learning-rate grid runs only at the largest n of "
            "each k, where a failure must not be blamed on tuning; smaller n and "
            "the controls use learning rate 0.003. The full grid on every n does "
            "not fit the profile's budget of 10 minutes on 2 CPU cores."
        ),
    ),
    # For a larger machine or a Ray cluster: longer training, larger n, more
    # seeds, and the grid (5 learning rates, 2 initialization scales) on every
    # size and control, 3050 trials in all.
    "paper": parity_relu_profile(
        "paper",
        sizes={
            2: (4, 8, 16, 32, 64),
            4: (4, 8, 12, 16, 24, 32, 48),
            6: (6, 8, 10, 12, 16, 24, 32),
        },
        seeds=5,
        train={"steps": 20000, "test_size": 16384, "eval_every": 1000},
        grid={
            "learning_rate": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
            "init_scale": (0.5, 1.0),
            "batch_size": (512,),
        },
        control_n=32,
        sparse_parity_n=20,
    ),
}

MAIN_TITLE = f"{FAMILY} under the {GROUP} group"


def trial_specs(profile: SweepSpec, seed: int) -> list:
    """List the trials of ``profile`` run from ``seed``."""
    return dataclasses.replace(profile, seed=seed).trials()


def reproduce(
    out: str | Path,
    *,
    profile: str = "quick",
    seed: int = 0,
    workers: int | None = None,
    sections: bool = True,
    backend: str = "local",
    address: str | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the main job and write its run directory.

    Parameters
    ----------
    out : str or Path
        The run directory. Trials already stored there are not run again; a
        directory containing a run of another profile or seed is rejected.
    profile : str, default="quick"
        A key of ``PROFILES``.
    seed : int, default=0
    workers : int or None, default=None
        Trials running at once; None uses every available core.
    sections : bool, default=True
        Whether to run the experiments of ``SECTION_BUILDERS`` too.
    backend : str, default="local"
        ``"local"`` (process pool) or ``"ray"``.
    address : str or None, default=None
        Address of an existing Ray cluster; None starts a local Ray for the run.
    show_progress : bool, default=True

    Returns
    -------
    dict
        ``summary`` (rows), ``failed_sections`` (builder paths), ``seconds`` and
        ``n_run`` (trials run by this call).
    """
    from symhard.report import write_report

    check_choice("profile", profile, PROFILES)
    seed = check_int("seed", seed, low=0)
    check_backend(backend, address)
    spec = dataclasses.replace(PROFILES[profile], seed=seed)
    run_dir = prepare_run_directory(
        out, spec, extra={"kind": "reproduce", "profile": profile, "family": FAMILY}
    )
    start = time.perf_counter()

    # The other experiments run in one background process while the trials use
    # the workers, so the job keeps every core busy until the end. The process is
    # not a daemon, so a section may start worker processes of its own.
    section_pool = concurrent.futures.ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_prepare_section_worker,
    )
    pending_sections = [
        (path, section_pool.submit(_build_section, path, run_dir, profile, seed))
        for path in (SECTION_BUILDERS if sections else [])
    ]
    try:
        result = run_spec_trials(
            spec,
            run_dir,
            backend=backend,
            address=address,
            workers=workers,
            show_progress=show_progress,
        )
        extra_sections, failed = _collect_sections(pending_sections)
    except BaseException:
        _stop_sections(section_pool)
        raise
    section_pool.shutdown(wait=True)

    summary = list(result.summary)
    for section in extra_sections:
        summary.extend(section.summary_rows)
    write_json(run_dir / "summary.json", summary)
    write_report(
        run_dir,
        spec=spec,
        summary=result.summary,
        trials=result.trials,
        histories=result.histories,
        sections=extra_sections,
        main_titles={FAMILY: MAIN_TITLE},
    )
    seconds = time.perf_counter() - start
    logger.info("report written to %s in %.0f s", run_dir / "report.md", seconds)
    return {
        "summary": summary,
        "failed_sections": failed,
        "seconds": seconds,
        "n_run": result.n_run,
    }


def _prepare_section_worker() -> None:
    # One thread, because the trial workers use the other cores; Ctrl-C is left
    # to the main process, which stops this worker.
    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    exit_with_parent()


def _stop_sections(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    # NOTE: ProcessPoolExecutor has no public way to end a running call before
    # Python 3.14, so the section worker is terminated through its process table.
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _build_section(
    path: str, run_dir: Path, profile: str, seed: int
) -> ReportSection | str:
    """Run one section builder; return its section or the traceback it raised.

    A section stored by an earlier call on the same run directory is reused, and a
    new one is stored as soon as it is built.
    """
    stored = load_section(run_dir, path)
    if stored is not None:
        logger.info("section %s: reusing the result stored in the run directory", path)
        return stored
    module_name, _, function_name = path.partition(":")
    started = time.perf_counter()
    logger.info("running section %s", path)
    try:
        builder = getattr(importlib.import_module(module_name), function_name)
        section = builder(run_dir, profile=profile, seed=seed)
        save_section(section, run_dir, path)
    except Exception:  # a broken section must not lose the others
        logger.exception("section %s failed", path)
        return traceback.format_exc()
    logger.info("section %s took %.1f s", path, time.perf_counter() - started)
    return section


def _collect_sections(
    pending: list[tuple[str, concurrent.futures.Future]],
) -> tuple[list[ReportSection], list[str]]:
    sections, failed = [], []
    for path, future in pending:
        try:
            outcome = future.result()
        except Exception:  # the section process died or its result did not pickle
            outcome = traceback.format_exc()
        if isinstance(outcome, ReportSection):
            sections.append(outcome)
            continue
        failed.append(path)
        sections.append(
            ReportSection(
                title=f"Failed: {path}",
                markdown="This section raised an error, so it has no results:\n\n"
                f"```\n{outcome}```",
            )
        )
    return sections, failed


__all__ = [
    "FAMILY",
    "LEARNERS",
    "PROFILES",
    "environment",
    "parity_relu_profile",
    "reproduce",
    "trial_specs",
]
