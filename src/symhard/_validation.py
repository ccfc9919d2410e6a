"""Argument checks shared by the public API, and the conversion of seeds.

Every check raises :class:`InvalidParameterError` with one line that names the
parameter as spelled, the allowed values and the value received. The command line
prints that line and exits with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

SeedLike = int | np.random.Generator | None

# Arrays with more entries than this appear in messages as their shape and dtype.
MAX_LISTED_ENTRIES = 20


class InvalidParameterError(ValueError):
    """A user-supplied value outside its allowed range or set."""


class LimitExceededError(InvalidParameterError):
    """A request whose size (group order, memory estimate) is past a stated limit."""


def invalid(name: str, allowed: str, value: Any) -> InvalidParameterError:
    """Build the one-line error for parameter ``name``.

    ``value`` is shown as Python writes it, after NumPy and torch scalars become
    Python numbers and small arrays become lists (see :func:`value_text`).
    """
    return InvalidParameterError(
        f"invalid value for '{name}': expected {allowed}, got {value_text(value)}"
    )


def missing(name: str, allowed: str) -> InvalidParameterError:
    """Build the one-line error for a required parameter ``name`` given no value."""
    return InvalidParameterError(f"missing value for '{name}': expected {allowed}")


def value_text(value: Any) -> str:
    """Return ``repr(value)`` with NumPy and torch types shown as plain Python values.

    NumPy 2 writes a scalar as ``np.uint8(1)``, which hides the value in a message.
    Scalars become Python numbers and dtypes their names. Arrays and tensors with at
    most :data:`MAX_LISTED_ENTRIES` entries become lists, and larger ones are
    described by their shape and dtype. Tuples, lists and dicts are converted entry
    by entry.
    """
    is_array = isinstance(value, np.ndarray | torch.Tensor)
    if is_array and _entries(value) > MAX_LISTED_ENTRIES:
        shape = tuple(int(size) for size in value.shape)
        return f"an array of shape {shape} and dtype {value.dtype}"
    return repr(_plain(value))


def _entries(array: np.ndarray | torch.Tensor) -> int:
    return int(array.numel()) if isinstance(array, torch.Tensor) else int(array.size)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype | torch.dtype):
        return str(value)
    if isinstance(value, np.ndarray | torch.Tensor):
        if _entries(value) > MAX_LISTED_ENTRIES:
            return value_text(value)
        return value.tolist()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    return value


def check_int(
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    low_text: str | None = None,
    high_text: str | None = None,
) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``.

    ``low_text`` and ``high_text`` replace the bounds in the message when a bound
    comes from another parameter (for example ``"n=12"``). A ``None`` value raises
    the error for a missing value.
    """
    if value is None:
        raise missing(name, _range_text(low, high, low_text, high_text))
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        else:
            raise invalid(name, _range_text(low, high, low_text, high_text), value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise invalid(name, _range_text(low, high, low_text, high_text), value)
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a finite float after checking its range.

    ``low_open=True`` makes the lower bound strict (``value > low``). A ``None``
    value raises the error for a missing value.
    """
    allowed = _float_range_text(low, high, low_open)
    if value is None:
        raise missing(name, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(name, allowed, value) from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise invalid(name, allowed, value)
    if low is not None and (number < low or (low_open and number == low)):
        raise invalid(name, allowed, value)
    if high is not None and number > high:
        raise invalid(name, allowed, value)
    return number


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``. ``None`` counts as missing."""
    choices = list(choices)
    if value is None:
        raise missing(name, "one of " + ", ".join(choices))
    if value not in choices:
        raise invalid(name, "one of " + ", ".join(choices), value)
    return value


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Convert ``seed`` (an int, a Generator or None) to a NumPy Generator.

    An int gives the same stream on every call, a Generator is used as it is, and
    None draws fresh entropy from the operating system.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise invalid("seed", "a non-negative integer, a numpy Generator or None", seed)
    return np.random.default_rng(int(seed))


def torch_generator(rng: np.random.Generator, device: str = "cpu") -> torch.Generator:
    """Derive a seeded ``torch.Generator`` from ``rng``, advancing ``rng``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(2**63 - 1)))
    return generator


def _range_text(
    low: int | None, high: int | None, low_text: str | None, high_text: str | None
) -> str:
    low_part = low_text if low_text is not None else low
    high_part = high_text if high_text is not None else high
    if low is not None and high is not None:
        return f"an integer in [{low_part}, {high_part}]"
    if low is not None:
        return f"an integer >= {low_part}"
    if high is not None:
        return f"an integer <= {high_part}"
    return "an integer"


def _float_range_text(low: float | None, high: float | None, low_open: bool) -> str:
    if low is not None and high is not None:
        bracket = "(" if low_open else "["
        return f"a number in {bracket}{low:g}, {high:g}]"
    if low is not None:
        return f"a number {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"a number <= {high:g}"
    return "a finite number"
