"""The ``symhard bound`` command: CSQ lower bounds over a range of family sizes.

``symhard bound parity-relu n=8:64:8 k=log2 group=cyclic --tolerance 0.01`` prints
one row per ``n`` with the exact family size ``m``, the correlation bound ``gamma``
with how it was obtained, and the number of queries of tolerance ``tau`` that any
CSQ learner needs, :math:`q \\ge (m - 2) \\tau^2 / (1 + (m - 1) \\gamma)`.

Parameter values, given as ``key=value`` tokens:

- ``key=start:stop:step`` (or ``start:stop``, step 1) sweeps one integer
  parameter from ``start`` to ``stop`` inclusive. At most one parameter is swept.
- ``key=log2`` makes ``key`` follow the swept parameter ``s`` as the largest even
  integer at most ``log2(s)``, and at least 2 (a ReLU parity needs an even ``k``).
  ``key=log2-odd`` gives the largest odd integer at most ``log2(s)``, and at least 3
  (for ``tanh`` or ``sigmoid``). With no swept parameter, ``s`` is the family's
  size parameter.
- Anything else is passed to the family as it is.

The module also draws the standard picture of the bounds of every registered family
(:func:`bound_figure`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symhard._validation import (
    InvalidParameterError,
    check_choice,
    check_float,
    invalid,
)
from symhard.bounds import (
    csq_query_lower_bound,
    format_count,
    log10_csq_query_lower_bound,
)
from symhard.sections import save_figure_files

logger = logging.getLogger(__name__)

# Values that make a parameter follow the swept one (see the module docstring).
DERIVED_VALUES = ("log2", "log2-odd")

# Maximum number of rows one command may compute.
MAX_ROWS = 1000

_RANGE_PATTERN = re.compile(r"^\s*(-?\d+)\s*:\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?$")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed ``bound`` request: fixed values, one swept parameter, derived ones.

    Attributes
    ----------
    fixed : dict of str to str
        Parameters passed to the family as given (integers become ints in rows).
    swept : str or None
        Name of the swept parameter.
    values : list of int
        Values of the swept parameter (one empty-named row when nothing is swept).
    derived : dict of str to str
        Parameters computed from the swept value: name to ``"log2"`` or
        ``"log2-odd"``.
    reference : str or None
        The parameter whose value the derived ones follow.
    """

    fixed: dict[str, str]
    swept: str | None
    values: list[int]
    derived: dict[str, str] = field(default_factory=dict)
    reference: str | None = None

    def row_parameters(self) -> list[dict[str, Any]]:
        """Return the parameters of every row, swept and derived values as ints."""
        rows = []
        for value in self.values or [None]:
            params: dict[str, Any] = {}
            if self.swept is not None:
                params[self.swept] = value
            for name, text in self.fixed.items():
                params[name] = int(text) if re.fullmatch(r"-?\d+", text) else text
            for name, rule in self.derived.items():
                params[name] = derived_value(rule, int(params[self.reference]))
            rows.append(params)
        return rows


def parse_range(name: str, text: str) -> list[int]:
    """Read ``start:stop:step`` (stop included; step defaults to 1) as a list.

    Examples
    --------
    >>> parse_range("n", "8:32:8")
    [8, 16, 24, 32]
    >>> parse_range("n", "5:7")
    [5, 6, 7]
    """
    allowed = "a range start:stop:step of integers with start <= stop and step >= 1"
    match = _RANGE_PATTERN.match(text)
    if match is None:
        raise invalid(name, allowed, text)
    start, stop = int(match.group(1)), int(match.group(2))
    step = int(match.group(3)) if match.group(3) is not None else 1
    if start > stop or step < 1:
        raise invalid(name, allowed, text)
    count = (stop - start) // step + 1
    if count > MAX_ROWS:
        raise invalid(name, f"a range of at most {MAX_ROWS} values", text)
    return list(range(start, stop + 1, step))


def derived_value(rule: str, reference: int) -> int:
    """Compute a derived parameter from the swept value ``reference``.

    Examples
    --------
    >>> [derived_value("log2", n) for n in (4, 8, 16, 63, 64, 1000)]
    [2, 2, 4, 4, 6, 8]
    >>> [derived_value("log2-odd", n) for n in (4, 8, 16, 64, 128)]
    [3, 3, 3, 5, 7]
    """
    if reference < 1:
        raise invalid(f"{rule} reference", "a positive integer", reference)
    floor_log2 = reference.bit_length() - 1
    if rule == "log2":
        return max(2, 2 * (floor_log2 // 2))
    return max(3, floor_log2 if floor_log2 % 2 == 1 else floor_log2 - 1)


def parse_sweep(params: Mapping[str, str], *, size_parameter: str) -> SweepSpec:
    """Split ``key=value`` parameters into fixed, swept and derived ones.

    Parameters
    ----------
    params : mapping of str to str
        Parsed ``key=value`` tokens.
    size_parameter : str
        The family's size parameter, which derived values follow when no parameter
        is swept.

    Raises
    ------
    InvalidParameterError
        For more than one range, a bad range, or a derived value with nothing to
        follow.
    """
    fixed: dict[str, str] = {}
    derived: dict[str, str] = {}
    ranges: dict[str, list[int]] = {}
    for name, text in params.items():
        if text in DERIVED_VALUES:
            derived[name] = text
        elif ":" in text:
            ranges[name] = parse_range(name, text)
        else:
            fixed[name] = text
    if len(ranges) > 1:
        raise invalid(
            "parameter",
            "at most one swept parameter (start:stop:step)",
            ", ".join(f"{name}={params[name]}" for name in ranges),
        )
    swept = next(iter(ranges), None)
    values = ranges.get(swept, []) if swept is not None else []
    reference = swept if swept is not None else size_parameter
    if derived and swept is None and size_parameter not in fixed:
        name = next(iter(derived))
        raise invalid(
            name,
            f"a swept parameter or a value for {size_parameter} to follow",
            derived[name],
        )
    return SweepSpec(fixed, swept, values, derived, reference if derived else None)


# Rows -------------------------------------------------------------------------------


def bound_rows(
    family_name: str, sweep: SweepSpec, *, tolerance: float
) -> list[dict[str, Any]]:
    """Compute one bound row per parameter set of ``sweep``.

    Parameters
    ----------
    family_name : str
        A name in ``symhard.families.FAMILIES``.
    sweep : SweepSpec
    tolerance : float
        Query tolerance ``tau`` > 0.

    Returns
    -------
    list of dict
        Each row has ``params``, ``family_size`` (exact int), ``gamma``,
        ``gamma_method``, ``gamma_interval``, ``tolerance``, ``queries_lower_bound``
        (float, ``inf`` past the float range) and ``log10_queries_lower_bound``.
    """
    from symhard.families import make_family

    rows = []
    for params in sweep.row_parameters():
        family = make_family(family_name, {key: str(v) for key, v in params.items()})
        rows.append(bound_row(family, params, tolerance=tolerance))
        logger.debug("bound row %s", rows[-1])
    return rows


def bound_row(family: Any, params: Mapping[str, Any], *, tolerance: float) -> dict:
    """Compute the bound row of one family (a ``HardFamily``) at ``tolerance``."""
    info = family.bound_info(tolerance)
    interval = info.get("correlation_interval")
    return {
        "params": dict(params),
        "family_size": int(family.family_size),
        "gamma": float(info["max_abs_correlation"]),
        "gamma_method": info["correlation_method"],
        "gamma_interval": None if interval is None else [float(v) for v in interval],
        "tolerance": tolerance,
        "queries_lower_bound": float(info["csq_lower_bound"]),
        "log10_queries_lower_bound": float(info["log10_csq_lower_bound"]),
    }


def rows_to_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Make rows strict JSON: an infinite bound becomes None (its log10 stays)."""
    converted = []
    for row in rows:
        row = dict(row)
        for key in ("queries_lower_bound", "log10_queries_lower_bound"):
            if not math.isfinite(row[key]):
                row[key] = None
        converted.append(row)
    return converted


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Format rows as an aligned text table with the parameters in ``columns``."""
    header = [
        *columns,
        "family_size",
        "gamma",
        "gamma_method",
        "log10_queries_lower_bound",
        "queries_lower_bound",
    ]
    lines = [header]
    for row in rows:
        lines.append(
            [
                *(str(row["params"][name]) for name in columns),
                format_count(row["family_size"]),
                _format_gamma(row),
                row["gamma_method"],
                f"{row['log10_queries_lower_bound']:.3f}",
                format_count(row["queries_lower_bound"]),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in lines
    )


def _format_gamma(row: Mapping[str, Any]) -> str:
    if row["gamma_interval"] is None:
        return f"{row['gamma']:.3g}"
    low, high = row["gamma_interval"]
    return f"{row['gamma']:.3g} [{low:.3g}, {high:.3g}]"


# Figures ---------------------------------------------------------------------------


@dataclass
class BoundCurve:
    """One curve of a bound figure: ``log10 q`` against a size parameter.

    Attributes
    ----------
    label : str
        Legend text.
    size_parameter : str
        Name of the x-axis parameter of this curve (``n``, ``d``, ...).
    rows : list of dict
        Bound rows as made by :func:`bound_row`, in order of size.
    family : str, default=""
        Name of the family the rows belong to.
    linestyle : str, default="-"
        Matplotlib line style.
    """

    label: str
    size_parameter: str
    rows: list[dict[str, Any]]
    family: str = ""
    linestyle: str = "-"

    @property
    def sizes(self) -> list[int]:
        return [int(row["params"][self.size_parameter]) for row in self.rows]

    @property
    def log10_bounds(self) -> list[float]:
        return [row["log10_queries_lower_bound"] for row in self.rows]


def plot_bound_curves(
    curves: Sequence[BoundCurve],
    path_stem: str | Path,
    *,
    tolerance: float,
    title: str = "CSQ query lower bounds",
    note: str | None = None,
) -> list[Path]:
    """Draw ``log10`` of the query bound against size and save PNG and SVG.

    Parameters
    ----------
    curves : sequence of BoundCurve
    path_stem : str or Path
        Output path without suffix; parent folders are created.
    tolerance : float
        The tolerance of every curve, shown in the title.
    title : str, default="CSQ query lower bounds"
    note : str or None, default=None
        Text printed under the axes (what each curve keeps fixed, and how).

    Returns
    -------
    list of Path
        The PNG and the SVG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7.5, 5.0 if note is None else 6.0))
    for curve in curves:
        axes.plot(
            curve.sizes,
            curve.log10_bounds,
            marker="o",
            markersize=3,
            linestyle=curve.linestyle,
            label=curve.label,
        )
    axes.set_xscale("log", base=2)
    axes.set_xlabel("size parameter (n or d; log scale)")
    axes.set_ylabel("log10 of the query lower bound (exact m, gamma)")
    axes.set_title(f"{title}, tolerance {tolerance:g}")
    axes.axhline(0.0, color="grey", linewidth=0.8, linestyle=":")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    if note is not None:
        figure.text(0.01, 0.01, note, fontsize=7, va="bottom", wrap=True)
        figure.tight_layout(rect=(0, 0.12, 1, 1))
    else:
        figure.tight_layout()
    paths = save_figure_files(figure, path_stem, dpi=120)
    plt.close(figure)
    return paths


# The standard picture ------------------------------------------------------------

# Sizes of the standard curves per profile. Degree-parity's gamma is a Monte Carlo
# estimate whose cost grows like n^2 per sampled graph, so its sizes stay small.
_PARITY_SIZES = {
    "quick": [2**e for e in range(3, 17)],
    "paper": [2**e for e in range(3, 21)],
}
_DEGREE_PARITY_SIZES = {
    "quick": [32, 64, 128, 256],
    "paper": [32, 64, 128, 256, 384, 512],
}
# Subspace-relu: dimensions d, and the most planes M tried per d. Certifying gamma
# costs about M^2 (2m)^2 kernel evaluations, which the cap keeps to seconds.
_SUBSPACE_SIZES = {
    "quick": [8, 16, 32, 64, 128],
    "paper": [8, 16, 32, 64, 128, 256, 512],
}
_SUBSPACE_MAX_PLANES = {"quick": 512, "paper": 4096}
# The ceiling (m-2) tau^2 needs only the window, which is cheap at any size.
_DEGREE_PARITY_CEILING_SIZES = {
    "quick": [32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024],
    "paper": [32, 64, 128, 256, 512, 1024, 2048],
}
_DEGREE_PARITY_SAMPLES = {"quick": 4000, "paper": 50000}

STANDARD_NOTE = (
    "Each point uses the exact family size m and gamma as the family certifies it "
    "(exact, or the upper end of a 95% Monte Carlo interval): "
    "q >= (m-2) tau^2 / (1 + (m-1) gamma). A polynomial bound is a straight line "
    "on these axes. Once (m-1) gamma >> 1 the bound stays near tau^2 / gamma, so a "
    "Monte Carlo gamma caps it. The dashed degree-parity line is (m-2) tau^2, the "
    "bound if gamma were 0, which no sample certifies. Subspace-relu's size M is "
    "free: each point uses the M (listed in the rows) with the largest certified "
    "bound, near tau^2 / gamma with gamma about d^(-m/2)."
)


def _family_curve(
    family_name: str,
    label: str,
    sizes: Sequence[int],
    params: Callable[[int], dict[str, Any]],
    *,
    tolerance: float,
) -> BoundCurve:
    from symhard.families import make_family

    rows = []
    for size in sizes:
        values = params(size)
        family = make_family(family_name, {k: str(v) for k, v in values.items()})
        rows.append(bound_row(family, values, tolerance=tolerance))
    return BoundCurve(label, "n", rows, family=family_name)


def _parity_relu_curves(tolerance: float, profile: str) -> list[BoundCurve]:
    sizes = _PARITY_SIZES[profile]
    growing = _family_curve(
        "parity-relu",
        "parity-relu, cyclic, k = log2 n rounded down to even: n^Theta(log n)",
        sizes,
        lambda n: {"n": n, "k": derived_value("log2", n), "group": "cyclic"},
        tolerance=tolerance,
    )
    fixed = _family_curve(
        "parity-relu",
        "parity-relu, cyclic, k = 4: polynomial, about n^3 / 24",
        sizes,
        lambda n: {"n": n, "k": 4, "group": "cyclic"},
        tolerance=tolerance,
    )
    return [growing, fixed]


def _invariant_monomial_curves(tolerance: float, profile: str) -> list[BoundCurve]:
    curve = _family_curve(
        "invariant-monomial",
        "invariant-monomial, cyclic, k = 3: polynomial, about n^2 / 6",
        _PARITY_SIZES[profile],
        lambda n: {"n": n, "k": 3, "group": "cyclic"},
        tolerance=tolerance,
    )
    return [curve]


def _degree_parity_curves(tolerance: float, profile: str) -> list[BoundCurve]:
    samples = _DEGREE_PARITY_SAMPLES[profile]
    certified = _family_curve(
        "degree-parity",
        f"degree-parity, lambda_min = 4, gamma from {samples} sampled graphs",
        _DEGREE_PARITY_SIZES[profile],
        lambda n: {"n": n, "correlation_samples": samples},
        tolerance=tolerance,
    )
    ceiling = BoundCurve(
        "degree-parity, (m-2) tau^2: m = 2^|W| - 1 grows like exp(sqrt(n log n))",
        "n",
        [_ceiling_row(n, tolerance) for n in _DEGREE_PARITY_CEILING_SIZES[profile]],
        family="degree-parity",
        linestyle="--",
    )
    return [certified, ceiling]


def _subspace_relu_curves(tolerance: float, profile: str) -> list[BoundCurve]:
    # The family size M (planes) is free, and gamma grows with M because it is a
    # maximum over M^2 / 2 pairs. Once (M - 1) gamma >> 1 the bound stays near
    # tau^2 / gamma. For each d, the point is the M in d, 2d, 4d, ... (up to a
    # cap) with the largest certified bound.
    from symhard.families import make_family

    rows = []
    for d in _SUBSPACE_SIZES[profile]:
        candidates = []
        planes = d
        while planes <= _SUBSPACE_MAX_PLANES[profile]:
            values = {"d": d, "m": 4, "planes": planes}
            family = make_family(
                "subspace-relu", {k: str(v) for k, v in values.items()}
            )
            candidates.append(bound_row(family, values, tolerance=tolerance))
            planes *= 2
        rows.append(max(candidates, key=lambda row: row["log10_queries_lower_bound"]))
    label = (
        "subspace-relu, m = 4, best M in d, 2d, 4d, ... <= "
        f"{_SUBSPACE_MAX_PLANES[profile]} random planes: about tau^2 / gamma"
    )
    return [BoundCurve(label, "d", rows, family="subspace-relu")]


def _ceiling_row(n: int, tolerance: float) -> dict[str, Any]:
    """Return the degree-parity bound row at ``gamma = 0`` (no Monte Carlo run)."""
    from symhard.families import make_family

    family_size = make_family("degree-parity", {"n": str(n)}).family_size
    return {
        "params": {"n": n},
        "family_size": family_size,
        "gamma": 0.0,
        "gamma_method": "ceiling (gamma = 0, not certified)",
        "gamma_interval": None,
        "tolerance": tolerance,
        "queries_lower_bound": csq_query_lower_bound(family_size, 0.0, tolerance),
        "log10_queries_lower_bound": log10_csq_query_lower_bound(
            family_size, 0.0, tolerance
        ),
    }


# Curve builders of the standard figure, by family; each is called as
# builder(tolerance, profile). A family that is not registered is skipped.
STANDARD_CURVES: dict[str, Callable[[float, str], list[BoundCurve]]] = {
    "parity-relu": _parity_relu_curves,
    "invariant-monomial": _invariant_monomial_curves,
    "degree-parity": _degree_parity_curves,
    "subspace-relu": _subspace_relu_curves,
}


@dataclass
class BoundFigure:
    """The files and curves of :func:`bound_figure`."""

    paths: list[Path]
    curves: list[BoundCurve]


def standard_curves(*, tolerance: float, profile: str = "quick") -> list[BoundCurve]:
    """Compute the curves of the standard picture for every registered family.

    Families in ``STANDARD_CURVES`` that are not registered are skipped.
    """
    from symhard.families import FAMILIES

    curves = []
    for family_name, builder in STANDARD_CURVES.items():
        if family_name not in FAMILIES:
            logger.info("bound figure: family %s is not registered", family_name)
            continue
        curves.extend(builder(tolerance, profile))
    return curves


def bound_figure(
    path_stem: str | Path, *, tolerance: float, profile: str = "quick"
) -> BoundFigure:
    """Draw the standard picture of the CSQ bounds of all registered families.

    Parameters
    ----------
    path_stem : str or Path
        Output path without suffix; ``.png`` and ``.svg`` are written.
    tolerance : float
        Query tolerance ``tau`` > 0.
    profile : str, default="quick"
        ``"quick"`` (a few seconds) or ``"paper"`` (larger sizes, more samples for
        Monte Carlo correlations).

    Returns
    -------
    BoundFigure
        The two files and the computed curves.
    """
    tolerance = check_float("tolerance", tolerance, low=0.0, low_open=True)
    profile = check_choice("profile", profile, ("quick", "paper"))
    curves = standard_curves(tolerance=tolerance, profile=profile)
    paths = plot_bound_curves(
        curves, path_stem, tolerance=tolerance, note=STANDARD_NOTE
    )
    return BoundFigure(paths, curves)


# The command ------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bound`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "bound",
        help="CSQ query lower bounds of a family over a range of sizes",
        description=(
            "Print the CSQ query lower bound q >= (m-2) tau^2 / (1 + (m-1) gamma) "
            "of a family, one row per value of a swept parameter. Give one "
            "parameter as start:stop:step (stop included), e.g. n=8:64:8. "
            "k=log2 makes k the largest even integer at most log2 of the swept "
            "value (at least 2); k=log2-odd the largest odd one (at least 3)."
        ),
    )
    parser.add_argument("family", help="family name, e.g. parity-relu")
    parser.add_argument(
        "params", nargs="*", help="family parameters as key=value or key=a:b:step"
    )
    parser.add_argument(
        "--tolerance",
        type=str,
        required=True,
        help="query tolerance tau > 0 (the oracle's allowed error)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--out",
        default=None,
        help="folder for the figure (bound_FAMILY.png and .svg) and the rows as "
        "bound_FAMILY.json",
    )
    parser.set_defaults(handler=handle_bound)


def handle_bound(args: argparse.Namespace) -> int:
    """Run ``symhard bound``; returns the exit status."""
    from symhard.commands import parse_key_values
    from symhard.families import FAMILIES

    tolerance = check_float("--tolerance", args.tolerance, low=0.0, low_open=True)
    if args.family not in FAMILIES:
        raise invalid("family", "one of " + ", ".join(FAMILIES), args.family)
    family_class = FAMILIES[args.family]
    sweep = parse_sweep(
        parse_key_values(args.params), size_parameter=family_class.size_parameter
    )
    rows = bound_rows(args.family, sweep, tolerance=tolerance)
    result = {
        "family": args.family,
        "tolerance": tolerance,
        "swept": sweep.swept,
        "derived": sweep.derived,
        "rows": rows_to_json(rows),
    }
    size_parameter = sweep.swept or family_class.size_parameter
    if args.out is not None:
        files = _write_outputs(args, sweep, rows, result, size_parameter)
        result["files"] = [str(path) for path in files]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        columns = [size_parameter, *(n for n in sweep.derived if n != size_parameter)]
        fixed = ", ".join(f"{key}={value}" for key, value in sweep.fixed.items())
        print(
            f"family {args.family}"
            + (f" ({fixed})" if fixed else "")
            + f", tolerance {tolerance:g}, bound q >= (m-2) tau^2 / (1 + (m-1) gamma)"
        )
        print(
            "family_size is exact (rounded as 'about' past 12 digits; --json "
            "prints every digit); gamma_method says how gamma was obtained"
        )
        print(
            format_table(rows, [name for name in columns if name in rows[0]["params"]])
        )
        for path in result.get("files", []):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _write_outputs(
    args: argparse.Namespace,
    sweep: SweepSpec,
    rows: list[dict[str, Any]],
    result: dict[str, Any],
    size_parameter: str,
) -> list[Path]:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidParameterError(
            f"invalid value for '--out': could not create folder {str(out)!r} ({error})"
        ) from None
    fixed = ", ".join(f"{key}={value}" for key, value in sweep.fixed.items())
    derived = ", ".join(f"{key}={rule}" for key, rule in sweep.derived.items())
    label = ", ".join(part for part in (args.family, fixed, derived) if part)
    curve = BoundCurve(label, size_parameter, rows, family=args.family)
    stem = out / f"bound_{args.family}"
    paths = plot_bound_curves([curve], stem, tolerance=result["tolerance"])
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    return [*paths, json_path]
