"""Tests for symhard.oracles: each oracle's guarantee, and query and sample counts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from symhard._validation import InvalidParameterError
from symhard.families.invariant_monomial import (
    InvariantMonomial,
    MultilinearPolynomial,
)
from symhard.families.parity_relu import ParityReLU
from symhard.oracles import (
    AdversarialOracle,
    CorrelationQuery,
    EmpiricalCSQOracle,
    EmpiricalSQOracle,
    ExactCSQOracle,
    ExactSQOracle,
    Query,
    SquaredLabelQuery,
    clipped_square_moments,
    clt_tolerance,
    family_sampler,
    hoeffding_tolerance,
    make_oracle,
)
from symhard.ridge import RidgeSum

REPEATS = 30


@pytest.fixture
def tanh_family() -> ParityReLU:
    # tanh with odd k gives a bounded target: |f| <= sum of |coefficients|.
    return ParityReLU(6, 3, group="cyclic", activation="tanh")


def _tanh_query(n: int) -> RidgeSum:
    # One tanh unit: values in (-1, 1), correlated with members on {0, 1, 2}.
    weights = np.zeros((1, n))
    weights[0, :3] = [1.0, -1.0, 1.0]
    return RidgeSum(weights, np.ones(1), "tanh")


def _binomial_limit(repeats: int, miss_probability: float) -> int:
    # Misses allowed before a tolerance that holds with the stated confidence is
    # rejected; exceeding it has probability below 1e-4.
    return int(scipy.stats.binom.ppf(1 - 1e-4, repeats, miss_probability))


def test_hoeffding_tolerance_formula():
    delta = 0.05
    expected = 3.0 * math.sqrt(2 * math.log(2 / delta) / 500)
    assert hoeffding_tolerance(3.0, 500, 0.95) == pytest.approx(expected)


def test_clt_tolerance_formula(rng):
    values = rng.standard_normal(400)
    z = scipy.stats.norm.ppf(0.975)
    expected = z * values.std(ddof=1) / 20
    assert clt_tolerance(values, 0.95) == pytest.approx(expected)


@pytest.mark.parametrize("clip", [0.5, 2.0, 5.0])
def test_clipped_square_moments_match_quadrature(clip):
    def density(t):
        return scipy.stats.norm.pdf(t)

    pieces = [-12.0, -math.sqrt(clip), math.sqrt(clip), 12.0]
    offset = sum(
        scipy.integrate.quad(lambda t: min(t * t, clip) * density(t), a, b)[0]
        for a, b in itertools.pairwise(pieces)
    )
    factor = sum(
        scipy.integrate.quad(
            lambda t: t * t * (min(t * t, clip) - offset) * density(t), a, b
        )[0]
        for a, b in itertools.pairwise(pieces)
    )
    computed = clipped_square_moments(clip)
    assert computed[0] == pytest.approx(offset, abs=1e-9)
    assert computed[1] == pytest.approx(factor, abs=1e-9)


def test_clipped_square_moments_without_clip():
    assert clipped_square_moments(None) == (1.0, 2.0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


# Exact oracles -------------------------------------------------------------------


def test_exact_csq_ridge_target_uses_inner(tanh_family):
    target = tanh_family.member_ridge(0)
    oracle = ExactCSQOracle(target)
    assert oracle.query(target) == pytest.approx(1.0)
    assert oracle.query(tanh_family.member_ridge(1)) == pytest.approx(0.0, abs=1e-12)
    assert oracle.queries == 2
    assert oracle.samples == 0


def test_exact_csq_polynomial_target():
    family = InvariantMonomial(8, 3)
    oracle = make_oracle(family, 0, kind="csq")
    monomial = MultilinearPolynomial(np.array([[0, 1, 2]]), np.ones(1), 8)
    orbit_size = family.member_description(0)["orbit_size"]
    assert oracle.query(monomial) == pytest.approx(1 / math.sqrt(orbit_size))


def test_exact_csq_rejects_plain_callable():
    oracle = make_oracle(InvariantMonomial(6, 2), 0, kind="csq")
    with pytest.raises(TypeError, match="no exact correlation for a function query"):
        oracle.query(lambda x: x[:, 0])


def test_exact_sq_squared_label_matches_orbit_count():
    family = InvariantMonomial(9, 3)
    subset = (0, 1, 3)
    orbit = {tuple(sorted((i + s) % 9 for i in subset)) for s in range(9)}
    oracle = ExactSQOracle(family.member_polynomial(subset))
    for clip in (None, 2.0):
        factor = clipped_square_moments(clip)[1]
        for size in (1, 2, 3):
            for query_set in itertools.combinations(range(9), size):
                count = sum(1 for member in orbit if set(query_set) <= set(member))
                expected = factor**size * count / len(orbit)
                value = oracle.query(SquaredLabelQuery(query_set, clip=clip))
                assert value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("clip", [None, 2.0])
def test_squared_label_query_agrees_with_monte_carlo(clip, rng):
    family = InvariantMonomial(8, 3)
    member = (0, 1, 3)
    query = SquaredLabelQuery([0, 1], clip=clip)
    exact = ExactSQOracle(family.member_polynomial(member)).query(query)
    arrays = family.sample(300_000, member=member, seed=rng)
    values = query(arrays["x"], arrays["y"])
    standard_error = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - exact) < 5 * standard_error


def test_exact_sq_rejects_query_without_closed_form():
    oracle = make_oracle(InvariantMonomial(6, 2), 0)
    with pytest.raises(TypeError, match="no exact expectation"):
        oracle.query(Query(lambda x, y: y))


# Empirical oracles -----------------------------------------------------------


def test_empirical_csq_label_bound_covers_exact(tanh_family):
    target = tanh_family.member_ridge(0)
    query = _tanh_query(6)
    exact = target.inner(query)
    label_bound = float(np.abs(target.coefficients).sum())
    misses = 0
    for seed in range(REPEATS):
        oracle = EmpiricalCSQOracle(
            family_sampler(tanh_family, 0),
            n_samples=2000,
            confidence=0.9,
            label_bound=label_bound,
            seed=seed,
        )
        answer = oracle.answer(query)
        assert answer.method == "hoeffding"
        assert answer.tolerance == pytest.approx(
            hoeffding_tolerance(label_bound, 2000, 0.9)
        )
        misses += abs(answer.value - exact) > answer.tolerance
    assert misses <= _binomial_limit(REPEATS, 0.1)


def test_empirical_csq_truncated_product_covers_exact(tanh_family):
    target = tanh_family.member_ridge(0)
    query = _tanh_query(6)
    exact = target.inner(query)
    c = math.sqrt(2 * math.log(2 / 0.1))
    expected_tolerance = math.sqrt(c) * 2000 ** (-0.25)
    misses = 0
    for seed in range(REPEATS):
        oracle = make_oracle(
            tanh_family,
            0,
            kind="csq",
            oracle="empirical",
            n_samples=2000,
            confidence=0.9,
            seed=seed,
        )
        answer = oracle.answer(query)
        assert answer.method == "hoeffding-truncated"
        assert answer.tolerance == pytest.approx(expected_tolerance)
        misses += abs(answer.value - exact) > answer.tolerance
    assert misses <= _binomial_limit(REPEATS, 0.1)


def test_empirical_sq_correlation_query_covers_exact(tanh_family):
    target = tanh_family.member_ridge(2)
    label_bound = float(np.abs(target.coefficients).sum())
    query = CorrelationQuery(_tanh_query(6), bound=label_bound)
    exact = ExactSQOracle(target).query(query)
    misses = 0
    for seed in range(REPEATS):
        oracle = EmpiricalSQOracle(
            family_sampler(tanh_family, 2), n_samples=1000, confidence=0.8, seed=seed
        )
        answer = oracle.answer(query)
        assert answer.guaranteed
        misses += abs(answer.value - exact) > answer.tolerance
    assert misses <= _binomial_limit(REPEATS, 0.2)


def test_empirical_sq_clt_estimate_covers_exact():
    family = InvariantMonomial(8, 3)
    query = SquaredLabelQuery([0], clip=2.0)
    exact = make_oracle(family, (0, 1, 3)).query(query)
    misses = 0
    for seed in range(40):
        oracle = make_oracle(
            family,
            (0, 1, 3),
            oracle="empirical",
            n_samples=20_000,
            confidence=0.9,
            seed=seed,
        )
        answer = oracle.answer(query)
        assert answer.method == "clt-estimate"
        assert not answer.guaranteed
        misses += abs(answer.value - exact) > answer.tolerance
    assert misses <= _binomial_limit(40, 0.1)


def test_empirical_truncation_adds_tail_bias(rng):
    def sampler(num, generator):
        x = generator.standard_normal((num, 1))
        return x, x[:, 0]

    oracle = EmpiricalSQOracle(sampler, n_samples=500, seed=rng)
    answer = oracle.answer(Query(lambda x, y: 3 * y, bound=2.0, tail_bias=0.25))
    assert answer.tolerance == pytest.approx(hoeffding_tolerance(2.0, 500, 0.95) + 0.25)
    assert answer.method == "hoeffding"


def test_empirical_truncation_clips_values():
    def sampler(num, generator):
        return np.zeros((num, 1)), np.full(num, 5.0)

    oracle = EmpiricalSQOracle(sampler, n_samples=10, seed=0)
    assert oracle.query(Query(lambda x, y: y, bound=2.0, tail_bias=3.0)) == 2.0


def test_empirical_rejects_values_outside_bound(tanh_family):
    oracle = make_oracle(tanh_family, 0, oracle="empirical", n_samples=100, seed=0)
    with pytest.raises(InvalidParameterError, match=r"expected values in \[-1, 1\]"):
        oracle.query(lambda x, y: 2.0 + 0 * y)


def test_empirical_csq_rejects_unbounded_query(tanh_family):
    oracle = make_oracle(
        tanh_family, 0, kind="csq", oracle="empirical", n_samples=100, seed=0
    )
    with pytest.raises(InvalidParameterError, match="a bounded CSQ query"):
        oracle.query(Query(lambda x: x[:, 0], bound=None))


def test_empirical_fresh_counts_samples_per_call(tanh_family):
    oracle = make_oracle(tanh_family, 0, oracle="empirical", n_samples=50, seed=0)
    phi = CorrelationQuery(_tanh_query(6))
    oracle.query(phi)
    oracle.query(phi)
    oracle.answer_many([phi, phi, phi])
    assert oracle.queries == 5
    assert oracle.samples == 3 * 50


def test_empirical_fixed_sample_drawn_once(tanh_family):
    oracle = make_oracle(
        tanh_family, 0, oracle="empirical", n_samples=50, fresh=False, seed=0
    )
    phi = CorrelationQuery(_tanh_query(6))
    first = oracle.query(phi)
    second = oracle.query(phi)
    assert first == second
    assert oracle.queries == 2
    assert oracle.samples == 50


# Adversarial oracle ------------------------------------------------------------


def test_adversarial_zero_for_small_correlation():
    family = InvariantMonomial(8, 3)
    target = family.member_polynomial(0)
    oracle = AdversarialOracle(ExactCSQOracle(target), tolerance=0.1)
    small = MultilinearPolynomial(target.subsets, target.coefficients * 0.09, 8)
    assert oracle.query(small) == 0.0
    assert oracle.query(target) == pytest.approx(1.0)
    assert oracle.zero_answers == 1


def test_adversarial_zero_exactly_within_tolerance():
    # A unit-norm query with correlation 1/sqrt(m) with every member.
    family = InvariantMonomial(12, 3)
    members = [family.member_polynomial(i) for i in range(family.family_size)]
    subsets = np.concatenate([p.subsets for p in members])
    weights = np.concatenate([p.coefficients for p in members])
    query = MultilinearPolynomial(subsets, weights / math.sqrt(len(members)), 12)
    correlation = 1 / math.sqrt(len(members))
    for tolerance in (correlation * 0.99, correlation * 1.01):
        answers = [
            AdversarialOracle(ExactCSQOracle(p), tolerance=tolerance).query(query)
            for p in members
        ]
        nonzero = sum(answer != 0.0 for answer in answers)
        assert nonzero == (len(members) if tolerance < correlation else 0)
        assert nonzero <= 1 / tolerance**2


def test_adversarial_counts_queries_and_samples(tanh_family):
    reference = make_oracle(tanh_family, 0, oracle="empirical", n_samples=100, seed=1)
    oracle = AdversarialOracle(reference, tolerance=10.0)
    oracle.answer_many([CorrelationQuery(_tanh_query(6), bound=10.0)] * 2)
    assert oracle.kind == "sq"
    assert oracle.queries == 2
    assert oracle.samples == 100


def test_adversarial_rejects_loose_reference(tanh_family):
    reference = make_oracle(tanh_family, 0, oracle="empirical", n_samples=100, seed=1)
    oracle = AdversarialOracle(reference, tolerance=0.01)
    with pytest.raises(InvalidParameterError, match="reference oracle's tolerance"):
        oracle.query(CorrelationQuery(_tanh_query(6), bound=10.0))


# Construction errors -------------------------------------------------------------


def test_make_oracle_rejects_unknown_name(tanh_family):
    with pytest.raises(InvalidParameterError, match="'oracle': expected one of"):
        make_oracle(tanh_family, 0, oracle="psychic")


def test_make_oracle_empirical_needs_samples(tanh_family):
    with pytest.raises(InvalidParameterError, match="'n_samples'.*got None"):
        make_oracle(tanh_family, 0, oracle="empirical")


def test_make_oracle_adversarial_needs_tolerance(tanh_family):
    with pytest.raises(InvalidParameterError, match="'tolerance'.*got None"):
        make_oracle(tanh_family, 0, oracle="adversarial")


def test_query_rejects_negative_tail_bias():
    with pytest.raises(InvalidParameterError, match="'tail_bias'.*got -1"):
        Query(lambda x: x, tail_bias=-1)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_empirical_rejects_confidence_outside_open_interval(tanh_family, confidence):
    with pytest.raises(
        InvalidParameterError, match=r"'confidence': expected a number in \(0, 1\), got"
    ):
        EmpiricalSQOracle(
            family_sampler(tanh_family), n_samples=10, confidence=confidence
        )
