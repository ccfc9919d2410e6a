"""``parity-relu``: the parity of ridge units on a ``k``-subset, averaged over a group.

For a ``k``-subset ``S`` of the ``n`` coordinates of :math:`x \\sim N(0, I_n)`,

.. math:: f_S(x) = \\sum_{w \\in \\{-1, 1\\}^k} \\Big(\\prod_i w_i\\Big)
          \\sigma(\\langle w, x_S \\rangle / \\sqrt{k}).

Flipping the sign of one :math:`x_i`, :math:`i \\in S`, negates :math:`f_S`, so
:math:`\\langle f_S, f_T \\rangle = 0` whenever :math:`S \\ne T`. The group lift
:math:`f^G_S(x) = |G|^{-1} \\sum_g f_S(g x)` equals the average of :math:`f_{S'}` over
the orbit ``O`` of ``S``, so distinct orbits give exactly orthogonal members: one
member per orbit, :math:`\\gamma = 0`, and :math:`m` = the number of orbits of
``k``-subsets.

References
----------
B. T. Kiani, T. Le, H. Lawrence, S. Jegelka and M. Weber, *On the hardness of
learning under symmetries*, ICLR 2024.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

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
)
from symhard.families.base import CorrelationCertificate, Task
from symhard.families.subset_orbits import SubsetOrbitFamily
from symhard.groups import PermutationGroup
from symhard.learners import CircularCNN, GroupAveragedMLP
from symhard.ridge import (
    ACTIVATIONS,
    KERNEL_RELATIVE_ERROR,
    RidgeSum,
    activation_torch,
    unit_kernel,
)

# Activations whose odd part is linear (sigma(t) - sigma(-t) = t): the parity
# cancels it for every odd k >= 3.
_ODD_PART_LINEAR = ("relu", "gelu", "softplus")
# Activations whose even part is constant: the parity cancels it for every even k.
_EVEN_PART_CONSTANT = ("tanh", "sigmoid")
# The norm of f_S is an alternating sum of k + 1 kernel terms that grow much faster
# than the result, so the kernel's relative error (KERNEL_RELATIVE_ERROR) is
# amplified by (sum of |terms|) / |sum|. The norm is computed only while that bound
# stays below this value: k <= 22 for ReLU, 3 for tanh, 7 for sigmoid, 12 for
# GELU and 6 for softplus.
_NORM_RELATIVE_ERROR = 1e-6
# Past this k the binomial coefficients overflow float64, and the bound above fails
# long before.
_MAX_NORM_K = 64


class ParityReLU(SubsetOrbitFamily):
    """The ``parity-relu`` family under a permutation group.

    Parameters
    ----------
    n : int
        Number of input coordinates, :math:`x \\sim N(0, I_n)`.
    k : int
        Subset size, ``1 <= k <= n``. With ReLU, ``k`` must be 1 or even.
    group : str or PermutationGroup, default="cyclic"
        A name from ``GROUP_NAMES`` or a group acting on ``n`` points.
    activation : str, default="relu"
        One of ``ACTIVATIONS``.
    shape : str or None, default=None
        Grid ``"AxB"`` for ``group="torus"`` (``A * B = n``).
    generators : str, array-like of int or None, default=None
        Permutations of ``range(n)`` for ``group="generated"``, for example
        ``"1,2,3,0,4,5/0,1,2,3,5,4"`` (see :func:`symhard.groups.generated`).
    memory_limit_mb : int, default=2048
        Largest memory, in MiB, that the ridge weights of one member may take.

    Examples
    --------
    >>> family = ParityReLU(n=8, k=4, group="cyclic")
    >>> family.family_size  # binary necklaces of length 8 with 4 ones
    10
    >>> family.member_description(0)["subset"]
    [0, 1, 2, 3]
    """

    name = "parity-relu"
    size_parameter = "n"
    required_parameters = ("n", "k")
    parameters = {
        "n": None,
        "k": None,
        "group": "cyclic",
        "activation": "relu",
        "shape": None,
        "generators": None,
        "memory_limit_mb": 2048,
    }

    def __init__(
        self,
        n: int,
        k: int,
        *,
        group: str | PermutationGroup = "cyclic",
        activation: str = "relu",
        shape: str | None = None,
        generators: str | Sequence[Sequence[int]] | None = None,
        memory_limit_mb: int = 2048,
    ) -> None:
        self.n = check_int("n", n, low=1)
        self.k = check_int("k", k, low=1, high=self.n, high_text=f"n={self.n}")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        _reject_zero_function(self.k, self.activation)
        self.memory_limit_mb = check_int("memory_limit_mb", memory_limit_mb, low=1)
        self._set_group(group, shape, generators)

    def __repr__(self) -> str:
        return (
            f"ParityReLU(n={self.n}, k={self.k}, group={self.group.name!r}, "
            f"activation={self.activation!r})"
        )

    @property
    def params(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "k": self.k,
            **self._group_params(),
            "activation": self.activation,
        }

    @cached_property
    def base_norm_sq(self) -> float:
        """Exact :math:`\\|f_S\\|^2` before normalization (the same for every S).

        Two sign patterns at Hamming distance ``h`` have
        :math:`\\prod w \\prod w' = (-1)^h` and cosine :math:`1 - 2h/k`, and
        :math:`2^k \\binom{k}{h}` ordered pairs are at that distance, so
        :math:`\\|f_S\\|^2 = 2^k \\sum_h (-1)^h \\binom{k}{h} \\kappa(1 - 2h/k)`:
        ``k + 1`` kernel values in place of :math:`4^k`.

        Raises
        ------
        LimitExceededError
            Naming ``k`` when the kernel's error, amplified by that alternating
            sum, could reach a relative error of 1e-6 (past k = 22 for ReLU).
        """
        bound = _norm_error_bound(self.k, self.activation)
        if bound > _NORM_RELATIVE_ERROR:
            largest = _largest_k_with_exact_norm(self.k, self.activation)
            advice = f"use k <= {largest}" if largest else "use a smaller k"
            if math.isfinite(bound):
                problem = (
                    f"whose float64 error could reach {bound:.2g} of the result, "
                    f"over the {_NORM_RELATIVE_ERROR:g} allowed"
                )
            else:
                problem = "too large for float64"
            raise LimitExceededError(
                f"invalid value for 'k': the exact norm of f_S at k={self.k} is an "
                f"alternating sum of {self.k + 1} kernel terms {problem}; {advice} "
                f"with activation={self.activation}"
            )
        return float(2**self.k * _hamming_terms(self.k, self.activation).sum())

    def correlation(self) -> CorrelationCertificate:
        return CorrelationCertificate(
            gamma=0.0,
            method="exact",
            detail=(
                "distinct orbits share no subset, and f_S for distinct subsets are "
                "orthogonal because flipping a coordinate in S but not in T negates "
                "f_S only"
            ),
        )

    # Members -----------------------------------------------------------------

    def member_ridge(self, member: int | Sequence[int] = 0) -> RidgeSum:
        """Return the normalized member as a ridge sum on :math:`R^n`."""
        orbit = self._orbit(self.member_subset(member))
        signs = _sign_patterns(self.k)
        units = len(orbit) * len(signs)
        weights = np.zeros((units, self.n))
        rows = np.arange(units)[:, None]
        columns = np.repeat(orbit, len(signs), axis=0)
        weights[rows, columns] = np.tile(signs, (len(orbit), 1)) / math.sqrt(self.k)
        coefficients = np.tile(signs.prod(axis=1), len(orbit))
        return RidgeSum(
            weights, coefficients * self._scale(len(orbit)), self.activation
        )

    # Data ----------------------------------------------------------------------

    def sample(
        self, num: int, *, member: int | Sequence[int] = 0, seed: SeedLike = None
    ) -> dict[str, np.ndarray]:
        """Draw ``x`` of shape (num, n) from :math:`N(0, I_n)` and ``y`` = member(x).

        Both arrays are float64; the same ``seed`` gives the same bytes.
        """
        num = self.check_sample_count(num)
        rng = as_generator(seed)
        x = rng.standard_normal((num, self.n))
        return {"x": x, "y": self.evaluate({"x": x}, member=member)}

    def evaluate(
        self, arrays: Mapping[str, np.ndarray], *, member: int | Sequence[int] = 0
    ) -> np.ndarray:
        """Return member(x) of shape (num,) for ``arrays["x"]`` of shape (num, n)."""
        if "x" not in arrays:
            raise invalid("input", "arrays with an entry 'x'", sorted(arrays))
        x = np.asarray(arrays["x"], dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise invalid("x", f"an array of shape (num, {self.n})", x.shape)
        evaluate = self._evaluator(member, torch.device("cpu"), torch.float64)
        return evaluate(torch.from_numpy(x)).numpy()

    def task(self, member: int | Sequence[int] = 0) -> Task:
        subset = self.member_subset(member)
        cache: dict[torch.device, Any] = {}

        def sampler(num: int, generator: torch.Generator, device: torch.device):
            if device not in cache:
                cache[device] = self._evaluator(subset, device, torch.float32)
            x = torch.randn(num, self.n, generator=generator, device=device)
            return x, cache[device](x)

        return Task(f"{self!r} member {list(subset)}", self.n, sampler)

    def teacher(self, member: int | Sequence[int] = 0) -> torch.nn.Module:
        """Build the realizing network with the weights of ``member`` (float64).

        For the cyclic group it is a :class:`~symhard.learners.CircularCNN` with
        ``2^k`` full-length filters and global average pooling; for any other group
        a one-hidden-layer :class:`~symhard.learners.GroupAveragedMLP`.
        """
        subset = self.member_subset(member)
        self._check_teacher_memory()
        signs = _sign_patterns(self.k)
        first_layer = torch.zeros(len(signs), self.n, dtype=torch.float64)
        first_layer[:, list(subset)] = torch.as_tensor(signs) / math.sqrt(self.k)
        # Both networks average over the group, which already divides by |O|.
        orbit_size = self.group.orbit_size(subset)
        readout = torch.as_tensor(signs.prod(axis=1)) * (
            self._scale(orbit_size) * orbit_size
        )
        if self.group.name == "cyclic":
            model = CircularCNN(
                self.n, channels=len(signs), activation=self.activation, bias=False
            ).double()
            conv_weight, linear = model.conv.weight, model.readout
        else:
            model = GroupAveragedMLP(
                self.group, width=len(signs), depth=1, activation=self.activation
            ).double()
            conv_weight, linear = model.mlp.net[0].weight, model.mlp.net[2]
            model.mlp.net[0].bias.data.zero_()
            linear.bias.data.zero_()
        with torch.no_grad():
            conv_weight.copy_(first_layer.reshape(conv_weight.shape))
            linear.weight.copy_(readout.reshape(1, -1))
        return model

    def info(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "params": self.params,
            "group_order": self.group.order,
            "family_size": self.family_size,
            "norm_sq": self.base_norm_sq,
            "norm_sq_method": "exact",
            "norm_sq_note": "squared L2 norm of f_S for one subset, before the "
            "group average and normalization",
            "architecture": (
                f"circular CNN, {2**self.k} full-length filters, {self.activation}, "
                "global average pooling"
                if self.group.name == "cyclic"
                else f"group-averaged one-hidden-layer network, {2**self.k} "
                f"{self.activation} units"
            ),
            "teacher_hidden_units": 2**self.k,
        }

    # Internals -------------------------------------------------------------------

    def _scale(self, orbit_size: int) -> float:
        # The orbit average of orthogonal f_S' has squared norm base_norm_sq / |O|;
        # dividing by |O| (the average) and by that norm gives unit norm.
        return 1.0 / (orbit_size * math.sqrt(self.base_norm_sq / orbit_size))

    def _check_teacher_memory(self) -> None:
        # The sign patterns (2^k, k), the first layer (2^k, n) and the model's copy
        # of it, all float64.
        memory_mb = 2**self.k * (self.k + 2 * self.n) * 8 / 2**20
        if memory_mb > self.memory_limit_mb:
            raise LimitExceededError(
                f"invalid value for 'memory_limit_mb': the teacher needs about "
                f"{memory_mb:.0f} MiB for {2**self.k} hidden units on n={self.n}, "
                f"over the limit of {self.memory_limit_mb} MiB; raise "
                "memory_limit_mb, or use a smaller k"
            )

    def _orbit(self, subset: tuple[int, ...]) -> np.ndarray:
        orbit_size = self.group.orbit_size(subset)
        memory_mb = orbit_size * 2**self.k * self.n * 8 / 2**20
        if memory_mb > self.memory_limit_mb:
            raise LimitExceededError(
                f"invalid value for 'memory_limit_mb': one member needs about "
                f"{memory_mb:.0f} MiB for {orbit_size} subsets x {2**self.k} units "
                f"on n={self.n}, over the limit of {self.memory_limit_mb} MiB; "
                "raise memory_limit_mb, or use a smaller group, n or k"
            )
        return self.group.orbit(subset)

    def _evaluator(self, member, device: torch.device, dtype: torch.dtype):
        # member(x) = scale * sum_{S' in O} sum_w prod(w) sigma(<w, x_S'> / sqrt k):
        # gather x_S' for the whole orbit, one matrix product with the sign
        # patterns, the activation, and a weighted sum. No loop over units.
        subset = self.member_subset(member)
        orbit = torch.tensor(np.array(self._orbit(subset)), device=device)
        signs = _sign_patterns(self.k)
        directions = torch.as_tensor(signs.T / math.sqrt(self.k), dtype=dtype)
        coefficients = torch.as_tensor(signs.prod(axis=1), dtype=dtype)
        directions, coefficients = directions.to(device), coefficients.to(device)
        scale = self._scale(len(orbit))
        # Entries of the (rows, |O|, 2^k) hidden tensor per chunk. On CPU, chunks
        # of 2^18 entries (2 MiB in float64) stay in cache: at n=64, k=6, batch
        # 4096 they cut evaluate() from 197 to 119 ms of CPU time against 2^22
        # (benchmarks/bench_target_evaluation.py, 2-core EPYC).
        budget = 2**18 if device.type == "cpu" else 2**22
        chunk = max(1, budget // (len(orbit) * len(signs)))

        def evaluate(x: torch.Tensor) -> torch.Tensor:
            parts = []
            for start in range(0, len(x), chunk):
                gathered = x[start : start + chunk, orbit]  # (batch, |O|, k)
                hidden = activation_torch(self.activation, gathered @ directions)
                parts.append((hidden @ coefficients).sum(dim=1) * scale)
            return torch.cat(parts)

        return evaluate


def _reject_zero_function(k: int, activation: str) -> None:
    if activation in _ODD_PART_LINEAR and k % 2 == 1 and k >= 3:
        raise invalid(
            "k",
            f"k = 1 or an even k (activation={activation} gives the zero function for "
            "odd k >= 3; activation=tanh or sigmoid works for odd k)",
            k,
        )
    if activation in _EVEN_PART_CONSTANT and k % 2 == 0:
        raise invalid(
            "k",
            f"an odd k (activation={activation} gives the zero function for even k; "
            "activation=relu works for even k)",
            k,
        )


def _sign_patterns(k: int) -> np.ndarray:
    """All of :math:`\\{-1, 1\\}^k` as a float array of shape (2^k, k).

    Row ``r`` has ``+1`` where the binary digits of ``r`` (most significant first)
    are 1, the order of ``itertools.product((-1, 1), repeat=k)``.
    """
    bits = (np.arange(2**k)[:, None] >> np.arange(k - 1, -1, -1)) & 1
    return 2.0 * bits - 1.0


def _hamming_terms(k: int, activation: str) -> np.ndarray:
    """Return :math:`(-1)^h \\binom{k}{h} \\kappa(1 - 2h/k)` for ``h = 0..k``."""
    distances = np.arange(k + 1)
    binomials = np.array([math.comb(k, h) for h in range(k + 1)], dtype=np.float64)
    kernel = unit_kernel(activation, 1.0 - 2.0 * distances / k)
    return (-1.0) ** distances * binomials * kernel


def _norm_error_bound(k: int, activation: str) -> float:
    """Bound the relative error of the norm from the kernel's relative error.

    The bound is ``sum |terms| / |sum of terms|`` times the kernel's error, and
    infinite past ``k = 64``, where the terms overflow float64.
    """
    if k > _MAX_NORM_K:
        return math.inf
    terms = _hamming_terms(k, activation)
    with np.errstate(divide="ignore"):
        ratio = float(np.abs(terms).sum() / abs(terms.sum()))
    return ratio * KERNEL_RELATIVE_ERROR[activation]


def _largest_k_with_exact_norm(k: int, activation: str) -> int | None:
    """Return the largest allowed ``k' <= k`` whose norm passes the error bound."""
    for candidate in range(min(k, _MAX_NORM_K), 0, -1):
        try:
            _reject_zero_function(candidate, activation)
        except InvalidParameterError:
            continue
        if _norm_error_bound(candidate, activation) <= _NORM_RELATIVE_ERROR:
            return candidate
    return None
