"""The cyclic-group sweep of ``symhard reproduce``: ``subspace-relu`` averaged over C_d.

The target is the ``subspace-relu`` family with ``lift="group"`` and the cyclic
group :math:`C_d` acting on the ``d`` coordinates of :math:`x \\sim N(0, I_d)`:

.. math:: f_V(x) = |C_d|^{-1} \\sum_{g \\in C_d} F(V^T g x) / \\|\\cdot\\|,

with ``m = 4`` (no Hermite component of degree below 4) and ``V`` one of a fixed
number of random planes. A one-layer circular CNN with ``2m`` filters of length
``d`` computes it. Two experiments, each over several seeds:

- ``subspace-relu-cyclic``: normalized test MSE of ``circular-cnn``,
  ``group-mlp`` and ``mlp`` against ``d``, beside the exact CSQ lower bound of
  the family at the same ``d``.
- ``random-teacher-cyclic``: the control. The target is a randomly initialized
  network of each learner's own architecture on the same inputs, centered and
  scaled to unit variance. A working trainer drives it below 0.1.

Trials run through :func:`symhard.experiment.run_trials` and are stored in
``cnn_trials.sqlite`` in the run directory, so a rerun skips finished trials.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symhard._validation import check_choice, check_int
from symhard.experiment import TrialSpec
from symhard.graph_experiment import (
    TABLE_HEADER,
    plot_size_panel,
    run_stored_trials,
    summarize_trials,
    table_line,
    training_time_line,
)
from symhard.sections import ReportSection, save_figure_files
from symhard.training import TrainConfig

logger = logging.getLogger(__name__)

EXPERIMENT = "subspace-relu-cyclic"
CONTROL_EXPERIMENT = "random-teacher-cyclic"

HERMITE_DEGREE = 4
"""``m`` of the family: the lowest Hermite degree of every member."""


@dataclass(frozen=True)
class CyclicProfile:
    """Sizes and budgets of the cyclic-group sweep for one ``reproduce`` profile.

    Attributes
    ----------
    sizes : tuple of int
        Values of ``d``, the number of coordinates the cyclic group permutes.
    learners : tuple of str
        Learners trained on the family and on the control.
    planes : int
        Members of the family at every ``d``. Its exact ``gamma`` costs a kernel
        pass over all ``planes**2 / 2`` pairs times ``d`` group elements.
    control_sizes : tuple of int
        Values of ``d`` at which the random-teacher control runs.
    seeds : int
    width, depth : int
        Learner size (filters of the CNN; width and hidden layers of the MLPs).
    teacher_width : int
        Width of the random teacher of the control.
    train : TrainConfig
    """

    sizes: tuple[int, ...]
    learners: tuple[str, ...]
    planes: int
    control_sizes: tuple[int, ...]
    seeds: int
    width: int
    depth: int
    teacher_width: int
    train: TrainConfig

    @property
    def tolerance(self) -> float:
        """Query tolerance of the bounds: ``1 / sqrt(batch_size)``.

        This is the scale of the sampling error of one mini-batch gradient
        coordinate, so each step is read as queries of this tolerance.
        """
        return 1.0 / math.sqrt(self.train.batch_size)


PROFILES = {
    # Measured on a shared 2-core virtual machine, all trials in one process on
    # one torch thread: 57 s of CPU time (86 s of wall time at load average about 5).
    # group-mlp drove a random teacher of width 8 only to NMSE 0.06-0.19 at d=48
    # in 1000-2000 steps, so the teacher has width 4.
    "quick": CyclicProfile(
        sizes=(4, 16, 48),
        learners=("circular-cnn", "group-mlp", "mlp"),
        planes=128,
        control_sizes=(48,),
        seeds=3,
        width=32,
        depth=2,
        teacher_width=4,
        train=TrainConfig(
            steps=1000,
            batch_size=64,
            learning_rate=1e-2,
            test_size=2048,
            eval_every=250,
        ),
    ),
    # For a larger machine. NOTE: not run end to end; its sizes were only checked
    # to build and to train a few steps.
    "paper": CyclicProfile(
        sizes=(4, 8, 16, 32, 64, 128),
        learners=("circular-cnn", "group-mlp", "mlp"),
        planes=512,
        control_sizes=(16, 64, 128),
        seeds=5,
        width=128,
        depth=2,
        teacher_width=4,
        train=TrainConfig(
            steps=4000,
            batch_size=64,
            learning_rate=1e-2,
            test_size=8192,
            eval_every=500,
        ),
    ),
}


def cnn_section(run_dir: str | Path, *, profile: str, seed: int) -> ReportSection:
    """Run the cyclic-group sweep and return its report section.

    Parameters
    ----------
    run_dir : str or Path
        The run directory; trials go to ``cnn_trials.sqlite`` and figures to
        ``figures/`` inside it.
    profile : str
        ``"quick"`` or ``"paper"`` (a key of :data:`PROFILES`).
    seed : int
        Drives the planes, members, initializations, teachers and data.

    Returns
    -------
    ReportSection
        With a figure and ``summary_rows`` whose ``experiment`` is
        ``"subspace-relu-cyclic"`` or ``"random-teacher-cyclic"``.
    """
    check_choice("profile", profile, PROFILES)
    seed = check_int("seed", seed, low=0)
    return build_cnn_section(run_dir, PROFILES[profile], seed)


def build_cnn_section(
    run_dir: str | Path,
    profile: CyclicProfile,
    seed: int,
    *,
    workers: int | None = None,
) -> ReportSection:
    """Run the cyclic-group sweep of ``profile`` and return its report section.

    Parameters
    ----------
    run_dir : str or Path
        As for :func:`cnn_section`.
    profile : CyclicProfile
    seed : int
    workers : int or None, default=None
        Trials run at once; None uses every available core, 1 runs them in this
        process.
    """
    run_dir = Path(run_dir)
    started = time.perf_counter()
    trials = run_stored_trials(
        cyclic_trial_specs(profile, seed),
        run_dir / "cnn_trials.sqlite",
        workers=workers,
        label="cyclic-group sweep",
    )
    rows = summarize_trials(trials, tolerance=profile.tolerance)
    figures = plot_cyclic_sweep(
        rows, run_dir / "figures" / "cyclic_sweep", tolerance=profile.tolerance
    )
    seconds = time.perf_counter() - started
    logger.info(
        "cyclic-group sweep: %d trials summarized in %.0f s", len(trials), seconds
    )
    return ReportSection(
        title="Cyclic group: subspace-relu averaged over C_d",
        markdown=section_markdown(rows, profile, trials),
        figures=figures[:1],
        summary_rows=rows,
    )


# Trials ---------------------------------------------------------------------------


def family_params(d: int, *, planes: int, seed: int) -> dict[str, Any]:
    """Return the ``subspace-relu`` parameters of the cyclic group lift at ``d``."""
    return {
        "d": d,
        "lift": "group",
        "group": "cyclic",
        "m": HERMITE_DEGREE,
        "planes": planes,
        "seed": seed,
    }


def cyclic_trial_specs(profile: CyclicProfile, seed: int) -> list[TrialSpec]:
    """List the hard and control trials: one per (d, learner, seed).

    The planes of the family come from ``seed``, so every replicate at one ``d``
    shares the family and its bound. Replicate ``r`` has trial seed
    ``1000 * seed + r``, which draws its plane, initialization and data. Control
    trials use the same family parameters for their inputs and group.
    """
    specs = []
    for d in profile.sizes:
        for learner in profile.learners:
            specs += _replicates(profile, seed, d, learner, control=None)
    for d in profile.control_sizes:
        for learner in profile.learners:
            specs += _replicates(profile, seed, d, learner, control="random-teacher")
    return specs


def _replicates(
    profile: CyclicProfile, seed: int, d: int, learner: str, *, control: str | None
) -> list[TrialSpec]:
    control_params = {} if control is None else {"teacher_width": profile.teacher_width}
    return [
        TrialSpec(
            experiment=EXPERIMENT if control is None else CONTROL_EXPERIMENT,
            family="subspace-relu",
            params=family_params(d, planes=profile.planes, seed=seed),
            size_name="d",
            size=d,
            k=None,
            learner=learner,
            width=profile.width,
            depth=profile.depth,
            train=profile.train,
            seed=seed * 1000 + replicate,
            control=control,
            control_params=dict(control_params),
        )
        for replicate in range(profile.seeds)
    ]


# Table and figure -----------------------------------------------------------------


def section_markdown(
    rows: Sequence[dict[str, Any]],
    profile: CyclicProfile,
    trials: Sequence[dict[str, Any]],
) -> str:
    """Write the section body: the setup, the bound, one table and the run time."""
    train = profile.train
    lines = [
        f"Target: subspace-relu with m={HERMITE_DEGREE}, averaged over the cyclic "
        "group C_d acting on the d coordinates of x ~ N(0, I_d) and normalized; "
        f"{profile.planes} random planes per d, drawn from the run seed. A circular "
        f"CNN with {2 * HERMITE_DEGREE} filters of length d computes every member.",
        "",
        f"Learners, width {profile.width}: circular-cnn (one circular convolution "
        "with filters of length d, ReLU, mean pooling, linear readout), group-mlp "
        f"(an MLP with {profile.depth} hidden layers averaged over the d shifts) and "
        f"mlp (the same MLP, no symmetry). {train.steps} Adam steps of batch "
        f"{train.batch_size}, learning rate {train.learning_rate:g}, fresh samples "
        f"each step; normalized test MSE on {train.test_size} fresh samples, mean "
        f"and 95% Student-t interval over {profile.seeds} seeds (each with its own "
        "plane, initialization and data). The control random-teacher-cyclic has as "
        "target a random network of the learner's own architecture, of width "
        f"{profile.teacher_width}, in evaluation mode, centered and scaled to unit "
        "variance, on the same inputs.",
        "",
        bound_paragraph(rows, profile),
        "",
        *TABLE_HEADER,
    ]
    for row in rows:
        lines.append(table_line(row))
    lines += ["", training_time_line(trials)]
    return "\n".join(lines) + "\n"


def bound_paragraph(rows: Sequence[dict[str, Any]], profile: CyclicProfile) -> str:
    """Write the paragraph on the bound column, with the largest bound found."""
    tolerance = profile.tolerance
    text = (
        "Bounds are CSQ query lower bounds (M - 2) tau^2 / (1 + (M - 1) gamma) at "
        f"tolerance tau = 1/sqrt(batch size) = {tolerance:.4g}, the scale of the "
        "sampling error of one mini-batch gradient coordinate. Here M is the "
        "number of planes (column members) and gamma is exact: the largest "
        "correlation over all pairs of group-averaged members, from the "
        "closed-form ReLU kernel. The bound is at most (M - 2) tau^2 and below "
        "tau^2 / gamma."
    )
    bounds = [
        (row["csq_lower_bound"], row["size"])
        for row in rows
        if row["experiment"] == EXPERIMENT and row["csq_lower_bound"] is not None
    ]
    if not bounds:
        return text
    largest, at_size = max(bounds)
    if largest < 1.0:
        text += (
            f" Every bound here is below one query (largest {largest:.3g}, at "
            f"d={at_size}), so at these sizes it certifies nothing and the NMSE "
            "column alone shows where gradient training fails."
        )
    else:
        text += f" The largest bound is {largest:.3g} queries, at d={at_size}."
    return text


def plot_cyclic_sweep(
    rows: Sequence[dict[str, Any]], path_stem: Path, *, tolerance: float
) -> list[Path]:
    """Plot NMSE against ``d`` per learner, controls included, and the bound.

    Writes ``<stem>.png`` and ``<stem>.svg`` (the folder is created) and returns
    their paths, PNG first.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 5.4))
    plot_size_panel(
        axes,
        rows,
        (EXPERIMENT, CONTROL_EXPERIMENT),
        xlabel="d (coordinates permuted by the cyclic group)",
        bound_experiment=EXPERIMENT,
        tolerance=tolerance,
        legend_below=True,
    )
    sizes = sorted({row["size"] for row in rows})
    axes.set_xscale("log", base=2)
    axes.set_xticks(sizes, [str(size) for size in sizes])
    axes.minorticks_off()
    figure.tight_layout()
    paths = save_figure_files(figure, path_stem, dpi=120)
    plt.close(figure)
    return paths
