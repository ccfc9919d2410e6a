"""The unit in which an experiment contributes to the report of ``reproduce``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symhard.jsonio import to_json


@dataclass
class ReportSection:
    """One section of ``report.md`` and ``report.html``.

    Attributes
    ----------
    title : str
        Section heading.
    markdown : str
        Body text in Markdown (tables included), without the heading.
    figures : list of Path
        PNG files inside the run directory, shown after the body. An SVG with the
        same stem is linked when it exists.
    summary_rows : list of dict
        Rows appended to ``summary.json``; each has at least the key ``experiment``.
    """

    title: str
    markdown: str
    figures: list[Path] = field(default_factory=list)
    summary_rows: list[dict[str, Any]] = field(default_factory=list)


# Builders of the sections that ``symhard reproduce`` adds after its main sweep, as
# "module:function" paths. Each is called as
# ``builder(run_dir, profile=profile, seed=seed)`` and returns a ReportSection.
SECTION_BUILDERS = [
    "symhard.nphard.experiment:nphard_section",
    "symhard.separation:separation_section",
    "symhard.oracle_descent:csq_section",
    "symhard.graph_experiment:graph_section",
    "symhard.cnn_experiment:cnn_section",
]


def save_figure_files(
    figure: Any, path_stem: Path, *, dpi: int, bbox_inches: str | None = None
) -> list[Path]:
    """Save a matplotlib ``figure`` as ``path_stem.png`` and ``path_stem.svg``.

    The folder of ``path_stem`` is created if missing. The figure stays open.

    Returns
    -------
    list of Path
        The PNG path, then the SVG path.
    """
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [path_stem.with_suffix(".png"), path_stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=dpi, bbox_inches=bbox_inches)
    return paths


def section_file(run_dir: Path, builder: str) -> Path:
    """Return where the section of ``builder`` ("module:function") is stored."""
    return Path(run_dir) / "sections" / (builder.replace(":", ".") + ".json")


def save_section(section: ReportSection, run_dir: Path, builder: str) -> Path:
    """Store ``section`` in ``run_dir`` so that a resumed run can reuse it.

    Figure paths are stored relative to ``run_dir``. Non-finite numbers in the
    summary rows are stored as null, as in ``summary.json``. The file is written
    under a temporary name and then renamed, so it is either whole or absent.
    """
    run_dir = Path(run_dir)
    path = section_file(run_dir, builder)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "title": section.title,
        "markdown": section.markdown,
        "figures": [
            str(Path(figure).resolve().relative_to(run_dir.resolve()))
            for figure in section.figures
        ],
        "summary_rows": section.summary_rows,
    }
    partial = path.with_suffix(".partial")
    partial.write_text(to_json(data) + "\n")
    partial.replace(path)
    return path


def load_section(run_dir: Path, builder: str) -> ReportSection | None:
    """Return the stored section of ``builder``, or None.

    None when nothing is stored, the file cannot be read, or one of its figures
    is missing. The caller then builds the section again.
    """
    run_dir = Path(run_dir)
    try:
        data = json.loads(section_file(run_dir, builder).read_text())
        figures = [run_dir / name for name in data["figures"]]
        section = ReportSection(
            title=data["title"],
            markdown=data["markdown"],
            figures=figures,
            summary_rows=data["summary_rows"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(figure.is_file() for figure in figures):
        return None
    return section
