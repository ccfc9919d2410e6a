"""The graph sweeps of ``symhard reproduce``: GNN learners on the graph families.

Three experiments, each over several seeds:

- ``degree-parity``: normalized test MSE of GNN learners against the number of
  nodes ``n``, beside the SQ lower bound at tolerance :data:`TOLERANCE` (labels
  are +1 or -1, so the CSQ counting bound also bounds SQ learners).
- ``random-teacher-gnn``: the control. The target is a randomly initialized
  ``gin-dense`` of small width (no batch norm) on the same random graphs,
  centered and scaled to unit variance, so a learner that only fits the mean
  still scores about 1. A working trainer drives it below 0.1.
- ``subspace-relu-gnn``: the ``subspace-relu`` family lifted to a GNN with
  Gaussian node features on a fixed cycle, against the feature size ``d``,
  beside its CSQ bound.

Hard trials run through :func:`symhard.experiment.run_trials`. Control trials,
whose target that runner has no builder for, run in a pool of the same kind with
the same outcome format. Both are stored in ``graph_trials.sqlite`` in the run
directory, so a rerun skips finished trials.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import multiprocessing
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from symhard._validation import check_choice, check_int
from symhard.experiment import TrialSpec, default_workers, run_trials
from symhard.families import FAMILIES, make_family
from symhard.families.base import Task
from symhard.families.degree_parity import DegreeParity
from symhard.graph_learners import DenseGIN, make_graph_learner
from symhard.results import ResultStore
from symhard.sections import ReportSection
from symhard.training import TrainConfig, build_seeded, interval_over_seeds, train

logger = logging.getLogger(__name__)

TOLERANCE = 0.01
"""Query tolerance of the SQ and CSQ bounds in the tables."""

SUBSPACE_NODES = 8
"""Nodes of the fixed cycle on which the ``subspace-relu`` GNN lift lives."""


@dataclass(frozen=True)
class GraphProfile:
    """Sizes and budgets of the graph sweeps for one ``reproduce`` profile.

    Attributes
    ----------
    degree_sizes : tuple of int
        Node counts ``n`` for ``degree-parity`` and the random-teacher control.
    subspace_sizes : tuple of int
        Feature sizes ``d`` for the ``subspace-relu`` GNN lift.
    learners : tuple of str
        Graph learners trained on ``degree-parity``.
    sparse_max_nodes : int
        Largest ``n`` for the PyG learners, whose messages take
        ``batch * n * (n - 1) * width`` floats per layer.
    control_learner : str
        The learner of the control and of ``subspace-relu-gnn``.
    seeds : int
    width, depth : int
        Learner size.
    teacher_width : int
        Width of the random ``gin-dense`` teacher of the control.
    correlation_samples : int
        Graphs sampled to estimate ``gamma`` of ``degree-parity``.
    train : TrainConfig
    """

    degree_sizes: tuple[int, ...]
    subspace_sizes: tuple[int, ...]
    learners: tuple[str, ...]
    sparse_max_nodes: int
    control_learner: str
    seeds: int
    width: int
    depth: int
    teacher_width: int
    correlation_samples: int
    train: TrainConfig


PROFILES = {
    # Measured on a shared 2-core virtual machine, every trial on one torch
    # thread: 63 s of CPU time for the section and its worker processes and 70 s
    # of wall time at load average 4 from other jobs (140 s at load average 8).
    "quick": GraphProfile(
        degree_sizes=(26, 36, 48),
        subspace_sizes=(4, 8, 16, 32),
        learners=("gin-dense",),
        sparse_max_nodes=48,
        control_learner="gin-dense",
        seeds=3,
        width=32,
        depth=2,
        teacher_width=8,
        correlation_samples=20_000,
        train=TrainConfig(
            steps=300, batch_size=64, learning_rate=3e-3, test_size=2048, eval_every=100
        ),
    ),
    # For a larger machine. NOTE: not run end to end; its sizes were only checked
    # to build and to train a few steps.
    "paper": GraphProfile(
        degree_sizes=(26, 48, 80, 128, 200, 300),
        subspace_sizes=(4, 8, 16, 32, 64, 128),
        learners=("gin-dense", "pyg-gin"),
        sparse_max_nodes=128,
        control_learner="gin-dense",
        seeds=3,
        width=64,
        depth=2,
        teacher_width=16,
        correlation_samples=200_000,
        train=TrainConfig(
            steps=3000,
            batch_size=64,
            learning_rate=1e-3,
            test_size=2048,
            eval_every=500,
        ),
    ),
}


def graph_section(run_dir: str | Path, *, profile: str, seed: int) -> ReportSection:
    """Run the graph sweeps and return their report section.

    Parameters
    ----------
    run_dir : str or Path
        The run directory; trials go to ``graph_trials.sqlite`` and figures to
        ``figures/`` inside it.
    profile : str
        ``"quick"`` or ``"paper"`` (a key of :data:`PROFILES`).
    seed : int
        Drives members, initializations, teachers and data.

    Returns
    -------
    ReportSection
        With a figure and ``summary_rows`` whose ``experiment`` is
        ``"degree-parity"``, ``"random-teacher-gnn"`` or ``"subspace-relu-gnn"``.
    """
    check_choice("profile", profile, PROFILES)
    seed = check_int("seed", seed, low=0)
    chosen = PROFILES[profile]
    run_dir = Path(run_dir)
    started = time.perf_counter()
    store = ResultStore(run_dir / "graph_trials.sqlite")
    try:
        run_trials(hard_trial_specs(chosen, seed), store, description="graph sweeps")
        run_control_trials(control_trial_specs(chosen, seed), store)
        trials = store.trials()
    finally:
        store.close()
    rows = summarize_graph_trials(trials)
    figures = plot_graph_sweeps(rows, run_dir / "figures" / "graph_sweeps")
    seconds = time.perf_counter() - started
    logger.info("graph sweeps: %d trials summarized in %.0f s", len(trials), seconds)
    return ReportSection(
        title="Graph families: degree-parity and the subspace-relu GNN lift",
        markdown=section_markdown(rows, chosen, trials),
        figures=figures[:1],
        summary_rows=rows,
    )


# Trials ---------------------------------------------------------------------------


def hard_trial_specs(profile: GraphProfile, seed: int) -> list[TrialSpec]:
    """List the ``degree-parity`` and ``subspace-relu-gnn`` trials."""
    specs = []
    for n in profile.degree_sizes:
        params = {
            "n": n,
            "correlation_samples": profile.correlation_samples,
            "correlation_seed": seed,
        }
        for learner in profile.learners:
            if learner.startswith("pyg-") and n > profile.sparse_max_nodes:
                continue
            specs += _replicates(
                profile, seed, "degree-parity", "degree-parity", params, "n", n, learner
            )
    if "subspace-relu" not in FAMILIES:
        logger.warning(
            "family subspace-relu is not registered: skipping the subspace-relu-gnn "
            "sweep"
        )
        return specs
    for d in profile.subspace_sizes:
        params = {"d": d, "lift": "gnn", "n": SUBSPACE_NODES, "graph": "cycle"}
        specs += _replicates(
            profile,
            seed,
            "subspace-relu-gnn",
            "subspace-relu",
            params,
            "d",
            d,
            profile.control_learner,
        )
    return specs


def control_trial_specs(profile: GraphProfile, seed: int) -> list[TrialSpec]:
    """List the ``random-teacher-gnn`` trials, one per (n, seed)."""
    specs = []
    for n in profile.degree_sizes:
        for spec in _replicates(
            profile,
            seed,
            "random-teacher-gnn",
            "degree-parity",
            {"n": n},
            "n",
            n,
            profile.control_learner,
        ):
            specs.append(
                replace(
                    spec,
                    control="random-teacher-gnn",
                    control_params={"teacher_width": profile.teacher_width},
                )
            )
    return specs


def _replicates(
    profile: GraphProfile,
    seed: int,
    experiment: str,
    family: str,
    params: dict[str, Any],
    size_name: str,
    size: int,
    learner: str,
) -> list[TrialSpec]:
    return [
        TrialSpec(
            experiment=experiment,
            family=family,
            params=dict(params),
            size_name=size_name,
            size=size,
            k=None,
            learner=learner,
            width=profile.width,
            depth=profile.depth,
            train=profile.train,
            seed=seed * 1000 + replicate,
        )
        for replicate in range(profile.seeds)
    ]


def random_teacher_task(
    n: int, *, width: int, depth: int = 2, seed: int, n_calibration: int = 16384
) -> tuple[Task, dict[str, float]]:
    """Build the control task: a random ``gin-dense`` teacher on :math:`G(n, 1/2)`.

    The teacher is a :class:`~symhard.graph_learners.DenseGIN` without batch norm,
    initialized from ``seed`` and frozen. Its outputs are centered and scaled with
    the mean and standard deviation of ``n_calibration`` graphs drawn from
    ``seed``, so the target has mean about 0 and variance about 1.

    Parameters
    ----------
    n : int
        Nodes per graph (at least 25, the smallest ``degree-parity`` size).
    width : int
        Teacher width.
    depth : int, default=2
        Teacher layers.
    seed : int
    n_calibration : int, default=16384
        Graphs used for the mean and standard deviation.

    Returns
    -------
    task : Task
        Its sampler returns ``((adj, x), y)`` as the ``degree-parity`` task does.
    calibration : dict
        ``output_mean`` and ``output_std`` of the raw teacher (estimates).
    """
    rng = np.random.default_rng(seed)
    teacher = build_seeded(
        lambda: DenseGIN(1, width=width, depth=depth, batch_norm=False), rng
    )
    teacher.eval().requires_grad_(False)
    graphs = DegreeParity(n=n).task(1)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    outputs = []
    # Chunks of 256 graphs bound the memory at large n (n=300: 92 MB per chunk).
    for start in range(0, n_calibration, 256):
        (adj, x), _ = graphs.sample(min(256, n_calibration - start), generator, "cpu")
        with torch.no_grad():
            outputs.append(teacher(adj, x).double())
    mean, std = float(torch.cat(outputs).mean()), float(torch.cat(outputs).std())

    def sampler(num: int, generator: torch.Generator, device: torch.device):
        (adj, x), _ = graphs.sample(num, generator, device)
        teacher.to(device)
        with torch.no_grad():
            y = (teacher(adj, x) - mean) / std
        return (adj, x), y

    task = Task(f"random gin-dense teacher (width {width}) on G({n}, 1/2)", n, sampler)
    return task, {"output_mean": mean, "output_std": std}


def execute_control_trial(spec: TrialSpec) -> dict[str, Any]:
    """Run one ``random-teacher-gnn`` trial on one torch thread.

    Returns the outcome dict that :meth:`symhard.results.ResultStore.record` takes.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        teacher_seed, init_seed, train_seed = np.random.default_rng(spec.seed).spawn(3)
        task, calibration = random_teacher_task(
            spec.size,
            width=int(spec.control_params["teacher_width"]),
            depth=spec.depth,
            seed=int(teacher_seed.integers(2**62)),
        )
        model = build_seeded(
            lambda: make_graph_learner(
                spec.learner, n_features=1, width=spec.width, depth=spec.depth
            ),
            init_seed,
        )
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
        "member": calibration,
        "history": result.history,
    }


def run_control_trials(
    specs: Sequence[TrialSpec], store: ResultStore, *, workers: int | None = None
) -> int:
    """Run the control trials that ``store`` does not hold yet.

    Each finished trial is written to ``store`` at once, in this process.

    Parameters
    ----------
    specs : sequence of TrialSpec
    store : ResultStore
    workers : int or None, default=None
        Worker processes; None uses every available core, 1 runs in this process.

    Returns
    -------
    int
        The number of trials run now.
    """
    done = store.finished_keys()
    pending = [spec for spec in specs if spec.key() not in done]
    if not pending:
        return 0
    workers = min(workers or default_workers(), len(pending))
    if workers == 1:
        for spec in pending:
            _record_control(store, spec, execute_control_trial(spec))
        return len(pending)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {pool.submit(execute_control_trial, spec): spec for spec in pending}
        for future in concurrent.futures.as_completed(futures):
            _record_control(store, futures[future], future.result())
    return len(pending)


def _record_control(
    store: ResultStore, spec: TrialSpec, outcome: dict[str, Any]
) -> None:
    store.record(spec.key(), spec.to_dict(), outcome)
    logger.info(
        "random-teacher-gnn n=%d seed=%d: nmse %.4f",
        spec.size,
        spec.seed,
        outcome["test_nmse"],
    )


# Summary, table and figure -----------------------------------------------------------


def summarize_graph_trials(trials: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Aggregate trials over seeds into one row per (experiment, size, learner).

    Rows carry ``experiment, family, size_name, size, learner, nmse_mean,
    nmse_low, nmse_high, n_seeds, csq_lower_bound`` (None for the control), and
    ``n_diverged``, ``bound_model``, ``tolerance``, ``family_size``, ``gamma``,
    ``gamma_method`` and ``log10_csq_lower_bound``. Diverged trials are counted,
    never averaged in.
    """
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for trial in trials:
        key = (trial["experiment"], trial["size"], trial["learner"])
        groups[key].append(trial)
    rows = []
    for (experiment, size, learner), members in sorted(groups.items()):
        finished = [t["test_nmse"] for t in members if t["status"] == "done"]
        row: dict[str, Any] = {
            "experiment": experiment,
            "family": members[0]["family"],
            "size_name": members[0]["size_name"],
            "size": size,
            "learner": learner,
            "n_seeds": len(finished),
            "n_diverged": len(members) - len(finished),
            "nmse_mean": None,
            "nmse_low": None,
            "nmse_high": None,
        }
        if finished:
            mean, low, high = interval_over_seeds(finished)
            row.update(nmse_mean=mean, nmse_low=low, nmse_high=high)
        row.update(_bound_columns(members[0]))
        rows.append(row)
    return rows


def _bound_columns(trial: dict[str, Any]) -> dict[str, Any]:
    if trial["control"] is not None:
        return {"csq_lower_bound": None, "bound_model": None}
    family = make_family(trial["family"], trial["params"])
    bound = family.bound_info(TOLERANCE)
    return {
        "csq_lower_bound": bound["csq_lower_bound"],
        "log10_csq_lower_bound": bound["log10_csq_lower_bound"],
        "bound_model": "SQ" if trial["family"] == "degree-parity" else "CSQ",
        "tolerance": TOLERANCE,
        "family_size": family.family_size,
        "gamma": bound["max_abs_correlation"],
        "gamma_method": bound["correlation_method"],
    }


def section_markdown(
    rows: Sequence[dict[str, Any]],
    profile: GraphProfile,
    trials: Sequence[dict[str, Any]],
) -> str:
    """Write the section body: the setup, one table and how to read it."""
    lines = [
        f"Learners: {', '.join(profile.learners)} on degree-parity, "
        f"{profile.control_learner} on the control and on subspace-relu-gnn; width "
        f"{profile.width}, depth {profile.depth}; {profile.train.steps} Adam steps "
        f"of batch {profile.train.batch_size}, learning rate "
        f"{profile.train.learning_rate:g}, fresh samples each step; normalized test "
        f"MSE on {profile.train.test_size} fresh samples, mean and 95% Student-t "
        f"interval over {profile.seeds} seeds (each with its own member, "
        "initialization and data). The control's target is a random gin-dense "
        f"teacher of width {profile.teacher_width}, centered and scaled to unit "
        "variance. subspace-relu-gnn uses m=4, 64 planes, Gaussian node features "
        f"on a cycle of {SUBSPACE_NODES} nodes.",
        "",
        f"Bounds are query lower bounds at tolerance {TOLERANCE:g}. For "
        "degree-parity, gamma is the upper end of a 95% simultaneous Monte Carlo "
        "interval (estimated), and the bound holds for SQ because labels are +1 or "
        "-1. It can never exceed tolerance^2 / gamma, so it stays below 1 query "
        "unless gamma < tolerance^2. For subspace-relu-gnn, gamma is exact.",
        "",
        "| experiment | size | learner | seeds | NMSE mean [95% interval] | m "
        "| gamma | bound (queries) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(_table_line(row))
    training = sum(trial["seconds"] or 0.0 for trial in trials)
    lines += [
        "",
        f"Training loops of the {len(trials)} trials took {training:.0f} s in all "
        "(wall time, summed over trials that may have run in parallel).",
    ]
    return "\n".join(lines) + "\n"


def _table_line(row: dict[str, Any]) -> str:
    if row["nmse_mean"] is None:
        nmse = "all diverged"
    else:
        nmse = f"{row['nmse_mean']:.3f} [{row['nmse_low']:.3f}, {row['nmse_high']:.3f}]"
    if row["n_diverged"]:
        nmse += f" ({row['n_diverged']} diverged)"
    if row["csq_lower_bound"] is None:
        family_size, gamma, bound = "-", "-", "- (control)"
    else:
        family_size = str(row["family_size"])
        method = "exact" if row["gamma_method"] == "exact" else "estimated"
        gamma = f"{row['gamma']:.3g} ({method})"
        bound = f"{row['csq_lower_bound']:.3g} ({row['bound_model']})"
    size = f"{row['size_name']}={row['size']}"
    return (
        f"| {row['experiment']} | {size} | {row['learner']} | {row['n_seeds']} | "
        f"{nmse} | {family_size} | {gamma} | {bound} |"
    )


def plot_graph_sweeps(rows: Sequence[dict[str, Any]], path_stem: Path) -> list[Path]:
    """Plot NMSE against size per experiment, with the bound on a second axis.

    Writes ``<stem>.png`` and ``<stem>.svg`` (the folder is created) and returns
    their paths, PNG first.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, 2, figsize=(11, 4.2))
    _plot_panel(
        panels[0],
        rows,
        ("degree-parity", "random-teacher-gnn"),
        "nodes n",
        "degree-parity",
    )
    _plot_panel(
        panels[1], rows, ("subspace-relu-gnn",), "feature size d", "subspace-relu-gnn"
    )
    figure.tight_layout()
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [path_stem.with_suffix(".png"), path_stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120)
    plt.close(figure)
    return paths


def _plot_panel(
    axes: Any,
    rows: Sequence[dict[str, Any]],
    experiments: tuple[str, ...],
    xlabel: str,
    bound_experiment: str,
) -> None:
    for experiment in experiments:
        learners = sorted({r["learner"] for r in rows if r["experiment"] == experiment})
        for learner in learners:
            chosen = [
                r
                for r in rows
                if r["experiment"] == experiment
                and r["learner"] == learner
                and r["nmse_mean"] is not None
            ]
            if not chosen:
                continue
            sizes = [r["size"] for r in chosen]
            means = np.array([r["nmse_mean"] for r in chosen])
            errors = np.array(
                [
                    means - [r["nmse_low"] for r in chosen],
                    [r["nmse_high"] for r in chosen] - means,
                ]
            )
            axes.errorbar(
                sizes,
                means,
                yerr=errors,
                marker="o",
                capsize=3,
                label=f"{experiment}, {learner}",
            )
    axes.axhline(1.0, color="gray", linestyle=":", linewidth=1)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("normalized test MSE")
    axes.set_ylim(bottom=0)
    # A bound of 0 (families with m <= 2) has no logarithm and is left out.
    bounds = sorted(
        {
            (r["size"], r["log10_csq_lower_bound"])
            for r in rows
            if r["experiment"] == bound_experiment
            and r["csq_lower_bound"] is not None
            and math.isfinite(r["log10_csq_lower_bound"])
        }
    )
    handles, labels = axes.get_legend_handles_labels()
    if bounds:
        twin = axes.twinx()
        model = "SQ" if bound_experiment == "degree-parity" else "CSQ"
        line = twin.plot(
            [b[0] for b in bounds],
            [b[1] for b in bounds],
            color="black",
            linestyle="--",
            marker="x",
            label=f"log10 {model} bound, tol {TOLERANCE:g}",
        )
        twin.set_ylabel(f"log10 {model} query lower bound")
        handles += line
        labels += [line[0].get_label()]
    axes.legend(handles, labels, fontsize=8, loc="center right")
