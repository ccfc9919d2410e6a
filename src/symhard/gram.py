"""Exact Gram matrices of ReLU ridge sums that share one template, at scale.

A :class:`FrameTemplate` fixes ReLU units :math:`u_i \\in R^k` with coefficients
:math:`a_i`. A frame :math:`P \\in R^{D \\times k}` with orthonormal columns places
the template in :math:`R^D`:

.. math:: f_P(z) = \\sum_i a_i \\,\\mathrm{relu}(\\langle P u_i, z \\rangle),
          \\qquad z \\sim N(0, I_D).

Two optional lifts keep the same frames:

- aggregation: a matrix :math:`\\hat A \\in R^{n \\times n}` with unit-norm rows; the
  input is :math:`X \\in R^{n \\times D}` with i.i.d. :math:`N(0, I_D)` rows and
  :math:`f_P(X) = n^{-1/2} \\sum_v f_P((\\hat A X)_v)` (one message-passing layer
  and a sum readout);
- group averaging: :math:`f^G_P(z) = |G|^{-1} \\sum_g f_P(g \\cdot z)` with
  :math:`(g \\cdot z)[\\pi_g(i)] = z_i`.

Exact inner products. Because :math:`\\mathrm{relu}(t) = (|t| + t)/2`, a ridge sum
splits into an even part :math:`\\sum_p \\omega_p |\\langle \\hat u_p, z\\rangle|`
(units whose directions agree up to sign merge into one) and a linear part
:math:`\\langle l, z \\rangle / 2` with :math:`l = \\sum_i a_i u_i`. The two parts
are orthogonal, and for unit-variance Gaussians with correlation ``c``,
:math:`E|X||Y| = (2/\\pi)(\\sqrt{1 - c^2} + c \\arcsin c)`. The correlation of two
units is :math:`\\hat u_p^T P^T Q \\hat u_q`, so a pair of members needs only the
small matrix :math:`P^T Q`. One matrix product gives it for a whole block of pairs,
and the kernel is applied elementwise. Node pairs :math:`(v, v')` multiply the
correlation by the node cosine :math:`\\langle \\hat A_v, \\hat A_{v'} \\rangle`,
and for the group lift
:math:`\\langle f^G_P, f^G_Q \\rangle = |G|^{-1} \\sum_g \\langle f_P, f_{Q_g}
\\rangle` with :math:`Q_g = Q[\\pi_g]` (rows permuted).

References
----------
Y. Cho and L. K. Saul, *Kernel methods for deep learning*, NeurIPS 2009 (the
arc-cosine kernel, of which the formula for :math:`E|X||Y|` is the even part).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from symhard._validation import (
    LimitExceededError,
    SeedLike,
    as_generator,
    check_float,
    check_int,
    invalid,
)
from symhard.ridge import Estimate, RidgeSum, mean_with_interval

logger = logging.getLogger(__name__)

__all__ = [
    "FrameTemplate",
    "GramCertificate",
    "exact_gram_certificate",
    "exact_inner_products",
    "gram_kernel_evaluations",
    "monte_carlo_correlation",
]

# Largest deviation of P^T P from the identity accepted for a frame.
_ORTHONORMAL_TOLERANCE = 1e-8

# Node cosines that agree to this many decimals are computed once, with their mean
# as the value. Such values differ only by rounding in the product A_hat A_hat^T.
_NODE_COSINE_DECIMALS = 12

# Float64 entries per chunk of the kernel pass: 256 KiB, which fits a typical L2
# cache, so the several elementwise steps of the kernel reuse cached data.
_KERNEL_CHUNK = 32_768

# Default cap on the rows of a block (a block holds up to _MAX_BLOCK^2 pairs).
_MAX_BLOCK = 512

# Elements of the hidden layer computed at once by an evaluator.
_EVALUATION_CHUNK = 2**22


class FrameTemplate:
    """ReLU units in :math:`R^k` that frames place in :math:`R^D`, with a lift.

    Parameters
    ----------
    directions : ndarray of shape (units, k)
        The directions :math:`u_i` of the template, of any length (zero rows
        contribute nothing).
    coefficients : ndarray of shape (units,)
        The output weights :math:`a_i`.
    aggregation : ndarray of shape (n, n) or None, default=None
        Node mixing :math:`\\hat A` with unit-norm rows, so that each row of
        :math:`\\hat A X` is standard Gaussian. Inputs then have shape (num, n, D).
    group_elements : ndarray of shape (order, D) or None, default=None
        All elements of a permutation group acting on the ``D`` coordinates
        (element ``perm`` maps point ``i`` to ``perm[i]``). They must form a group,
        because the kernel of the average is reduced to one sum over elements.

    Notes
    -----
    The two lifts exclude each other. Inputs have shape (num, D) without
    aggregation and (num, n, D) with it.
    """

    def __init__(
        self,
        directions: np.ndarray,
        coefficients: np.ndarray,
        *,
        aggregation: np.ndarray | None = None,
        group_elements: np.ndarray | None = None,
    ) -> None:
        directions = np.array(directions, dtype=np.float64, ndmin=2)
        coefficients = np.array(coefficients, dtype=np.float64, ndmin=1)
        if directions.ndim != 2 or coefficients.shape != (len(directions),):
            raise invalid(
                "coefficients",
                f"an array of shape ({len(directions)},) to match directions of "
                "shape (units, k)",
                coefficients.shape,
            )
        if aggregation is not None and group_elements is not None:
            raise invalid(
                "group_elements", "None when aggregation is given", "an array"
            )
        self.directions = _read_only(directions)
        self.coefficients = _read_only(coefficients)
        self.aggregation = None
        self.group_elements = None
        if aggregation is not None:
            self.aggregation = _read_only(_check_aggregation(aggregation))
        if group_elements is not None:
            self.group_elements = _read_only(_check_group_elements(group_elements))
        self._split_even_and_linear()
        self._node_cosines, self._node_weights = self._group_node_cosines()

    def __repr__(self) -> str:
        lift = "none"
        if self.aggregation is not None:
            lift = f"aggregation over n={self.n_nodes} nodes"
        elif self.group_elements is not None:
            lift = f"average over {len(self.group_elements)} group elements"
        return f"FrameTemplate(units={self.units}, k={self.k}, lift={lift!r})"

    @property
    def units(self) -> int:
        """Number of ReLU units of one member before any lift."""
        return len(self.directions)

    @property
    def k(self) -> int:
        """Columns of a frame."""
        return self.directions.shape[1]

    @property
    def n_nodes(self) -> int:
        """Rows ``n`` of the input (1 without aggregation)."""
        return 1 if self.aggregation is None else len(self.aggregation)

    @property
    def n_transforms(self) -> int:
        """Number of group elements averaged over (1 without a group)."""
        return 1 if self.group_elements is None else len(self.group_elements)

    def input_shape(self, dim: int) -> tuple[int, ...]:
        """Return the shape of one input for frames in :math:`R^{dim}`."""
        return (dim,) if self.aggregation is None else (self.n_nodes, dim)

    # Evaluation --------------------------------------------------------------

    def evaluator(
        self,
        frames: np.ndarray,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """Build a function that evaluates the members of ``frames`` on a batch.

        The function uses the ReLU units as given, not the even and linear split
        of the kernel, so it is an independent path for Monte Carlo checks.

        Parameters
        ----------
        frames : ndarray of shape (members, D, k)
        device : torch.device or str, default="cpu"
        dtype : torch.dtype, default=torch.float64

        Returns
        -------
        callable
            Maps a tensor of shape (num, D), or (num, n, D) with aggregation, to
            the unnormalized values of shape (num, members).
        """
        frames = _check_frames(frames, self)
        # Column (member, element, unit) of `flat` contains P[perm] u_i, because
        # <P u, g.z> = <P[perm] u, z>.
        weights = self._transformed(np.einsum("mdk,ik->mdi", frames, self.directions))
        members, order, dim = weights.shape[:3]
        flat = weights.transpose(2, 0, 1, 3).reshape(dim, -1)
        flat = torch.as_tensor(flat, dtype=dtype, device=device)
        coefficients = torch.as_tensor(
            self.coefficients.copy(), dtype=dtype, device=device
        )
        mixing = None
        if self.aggregation is not None:
            mixing = torch.as_tensor(
                self.aggregation.copy(), dtype=dtype, device=device
            )
        n_nodes, units = self.n_nodes, self.units
        chunk = max(1, _EVALUATION_CHUNK // (flat.shape[1] * n_nodes))

        def evaluate(inputs: torch.Tensor) -> torch.Tensor:
            parts = []
            for start in range(0, len(inputs), chunk):
                batch = inputs[start : start + chunk]
                if mixing is not None:
                    batch = mixing @ batch  # (num, n, D)
                hidden = torch.relu(batch @ flat)
                hidden = hidden.reshape(*hidden.shape[:-1], members, order, units)
                values = (hidden @ coefficients).mean(dim=-1)
                if mixing is not None:
                    values = values.sum(dim=1) / math.sqrt(n_nodes)
                parts.append(values)
            return torch.cat(parts)

        return evaluate

    def evaluate(self, frames: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Evaluate the members of ``frames`` on ``inputs`` in float64.

        Parameters
        ----------
        frames : ndarray of shape (members, D, k)
        inputs : ndarray of shape (num, D), or (num, n, D) with aggregation

        Returns
        -------
        ndarray of shape (num, members)
            Unnormalized values.
        """
        frames = _check_frames(frames, self)
        inputs = np.asarray(inputs, dtype=np.float64)
        expected = self.input_shape(frames.shape[1])
        if inputs.ndim != len(expected) + 1 or inputs.shape[1:] != expected:
            raise invalid(
                "inputs", f"an array of shape (num, {expected})", inputs.shape
            )
        return self.evaluator(frames)(torch.from_numpy(inputs)).numpy()

    def ridge_sum(self, frame: np.ndarray) -> RidgeSum:
        """Return one member as an explicit ridge sum on the flattened input.

        The flattened input is ``X.reshape(n * D)`` with aggregation (row-major)
        and ``z`` otherwise. Meant for small sizes and checks: it stores
        ``units * n * n * D`` or ``units * order * D`` weights.

        Parameters
        ----------
        frame : ndarray of shape (D, k)
        """
        frame = _check_frames(np.asarray(frame, dtype=np.float64)[None], self)[0]
        columns = frame @ self.directions.T  # (D, units)
        if self.aggregation is not None:
            n = self.n_nodes
            weights = np.einsum("vw,di->viwd", self.aggregation, columns)
            weights = weights.reshape(n * self.units, n * frame.shape[0])
            coefficients = np.tile(self.coefficients, n) / math.sqrt(n)
        elif self.group_elements is not None:
            weights = np.moveaxis(columns[self.group_elements], 2, 1)
            weights = weights.reshape(-1, frame.shape[0])
            order = len(self.group_elements)
            coefficients = np.tile(self.coefficients, order) / order
        else:
            weights = columns.T
            coefficients = self.coefficients
        return RidgeSum(weights, coefficients, "relu")

    # Kernel ------------------------------------------------------------------

    def _split_even_and_linear(self) -> None:
        # relu(t) = (|t| + t) / 2: the even part keeps one unit per direction up
        # to sign, with weight sum a_i |u_i| / 2; the linear part is l / 2.
        norms = np.linalg.norm(self.directions, axis=1)
        keep = norms > 0
        unit = self.directions[keep] / norms[keep, None]
        first_nonzero = np.argmax(unit != 0, axis=1)
        signs = np.sign(unit[np.arange(len(unit)), first_nonzero])
        canonical = unit * signs[:, None]
        merged, inverse = np.unique(canonical, axis=0, return_inverse=True)
        weights = np.zeros(len(merged))
        np.add.at(weights, inverse.ravel(), self.coefficients[keep] * norms[keep] / 2)
        self._abs_directions = merged
        self._abs_weights = weights
        self._linear = self.coefficients @ self.directions

    def _group_node_cosines(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the distinct node cosines and their counts divided by ``n``."""
        if self.aggregation is None:
            return np.ones(1), np.ones(1)
        cosines = (self.aggregation @ self.aggregation.T).ravel()
        keys = np.round(cosines, _NODE_COSINE_DECIMALS)
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        values = np.bincount(inverse.ravel(), weights=cosines) / counts
        return values, counts / self.n_nodes

    def _reduce(self, correlations: np.ndarray, linear: np.ndarray) -> np.ndarray:
        """Combine unit correlations into inner products of members.

        Parameters
        ----------
        correlations : ndarray of shape (A, r, B, r), C-contiguous
            Entry ``[a, p, b, q]`` is the correlation of even unit ``p`` of row
            member ``a`` with even unit ``q`` of column ``b`` (a member and a
            group element). It is read, not changed.
        linear : ndarray of shape (A, B)
            The products ``<P_a l, Q_b l>`` of the linear parts.

        Returns
        -------
        ndarray of shape (A, B)
            Inner products, summed over node pairs.
        """
        r = correlations.shape[-1]
        rows = correlations.reshape(-1, r)
        # Sum over q of w_q H(rho c_pq), summed over the node cosines rho. The
        # kernel runs on chunks that fit in the CPU cache, so its elementwise
        # steps do not each re-read the whole block from memory.
        first = np.zeros(len(rows))
        step = max(1, _KERNEL_CHUNK // r)
        buffer = np.empty((min(step, len(rows)), r))
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            scaled = buffer[: len(chunk)]
            for cosine, weight in zip(
                self._node_cosines, self._node_weights, strict=True
            ):
                np.multiply(chunk, cosine, out=scaled)
                kernel = _abs_kernel_inplace(scaled) @ self._abs_weights
                first[start : start + len(chunk)] += weight * kernel
        first = first.reshape(correlations.shape[:-1])  # (A, r, B)
        even = (2 / np.pi) * np.matmul(self._abs_weights, first)
        linear_factor = float(self._node_weights @ self._node_cosines) / 4
        return even + linear_factor * linear

    def _folded(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the even-part columns (members, D, r) and linear parts (M, D)."""
        return frames @ self._abs_directions.T, frames @ self._linear

    def _transformed(self, array: np.ndarray) -> np.ndarray:
        """Insert the group axis: (members, D, ...) -> (members, G, D, ...)."""
        if self.group_elements is None:
            return array[:, None]
        return array[:, self.group_elements]

    def _bytes_per_pair(self) -> int:
        # Per group element the correlations (r * r), the partial sums (r) and the
        # linear part, then 4 numbers per pair for the raw, normalized and absolute
        # correlations and the norm products.
        r = len(self._abs_directions)
        return 8 * (self.n_transforms * (r * r + r + 1) + 4)

    def _bytes_per_column(self, dim: int) -> int:
        # The permuted folded frames of a column member and their regrouped copy.
        r = len(self._abs_directions)
        return 8 * 2 * self.n_transforms * dim * (r + 1)


@dataclass(frozen=True)
class GramCertificate:
    """The exact largest correlation between distinct members, and how it was found.

    Attributes
    ----------
    gamma : float
        :math:`\\max_{a < b} |\\langle f_a, f_b \\rangle| / (\\|f_a\\| \\|f_b\\|)`, 0
        for a single member.
    argmax : tuple of int or None
        The pair ``(a, b)``, ``a < b``, that attains ``gamma``; None for one member.
    n_pairs : int
        Number of pairs examined, ``M (M - 1) / 2``.
    n_members : int
        Number of members ``M``.
    mean_abs : float
        Mean of the absolute correlations over all pairs (0 for one member).
    norms_sq : ndarray of shape (M,)
        Exact squared norms of the unnormalized members.
    seconds : float
        Wall time of the computation.
    method : str
        Always ``"exact"``: closed-form kernel in float64, no sampling.
    gram : ndarray of shape (M, M) or None
        The normalized Gram matrix when requested.
    """

    gamma: float
    argmax: tuple[int, int] | None
    n_pairs: int
    n_members: int
    mean_abs: float
    norms_sq: np.ndarray
    seconds: float
    method: str = "exact"
    gram: np.ndarray | None = None


def exact_inner_products(
    frames_a: np.ndarray,
    frames_b: np.ndarray,
    template: FrameTemplate,
    *,
    memory_limit_mb: float = 256.0,
) -> np.ndarray:
    """Compute :math:`\\langle f_{P_l}, f_{Q_l} \\rangle` for paired frames, exactly.

    Parameters
    ----------
    frames_a, frames_b : ndarray of shape (L, D, k)
        The pairs ``(P_l, Q_l)``.
    template : FrameTemplate
    memory_limit_mb : float, default=256.0
        Bound on the working memory, in MiB.

    Returns
    -------
    ndarray of shape (L,), float64
        Unnormalized inner products, including the lift.
    """
    frames_a = _check_frames(frames_a, template, name="frames_a")
    frames_b = _check_frames(frames_b, template, name="frames_b")
    if frames_a.shape != frames_b.shape:
        raise invalid("frames_b", f"an array of shape {frames_a.shape}", frames_b.shape)
    limit = _memory_limit_bytes(memory_limit_mb)
    per_pair = template._bytes_per_pair() + template._bytes_per_column(
        frames_a.shape[1]
    )
    chunk = _pairs_within(limit, per_pair, memory_limit_mb)
    result = np.empty(len(frames_a))
    for start in range(0, len(frames_a), chunk):
        rows_abs, rows_linear = template._folded(frames_a[start : start + chunk])
        cols_abs, cols_linear = template._folded(frames_b[start : start + chunk])
        cols_abs = template._transformed(cols_abs)  # (L, G, D, r)
        cols_linear = template._transformed(cols_linear)  # (L, G, D)
        correlations = np.ascontiguousarray(
            np.einsum("ldp,lgdq->lpgq", rows_abs, cols_abs)
        )
        linear = np.einsum("ld,lgd->lg", rows_linear, cols_linear)
        inner = template._reduce(correlations, linear)  # (L, G)
        result[start : start + len(inner)] = inner.mean(axis=1)
    return result


def exact_gram_certificate(
    frames: np.ndarray,
    template: FrameTemplate,
    *,
    return_gram: bool = False,
    block_size: int | None = None,
    memory_limit_mb: float = 256.0,
) -> GramCertificate:
    """Compute the exact maximum correlation over all pairs of members, by blocks.

    The members are :math:`f_{P_a}` for the frames :math:`P_a` under ``template``.
    Pairs are visited in blocks of ``b x b``, upper triangle only. One matrix
    product gives all unit correlations of a block, and the kernel is applied in
    cache-sized chunks. Only the maximum, its pair and the running sum of
    absolute values are kept from each block.

    Parameters
    ----------
    frames : ndarray of shape (M, D, k)
        Frames with orthonormal columns.
    template : FrameTemplate
    return_gram : bool, default=False
        Also return the normalized Gram matrix (``8 M^2`` more bytes).
    block_size : int or None, default=None
        Rows ``b`` of a block; None picks the largest ``b <= 512`` within
        ``memory_limit_mb``.
    memory_limit_mb : float, default=256.0
        Bound on the working memory, in MiB.

    Returns
    -------
    GramCertificate

    Raises
    ------
    LimitExceededError
        If a single pair, or the requested Gram matrix, does not fit in
        ``memory_limit_mb``.

    Notes
    -----
    Let ``G`` be the number of group elements (1 without a group), ``r`` the
    number of merged even units and ``S`` the number of distinct node cosines. A
    block of ``b x b`` pairs holds ``b^2 (G (r^2 + r + 1) + 4) + 2 b G D (r + 1)``
    float64 numbers and costs ``S`` kernel passes, and ``b`` is chosen so that
    this stays within ``memory_limit_mb``. The folded frames add ``M D (r + 1)``
    numbers, and the kernel works on chunks of 32,768 numbers.

    Examples
    --------
    >>> import numpy as np
    >>> template = FrameTemplate(np.eye(2), np.array([1.0, -1.0]))
    >>> frames = np.stack([np.eye(3)[:, :2], np.eye(3)[:, [0, 2]]])
    >>> certificate = exact_gram_certificate(frames, template)
    >>> round(certificate.gamma, 6)  # relu(z1) - relu(z2) vs relu(z1) - relu(z3)
    0.5
    """
    start_time = time.perf_counter()
    frames = _check_frames(frames, template)
    count, dim = len(frames), frames.shape[1]
    limit = _memory_limit_bytes(memory_limit_mb)
    if return_gram and 8 * count * count > limit:
        raise LimitExceededError(
            f"invalid value for 'memory_limit_mb': the Gram matrix of {count} "
            f"members needs {8 * count * count / 2**20:.0f} MiB, over the limit of "
            f"{memory_limit_mb} MiB; raise memory_limit_mb or pass return_gram=False"
        )
    block = _block_rows(template, dim, limit, memory_limit_mb, block_size)

    norms_sq = exact_inner_products(
        frames, frames, template, memory_limit_mb=memory_limit_mb
    )
    inverse_norms = 1.0 / np.sqrt(norms_sq)
    folded_abs, folded_linear = template._folded(frames)
    gram = np.eye(count) if return_gram else None
    gamma, argmax, total_abs = 0.0, None, 0.0
    for row in range(0, count, block):
        rows = slice(row, min(row + block, count))
        for column in range(row, count, block):
            columns = slice(column, min(column + block, count))
            raw = _block_inner(template, folded_abs, folded_linear, rows, columns)
            correlations = raw * np.outer(inverse_norms[rows], inverse_norms[columns])
            magnitude = np.abs(correlations)
            if row == column:
                # Entries on or below the diagonal are not pairs a < b.
                magnitude[np.tril_indices_from(magnitude)] = -1.0
            total_abs += float(magnitude[magnitude > 0].sum())
            local = np.unravel_index(np.argmax(magnitude), magnitude.shape)
            if magnitude[local] >= 0 and (argmax is None or magnitude[local] > gamma):
                gamma = float(magnitude[local])
                argmax = (row + int(local[0]), column + int(local[1]))
            if gram is not None:
                gram[rows, columns] = correlations
                gram[columns, rows] = correlations.T
    if gram is not None:
        np.fill_diagonal(gram, 1.0)

    n_pairs = count * (count - 1) // 2
    seconds = time.perf_counter() - start_time
    logger.debug("exact Gram certificate: %d pairs in %.3f s", n_pairs, seconds)
    return GramCertificate(
        gamma=gamma,
        argmax=argmax,
        n_pairs=n_pairs,
        n_members=count,
        mean_abs=total_abs / n_pairs if n_pairs else 0.0,
        norms_sq=norms_sq,
        seconds=seconds,
        gram=gram,
    )


def gram_kernel_evaluations(template: FrameTemplate, members: int) -> int:
    """Count the kernel evaluations of :func:`exact_gram_certificate` on ``members``.

    Each of the ``M (M - 1) / 2`` pairs evaluates the kernel once per pair of
    merged even units, group element and distinct node cosine, ``r^2 G S`` times
    (see the notes of :func:`exact_gram_certificate`). Blocks on the diagonal also
    compute their lower half, at most ``M b / 2`` more pairs, which the count
    leaves out. The time of the computation grows with this count.

    Parameters
    ----------
    template : FrameTemplate
    members : int
        Number of members ``M``, at least 1.

    Returns
    -------
    int
    """
    members = check_int("members", members, low=1)
    units = len(template._abs_directions)
    per_pair = units * units * template.n_transforms * len(template._node_cosines)
    return members * (members - 1) // 2 * per_pair


def monte_carlo_correlation(
    frames: np.ndarray,
    template: FrameTemplate,
    pair: tuple[int, int],
    *,
    n_samples: int = 100_000,
    seed: SeedLike = None,
    confidence: float = 0.95,
    normalize: bool = True,
    batch_size: int = 65_536,
) -> Estimate:
    """Estimate the correlation of two members from Gaussian samples.

    An independent cross-check of :func:`exact_gram_certificate`: the members are
    evaluated with their ReLU units as given (see :meth:`FrameTemplate.evaluator`),
    and the exact value should lie in the interval about ``confidence`` of the
    time.

    Parameters
    ----------
    frames : ndarray of shape (M, D, k)
    template : FrameTemplate
    pair : tuple of int
        Indices ``(a, b)`` into ``frames``; ``a == b`` estimates a squared norm.
    n_samples : int, default=100_000
    seed : int, numpy.random.Generator or None, default=None
    confidence : float, default=0.95
    normalize : bool, default=True
        Divide by the exact norms :math:`\\|f_a\\| \\|f_b\\|` (a constant, so the
        interval stays valid); False estimates the raw inner product.
    batch_size : int, default=65_536
        Samples drawn at once.

    Returns
    -------
    Estimate
    """
    frames = _check_frames(frames, template)
    n_samples = check_int("n_samples", n_samples, low=2)
    batch_size = check_int("batch_size", batch_size, low=1)
    confidence = check_float("confidence", confidence, low=0.0, high=1.0, low_open=True)
    first, second = (
        check_int(name, index, low=0, high=len(frames) - 1)
        for name, index in zip(("pair[0]", "pair[1]"), pair, strict=True)
    )
    rng = as_generator(seed)
    selected = frames[[first, second]]
    evaluate = template.evaluator(selected)
    shape = template.input_shape(frames.shape[1])
    products = np.empty(n_samples)
    for start in range(0, n_samples, batch_size):
        count = min(batch_size, n_samples - start)
        values = evaluate(torch.from_numpy(rng.standard_normal((count, *shape))))
        products[start : start + count] = (values[:, 0] * values[:, 1]).numpy()
    estimate = mean_with_interval(products, confidence=confidence)
    if not normalize:
        return estimate
    norms_sq = exact_inner_products(selected, selected, template)
    scale = 1.0 / math.sqrt(norms_sq[0] * norms_sq[1])
    return Estimate(
        value=estimate.value * scale,
        low=estimate.low * scale,
        high=estimate.high * scale,
        confidence=estimate.confidence,
        n_samples=estimate.n_samples,
    )


# Internals -----------------------------------------------------------------------


def _block_inner(
    template: FrameTemplate,
    folded_abs: np.ndarray,
    folded_linear: np.ndarray,
    rows: slice,
    columns: slice,
) -> np.ndarray:
    """Return the raw inner products of a block of members, shape (rows, columns)."""
    row_abs = folded_abs[rows]  # (b1, D, r)
    col_abs = template._transformed(folded_abs[columns])  # (b2, G, D, r)
    b1, dim, r = row_abs.shape
    b2, order = col_abs.shape[:2]
    left = row_abs.transpose(0, 2, 1).reshape(b1 * r, dim)
    right = np.moveaxis(col_abs, 2, 0).reshape(dim, b2 * order * r)
    correlations = (left @ right).reshape(b1, r, b2 * order, r)
    col_linear = template._transformed(folded_linear[columns])  # (b2, G, D)
    linear = folded_linear[rows] @ col_linear.reshape(b2 * order, dim).T
    inner = template._reduce(correlations, linear)  # (b1, b2 * G)
    return inner.reshape(b1, b2, order).mean(axis=2)


def _abs_kernel_inplace(correlations: np.ndarray) -> np.ndarray:
    """Overwrite ``c`` with :math:`\\sqrt{1 - c^2} + c \\arcsin c` and return it."""
    np.clip(correlations, -1.0, 1.0, out=correlations)
    arcsine_part = np.arcsin(correlations)
    arcsine_part *= correlations
    # (1 - c)(1 + c) keeps full relative accuracy near |c| = 1, where 1 - c^2
    # would lose it; the two square-root terms then cancel consistently.
    complement = 1.0 + correlations
    np.subtract(1.0, correlations, out=correlations)
    correlations *= complement
    np.sqrt(correlations, out=correlations)
    correlations += arcsine_part
    return correlations


def _block_rows(
    template: FrameTemplate,
    dim: int,
    limit: float,
    memory_limit_mb: float,
    block_size: int | None,
) -> int:
    per_pair = template._bytes_per_pair()
    per_column = template._bytes_per_column(dim)
    _pairs_within(limit, per_pair + per_column, memory_limit_mb)
    if block_size is not None:
        block = check_int("block_size", block_size, low=1)
        needed = block * block * per_pair + block * per_column
        if needed > limit:
            raise LimitExceededError(
                f"invalid value for 'block_size': a block of {block} rows needs "
                f"{needed / 2**20:.1f} MiB, over memory_limit_mb={memory_limit_mb}; "
                "pass a smaller block_size or None"
            )
        return block
    # Largest b with b^2 per_pair + b per_column <= limit.
    root = (-per_column + math.sqrt(per_column**2 + 4 * per_pair * limit)) / (
        2 * per_pair
    )
    return max(1, min(_MAX_BLOCK, int(root)))


def _pairs_within(limit: float, per_pair: int, memory_limit_mb: float) -> int:
    if per_pair > limit:
        raise LimitExceededError(
            f"invalid value for 'memory_limit_mb': one pair of members needs "
            f"{per_pair / 2**20:.1f} MiB of working memory, over the limit of "
            f"{memory_limit_mb} MiB; raise memory_limit_mb or use a smaller group"
        )
    return max(1, int(limit // per_pair))


def _memory_limit_bytes(memory_limit_mb: float) -> float:
    return check_float("memory_limit_mb", memory_limit_mb, low=0.0, low_open=True) * (
        2**20
    )


def _check_frames(
    frames: np.ndarray, template: FrameTemplate, name: str = "frames"
) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float64)
    k = template.k
    if frames.ndim != 3 or frames.shape[2] != k or len(frames) == 0:
        raise invalid(name, f"a non-empty array of shape (M, D, {k})", frames.shape)
    if template.group_elements is not None:
        dim = template.group_elements.shape[1]
        if frames.shape[1] != dim:
            raise invalid(
                name, f"frames in R^{dim}, where the group acts", frames.shape
            )
    deviation = np.abs(np.einsum("mdk,mdl->mkl", frames, frames) - np.eye(k)).max()
    if not deviation <= _ORTHONORMAL_TOLERANCE:
        raise invalid(
            name,
            f"frames with orthonormal columns (max |P^T P - I| <= "
            f"{_ORTHONORMAL_TOLERANCE:g})",
            f"max deviation {deviation:.3g}",
        )
    return frames


def _check_aggregation(aggregation: np.ndarray) -> np.ndarray:
    aggregation = np.asarray(aggregation, dtype=np.float64)
    if (
        aggregation.ndim != 2
        or aggregation.shape[0] != aggregation.shape[1]
        or len(aggregation) == 0
    ):
        raise invalid("aggregation", "a non-empty square matrix", aggregation.shape)
    deviation = np.abs(np.linalg.norm(aggregation, axis=1) - 1.0).max()
    if not deviation <= _ORTHONORMAL_TOLERANCE:
        raise invalid(
            "aggregation",
            "a matrix with unit-norm rows",
            f"rows with norms off by up to {deviation:.3g}",
        )
    return aggregation


def _check_group_elements(elements: np.ndarray) -> np.ndarray:
    elements = np.asarray(elements)
    allowed = "an integer array of shape (order, D) whose rows are permutations"
    if elements.ndim != 2 or len(elements) == 0 or elements.dtype.kind not in "iu":
        raise invalid("group_elements", allowed, elements.shape)
    expected = np.arange(elements.shape[1])
    if not np.array_equal(
        np.sort(elements, axis=1), np.broadcast_to(expected, elements.shape)
    ):
        raise invalid("group_elements", allowed, "a row that is not a permutation")
    return elements.astype(np.int64)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.setflags(write=False)
    return array
