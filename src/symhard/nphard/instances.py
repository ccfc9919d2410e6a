"""Set Splitting instances: construction, random draws, text files and splits.

Set Splitting is the NP-complete problem of deciding whether the elements ``1..d``
can be divided into two parts so that no set ``C_j`` lies entirely inside one part.
Elements are numbered from 1 everywhere in this package, so element ``i`` is stored
at index ``i - 1`` of every per-element array.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symhard._validation import (
    InvalidParameterError,
    SeedLike,
    as_generator,
    check_int,
    invalid,
)

logger = logging.getLogger(__name__)

Split = tuple[int, ...]
"""A split of elements ``1..d``: entry ``i - 1`` is the part (1 or 2) of element i."""

_REPR_MAX_SETS = 8


@dataclass(frozen=True)
class SetSplittingInstance:
    """A Set Splitting instance over the elements ``1..n_elements``.

    Parameters
    ----------
    n_elements : int
        Number of elements d, at least 1.
    sets : sequence of sequence of int
        The sets ``C_1..C_r``. Each set is non-empty and contains distinct element
        numbers in ``[1, n_elements]``. Each set is stored sorted, as a tuple.

    Raises
    ------
    InvalidParameterError
        If ``n_elements`` is not a positive integer, a set is empty, or an element
        is out of range or repeated within its set.
    """

    n_elements: int
    sets: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        n_elements = check_int("n_elements", self.n_elements, low=1)
        normalized = []
        for index, raw_set in enumerate(self.sets):
            name = f"sets[{index}]"
            elements = [
                check_int(
                    name,
                    element,
                    low=1,
                    high=n_elements,
                    high_text=f"n_elements={n_elements}",
                )
                for element in raw_set
            ]
            if not elements:
                raise invalid(name, "a non-empty set of elements", tuple(raw_set))
            if len(set(elements)) != len(elements):
                raise invalid(name, "distinct elements", tuple(raw_set))
            normalized.append(tuple(sorted(elements)))
        object.__setattr__(self, "n_elements", n_elements)
        object.__setattr__(self, "sets", tuple(normalized))

    @property
    def n_sets(self) -> int:
        """Number of sets r."""
        return len(self.sets)

    def __repr__(self) -> str:
        if self.n_sets <= _REPR_MAX_SETS:
            sets_text = repr(self.sets)
        else:
            head = ", ".join(repr(s) for s in self.sets[: _REPR_MAX_SETS - 1])
            sets_text = f"({head}, ..., {self.sets[-1]!r})"
        return (
            f"SetSplittingInstance(n_elements={self.n_elements}, "
            f"n_sets={self.n_sets}, sets={sets_text})"
        )

    def to_text(self) -> str:
        """Format the instance in the text format that :func:`parse_instance` reads.

        A header comment records ``n_elements`` for human readers. The parser skips
        comments, so pass ``n_elements`` when reading back an instance in which
        some element occurs in no set.
        """
        lines = [f"# set splitting instance: n_elements={self.n_elements}"]
        lines.extend(" ".join(str(element) for element in s) for s in self.sets)
        return "\n".join(lines) + "\n"

    def incidence(self) -> np.ndarray:
        """Return the indicator vectors of the sets.

        Returns
        -------
        ndarray of shape (n_sets, n_elements)
            Entry ``[j, i - 1]`` is 1 when element i belongs to set ``C_{j+1}``.
        """
        matrix = np.zeros((self.n_sets, self.n_elements), dtype=np.int64)
        for row, elements in enumerate(self.sets):
            matrix[row, np.asarray(elements) - 1] = 1
        return matrix


def random_instance(
    n_elements: int,
    n_sets: int,
    *,
    set_size: int | tuple[int, int] = 3,
    seed: SeedLike = None,
) -> SetSplittingInstance:
    """Draw a Set Splitting instance with sets of distinct, uniform random elements.

    Parameters
    ----------
    n_elements : int
        Number of elements d, at least 1.
    n_sets : int
        Number of sets r, at least 0.
    set_size : int or tuple of (int, int), default=3
        Size of every set, or an inclusive range ``(low, high)`` from which each
        set's size is drawn uniformly. Sizes must lie in ``[1, n_elements]``.
    seed : int, numpy.random.Generator or None, default=None
        Source of randomness; see :func:`symhard._validation.as_generator`.

    Returns
    -------
    SetSplittingInstance
        Sets may repeat; each set's elements are distinct.
    """
    n_elements = check_int("n_elements", n_elements, low=1)
    n_sets = check_int("n_sets", n_sets, low=0)
    low, high = parse_set_size(set_size, n_elements=n_elements)
    rng = as_generator(seed)
    sets = []
    for _ in range(n_sets):
        size = int(rng.integers(low, high + 1))
        elements = rng.choice(n_elements, size=size, replace=False) + 1
        sets.append(tuple(int(e) for e in elements))
    return SetSplittingInstance(n_elements, tuple(sets))


def parse_set_size(
    set_size: int | str | Sequence[int], *, n_elements: int
) -> tuple[int, int]:
    """Return the inclusive range ``(low, high)`` of set sizes.

    Parameters
    ----------
    set_size : int, str or sequence of two int
        A size such as ``3``, a range ``(2, 4)``, or the text ``"3"`` or ``"2-4"``.
    n_elements : int
        Number of elements; sizes above it raise.

    Raises
    ------
    InvalidParameterError
        If a size is not an integer in ``[1, n_elements]`` or ``low > high``.
    """
    allowed = f"an integer or a range 'low-high' within [1, {n_elements}]"
    if isinstance(set_size, str):
        parts = set_size.split("-")
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
            raise invalid("set_size", allowed, set_size)
        bounds = [int(p) for p in parts]
    elif isinstance(set_size, int | np.integer) and not isinstance(set_size, bool):
        bounds = [int(set_size)]
    elif isinstance(set_size, Sequence) and len(set_size) == 2:
        bounds = [check_int("set_size", value) for value in set_size]
    else:
        raise invalid("set_size", allowed, set_size)
    low, high = bounds[0], bounds[-1]
    if not 1 <= low <= high <= n_elements:
        raise invalid("set_size", allowed, set_size)
    return low, high


def parse_instance(
    text: str, *, n_elements: int | None = None, source: str = "<text>"
) -> SetSplittingInstance:
    """Parse a Set Splitting instance, one set per line.

    Each line lists the element numbers of one set, separated by spaces. Blank
    lines and text after ``#`` are ignored.

    Parameters
    ----------
    text : str
        The file contents.
    n_elements : int or None, default=None
        Number of elements d. None takes the largest element number that occurs.
    source : str, default="<text>"
        Name of the input, used in error messages.

    Raises
    ------
    InvalidParameterError
        On a line that is not a list of positive integers, where the message
        names the line number and its text. On an element that is 0, above
        ``n_elements`` or repeated in its set, where the message names the line
        number and the value. On a text without sets.
    """
    if n_elements is not None:
        n_elements = check_int("n_elements", n_elements, low=1)
    sets: list[tuple[int, ...]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        tokens = content.split()
        if not all(token.isdigit() for token in tokens):
            raise InvalidParameterError(
                f"{source} line {line_number}: cannot read {line.strip()!r}; "
                "expected element numbers (positive integers) separated by spaces"
            )
        elements = tuple(int(token) for token in tokens)
        for element in elements:
            if element < 1 or (n_elements is not None and element > n_elements):
                expected = (
                    "an integer >= 1"
                    if n_elements is None
                    else f"an integer in [1, {n_elements}]"
                )
                raise InvalidParameterError(
                    f"{source} line {line_number}: element {element} is out of "
                    f"range; expected {expected}"
                )
        if len(set(elements)) != len(elements):
            repeated = next(e for e in elements if elements.count(e) > 1)
            raise InvalidParameterError(
                f"{source} line {line_number}: element {repeated} appears twice "
                "in the same set"
            )
        sets.append(elements)
    if not sets:
        raise InvalidParameterError(
            f"{source} contains no sets; expected one set per line, "
            "as element numbers separated by spaces"
        )
    if n_elements is None:
        n_elements = max(max(s) for s in sets)
    logger.debug(
        "parsed %d sets over %d elements from %s", len(sets), n_elements, source
    )
    return SetSplittingInstance(n_elements, tuple(sets))


def read_instance(
    path: str | Path, *, n_elements: int | None = None
) -> SetSplittingInstance:
    """Read a Set Splitting instance from a text file; see :func:`parse_instance`.

    Raises
    ------
    InvalidParameterError
        If the file does not exist or cannot be read as UTF-8 text, or on a bad line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidParameterError(f"instance file not found: {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidParameterError(
            f"cannot read instance file {str(path)!r}: {error}"
        ) from None
    return parse_instance(text, n_elements=n_elements, source=str(path))


def check_split(instance: SetSplittingInstance, split: Sequence[int]) -> Split:
    """Return ``split`` as a tuple after checking its length and part labels.

    Raises
    ------
    InvalidParameterError
        If ``split`` does not have one entry per element, each 1 or 2.
    """
    values = tuple(int(v) for v in split)
    if len(values) != instance.n_elements or not set(values) <= {1, 2}:
        raise invalid(
            "split",
            f"{instance.n_elements} part labels, each 1 or 2",
            tuple(split),
        )
    return values


def is_valid_split(instance: SetSplittingInstance, split: Sequence[int]) -> bool:
    """Return whether no set lies entirely inside one part of ``split``.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance.
    split : sequence of int
        Part (1 or 2) of each element; entry ``i - 1`` belongs to element i.
    """
    parts = check_split(instance, split)
    for elements in instance.sets:
        if len({parts[element - 1] for element in elements}) < 2:
            return False
    return True
