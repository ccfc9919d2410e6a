"""Tests of ``symhard bound`` and the bound figures, run in-process."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import pytest

from symhard import bound_commands
from symhard._validation import InvalidParameterError
from symhard.bound_commands import (
    bound_figure,
    derived_value,
    parse_range,
    parse_sweep,
)
from symhard.cli import main


def _necklaces(n: int, k: int) -> int:
    """Count orbits of k-subsets under C_n with the closed form over divisors."""
    total = 0
    for t in range(1, math.gcd(n, k) + 1):
        if n % t == 0 and k % t == 0:
            totient = sum(1 for j in range(1, t + 1) if math.gcd(j, t) == 1)
            total += totient * math.comb(n // t, k // t)
    return total // n


def _necklaces_brute_force(n: int, k: int) -> int:
    seen = set()
    for subset in itertools.combinations(range(n), k):
        seen.add(min(tuple(sorted((i + r) % n for i in subset)) for r in range(n)))
    return len(seen)


def _bound(family_size: int, gamma: float, tolerance: float) -> float:
    tau, g = Fraction(str(tolerance)), Fraction(str(gamma))
    return float(max(0, family_size - 2) * tau**2 / (1 + (family_size - 1) * g))


def _run_json(capsys, *argv: str) -> dict:
    status = main(["bound", *argv, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


# Rows ------------------------------------------------------------------------------


def test_bound_command_sweep_rows(capsys):
    result = _run_json(capsys, "parity-relu", "n=8:16:4", "k=2", "--tolerance", "0.1")

    rows = result["rows"]
    assert [row["params"]["n"] for row in rows] == [8, 12, 16]
    for row in rows:
        n = row["params"]["n"]
        assert row["family_size"] == _necklaces_brute_force(n, 2)
        assert row["gamma"] == 0.0
        assert row["gamma_method"] == "exact"
        assert row["queries_lower_bound"] == _bound(row["family_size"], 0.0, 0.1)


def test_bound_command_log10_column(capsys):
    result = _run_json(
        capsys, "parity-relu", "n=16:32:16", "k=4", "--tolerance", "0.01"
    )

    for row in result["rows"]:
        expected = math.log10(_bound(row["family_size"], 0.0, 0.01))
        assert row["log10_queries_lower_bound"] == pytest.approx(expected, rel=1e-12)


def test_bound_command_log2_follows_sweep(capsys):
    result = _run_json(
        capsys, "parity-relu", "n=8:64:8", "k=log2", "--tolerance", "0.01"
    )

    for row in result["rows"]:
        n = row["params"]["n"]
        largest_even = 2 * math.floor(math.log2(n) / 2)
        assert row["params"]["k"] == max(2, largest_even)
    assert result["derived"] == {"k": "log2"}


def test_bound_command_huge_size_exact_int(capsys):
    result = _run_json(capsys, "parity-relu", "n=1024", "k=log2", "--tolerance", "0.01")

    row = result["rows"][0]
    assert row["params"]["k"] == 10
    assert isinstance(row["family_size"], int)
    assert row["family_size"] == _necklaces(1024, 10)
    assert row["family_size"] > 2**64


def test_bound_command_monte_carlo_family(capsys):
    result = _run_json(
        capsys,
        "degree-parity",
        "n=30:40:10",
        "correlation_samples=2000",
        "--tolerance",
        "0.05",
    )

    for row in result["rows"]:
        low, high = row["gamma_interval"]
        assert row["gamma_method"] == "monte-carlo"
        assert low <= row["gamma"] <= high
        assert (row["family_size"] + 1).bit_count() == 1
        assert row["queries_lower_bound"] == pytest.approx(
            _bound(row["family_size"], row["gamma"], 0.05), rel=1e-12
        )


def test_bound_command_text_table(capsys):
    status = main(["bound", "parity-relu", "n=8:12:4", "k=2", "--tolerance", "0.1"])
    lines = capsys.readouterr().out.splitlines()

    assert status == 0
    assert lines[0].startswith("family parity-relu (k=2), tolerance 0.1, bound")
    assert lines[2].split()[:2] == ["n", "family_size"]
    assert lines[3].split()[:3] == ["8", "4", "0"]
    assert lines[4].split()[:2] == ["12", str(_necklaces(12, 2))]


def test_bound_command_writes_figure(capsys, tmp_path):
    status = main(
        [
            "bound",
            "parity-relu",
            "n=8:16:8",
            "k=2",
            "--tolerance",
            "0.1",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    capsys.readouterr()

    stem = tmp_path / "out" / "bound_parity-relu"
    assert status == 0
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in stem.with_suffix(".svg").read_bytes()[:500]
    saved = json.loads(stem.with_suffix(".json").read_text())
    assert [row["family_size"] for row in saved["rows"]] == [4, _necklaces(16, 2)]


# Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope", "n=8"], "invalid value for 'family': expected one of parity-relu"),
        (["parity-relu", "n=8:4", "k=2"], "invalid value for 'n': expected a range"),
        (["parity-relu", "n=8:16:0", "k=2"], "invalid value for 'n': expected a range"),
        (["parity-relu", "n=a:9", "k=2"], "invalid value for 'n': expected a range"),
        (
            ["parity-relu", "n=8:16", "k=2:4"],
            "invalid value for 'parameter': expected at most one swept parameter",
        ),
        (["parity-relu", "k=log2"], "invalid value for 'k': expected a swept"),
        (["parity-relu", "n=8", "k=3"], "invalid value for 'k'"),
    ],
)
def test_bound_command_rejects_bad_input(capsys, argv, message):
    status = main(["bound", *argv, "--tolerance", "0.1"])
    captured = capsys.readouterr()

    assert status == 2
    assert captured.err.startswith(f"symhard: error: {message}")
    assert captured.err.count("\n") == 1
    assert captured.out == ""


@pytest.mark.parametrize("tolerance", ["0", "-0.5", "abc"])
def test_bound_command_rejects_tolerance(capsys, tolerance):
    status = main(["bound", "parity-relu", "n=8", "k=2", "--tolerance", tolerance])
    captured = capsys.readouterr()

    assert status == 2
    assert captured.err == (
        "symhard: error: invalid value for '--tolerance': expected a number > 0, "
        f"got {tolerance!r}\n"
    )


def test_unknown_family_lists_registered(capsys):
    from symhard.families import FAMILIES

    main(["bound", "nope", "--tolerance", "0.1"])
    error = capsys.readouterr().err

    for name in FAMILIES:
        assert name in error


# Parsing helpers --------------------------------------------------------------------


def test_parse_range_inclusive_stop():
    assert parse_range("n", "8:64:8") == list(range(8, 65, 8))
    assert parse_range("n", "5:5") == [5]
    assert parse_range("n", "3:10:4") == [3, 7]


def test_parse_range_limits_rows():
    with pytest.raises(InvalidParameterError, match="'n': expected a range of at most"):
        parse_range("n", "1:100000")


def test_derived_value_even_and_odd():
    for reference in range(1, 5000):
        even = derived_value("log2", reference)
        odd = derived_value("log2-odd", reference)
        assert even % 2 == 0
        assert odd % 2 == 1
        assert even == 2 or 2**even <= reference < 2 ** (even + 2)
        assert odd == 3 or 2**odd <= reference < 2 ** (odd + 2)


def test_parse_sweep_size_parameter_reference():
    sweep = parse_sweep({"n": "64", "k": "log2"}, size_parameter="n")

    assert sweep.swept is None
    assert sweep.row_parameters() == [{"n": 64, "k": 6}]


# The standard figure -----------------------------------------------------------------


@pytest.fixture(scope="module")
def small_figure(tmp_path_factory):
    """Draw the standard figure once with small sizes (drawing dominates)."""
    stem = tmp_path_factory.mktemp("figure") / "bounds"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(bound_commands._PARITY_SIZES, "quick", [8, 16, 32, 64])
        patch.setitem(bound_commands._DEGREE_PARITY_SIZES, "quick", [32])
        patch.setitem(bound_commands._DEGREE_PARITY_SAMPLES, "quick", 500)
        patch.setitem(
            bound_commands._DEGREE_PARITY_CEILING_SIZES, "quick", [32, 64, 128]
        )
        patch.setitem(bound_commands._SUBSPACE_SIZES, "quick", [8, 16])
        patch.setitem(bound_commands._SUBSPACE_MAX_PLANES, "quick", 64)
        return bound_figure(stem, tolerance=0.1)


def test_bound_figure_curves_and_files(small_figure):
    from symhard.families import FAMILIES

    families = {curve.family for curve in small_figure.curves}

    assert [path.suffix for path in small_figure.paths] == [".png", ".svg"]
    assert all(path.stat().st_size > 0 for path in small_figure.paths)
    assert families == set(bound_commands.STANDARD_CURVES) & set(FAMILIES)


def test_bound_figure_parity_curve_values(small_figure):
    growing = small_figure.curves[0]

    assert growing.sizes == [8, 16, 32, 64]
    assert [row["params"]["k"] for row in growing.rows] == [2, 4, 4, 6]
    for row in growing.rows:
        n, k = row["params"]["n"], row["params"]["k"]
        assert row["family_size"] == _necklaces(n, k)


def test_bound_figure_degree_parity_ceiling(small_figure):
    ceiling = next(curve for curve in small_figure.curves if curve.linestyle == "--")

    assert ceiling.sizes == [32, 64, 128]
    for row in ceiling.rows:
        assert row["gamma"] == 0.0
        assert row["queries_lower_bound"] == _bound(row["family_size"], 0.0, 0.1)


def test_bound_figure_subspace_best_planes(small_figure):
    from symhard.families import make_family

    curve = next(c for c in small_figure.curves if c.family == "subspace-relu")

    assert curve.sizes == [8, 16]
    for row in curve.rows:
        d = row["params"]["d"]
        candidates = []
        for planes in (d, 2 * d, 4 * d, 8 * d):
            if planes > 64:
                break
            family = make_family("subspace-relu", {"d": d, "planes": planes})
            gamma = family.correlation().gamma
            candidates.append(_bound(planes, gamma, 0.1))
        assert row["queries_lower_bound"] == pytest.approx(max(candidates), rel=1e-12)
        assert row["family_size"] == row["params"]["planes"]


def test_bound_figure_rejects_profile(tmp_path):
    with pytest.raises(InvalidParameterError, match="'profile': expected one of"):
        bound_figure(tmp_path / "bounds", tolerance=0.1, profile="huge")
