"""Tests for the generic commands: one-line errors for huge sizes and bad inputs."""

from __future__ import annotations

import itertools
import json
import math
import zipfile

import numpy as np
import pytest

from symhard import commands
from symhard.cli import main
from symhard.families import base, make_family


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def error_line(err: str) -> str:
    """Return the only line of ``err``, failing on a traceback or several lines."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symhard: error: "), err
    return lines[0]


# Sizes too large to compute -----------------------------------------------------


def test_info_parity_relu_huge_k_rejected(capsys):
    status, out, err = run_cli(capsys, "info", "parity-relu", "n=60", "k=30")
    line = error_line(err)
    assert status == 2
    assert out == ""
    assert "'k'" in line
    assert "k=30" in line
    assert "use k <= 22" in line


def test_info_subspace_many_planes_rejected(capsys):
    status, _, err = run_cli(
        capsys, "info", "subspace-relu", "d=8", "m=2", "planes=100000"
    )
    line = error_line(err)
    assert status == 2
    assert "'planes'" in line
    assert "100000 planes" in line
    assert "max_kernel_evaluations=1000000000" in line


def test_info_degree_parity_huge_n_rejected(capsys):
    status, _, err = run_cli(capsys, "info", "degree-parity", "n=100000")
    line = error_line(err)
    assert status == 2
    assert "invalid value for 'n'" in line
    assert "n=100000" in line
    # 100,000 graphs of n^2 bits each within 3e10 bits: n <= isqrt(3e5).
    assert f"n <= {math.isqrt(300_000)}" in line


def test_sample_huge_num_rejected(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 2**30)
    out_path = tmp_path / "x.npz"
    status, _, err = run_cli(
        capsys,
        "sample",
        "parity-relu",
        "n=12",
        "k=4",
        "--num",
        "100000000000",
        "--out",
        str(out_path),
    )
    line = error_line(err)
    assert status == 2
    assert "invalid value for '--num'" in line
    assert "100000000000 samples" in line
    assert "limit of 1 GiB" in line
    assert not out_path.exists()


def test_sample_num_limit_suggestion_fits(capsys, tmp_path, monkeypatch):
    # x (num, 12) and y in float64, plus one more copy of y: 8 * (12 + 2) bytes.
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 8 * 14 * 100 + 5)
    status, _, err = run_cli(
        capsys,
        "sample",
        "parity-relu",
        "n=12",
        "k=4",
        "--num",
        "101",
        "--out",
        str(tmp_path / "x.npz"),
    )
    line = error_line(err)
    assert status == 2
    assert "use at most 100 samples" in line


def test_sample_num_within_limit_written(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(base, "memory_limit_bytes", lambda: 8 * 14 * 100)
    out_path = tmp_path / "x.npz"
    status, _, _ = run_cli(
        capsys,
        "sample",
        "parity-relu",
        "n=12",
        "k=4",
        "--num",
        "100",
        "--out",
        str(out_path),
    )
    assert status == 0
    with np.load(out_path) as data:
        assert data["x"].shape == (100, 12)


def test_groups_orbits_huge_n_rejected(capsys):
    status, _, err = run_cli(
        capsys, "groups", "orbits", "group=cyclic", "n=1000000000000", "k=2"
    )
    line = error_line(err)
    assert status == 2
    assert "invalid value for 'n'" in line
    assert "1000000000000" in line


def test_groups_orbits_huge_order_printed(capsys):
    status, out, err = run_cli(
        capsys, "groups", "orbits", "group=symmetric", "n=5000", "k=3", "--json"
    )
    data = json.loads(out)
    # log10(5000!) from the log-gamma function, independent of the big integer.
    log10_order = math.lgamma(5001) / math.log(10)
    exponent = math.floor(log10_order)
    mantissa = 10 ** (log10_order - exponent)
    text, _, rest = data["order"].partition("e+")
    assert status == 0
    assert err == ""
    assert data["orbits"] == 1
    assert rest == f"{exponent} ({exponent + 1} digits, rounded)"
    assert float(text) == pytest.approx(mantissa, rel=1e-5)


def test_groups_orbits_n_from_shape(capsys):
    status, out, _ = run_cli(
        capsys, "groups", "orbits", "group=torus", "shape=3x4", "k=2", "--json"
    )
    data = json.loads(out)
    assert status == 0
    assert data["n"] == 12


# Missing values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["info", "subspace-relu", "planes=10"],
            "missing value for 'd': expected an integer >= 2",
        ),
        (
            ["info", "parity-relu", "n=12"],
            "missing value for 'k': expected an integer in [1, n=12]",
        ),
        (
            ["info", "invariant-monomial", "k=2"],
            "missing value for 'n': expected an integer >= 1",
        ),
        (
            ["info", "degree-parity"],
            "missing value for 'n': expected an integer >= 25",
        ),
        (
            ["groups", "orbits", "n=6", "k=2"],
            "missing value for 'group': expected one of trivial, cyclic, dihedral, "
            "torus, symmetric, generated",
        ),
    ],
)
def test_missing_value_reads_missing(capsys, argv, expected):
    status, _, err = run_cli(capsys, *argv)
    line = error_line(err)
    assert status == 2
    assert line == f"symhard: error: {expected}"


# Plain values in messages ----------------------------------------------------------


def adjacency_file(tmp_path, adj: np.ndarray) -> str:
    path = tmp_path / "graphs.npz"
    np.savez(path, adj=adj)
    return str(path)


@pytest.mark.parametrize(
    ("entries", "ending"),
    [
        ([(1, 3, 4, 2), (1, 4, 3, 2)], "expected entries 0 or 1, got adj[1, 3, 4] = 2"),
        ([(0, 5, 6, 1)], "got adj[0, 5, 6] = 1 but adj[0, 6, 5] = 0"),
    ],
    ids=["entry-2", "asymmetric"],
)
def test_evaluate_bad_adjacency_plain(capsys, tmp_path, entries, ending):
    adj = np.zeros((2, 30, 30), dtype=np.uint8)
    for graph, row, column, value in entries:
        adj[graph, row, column] = value
    status, _, err = run_cli(
        capsys,
        "evaluate",
        "degree-parity",
        "n=30",
        "--input",
        adjacency_file(tmp_path, adj),
        "--out",
        str(tmp_path / "y.npz"),
    )
    line = error_line(err)
    assert status == 2
    assert line.endswith(ending)


# Output files ------------------------------------------------------------------------


def test_save_npz_round_trip(tmp_path):
    arrays = {"x": np.arange(12.0).reshape(3, 4), "y": np.array([1, -1, 1])}
    path = tmp_path / "a.npz"
    commands.save_npz(path, arrays)
    with np.load(path) as data:
        np.testing.assert_array_equal(data["x"], arrays["x"])
        np.testing.assert_array_equal(data["y"], arrays["y"])


def test_save_npz_same_bytes_twice(tmp_path):
    arrays = {"x": np.arange(6.0), "meta": np.array("{}")}
    commands.save_npz(tmp_path / "a.npz", arrays)
    commands.save_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_save_npz_fixed_timestamp(tmp_path):
    commands.save_npz(tmp_path / "a.npz", {"x": np.zeros(2)})
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert archive.getinfo("x.npy").date_time == (1980, 1, 1, 0, 0, 0)


# Groups given by generators -----------------------------------------------------

# Two 4-cycles on the halves of 8 points: a group of order 16, not transitive.
TWO_CYCLES = "1,2,3,0,4,5,6,7/0,1,2,3,5,6,7,4"


def brute_force_orbits(generators: list[list[int]], k: int) -> int:
    """Count orbits of k-subsets by closing each subset under the generators."""
    n = len(generators[0])
    seen: set[tuple[int, ...]] = set()
    orbits = 0
    for subset in itertools.combinations(range(n), k):
        if subset in seen:
            continue
        orbits += 1
        frontier = [subset]
        seen.add(subset)
        while frontier:
            current = frontier.pop()
            for perm in generators:
                image = tuple(sorted(perm[i] for i in current))
                if image not in seen:
                    seen.add(image)
                    frontier.append(image)
    return orbits


def test_groups_orbits_generated_from_string(capsys):
    status, out, _ = run_cli(
        capsys,
        "groups",
        "orbits",
        "group=generated",
        f"generators={TWO_CYCLES}",
        "k=3",
        "--json",
    )
    data = json.loads(out)
    rows = [[int(i) for i in row.split(",")] for row in TWO_CYCLES.split("/")]
    assert status == 0
    assert data["n"] == 8
    assert data["order"] == 16
    assert data["orbits"] == brute_force_orbits(rows, 3)


def test_groups_orbits_generated_needs_generators(capsys):
    status, _, err = run_cli(capsys, "groups", "orbits", "group=generated", "k=1")
    assert status == 2
    assert "missing value for 'generators'" in error_line(err)


@pytest.mark.parametrize(
    ("generators", "message"),
    [
        ("1,2,x", "images separated by commas"),
        ("1,2,3,0/0,1,2", "permutation of range(4)"),
        ("1,1,0", "permutation of range(3)"),
    ],
)
def test_generators_bad_string_is_error(capsys, generators, message):
    status, _, err = run_cli(
        capsys,
        "groups",
        "orbits",
        "group=generated",
        f"generators={generators}",
        "k=1",
    )
    line = error_line(err)
    assert status == 2
    assert "'generators'" in line
    assert message in line


def test_info_params_rebuild_generated_group(capsys):
    status, out, _ = run_cli(
        capsys,
        "info",
        "invariant-monomial",
        "n=8",
        "k=3",
        "group=generated",
        f"generators={TWO_CYCLES}",
        "--json",
    )
    data = json.loads(out)
    rebuilt = make_family("invariant-monomial", data["params"])
    assert status == 0
    assert data["params"]["generators"] == TWO_CYCLES
    assert rebuilt.group.order == 16
    assert rebuilt.family_size == data["family_size"]


def test_sq_learn_generated_group_exact(capsys):
    status, out, _ = run_cli(
        capsys,
        "sq-learn",
        "invariant-monomial",
        "n=8",
        "k=3",
        "group=generated",
        f"generators={TWO_CYCLES}",
        "member=0,1,5",
        "--oracle",
        "exact",
        "--json",
    )
    data = json.loads(out)
    assert status == 0
    assert data["exact"] is True
    assert data["recovered"] == data["true"]
