"""``invariant-monomial``: sparse invariant polynomials, hard for CSQ, easy for SQ.

For :math:`x \\sim N(0, I_n)`, a group ``G`` acting on the coordinates and the orbit
``O`` of a ``k``-subset ``S``,

.. math:: p(x) = |O|^{-1/2} \\sum_{S' \\in O} \\prod_{i \\in S'} x_i.

Distinct multilinear monomials are orthonormal under :math:`N(0, I_n)`, so ``p``
has unit norm and the polynomials of distinct orbits are exactly orthogonal. The
family has one member per orbit and :math:`\\gamma = 0`. Its CSQ bound grows like
the number of orbits, about :math:`n^{k-1}/k!` for the cyclic group. A learner
that may use :math:`y^2` (an SQ learner, see :mod:`symhard.sq_learner`) finds the
orbit with polynomially many samples.

References
----------
B. T. Kiani, T. Le, H. Lawrence, S. Jegelka and M. Weber, *On the hardness of
learning under symmetries*, ICLR 2024.

A. Andoni, R. Panigrahy, G. Valiant and L. Zhang, *Learning sparse polynomial
functions*, SODA 2014.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch

from symhard._validation import (
    SeedLike,
    as_generator,
    check_int,
    invalid,
)
from symhard.families.base import CorrelationCertificate, Task
from symhard.families.subset_orbits import SubsetOrbitFamily
from symhard.groups import PermutationGroup

# Monomial values evaluated at once (rows times orbit size) to bound memory.
_EVALUATION_BLOCK = 2**22


class MultilinearPolynomial:
    """A multilinear polynomial :math:`p(x) = \\sum_j c_j \\prod_{i \\in S_j} x_i`.

    Under :math:`x \\sim N(0, I_n)` distinct multilinear monomials are orthonormal,
    so inner products, norms and the moments used by the SQ learner are exact sums
    over the coefficients.

    Parameters
    ----------
    subsets : ndarray of shape (terms, k)
        Distinct ``k``-subsets of ``range(n)``, one monomial per row.
    coefficients : ndarray of shape (terms,)
        The coefficients :math:`c_j`.
    n : int
        Number of input coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> p = MultilinearPolynomial(np.array([[0, 1], [1, 2]]), np.array([0.6, 0.8]), 3)
    >>> round(p.norm_sq(), 12)
    1.0
    >>> round(p.weight_containing([1]), 12)  # 0.6^2 + 0.8^2
    1.0
    """

    def __init__(self, subsets: np.ndarray, coefficients: np.ndarray, n: int) -> None:
        self.n = check_int("n", n, low=1)
        subsets = np.sort(np.asarray(subsets, dtype=np.int64), axis=1)
        coefficients = np.asarray(coefficients, dtype=np.float64)
        if subsets.ndim != 2 or coefficients.shape != (len(subsets),):
            raise invalid(
                "subsets",
                "an array of shape (terms, k) with coefficients of shape (terms,)",
                f"shapes {subsets.shape} and {coefficients.shape}",
            )
        if subsets.size and (subsets.min() < 0 or subsets.max() >= self.n):
            raise invalid("subsets", f"indices in [0, {self.n - 1}]", subsets.tolist())
        if subsets.shape[1] > 1 and np.any(subsets[:, 1:] == subsets[:, :-1]):
            raise invalid("subsets", "rows of distinct indices", subsets.tolist())
        if len(np.unique(subsets, axis=0)) != len(subsets):
            raise invalid("subsets", "distinct rows", subsets.tolist())
        self.subsets = subsets
        self.coefficients = coefficients

    def __repr__(self) -> str:
        terms, degree = self.subsets.shape
        return f"MultilinearPolynomial(terms={terms}, degree={degree}, n={self.n})"

    @property
    def degree(self) -> int:
        return self.subsets.shape[1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate on a batch.

        Parameters
        ----------
        x : ndarray of shape (num, n)

        Returns
        -------
        ndarray of shape (num,), float64
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise invalid("x", f"an array of shape (num, {self.n})", x.shape)
        rows = max(1, _EVALUATION_BLOCK // max(1, len(self.subsets)))
        values = np.empty(len(x))
        for start in range(0, len(x), rows):
            block = x[start : start + rows]
            monomials = block[:, self.subsets].prod(axis=2)  # (rows, terms)
            values[start : start + rows] = monomials @ self.coefficients
        return values

    def inner(self, other: MultilinearPolynomial) -> float:
        """Return the exact :math:`L^2(N(0, I_n))` inner product with ``other``.

        It is the sum of ``c_S d_S`` over the subsets both polynomials contain.
        """
        if not isinstance(other, MultilinearPolynomial):
            raise TypeError(
                "inner products need another MultilinearPolynomial, got "
                f"{type(other).__name__}"
            )
        if other.n != self.n:
            raise invalid(
                "other", f"a polynomial on n={self.n} coordinates", f"n={other.n}"
            )
        if other.degree != self.degree:
            return 0.0
        mine = dict(
            zip(
                (row.tobytes() for row in self.subsets),
                self.coefficients,
                strict=True,
            )
        )
        total = 0.0
        for row, coefficient in zip(other.subsets, other.coefficients, strict=True):
            total += mine.get(row.tobytes(), 0.0) * coefficient
        return float(total)

    def norm_sq(self) -> float:
        """Return the exact squared norm, the sum of squared coefficients."""
        return float(self.coefficients @ self.coefficients)

    def weight_containing(self, subset: Sequence[int]) -> float:
        """Return :math:`\\sum_{S \\supseteq T} c_S^2`, the weight of monomials over T.

        The SQ learner's queries :math:`y^2 \\prod_{i \\in T} g(x_i)` have
        expectation :math:`a^{|T|}` times this weight (see
        :class:`symhard.oracles.SquaredLabelQuery`).

        Parameters
        ----------
        subset : sequence of int
            The set ``T``, distinct indices in ``[0, n - 1]``.
        """
        points = np.unique(np.asarray([int(i) for i in subset], dtype=np.int64))
        if len(points) and (points[0] < 0 or points[-1] >= self.n):
            raise invalid("subset", f"indices in [0, {self.n - 1}]", points.tolist())
        contains = np.isin(self.subsets, points).sum(axis=1) == len(points)
        return float((self.coefficients[contains] ** 2).sum())


class OrbitMonomialSum(torch.nn.Module):
    """The network that computes a member exactly: a scaled sum of product units.

    :math:`h(x) = |O|^{-1/2} \\sum_{S' \\in O} \\prod_{i \\in S'} x_i`, which equals
    :math:`|O|^{1/2}` times the group average of the single product unit
    :math:`\\prod_{i \\in S} x_i`. It is invariant under every group element that
    maps ``O`` to itself.

    Parameters
    ----------
    orbit : ndarray of shape (orbit size, k)
        The subsets of the orbit.
    n : int
        Input size.
    """

    def __init__(self, orbit: np.ndarray, n: int) -> None:
        super().__init__()
        self.n = n
        orbit = torch.as_tensor(np.asarray(orbit), dtype=torch.long)
        self.register_buffer("orbit", orbit, persistent=False)
        self.scale = 1.0 / math.sqrt(len(orbit))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, n) to (batch,)."""
        rows = max(1, _EVALUATION_BLOCK // len(self.orbit))
        parts = [
            x[start : start + rows][:, self.orbit].prod(dim=2).sum(dim=1)
            for start in range(0, len(x), rows)
        ]
        return torch.cat(parts) * self.scale


class InvariantMonomial(SubsetOrbitFamily):
    """The ``invariant-monomial`` family under a permutation group.

    Parameters
    ----------
    n : int
        Number of input coordinates, :math:`x \\sim N(0, I_n)`.
    k : int
        Monomial degree, ``1 <= k <= n``.
    group : str or PermutationGroup, default="cyclic"
        A name from ``GROUP_NAMES`` or a group acting on ``n`` points.
    shape : str or None, default=None
        Grid ``"AxB"`` for ``group="torus"`` (``A * B = n``).
    generators : str, array-like of int or None, default=None
        Permutations of ``range(n)`` for ``group="generated"``, for example
        ``"1,2,3,0,4,5/0,1,2,3,5,4"`` (see :func:`symhard.groups.generated`).

    Examples
    --------
    >>> family = InvariantMonomial(n=12, k=3, group="cyclic")
    >>> family.family_size  # binary necklaces of length 12 with 3 ones
    19
    >>> family.member_description((0, 2, 7))
    {'subset': [0, 2, 7], 'orbit_size': 12}
    """

    name = "invariant-monomial"
    size_parameter = "n"
    required_parameters = ("n", "k")
    parameters = {
        "n": None,
        "k": None,
        "group": "cyclic",
        "shape": None,
        "generators": None,
    }

    def __init__(
        self,
        n: int,
        k: int,
        *,
        group: str | PermutationGroup = "cyclic",
        shape: str | None = None,
        generators: str | Sequence[Sequence[int]] | None = None,
    ) -> None:
        self.n = check_int("n", n, low=1)
        self.k = check_int("k", k, low=1, high=self.n, high_text=f"n={self.n}")
        self._set_group(group, shape, generators)

    def __repr__(self) -> str:
        return f"InvariantMonomial(n={self.n}, k={self.k}, group={self.group.name!r})"

    @property
    def params(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k, **self._group_params()}

    @cached_property
    def max_orbit_size(self) -> int:
        """The largest possible orbit, ``min(|G|, C(n, k))``, known without a member."""
        return min(self.group.order, math.comb(self.n, self.k))

    def correlation(self) -> CorrelationCertificate:
        return CorrelationCertificate(
            gamma=0.0,
            method="exact",
            detail=(
                "distinct multilinear monomials are orthonormal under N(0, I_n) and "
                "distinct orbits share no subset, so distinct members are orthogonal"
            ),
        )

    # Members -----------------------------------------------------------------

    def member_polynomial(
        self, member: int | Sequence[int] = 0
    ) -> MultilinearPolynomial:
        """Return the member as a :class:`MultilinearPolynomial` (unit norm)."""
        orbit = self.group.orbit(self.member_subset(member))
        coefficients = np.full(len(orbit), 1.0 / math.sqrt(len(orbit)))
        return MultilinearPolynomial(orbit, coefficients, self.n)

    # Data ----------------------------------------------------------------------

    def sample(
        self, num: int, *, member: int | Sequence[int] = 0, seed: SeedLike = None
    ) -> dict[str, np.ndarray]:
        """Draw ``x`` of shape (num, n) from :math:`N(0, I_n)` and ``y`` = member(x).

        Both arrays are float64; the same ``seed`` gives the same bytes.
        """
        num = self.check_sample_count(num)
        polynomial = self.member_polynomial(member)
        rng = as_generator(seed)
        x = rng.standard_normal((num, self.n))
        return {"x": x, "y": polynomial(x)}

    def evaluate(
        self, arrays: Mapping[str, np.ndarray], *, member: int | Sequence[int] = 0
    ) -> np.ndarray:
        """Return member(x) of shape (num,) for ``arrays["x"]`` of shape (num, n)."""
        if "x" not in arrays:
            raise invalid("input", "arrays with an entry 'x'", sorted(arrays))
        return self.member_polynomial(member)(arrays["x"])

    def task(self, member: int | Sequence[int] = 0) -> Task:
        subset = self.member_subset(member)
        orbit = self.group.orbit(subset)
        cache: dict[torch.device, OrbitMonomialSum] = {}

        def sampler(num: int, generator: torch.Generator, device: torch.device):
            if device not in cache:
                cache[device] = OrbitMonomialSum(orbit, self.n).to(device)
            x = torch.randn(num, self.n, generator=generator, device=device)
            return x, cache[device](x)

        return Task(f"{self!r} member {list(subset)}", self.n, sampler)

    def teacher(self, member: int | Sequence[int] = 0) -> torch.nn.Module:
        """Build the network that computes ``member`` exactly, in its input dtype."""
        orbit = self.group.orbit(self.member_subset(member))
        return OrbitMonomialSum(orbit, self.n)

    def info(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "params": self.params,
            "group_order": self.group.order,
            "family_size": self.family_size,
            "norm_sq": 1.0,
            "norm_sq_method": "exact",
            "norm_sq_note": "every member is an orbit sum of orthonormal monomials "
            "scaled by |O|^(-1/2)",
            "max_orbit_size": self.max_orbit_size,
            "architecture": (
                f"sum of |O| product units of degree {self.k}, one per subset of "
                "the orbit, scaled by |O|^(-1/2) (sqrt(|O|) times the group average "
                "of one product unit)"
            ),
        }
