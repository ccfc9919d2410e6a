"""Tests for the SQ learner on invariant-monomial and its sq-learn command."""

from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import pytest

from symhard._validation import InvalidParameterError
from symhard.cli import main
from symhard.families.invariant_monomial import InvariantMonomial
from symhard.groups import cyclic, generated
from symhard.oracles import (
    OracleAnswer,
    StatisticalQueryOracle,
    clipped_square_moments,
    make_oracle,
)
from symhard.separation import (
    fit_recovery_curve,
    fit_sample_growth,
    orbit_crossover,
    plot_separation,
    run_separation,
    separation_findings,
    separation_markdown,
    sq_sample_search,
)
from symhard.sq_learner import learn_orbit, possible_queries, sq_learn

# Two 4-cycles on disjoint halves of 8 points: not transitive.
TWO_CYCLES = [[1, 2, 3, 0, 4, 5, 6, 7], [0, 1, 2, 3, 5, 6, 7, 4]]
# A 5-cycle on points 0..4 that fixes 5, 6 and 7.
FIVE_CYCLE = [[1, 2, 3, 4, 0, 5, 6, 7]]


class ZeroOracle(StatisticalQueryOracle):
    """An exact-looking SQ oracle that answers 0 to everything."""

    kind = "sq"

    def answer(self, phi):
        self.queries += 1
        return OracleAnswer(0.0, 0.0, "exact", True)


EXACT_CASES = [
    pytest.param("cyclic", 12, (0, 2, 7), id="cyclic-12-3"),
    pytest.param("cyclic", 10, (0, 1, 3, 6), id="cyclic-10-4"),
    pytest.param("dihedral", 9, (0, 1, 5), id="dihedral-9-3"),
    pytest.param("dihedral", 8, (0, 2), id="dihedral-8-2"),
    pytest.param(generated(TWO_CYCLES), 8, (0, 1, 5), id="two-cycles-8-3"),
    pytest.param(generated(TWO_CYCLES), 8, (4, 5, 6, 7), id="two-cycles-fixed-set"),
    pytest.param(generated(FIVE_CYCLE), 8, (5, 6, 7), id="five-cycle-outside"),
    pytest.param(generated(FIVE_CYCLE), 8, (1, 6), id="five-cycle-mixed"),
    pytest.param("trivial", 7, (2, 4, 6), id="trivial-7-3"),
    pytest.param("cyclic", 6, (4,), id="cyclic-6-1"),
]


@pytest.mark.parametrize(("group", "n", "subset"), EXACT_CASES)
@pytest.mark.parametrize("clip", [2.0, None])
def test_learn_exact_oracle_recovers_orbit(group, n, subset, clip):
    family = InvariantMonomial(n, len(subset), group=group)
    result = sq_learn(family, subset, oracle="exact", clip=clip)
    assert result.recovered == family.group.canonical(subset)
    assert result.exact
    assert result.guaranteed
    assert result.samples == 0
    assert result.queries <= len(subset) * n


def test_learn_exact_oracle_every_member():
    family = InvariantMonomial(8, 3, group=generated(TWO_CYCLES))
    for index in range(family.family_size):
        result = sq_learn(family, index, oracle="exact")
        assert result.recovered == family.member_subset(index)


def test_learn_query_count_per_step():
    # Step t scans the n - (t - 1) coordinates outside T.
    result = sq_learn(InvariantMonomial(12, 3), (0, 2, 7), oracle="exact")
    assert result.queries == 12 + 11 + 10


def test_learn_thresholds_use_orbit_bound():
    family = InvariantMonomial(9, 3, group="dihedral")
    result = sq_learn(family, (0, 1, 5), oracle="exact")
    bound = min(18, math.comb(9, 3))
    factor = clipped_square_moments(2.0)[1]
    thresholds = [level["threshold"] for level in result.levels]
    assert thresholds[0] == pytest.approx(factor / (2 * bound))
    assert thresholds[1] == pytest.approx(factor**2 / (2 * bound))
    assert thresholds[2] == pytest.approx(1 / (2 * math.sqrt(bound)))


def test_learn_empirical_check_case():
    family = InvariantMonomial(12, 3, group="cyclic")
    result = sq_learn(family, (0, 2, 7), n_samples=400_000, seed=0)
    assert result.recovered == (0, 2, 7)
    assert result.exact
    assert result.guaranteed
    assert result.samples == 400_000
    assert result.samples_needed < 400_000


@pytest.mark.parametrize(
    ("group", "subset", "n_samples"),
    [
        pytest.param("dihedral", (0, 1, 5), 1_000_000, id="dihedral"),
        pytest.param(generated(TWO_CYCLES), (1, 2, 6), 1_500_000, id="two-cycles"),
    ],
)
def test_learn_empirical_other_groups(group, subset, n_samples):
    family = InvariantMonomial(8, 3, group=group)
    result = sq_learn(family, subset, n_samples=n_samples, seed=1)
    assert result.exact
    assert result.guaranteed


def test_learn_fresh_samples_per_step():
    family = InvariantMonomial(8, 2)
    result = sq_learn(family, (0, 3), n_samples=20_000, fresh=True, seed=0)
    assert result.samples == 2 * 20_000
    assert result.exact


def test_learn_too_few_samples_warns():
    family = InvariantMonomial(24, 4)
    with pytest.warns(UserWarning, match="samples would be needed") as record:
        result = sq_learn(family, (0, 1, 5, 11), n_samples=40, seed=3)
    assert not result.exact
    assert not result.guaranteed
    assert result.samples_needed > 40
    numbers = re.findall(r"about (\d+) samples", str(record[0].message))
    assert int(numbers[0]) == result.samples_needed


def test_learn_samples_needed_scales_tolerances():
    family = InvariantMonomial(10, 3)
    result = sq_learn(family, (0, 1, 4), n_samples=50_000, seed=2, warn=False)
    ratio = max(level["max_tolerance"] / level["threshold"] for level in result.levels)
    assert result.samples_needed == math.floor(50_000 * ratio**2) + 1


def test_learn_orbit_without_candidates_returns_none():
    with pytest.warns(UserWarning, match="not an invariant monomial"):
        result = learn_orbit(ZeroOracle(), InvariantMonomial(6, 2).group, 2)
    assert result.recovered is None
    assert not result.guaranteed
    assert not result.exact
    assert result.queries == 6
    assert result.levels[0]["subset"] is None


def test_learn_two_samples_not_guaranteed():
    family = InvariantMonomial(8, 3)
    with pytest.warns(UserWarning, match="at least 30 are needed"):
        result = sq_learn(family, (0, 1, 5), n_samples=2, seed=1)
    assert not result.guaranteed
    assert result.samples_needed is None
    assert all(level["max_tolerance"] == math.inf for level in result.levels)


def test_learn_orbit_rejects_csq_oracle():
    family = InvariantMonomial(6, 2)
    oracle = make_oracle(family, 0, kind="csq")
    with pytest.raises(InvalidParameterError, match="an SQ oracle"):
        learn_orbit(oracle, family.group, 2)


def test_sq_learn_requires_samples_for_empirical():
    with pytest.raises(InvalidParameterError, match="'n_samples'.*got None"):
        sq_learn(InvariantMonomial(6, 2), 0)


def test_sq_learn_rejects_unknown_oracle():
    with pytest.raises(InvalidParameterError, match="'oracle': expected one of"):
        sq_learn(InvariantMonomial(6, 2), 0, oracle="adversarial")


def test_possible_queries_counts_distinct_sets():
    n, k = 7, 3
    sets = {
        frozenset(subset)
        for size in range(1, k + 1)
        for subset in itertools.combinations(range(n), size)
    }
    assert possible_queries(n, k) == len(sets)


def test_result_to_dict_is_json_ready():
    result = sq_learn(InvariantMonomial(8, 2), (0, 3), oracle="exact")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["recovered"] == [0, 3]
    assert data["true"] == [0, 3]


# Command line ------------------------------------------------------------------


def test_command_prints_json(capsys):
    status = main(
        [
            "sq-learn",
            "invariant-monomial",
            "n=10",
            "k=3",
            "member=0,2,5",
            "--oracle",
            "exact",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert status == 0
    for key in ("recovered", "true", "exact", "queries", "samples"):
        assert key in data
    assert data["recovered"] == [0, 2, 5]
    assert data["exact"] is True


def test_command_prints_text_lines(capsys):
    status = main(
        [
            "sq-learn",
            "invariant-monomial",
            "n=8",
            "k=2",
            "member=1",
            "--samples",
            "20000",
            "--seed",
            "0",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    keys = [line.split()[0] for line in lines]
    assert status == 0
    assert keys[:5] == ["recovered", "true", "exact", "queries", "samples"]


def test_command_missing_samples_is_one_line_error(capsys):
    status = main(["sq-learn", "invariant-monomial", "n=8", "k=2"])
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(error) == 1
    assert error[0].startswith("symhard: error: missing value for '--samples'")


def test_command_bad_confidence_is_error(capsys):
    status = main(
        [
            "sq-learn",
            "invariant-monomial",
            "n=8",
            "k=2",
            "--oracle",
            "exact",
            "--confidence",
            "1",
        ]
    )
    assert status == 2
    assert "'--confidence': expected a number in (0, 1)" in capsys.readouterr().err


def test_command_warning_printed_to_stderr(capsys):
    status = main(
        [
            "sq-learn",
            "invariant-monomial",
            "n=12",
            "k=3",
            "--samples",
            "100",
            "--seed",
            "0",
        ]
    )
    error = capsys.readouterr().err
    assert status == 0
    assert error.startswith("symhard: warning: SQ learner: with 100 samples")


def test_possible_queries_rejects_k_above_n():
    with pytest.raises(InvalidParameterError, match="'k'"):
        possible_queries(3, 4)


def test_learn_exact_random_dihedral_members():
    family = InvariantMonomial(10, 3, group="dihedral")
    rng = np.random.default_rng(5)
    for _ in range(5):
        member = family.random_member(rng)
        assert sq_learn(family, member, oracle="exact").recovered == member


# Separation experiment ---------------------------------------------------------


def test_sample_search_stops_at_consecutive_successes():
    family = InvariantMonomial(8, 2)
    search = sq_sample_search(
        family, runs=4, min_log2_samples=8, max_log2_samples=16, seed=0
    )
    sizes = sorted(int(size) for size in search["grid"])
    required = math.ceil(0.9 * 4)
    assert search["samples"] == sizes[-2]
    assert search["grid"][sizes[-1]] >= required
    assert search["grid"][sizes[-2]] >= required


def test_separation_rows_and_figure(tmp_path):
    settings = {
        "runs": 2,
        "min_log2_samples": 8,
        "max_log2_samples": 9,
        "gradient_seeds": 1,
        "steps": 5,
        "learning_rate": 1e-3,
        "batch_size": 16,
        "width": 8,
        "test_size": 64,
    }
    rows = run_separation({2: [6]}, settings=settings, seed=0)
    paths = plot_separation(rows, tmp_path / "separation")
    table = separation_markdown(rows)
    assert rows[0]["experiment"] == "sq-separation"
    assert rows[0]["train_size"] in (2**8, 2**9)
    assert all(path.is_file() for path in paths)
    assert table.count("\n") == 2
    assert rows[0]["mlp_train_mse"] >= 0
    assert rows[0]["group_mlp_train_mse"] >= 0


def _separation_row(k, n, samples, mlp=(1.0, 0.95, 1.05), group_mlp=(0.1, 0.05, 0.15)):
    row = {
        "k": k,
        "n": n,
        "group": "cyclic",
        "sq_samples": samples,
        "train_size": samples,
        "family_size": cyclic(n).count_orbits(k),
    }
    for key, values in (("mlp", mlp), ("group_mlp", group_mlp)):
        for suffix, value in zip(("", "_low", "_high"), values, strict=True):
            row[f"{key}_nmse{suffix}"] = value
    return row


def test_fit_sample_growth_power_law():
    rows = [_separation_row(3, n, 5 * n**2) for n in (8, 16, 32)]
    rows.append(_separation_row(4, 8, 1024))  # a single size gets no fit
    fits = fit_sample_growth(rows)
    assert set(fits) == {3}
    intercept, slope = fits[3]
    assert slope == pytest.approx(2.0)
    assert math.exp(intercept) == pytest.approx(5.0)


def test_orbit_crossover_first_size_past_fit():
    # Under C_n, N = 2 n^2 and m ~ n^3 / 24 for k = 4 cross near n = 48.
    fit = (math.log(2.0), 2.0)
    found = orbit_crossover("cyclic", 4, fit, start=8)
    assert cyclic(found).count_orbits(4) > 2.0 * found**2
    sizes = [8]
    while sizes[-1] < found:
        sizes.append(max(sizes[-1] + 1, round(sizes[-1] * 1.05)))
    assert sizes[-1] == found
    assert all(cyclic(n).count_orbits(4) <= 2.0 * n**2 for n in sizes[:-1])
    # Orbits of 2-subsets grow like n / 2, so they never pass N = n.
    assert orbit_crossover("cyclic", 2, (0.0, 1.0), start=8, stop=4096) is None


def test_findings_learners_and_growth():
    rows = [
        _separation_row(3, 8, 1024, mlp=(0.3, 0.2, 0.4)),
        _separation_row(3, 32, 16384, mlp=(0.97, 0.9, 1.04)),
    ]
    text = separation_findings(rows)
    assert "grow like n^2.0" in text
    assert "mlp stays near 1 (test NMSE 0.970 [0.900, 1.040])" in text
    assert "group-mlp learned (test NMSE 0.100 [0.050, 0.150])" in text
    assert "N=16384 samples for m=" + str(cyclic(32).count_orbits(3)) in text


def test_fit_recovery_curve_logistic_point():
    # Expected successes of P = 1 / (1 + exp(-(log2 N - 10))), which is 0.9 at
    # log2 N = 10 + log(9).
    sizes = [2**e for e in range(5, 16)]
    runs = {size: 10_000 for size in sizes}
    successes = {
        size: round(10_000 / (1 + math.exp(-(math.log2(size) - 10)))) for size in sizes
    }
    expected = 2 ** (10 + math.log(9))
    assert fit_recovery_curve(successes, runs) == pytest.approx(expected, rel=0.01)


def test_fit_recovery_curve_degenerate_is_none():
    runs = {64: 10, 128: 10}
    assert fit_recovery_curve({64: 10, 128: 10}, runs) is None
    assert fit_recovery_curve({64: 0, 128: 0}, runs) is None
    assert fit_recovery_curve({64: 9, 128: 1}, runs) is None  # falling with N


def test_command_huge_samples_names_option(capsys):
    argv = ["sq-learn", "invariant-monomial", "n=12", "k=3"]
    status = main([*argv, "--samples", "1000000000000"])
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(error) == 1
    assert error[0].startswith("symhard: error: invalid value for '--samples'")
