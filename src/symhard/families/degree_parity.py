"""``degree-parity``: the parity of degree counts of a random graph (SQ-hard).

The input is an Erdős–Rényi graph :math:`G(n, 1/2)`, adjacency only. Its degree
histogram is :math:`c_0, \\dots, c_{n-1}` (:math:`c_i` = the number of nodes of
degree :math:`i`). The degree window is

.. math:: W = \\{i : n \\, P(\\mathrm{Binomial}(n - 1, 1/2) = i) \\ge \\lambda_{min}\\},

the degrees whose expected count is at least :math:`\\lambda_{min}`. A member is a
nonempty subset :math:`T \\subseteq W` with label

.. math:: y_T = (-1)^{\\sum_{i \\in T} c_i},

so :math:`m = 2^{|W|} - 1`. Each :math:`c_i` is close to a Poisson variable of mean
at least :math:`\\lambda_{min}`, whose parity has bias about
:math:`e^{-2 \\lambda_{min}}`. Labels are :math:`\\pm 1` with unit norm, and the
correlation of two members :math:`T, T'` is the bias
:math:`E[y_{T \\triangle T'}]` of their symmetric difference, so
:math:`\\gamma = \\max_{T \\ne \\emptyset} |E[y_T]|`. It is estimated by Monte
Carlo. Because labels are :math:`\\pm 1`, an SQ query :math:`\\phi(x, y)` splits
into :math:`(\\phi(x, 1) + \\phi(x, -1))/2`, which does not depend on the member,
plus :math:`y (\\phi(x, 1) - \\phi(x, -1))/2`, one correlational query of the same
tolerance. The CSQ bound therefore also bounds SQ learners.

Every member is computed exactly by a one-layer GIN with sum aggregation and sum
pooling (:meth:`DegreeParity.teacher`): the layer reads the degree, ReLU
indicators :math:`1\\{s = i\\} = \\mathrm{ReLU}(s-i+1) - 2\\,\\mathrm{ReLU}(s-i) +
\\mathrm{ReLU}(s-i-1)` pick the degrees in :math:`T`, sum pooling gives
:math:`s_T = \\sum_{i \\in T} c_i \\in [0, n]`, and the readout computes
:math:`\\sum_{j=0}^{n} (-1)^j 1\\{s_T = j\\}`.

References
----------
B. T. Kiani, T. Le, H. Lawrence, S. Jegelka and M. Weber, *On the hardness of
learning under symmetries*, ICLR 2024.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from scipy import stats

from symhard._validation import (
    InvalidParameterError,
    LimitExceededError,
    SeedLike,
    as_generator,
    check_float,
    check_int,
    invalid,
    missing,
    value_text,
)
from symhard.families.base import (
    CorrelationCertificate,
    HardFamily,
    Task,
    format_bytes,
    format_duration,
    memory_limit_bytes,
)
from symhard.graph_learners import DenseGIN, make_graph_learner

# Windows up to this size get the bias of every nonempty subset T (2^|W| - 1 of
# them) from one Walsh-Hadamard transform; larger ones get a random sample of T.
EXHAUSTIVE_WINDOW = 16
# Random subsets T examined (besides the singletons) for windows past that size.
SAMPLED_SUBSETS = 1024
# Confidence of the simultaneous interval on gamma.
CONFIDENCE = 0.95
# Largest lambda_min. The largest expected degree count is about sqrt(2 n / pi), so
# a window needs n of about pi lambda_min^2 / 2, which is 1.6e12 nodes here. Past
# lambda_min of about 2e9 that n no longer fits the int64 arithmetic of
# scipy.stats.binom.
MAX_LAMBDA_MIN = 1e6
# Adjacency entries checked at once by check_adjacency (16 MiB of uint8 input).
_CHECK_CHUNK_ENTRIES = 2**24
# Limit on the adjacency bits (correlation_samples * n^2) sampled to estimate gamma.
# Sampling ran at 2e8 to 5e8 bits per second on one core of a shared 2-core
# machine (slower for larger n), so the limit is 1 to 2.5 minutes, an estimate. It
# admits n=300 with 200,000 graphs and n=547 with the default 100,000.
MAX_CORRELATION_BITS = 3 * 10**10
# The slowest sampling rate measured, used only for the time quoted in errors.
_BITS_PER_SECOND = 2e8
# Bytes per adjacency entry held at once while sampling a graph: the unpacked
# bits, their upper triangle and the symmetric result, one uint8 each.
_SAMPLING_BYTES_PER_ENTRY = 3

# Estimates of gamma, keyed by (n, lambda_min, n_samples, seed).
_BIAS_CACHE: dict[tuple[int, float, int, int], BiasEstimate] = {}


@dataclass(frozen=True)
class BiasEstimate:
    """A Monte Carlo estimate of :math:`\\max_T |E[(-1)^{\\sum_{i \\in T} c_i}]|`.

    Attributes
    ----------
    max_abs_bias : float
        The largest absolute sample bias over the subsets examined.
    low, high : float
        Simultaneous confidence interval on the largest true bias over the same
        subsets (Hoeffding with a union bound), clipped to [0, 1].
    half_width : float
        :math:`\\sqrt{2 \\ln(2 M / \\delta) / N}` for ``M`` subsets, ``N`` graphs
        and :math:`\\delta = 1 -` confidence.
    n_subsets : int
        ``M``, the number of nonempty subsets examined.
    exhaustive : bool
        Whether every nonempty subset of the window was examined.
    argmax_degrees : tuple of int
        The subset with the largest absolute sample bias.
    n_samples : int
        ``N``, the number of sampled graphs.
    """

    max_abs_bias: float
    low: float
    high: float
    half_width: float
    n_subsets: int
    exhaustive: bool
    argmax_degrees: tuple[int, ...]
    n_samples: int


class DegreeParity(HardFamily):
    """The ``degree-parity`` family on :math:`G(n, 1/2)`.

    Parameters
    ----------
    n : int
        Number of nodes, at least the smallest ``n`` whose degree window is nonempty
        (25 for ``lambda_min=4``).
    lambda_min : float, default=4.0
        Smallest expected count of a degree in the window, in (0, 1e6].
    correlation_samples : int, default=100000
        Graphs sampled to estimate ``gamma``.
    correlation_seed : int, default=0
        Seed of those graphs; the estimate is cached per
        (n, lambda_min, correlation_samples, correlation_seed).

    Notes
    -----
    A member is a bitmask ``1 .. 2^|W| - 1`` over the positions of the window
    (bit ``p`` stands for degree ``window[p]``) or a nonempty set of degrees in the
    window.

    Examples
    --------
    >>> family = DegreeParity(n=40)
    >>> family.window
    (18, 19, 20, 21)
    >>> family.family_size
    15
    >>> family.member_description(5)["degrees"]
    [18, 20]
    """

    name = "degree-parity"
    size_parameter = "n"
    required_parameters = ("n",)
    parameters = {
        "n": None,
        "lambda_min": 4.0,
        "correlation_samples": 100_000,
        "correlation_seed": 0,
    }

    def __init__(
        self,
        n: int,
        *,
        lambda_min: float = 4.0,
        correlation_samples: int = 100_000,
        correlation_seed: int = 0,
    ) -> None:
        self.lambda_min = check_float(
            "lambda_min", lambda_min, low=0.0, high=MAX_LAMBDA_MIN, low_open=True
        )
        if n is None:
            smallest = smallest_n_with_window(self.lambda_min)
            raise missing("n", f"an integer >= {smallest}")
        self.n = check_int("n", n, low=2)
        self.correlation_samples = check_int(
            "correlation_samples", correlation_samples, low=1
        )
        self.correlation_seed = check_int("correlation_seed", correlation_seed, low=0)
        self.window = degree_window(self.n, self.lambda_min)
        if not self.window:
            smallest = smallest_n_with_window(self.lambda_min)
            raise invalid(
                "n",
                f"an integer >= {smallest} (smaller graphs have no degree with "
                f"expected count >= lambda_min={self.lambda_min:g})",
                self.n,
            )

    def __repr__(self) -> str:
        return f"DegreeParity(n={self.n}, lambda_min={self.lambda_min:g})"

    @property
    def params(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "lambda_min": self.lambda_min,
            "correlation_samples": self.correlation_samples,
            "correlation_seed": self.correlation_seed,
        }

    @cached_property
    def family_size(self) -> int:
        return 2 ** len(self.window) - 1

    @cached_property
    def expected_counts(self) -> np.ndarray:
        """Exact :math:`E[c_i] = n P(\\mathrm{Bin}(n-1, 1/2) = i)` on the window."""
        return self.n * stats.binom.pmf(np.array(self.window), self.n - 1, 0.5)

    @property
    def teacher_width(self) -> int:
        """Hidden width of :meth:`teacher`: :math:`\\max(|W| + 2, n + 3)`."""
        return max(len(self.window) + 2, self.n + 3)

    # Correlation ---------------------------------------------------------------

    def bias_estimate(self) -> BiasEstimate:
        """Return the cached Monte Carlo estimate of the largest bias.

        Raises
        ------
        LimitExceededError
            Before sampling, when ``correlation_samples * n^2`` is more than
            :data:`MAX_CORRELATION_BITS`, or one sampled graph does not fit in
            :func:`~symhard.families.base.memory_limit_bytes`.
        """
        key = (
            self.n,
            self.lambda_min,
            self.correlation_samples,
            self.correlation_seed,
        )
        if key not in _BIAS_CACHE:
            self._check_bias_cost()
            _BIAS_CACHE[key] = estimate_max_bias(
                self.n,
                self.window,
                n_samples=self.correlation_samples,
                seed=self.correlation_seed,
            )
        return _BIAS_CACHE[key]

    def _check_bias_cost(self) -> None:
        n, samples = self.n, self.correlation_samples
        bits = samples * n * n
        memory_limit = memory_limit_bytes()
        graph_bytes = _SAMPLING_BYTES_PER_ENTRY * n * n
        largest_n_in_memory = math.isqrt(memory_limit // _SAMPLING_BYTES_PER_ENTRY)
        if bits > MAX_CORRELATION_BITS:
            largest_n = min(
                math.isqrt(MAX_CORRELATION_BITS // samples), largest_n_in_memory
            )
            fewer_samples = MAX_CORRELATION_BITS // (n * n)
            can_sample_fewer = fewer_samples >= 1 and graph_bytes <= memory_limit
            options = []
            if can_sample_fewer:
                options.append(
                    f"correlation_samples <= {fewer_samples} (a wider interval)"
                )
            if largest_n >= smallest_n_with_window(self.lambda_min):
                options.append(f"n <= {largest_n}")
            name = "correlation_samples" if can_sample_fewer else "n"
            duration = format_duration(bits / _BITS_PER_SECOND)
            raise LimitExceededError(
                f"invalid value for '{name}': estimating gamma from {samples} random "
                f"graphs on n={n} nodes samples {bits:.3g} adjacency bits (an "
                f"estimated {duration}), over the limit of "
                f"{MAX_CORRELATION_BITS:.3g} bits; use "
                + (" or ".join(options) or "a smaller lambda_min")
            )
        if graph_bytes > memory_limit:
            raise LimitExceededError(
                f"invalid value for 'n': estimating gamma needs about "
                f"{format_bytes(graph_bytes)} of memory for each random graph on "
                f"n={n} nodes, over the limit of {format_bytes(memory_limit)} (a "
                f"quarter of the memory of this machine); use n <= "
                f"{largest_n_in_memory}"
            )

    def correlation(self) -> CorrelationCertificate:
        """Return ``gamma`` as the upper end of a simultaneous 95% interval.

        The bound computed from it is valid with that confidence for the subsets
        examined, which are all of them when :math:`|W| \\le 16`.
        """
        estimate = self.bias_estimate()
        if estimate.exhaustive:
            subsets = f"all {estimate.n_subsets} nonempty subsets T of the window"
        else:
            subsets = (
                f"{estimate.n_subsets} subsets T ({len(self.window)} singletons and "
                f"random others; not all {self.family_size})"
            )
        detail = (
            f"largest |E[(-1)^(sum_(i in T) c_i)]| over {subsets}, from "
            f"{estimate.n_samples} sampled graphs: point estimate "
            f"{estimate.max_abs_bias:.4g} at T={list(estimate.argmax_degrees)}. "
            f"gamma is the upper end of a {CONFIDENCE:.0%} simultaneous Hoeffding "
            f"interval (union bound over those subsets, half-width "
            f"{estimate.half_width:.4g})"
        )
        return CorrelationCertificate(
            gamma=estimate.high,
            method="monte-carlo",
            detail=detail,
            interval=(estimate.low, estimate.high),
        )

    # Members -------------------------------------------------------------------

    def member_mask(self, member: Any = 1) -> int:
        """Return the bitmask of ``member`` over the window positions.

        ``member`` is an integer bitmask in ``[1, 2^|W| - 1]`` (also as a digit
        string) or a nonempty set of degrees in the window (a sequence, or a string
        such as ``"18,20"``).
        """
        allowed = (
            f"a bitmask in [1, {self.family_size}] over the window "
            f"{list(self.window)}, or a nonempty set of degrees in it"
        )
        if isinstance(member, str):
            text = member.strip()
            if text.isdigit():
                member = int(text)
            else:
                try:
                    member = [int(part) for part in text.strip("[]{}()").split(",")]
                except ValueError:
                    raise invalid("member", allowed, member) from None
        if isinstance(member, int | np.integer) and not isinstance(member, bool):
            if not 1 <= member <= self.family_size:
                raise invalid("member", allowed, member)
            return int(member)
        try:
            degrees = [int(degree) for degree in member]
        except (TypeError, ValueError):
            raise invalid("member", allowed, member) from None
        position = {degree: p for p, degree in enumerate(self.window)}
        if not degrees or len(set(degrees)) != len(degrees):
            raise invalid("member", allowed, member)
        if any(degree not in position for degree in degrees):
            raise invalid("member", allowed, member)
        return sum(1 << position[degree] for degree in degrees)

    def member_degrees(self, member: Any = 1) -> tuple[int, ...]:
        """Return the sorted degrees of the subset ``T`` of ``member``."""
        mask = self.member_mask(member)
        return tuple(d for p, d in enumerate(self.window) if mask >> p & 1)

    def member_description(self, member: Any = 1) -> dict[str, Any]:
        return {
            "mask": self.member_mask(member),
            "degrees": list(self.member_degrees(member)),
        }

    def random_member(self, rng: np.random.Generator) -> int:
        """Draw a uniform nonempty subset of the window, returned as its bitmask."""
        while True:
            bits = rng.integers(0, 2, size=len(self.window))
            if bits.any():
                return sum(1 << p for p, bit in enumerate(bits) if bit)

    # Data ----------------------------------------------------------------------

    def sample(
        self, num: int, *, member: Any = 1, seed: SeedLike = None
    ) -> dict[str, np.ndarray]:
        """Draw ``num`` graphs from :math:`G(n, 1/2)` and their labels.

        Returns
        -------
        dict
            ``"adj"``: uint8 array of shape (num, n, n), symmetric, zero diagonal.
            ``"y"``: float64 array of shape (num,) with values in {-1, 1}.
        """
        num = self.check_sample_count(num)
        degrees = self.member_degrees(member)
        adj = random_adjacency(num, self.n, as_generator(seed))
        return {"adj": adj, "y": _labels(adj.sum(axis=2), degrees)}

    def sample_memory_bytes(self, num: int) -> int:
        """Estimate the peak memory of ``sample(num)``.

        :func:`random_adjacency` keeps three uint8 arrays of shape (num, n, n) at
        once (the bits, their upper triangle and the symmetric result) and the
        packed random bytes. The degrees, the labels and their temporaries add
        about ``17 n + 16`` bytes per graph.
        """
        n = self.n
        return num * (3 * n * n + (n * n + 7) // 8 + 17 * n + 16)

    def evaluate(
        self, arrays: Mapping[str, np.ndarray], *, member: Any = 1
    ) -> np.ndarray:
        """Return the labels (float64, shape (num,)) of ``arrays["adj"]``.

        ``adj`` must have shape (num, n, n) with entries 0 or 1, be symmetric and
        have a zero diagonal.
        """
        if "adj" not in arrays:
            raise invalid("arrays", "a mapping with an entry 'adj'", sorted(arrays))
        adj = check_adjacency(arrays["adj"], self.n)
        return _labels(adj.sum(axis=2), self.member_degrees(member))

    def task(self, member: Any = 1) -> Task:
        """Return the training task for ``member``.

        The sampler returns ``((adj, x), y)``: ``adj`` float32 of shape
        (num, n, n), ``x`` the constant node feature, float32 ones of shape
        (num, n, 1), and ``y`` float32 of shape (num,).
        """
        degrees = self.member_degrees(member)

        def sampler(num: int, generator: torch.Generator, device: torch.device):
            upper = torch.randint(
                0,
                2,
                (num, self.n, self.n),
                generator=generator,
                device=device,
                dtype=torch.uint8,
            ).triu_(diagonal=1)
            adj = (upper + upper.transpose(1, 2)).to(torch.float32)
            selected = torch.tensor(degrees, device=device, dtype=torch.long)
            in_set = torch.isin(adj.sum(dim=2).long(), selected).sum(dim=1)
            y = (1 - 2 * (in_set % 2)).to(torch.float32)
            x = torch.ones(num, self.n, 1, device=device)
            return (adj, x), y

        return Task(f"{self!r} member T={list(degrees)}", self.n, sampler)

    # Networks ------------------------------------------------------------------

    def teacher(self, member: Any = 1) -> torch.nn.Module:
        """Build the one-layer GIN that computes ``member`` exactly (float64).

        A :class:`~symhard.graph_learners.DenseGIN` with ``depth=1``, width
        :attr:`teacher_width` and no batch norm, called as ``teacher(adj, x)`` with
        ``x`` ones of shape (batch, n, 1). With :math:`\\epsilon = -1` the layer
        input is the degree ``s`` of each node. Hidden units ``ReLU(s - t)`` for
        ``t`` from ``min(W) - 1`` to ``max(W) + 1`` combine into
        :math:`\\sum_{i \\in T} 1\\{s = i\\}`, sum pooling gives :math:`s_T`, and
        readout units ``ReLU(s_T - t)`` for ``t`` from -1 to ``n + 1`` combine
        into :math:`\\sum_{j=0}^{n} (-1)^j 1\\{s_T = j\\}`. All weights are
        integers, so the output equals the label exactly in float64.
        """
        degrees = self.member_degrees(member)
        width = self.teacher_width
        model = DenseGIN(1, width=width, depth=1, batch_norm=False).double()
        for parameter in model.parameters():
            parameter.data.zero_()
        layer = model.layers[0]
        low = self.window[0]
        in_set = np.array([d in degrees for d in self.window], dtype=np.float64)
        parity = (-1.0) ** np.arange(self.n + 1)
        with torch.no_grad():
            layer.eps.fill_(-1.0)
            _set_indicator_units(
                layer.mlp.first, layer.mlp.second, first_value=low, weights=in_set
            )
            _set_indicator_units(
                model.readout[0], model.readout[3], first_value=0, weights=parity
            )
        return model

    def make_learner(
        self, name: str, *, width: int = 256, depth: int = 2
    ) -> torch.nn.Module:
        """Build the graph learner ``name`` for inputs ``(adj, x)`` with one feature."""
        return make_graph_learner(name, n_features=1, width=width, depth=depth)

    def info(self) -> dict[str, Any]:
        lambdas = self.expected_counts
        return {
            "family": self.name,
            "params": self.params,
            "window": list(self.window),
            "window_size": len(self.window),
            "expected_counts": [float(value) for value in lambdas],
            "expected_counts_method": "exact (binomial probabilities)",
            "family_size": self.family_size,
            "poisson_bias_heuristic": float(np.exp(-2 * lambdas.min())),
            "poisson_bias_heuristic_note": "exp(-2 min_i E[c_i]): the parity bias "
            "of a Poisson count with the smallest window mean, an approximation, "
            "not a bound",
            "architecture": (
                f"gin-dense, 1 layer, width {self.teacher_width}, sum aggregation "
                "with eps=-1, ReLU, sum pooling, ReLU readout, no batch norm"
            ),
            "teacher_hidden_units": self.teacher_width,
            "label_values": "+1 or -1, so the CSQ bound also holds for SQ",
        }


def degree_window(n: int, lambda_min: float) -> tuple[int, ...]:
    """Return the degrees ``i`` with :math:`n P(\\mathrm{Bin}(n-1, 1/2) = i) \\ge`
    ``lambda_min``, in increasing order (a contiguous range, possibly empty)."""
    degrees = np.arange(n)
    counts = n * stats.binom.pmf(degrees, n - 1, 0.5)
    return tuple(int(i) for i in degrees[counts >= lambda_min])


def smallest_n_with_window(lambda_min: float) -> int:
    """Return the smallest ``n >= 2`` whose degree window is nonempty.

    The largest expected count, :math:`n P(\\mathrm{Bin}(n-1, 1/2) = \\lfloor
    (n-1)/2 \\rfloor)`, never decreases with ``n`` (it is equal for
    :math:`n = 2k+1, 2k+2` and grows by :math:`(2k+3)/(2k+2)` from :math:`2k+1`
    to :math:`2k+3`), so a binary search finds it.
    """

    def largest_count(n: int) -> float:
        return float(n * stats.binom.pmf((n - 1) // 2, n - 1, 0.5))

    high = 2
    while largest_count(high) < lambda_min:
        high *= 2
    low = high // 2
    while low < high:
        middle = (low + high) // 2
        if largest_count(middle) >= lambda_min:
            high = middle
        else:
            low = middle + 1
    return max(low, 2)


def random_adjacency(num: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw adjacency matrices of :math:`G(n, 1/2)`.

    Each entry above the diagonal is one uniformly random bit from ``rng``.

    Returns
    -------
    ndarray of shape (num, n, n)
        uint8, symmetric, zero diagonal.
    """
    n_bits = num * n * n
    raw = np.frombuffer(rng.bytes((n_bits + 7) // 8), dtype=np.uint8)
    bits = np.unpackbits(raw, count=n_bits).reshape(num, n, n)
    upper = bits & np.triu(np.ones((n, n), dtype=np.uint8), k=1)
    return upper + upper.transpose(0, 2, 1)


def check_adjacency(adj: Any, n: int) -> np.ndarray:
    """Return ``adj`` as a uint8 array after checking it is a simple graph on n nodes.

    The checks run on chunks of graphs, so their temporaries stay small however
    large the batch is. A uint8 input is returned without a copy.

    Raises
    ------
    InvalidParameterError
        Naming ``adj`` when the shape is not (num, n, n), an entry is not 0 or 1,
        the matrix is not symmetric, or the diagonal is not zero.
    """
    array = np.asarray(adj)
    if array.ndim != 3 or array.shape[1:] != (n, n):
        raise invalid("adj", f"an array of shape (num, {n}, {n})", array.shape)
    if array.dtype.kind not in "biuf":
        raise invalid("adj", "a numeric array of 0/1 entries", array.dtype)
    step = max(1, _CHECK_CHUNK_ENTRIES // (n * n))
    for start in range(0, len(array), step):
        _check_adjacency_chunk(array[start : start + step], start)
    return array.astype(np.uint8, copy=False)


def _check_adjacency_chunk(chunk: np.ndarray, offset: int) -> None:
    """Check graphs ``offset, offset + 1, ...`` of a batch, held in ``chunk``."""
    bad = np.argwhere((chunk != 0) & (chunk != 1))
    if len(bad):
        graph, row, column = (int(i) for i in bad[0])
        raise _adjacency_error(
            "entries 0 or 1", chunk, (graph, row, column), offset=offset
        )
    bad = np.argwhere(chunk != chunk.transpose(0, 2, 1))
    if len(bad):
        graph, row, column = (int(i) for i in bad[0])
        raise InvalidParameterError(
            "invalid value for 'adj': expected a symmetric matrix, got "
            f"adj[{graph + offset}, {row}, {column}] = "
            f"{value_text(chunk[graph, row, column])} but "
            f"adj[{graph + offset}, {column}, {row}] = "
            f"{value_text(chunk[graph, column, row])}"
        )
    bad = np.argwhere(np.diagonal(chunk, axis1=1, axis2=2) != 0)
    if len(bad):
        graph, node = (int(i) for i in bad[0])
        raise _adjacency_error(
            "a zero diagonal", chunk, (graph, node, node), offset=offset
        )


def estimate_max_bias(
    n: int,
    window: Sequence[int],
    *,
    n_samples: int,
    seed: SeedLike = None,
    chunk_bits: int = 2**26,
) -> BiasEstimate:
    """Estimate :math:`\\max_{T} |E[(-1)^{\\sum_{i \\in T} c_i}]|` on :math:`G(n, 1/2)`.

    Each sampled graph gives a parity pattern, the vector of :math:`c_i \\bmod 2`
    for ``i`` in the window. For windows of at most :data:`EXHAUSTIVE_WINDOW`
    degrees, the counts of the :math:`2^{|W|}` patterns go through one
    Walsh-Hadamard transform, which gives the sample bias of every subset at once.
    Larger windows examine the singletons and :data:`SAMPLED_SUBSETS` random
    subsets drawn from ``seed``.

    Parameters
    ----------
    n : int
        Number of nodes.
    window : sequence of int
        The degrees of the window.
    n_samples : int
        Number of graphs ``N``.
    seed : int, numpy.random.Generator or None, default=None
    chunk_bits : int, default=2**26
        Adjacency bits sampled at a time (bounds the memory, about one byte each).

    Returns
    -------
    BiasEstimate
    """
    rng = as_generator(seed)
    window_array = np.asarray(window, dtype=np.int64)
    size = len(window_array)
    chunk = max(1, chunk_bits // (n * n))
    patterns = []
    for start in range(0, n_samples, chunk):
        adj = random_adjacency(min(chunk, n_samples - start), n, rng)
        degrees = adj.sum(axis=2, dtype=np.int64)
        counts = (degrees[:, :, None] == window_array).sum(axis=1)
        patterns.append((counts % 2).astype(np.uint8))
    pattern = np.concatenate(patterns)  # (N, |W|)

    if size <= EXHAUSTIVE_WINDOW:
        codes = pattern.astype(np.int64) @ (1 << np.arange(size, dtype=np.int64))
        sums = walsh_hadamard(np.bincount(codes, minlength=2**size))
        subsets = (np.arange(1, 2**size)[:, None] >> np.arange(size)) & 1
        biases = sums[1:] / n_samples
    else:
        subsets = _sampled_subsets(size, rng)
        # One product of 0/1 matrices counts |T & pattern| for every T and graph;
        # the parity of that count is the sign.
        overlap = pattern.astype(np.float32) @ subsets.T.astype(np.float32)
        biases = (1 - 2 * (np.rint(overlap).astype(np.int64) % 2)).mean(axis=0)
    best = int(np.argmax(np.abs(biases)))
    n_subsets = len(biases)
    half = math.sqrt(2 * math.log(2 * n_subsets / (1 - CONFIDENCE)) / n_samples)
    point = float(abs(biases[best]))
    return BiasEstimate(
        max_abs_bias=point,
        low=max(0.0, point - half),
        high=min(1.0, point + half),
        half_width=half,
        n_subsets=n_subsets,
        exhaustive=size <= EXHAUSTIVE_WINDOW,
        argmax_degrees=tuple(int(d) for d in window_array[subsets[best] == 1]),
        n_samples=n_samples,
    )


def walsh_hadamard(values: np.ndarray) -> np.ndarray:
    """Return :math:`\\hat v_T = \\sum_x v_x (-1)^{|x \\wedge T|}` for every mask ``T``.

    Parameters
    ----------
    values : ndarray of shape (2^k,)

    Returns
    -------
    ndarray of shape (2^k,), float64
    """
    result = np.asarray(values, dtype=np.float64).copy()
    size = len(result)
    if size & (size - 1):
        raise invalid("values", "an array whose length is a power of 2", size)
    step = 1
    while step < size:
        pairs = result.reshape(-1, 2, step)
        result = np.stack(
            [pairs[:, 0] + pairs[:, 1], pairs[:, 0] - pairs[:, 1]], axis=1
        ).reshape(-1)
        step *= 2
    return result


def _sampled_subsets(size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw up to SAMPLED_SUBSETS random subsets and add the singletons, as 0/1 rows."""
    random_rows = rng.integers(0, 2, size=(SAMPLED_SUBSETS, size), dtype=np.uint8)
    random_rows = random_rows[random_rows.sum(axis=1) >= 2]
    rows = np.concatenate([np.eye(size, dtype=np.uint8), random_rows])
    return np.unique(rows, axis=0)


def _labels(degrees: np.ndarray, selected: Sequence[int]) -> np.ndarray:
    """Compute the labels :math:`(-1)^{s_T}` from node degrees of shape (num, n)."""
    in_set = np.isin(degrees, np.asarray(selected)).sum(axis=1)
    return 1.0 - 2.0 * (in_set % 2)


def _set_indicator_units(
    hidden: torch.nn.Linear,
    output: torch.nn.Linear,
    *,
    first_value: int,
    weights: np.ndarray,
) -> None:
    """Make channel 0 of ``output`` compute :math:`\\sum_q w_q 1\\{s = v_0 + q\\}`.

    ``s`` is input channel 0 of ``hidden``. Hidden unit ``k`` is
    ``ReLU(s - (v_0 - 1 + k))``, and the indicator of value ``v`` is
    ``ReLU(s-v+1) - 2 ReLU(s-v) + ReLU(s-v-1)``, so output channel 0 has the
    coefficients ``weights`` convolved with (1, -2, 1).
    """
    coefficients = np.convolve(weights, [1.0, -2.0, 1.0])
    units = len(coefficients)
    thresholds = first_value - 1 + np.arange(units)
    hidden.weight[:units, 0] = 1.0
    hidden.bias[:units] = torch.as_tensor(-thresholds, dtype=hidden.bias.dtype)
    output.weight[0, :units] = torch.as_tensor(coefficients, dtype=output.weight.dtype)


def _adjacency_error(
    expected: str, chunk: np.ndarray, index: tuple[int, int, int], *, offset: int
) -> InvalidParameterError:
    graph, row, column = index
    return InvalidParameterError(
        f"invalid value for 'adj': expected {expected}, got "
        f"adj[{graph + offset}, {row}, {column}] = {value_text(chunk[index])}"
    )
