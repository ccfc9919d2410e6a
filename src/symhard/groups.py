"""Permutation groups acting on ``n`` points, and their orbits on index sets.

A group element is a permutation stored as an int64 array ``perm`` of length ``n``
that maps point ``i`` to ``perm[i]``. It acts on a vector by moving entries,
``(g . x)[perm[i]] = x[i]``, and on an index set ``S`` by taking the image
``{perm[i] for i in S}``. ``compose(g, h)`` is ``g`` after ``h``, so acting with
``compose(g, h)`` equals acting with ``h`` and then with ``g``.

The cyclic, dihedral, torus, symmetric and trivial groups have closed forms for
their order, random elements, membership and cycle types, so they work for large
``n`` without enumerating their elements. Groups given by generators are
enumerated once, when they are built.

Examples
--------
>>> group = cyclic(8)
>>> group
PermutationGroup(name='cyclic', n=8, order=8)
>>> group.count_orbits(4)
10
>>> group.canonical([1, 4, 6])
(0, 2, 5)
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from symhard._validation import (
    InvalidParameterError,
    LimitExceededError,
    SeedLike,
    as_generator,
    check_choice,
    check_int,
    invalid,
    missing,
)

__all__ = [
    "GROUP_NAMES",
    "MAX_POINTS",
    "MAX_SYMMETRIC_POINTS",
    "PermutationGroup",
    "compose",
    "cyclic",
    "dihedral",
    "generated",
    "inverse",
    "make_group",
    "symmetric",
    "torus",
    "trivial",
]

GROUP_NAMES: tuple[str, ...] = (
    "trivial",
    "cyclic",
    "dihedral",
    "torus",
    "symmetric",
    "generated",
)

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)

# Largest number of points of a group built by name. Every group stores its
# generators as int64 permutations of all points, and building the torus group
# creates about a dozen arrays of that length. At 2^24 points that took 1.1 GiB
# (measured peak on a shared 2-core machine).
MAX_POINTS = 2**24
# Largest size, in bits, of the binomial C(n, k) behind an exact orbit count.
# math.comb took about 3 s for C(660000, 330000), 660,000 bits, on a shared 2-core
# machine, so the limit keeps one count to seconds (an estimate).
MAX_COUNT_BITS = 2**19
# Largest number of points of the symmetric group, which stores its order n!
# exactly: computing it took 0.1 s at n = 100,000 and 6 s at n = 10^6 on a shared
# 2-core machine, an estimate.
MAX_SYMMETRIC_POINTS = 100_000

# A cycle structure lists (cycle length, number of cycles of that length) pairs in
# increasing order of length, for example ((1, 2), (2, 3)) for 2 fixed points and
# three 2-cycles. It stays small when n is large, unlike the list of all lengths.
CycleStructure = tuple[tuple[int, int], ...]


class PermutationGroup:
    """A finite group of permutations of the points ``0, ..., n - 1``.

    Build instances with :func:`trivial`, :func:`cyclic`, :func:`dihedral`,
    :func:`torus`, :func:`symmetric`, :func:`generated` or :func:`make_group`. The
    attributes are read-only, and so are the arrays they return.

    Parameters
    ----------
    name : str
        One of :data:`GROUP_NAMES`. It selects the closed forms used for the order,
        random elements, membership and cycle types.
    n : int
        Number of points.
    generators : numpy.ndarray
        Generating permutations, shape ``(r, n)``.
    order : int
        Number of elements.
    shape : tuple of int, default=None
        Grid shape ``(a, b)`` of a torus group, None for the other groups.
    elements : numpy.ndarray, default=None
        All elements with the identity first, shape ``(order, n)``. Generated groups
        pass them because computing the order already enumerates them.
    """

    __slots__ = (
        "_name",
        "_n",
        "_generators",
        "_order",
        "_shape",
        "_elements",
        "_element_keys",
    )

    def __init__(
        self,
        name: str,
        n: int,
        generators: np.ndarray,
        order: int,
        *,
        shape: tuple[int, int] | None = None,
        elements: np.ndarray | None = None,
    ) -> None:
        self._name = check_choice("name", name, GROUP_NAMES)
        self._n = check_int("n", n, low=1)
        self._generators = _read_only(np.array(generators, dtype=np.int64))
        self._order = int(order)
        self._shape = shape
        self._elements = None if elements is None else _read_only(elements)
        self._element_keys: dict[bytes, int] | None = None
        assert self._generators.ndim == 2
        assert self._generators.shape[1] == n
        assert (name == "torus") == (shape is not None)

    # ----------------------------------------------------------------- attributes

    @property
    def name(self) -> str:
        """Kind of group, one of :data:`GROUP_NAMES`."""
        return self._name

    @property
    def n(self) -> int:
        """Number of points the group acts on."""
        return self._n

    @property
    def order(self) -> int:
        """Number of elements, an exact Python int (``n!`` for the symmetric group)."""
        return self._order

    @property
    def generators(self) -> np.ndarray:
        """Generating permutations, a read-only int64 array of shape ``(r, n)``."""
        return self._generators

    @property
    def shape(self) -> tuple[int, int] | None:
        """Grid shape ``(a, b)`` of a torus group, None for the other groups."""
        return self._shape

    @property
    def identity(self) -> np.ndarray:
        """Identity permutation ``arange(n)``."""
        return np.arange(self._n, dtype=np.int64)

    @property
    def is_transitive(self) -> bool:
        """Whether the orbit of point 0 is all ``n`` points."""
        reached = np.zeros(self._n, dtype=bool)
        reached[0] = True
        frontier = np.array([0], dtype=np.int64)
        while frontier.size:
            images = np.unique(self._generators[:, frontier])
            frontier = images[~reached[images]]
            reached[frontier] = True
        return bool(reached.all())

    def __repr__(self) -> str:
        text = f"PermutationGroup(name={self._name!r}, n={self._n}, order={self._order}"
        if self._shape is not None:
            text += f", shape={self._shape}"
        return text + ")"

    # ---------------------------------------------------------------- elements

    def elements(self, max_elements: int = 100_000) -> np.ndarray:
        """Enumerate all elements, the identity first, in a fixed order.

        Rotations come in order of their shift, dihedral reflections
        ``i -> s - i`` follow the rotations, torus shifts ``(s, t)`` come with ``s``
        varying slowest, symmetric groups list permutations lexicographically and
        generated groups list them in breadth-first order from the identity. The
        result is cached and needs ``8 * order * n`` bytes.

        Parameters
        ----------
        max_elements : int, default=100_000
            Largest order that is enumerated.

        Returns
        -------
        numpy.ndarray
            Read-only int64 array of shape ``(order, n)``.

        Raises
        ------
        LimitExceededError
            If ``order > max_elements``.
        """
        max_elements = check_int("max_elements", max_elements, low=1)
        if self._order > max_elements:
            raise LimitExceededError(
                f"invalid value for 'group': {self._describe()} has {self._order} "
                f"elements, more than the limit max_elements={max_elements} for "
                "enumeration. Use a smaller group or n, or raise max_elements."
            )
        if self._elements is None:
            self._elements = _read_only(self._enumerate())
        return self._elements

    def _enumerate(self) -> np.ndarray:
        n = self._n
        points = np.arange(n, dtype=np.int64)
        if self._name == "trivial":
            return points[None, :]
        if self._name == "cyclic":
            return (points[None, :] + points[:, None]) % n
        if self._name == "dihedral":
            rotations = (points[None, :] + points[:, None]) % n
            reflections = (points[:, None] - points[None, :]) % n
            return np.concatenate([rotations, reflections])
        if self._name == "torus":
            a, b = self._shape
            row_shifts = np.repeat(np.arange(a, dtype=np.int64), b)
            column_shifts = np.tile(np.arange(b, dtype=np.int64), a)
            return _torus_images(points, row_shifts, column_shifts, a, b)
        if self._name == "symmetric":
            permutations = list(itertools.permutations(range(n)))
            return np.array(permutations, dtype=np.int64).reshape(self._order, n)
        raise AssertionError(f"generated groups are enumerated when built: {self!r}")

    def random_element(self, seed: SeedLike = None) -> np.ndarray:
        """Draw an element uniformly at random.

        Only generated groups enumerate their elements, the others use closed forms.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None, default=None
            Source of randomness, converted with ``as_generator``.

        Returns
        -------
        numpy.ndarray
            A new int64 permutation of length ``n``.
        """
        rng = as_generator(seed)
        n = self._n
        points = np.arange(n, dtype=np.int64)
        if self._name == "trivial":
            return points
        if self._name == "cyclic":
            return (points + int(rng.integers(n))) % n
        if self._name == "dihedral":
            index = int(rng.integers(2 * n))
            if index < n:
                return (points + index) % n
            return (index - n - points) % n
        if self._name == "torus":
            a, b = self._shape
            row_shift, column_shift = divmod(int(rng.integers(a * b)), b)
            return _torus_images(points, np.array([row_shift]), column_shift, a, b)[0]
        if self._name == "symmetric":
            return rng.permutation(n).astype(np.int64)
        elements = self.elements(max_elements=self._order)
        return elements[int(rng.integers(self._order))].copy()

    def contains(self, perm: Any) -> bool:
        """Return whether ``perm`` is an element of the group.

        An array of the wrong length, or one that is not a permutation of
        ``range(n)``, is not an element. Only generated groups look ``perm`` up among
        their enumerated elements.

        Raises
        ------
        InvalidParameterError
            If ``perm`` is not a one-dimensional array of integers.
        """
        values = _integer_vector("perm", perm)
        n = self._n
        if values.shape[0] != n or not _is_permutation(values):
            return False
        points = np.arange(n, dtype=np.int64)
        first = int(values[0])
        if self._name == "trivial":
            return bool(np.array_equal(values, points))
        if self._name == "cyclic":
            return bool(np.array_equal(values, (points + first) % n))
        if self._name == "dihedral":
            rotation = (points + first) % n
            reflection = (first - points) % n
            return bool(
                np.array_equal(values, rotation) or np.array_equal(values, reflection)
            )
        if self._name == "torus":
            a, b = self._shape
            row_shift, column_shift = divmod(first, b)
            image = _torus_images(points, np.array([row_shift]), column_shift, a, b)
            return bool(np.array_equal(values, image[0]))
        if self._name == "symmetric":
            return True
        if self._element_keys is None:
            elements = self.elements(max_elements=self._order)
            self._element_keys = {row.tobytes(): i for i, row in enumerate(elements)}
        return values.tobytes() in self._element_keys

    # ------------------------------------------------------------------ actions

    def act(self, g: Any, x: ArrayOrTensor, axis: int = -1) -> ArrayOrTensor:
        """Apply ``g`` to ``x`` along ``axis``: ``(g . x)[g[i]] = x[i]``.

        The leading and trailing axes are batch axes. A torch tensor stays on its
        device and keeps its gradient, and other inputs become NumPy arrays.

        Parameters
        ----------
        g : array-like of int
            A permutation of ``range(n)``. Membership in the group is not checked.
        x : numpy.ndarray or torch.Tensor
            Array whose ``axis`` has length ``n``.
        axis : int, default=-1
            Axis along which the entries move.

        Returns
        -------
        numpy.ndarray or torch.Tensor
            A new array of the same type and shape as ``x``.
        """
        perm = _as_permutation("g", g, self._n)
        if not isinstance(x, torch.Tensor):
            x = np.asarray(x)
        if x.ndim == 0:
            raise invalid("x", f"an array with an axis of length n={self._n}", x)
        axis = check_int("axis", axis, low=-x.ndim, high=x.ndim - 1)
        if x.shape[axis] != self._n:
            raise invalid(
                "x", f"an array whose axis {axis} has length n={self._n}", x.shape
            )
        # Gathering with the inverse moves x[i] to position perm[i].
        source = inverse(perm)
        if isinstance(x, torch.Tensor):
            index = torch.as_tensor(source, device=x.device)
            return torch.index_select(x, axis % x.ndim, index)
        return np.take(x, source, axis=axis)

    def act_on_set(self, g: Any, subset: Iterable[int]) -> tuple[int, ...]:
        """Return the image ``{g[i] for i in subset}`` as a sorted tuple."""
        perm = _as_permutation("g", g, self._n)
        points = _as_subset(subset, self._n)
        return tuple(sorted(int(point) for point in perm[points]))

    # ------------------------------------------------------------------- orbits

    def orbit(self, subset: Iterable[int], max_size: int = 1_000_000) -> np.ndarray:
        """List all images of ``subset`` under the group.

        Parameters
        ----------
        subset : iterable of int
            Distinct points, ``k`` of them.
        max_size : int, default=1_000_000
            Largest orbit that is returned.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(orbit size, k)``. Each row is sorted, and the
            rows are in lexicographic order.

        Raises
        ------
        LimitExceededError
            If the orbit has more than ``max_size`` elements. For the symmetric
            group this is checked before the ``C(n, k)`` subsets are listed.
        """
        points = _as_subset(subset, self._n)
        max_size = check_int("max_size", max_size, low=1)
        k = points.shape[0]
        if self._name == "symmetric":
            size = math.comb(self._n, k)
            self._check_orbit_size(size, k, max_size)
            combinations = list(itertools.combinations(range(self._n), k))
            return np.array(combinations, dtype=np.int64).reshape(size, k)
        rows = self._orbit_rows(points)
        self._check_orbit_size(rows.shape[0], k, max_size)
        return rows

    def _check_orbit_size(self, size: int, k: int, max_size: int) -> None:
        if size > max_size:
            raise LimitExceededError(
                f"invalid value for 'subset': the orbit of this {k}-subset under "
                f"{self._describe()} has {size} elements, more than the limit "
                f"max_size={max_size}. Use orbit_size or canonical, or raise max_size."
            )

    def orbit_size(self, subset: Iterable[int]) -> int:
        """Return the number of distinct images of ``subset``.

        The symmetric group gives ``C(n, k)`` and the trivial group gives 1 without
        listing the orbit.
        """
        points = _as_subset(subset, self._n)
        if self._name == "symmetric":
            return math.comb(self._n, points.shape[0])
        if self._name == "trivial":
            return 1
        return int(self._orbit_rows(points).shape[0])

    def canonical(self, subset: Iterable[int]) -> tuple[int, ...]:
        """Return the lexicographically smallest image of ``subset`` (sorted)."""
        points = _as_subset(subset, self._n)
        if self._name == "symmetric":
            return tuple(range(points.shape[0]))
        if self._name == "trivial":
            return tuple(int(point) for point in points)
        return tuple(int(point) for point in self._orbit_rows(points)[0])

    def stabilizer_size(self, subset: Iterable[int]) -> int:
        """Return the number of elements that map ``subset`` onto itself.

        It equals ``order / orbit_size(subset)`` by the orbit-stabilizer theorem.
        """
        orbit_size = self.orbit_size(subset)
        assert self._order % orbit_size == 0
        return self._order // orbit_size

    def _orbit_rows(self, points: np.ndarray) -> np.ndarray:
        """Return the distinct sorted images of ``points``, rows in lexicographic order.

        Closed-form groups compute the ``(order, k)`` images directly, so they never
        hold the ``(order, n)`` element array.
        """
        k = points.shape[0]
        if k == 0:
            return np.empty((1, 0), dtype=np.int64)
        n = self._n
        if self._name == "trivial":
            images = points[None, :]
        elif self._name == "cyclic":
            shifts = np.arange(n, dtype=np.int64)[:, None]
            images = (points[None, :] + shifts) % n
        elif self._name == "dihedral":
            shifts = np.arange(n, dtype=np.int64)[:, None]
            rotations = (points[None, :] + shifts) % n
            reflections = (shifts - points[None, :]) % n
            images = np.concatenate([rotations, reflections])
        elif self._name == "torus":
            a, b = self._shape
            row_shifts = np.repeat(np.arange(a, dtype=np.int64), b)
            column_shifts = np.tile(np.arange(b, dtype=np.int64), a)
            images = _torus_images(points, row_shifts, column_shifts, a, b)
        else:
            images = self.elements(max_elements=self._order)[:, points]
        return np.unique(np.sort(images, axis=1), axis=0)

    # ------------------------------------------------------------- cycle types

    def cycle_type_counts(
        self, *, max_types: int = 100_000
    ) -> dict[tuple[int, ...], int]:
        """Count the elements of each cycle type.

        Closed-form groups derive the counts without enumerating elements. The
        symmetric group lists the partitions of ``n``, so it is limited to
        ``max_types`` of them (``n = 60`` has 966467). Generated groups use their
        enumerated elements.

        Parameters
        ----------
        max_types : int, default=100_000
            Largest number of cycle types that is returned.

        Returns
        -------
        dict
            Maps the sorted cycle lengths, fixed points included as 1, to the number
            of elements with those lengths. Keys are in increasing order, and the
            counts sum to ``order``.

        Raises
        ------
        LimitExceededError
            If there are more than ``max_types`` cycle types.
        """
        max_types = check_int("max_types", max_types, low=1)
        structures = self._cycle_structure_counts(max_types)
        if len(structures) > max_types:
            raise self._too_many_types_error(max_types)
        counts: dict[tuple[int, ...], int] = {}
        for structure, count in structures.items():
            lengths: list[int] = []
            for length, multiplicity in structure:
                lengths.extend([length] * multiplicity)
            counts[tuple(lengths)] = count
        return dict(sorted(counts.items()))

    def _too_many_types_error(self, max_types: int) -> LimitExceededError:
        return LimitExceededError(
            f"invalid value for 'group': {self._describe()} has more than "
            f"max_types={max_types} cycle types. Use a smaller n or raise max_types."
        )

    def _cycle_structure_counts(
        self, max_types: int | None = None
    ) -> dict[CycleStructure, int]:
        """Count elements per cycle structure, with max_types bounding S_n."""
        n = self._n
        counts: Counter[CycleStructure] = Counter()
        if self._name == "trivial":
            counts[((1, n),)] = 1
        elif self._name in ("cyclic", "dihedral"):
            # For each divisor d of n, phi(d) rotations have order d, and each of
            # them splits the n points into n / d cycles of length d.
            for divisor in _divisors(n):
                counts[((divisor, n // divisor),)] += _totient(divisor)
            if self._name == "dihedral":
                if n % 2 == 1:
                    counts[((1, 1), (2, (n - 1) // 2))] += n
                else:
                    counts[((1, 2), (2, (n - 2) // 2))] += n // 2
                    counts[((2, n // 2),)] += n // 2
        elif self._name == "torus":
            # The shift (s, t) has order lcm(a / gcd(s, a), b / gcd(t, b)), and
            # phi(d) shifts s in C_a have a / gcd(s, a) = d.
            a, b = self._shape
            for row_order in _divisors(a):
                for column_order in _divisors(b):
                    length = math.lcm(row_order, column_order)
                    count = _totient(row_order) * _totient(column_order)
                    counts[((length, n // length),)] += count
        elif self._name == "symmetric":
            for partition in _partitions(n):
                if max_types is not None and len(counts) == max_types:
                    raise self._too_many_types_error(max_types)
                structure = tuple(sorted(Counter(partition).items()))
                counts[structure] = _count_with_cycle_structure(n, structure)
        else:
            counts.update(_enumerated_cycle_structures(self.elements(self._order)))
        assert sum(counts.values()) == self._order
        return dict(counts)

    def count_orbits(self, k: int) -> int:
        """Count the orbits of ``k``-subsets by Burnside's lemma.

        The count is ``(1 / order) * sum over g of #{k-subsets fixed by g}``, and an
        element with cycle lengths ``l_1, ..., l_c`` fixes as many ``k``-subsets as
        the coefficient of ``t^k`` in ``prod_j (1 + t^{l_j})``. Subsets are never
        listed, and only generated groups enumerate their elements. The arithmetic
        uses exact Python integers.

        Parameters
        ----------
        k : int
            Subset size, in ``[0, n]``.

        Returns
        -------
        int
            Number of orbits.
        """
        n = self._n
        k = check_int("k", k, low=0, high=n, high_text=f"n={n}")
        if self._name == "symmetric":
            return 1
        _check_binomial_size(n, k)
        if self._name == "trivial":
            return math.comb(n, k)
        total = 0
        for structure, count in self._cycle_structure_counts().items():
            total += count * _fixed_subset_count(structure, k)
        assert total % self._order == 0
        return total // self._order

    def _describe(self) -> str:
        if self._shape is not None:
            a, b = self._shape
            return f"the torus group C_{a} x C_{b} on {self._n} points"
        return f"the {self._name} group on {self._n} points"


# ----------------------------------------------------------------- constructors


def trivial(n: int) -> PermutationGroup:
    """Build the group that contains only the identity on ``n >= 1`` points."""
    n = check_int("n", n, low=1)
    _check_points(n)
    identity = np.arange(n, dtype=np.int64)
    return PermutationGroup("trivial", n, identity[None, :], 1)


def cyclic(n: int) -> PermutationGroup:
    """Build the cyclic group C_n of rotations ``i -> i + s mod n``, ``n >= 1``."""
    n = check_int("n", n, low=1)
    _check_points(n)
    shift = (np.arange(n, dtype=np.int64) + 1) % n
    return PermutationGroup("cyclic", n, shift[None, :], n)


def dihedral(n: int) -> PermutationGroup:
    """Build the dihedral group D_n of order ``2n``, the symmetries of an n-gon.

    It is generated by the rotation ``i -> i + 1 mod n`` and the reflection
    ``i -> -i mod n``, and needs ``n >= 3``.
    """
    n = check_int("n", n, low=3)
    _check_points(n)
    points = np.arange(n, dtype=np.int64)
    generators = np.stack([(points + 1) % n, (-points) % n])
    return PermutationGroup("dihedral", n, generators, 2 * n)


def torus(a: int, b: int) -> PermutationGroup:
    """Build C_a x C_b acting by cyclic shifts on an ``a x b`` grid.

    Point ``(i, j)`` has index ``i * b + j`` (row-major order), and the shift
    ``(s, t)`` maps it to ``((i + s) mod a, (j + t) mod b)``. The generators shift
    the rows by one and the columns by one.
    """
    a = check_int("a", a, low=1)
    b = check_int("b", b, low=1)
    _check_points(a * b)
    points = np.arange(a * b, dtype=np.int64)
    generators = _torus_images(points, np.array([1, 0]), np.array([0, 1]), a, b)
    return PermutationGroup("torus", a * b, generators, a * b, shape=(a, b))


def symmetric(n: int) -> PermutationGroup:
    """Build the symmetric group S_n of all ``n!`` permutations, ``n >= 1``.

    It is generated by the transposition ``(0 1)`` and the rotation
    ``i -> i + 1 mod n``.
    """
    n = check_int("n", n, low=1)
    _check_points(n, limit=MAX_SYMMETRIC_POINTS)
    points = np.arange(n, dtype=np.int64)
    transposition = points.copy()
    if n > 1:
        transposition[[0, 1]] = [1, 0]
    rotation = (points + 1) % n
    # For n <= 2 the rotation equals the transposition or the identity.
    if n <= 2:
        generators = transposition[None, :]
    else:
        generators = np.stack([transposition, rotation])
    return PermutationGroup("symmetric", n, generators, math.factorial(n))


def generated(
    generators: Sequence[Sequence[int]] | np.ndarray, *, max_order: int = 100_000
) -> PermutationGroup:
    """Build the group generated by ``generators`` and enumerate its elements.

    The closure is a breadth-first search from the identity: each step composes
    every new element with every generator. Elements come out in that order.

    Parameters
    ----------
    generators : array-like of int or str
        One or more permutations of ``range(n)``, shape ``(r, n)``, ``n >= 1``. A
        string lists the images of each permutation separated by commas and the
        permutations by ``/``: ``"1,2,0,3/0,1,3,2"``.
    max_order : int, default=100_000
        Largest group order that is enumerated.

    Returns
    -------
    PermutationGroup
        A group whose ``name`` is ``'generated'``.

    Raises
    ------
    InvalidParameterError
        If a generator is not a permutation, or the lengths differ.
    LimitExceededError
        If the group has more than ``max_order`` elements.
    """
    max_order = check_int("max_order", max_order, low=1)
    rows = _as_generator_rows(generators)
    n = rows.shape[1]
    identity = np.arange(n, dtype=np.int64)
    seen = {identity.tobytes()}
    found = [identity]
    frontier = identity[None, :]
    while frontier.shape[0]:
        # products[j, m] = rows[j] after frontier[m], that is rows[j][frontier[m]].
        products = rows[:, frontier].reshape(-1, n)
        new_rows = []
        for product in products:
            key = product.tobytes()
            if key in seen:
                continue
            if len(seen) == max_order:
                raise LimitExceededError(
                    "invalid value for 'generators': they generate a group with "
                    f"more than max_order={max_order} elements, the limit for "
                    "enumeration. Use other generators or raise max_order."
                )
            seen.add(key)
            new_rows.append(product)
        frontier = np.array(new_rows, dtype=np.int64).reshape(-1, n)
        found.extend(new_rows)
    elements = np.array(found, dtype=np.int64)
    return PermutationGroup("generated", n, rows, len(found), elements=elements)


def make_group(
    name: str,
    n: int | None = None,
    *,
    shape: tuple[int, int] | None = None,
    generators: Sequence[Sequence[int]] | np.ndarray | None = None,
) -> PermutationGroup:
    """Build a group by name, for configuration files and the command line.

    Parameters
    ----------
    name : str
        One of :data:`GROUP_NAMES`. The error for another value names it 'group'.
    n : int, default=None
        Number of points, at least 1 (3 for 'dihedral'). Required unless ``name``
        is 'generated' or ``shape`` is given. If given for those, it must match.
    shape : tuple of int, default=None
        Grid shape ``(a, b)`` for 'torus'. Without it ``n`` must be a perfect
        square, and the grid is ``(sqrt(n), sqrt(n))``. Other groups reject it.
    generators : array-like of int, default=None
        Permutations for 'generated', see :func:`generated`. Other groups reject it.

    Returns
    -------
    PermutationGroup
    """
    name = check_choice("group", name, GROUP_NAMES)
    min_points = 3 if name == "dihedral" else 1
    if n is not None:
        n = check_int("n", n, low=min_points)
    if generators is not None and name != "generated":
        raise InvalidParameterError(
            "invalid value for 'generators': expected None unless group is "
            f"'generated', got generators for group {name!r}"
        )
    if shape is not None and name != "torus":
        raise invalid("shape", "None unless group is 'torus'", shape)
    if name == "generated":
        if generators is None:
            raise missing("generators", "permutations when group is 'generated'")
        group = generated(generators)
        if n is not None and n != group.n:
            raise invalid("n", f"None or the generators' length {group.n}", n)
        return group
    if name == "torus" and shape is not None:
        a, b = _as_shape(shape)
        if n is not None and n != a * b:
            raise invalid("n", f"None or a*b={a * b} for shape={shape}", n)
        return torus(a, b)
    if n is None:
        raise missing("n", f"an integer >= {min_points}")
    if name == "torus":
        side = math.isqrt(n)
        if side * side != n:
            raise missing(
                "shape", f"a pair (a, b), because n={n} is not a perfect square"
            )
        return torus(side, side)
    constructors = {
        "trivial": trivial,
        "cyclic": cyclic,
        "dihedral": dihedral,
        "symmetric": symmetric,
    }
    return constructors[name](n)


# ----------------------------------------------------------------- permutations


def _check_points(n: int, limit: int | None = None) -> None:
    limit = MAX_POINTS if limit is None else limit
    if n > limit:
        raise LimitExceededError(
            f"invalid value for 'n': expected at most {limit} points for this "
            f"group, got {n}; use a smaller n"
        )


def compose(g: Any, h: Any) -> np.ndarray:
    """Return ``g`` after ``h``, the permutation ``i -> g[h[i]]``."""
    outer = _integer_vector("g", g)
    outer = _as_permutation("g", outer, outer.shape[0])
    inner = _as_permutation("h", h, outer.shape[0])
    return outer[inner]


def inverse(g: Any) -> np.ndarray:
    """Return the inverse permutation of ``g``."""
    values = _integer_vector("g", g)
    perm = _as_permutation("g", values, values.shape[0])
    result = np.empty_like(perm)
    result[perm] = np.arange(perm.shape[0], dtype=np.int64)
    return result


def _integer_vector(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    is_integer = array.size == 0 or np.issubdtype(array.dtype, np.integer)
    if array.ndim != 1 or not is_integer:
        raise invalid(name, "a one-dimensional array of integers", value)
    return array.astype(np.int64, copy=False)


def _is_permutation(values: np.ndarray) -> bool:
    n = values.shape[0]
    if n == 0 or values.min() < 0 or values.max() >= n:
        return False
    return bool(np.bincount(values, minlength=n).max() == 1)


def _as_permutation(name: str, value: Any, n: int) -> np.ndarray:
    values = _integer_vector(name, value)
    if values.shape[0] != n or not _is_permutation(values):
        raise invalid(name, f"a permutation of range({n})", values.tolist())
    return np.ascontiguousarray(values)


def _as_subset(subset: Iterable[int], n: int) -> np.ndarray:
    """Return the points of ``subset`` as a sorted int64 array, after checking them."""
    if isinstance(subset, torch.Tensor):
        subset = subset.detach().cpu().numpy()
    if isinstance(subset, set | frozenset):
        subset = sorted(subset)
    allowed = f"distinct point indices in [0, {n - 1}]"
    try:
        array = subset if isinstance(subset, np.ndarray) else np.asarray(list(subset))
    except (TypeError, ValueError):
        raise invalid("subset", allowed, subset) from None
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise invalid("subset", allowed, subset)
    points = np.sort(array.astype(np.int64))
    if points[0] < 0 or points[-1] >= n or np.any(points[1:] == points[:-1]):
        raise invalid("subset", allowed, array.tolist())
    return points


def _as_generator_rows(generators: Any) -> np.ndarray:
    allowed = (
        "one or more permutations of range(n) with the same n >= 1, on the "
        "command line as images separated by commas and permutations by '/' "
        "(1,2,0,3/0,1,3,2)"
    )
    if isinstance(generators, str):
        try:
            generators = [
                [int(image) for image in row.split(",")]
                for row in generators.split("/")
            ]
        except ValueError:
            raise invalid("generators", allowed, generators) from None
    if isinstance(generators, torch.Tensor):
        generators = generators.detach().cpu().numpy()
    if isinstance(generators, np.ndarray):
        rows = list(generators) if generators.ndim == 2 else None
    elif isinstance(generators, Iterable) and not isinstance(generators, str):
        rows = list(generators)
    else:
        rows = None
    if not rows:
        raise invalid("generators", allowed, generators)
    checked = [_integer_vector("generators", row) for row in rows]
    n = checked[0].shape[0]
    for index, row in enumerate(checked):
        if row.shape[0] != n or not _is_permutation(row):
            raise InvalidParameterError(
                "invalid value for 'generators': expected every row to be a "
                f"permutation of range({n}), got row {index} = {row.tolist()}"
            )
    return np.stack(checked).astype(np.int64)


def _as_shape(shape: Any) -> tuple[int, int]:
    allowed = "a pair (a, b) of integers >= 1"
    if isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) != 2:
        raise invalid("shape", allowed, shape)
    sides = []
    for side in shape:
        if isinstance(side, bool) or not isinstance(side, int | np.integer) or side < 1:
            raise invalid("shape", allowed, shape)
        sides.append(int(side))
    return sides[0], sides[1]


def _torus_images(
    points: np.ndarray,
    row_shifts: np.ndarray,
    column_shifts: np.ndarray | int,
    a: int,
    b: int,
) -> np.ndarray:
    """Return the images of grid ``points`` under each shift, shape ``(shifts, k)``."""
    rows, columns = np.divmod(points, b)
    row_shifts = np.asarray(row_shifts, dtype=np.int64).reshape(-1, 1)
    column_shifts = np.asarray(column_shifts, dtype=np.int64).reshape(-1, 1)
    new_rows = (rows[None, :] + row_shifts) % a
    new_columns = (columns[None, :] + column_shifts) % b
    return new_rows * b + new_columns


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# ------------------------------------------------------------------- counting


def _divisors(m: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(m) + 1) if m % d == 0]
    large = [m // d for d in reversed(small) if d * d != m]
    return small + large


def _totient(m: int) -> int:
    """Return Euler's phi(m), the count of ``1 <= s <= m`` coprime to ``m``."""
    result = m
    remaining = m
    prime = 2
    while prime * prime <= remaining:
        if remaining % prime == 0:
            while remaining % prime == 0:
                remaining //= prime
            result -= result // prime
        prime += 1
    if remaining > 1:
        result -= result // remaining
    return result


def _partitions(n: int, largest: int | None = None) -> Iterator[tuple[int, ...]]:
    """Yield the partitions of ``n`` as non-increasing tuples."""
    largest = n if largest is None else largest
    if n == 0:
        yield ()
        return
    for part in range(min(n, largest), 0, -1):
        for rest in _partitions(n - part, part):
            yield (part, *rest)


def _count_with_cycle_structure(n: int, structure: CycleStructure) -> int:
    """Return the number of permutations of ``n`` points with this cycle structure.

    It is ``n! / prod over lengths l of (l^m_l * m_l!)``, where ``m_l`` counts the
    cycles of length ``l``.
    """
    denominator = 1
    for length, multiplicity in structure:
        denominator *= length**multiplicity * math.factorial(multiplicity)
    return math.factorial(n) // denominator


def _log2_binomial(n: int, k: int) -> float:
    log_binomial = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_binomial / math.log(2)


def _check_binomial_size(n: int, k: int) -> None:
    """Reject ``k`` when ``C(n, k)`` has more than ``MAX_COUNT_BITS`` bits."""
    if _log2_binomial(n, k) <= MAX_COUNT_BITS:
        return
    low, high = 0, n // 2  # the largest k <= n / 2 within the limit, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if _log2_binomial(n, middle) <= MAX_COUNT_BITS:
            low = middle
        else:
            high = middle - 1
    raise LimitExceededError(
        f"invalid value for 'k': counting orbits exactly needs C({n}, {k}), an "
        f"integer of about {_log2_binomial(n, k) * math.log10(2):.3g} digits, over "
        f"the limit of {MAX_COUNT_BITS * math.log10(2):.3g} digits; use k <= {low} "
        f"or k >= {n - low}"
    )


def _fixed_subset_count(structure: CycleStructure, k: int) -> int:
    """Return the coefficient of ``t^k`` in ``prod over cycles (1 + t^length)``.

    A permutation fixes a ``k``-subset exactly when the subset is a union of its
    cycles, so this counts the ``k``-subsets it fixes.
    """
    if len(structure) == 1:
        length, multiplicity = structure[0]
        return math.comb(multiplicity, k // length) if k % length == 0 else 0
    coefficients = [1] + [0] * k
    *first, (last_length, last_multiplicity) = structure
    for length, multiplicity in first:
        # (1 + t^length)^multiplicity, truncated above degree k.
        terms = [
            (i * length, math.comb(multiplicity, i))
            for i in range(min(multiplicity, k // length) + 1)
        ]
        product = [0] * (k + 1)
        for degree, coefficient in enumerate(coefficients):
            if coefficient == 0:
                continue
            for shift, binomial in terms:
                if degree + shift > k:
                    break
                product[degree + shift] += coefficient * binomial
        coefficients = product
    # Only the coefficient of t^k is needed from the last factor, so its binomials
    # are computed for the few degrees that reach k, not for all of them.
    return sum(
        coefficient * math.comb(last_multiplicity, (k - degree) // last_length)
        for degree, coefficient in enumerate(coefficients)
        if coefficient and (k - degree) % last_length == 0
    )


def _enumerated_cycle_structures(elements: np.ndarray) -> Counter[CycleStructure]:
    """Count the cycle structures of the rows of ``elements``.

    Point ``i`` of element ``g`` lies on a cycle of length ``m``, the smallest
    ``m`` with ``g^m(i) = i``. Elements are grouped by their sorted point lengths
    first, so the cycle structure is built once per distinct cycle type.
    """
    order, n = elements.shape
    identity = np.arange(n, dtype=np.int64)
    point_lengths = np.zeros_like(elements)
    power = elements.copy()
    for exponent in range(1, n + 1):
        closed = (power == identity[None, :]) & (point_lengths == 0)
        point_lengths[closed] = exponent
        if point_lengths.all():
            break
        power = np.take_along_axis(elements, power, axis=1)
    assert point_lengths.all()
    sorted_lengths = np.sort(point_lengths, axis=1)
    types, counts = np.unique(sorted_lengths, axis=0, return_counts=True)
    structures: Counter[CycleStructure] = Counter()
    for lengths, count in zip(types, counts, strict=True):
        points_per_length = Counter(int(length) for length in lengths)
        structure = tuple(
            (length, points // length)
            for length, points in sorted(points_per_length.items())
        )
        structures[structure] += int(count)
    return structures
