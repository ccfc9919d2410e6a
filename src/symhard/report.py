"""Figures and the Markdown and HTML report of a ``reproduce`` run."""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import markdown

from symhard.sections import ReportSection

if TYPE_CHECKING:
    from symhard.reproduce import Profile

# A learner "learned" a target when the upper end of its interval is below this
# normalized test MSE, and "did not learn" it when the lower end is above the second.
LEARNED_BELOW = 0.1
NOT_LEARNED_ABOVE = 0.8


def verdict(row: dict[str, Any]) -> str:
    """Classify a summary row by its normalized test MSE interval over seeds."""
    if "nmse_mean" not in row:
        return "no result (all seeds diverged)"
    if row["nmse_high"] < LEARNED_BELOW:
        return "learned"
    if row["nmse_low"] > NOT_LEARNED_ABOVE:
        return "not learned"
    return "partly learned"


def save_figure(figure: Any, stem: Path) -> Path:
    """Save ``figure`` as ``stem.png`` and ``stem.svg``; return the PNG path."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(stem.with_suffix(".png"), dpi=120, bbox_inches="tight")
    figure.savefig(stem.with_suffix(".svg"), bbox_inches="tight")
    return stem.with_suffix(".png")


def plot_sweep(rows: list[dict[str, Any]], stem: Path, *, tolerance: float) -> Path:
    """Plot normalized test MSE against ``n``, one panel per ``k``, with the bound.

    Each learner is a line with its interval over seeds; the dashed line on the
    right axis is log10 of the CSQ query lower bound at ``tolerance``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hard = [r for r in rows if r["kind"] == "hard" and "nmse_mean" in r]
    ks = sorted({r["k"] for r in hard})
    figure, axes = plt.subplots(
        1, len(ks), figsize=(4.2 * len(ks), 3.6), squeeze=False, sharey=True
    )
    for axis, k in zip(axes[0], ks, strict=True):
        by_learner = defaultdict(list)
        for row in hard:
            if row["k"] == k:
                by_learner[row["learner"]].append(row)
        for learner, points in sorted(by_learner.items()):
            points.sort(key=lambda r: r["size"])
            sizes = [r["size"] for r in points]
            means = [r["nmse_mean"] for r in points]
            axis.plot(sizes, means, marker="o", label=learner)
            axis.fill_between(
                sizes,
                [r["nmse_low"] for r in points],
                [r["nmse_high"] for r in points],
                alpha=0.2,
            )
        axis.axhline(1.0, color="gray", linewidth=0.8, linestyle=":")
        axis.set_title(f"k = {k}")
        axis.set_xlabel("n")
        # Sizes with at most 2 members have a zero bound, which has no logarithm.
        bound_points = sorted(
            {
                (r["size"], r["log10_csq_lower_bound"])
                for r in hard
                if r["k"] == k and math.isfinite(r["log10_csq_lower_bound"])
            }
        )
        axis.set_ylim(-0.05, 1.25)
        twin = axis.twinx()
        twin.plot(
            [s for s, _ in bound_points],
            [b for _, b in bound_points],
            color="black",
            linestyle="--",
            marker="x",
            label=f"log10 CSQ bound (tau={tolerance:.3g})",
        )
        twin.set_ylabel("log10 queries needed")
    axes[0][0].set_ylabel("normalized test MSE")
    axes[0][0].legend(loc="center right", fontsize=8)
    twin.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path = save_figure(figure, stem)
    plt.close(figure)
    return path


def plot_learning_curves(
    trials: list[dict[str, Any]],
    histories: dict[str, list[dict[str, float]]],
    stem: Path,
) -> Path:
    """Plot test NMSE against step for the smallest and largest ``n`` of each ``k``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hard = [t for t in trials if t["control"] is None and t["status"] == "done"]
    ks = sorted({t["k"] for t in hard})
    learners = sorted({t["learner"] for t in hard})
    figure, axes = plt.subplots(
        1, len(ks), figsize=(4.2 * len(ks), 3.4), squeeze=False, sharey=True
    )
    for axis, k in zip(axes[0], ks, strict=True):
        sizes = sorted({t["size"] for t in hard if t["k"] == k})
        for size, style in ((sizes[0], "-"), (sizes[-1], "--")):
            seen = set()
            for trial in hard:
                if trial["k"] != k or trial["size"] != size:
                    continue
                history = histories[trial["key"]]
                label = f"{trial['learner']}, n={size}"
                axis.plot(
                    [h["step"] for h in history],
                    [h["test_nmse"] for h in history],
                    linestyle=style,
                    color=f"C{learners.index(trial['learner'])}",
                    alpha=0.7,
                    label=None if label in seen else label,
                )
                seen.add(label)
        axis.set_title(f"k = {k}")
        axis.set_xlabel("step")
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel("test normalized MSE")
    figure.tight_layout()
    path = save_figure(figure, stem)
    plt.close(figure)
    return path


def sweep_table(rows: list[dict[str, Any]]) -> str:
    """Return a Markdown table of the hard-family rows with verdicts."""
    lines = [
        "| k | n | learner | NMSE mean | 95% interval | seeds | diverged | "
        "family size m | gamma | log10 CSQ bound | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["kind"] != "hard":
            continue
        lines.append(
            f"| {row['k']} | {row['size']} | {row['learner']} | "
            f"{_number(row.get('nmse_mean'))} | {_interval(row)} | {row['n_seeds']} | "
            f"{row['n_diverged']} | {row['family_size']} | "
            f"{row['max_abs_correlation']:g} ({row['correlation_method']}) | "
            f"{_log_bound(row['log10_csq_lower_bound'])} | {verdict(row)} |"
        )
    return "\n".join(lines)


def control_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| control | n | learner | NMSE mean | 95% interval | seeds | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["kind"] == "control":
            lines.append(
                f"| {row['family']} | {row['size']} | {row['learner']} | "
                f"{_number(row.get('nmse_mean'))} | {_interval(row)} | "
                f"{row['n_seeds']} | {verdict(row)} |"
            )
    return "\n".join(lines)


def write_report(
    run_dir: Path,
    *,
    profile: Profile,
    summary: list[dict[str, Any]],
    trials: list[dict[str, Any]],
    histories: dict[str, list[dict[str, float]]],
    sections: list[ReportSection],
    tolerance: float,
) -> None:
    """Write the figures of the main sweep, ``report.md`` and ``report.html``."""
    figures = run_dir / "figures"
    sweep_rows = [r for r in summary if r["experiment"] in ("parity-relu", "control")]
    main = ReportSection(
        title="parity-relu under the cyclic group",
        markdown=_main_text(profile, tolerance)
        + "\n\n"
        + sweep_table(sweep_rows)
        + "\n\n### Controls\n\nA random teacher of each learner's own architecture "
        "and a sparse parity of 3 bits: a trainer that works learns them.\n\n"
        + control_table(sweep_rows),
        figures=[
            plot_sweep(sweep_rows, figures / "parity_relu_sweep", tolerance=tolerance),
            plot_learning_curves(trials, histories, figures / "learning_curves"),
        ],
    )
    all_sections = [main, *sections]
    environment = json.loads((run_dir / "environment.json").read_text())
    text = _markdown_document(all_sections, environment, run_dir)
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


def _main_text(profile: Profile, tolerance: float) -> str:
    train = profile.train
    return (
        f"Profile `{profile.name}`: for each k and n, {profile.seeds} seeds, each "
        "drawing its own member (a uniformly random k-subset's orbit), training set "
        f"and test set. Learners train with {train.optimizer} (learning rate "
        f"{train.learning_rate:g}) on the square loss for {train.steps} steps of "
        f"{train.batch_size} fresh samples; the test set has {train.test_size} "
        "samples. Normalized test MSE 1 means nothing was learned. The interval is "
        "a 95% Student-t interval over seeds. The CSQ bound is the counting bound "
        f"at tolerance tau = 1/sqrt(batch size) = {tolerance:.4g}, with the exact "
        "family size and gamma. Verdicts: learned when the interval's upper end is "
        f"below {LEARNED_BELOW}, not learned when its lower end is above "
        f"{NOT_LEARNED_ABOVE}."
    )


def _markdown_document(
    sections: list[ReportSection], environment: dict[str, Any], run_dir: Path
) -> str:
    parts = [
        "# symhard report",
        "",
        "Environment: "
        + ", ".join(
            f"{key} {html.escape(str(value))}" for key, value in environment.items()
        ),
        "",
        "Every number below was computed in this run; `summary.json` holds the rows "
        "and `results.sqlite` every trial with its learning curve.",
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


def _log_bound(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "none (m <= 2)"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(row: dict[str, Any]) -> str:
    if "nmse_low" not in row:
        return "n/a"
    return f"[{row['nmse_low']:.3f}, {row['nmse_high']:.3f}]"
