"""Exact solvers: brute force over splits, and a MILP for consistency of the GNN class.

Both decide the same question for a Set Splitting instance, through the reduction
of :mod:`symhard.nphard.reduction`, so their results must agree.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import Bounds, LinearConstraint, milp

from symhard._validation import (
    LimitExceededError,
    check_float,
    check_int,
    invalid,
)
from symhard.nphard.gnn import N_UNITS, DegreeHistogramGNN
from symhard.nphard.instances import SetSplittingInstance, Split, is_valid_split
from symhard.nphard.reduction import degree_histograms, reduction_graphs

logger = logging.getLogger(__name__)

MAX_BRUTE_FORCE_ELEMENTS = 30
"""Largest element count for brute force, which checks up to 2^29 splits."""

_BRUTE_FORCE_CHUNK = 1 << 16

# Status codes of scipy.optimize.milp (SciPy 1.11 to 1.17).
_MILP_OPTIMAL = 0
_MILP_INFEASIBLE = 2


@dataclass
class SolverResult:
    """The result of one exact solver on one Set Splitting instance.

    Attributes
    ----------
    solver : str
        ``"brute-force"`` or ``"milp"``.
    satisfiable : bool or None
        Whether a split exists; None when the MILP stopped at its time limit.
    split : tuple of int or None
        A valid split (entry ``i - 1`` is the part, 1 or 2, of element i), or None.
    seconds : float
        Wall-clock time of the solver, reduction included for the MILP.
    certificate : str
        One line that justifies the result: the number of splits checked, or the
        HiGHS status of the MILP.
    verified : bool
        Whether the returned split was checked to be valid and, for the MILP,
        whether the GNN built from the solution labels every graph correctly.
        True for every result without a split.
    splits_checked : int or None
        Brute force only: splits examined before the search stopped.
    milp_status : int or None
        MILP only: the ``status`` of ``scipy.optimize.milp``.
    readout_weight : list of list of float or None
        MILP only: readout weights of shape (2, d + 1) of a consistent GNN.
    readout_threshold : list of float or None
        MILP only: the two readout thresholds.
    """

    solver: str
    satisfiable: bool | None
    split: Split | None
    seconds: float
    certificate: str
    verified: bool
    splits_checked: int | None = None
    milp_status: int | None = None
    readout_weight: list[list[float]] | None = field(default=None, repr=False)
    readout_threshold: list[float] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-serializable dict."""
        row = asdict(self)
        row["split"] = None if self.split is None else list(self.split)
        return row


def brute_force_split(instance: SetSplittingInstance) -> SolverResult:
    """Search all ``2^(d-1)`` splits that put element 1 in part 1.

    Splits are enumerated as the binary numbers ``m = 0, 1, ...`` where bit
    ``i - 2`` of ``m`` set means element i goes to part 2. Fixing element 1 loses
    nothing because swapping the parts keeps a split valid.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance, with at most :data:`MAX_BRUTE_FORCE_ELEMENTS` elements.

    Returns
    -------
    SolverResult
        The first valid split in that order, or None together with the count of
        splits checked, ``2^(d-1)``.

    Raises
    ------
    LimitExceededError
        If the instance has more than :data:`MAX_BRUTE_FORCE_ELEMENTS` elements.
    """
    d = instance.n_elements
    if d > MAX_BRUTE_FORCE_ELEMENTS:
        raise LimitExceededError(
            f"brute force handles at most {MAX_BRUTE_FORCE_ELEMENTS} elements "
            f"(2^{MAX_BRUTE_FORCE_ELEMENTS - 1} splits), got n_elements={d}; "
            "use the MILP solver"
        )
    start = time.perf_counter()
    # Bit e - 1 of a mask is element e; part-2 elements have their bit set.
    set_masks = np.array(
        [sum(1 << (e - 1) for e in elements) for elements in instance.sets],
        dtype=np.int64,
    )
    total = 1 << (d - 1)
    found: int | None = None
    checked = 0
    for chunk_start in range(0, total, _BRUTE_FORCE_CHUNK):
        numbers = np.arange(chunk_start, min(total, chunk_start + _BRUTE_FORCE_CHUNK))
        part_two = numbers << 1
        valid = np.ones(len(numbers), dtype=bool)
        for mask in set_masks:
            inside_two = part_two & mask
            valid &= (inside_two != 0) & (inside_two != mask)
        hits = np.flatnonzero(valid)
        if len(hits):
            found = int(part_two[hits[0]])
            checked += int(hits[0]) + 1
            break
        checked += len(numbers)
    seconds = time.perf_counter() - start
    if found is None:
        return SolverResult(
            solver="brute-force",
            satisfiable=False,
            split=None,
            seconds=seconds,
            certificate=(
                f"all {checked} splits with element 1 in part 1 leave some set "
                "inside one part"
            ),
            verified=True,
            splits_checked=checked,
        )
    split = tuple(2 if found >> (e - 1) & 1 else 1 for e in range(1, d + 1))
    return SolverResult(
        solver="brute-force",
        satisfiable=True,
        split=split,
        seconds=seconds,
        certificate=f"valid split found after checking {checked} splits",
        verified=is_valid_split(instance, split),
        splits_checked=checked,
    )


def default_weight_bound(n_elements: int) -> float:
    """Return the MILP bound on readout weights and thresholds, ``2 d``.

    :func:`symhard.nphard.reduction.halfspaces_from_split` builds, from any valid
    split, integer readout weights in ``[-2, 2 d]`` and thresholds -1 that meet
    the MILP's margin-1 constraints. So with this bound the MILP is feasible
    whenever a split exists, and exact on the reduction graphs.
    """
    n_elements = check_int("n_elements", n_elements, low=1)
    return float(2 * n_elements)


@dataclass
class MilpFit:
    """A solution, or its absence, of the GNN consistency MILP.

    Attributes
    ----------
    status : int
        ``status`` of ``scipy.optimize.milp``: 0 solved, 1 time or iteration
        limit, 2 infeasible, other values for other failures.
    message : str
        HiGHS's message.
    feasible : bool or None
        Whether a consistent readout exists within the bound; None when HiGHS
        stopped at a limit or failed before deciding.
    weight : ndarray of shape (2, max_degree) or None
        Readout weights over the counts of degrees ``1..max_degree``.
    threshold : ndarray of shape (2,) or None
        Readout thresholds.
    seconds : float
        Time spent in HiGHS.
    """

    status: int
    message: str
    feasible: bool | None
    weight: np.ndarray | None
    threshold: np.ndarray | None
    seconds: float


def fit_readout_milp(
    histograms: np.ndarray,
    y: np.ndarray,
    *,
    weight_bound: float,
    time_limit: float | None = None,
) -> MilpFit:
    """Decide whether some readout of the GNN class labels all histograms right.

    Variables are the weights ``w_k`` and thresholds ``theta_k`` of the two units,
    each in ``[-weight_bound, weight_bound]``, and one binary ``z_n`` per negative
    graph that picks the unit rejecting it (0 for unit 1, 1 for unit 2). With
    ``s_k(h) = w_k . h[1:] - theta_k`` the constraints are

    - ``s_k(h_p) >= 1`` for every positive graph p and both units;
    - ``s_1(h_n) <= -1 + M_n z_n`` and ``s_2(h_n) <= -1 + M_n (1 - z_n)`` for every
      negative graph n, where ``M_n = weight_bound (|h_n[1:]|_1 + 1) + 1`` makes
      the constraint of the unit not picked always slack.

    The first negative graph is assigned to unit 1, because swapping the units
    maps solutions to solutions. The margins fix the scale that hard thresholds
    leave free, so the MILP is exact whenever ``weight_bound`` admits a solution
    with margin 1; see :func:`default_weight_bound` for the reduction graphs.

    Parameters
    ----------
    histograms : ndarray of shape (batch, max_degree + 1)
        Degree histograms; column 0 (degree 0) is not read.
    y : ndarray of shape (batch,)
        Labels in {+1, -1}.
    weight_bound : float
        Bound on the absolute value of every weight and threshold; positive.
    time_limit : float or None, default=None
        HiGHS time limit in seconds; None means no limit.

    Returns
    -------
    MilpFit
    """
    histograms = np.asarray(histograms, dtype=float)
    y = np.asarray(y)
    if histograms.ndim != 2 or histograms.shape[1] < 2:
        raise invalid(
            "histograms", "an array of shape (batch, max_degree + 1)", histograms.shape
        )
    if y.shape != (len(histograms),) or not np.isin(y, (-1, 1)).all():
        raise invalid("y", f"{len(histograms)} labels in {{+1, -1}}", y.tolist())
    weight_bound = check_float("weight_bound", weight_bound, low=0.0, low_open=True)
    features = histograms[:, 1:]
    n_features = features.shape[1]
    positives = features[y == 1]
    negatives = features[y == -1]
    n_negatives = len(negatives)
    unit_size = n_features + 1
    n_variables = N_UNITS * unit_size + n_negatives

    rows: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []
    for unit in range(N_UNITS):
        offset = unit * unit_size
        for feature in positives:
            row = np.zeros(n_variables)
            row[offset : offset + n_features] = feature
            row[offset + n_features] = -1.0
            rows.append(row)
            lower.append(1.0)
            upper.append(np.inf)
    big_m = weight_bound * (np.abs(negatives).sum(axis=1) + 1) + 1
    for index, feature in enumerate(negatives):
        z_column = N_UNITS * unit_size + index
        for unit, sign in ((0, -1.0), (1, 1.0)):
            offset = unit * unit_size
            row = np.zeros(n_variables)
            row[offset : offset + n_features] = feature
            row[offset + n_features] = -1.0
            # Unit 1: s_1 - M z <= -1. Unit 2: s_2 + M z <= M - 1.
            row[z_column] = sign * big_m[index]
            rows.append(row)
            lower.append(-np.inf)
            upper.append(-1.0 + (big_m[index] if unit == 1 else 0.0))

    lower_bounds = np.full(n_variables, -weight_bound)
    upper_bounds = np.full(n_variables, weight_bound)
    lower_bounds[N_UNITS * unit_size :] = 0.0
    upper_bounds[N_UNITS * unit_size :] = 1.0
    if n_negatives:
        upper_bounds[N_UNITS * unit_size] = 0.0
    integrality = np.zeros(n_variables)
    integrality[N_UNITS * unit_size :] = 1
    constraints = (
        [LinearConstraint(np.array(rows), np.array(lower), np.array(upper))]
        if rows
        else []
    )
    options: dict[str, Any] = {"disp": False}
    if time_limit is not None:
        options["time_limit"] = check_float(
            "time_limit", time_limit, low=0.0, low_open=True
        )

    start = time.perf_counter()
    result = milp(
        c=np.zeros(n_variables),
        integrality=integrality,
        bounds=Bounds(lower_bounds, upper_bounds),
        constraints=constraints,
        options=options,
    )
    seconds = time.perf_counter() - start
    feasible: bool | None
    if result.status == _MILP_OPTIMAL and result.x is not None:
        feasible = True
    elif result.status == _MILP_INFEASIBLE:
        feasible = False
    else:
        feasible = None
        logger.warning(
            "HiGHS stopped before deciding feasibility (status %d): %s",
            result.status,
            result.message,
        )
    weight = threshold = None
    if feasible:
        solution = np.asarray(result.x)
        units = solution[: N_UNITS * unit_size].reshape(N_UNITS, unit_size)
        weight = units[:, :n_features].copy()
        threshold = units[:, n_features].copy()
    return MilpFit(
        status=int(result.status),
        message=str(result.message),
        feasible=feasible,
        weight=weight,
        threshold=threshold,
        seconds=seconds,
    )


def split_from_readout(
    histograms: np.ndarray,
    weight: np.ndarray,
    threshold: np.ndarray,
    *,
    n_elements: int,
) -> Split:
    """Read a split from a readout: element i joins part 1 if unit 1 rejects ``e_i``.

    Parameters
    ----------
    histograms : ndarray of shape (1 + d + r, max_degree + 1)
        Histograms of the reduction graphs, in the order of
        :func:`symhard.nphard.reduction.reduction_graphs`.
    weight : ndarray of shape (2, max_degree)
        Readout weights.
    threshold : ndarray of shape (2,)
        Readout thresholds.
    n_elements : int
        Number of elements d.

    Returns
    -------
    tuple of int
        Entry ``i - 1`` is the part of element i. The split is valid whenever the
        readout labels every reduction graph correctly.

    Notes
    -----
    On the reduction graphs each score ``s_k`` is affine in the point x, so
    ``s_k(c_j) = sum_{i in C_j} s_k(e_i) - (|C_j| - 1) s_k(0)``. A consistent
    readout has ``s_k(0) >= 0``. If all of ``C_j`` were in part 1, every
    ``s_1(e_i)`` would be negative and so would ``s_1(c_j)``. If all of ``C_j``
    were in part 2, unit 1 accepts each ``e_i``, so unit 2 must reject it, and
    ``s_2(c_j) < 0``. Either way the positive graph of ``c_j`` would be rejected.
    """
    unit_histograms = np.asarray(histograms, dtype=float)[1 : 1 + n_elements, 1:]
    scores = unit_histograms @ np.asarray(weight, dtype=float)[0] - threshold[0]
    return tuple(1 if score < 0 else 2 for score in scores)


def solve_milp(
    instance: SetSplittingInstance,
    *,
    weight_bound: float | None = None,
    time_limit: float | None = None,
) -> SolverResult:
    """Decide the instance by deciding consistency of the GNN class with a MILP.

    The reduction graphs are built, their histograms computed, and
    :func:`fit_readout_milp` solved with HiGHS. A solution is checked twice: the
    hard-threshold :class:`DegreeHistogramGNN` with its readout must label every
    graph correctly, and the split read back with :func:`split_from_readout` must
    be valid.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance.
    weight_bound : float or None, default=None
        Bound on readout weights and thresholds; None uses
        :func:`default_weight_bound`, with which the result is exact.
    time_limit : float or None, default=None
        HiGHS time limit in seconds; None means no limit.

    Returns
    -------
    SolverResult
    """
    start = time.perf_counter()
    if weight_bound is None:
        weight_bound = default_weight_bound(instance.n_elements)
    graphs = reduction_graphs(instance)
    histograms = degree_histograms(graphs.adj, graphs.max_degree)
    fit = fit_readout_milp(
        histograms, graphs.y, weight_bound=weight_bound, time_limit=time_limit
    )
    split: Split | None = None
    verified = True
    weight_list = threshold_list = None
    if fit.feasible:
        split = split_from_readout(
            histograms, fit.weight, fit.threshold, n_elements=instance.n_elements
        )
        model = DegreeHistogramGNN(graphs.max_degree)
        model.to(torch.float64)
        model.set_readout(torch.as_tensor(fit.weight), torch.as_tensor(fit.threshold))
        with torch.no_grad():
            labels = model(graphs.adj_tensor(torch.float64)).numpy()
        labels_right = bool(np.array_equal(labels, graphs.y))
        split_valid = is_valid_split(instance, split)
        verified = labels_right and split_valid
        if not verified:
            logger.error(
                "MILP solution failed its check: labels right %s, split valid %s",
                labels_right,
                split_valid,
            )
        weight_list = fit.weight.tolist()
        threshold_list = fit.threshold.tolist()
    seconds = time.perf_counter() - start
    return SolverResult(
        solver="milp",
        satisfiable=fit.feasible,
        split=split,
        seconds=seconds,
        certificate=f"HiGHS status {fit.status}: {fit.message}",
        verified=verified,
        milp_status=fit.status,
        readout_weight=weight_list,
        readout_threshold=threshold_list,
    )
