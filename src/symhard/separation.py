"""The SQ/CSQ separation on ``invariant-monomial``: samples for the SQ learner
against gradient learners trained on as many samples.

For each ``(n, k)`` the experiment searches a doubling grid of sample sizes. It
looks for the smallest size at which the SQ learner
(:func:`symhard.sq_learner.sq_learn`, one reused sample per run) recovers a random
member exactly in at least 9 of 10 seeds, both at that size and at the next one.
Requiring two consecutive sizes keeps a lucky small size from ending the search.
At small sizes the success rate fluctuates, because picking the largest answer
often succeeds even when the tolerances guarantee nothing. Then ``mlp`` and
``group-mlp`` are trained on training sets of that many samples, and their
normalized test MSE is reported."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import SeedLike, as_generator, check_choice, check_int
from symhard.families.invariant_monomial import InvariantMonomial
from symhard.sections import ReportSection
from symhard.sq_learner import sq_learn
from symhard.training import TrainConfig, build_seeded, interval_over_seeds, train

logger = logging.getLogger(__name__)

GRADIENT_LEARNERS = ("mlp", "group-mlp")

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "sizes": {2: [8, 12, 16], 3: [8, 12, 16], 4: [8, 12, 16]},
        "seeds": 10,
        "min_log2_samples": 5,
        "max_log2_samples": 17,
        "gradient_seeds": 1,
        "steps": 300,
        "batch_size": 128,
        "width": 64,
        "test_size": 4096,
    },
    "paper": {
        "sizes": {2: [8, 12, 16, 24, 32], 3: [8, 12, 16, 24, 32], 4: [8, 12, 16, 24]},
        "seeds": 10,
        "min_log2_samples": 5,
        "max_log2_samples": 21,
        "gradient_seeds": 3,
        "steps": 3000,
        "batch_size": 256,
        "width": 256,
        "test_size": 8192,
    },
}
"""Experiment sizes per report profile; "quick" finishes in about a minute."""

# Successes out of ``seeds`` runs that count as reliable recovery.
REQUIRED_SUCCESSES = 9


def sq_sample_search(
    family: InvariantMonomial,
    *,
    seeds: int = 10,
    min_log2_samples: int = 7,
    max_log2_samples: int = 20,
    seed: SeedLike = None,
) -> dict[str, Any]:
    """Find the samples the SQ learner needs on ``family`` over a doubling grid.

    At each size ``2^e`` the learner runs ``seeds`` times, each on a random member
    and a fresh sample. The search stops at the first size that reaches
    ``REQUIRED_SUCCESSES`` of 10 (scaled to ``seeds``) together with the next size.
    A size is abandoned as soon as too many of its runs failed.

    Parameters
    ----------
    family : InvariantMonomial
    seeds : int, default=10
        Runs per sample size.
    min_log2_samples, max_log2_samples : int, default=7, 20
        Grid ``2^min .. 2^max``.
    seed : int, numpy Generator or None, default=None

    Returns
    -------
    dict
        ``samples`` (None when no size qualified), ``successes`` at that size,
        ``queries`` (the largest count over its runs), ``samples_needed_median``
        (median estimate of the samples for guaranteed tolerances at that size)
        and ``grid`` (successes per size tried).
    """
    seeds = check_int("seeds", seeds, low=1)
    low = check_int("min_log2_samples", min_log2_samples, low=1)
    high = check_int("max_log2_samples", max_log2_samples, low=low)
    rng = as_generator(seed)
    required = math.ceil(REQUIRED_SUCCESSES * seeds / 10)
    grid: dict[int, int] = {}
    passed: dict[int, dict[str, Any]] = {}
    for exponent in range(low, high + 1):
        outcome = _run_seeds(family, 2**exponent, seeds, required, rng)
        grid[2**exponent] = outcome["successes"]
        if outcome["successes"] >= required:
            passed[exponent] = outcome
            if exponent - 1 in passed:
                return {
                    "samples": 2 ** (exponent - 1),
                    **passed[exponent - 1],
                    "grid": grid,
                }
    return {
        "samples": None,
        "successes": None,
        "queries": None,
        "samples_needed_median": None,
        "grid": grid,
    }


def _run_seeds(
    family: InvariantMonomial,
    n_samples: int,
    seeds: int,
    required: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    successes = 0
    queries = 0
    needed: list[int] = []
    for run in range(seeds):
        member = family.random_member(rng)
        result = sq_learn(family, member, n_samples=n_samples, seed=rng, warn=False)
        successes += int(result.exact)
        queries = max(queries, result.queries)
        if result.samples_needed is not None:
            needed.append(result.samples_needed)
        if successes + (seeds - run - 1) < required:
            break
    return {
        "successes": successes,
        "queries": queries,
        "samples_needed_median": int(np.median(needed)) if needed else None,
    }


def gradient_nmse(
    family: InvariantMonomial,
    learner: str,
    n_samples: int,
    *,
    seeds: int = 1,
    steps: int = 300,
    batch_size: int = 128,
    width: int = 64,
    test_size: int = 4096,
    seed: SeedLike = None,
) -> dict[str, float]:
    """Train ``learner`` on ``n_samples`` samples of random members; report NMSE.

    Parameters
    ----------
    family : InvariantMonomial
    learner : str
        A learner name for ``family.make_learner`` (two hidden layers).
    n_samples : int
        Size of the fixed training set (``TrainConfig.train_size``).
    seeds : int, default=1
        Independent runs, each with its own member, data and initialization.
    steps, batch_size, width, test_size : int
        Training settings; Adam at learning rate 1e-3.
    seed : int, numpy Generator or None, default=None

    Returns
    -------
    dict
        ``mean``, ``low`` and ``high`` of the normalized test MSE over seeds (a
        Student-t interval; equal to the mean for one seed).
    """
    rng = as_generator(seed)
    config = TrainConfig(
        steps=steps,
        batch_size=min(batch_size, n_samples),
        learning_rate=1e-3,
        train_size=n_samples,
        test_size=test_size,
        eval_every=steps,
    )
    values = []
    for _ in range(check_int("seeds", seeds, low=1)):
        member = family.random_member(rng)
        model = build_seeded(
            lambda: family.make_learner(learner, width=width, depth=2), rng
        )
        result = train(model, family.task(member), config, seed=rng)
        values.append(result.test_nmse)
    mean, low, high = interval_over_seeds(values)
    return {"mean": mean, "low": low, "high": high}


def run_separation(
    sizes: dict[int, Sequence[int]],
    *,
    group: str = "cyclic",
    settings: dict[str, Any],
    seed: SeedLike = None,
) -> list[dict[str, Any]]:
    """Run the sample search and the gradient comparison for every ``(k, n)``.

    Parameters
    ----------
    sizes : dict
        Maps ``k`` to the list of ``n`` to try.
    group : str, default="cyclic"
        Group name for every family.
    settings : dict
        A profile from :data:`PROFILES`.
    seed : int, numpy Generator or None, default=None

    Returns
    -------
    list of dict
        One row per ``(k, n)``.
    """
    rng = as_generator(seed)
    rows = []
    for k, values in sizes.items():
        for n in values:
            start = time.perf_counter()
            family = InvariantMonomial(n, k, group=group)
            search = sq_sample_search(
                family,
                seeds=settings["seeds"],
                min_log2_samples=settings["min_log2_samples"],
                max_log2_samples=settings["max_log2_samples"],
                seed=rng,
            )
            train_size = search["samples"] or 2 ** settings["max_log2_samples"]
            row: dict[str, Any] = {
                "experiment": "sq-separation",
                "group": group,
                "n": n,
                "k": k,
                "family_size": family.family_size,
                "max_orbit_size": family.max_orbit_size,
                "sq_samples": search["samples"],
                "sq_successes": search["successes"],
                "sq_seeds": settings["seeds"],
                "sq_queries": search["queries"],
                "sq_samples_for_guarantee": search["samples_needed_median"],
                "sq_grid": {str(size): count for size, count in search["grid"].items()},
                "train_size": train_size,
                "csq_lower_bound": family.csq_lower_bound(1 / math.sqrt(train_size)),
            }
            for learner in GRADIENT_LEARNERS:
                nmse = gradient_nmse(
                    family,
                    learner,
                    train_size,
                    seeds=settings["gradient_seeds"],
                    steps=settings["steps"],
                    batch_size=settings["batch_size"],
                    width=settings["width"],
                    test_size=settings["test_size"],
                    seed=rng,
                )
                key = learner.replace("-", "_")
                row[f"{key}_nmse"] = nmse["mean"]
                row[f"{key}_nmse_low"] = nmse["low"]
                row[f"{key}_nmse_high"] = nmse["high"]
            row["seconds"] = time.perf_counter() - start
            logger.info(
                "sq-separation n=%d k=%d: %s samples, mlp %.3f, group-mlp %.3f",
                n,
                k,
                search["samples"],
                row["mlp_nmse"],
                row["group_mlp_nmse"],
            )
            rows.append(row)
    return rows


def plot_separation(rows: Sequence[dict[str, Any]], path_stem: Path) -> list[Path]:
    """Plot SQ samples and gradient NMSE against ``n``; write PNG and SVG.

    Parameters
    ----------
    rows : sequence of dict
        Output of :func:`run_separation`.
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

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k in sorted({row["k"] for row in rows}):
        part = [row for row in rows if row["k"] == k]
        sizes = [row["n"] for row in part]
        line = left.plot(
            sizes,
            [row["sq_samples"] or np.nan for row in part],
            marker="o",
            label=f"k={k}: 9 of 10 seeds recover",
        )[0]
        left.plot(
            sizes,
            [row["sq_samples_for_guarantee"] or np.nan for row in part],
            linestyle=":",
            color=line.get_color(),
            label=f"k={k}: estimate for guaranteed tolerances",
        )
        for learner, style in (("mlp", "-"), ("group_mlp", "--")):
            right.plot(
                sizes,
                [row[f"{learner}_nmse"] for row in part],
                linestyle=style,
                marker="o",
                color=line.get_color(),
                label=f"k={k}, {learner.replace('_', '-')}",
            )
    left.set_yscale("log", base=2)
    left.set_xlabel("n")
    left.set_ylabel("samples")
    left.set_title("SQ learner: samples for exact recovery")
    left.legend(fontsize=7)
    right.axhline(1.0, color="gray", linewidth=0.8)
    right.set_xlabel("n")
    right.set_ylabel("normalized test MSE")
    right.set_title("Gradient learners trained on as many samples")
    right.legend(fontsize=7, ncol=2)
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [path_stem.with_suffix(".png"), path_stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=150)
    plt.close(figure)
    return paths


def separation_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Format :func:`run_separation` rows as a Markdown table."""
    lines = [
        "| k | n | orbits m | SQ samples (9/10 seeds) | SQ queries | estimated "
        "samples for guaranteed tolerances | CSQ bound at tau = N^-1/2 (exact) | "
        "MLP NMSE | group-MLP NMSE |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        samples = row["sq_samples"]
        samples_text = f"{samples}" if samples is not None else f"> {row['train_size']}"
        guarantee = row["sq_samples_for_guarantee"]
        lines.append(
            f"| {row['k']} | {row['n']} | {row['family_size']} | {samples_text} | "
            f"{row['sq_queries'] if row['sq_queries'] is not None else '-'} | "
            f"{guarantee if guarantee is not None else '-'} | "
            f"{row['csq_lower_bound']:.3g} | "
            f"{_interval_text(row, 'mlp')} | {_interval_text(row, 'group_mlp')} |"
        )
    return "\n".join(lines)


def _interval_text(row: dict[str, Any], key: str) -> str:
    mean = row[f"{key}_nmse"]
    low, high = row[f"{key}_nmse_low"], row[f"{key}_nmse_high"]
    if low == high:
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def separation_section(run_dir: Path, *, profile: str, seed: int) -> ReportSection:
    """Run the separation experiment and build its report section.

    Parameters
    ----------
    run_dir : Path
        Run directory; the figure goes to ``run_dir / "figures"`` and the raw rows
        to ``run_dir / "separation" / "rows.json"``.
    profile : str
        ``"quick"`` or ``"paper"``; see :data:`PROFILES`.
    seed : int
        Seed of every member, sample and initialization.

    Returns
    -------
    ReportSection
        Markdown with the table, the figure, and one summary row per ``(k, n)``
        with ``experiment`` equal to ``"sq-separation"``.
    """
    profile = check_choice("profile", profile, PROFILES)
    settings = PROFILES[profile]
    run_dir = Path(run_dir)
    start = time.perf_counter()
    rows = run_separation(settings["sizes"], settings=settings, seed=seed)
    figures = plot_separation(rows, run_dir / "figures" / "sq_separation")
    seconds = time.perf_counter() - start

    raw_dir = run_dir / "separation"
    raw_dir.mkdir(parents=True, exist_ok=True)
    (raw_dir / "rows.json").write_text(json.dumps(rows, indent=2) + "\n")

    gradient_text = (
        f"{settings['gradient_seeds']} seed(s) per learner, "
        f"{settings['steps']} Adam steps (learning rate 1e-3, batch "
        f"{settings['batch_size']}, width {settings['width']}, two hidden layers) "
        f"on a fixed training set of the SQ learner's sample size, normalized test "
        f"MSE on {settings['test_size']} fresh samples"
    )
    markdown = "\n\n".join(
        [
            "Members of invariant-monomial are unit-norm sums of degree-k monomials "
            "over one orbit of the cyclic group C_n. They are exactly orthogonal, "
            "so correlational (CSQ) learners, gradient descent included, need a "
            "number of queries that grows with the number of orbits m. The SQ "
            "learner uses y^2 and grows the support one coordinate at a time, with "
            "at most k n queries.",
            "SQ samples: the smallest size on the grid 2^"
            f"{settings['min_log2_samples']} .. 2^{settings['max_log2_samples']} "
            f"at which, and at the next size, at least {REQUIRED_SUCCESSES} of "
            f"{settings['seeds']} runs (each a random member and a fresh sample) "
            "recovered the orbit exactly (measured). The estimate for guaranteed "
            "tolerances is the median, over those runs, of the samples at which "
            "every stated central-limit tolerance would fall below its decision "
            "threshold (estimated). The CSQ bound (m - 2) tau^2 is exact for gamma "
            "= 0 but below one query at these m; it grows like n^(k-1).",
            f"Gradient learners: {gradient_text}. Profile '{profile}', seed {seed}.",
            separation_markdown(rows),
            f"The experiment took {seconds:.1f} s.",
        ]
    )
    return ReportSection(
        title="SQ versus CSQ: learning invariant monomials with y^2",
        markdown=markdown,
        figures=[figures[0]],
        summary_rows=[{"profile": profile, "seed": seed, **row} for row in rows],
    )
