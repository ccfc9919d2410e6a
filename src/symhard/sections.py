"""The unit in which an experiment contributes to the report of ``reproduce``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
