"""The SQ/CSQ separation on ``invariant-monomial``: samples for the SQ learner
against gradient learners trained on as many samples.

For each ``(n, k)`` the experiment searches a doubling grid of sample sizes. It
looks for the smallest size at which the SQ learner
(:func:`symhard.sq_learner.sq_learn`, one reused sample per run) recovers a random
member exactly in at least 90% of its runs (9 of 10), both at that size and at the
next one. Many runs per size (40 in the quick profile) and the second size keep a
lucky small size from ending the search: at small sizes the success rate
fluctuates, because picking the largest value often succeeds even when the
tolerances guarantee nothing. Then ``mlp`` and ``group-mlp`` are trained on
training sets of that many samples, and their normalized test MSE is reported.

What to expect under the cyclic group: the SQ learner's thresholds scale like
``1/n``, so its samples grow about like ``n^2``, while the number of orbits ``m``
grows like ``n^(k-1) / k!``. The CSQ bound ``(m - 2) / N`` at tolerance
``N^(-1/2)`` is below one query, and so forbids nothing, wherever ``m`` is below
the samples ``N``. It starts to bind only once ``m`` is many times ``N``. The
report fits the growth of ``N`` and extrapolates where ``m`` passes it. Below that
size a learner given the group (``group-mlp``) may learn, and the report says
whether it did."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

from symhard._validation import SeedLike, as_generator, check_choice, check_int
from symhard.families.invariant_monomial import InvariantMonomial
from symhard.groups import make_group
from symhard.sections import ReportSection, save_figure_files
from symhard.sq_learner import sq_learn
from symhard.training import TrainConfig, build_seeded, interval_over_seeds, train

logger = logging.getLogger(__name__)

GRADIENT_LEARNERS = ("mlp", "group-mlp")

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "sizes": {2: [8, 16, 32], 3: [8, 16, 24, 32], 4: [8, 16, 24]},
        "runs": 40,
        "min_log2_samples": 5,
        "max_log2_samples": 17,
        "gradient_seeds": 3,
        "steps": 1000,
        "learning_rate": 3e-3,
        "batch_size": 128,
        "width": 64,
        "test_size": 4096,
    },
    "paper": {
        "sizes": {
            2: [8, 16, 32, 64],
            3: [8, 16, 24, 32, 48, 64],
            4: [8, 12, 16, 24, 32, 40],
        },
        "runs": 100,
        "min_log2_samples": 5,
        "max_log2_samples": 21,
        "gradient_seeds": 3,
        "steps": 3000,
        "learning_rate": 3e-3,
        "batch_size": 256,
        "width": 256,
        "test_size": 8192,
    },
}
"""Experiment sizes per report profile. "quick" took about two minutes on one core."""

# Fraction of successful runs that counts as reliable recovery (9 of 10).
REQUIRED_FRACTION = 0.9


def sq_sample_search(
    family: InvariantMonomial,
    *,
    runs: int = 10,
    min_log2_samples: int = 7,
    max_log2_samples: int = 20,
    seed: SeedLike = None,
) -> dict[str, Any]:
    """Find the samples the SQ learner needs on ``family`` over a doubling grid.

    At each size ``2^e`` the learner runs ``runs`` times, each on a random member
    and a fresh sample. The search stops at the first size at which at least
    ``REQUIRED_FRACTION`` of the runs succeeded, both there and at the next size.
    A size is abandoned as soon as too many of its runs failed.

    Parameters
    ----------
    family : InvariantMonomial
    runs : int, default=10
        Runs per sample size.
    min_log2_samples, max_log2_samples : int, default=7, 20
        Grid ``2^min .. 2^max``.
    seed : int, numpy Generator or None, default=None

    Returns
    -------
    dict
        ``samples`` (None when no size qualified), ``successes`` at that size,
        ``runs``, ``queries`` (the largest count over its runs),
        ``samples_needed_median`` (median estimate of the samples for guaranteed
        tolerances at that size), ``grid`` and ``attempts`` (successes and runs
        per size tried; a size is abandoned once it cannot pass) and
        ``samples_fit`` (:func:`fit_recovery_curve` on all runs, or None).
    """
    runs = check_int("runs", runs, low=1)
    low = check_int("min_log2_samples", min_log2_samples, low=1)
    high = check_int("max_log2_samples", max_log2_samples, low=low)
    rng = as_generator(seed)
    required = math.ceil(REQUIRED_FRACTION * runs)
    grid: dict[int, int] = {}
    attempts: dict[int, int] = {}
    passed: dict[int, dict[str, Any]] = {}
    for exponent in range(low, high + 1):
        outcome = _run_learner(family, 2**exponent, runs, required, rng)
        grid[2**exponent] = outcome["successes"]
        attempts[2**exponent] = outcome["runs"]
        if outcome["successes"] >= required:
            passed[exponent] = outcome
            if exponent - 1 in passed:
                return {
                    "samples": 2 ** (exponent - 1),
                    "runs": runs,
                    **passed[exponent - 1],
                    "grid": grid,
                    "attempts": attempts,
                    "samples_fit": fit_recovery_curve(grid, attempts),
                }
    return {
        "samples": None,
        "runs": runs,
        "successes": None,
        "queries": None,
        "samples_needed_median": None,
        "grid": grid,
        "attempts": attempts,
        "samples_fit": fit_recovery_curve(grid, attempts),
    }


def fit_recovery_curve(
    successes: dict[int, int], runs: dict[int, int], *, rate: float = 0.9
) -> float | None:
    """Estimate the samples at which the SQ learner succeeds with probability ``rate``.

    Fits the logistic model ``P(success) = 1 / (1 + exp(-(a + b log2 N)))`` to every
    run at every size by maximum likelihood, and returns the ``N`` where it
    reaches ``rate``. Using all runs smooths the factor-2 steps of the grid. The
    likelihood does not depend on the rule that abandoned a size early, so the
    truncated sizes count as they are.

    Parameters
    ----------
    successes, runs : dict of int to int
        Successes and runs per sample size.
    rate : float, default=0.9

    Returns
    -------
    float or None
        None when the runs have no failure or no success, or the fitted slope is
        not positive.
    """
    sizes = sorted(runs)
    wins = np.array([successes[size] for size in sizes], dtype=float)
    totals = np.array([runs[size] for size in sizes], dtype=float)
    if wins.sum() == 0 or wins.sum() == totals.sum():
        return None
    x = np.log2(sizes)

    def negative_log_likelihood(params: np.ndarray) -> float:
        logits = params[0] + params[1] * x
        # log(1 + e^z) without overflow, for successes and failures alike.
        return float(np.sum(totals * np.logaddexp(0.0, logits) - wins * logits))

    start = np.array([-x.mean(), 1.0])
    result = optimize.minimize(negative_log_likelihood, start, method="Nelder-Mead")
    intercept, slope = result.x
    if not result.success or slope <= 0:
        return None
    return float(2 ** ((math.log(rate / (1 - rate)) - intercept) / slope))


def _run_learner(
    family: InvariantMonomial,
    n_samples: int,
    runs: int,
    required: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    successes = 0
    queries = 0
    needed: list[int] = []
    for run in range(runs):
        member = family.random_member(rng)
        result = sq_learn(family, member, n_samples=n_samples, seed=rng, warn=False)
        successes += int(result.exact)
        queries = max(queries, result.queries)
        if result.samples_needed is not None:
            needed.append(result.samples_needed)
        if successes + (runs - run - 1) < required:
            break
    return {
        "successes": successes,
        "runs": run + 1,
        "queries": queries,
        "samples_needed_median": int(np.median(needed)) if needed else None,
    }


def gradient_nmse(
    family: InvariantMonomial,
    learner: str,
    n_samples: int,
    *,
    seeds: int = 1,
    steps: int = 1000,
    learning_rate: float = 3e-3,
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
        Training settings.
    learning_rate : float, default=3e-3
        Adam's learning rate.
    seed : int, numpy Generator or None, default=None

    Returns
    -------
    dict
        ``mean``, ``low`` and ``high`` of the normalized test MSE over seeds (a
        Student-t interval, equal to the mean for one seed). ``train_mse`` is the
        mean over seeds of the training loss over the last fifth of the steps.
        Because members have unit norm, a training loss near 0 with a test NMSE
        near 1 means that the learner fitted its samples but not the target.
    """
    rng = as_generator(seed)
    config = TrainConfig(
        steps=steps,
        batch_size=min(batch_size, n_samples),
        learning_rate=learning_rate,
        train_size=n_samples,
        test_size=test_size,
        eval_every=max(1, steps // 5),
    )
    test_values = []
    train_values = []
    for _ in range(check_int("seeds", seeds, low=1)):
        member = family.random_member(rng)
        model = build_seeded(
            lambda: family.make_learner(learner, width=width, depth=2), rng
        )
        result = train(model, family.task(member), config, seed=rng)
        test_values.append(result.test_nmse)
        train_values.append(
            result.history[-1]["train_loss"] if result.history else math.nan
        )
    mean, low, high = interval_over_seeds(test_values)
    return {
        "mean": mean,
        "low": low,
        "high": high,
        "train_mse": float(np.mean(train_values)),
    }


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
                runs=settings["runs"],
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
                "sq_runs": search["runs"],
                "sq_queries": search["queries"],
                "sq_samples_for_guarantee": search["samples_needed_median"],
                "sq_samples_fit": search["samples_fit"],
                "sq_grid": {str(size): count for size, count in search["grid"].items()},
                "sq_grid_runs": {
                    str(size): count for size, count in search["attempts"].items()
                },
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
                    learning_rate=settings["learning_rate"],
                    batch_size=settings["batch_size"],
                    width=settings["width"],
                    test_size=settings["test_size"],
                    seed=rng,
                )
                key = learner.replace("-", "_")
                row[f"{key}_nmse"] = nmse["mean"]
                row[f"{key}_nmse_low"] = nmse["low"]
                row[f"{key}_nmse_high"] = nmse["high"]
                row[f"{key}_train_mse"] = nmse["train_mse"]
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


def fit_sample_growth(rows: Sequence[dict[str, Any]]) -> dict[int, tuple[float, float]]:
    """Fit ``log N = a + b log n`` to the SQ samples of each ``k``.

    ``N`` is the logistic estimate ``sq_samples_fit`` where the row has one, and
    the grid size ``sq_samples`` otherwise. Only ``k`` with at least two distinct
    ``n`` that found a sample size get a fit. The exponent ``b`` is rough: grid
    sizes are known up to a factor of 2.

    Returns
    -------
    dict
        Maps ``k`` to ``(a, b)``.
    """
    fits = {}
    for k in sorted({row["k"] for row in rows}):
        points = [
            (math.log(row["n"]), math.log(_samples(row)))
            for row in rows
            if row["k"] == k and _samples(row)
        ]
        if len({x for x, _ in points}) >= 2:
            x, y = np.array(points).T
            slope, intercept = np.polyfit(x, y, 1)
            fits[k] = (float(intercept), float(slope))
    return fits


def _samples(row: dict[str, Any]) -> float | None:
    return row.get("sq_samples_fit") or row["sq_samples"]


def orbit_crossover(
    group: str, k: int, fit: tuple[float, float], start: int, stop: int = 2**16
) -> int | None:
    """Return the first ``n`` in ``[start, stop]`` with more orbits than fitted samples.

    The orbit count is exact (:meth:`~symhard.groups.PermutationGroup.count_orbits`).
    The samples are the extrapolated fit ``exp(a) n^b``. ``n`` grows by 5% per step,
    so the returned ``n`` is at most 5% above the first crossing. None when no
    ``n`` up to ``stop`` qualifies.
    """
    intercept, slope = fit
    n = start
    while n <= stop:
        if make_group(group, n).count_orbits(k) > math.exp(intercept) * n**slope:
            return n
        n = max(n + 1, round(n * 1.05))
    return None


def plot_separation(rows: Sequence[dict[str, Any]], path_stem: Path) -> list[Path]:
    """Plot SQ samples, orbit counts and gradient NMSE against ``n``.

    Parameters
    ----------
    rows : sequence of dict
        Output of :func:`run_separation`.
    path_stem : Path
        Output path without suffix; its folder is created if missing. PNG and
        SVG files are written.

    Returns
    -------
    list of Path
        The PNG path, then the SVG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2))
    for k in sorted({row["k"] for row in rows}):
        part = [row for row in rows if row["k"] == k]
        sizes = [row["n"] for row in part]
        line = left.plot(
            sizes,
            [row.get("sq_samples_fit") or np.nan for row in part],
            label=f"k={k}: SQ samples, logistic fit at 90%",
        )[0]
        left.plot(
            sizes,
            [row["sq_samples"] or np.nan for row in part],
            linestyle="none",
            marker="o",
            color=line.get_color(),
            label=f"k={k}: SQ samples, grid (90% of runs recover)",
        )
        left.plot(
            sizes,
            [row["family_size"] for row in part],
            linestyle=":",
            marker=".",
            color=line.get_color(),
            label=f"k={k}: orbits m",
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
    left.set_xscale("log", base=2)
    left.set_xlabel("n")
    left.set_ylabel("count")
    left.set_title("SQ learner's samples N and the number of orbits m")
    right.axhline(1.0, color="gray", linewidth=0.8)
    right.set_xlabel("n (each point trained on its own N from the left panel)")
    right.set_ylabel("normalized test MSE")
    right.set_title("Gradient learners trained on N samples")
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    figure.tight_layout()
    paths = save_figure_files(figure, path_stem, dpi=150)
    plt.close(figure)
    return paths


def separation_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Format :func:`run_separation` rows as a Markdown table."""
    lines = [
        "| k | n | orbits m | SQ samples N | SQ successes | SQ samples, logistic "
        "fit at 90% | SQ queries | estimated samples for guaranteed tolerances | "
        "CSQ bound at tau = N^-1/2 (exact) | "
        "MLP test NMSE | MLP train MSE | group-MLP test NMSE | group-MLP train MSE |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        samples = row["sq_samples"]
        samples_text = f"{samples}" if samples is not None else f"> {row['train_size']}"
        successes = (
            f"{row['sq_successes']}/{row['sq_runs']}"
            if row["sq_successes"] is not None
            else "-"
        )
        guarantee = row["sq_samples_for_guarantee"]
        lines.append(
            f"| {row['k']} | {row['n']} | {row['family_size']} | {samples_text} | "
            f"{successes} | {_count_text(row.get('sq_samples_fit'))} | "
            f"{row['sq_queries'] if row['sq_queries'] is not None else '-'} | "
            f"{guarantee if guarantee is not None else '-'} | "
            f"{row['csq_lower_bound']:.3g} | "
            f"{_interval_text(row, 'mlp')} | {row['mlp_train_mse']:.3f} | "
            f"{_interval_text(row, 'group_mlp')} | {row['group_mlp_train_mse']:.3f} |"
        )
    return "\n".join(lines)


def separation_findings(rows: Sequence[dict[str, Any]]) -> str:
    """State, from ``rows``, how the samples grow and what the learners reached.

    Writes one sentence per ``k``: the fitted growth of the SQ samples, where the
    orbit count would pass them, and each gradient learner's test NMSE at the
    largest ``n``. A learner "stays near 1" when its interval lies above 0.8, and
    it "learned" when its interval lies below 0.5.
    """
    fits = fit_sample_growth(rows)
    sentences = []
    for k in sorted({row["k"] for row in rows}):
        row = max((row for row in rows if row["k"] == k), key=lambda row: row["n"])
        if k in fits:
            crossover = orbit_crossover(row["group"], k, fits[k], row["n"])
            passes = (
                f"m would pass N at about n={crossover}"
                if crossover is not None
                else "m stays below N up to n=65536"
            )
            growth = (
                f"SQ samples grow like n^{fits[k][1]:.1f} (least-squares fit to "
                f"the logistic estimates; extrapolated, {passes})"
            )
        else:
            growth = "one size only"
        verdicts = ", ".join(
            f"{learner} {_verdict(row, learner.replace('-', '_'))}"
            for learner in GRADIENT_LEARNERS
        )
        samples = row["sq_samples"] or f"more than {row['train_size']}"
        sentences.append(
            f"k={k}: {growth}; at n={row['n']} the SQ learner needs N={samples} "
            f"samples for m={row['family_size']} orbits, and on as many samples "
            f"{verdicts}."
        )
    return "\n".join(f"- {sentence}" for sentence in sentences)


def _verdict(row: dict[str, Any], key: str) -> str:
    mean, low, high = (row[f"{key}_nmse{suffix}"] for suffix in ("", "_low", "_high"))
    if not math.isfinite(mean):
        return "diverged"
    if low > 0.8:
        state = "stays near 1"
    elif high < 0.5:
        state = "learned"
    else:
        state = "is in between"
    return f"{state} (test NMSE {_interval_text(row, key)})"


def _count_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


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
        Markdown with the findings, the table and the figure, and one summary row
        per ``(k, n)`` with ``experiment`` equal to ``"sq-separation"``.
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
        f"{settings['gradient_seeds']} seed(s) per learner, each with its own "
        f"random member, {settings['steps']} Adam steps (learning rate "
        f"{settings['learning_rate']:g}, batch {settings['batch_size']}, width "
        f"{settings['width']}, two hidden layers) on a fixed training set of N "
        f"samples, normalized test MSE on {settings['test_size']} fresh samples "
        "with a Student-t interval over seeds; the train MSE is the training loss "
        "over the last fifth of the steps (members have unit norm)"
    )
    required = math.ceil(REQUIRED_FRACTION * settings["runs"])
    markdown = "\n\n".join(
        [
            "Members of invariant-monomial are unit-norm sums of degree-k monomials "
            "over one orbit of the cyclic group C_n. They are exactly orthogonal, "
            "so correlational (CSQ) learners, gradient descent included, need a "
            "number of queries that grows with the number of orbits m. The SQ "
            "learner uses y^2 and grows the support one coordinate at a time, with "
            "at most k n queries.",
            "SQ samples N: the smallest size on the grid 2^"
            f"{settings['min_log2_samples']} .. 2^{settings['max_log2_samples']} "
            f"at which, and at the next size, at least {required} of "
            f"{settings['runs']} runs (each a random member and a fresh sample) "
            "recovered the orbit exactly (measured). The logistic fit at 90% "
            "(estimated) uses every run at every size tried: P(success) is fitted "
            "as a logistic function of log2 N by maximum likelihood and solved for "
            "0.9, which smooths the factor-2 steps of the grid. The estimate for "
            "guaranteed tolerances is the median, over those runs, of the samples "
            "at which "
            "every stated central-limit tolerance would fall below its decision "
            "threshold (estimated). The CSQ bound (m - 2) tau^2 is exact for gamma "
            "= 0. At tau = N^-1/2 it is m/N up to the -2, so it is below one "
            "query, and forbids nothing, wherever m < N.",
            f"Gradient learners: {gradient_text}. Profile '{profile}', seed {seed}.",
            "Findings from this run (a learner stays near 1 when the 95% interval "
            "of its test NMSE lies above 0.8, and learned when it lies below 0.5; "
            "compare its train MSE to tell underfitting from overfitting):\n\n"
            + separation_findings(rows),
            "Reading: under C_n the y^2 queries of the SQ learner have thresholds "
            "1/(2n) and the last step 1/(2 sqrt(n)). Under a transitive group "
            "every coordinate lies in some member of the orbit, so the first step "
            "cannot pick a wrong one, and the samples should grow like n for "
            "k = 2 and like n^2 for k >= 3 (times a factor that grows with k), "
            "while m grows like n^(k-1)/k!. Where m < N the CSQ bound is below one "
            "query and forbids nothing, so a learner given the group may learn "
            "there. For CSQ learners, the group-averaged MLP included, the bound "
            "binds only once m is many times N (it then counts queries of "
            "tolerance N^-1/2, about m/N of them).",
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
