"""The counting bound for correlational statistical queries.

For unit-norm targets :math:`f_1, \\dots, f_m` with :math:`|\\langle f_i, f_j
\\rangle| \\le \\gamma` (:math:`i \\ne j`), every query :math:`\\phi` with
:math:`\\|\\phi\\| \\le 1` has :math:`\\sum_i \\langle \\phi, f_i \\rangle^2 \\le 1 +
(m - 1)\\gamma` (Gershgorin on the Gram matrix). An oracle that always answers 0 is
then wrong by more than :math:`\\tau` on at most :math:`(1 + (m-1)\\gamma)/\\tau^2`
members per query, and a hypothesis with squared error below :math:`(1 - \\gamma)/2`
fits at most one member. Hence a CSQ learner reaching that error on every member
needs at least

.. math:: q \\ge \\frac{(m - 2)\\, \\tau^2}{1 + (m - 1)\\gamma}

queries of tolerance :math:`\\tau`.
"""

from __future__ import annotations

import math

from symhard._validation import check_float, check_int


def csq_query_lower_bound(family_size: int, gamma: float, tolerance: float) -> float:
    """Return the minimum number of CSQ queries of tolerance ``tolerance``.

    Parameters
    ----------
    family_size : int
        ``m``, the number of unit-norm members.
    gamma : float
        Largest absolute pairwise correlation, in [0, 1].
    tolerance : float
        Query tolerance ``tau`` > 0.

    Returns
    -------
    float
        ``max(0, (m - 2) tau^2 / (1 + (m - 1) gamma))``; a float because ``m`` can
        exceed the range of exact float arithmetic only in its last digits.

    Examples
    --------
    >>> csq_query_lower_bound(1002, 0.0, 0.1)
    10.0
    """
    family_size = check_int("family_size", family_size, low=1)
    gamma = check_float("gamma", gamma, low=0.0, high=1.0)
    tolerance = check_float("tolerance", tolerance, low=0.0, low_open=True)
    if family_size <= 2:
        return 0.0
    return (family_size - 2) * tolerance**2 / (1 + (family_size - 1) * gamma)


def log10_csq_query_lower_bound(
    family_size: int, gamma: float, tolerance: float
) -> float:
    """Return ``log10`` of :func:`csq_query_lower_bound`, safe for huge ``m``."""
    bound = csq_query_lower_bound(family_size, gamma, tolerance)
    return math.log10(bound) if bound > 0 else float("-inf")
