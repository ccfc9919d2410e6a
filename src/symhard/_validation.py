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


class InvalidParameterError(ValueError):
    """A user-supplied value outside its allowed range or set."""


class LimitExceededError(InvalidParameterError):
    """A request whose size (group order, memory estimate) is past a stated limit."""


def invalid(name: str, allowed: str, value: Any) -> InvalidParameterError:
    """Build the one-line error for parameter ``name``."""
    return InvalidParameterError(
        f"invalid value for '{name}': expected {allowed}, got {value!r}"
    )


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
    comes from another parameter (for example ``"n=12"``).
    """
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

    ``low_open=True`` makes the lower bound strict (``value > low``).
    """
    allowed = _float_range_text(low, high, low_open)
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
    """Return ``value`` if it is one of ``choices``."""
    choices = list(choices)
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
