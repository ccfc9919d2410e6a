"""The graph sweeps of ``symhard reproduce``: GNN learners on the graph families.

Three experiments, each over several seeds:

- ``degree-parity``: normalized test MSE of GNN learners against the number of
  nodes ``n``, beside the SQ lower bound at tolerance :data:`TOLERANCE` (labels
  are +1 or -1, so the CSQ counting bound also bounds SQ learners).
- ``random-teacher-gnn``: the control. The target is a randomly initialized
  ``gin-dense`` of small width on the same random graphs, in evaluation mode,
  centered and scaled to unit variance, so a learner that only fits the mean
  still scores about 1. A working trainer drives it below 0.1.
- ``subspace-relu-gnn``: the ``subspace-relu`` family lifted to a GNN with
  Gaussian node features on a fixed cycle, against the feature size ``d``,
  beside its CSQ bound.

All trials run through :func:`symhard.experiment.run_trials`, the control as its
``random-teacher`` control, and are stored in ``graph_trials.sqlite`` in the run
directory, so a rerun skips finished trials. The summary, table and plot helpers
here are shared with :mod:`symhard.cnn_experiment`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import check_choice, check_int
from symhard.experiment import TrialSpec, run_trials
from symhard.families import FAMILIES, make_family
from symhard.results import ResultStore
from symhard.sections import ReportSection, save_figure_files
from symhard.training import TrainConfig, interval_over_seeds

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
    # Measured on a shared 2-core virtual machine, all trials in one process on
    # one torch thread: 53 s of CPU time (104 s of wall time at load average about 5).
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
    return build_graph_section(run_dir, PROFILES[profile], seed)


def build_graph_section(
    run_dir: str | Path,
    profile: GraphProfile,
    seed: int,
    *,
    workers: int | None = None,
) -> ReportSection:
    """Run the graph sweeps of ``profile`` and return their report section.

    Parameters
    ----------
    run_dir : str or Path
        As for :func:`graph_section`.
    profile : GraphProfile
    seed : int
    workers : int or None, default=None
        Trials run at once; None uses every available core, 1 runs them in this
        process.
    """
    run_dir = Path(run_dir)
    started = time.perf_counter()
    specs = hard_trial_specs(profile, seed) + control_trial_specs(profile, seed)
    trials = run_stored_trials(
        specs, run_dir / "graph_trials.sqlite", workers=workers, label="graph sweeps"
    )
    rows = summarize_trials(trials, tolerance=TOLERANCE)
    figures = plot_graph_sweeps(rows, run_dir / "figures" / "graph_sweeps")
    seconds = time.perf_counter() - started
    logger.info("graph sweeps: %d trials summarized in %.0f s", len(trials), seconds)
    return ReportSection(
        title="Graph families: degree-parity and the subspace-relu GNN lift",
        markdown=section_markdown(rows, profile, trials),
        figures=figures[:1],
        summary_rows=rows,
    )


def run_stored_trials(
    specs: Sequence[TrialSpec],
    path: Path,
    *,
    workers: int | None = None,
    label: str = "trials",
) -> list[dict[str, Any]]:
    """Run the trials of ``specs`` not yet stored at ``path`` and return all of them.

    Only the trials of ``specs`` are returned, so rows that an older version of a
    sweep left in the same database do not enter the summary.

    Parameters
    ----------
    specs : sequence of TrialSpec
    path : Path
        SQLite file of a :class:`~symhard.results.ResultStore`; created if missing.
    workers : int or None, default=None
        Passed to :func:`symhard.experiment.run_trials`.
    label : str, default="trials"
        Label of the progress bar.

    Returns
    -------
    list of dict
        Stored trials as :meth:`~symhard.results.ResultStore.trials` returns them.
    """
    store = ResultStore(path)
    try:
        run_trials(specs, store, workers=workers, description=label)
        return store.trials(keys=[spec.key() for spec in specs])
    finally:
        store.close()


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
    """List the ``random-teacher-gnn`` trials, one per (n, seed).

    Each runs the ``random-teacher`` control of :mod:`symhard.experiment`: a
    randomly initialized ``control_learner`` of width ``teacher_width`` on the
    random graphs of ``degree-parity`` as target.
    """
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
                    control="random-teacher",
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


# Summary, table and figure -----------------------------------------------------------


def summarize_trials(
    trials: Sequence[dict[str, Any]], *, tolerance: float
) -> list[dict[str, Any]]:
    """Aggregate trials over seeds into one row per (experiment, size, learner).

    Rows carry ``experiment, family, size_name, size, learner, nmse_mean,
    nmse_low, nmse_high, n_seeds, n_diverged, n_failed`` and ``csq_lower_bound``
    (None for controls). Rows of hard families also carry ``bound_model``,
    ``tolerance``, ``family_size``, ``gamma``, ``gamma_method`` and
    ``log10_csq_lower_bound``, computed once per family and parameters. Diverged
    and failed trials are counted, never averaged in.

    Parameters
    ----------
    trials : sequence of dict
        Stored trials, as :meth:`~symhard.results.ResultStore.trials` returns them.
    tolerance : float
        Query tolerance of the bounds.
    """
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for trial in trials:
        key = (trial["experiment"], trial["size"], trial["learner"])
        groups[key].append(trial)
    bounds: dict[tuple[str, str], dict[str, Any]] = {}
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
            "n_diverged": sum(t["status"] == "diverged" for t in members),
            "n_failed": sum(t["status"] == "failed" for t in members),
            "nmse_mean": None,
            "nmse_low": None,
            "nmse_high": None,
        }
        if finished:
            mean, low, high = interval_over_seeds(finished)
            row.update(nmse_mean=mean, nmse_low=low, nmse_high=high)
        row.update(_bound_columns(members[0], tolerance, bounds))
        rows.append(row)
    return rows


def _bound_columns(
    trial: dict[str, Any],
    tolerance: float,
    cache: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    if trial["control"] is not None:
        return {"csq_lower_bound": None, "bound_model": None}
    key = (trial["family"], json.dumps(trial["params"], sort_keys=True))
    if key not in cache:
        family = make_family(trial["family"], trial["params"])
        bound = family.bound_info(tolerance)
        cache[key] = {
            "csq_lower_bound": bound["csq_lower_bound"],
            "log10_csq_lower_bound": bound["log10_csq_lower_bound"],
            "bound_model": "SQ" if trial["family"] == "degree-parity" else "CSQ",
            "tolerance": tolerance,
            "family_size": family.family_size,
            "gamma": bound["max_abs_correlation"],
            "gamma_method": bound["correlation_method"],
        }
    return dict(cache[key])


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
        f"teacher of width {profile.teacher_width} in evaluation mode, centered and "
        "scaled to unit variance. subspace-relu-gnn uses m=4, 64 planes, Gaussian "
        f"node features on a cycle of {SUBSPACE_NODES} nodes.",
        "",
        f"Bounds are query lower bounds at tolerance {TOLERANCE:g}. For "
        "degree-parity, gamma is the upper end of a 95% simultaneous Monte Carlo "
        "interval (estimated), and the bound holds for SQ because labels are +1 or "
        "-1. It can never exceed tolerance^2 / gamma, so it stays below 1 query "
        "unless gamma < tolerance^2. For subspace-relu-gnn, gamma is exact.",
        "",
        *TABLE_HEADER,
    ]
    for row in rows:
        lines.append(table_line(row))
    lines += ["", training_time_line(trials)]
    return "\n".join(lines) + "\n"


def training_time_line(trials: Sequence[dict[str, Any]]) -> str:
    """Return the sentence with the summed training time of ``trials``."""
    training = sum(trial["seconds"] or 0.0 for trial in trials)
    return (
        f"Training loops of the {len(trials)} trials took {training:.0f} s in all "
        "(wall time, summed over trials that may have run in parallel)."
    )


TABLE_HEADER = (
    "| experiment | size | learner | seeds | NMSE mean [95% interval] "
    "| members | gamma | bound (queries) |",
    "|---|---|---|---|---|---|---|---|",
)
"""The two header lines of the tables that :func:`table_line` fills."""


def table_line(row: dict[str, Any]) -> str:
    """Format a row of :func:`summarize_trials` as a line of the section tables.

    The columns are experiment, size, learner, seeds, NMSE mean with its interval,
    family size (members), gamma and the bound.
    """
    if row["nmse_mean"] is None:
        nmse = "no seed finished"
    else:
        nmse = f"{row['nmse_mean']:.3f} [{row['nmse_low']:.3f}, {row['nmse_high']:.3f}]"
    if row["n_diverged"]:
        nmse += f" ({row['n_diverged']} diverged)"
    if row["n_failed"]:
        nmse += f" ({row['n_failed']} failed)"
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
    plot_size_panel(
        panels[0],
        rows,
        ("degree-parity", "random-teacher-gnn"),
        xlabel="nodes n",
        bound_experiment="degree-parity",
        tolerance=TOLERANCE,
    )
    plot_size_panel(
        panels[1],
        rows,
        ("subspace-relu-gnn",),
        xlabel="feature size d",
        bound_experiment="subspace-relu-gnn",
        tolerance=TOLERANCE,
    )
    figure.tight_layout()
    paths = save_figure_files(figure, path_stem, dpi=120)
    plt.close(figure)
    return paths


def plot_size_panel(
    axes: Any,
    rows: Sequence[dict[str, Any]],
    experiments: tuple[str, ...],
    *,
    xlabel: str,
    bound_experiment: str,
    tolerance: float,
    legend_below: bool = False,
) -> None:
    """Draw NMSE against size for ``experiments`` and the bound on a twin axis.

    Parameters
    ----------
    axes : matplotlib Axes
    rows : sequence of dict
        Rows of :func:`summarize_trials`; one line per (experiment, learner).
    experiments : tuple of str
        The experiments drawn.
    xlabel : str
    bound_experiment : str
        The experiment whose ``log10`` bound is drawn on the right axis.
    tolerance : float
        Tolerance of that bound, for the legend.
    legend_below : bool, default=False
        Put the legend under the axes in two columns instead of inside them.
    """
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
            label=f"log10 {model} bound, tol {tolerance:g}",
        )
        twin.set_ylabel(f"log10 {model} query lower bound")
        handles += line
        labels += [line[0].get_label()]
    if legend_below:
        axes.legend(
            handles,
            labels,
            fontsize=8,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=2,
        )
    else:
        axes.legend(handles, labels, fontsize=8, loc="center right")
