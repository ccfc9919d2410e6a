"""Figures and the Markdown and HTML report of a sweep or ``reproduce`` run.

For every hard family of the sweep, the report has a table of the best normalized
test MSE over the hyperparameter grid per (size, k, learner), with the setting
that reached it. Figures show that value against size beside the CSQ bound, as a
phase diagram over (size, k), and as learning curves of the best settings.
Another table lists every grid setting's result. Controls get their own table.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import markdown

from symhard.sections import ReportSection, save_figure_files

if TYPE_CHECKING:
    from symhard.sweep import SweepSpec

# A learner "learned" a target when the upper end of its interval is below this
# normalized test MSE, and "did not learn" it when the lower end is above the second.
LEARNED_BELOW = 0.1
NOT_LEARNED_ABOVE = 0.8

# Short names of the grid's hyperparameters in tables.
SETTING_LABELS = {
    "learning_rate": "lr",
    "optimizer": "optimizer",
    "init_scale": "init scale",
    "batch_size": "batch",
    "momentum": "momentum",
    "weight_decay": "weight decay",
    "width": "width",
    "depth": "depth",
}


def verdict(row: Mapping[str, Any]) -> str:
    """Classify a summary row by its normalized test MSE interval over seeds."""
    if "nmse_mean" not in row:
        return "no result (no seed finished)"
    if row["nmse_high"] < LEARNED_BELOW:
        return "learned"
    if row["nmse_low"] > NOT_LEARNED_ABOVE:
        return "not learned"
    return "inconclusive"


def save_figure(figure: Any, stem: Path) -> Path:
    """Save ``figure`` as ``stem.png`` and ``stem.svg``; return the PNG path."""
    return save_figure_files(figure, stem, dpi=120, bbox_inches="tight")[0]


def varying_setting_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the hyperparameters that take more than one value in ``rows``' grids."""
    values: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for result in row.get("grid", []):
            for key, value in result["setting"].items():
                values[key].add(json.dumps(value))
    return [key for key in SETTING_LABELS if len(values[key]) > 1]


def format_setting(setting: Mapping[str, Any] | None, keys: Sequence[str]) -> str:
    """Write the values of ``keys`` in ``setting`` as ``lr 0.001, width 64``."""
    if setting is None:
        return "n/a"
    if not keys:
        return "the only setting"
    return ", ".join(
        f"{SETTING_LABELS[key]} {_values_text(setting[key])}" for key in keys
    )


# Figures ------------------------------------------------------------------------------


def _k_values(rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
    return sorted({r["k"] for r in rows}, key=lambda k: -1 if k is None else k)


def _k_title(k: int | None) -> str:
    return "all rows" if k is None else f"k = {k}"


def plot_sweep(
    rows: Sequence[Mapping[str, Any]], stem: Path, *, tolerance: float
) -> Path:
    """Plot the best normalized test MSE against size, one panel per ``k``.

    ``rows`` are the hard-family rows of one family. Each learner is a line with
    its interval over seeds. The dashed line on the right axis is log10 of the
    CSQ query lower bound at ``tolerance``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hard = [r for r in rows if r["kind"] == "hard"]
    ks = _k_values(hard)
    size_name = hard[0]["size_name"] if hard else "size"
    figure, axes = plt.subplots(
        1, len(ks), figsize=(4.2 * len(ks), 3.6), squeeze=False, sharey=True
    )
    twins = []
    for axis, k in zip(axes[0], ks, strict=True):
        by_learner = defaultdict(list)
        for row in hard:
            if row["k"] == k and "nmse_mean" in row:
                by_learner[row["learner"]].append(row)
        for learner, points in sorted(by_learner.items()):
            points.sort(key=lambda r: r["size"])
            sizes = [r["size"] for r in points]
            axis.plot(
                sizes, [r["nmse_mean"] for r in points], marker="o", label=learner
            )
            axis.fill_between(
                sizes,
                [r["nmse_low"] for r in points],
                [r["nmse_high"] for r in points],
                alpha=0.2,
            )
        axis.axhline(1.0, color="gray", linewidth=0.8, linestyle=":")
        axis.set_title(_k_title(k))
        axis.set_xlabel(size_name)
        axis.set_ylim(-0.05, 1.25)
        # Sizes with at most 2 members have a zero bound, which has no logarithm.
        bound_points = sorted(
            {
                (r["size"], r["log10_csq_lower_bound"])
                for r in hard
                if r["k"] == k and math.isfinite(r["log10_csq_lower_bound"])
            }
        )
        twin = axis.twinx()
        twins.append(twin)
        twin.plot(
            [s for s, _ in bound_points],
            [b for _, b in bound_points],
            color="black",
            linestyle="--",
            marker="x",
            label=f"log10 CSQ bound (tau={tolerance:.3g})",
        )
        twin.set_ylabel("log10 queries needed")
    axes[0][0].set_ylabel("best normalized test MSE over the grid")
    axes[0][0].legend(loc="center right", fontsize=8)
    if twins:
        # One scale for the bound in every panel, so panels compare directly.
        low = min(twin.get_ylim()[0] for twin in twins)
        high = max(twin.get_ylim()[1] for twin in twins)
        for twin in twins:
            twin.set_ylim(low, high)
        twins[-1].legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path = save_figure(figure, stem)
    plt.close(figure)
    return path


def plot_phase_diagram(rows: Sequence[Mapping[str, Any]], stem: Path) -> Path:
    """Draw the best normalized test MSE as a heatmap over (size, k), per learner.

    Cells without a row (a size not run at that ``k``) stay blank; each cell shows
    its value.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    hard = [r for r in rows if r["kind"] == "hard"]
    learners = sorted({r["learner"] for r in hard})
    sizes = sorted({r["size"] for r in hard})
    ks = _k_values(hard)
    figure, axes = plt.subplots(
        1,
        len(learners),
        figsize=(0.55 * len(sizes) * len(learners) + 2.5, 0.6 * len(ks) + 1.6),
        squeeze=False,
    )
    image = None
    for axis, learner in zip(axes[0], learners, strict=True):
        values = np.full((len(ks), len(sizes)), np.nan)
        for row in hard:
            if row["learner"] == learner and "nmse_mean" in row:
                values[ks.index(row["k"]), sizes.index(row["size"])] = row["nmse_mean"]
        image = axis.imshow(
            np.ma.masked_invalid(values),
            origin="lower",
            aspect="auto",
            cmap="viridis",
            vmin=0.0,
            vmax=1.0,
        )
        for (i, j), value in np.ndenumerate(values):
            if math.isfinite(value):
                axis.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 0.5 else "black",
                )
        axis.set_xticks(range(len(sizes)), [str(s) for s in sizes])
        axis.set_yticks(range(len(ks)), ["-" if k is None else str(k) for k in ks])
        axis.set_xlabel(hard[0]["size_name"])
        axis.set_title(learner)
    axes[0][0].set_ylabel("k")
    if image is not None:
        figure.colorbar(image, ax=axes[0].tolist(), label="best NMSE (clipped at 1)")
    path = save_figure(figure, stem)
    plt.close(figure)
    return path


def plot_learning_curves(
    rows: Sequence[Mapping[str, Any]],
    histories: Mapping[str, list[dict[str, float]]],
    stem: Path,
) -> Path:
    """Plot test NMSE against step for the best setting of each learner.

    One panel per ``k``; solid lines for the smallest size and dashed lines for
    the largest, one line per seed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hard = [r for r in rows if r["kind"] == "hard" and "nmse_mean" in r]
    ks = _k_values(hard)
    learners = sorted({r["learner"] for r in hard})
    figure, axes = plt.subplots(
        1, len(ks), figsize=(4.2 * len(ks), 3.4), squeeze=False, sharey=True
    )
    for axis, k in zip(axes[0], ks, strict=True):
        sizes = sorted({r["size"] for r in hard if r["k"] == k})
        for size, style in ((sizes[0], "-"), (sizes[-1], "--")):
            for row in hard:
                if row["k"] != k or row["size"] != size:
                    continue
                label = f"{row['learner']}, {row['size_name']}={size}"
                for index, key in enumerate(_best_keys(row)):
                    history = histories.get(key, [])
                    axis.plot(
                        [h["step"] for h in history],
                        [h["test_nmse"] for h in history],
                        linestyle=style,
                        color=f"C{learners.index(row['learner'])}",
                        alpha=0.7,
                        label=label if index == 0 else None,
                    )
        axis.set_title(_k_title(k))
        axis.set_xlabel("step")
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel("test normalized MSE (best setting)")
    figure.tight_layout()
    path = save_figure(figure, stem)
    plt.close(figure)
    return path


def _best_keys(row: Mapping[str, Any]) -> list[str]:
    """Return the trial keys of the best setting (the first of ``row['grid']``)."""
    grid = row.get("grid") or []
    return list(grid[0].get("keys", [])) if grid else []


# Tables -------------------------------------------------------------------------------


def sweep_table(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """Return a Markdown table of hard-family rows: best of grid, bound, verdict."""
    extra = _varying_params(rows)
    lines = [
        "| "
        + " | ".join(
            [
                *(name for name in extra),
                "k",
                "size",
                "learner",
                "best NMSE mean",
                "95% interval",
                "seeds",
                "best setting",
                "settings",
                "diverged",
                "failed",
                "family size m",
                "gamma",
                "log10 CSQ bound",
                "verdict",
            ]
        )
        + " |",
        "|" + "---|" * (len(extra) + 14),
    ]
    for row in rows:
        if row["kind"] != "hard":
            continue
        cells = [str(row["params"].get(name, "")) for name in extra]
        cells += [
            _k_cell(row["k"]),
            f"{row['size_name']}={row['size']}",
            row["learner"],
            _number(row.get("nmse_mean")),
            _interval(row),
            str(row["n_seeds"]),
            format_setting(row.get("best_setting"), keys),
            str(row["n_settings"]),
            str(row["n_diverged"]),
            str(row["n_failed"]),
            str(row["family_size"]),
            f"{row['max_abs_correlation']:g} ({row['correlation_method']})",
            _log_bound(row["log10_csq_lower_bound"]),
            verdict(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def control_table(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """Return a Markdown table of the control rows."""
    lines = [
        "| control | size | learner | best NMSE mean | 95% interval | seeds | "
        "best setting | settings | diverged | failed | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["kind"] != "control":
            continue
        cells = [
            row["family"],
            f"{row['size_name']}={row['size']}",
            row["learner"],
            _number(row.get("nmse_mean")),
            _interval(row),
            str(row["n_seeds"]),
            format_setting(row.get("best_setting"), keys),
            str(row["n_settings"]),
            str(row["n_diverged"]),
            str(row["n_failed"]),
            verdict(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grid_table(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """Return every setting's result for the rows that ran more than one setting.

    Returns an empty string when no row ran more than one setting.
    """
    lines = [
        "| experiment | k | size | learner | setting | NMSE mean | 95% interval | "
        "seeds | diverged | failed | best |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    tuned = [row for row in rows if row["n_settings"] > 1]
    for row in tuned:
        for index, result in enumerate(row["grid"]):
            cells = [
                row["family"],
                _k_cell(row["k"]),
                f"{row['size_name']}={row['size']}",
                row["learner"],
                format_setting(result["setting"], keys),
                _number(result.get("nmse_mean")),
                _interval(result),
                str(result["n_seeds"]),
                str(result["n_diverged"]),
                str(result["n_failed"]),
                "yes" if index == 0 and "nmse_mean" in result else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) if tuned else ""


def picture_checks(rows: Sequence[Mapping[str, Any]]) -> str:
    """State whether the expected picture holds, from the best-of-grid means.

    Checks that every control and every learner at the smallest size of each
    ``k`` reach a mean below ``LEARNED_BELOW``, and that every learner at the
    largest size of the largest ``k`` stays above ``NOT_LEARNED_ABOVE``.
    """
    lines = []
    hard = [r for r in rows if r["kind"] == "hard" and r["k"] is not None]
    for family in sorted({r["family"] for r in hard}):
        members = [r for r in hard if r["family"] == family]
        for k in _k_values(members):
            smallest = min(r["size"] for r in members if r["k"] == k)
            lines.append(
                _check_line(
                    f"{family}, k = {k}, smallest size {smallest}: every learner "
                    f"below {LEARNED_BELOW}",
                    [r for r in members if r["k"] == k and r["size"] == smallest],
                    lambda mean: mean < LEARNED_BELOW,
                )
            )
        top_k = max(r["k"] for r in members)
        largest = max(r["size"] for r in members if r["k"] == top_k)
        lines.append(
            _check_line(
                f"{family}, k = {top_k}, largest size {largest}: every learner above "
                f"{NOT_LEARNED_ABOVE}",
                [r for r in members if r["k"] == top_k and r["size"] == largest],
                lambda mean: mean > NOT_LEARNED_ABOVE,
            )
        )
    controls = [r for r in rows if r["kind"] == "control"]
    if controls:
        lines.append(
            _check_line(
                f"every control below {LEARNED_BELOW}",
                controls,
                lambda mean: mean < LEARNED_BELOW,
            )
        )
    return "\n".join(lines)


def _check_line(title: str, rows: Sequence[Mapping[str, Any]], passes: Any) -> str:
    values = [
        f"{r['learner']} {_number(r.get('nmse_mean'))}"
        + ("" if r["kind"] == "hard" else f" ({r['family']})")
        for r in rows
    ]
    passed = bool(rows) and all(
        "nmse_mean" in r and passes(r["nmse_mean"]) for r in rows
    )
    return (
        f"- {title}: **{'holds' if passed else 'does not hold'}** ({'; '.join(values)})"
    )


# The document -------------------------------------------------------------------------


def family_section(
    run_dir: Path,
    *,
    spec: SweepSpec,
    family: str,
    rows: Sequence[Mapping[str, Any]],
    histories: Mapping[str, list[dict[str, float]]],
    title: str | None = None,
) -> ReportSection:
    """Build the section of one hard family: text, tables and three figures."""
    keys = varying_setting_keys(rows)
    stem = run_dir / "figures" / family.replace("-", "_")
    hard = [r for r in rows if r["kind"] == "hard"]
    parts = [
        protocol_text(spec, rows),
        sweep_table(hard, keys),
    ]
    grid = grid_table(hard, keys)
    if grid:
        parts.append("### Every grid setting\n\n" + grid)
    figures = [plot_sweep(hard, Path(f"{stem}_sweep"), tolerance=spec.tolerance)]
    figures.append(plot_phase_diagram(hard, Path(f"{stem}_phase_diagram")))
    figures.append(
        plot_learning_curves(hard, histories, Path(f"{stem}_learning_curves"))
    )
    return ReportSection(
        title=title or f"{family}: best normalized test MSE over the grid",
        markdown="\n\n".join(parts),
        figures=figures,
    )


def controls_section(rows: Sequence[Mapping[str, Any]]) -> ReportSection:
    """Build the section of the control rows."""
    keys = varying_setting_keys(rows)
    text = (
        "A random teacher of each learner's own architecture and a sparse parity "
        "of 3 bits on the hypercube: a trainer that works learns them, so a "
        "failure on a hard family is not a broken trainer.\n\n"
        + control_table(rows, keys)
    )
    grid = grid_table(rows, keys)
    if grid:
        text += "\n\nEvery grid setting of the controls:\n\n" + grid
    return ReportSection(title="Controls", markdown=text)


def protocol_text(spec: SweepSpec, rows: Sequence[Mapping[str, Any]]) -> str:
    """Describe how the rows were produced: seeds, training, grid, bound, verdicts."""
    train = spec.train
    data = (
        "fresh samples at every step"
        if train["train_size"] is None
        else f"a fixed training set of {train['train_size']} samples"
    )
    tuned = [r for r in rows if r["n_settings"] > 1]
    if not tuned:
        tuning = "Every row ran a single hyperparameter setting."
    elif len(tuned) == len(rows):
        tuning = "Every row ran the whole grid."
    else:
        places = sorted(
            {
                ("" if r["k"] is None else f"k={r['k']} ")
                + f"{r['size_name']}={r['size']}"
                for r in tuned
            }
        )
        tuning = (
            "The grid ran on these rows only: "
            + ", ".join(places)
            + "; the other rows ran one setting. A row's setting count is in the "
            "table."
        )
    description = spec.description.strip()
    return "\n\n".join(
        part
        for part in [
            description,
            f"Sweep `{spec.name}`: {spec.seeds} seeds per setting, each drawing its "
            "own member, initialization, training data and test set. Learners train "
            f"on the square loss for {train['steps']} steps on {data}; the test set "
            f"has {train['test_size']} samples, evaluated every "
            f"{train['eval_every']} steps. Hyperparameters: {grid_text(spec)}. "
            + tuning,
            "Best of grid: for each setting the normalized test MSE (1 means nothing "
            "was learned) is averaged over the seeds that finished; the best setting "
            "has the lowest mean among the settings with the most finished seeds. "
            "Its mean and 95% Student-t interval over seeds are reported. A trial "
            "whose training loss became NaN or infinite is diverged: it is counted "
            "and never averaged in; failed trials raised an error (see `trials.log`). "
            f"The CSQ bound is the counting bound at tolerance tau = 1/sqrt(largest "
            f"batch size) = {spec.tolerance:.4g}, with the exact family size and "
            f"gamma. Verdicts: learned when the interval's upper end is below "
            f"{LEARNED_BELOW}, not learned when its lower end is above "
            f"{NOT_LEARNED_ABOVE}.",
        ]
        if part
    )


def grid_text(spec: SweepSpec) -> str:
    """Describe the sweep's grid and the entries that replace part of it."""
    parts = [
        f"{SETTING_LABELS[key]} {_values_text(values)}"
        for key, values in spec.grid.items()
    ]
    text = ", ".join(parts)
    overrides = []
    for entry in spec.families + spec.controls:
        if entry.grid:
            params = ", ".join(
                f"{k}={_values_text(v)}" for k, v in entry.params.items()
            )
            changed = ", ".join(
                f"{SETTING_LABELS[key]} {_values_text(values)}"
                for key, values in entry.grid.items()
            )
            overrides.append(f"{entry.control or entry.family} ({params}): {changed}")
    if overrides:
        text += " (replaced for " + "; ".join(overrides) + ")"
    return text


def _values_text(values: Any) -> str:
    if isinstance(values, tuple | list):
        texts = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
        return texts[0] if len(texts) == 1 else "{" + ", ".join(texts) + "}"
    return f"{values:g}" if isinstance(values, float) else str(values)


def write_report(
    run_dir: Path,
    *,
    spec: SweepSpec,
    summary: Sequence[Mapping[str, Any]],
    trials: Sequence[Mapping[str, Any]],
    histories: Mapping[str, list[dict[str, float]]],
    sections: Sequence[ReportSection],
    main_titles: Mapping[str, str] | None = None,
) -> None:
    """Write the figures, ``report.md`` and ``report.html`` of a run.

    Parameters
    ----------
    run_dir : Path
        Holds ``environment.json``; figures go to ``run_dir / "figures"``.
    spec : SweepSpec
    summary : sequence of dict
        Rows from :func:`symhard.sweep.summarize` (other rows are ignored here).
    trials : sequence of dict
        The stored trials (used for the counts at the top).
    histories : mapping of str to list of dict
        Evaluation rows by trial key.
    sections : sequence of ReportSection
        Further sections, placed after the sweep's.
    main_titles : mapping of str to str or None, default=None
        Section titles by family name.
    """
    sweep_rows = [r for r in summary if "n_settings" in r]
    hard_families = sorted({r["family"] for r in sweep_rows if r["kind"] == "hard"})
    main = [
        family_section(
            run_dir,
            spec=spec,
            family=family,
            rows=[
                r for r in sweep_rows if r["kind"] == "hard" and r["family"] == family
            ],
            histories=histories,
            title=(main_titles or {}).get(family),
        )
        for family in hard_families
    ]
    controls = [r for r in sweep_rows if r["kind"] == "control"]
    if controls:
        main.append(controls_section(controls))
    checks = picture_checks(sweep_rows)
    if checks:
        main.append(
            ReportSection(
                title="Expected picture",
                markdown="Computed from the best-of-grid means above.\n\n" + checks,
            )
        )
    environment = json.loads((run_dir / "environment.json").read_text())
    counts = defaultdict(int)
    for trial in trials:
        counts[trial["status"]] += 1
    counts_text = ", ".join(
        f"{count} {status}" for status, count in sorted(counts.items())
    )
    cpu_seconds = [t["cpu_seconds"] for t in trials if t.get("cpu_seconds")]
    if cpu_seconds:
        counts_text += (
            f" (CPU time of the {len(cpu_seconds)} timed trials: "
            f"{sum(cpu_seconds) / 60:.1f} min, measured per trial)"
        )
    versions = Counter(t.get("code_version") or "not recorded" for t in trials)
    if len(versions) > 1:
        counts_text += "; trials ran under more than one symhard version: " + (
            ", ".join(f"{version} ({count})" for version, count in versions.items())
        )
    text = _markdown_document([*main, *sections], environment, run_dir, counts_text)
    (run_dir / "report.md").write_text(text)
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])
    (run_dir / "report.html").write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        "<title>symhard report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;font-size:0.85em}"
        "td,th{border:1px solid #bbb;padding:2px 6px}img{max-width:100%}</style>"
        f"</head><body>\n{body}\n</body></html>\n"
    )


def _markdown_document(
    sections: Sequence[ReportSection],
    environment: Mapping[str, Any],
    run_dir: Path,
    counts_text: str,
) -> str:
    parts = [
        "# symhard report",
        "",
        "Environment: "
        + ", ".join(
            f"{key} {html.escape(str(value))}" for key, value in environment.items()
        ),
        "",
        f"Trials of this specification: {counts_text or 'none'}. Every number below "
        "was computed in this run; `summary.json` holds the rows, `results.sqlite` "
        "every trial with its learning curve and `trials.log` each trial's details.",
    ]
    for section in sections:
        parts += ["", f"## {section.title}", "", section.markdown.strip()]
        for figure in section.figures:
            relative = Path(figure).resolve().relative_to(run_dir.resolve())
            parts += ["", f"![{relative.stem}]({relative.as_posix()})"]
            svg = Path(figure).with_suffix(".svg")
            if svg.exists():
                parts += ["", f"[SVG]({relative.with_suffix('.svg').as_posix()})"]
    return "\n".join(parts) + "\n"


def _varying_params(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return family parameters other than size and ``k`` that differ across rows."""
    values: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row["kind"] != "hard":
            continue
        for key, value in row["params"].items():
            if key not in (row["size_name"], "k"):
                values[key].add(json.dumps(value, default=str))
    return sorted(key for key, seen in values.items() if len(seen) > 1)


def _k_cell(k: int | None) -> str:
    return "-" if k is None else str(k)


def _log_bound(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "none (m <= 2)"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000 or 0 < abs(value) < 0.001:
        return f"{value:.2e}"
    return f"{value:.3f}"


def _interval(row: Mapping[str, Any]) -> str:
    if "nmse_low" not in row:
        return "n/a"
    return f"[{_number(row['nmse_low'])}, {_number(row['nmse_high'])}]"
