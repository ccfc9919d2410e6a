"""The counting bound for correlational statistical queries, read every way.

For unit-norm targets :math:`f_1, \\dots, f_m` with :math:`|\\langle f_i, f_j
\\rangle| \\le \\gamma` (:math:`i \\ne j`), every query :math:`\\phi` with
:math:`\\|\\phi\\| \\le 1` has :math:`\\sum_i \\langle \\phi, f_i \\rangle^2 \\le 1 +
(m - 1)\\gamma` (Gershgorin on the Gram matrix). An oracle that always answers 0 is
then wrong by more than :math:`\\tau` on at most :math:`(1 + (m-1)\\gamma)/\\tau^2`
members per query, and a hypothesis with squared error below :math:`(1 - \\gamma)/2`
fits at most one member. Hence a CSQ learner reaching that error on every member
needs at least

.. math:: q \\ge \\frac{(m - 2)\\, \\tau^2}{1 + (m - 1)\\gamma}

queries of tolerance :math:`\\tau`. This module computes the bound, the tolerance
that a query budget forces, the samples that one query of a given tolerance costs,
and whether a gradient run (``T`` steps on ``p`` parameters with batch ``b``) lies
in the region the bound forbids.

Family sizes are exact Python ints and may be huge (``2**1000`` or more). The
arithmetic is exact on rationals (:class:`fractions.Fraction`, reading a float
such as 0.1 as the decimal it prints as, 1/10), and the ``log10`` functions never
leave the float range, so nothing overflows.

References
----------
S. Goel, A. Gollakota, Z. Jin, S. Karmalkar and A. Klivans, *Superpolynomial lower
bounds for learning one-layer neural networks using gradient descent*, ICML 2020.

B. T. Kiani, T. Le, H. Lawrence, S. Jegelka and M. Weber, *On the hardness of
learning under symmetries*, ICLR 2024.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from symhard._validation import check_choice, check_float, check_int, invalid

SAMPLE_METHODS = ("hoeffding", "chebyshev", "standard-error")


def csq_query_lower_bound(family_size: int, gamma: float, tolerance: float) -> float:
    """Return the minimum number of CSQ queries of tolerance ``tolerance``.

    Parameters
    ----------
    family_size : int
        ``m``, the number of unit-norm members (any size: an exact int).
    gamma : float
        Largest absolute pairwise correlation, in [0, 1].
    tolerance : float
        Query tolerance ``tau`` > 0.

    Returns
    -------
    float
        ``max(0, (m - 2) tau^2 / (1 + (m - 1) gamma))``, computed exactly on
        rationals and rounded once to the nearest float; ``inf`` when the value is
        past the float range (use :func:`log10_csq_query_lower_bound` then).

    Examples
    --------
    >>> csq_query_lower_bound(1002, 0.0, 0.1)
    10.0
    >>> csq_query_lower_bound(2**2000, 0.0, 0.5)
    inf
    """
    ratio = _bound_ratio(family_size, gamma, tolerance)
    return _fraction_to_float(ratio)


def log10_csq_query_lower_bound(
    family_size: int, gamma: float, tolerance: float
) -> float:
    """Return ``log10`` of :func:`csq_query_lower_bound`, finite for any ``m > 2``.

    Returns ``-inf`` when the bound is 0 (``m <= 2``).

    Examples
    --------
    >>> round(log10_csq_query_lower_bound(2**2000 + 2, 0.0, 0.1), 4)
    600.06
    """
    return _log10_fraction(_bound_ratio(family_size, gamma, tolerance))


def tolerance_for_query_budget(family_size: int, gamma: float, queries: int) -> float:
    """Return the largest tolerance a learner with ``queries`` queries can afford.

    The bound read backwards: a CSQ learner that reaches squared error below
    :math:`(1 - \\gamma)/2` on every member with ``q`` queries needs tolerance

    .. math:: \\tau \\le \\tau_{max} = \\sqrt{q (1 + (m - 1)\\gamma) / (m - 2)}.

    Parameters
    ----------
    family_size : int
        ``m``, the number of unit-norm members (an exact int of any size).
    gamma : float
        Largest absolute pairwise correlation, in [0, 1].
    queries : int
        The query budget ``q`` >= 1 (an exact int of any size).

    Returns
    -------
    float
        :math:`\\tau_{max}`; ``inf`` for ``m <= 2``, where the bound is vacuous.
        Values below about ``1e-308`` underflow to 0; use
        :func:`log10_tolerance_for_query_budget` for those.

    Notes
    -----
    A tolerance of 1 or more never constrains a query with values in [-1, 1] on a
    unit-norm target, because then :math:`|E[\\phi f]| \\le 1` and the answer 0 is
    always valid.

    Examples
    --------
    >>> tolerance_for_query_budget(1002, 0.0, 10)
    0.1
    """
    log10_tolerance = log10_tolerance_for_query_budget(family_size, gamma, queries)
    if not math.isfinite(log10_tolerance):
        return math.inf
    squared = _tolerance_squared(family_size, gamma, queries)
    tolerance = math.sqrt(_fraction_to_float(squared))
    if tolerance == 0.0 or math.isinf(tolerance):
        # The square underflowed or overflowed; the root may still be a float.
        return 10.0**log10_tolerance
    return tolerance


def log10_tolerance_for_query_budget(
    family_size: int, gamma: float, queries: int
) -> float:
    """Return ``log10`` of :func:`tolerance_for_query_budget`, finite for ``m > 2``.

    Examples
    --------
    >>> log10_tolerance_for_query_budget(10**600 + 2, 0.0, 10**100)
    -250.0
    """
    family_size = check_int("family_size", family_size, low=1)
    gamma = check_float("gamma", gamma, low=0.0, high=1.0)
    queries = check_int("queries", queries, low=1)
    if family_size <= 2:
        return math.inf
    return _log10_fraction(_tolerance_squared(family_size, gamma, queries)) / 2


def samples_per_query(
    tolerance: float, *, delta: float = 0.05, method: str = "hoeffding"
) -> int:
    """Return how many samples estimate one query to within ``tolerance``.

    The estimate of :math:`E[\\phi(x) f(x)]` is the mean of :math:`\\phi(x_i) y_i`
    over ``b`` independent samples. Three ways to size ``b``:

    - ``"hoeffding"``: :math:`b = \\lceil 2 \\ln(2/\\delta) / \\tau^2 \\rceil`. The
      mean is within :math:`\\tau` with probability at least :math:`1 - \\delta`
      when every product :math:`\\phi(x) f(x)` lies in [-1, 1] (for example a
      query in [-1, 1] and labels in {-1, +1}).
    - ``"chebyshev"``: :math:`b = \\lceil 1 / (\\delta \\tau^2) \\rceil`. Valid for
      every unit-norm target, bounded or not, because :math:`|\\phi| \\le 1` gives
      :math:`\\mathrm{Var}[\\phi f] \\le E[f^2] = 1`.
    - ``"standard-error"``: :math:`b = \\lceil 1 / \\tau^2 \\rceil`, the convention
      "tolerance about :math:`1/\\sqrt{b}`" of the gradient argument: the standard
      error is at most :math:`\\tau` (one standard deviation, no confidence level,
      so ``delta`` is unused).

    Parameters
    ----------
    tolerance : float
        ``tau`` > 0.
    delta : float, default=0.05
        Allowed failure probability, in (0, 1).
    method : str, default="hoeffding"
        One of ``SAMPLE_METHODS``.

    Returns
    -------
    int
        The exact ceiling (a Python int of any size).

    Examples
    --------
    >>> samples_per_query(0.1, method="standard-error")
    100
    >>> samples_per_query(0.1, delta=0.05)  # 2 ln(40) / 0.01 = 737.8
    738
    >>> samples_per_query(0.1, delta=0.05, method="chebyshev")
    2000
    """
    tolerance = check_float("tolerance", tolerance, low=0.0, low_open=True)
    delta = check_float("delta", delta, low=0.0, low_open=True)
    if delta >= 1.0:
        raise invalid("delta", "a number in (0, 1)", delta)
    method = check_choice("method", method, SAMPLE_METHODS)
    if method == "hoeffding":
        constant = Fraction(2 * math.log(2 / delta))
    elif method == "chebyshev":
        constant = 1 / _decimal_fraction(delta)
    else:
        constant = Fraction(1)
    return math.ceil(constant / _decimal_fraction(tolerance) ** 2)


@dataclass(frozen=True)
class GradientRunRegion:
    """The position of a gradient run relative to the counting bound.

    Attributes
    ----------
    n_parameters, batch_size, steps : int
        ``p``, ``b`` and ``T`` of the run.
    family_size : int
        ``m`` (exact).
    gamma : float
    queries : int
        ``T * p``: one correlational query per parameter and step.
    tolerance : float
        ``1 / sqrt(b)``, the standard error of a mini-batch mean of
        :math:`\\phi(x) f(x)` for :math:`|\\phi| \\le 1` and a unit-norm ``f``.
    log10_queries : float
    queries_needed : float
        The bound at ``tolerance`` (``inf`` past the float range).
    log10_queries_needed : float
    tolerance_allowed : float
        The largest tolerance that ``queries`` queries can afford
        (:func:`tolerance_for_query_budget`).
    forbidden : bool
        True when ``queries`` is below the bound, decided in exact arithmetic.
    verdict : str
        One sentence with the numbers and the assumptions.
    """

    n_parameters: int
    batch_size: int
    steps: int
    family_size: int
    gamma: float
    queries: int
    tolerance: float
    log10_queries: float
    queries_needed: float
    log10_queries_needed: float
    tolerance_allowed: float
    forbidden: bool
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict (ints stay exact)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def gradient_run_region(
    n_parameters: int,
    batch_size: int,
    steps: int,
    *,
    family_size: int,
    gamma: float,
) -> GradientRunRegion:
    """Decide whether a gradient run lies in the region the counting bound forbids.

    For the square loss the population gradient is :math:`E[h \\nabla h] - E[f
    \\nabla h]`, and only the second term involves the target: one correlational
    query per parameter. A mini-batch of ``b`` samples estimates each to tolerance
    about :math:`1/\\sqrt{b}`, so ``T`` steps on ``p`` parameters count as
    :math:`T p` queries of tolerance :math:`1/\\sqrt{b}`. The run is in the
    forbidden region when :math:`T p < (m - 2) / (b (1 + (m - 1)\\gamma))`.

    Parameters
    ----------
    n_parameters : int
        ``p`` >= 1.
    batch_size : int
        ``b`` >= 1.
    steps : int
        ``T`` >= 1.
    family_size : int
        ``m`` >= 1 (an exact int of any size).
    gamma : float
        Largest absolute pairwise correlation, in [0, 1].

    Returns
    -------
    GradientRunRegion

    Notes
    -----
    This is the region of the counting argument, not a proof about a specific run:
    gradient coordinates are not bounded in [-1, 1], a mini-batch mean is within
    :math:`1/\\sqrt{b}` only in the sense of one standard error, and the bound is
    about reaching squared error below :math:`(1 - \\gamma)/2` on every member, so
    a run may still succeed on some members.

    Examples
    --------
    >>> region = gradient_run_region(1000, 100, 1000, family_size=2**60, gamma=0.0)
    >>> region.queries, region.forbidden
    (1000000, True)
    """
    n_parameters = check_int("n_parameters", n_parameters, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    steps = check_int("steps", steps, low=1)
    family_size = check_int("family_size", family_size, low=1)
    gamma = check_float("gamma", gamma, low=0.0, high=1.0)

    queries = n_parameters * steps
    needed = _bound_ratio(family_size, gamma, Fraction(1, batch_size), squared=True)
    forbidden = queries < needed
    region = {
        "n_parameters": n_parameters,
        "batch_size": batch_size,
        "steps": steps,
        "family_size": family_size,
        "gamma": gamma,
        "queries": queries,
        "tolerance": 1 / math.sqrt(batch_size),
        "log10_queries": math.log10(queries),
        "queries_needed": _fraction_to_float(needed),
        "log10_queries_needed": _log10_fraction(needed),
        "tolerance_allowed": tolerance_for_query_budget(family_size, gamma, queries),
        "forbidden": forbidden,
    }
    return GradientRunRegion(**region, verdict=_verdict(region))


def format_count(value: int | float) -> str:
    """Write a count exactly when it is short, else as ``about 1.23e+45``.

    Examples
    --------
    >>> format_count(123456)
    '123456'
    >>> format_count(2**100)
    'about 1.27e+30'
    """
    if isinstance(value, int) and abs(value) < 10**12:
        return str(value)
    if isinstance(value, int) and abs(value) >= 10**300:
        # Past the float range: mantissa and exponent from the exact log10.
        log10_value = math.log10(abs(value))
        exponent = math.floor(log10_value)
        sign = "-" if value < 0 else ""
        return f"about {sign}{10 ** (log10_value - exponent):.2f}e+{exponent}"
    value = float(value)
    if math.isinf(value):
        return "inf"
    if value != 0 and (abs(value) >= 1e12 or abs(value) < 1e-3):
        return f"about {value:.2e}"
    return f"{value:.4g}"


# Internals --------------------------------------------------------------------


def _bound_ratio(
    family_size: int, gamma: float, tolerance: float | Fraction, *, squared=False
) -> Fraction:
    """Return ``max(0, (m - 2) tau^2 / (1 + (m - 1) gamma))`` as an exact rational.

    With ``squared=True``, ``tolerance`` already is ``tau^2``.
    """
    family_size = check_int("family_size", family_size, low=1)
    gamma = check_float("gamma", gamma, low=0.0, high=1.0)
    if not isinstance(tolerance, Fraction):
        tolerance = _decimal_fraction(
            check_float("tolerance", tolerance, low=0.0, low_open=True)
        )
    if family_size <= 2:
        return Fraction(0)
    tolerance_sq = tolerance if squared else tolerance**2
    return (family_size - 2) * tolerance_sq / _one_plus(family_size - 1, gamma)


def _tolerance_squared(family_size: int, gamma: float, queries: int) -> Fraction:
    return queries * _one_plus(family_size - 1, gamma) / (family_size - 2)


def _one_plus(count: int, gamma: float) -> Fraction:
    """Return ``1 + count * gamma`` exactly."""
    return 1 + count * _decimal_fraction(gamma)


def _decimal_fraction(value: float) -> Fraction:
    """Read a float as the decimal it prints as, so that 0.1 is exactly 1/10."""
    return Fraction(repr(float(value)))


def _fraction_to_float(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _log10_fraction(value: Fraction) -> float:
    """Return ``log10(value)`` for a rational of any size; ``-inf`` for 0."""
    if value == 0:
        return -math.inf
    # math.log10 accepts ints of any size, so the quotient never overflows.
    return math.log10(value.numerator) - math.log10(value.denominator)


def _verdict(region: dict[str, Any]) -> str:
    counts = (
        f"{format_count(region['queries'])} queries (T*p = {region['steps']}*"
        f"{region['n_parameters']}) at tolerance about 1/sqrt({region['batch_size']})"
        f" = {region['tolerance']:.3g}"
    )
    needed = (
        f"the {_format_needed(region)} that the counting bound requires for "
        f"squared error below (1 - gamma)/2 on all "
        f"m = {format_count(region['family_size'])} members "
        f"(gamma = {region['gamma']:.3g})"
    )
    assumption = (
        "counting each step as one query per parameter at tolerance 1/sqrt(b), "
        "which makes this the counting argument's region and not a proof about "
        "this particular run"
    )
    if region["forbidden"]:
        return f"Forbidden region: {counts} are fewer than {needed}, {assumption}."
    return f"Not in the forbidden region: {counts} are at least {needed}, {assumption}."


def _format_needed(region: dict[str, Any]) -> str:
    if math.isfinite(region["queries_needed"]):
        return format_count(region["queries_needed"])
    return f"about 10^{region['log10_queries_needed']:.1f}"
