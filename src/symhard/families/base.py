"""The interface of every hard family, and the task interface that trainers use."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from symhard._validation import LimitExceededError, SeedLike, check_int, invalid
from symhard.bounds import (
    csq_query_lower_bound,
    format_count,
    log10_csq_query_lower_bound,
)

# Memory limit used when neither the physical memory nor a cgroup limit can be read.
_FALLBACK_MEMORY_LIMIT = 2 * 2**30
# Memory limit of the cgroup (v2) this process runs in, on Linux.
_CGROUP_MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")


def memory_limit_bytes() -> int:
    """Return the memory one ``sample`` call or estimate may use, in bytes.

    It is a quarter of the physical memory, or of the cgroup (v2) limit when that
    is smaller. The other three quarters leave room for the copies that follow,
    such as writing the arrays to a file. Where neither can be read, it is 2 GiB.
    """
    available = []
    try:
        available.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        text = _CGROUP_MEMORY_MAX.read_text().strip()
    except OSError:
        text = ""
    if text.isdigit():
        available.append(int(text))
    if not available:
        return _FALLBACK_MEMORY_LIMIT
    return min(available) // 4


def format_duration(seconds: float) -> str:
    """Write a duration in the largest unit that keeps it at least 1 (``"17 min"``)."""
    for unit, length in (("days", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.3g} {unit}"
    return f"{seconds:.3g} s"


def format_bytes(size: int | float) -> str:
    """Write a byte count with a binary unit, for example ``"8.73 TiB"``."""
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size = size // 1024 if size >= 2**1000 else size / 1024
        if size < 1024 or unit == "TiB":
            break
    if size >= 10**15:
        return f"{format_count(int(size))} {unit}"
    return f"{size:.3g} {unit}"


@dataclass(frozen=True)
class CorrelationCertificate:
    """The largest pairwise correlation ``gamma`` of a family and how it was found.

    Attributes
    ----------
    gamma : float
        Upper bound on :math:`|\\langle f_i, f_j \\rangle|` for distinct members.
    method : str
        ``"exact"`` (computed or proved without sampling) or ``"monte-carlo"``.
    detail : str
        One sentence on how the value was obtained.
    interval : tuple of float or None
        Confidence interval for Monte Carlo values, None for exact ones.
    """

    gamma: float
    method: str
    detail: str
    interval: tuple[float, float] | None = None


@dataclass
class Task:
    """A source of labeled samples for training and testing a learner.

    Attributes
    ----------
    name : str
        Short description used in logs and reports.
    n_inputs : int
        Input size ``n``; samples have shape (batch, n).
    sampler : callable
        ``sampler(num, generator, device) -> (x, y)`` with ``y`` of shape (num,)
        and ``x`` of shape (num, n), or a tuple of tensors with leading size num
        (for example adjacency and node features) that the model takes as separate
        arguments; float32 on ``device``.
    """

    name: str
    n_inputs: int
    sampler: Callable[[int, torch.Generator, torch.device], tuple[torch.Tensor, ...]]

    def sample(
        self, num: int, generator: torch.Generator, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``num`` samples with ``generator`` (which must live on ``device``)."""
        return self.sampler(num, generator, torch.device(device))


class HardFamily(abc.ABC):
    """A family of unit-norm target functions with a certified CSQ lower bound.

    Subclasses set ``name``, ``parameters`` (name to default),
    ``required_parameters`` and ``size_parameter`` (the parameter that sweeps
    sizes), and implement the abstract methods.
    """

    name: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]
    required_parameters: ClassVar[tuple[str, ...]]
    size_parameter: ClassVar[str]

    @classmethod
    def from_strings(cls, values: Mapping[str, str]) -> HardFamily:
        """Build the family from ``key=value`` strings given on the command line."""
        unknown = sorted(set(values) - set(cls.parameters))
        if unknown:
            raise invalid(
                "parameter",
                f"a parameter of {cls.name}: " + ", ".join(cls.parameters),
                unknown[0],
            )
        return cls(**dict(values))

    @property
    @abc.abstractmethod
    def family_size(self) -> int:
        """The exact number of members ``m``."""

    @abc.abstractmethod
    def correlation(self) -> CorrelationCertificate:
        """Return the certificate for ``gamma``."""

    @abc.abstractmethod
    def member_description(self, member: Any) -> dict[str, Any]:
        """Return a JSON-ready description of ``member`` (for example its subset)."""

    @abc.abstractmethod
    def sample(
        self, num: int, *, member: Any = 0, seed: SeedLike = None
    ) -> dict[str, np.ndarray]:
        """Draw ``num`` inputs and their labels under ``member`` as NumPy arrays."""

    @abc.abstractmethod
    def sample_memory_bytes(self, num: int) -> int:
        """Estimate the peak memory, in bytes, of ``sample(num)``."""

    def check_sample_count(self, num: Any, *, name: str = "num") -> int:
        """Return ``num`` as an int after checking that ``sample(num)`` fits in memory.

        Parameters
        ----------
        num : int
            Requested number of samples, at least 1.
        name : str, default="num"
            Parameter name for the error message (``"--num"`` on the command line).

        Raises
        ------
        LimitExceededError
            If the estimate of :meth:`sample_memory_bytes` is above
            :func:`memory_limit_bytes`. It is raised before anything is allocated.
        """
        num = check_int(name, num, low=1)
        needed = self.sample_memory_bytes(num)
        limit = memory_limit_bytes()
        if needed <= limit:
            return num
        over = (
            f"{num} samples of {self.name} need about {format_bytes(needed)} of "
            f"memory, over the limit of {format_bytes(limit)} (a quarter of the "
            "memory of this machine)"
        )
        if self.sample_memory_bytes(1) > limit:
            raise LimitExceededError(
                f"invalid value for '{name}': {over}, and even one sample does not "
                f"fit; use a smaller {self.size_parameter}"
            )
        # The estimate grows linearly in num, so this is the largest count that
        # fits, up to the rounding of a constant term.
        largest = max(1, num * limit // needed)
        while largest > 1 and self.sample_memory_bytes(largest) > limit:
            largest -= max(1, largest // 100)
        raise LimitExceededError(
            f"invalid value for '{name}': {over}; use at most {largest} samples "
            "(for more data, draw several batches with different seeds)"
        )

    @abc.abstractmethod
    def evaluate(
        self, arrays: Mapping[str, np.ndarray], *, member: Any = 0
    ) -> np.ndarray:
        """Compute the labels of ``member`` on given inputs."""

    @abc.abstractmethod
    def teacher(self, member: Any = 0) -> torch.nn.Module:
        """Build the realizing network loaded with the weights of ``member``."""

    @abc.abstractmethod
    def task(self, member: Any = 0) -> Task:
        """Return the training task for ``member``."""

    @abc.abstractmethod
    def info(self) -> dict[str, Any]:
        """Return the family's facts (size, norms, ``gamma``) as a JSON-ready dict."""

    @abc.abstractmethod
    def make_learner(
        self, name: str, *, width: int = 256, depth: int = 2
    ) -> torch.nn.Module:
        """Build the learner ``name`` (randomly initialized) for this family."""

    def random_member(self, rng: np.random.Generator) -> Any:
        """Draw a member from ``rng``; the default is a uniform index."""
        return int(rng.integers(self.family_size))

    def csq_lower_bound(self, tolerance: float) -> float:
        """Return the CSQ query lower bound at ``tolerance`` for this family."""
        return csq_query_lower_bound(
            self.family_size, self.correlation().gamma, tolerance
        )

    def bound_info(self, tolerance: float) -> dict[str, Any]:
        """Return ``gamma`` with its method and the CSQ bound at ``tolerance``."""
        certificate = self.correlation()
        return {
            "max_abs_correlation": certificate.gamma,
            "correlation_method": certificate.method,
            "correlation_detail": certificate.detail,
            "correlation_interval": certificate.interval,
            "tolerance": tolerance,
            "csq_lower_bound": csq_query_lower_bound(
                self.family_size, certificate.gamma, tolerance
            ),
            "log10_csq_lower_bound": log10_csq_query_lower_bound(
                self.family_size, certificate.gamma, tolerance
            ),
        }
