"""Members that are orbits of ``k``-subsets under a permutation group.

``parity-relu`` and ``invariant-monomial`` both have one member per orbit of
``k``-subsets of the ``n`` coordinates. This module contains what they share: the
group from its name, member lookup by index or subset, and random members.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch

from symhard._validation import LimitExceededError, check_choice, check_int, invalid
from symhard.families.base import HardFamily
from symhard.groups import GROUP_NAMES, PermutationGroup, make_group
from symhard.learners import make_learner

# Subsets examined when looking up a member by index before giving up.
MAX_SCANNED_SUBSETS = 20_000_000

Member = int | Sequence[int]


class SubsetOrbitFamily(HardFamily):
    """A family with one member per orbit of ``k``-subsets of ``range(n)``.

    A member is either an index in ``[0, family_size)``, counting orbits in the
    lexicographic order of their canonical (lexicographically smallest) subsets,
    or a ``k``-subset, which stands for its orbit. Subclasses call
    :meth:`_set_group` from their constructor.
    """

    n: int
    k: int
    group: PermutationGroup

    def _group_params(self) -> dict[str, str]:
        """Return the parameters that rebuild ``self.group`` from strings."""
        params = {"group": self.group.name}
        if self.group.shape is not None:
            params["shape"] = "x".join(str(side) for side in self.group.shape)
        if self.group.name == "generated":
            params["generators"] = "/".join(
                ",".join(str(image) for image in row) for row in self.group.generators
            )
        return params

    def _set_group(
        self,
        group: str | PermutationGroup,
        shape: str | None,
        generators: str | Sequence[Sequence[int]] | None = None,
    ) -> None:
        if isinstance(group, PermutationGroup):
            if group.n != self.n:
                raise invalid("group", f"a group acting on n={self.n} points", group)
            self.group = group
        else:
            check_choice("group", group, GROUP_NAMES)
            self.group = make_group(
                group, self.n, shape=parse_shape(shape), generators=generators
            )

    @cached_property
    def family_size(self) -> int:
        return self.group.count_orbits(self.k)

    def member_subset(self, member: Member) -> tuple[int, ...]:
        """Return the canonical subset of ``member`` (an index or a subset)."""
        if isinstance(member, int | np.integer) and not isinstance(member, bool):
            index = check_int(
                "member",
                member,
                low=0,
                high=self.family_size - 1,
                high_text=f"family_size - 1 = {self.family_size - 1}",
            )
            return self._nth_canonical_subset(index)
        subset = check_subset(member, self.n, self.k)
        return self.group.canonical(subset)

    def member_description(self, member: Member = 0) -> dict[str, Any]:
        subset = self.member_subset(member)
        return {"subset": list(subset), "orbit_size": self.group.orbit_size(subset)}

    def sample_memory_bytes(self, num: int) -> int:
        """Estimate ``sample(num)``: ``x`` (num, n) and ``y`` (num,) in float64.

        Labels are computed in chunks of bounded size and then joined, which adds
        one more copy of ``y``.
        """
        return 8 * num * (self.n + 2)

    def random_member(self, rng: np.random.Generator) -> tuple[int, ...]:
        """Draw a uniformly random ``k``-subset; its orbit is the member."""
        subset = np.sort(rng.choice(self.n, size=self.k, replace=False))
        return self.group.canonical(tuple(int(i) for i in subset))

    def make_learner(
        self, name: str, *, width: int = 256, depth: int = 2
    ) -> torch.nn.Module:
        activation = getattr(self, "activation", "relu")
        return make_learner(
            name, self.group, width=width, depth=depth, activation=activation
        )

    def _nth_canonical_subset(self, index: int) -> tuple[int, ...]:
        if self.group.name == "trivial":
            return unrank_combination(self.n, self.k, index)
        if self.group.name == "symmetric":
            return tuple(range(self.k))
        elements = self.group.elements()
        seen = 0
        scanned = 0
        combinations = itertools.combinations(range(self.n), self.k)
        while scanned < MAX_SCANNED_SUBSETS:
            chunk = np.array(list(itertools.islice(combinations, 8192)))
            if len(chunk) == 0:
                break
            scanned += len(chunk)
            canonical = chunk[is_canonical(elements, chunk)]
            if seen + len(canonical) > index:
                return tuple(int(i) for i in canonical[index - seen])
            seen += len(canonical)
        raise LimitExceededError(
            f"invalid value for 'member': finding member {index} needs a scan past "
            f"{MAX_SCANNED_SUBSETS} subsets; pass the member as a subset instead"
        )


def is_canonical(elements: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Mark the subsets (sorted rows) that no group element maps lower.

    Parameters
    ----------
    elements : ndarray of shape (order, n)
    subsets : ndarray of shape (batch, k)

    Returns
    -------
    ndarray of shape (batch,), bool
    """
    images = np.sort(elements[:, subsets], axis=-1)  # (|G|, batch, k)
    difference = images - subsets[None]
    nonzero = difference != 0
    first = nonzero.argmax(axis=-1)
    leading = np.take_along_axis(difference, first[..., None], axis=-1)[..., 0]
    smaller = nonzero.any(axis=-1) & (leading < 0)
    return ~smaller.any(axis=0)


def unrank_combination(n: int, k: int, index: int) -> tuple[int, ...]:
    """Return the ``index``-th ``k``-subset of ``range(n)`` in lexicographic order."""
    subset = []
    start = 0
    for remaining in range(k, 0, -1):
        for candidate in range(start, n):
            block = math.comb(n - candidate - 1, remaining - 1)
            if index < block:
                subset.append(candidate)
                start = candidate + 1
                break
            index -= block
    return tuple(subset)


def check_subset(member: Any, n: int, k: int) -> tuple[int, ...]:
    """Return ``member`` as a sorted ``k``-subset of ``range(n)``, or raise."""
    allowed = f"{k} distinct integers in [0, {n - 1}], or a member index"
    try:
        subset = tuple(sorted(int(i) for i in member))
    except (TypeError, ValueError):
        raise invalid("member", allowed, member) from None
    if len(set(subset)) != k or subset[0] < 0 or subset[-1] >= n:
        raise invalid("member", allowed, member)
    return subset


def parse_shape(shape: str | Sequence[int] | None) -> tuple[int, int] | None:
    """Read a grid ``"AxB"`` (or a pair) for the torus group; None stays None."""
    if shape is None or isinstance(shape, tuple):
        return shape
    try:
        rows, columns = (int(part) for part in str(shape).lower().split("x"))
    except ValueError:
        raise invalid("shape", "a grid AxB such as 4x6", shape) from None
    if rows < 1 or columns < 1:
        raise invalid("shape", "a grid AxB with A, B >= 1", shape)
    return rows, columns
