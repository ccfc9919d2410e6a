"""Solver scaling and the gradient-training comparison, for the report.

Random instances use sets of 3 elements and ``round(ratio * d)`` sets. With
:data:`DEFAULT_RATIO` = 2.5, between 30 % and 75 % of the instances had a split
for each d = 8..14 in one run of 20 instances per d. The ratio was chosen from
such runs, so both outcomes occur often at these sizes; it is not the asymptotic
threshold.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_float,
    check_int,
)
from symhard.nphard.instances import random_instance
from symhard.nphard.solvers import brute_force_split, solve_milp
from symhard.nphard.training import compare_gradient_training, gradient_table
from symhard.sections import ReportSection, save_figure_files

logger = logging.getLogger(__name__)

DEFAULT_RATIO = 2.5
"""Sets per element for random instances near the satisfiability threshold."""

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "n_elements": list(range(4, 14)),
        "trials": 6,
        "gradient_elements": [6, 9, 12],
        "gradient_instances": 8,
        "gradient_restarts": 8,
        "gradient_steps": 400,
    },
    "paper": {
        "n_elements": list(range(4, 25)),
        "trials": 10,
        "gradient_elements": [6, 9, 12, 15],
        "gradient_instances": 20,
        "gradient_restarts": 8,
        "gradient_steps": 1000,
    },
}
"""Experiment sizes per report profile.

Both were measured with seed 0 on a 2-core machine shared with other jobs.
"quick" took 16 to 28 s of wall-clock time and "paper" 283 s (105 s of CPU time).
Most of the time goes to brute force and the MILP at the largest d.
"""


def near_threshold_sets(n_elements: int, *, ratio: float = DEFAULT_RATIO) -> int:
    """Return the number of sets ``max(1, round(ratio * n_elements))``."""
    n_elements = check_int("n_elements", n_elements, low=1)
    ratio = check_float("ratio", ratio, low=0.0, low_open=True)
    return max(1, round(ratio * n_elements))


def run_scaling(
    n_elements_values: Sequence[int],
    *,
    trials: int = 5,
    ratio: float = DEFAULT_RATIO,
    set_size: int | tuple[int, int] = 3,
    time_limit: float | None = None,
    seed: SeedLike = None,
) -> list[dict[str, Any]]:
    """Time both exact solvers on random instances of each size.

    Parameters
    ----------
    n_elements_values : sequence of int
        Element counts d to test; each must be at least the largest set size.
    trials : int, default=5
        Instances per element count.
    ratio : float, default=DEFAULT_RATIO
        Sets per element; see :func:`near_threshold_sets`.
    set_size : int or tuple of (int, int), default=3
        Passed to :func:`symhard.nphard.instances.random_instance`.
    time_limit : float or None, default=None
        HiGHS time limit in seconds per instance; None means no limit.
    seed : int, numpy.random.Generator or None, default=None
        Source of the instances.

    Returns
    -------
    list of dict
        One row per instance with keys ``n_elements``, ``n_sets``, ``trial``,
        ``satisfiable`` (brute force), ``milp_satisfiable``, ``agree``,
        ``brute_force_seconds``, ``milp_seconds``, ``splits_checked``,
        ``milp_status`` and ``milp_verified``.
    """
    trials = check_int("trials", trials, low=1)
    rng = as_generator(seed)
    rows = []
    for value in n_elements_values:
        n_elements = check_int("n_elements", value, low=1)
        n_sets = near_threshold_sets(n_elements, ratio=ratio)
        for trial in range(trials):
            instance = random_instance(n_elements, n_sets, set_size=set_size, seed=rng)
            brute = brute_force_split(instance)
            exact = solve_milp(instance, time_limit=time_limit)
            rows.append(
                {
                    "n_elements": n_elements,
                    "n_sets": n_sets,
                    "trial": trial,
                    "satisfiable": brute.satisfiable,
                    "milp_satisfiable": exact.satisfiable,
                    "agree": brute.satisfiable == exact.satisfiable,
                    "brute_force_seconds": brute.seconds,
                    "milp_seconds": exact.seconds,
                    "splits_checked": brute.splits_checked,
                    "milp_status": exact.milp_status,
                    "milp_verified": exact.verified,
                }
            )
        logger.info("scaling: finished d=%d (%d instances)", n_elements, trials)
    return rows


def summarize_scaling(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Aggregate :func:`run_scaling` rows by element count.

    Returns
    -------
    list of dict
        Keys ``n_elements``, ``n_sets``, ``instances``, ``satisfiable``,
        ``agree``, and the median and maximum seconds of each solver
        (``brute_force_median_seconds``, ``brute_force_max_seconds``,
        ``milp_median_seconds``, ``milp_max_seconds``).
    """
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["n_elements"], []).append(row)
    summary = []
    for n_elements, group in sorted(groups.items()):
        brute_seconds = [row["brute_force_seconds"] for row in group]
        milp_seconds = [row["milp_seconds"] for row in group]
        summary.append(
            {
                "n_elements": n_elements,
                "n_sets": group[0]["n_sets"],
                "instances": len(group),
                "satisfiable": sum(bool(row["satisfiable"]) for row in group),
                "agree": sum(bool(row["agree"]) for row in group),
                "brute_force_median_seconds": float(np.median(brute_seconds)),
                "brute_force_max_seconds": float(np.max(brute_seconds)),
                "milp_median_seconds": float(np.median(milp_seconds)),
                "milp_max_seconds": float(np.max(milp_seconds)),
            }
        )
    return summary


def plot_scaling(rows: Sequence[dict[str, Any]], path_stem: Path) -> list[Path]:
    """Plot solver time against d and write ``<stem>.png`` and ``<stem>.svg``.

    Parameters
    ----------
    rows : sequence of dict
        Output of :func:`run_scaling`.
    path_stem : Path
        Output path without suffix; its folder is created if missing.

    Returns
    -------
    list of Path
        The PNG path, then the SVG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize_scaling(rows)
    sizes = [row["n_elements"] for row in summary]
    figure, axes = plt.subplots(figsize=(6, 4))
    for key, label, marker in (
        ("brute_force", "brute force over splits", "o"),
        ("milp", "MILP (HiGHS) on the GNN class", "s"),
    ):
        points_x = [row["n_elements"] for row in rows]
        points_y = [row[f"{key}_seconds"] for row in rows]
        line = axes.plot(
            sizes,
            [row[f"{key}_median_seconds"] for row in summary],
            marker=marker,
            label=f"{label} (median)",
        )[0]
        axes.scatter(points_x, points_y, s=8, alpha=0.35, color=line.get_color())
    axes.set_yscale("log")
    axes.set_xlabel("number of elements d")
    axes.set_ylabel("wall-clock time (s)")
    axes.set_title("Exact solvers on random Set Splitting instances")
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    paths = save_figure_files(figure, path_stem, dpi=150)
    plt.close(figure)
    return paths


def scaling_markdown(summary: Sequence[dict[str, Any]]) -> str:
    """Format :func:`summarize_scaling` rows as a Markdown table."""
    lines = [
        "| d | sets | instances | satisfiable | solvers agree | brute force median "
        "(ms) | brute force max (ms) | MILP median (ms) | MILP max (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        lines.append(
            f"| {row['n_elements']} | {row['n_sets']} | {row['instances']} | "
            f"{row['satisfiable']} | {row['agree']} | "
            f"{1e3 * row['brute_force_median_seconds']:.2f} | "
            f"{1e3 * row['brute_force_max_seconds']:.2f} | "
            f"{1e3 * row['milp_median_seconds']:.1f} | "
            f"{1e3 * row['milp_max_seconds']:.1f} |"
        )
    return "\n".join(lines)


def gradient_markdown(table: Sequence[dict[str, Any]]) -> str:
    """Format :func:`symhard.nphard.training.gradient_table` rows as Markdown."""
    lines = [
        "| d | sets | instances | satisfiable | found by gradient training | "
        "found by MILP | mean best accuracy |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        lines.append(
            f"| {row['n_elements']} | {row['n_sets']} | {row['instances']} | "
            f"{row['satisfiable']} | {row['found_by_gradient']} | "
            f"{row['found_by_milp']} | {row['mean_gradient_accuracy']:.3f} |"
        )
    return "\n".join(lines)


def nphard_section(run_dir: Path, *, profile: str, seed: int) -> ReportSection:
    """Run the scaling and gradient-training experiments and build a report section.

    Parameters
    ----------
    run_dir : Path
        Run directory; the figure goes to ``run_dir / "figures"`` and the raw rows
        to ``run_dir / "nphard"``.
    profile : str
        ``"quick"`` or ``"paper"``; see :data:`PROFILES`.
    seed : int
        Seed of every random instance and initialization.

    Returns
    -------
    ReportSection
        Markdown with both tables, the scaling figure, and summary rows with
        ``experiment`` equal to ``"np-hard-scaling"`` or ``"np-hard-gradient"``.
    """
    profile = check_choice("profile", profile, PROFILES)
    settings = PROFILES[profile]
    rng = as_generator(seed)
    run_dir = Path(run_dir)
    start = time.perf_counter()

    scaling_rows = run_scaling(
        settings["n_elements"], trials=settings["trials"], seed=rng
    )
    scaling_summary = summarize_scaling(scaling_rows)
    figures = plot_scaling(scaling_rows, run_dir / "figures" / "nphard_scaling")

    gradient_instances = [
        random_instance(
            n_elements,
            near_threshold_sets(n_elements),
            seed=rng,
        )
        for n_elements in settings["gradient_elements"]
        for _ in range(settings["gradient_instances"])
    ]
    gradient_rows = compare_gradient_training(
        gradient_instances,
        restarts=settings["gradient_restarts"],
        steps=settings["gradient_steps"],
        seed=rng,
    )
    gradient_summary = gradient_table(gradient_rows)
    seconds = time.perf_counter() - start

    raw_dir = run_dir / "nphard"
    raw_dir.mkdir(parents=True, exist_ok=True)
    (raw_dir / "scaling.json").write_text(json.dumps(scaling_rows, indent=2) + "\n")
    (raw_dir / "gradient.json").write_text(json.dumps(gradient_rows, indent=2) + "\n")

    disagreements = sum(row["instances"] - row["agree"] for row in scaling_summary)
    markdown = "\n\n".join(
        [
            "Set Splitting reduces to consistency of a one-layer GNN class: a "
            "degree-counting message-passing layer, a ReLU one-hot of the degree, "
            "sum pooling into a degree histogram, and an AND of two threshold "
            "units. A consistent member exists if and only if the instance has a "
            "split. Both exact solvers below decide the same instances: brute "
            "force over the 2^(d-1) splits, and a mixed-integer linear program "
            "(SciPy's HiGHS interface) over the GNN readout.",
            f"Random instances with 3-element sets and round({DEFAULT_RATIO} d) "
            f"sets, {settings['trials']} per d, profile '{profile}', seed {seed}. "
            f"Instances where the two solvers disagree: {disagreements}.",
            scaling_markdown(scaling_summary),
            "Gradient training relaxes the threshold units to sigmoids and trains "
            "the readout with Adam from "
            f"{settings['gradient_restarts']} random initializations per instance "
            f"(up to {settings['gradient_steps']} steps), on new random instances "
            f"with round({DEFAULT_RATIO} d) sets. "
            "A network counts as found only if it labels every graph correctly "
            "with hard thresholds.",
            gradient_markdown(gradient_summary),
            f"Both experiments took {seconds:.1f} s.",
        ]
    )
    summary_rows = [
        {"experiment": "np-hard-scaling", "profile": profile, "seed": seed, **row}
        for row in scaling_summary
    ] + [
        {"experiment": "np-hard-gradient", "profile": profile, "seed": seed, **row}
        for row in gradient_summary
    ]
    return ReportSection(
        title="NP-hardness of learning a GNN class: exact solvers and gradients",
        markdown=markdown,
        figures=[figures[0]],
        summary_rows=summary_rows,
    )
