"""The reduction from Set Splitting to consistency of the degree-histogram GNN class.

Step 1 (Blum and Rivest, 1992) maps an instance over elements ``1..d`` with sets
``C_1..C_r`` to labeled points in {0,1}^d: the origin labeled +1, each unit vector
``e_i`` labeled -1 and each set's indicator vector ``c_j`` labeled +1. Some
intersection of two halfspaces contains every +1 point and no -1 point if and only
if the instance has a split.

Step 2 encodes each point ``x`` as a graph: one isolated node, plus, for each
element i (1-based) with ``x[i - 1] = 1``, a star whose centre has ``i + 1``
leaves. Centres have the distinct degrees ``2..d+1`` and leaves have degree 1, so
the histogram entry for degree ``i + 1`` equals ``x[i - 1]``. The degree-1 entry,
the leaf count ``sum_i (i + 1) x[i - 1]``, is also linear in ``x``, so a threshold
unit on the histogram entries for degrees ``1..d+1`` is a halfspace on ``x``, and
every halfspace on ``x`` is such a unit. The degree-0 entry, which padding changes,
is never read.

All arrays list the points and graphs in the same order: the origin, then
``e_1..e_d``, then ``c_1..c_r``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from symhard._validation import check_int, invalid
from symhard.nphard.gnn import N_UNITS, DegreeHistogramGNN
from symhard.nphard.instances import SetSplittingInstance, check_split

if TYPE_CHECKING:
    from torch_geometric.data import Data


def halfspace_points(instance: SetSplittingInstance) -> tuple[np.ndarray, np.ndarray]:
    """Build the labeled points of step 1.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance, with d elements and r sets.

    Returns
    -------
    points : ndarray of shape (1 + d + r, d)
        The origin, the unit vectors ``e_1..e_d`` and the set indicators, as 0/1
        integers.
    labels : ndarray of shape (1 + d + r,)
        +1 for the origin and the set indicators, -1 for the unit vectors.
    """
    d = instance.n_elements
    points = np.concatenate(
        [
            np.zeros((1, d), dtype=np.int64),
            np.eye(d, dtype=np.int64),
            instance.incidence(),
        ]
    )
    labels = np.ones(len(points), dtype=np.int64)
    labels[1 : 1 + d] = -1
    return points, labels


def encode_graph(x: np.ndarray | Sequence[int]) -> np.ndarray:
    """Encode a 0/1 vector as a graph without node features.

    Node 0 is isolated. For each element i = 1..d with ``x[i - 1] = 1`` the graph
    gets a star: a centre node joined to ``i + 1`` leaves, so the centre has degree
    ``i + 1``. Nodes are numbered star by star, centre first.

    Parameters
    ----------
    x : array-like of shape (d,)
        Entries 0 or 1.

    Returns
    -------
    ndarray of shape (num_nodes, num_nodes)
        Symmetric 0/1 adjacency matrix (int64), with
        ``num_nodes = 1 + sum_i x[i - 1] (i + 2)``.
    """
    x = np.asarray(x)
    if x.ndim != 1 or not np.isin(x, (0, 1)).all():
        raise invalid("x", "a 1-D array of 0/1 entries", x.tolist())
    elements = np.flatnonzero(x) + 1
    num_nodes = 1 + int(np.sum(elements + 2))
    adjacency = np.zeros((num_nodes, num_nodes), dtype=np.int64)
    node = 1
    for element in elements:
        centre = node
        leaves = np.arange(centre + 1, centre + 2 + element)
        adjacency[centre, leaves] = 1
        adjacency[leaves, centre] = 1
        node = centre + 2 + element
    return adjacency


@dataclass(frozen=True)
class ReductionGraphs:
    """The labeled graphs that the reduction builds from one instance.

    Attributes
    ----------
    instance : SetSplittingInstance
        The source instance, with d elements and r sets.
    adjacency : list of ndarray
        Unpadded adjacency matrices, one per point, each of shape (n_b, n_b).
    adj : ndarray of shape (1 + d + r, n_max, n_max)
        The same graphs padded with isolated nodes to the largest node count. The
        padding only raises the degree-0 count, which the readout never reads.
    num_nodes : ndarray of shape (1 + d + r,)
        Node count of each unpadded graph.
    y : ndarray of shape (1 + d + r,)
        Labels in {+1, -1}, equal to the point labels.
    points : ndarray of shape (1 + d + r, d)
        The 0/1 points of step 1 that the graphs encode.
    max_degree : int
        ``d + 1``, the largest degree in any graph.
    """

    instance: SetSplittingInstance
    adjacency: list[np.ndarray]
    adj: np.ndarray
    num_nodes: np.ndarray
    y: np.ndarray
    points: np.ndarray
    max_degree: int

    def __len__(self) -> int:
        return len(self.adjacency)

    def adj_tensor(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Return ``adj`` as a float tensor of shape (1 + d + r, n_max, n_max)."""
        return torch.as_tensor(self.adj, dtype=dtype)

    def histograms(self) -> np.ndarray:
        """Return degree histograms; see :func:`degree_histograms`."""
        return degree_histograms(self.adj, self.max_degree)


def reduction_graphs(instance: SetSplittingInstance) -> ReductionGraphs:
    """Build the labeled graphs of step 2 for every point of step 1.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance.

    Returns
    -------
    ReductionGraphs
        Graphs, padded batch and labels, in the order origin, ``e_1..e_d``,
        ``c_1..c_r``.
    """
    points, labels = halfspace_points(instance)
    adjacency = [encode_graph(point) for point in points]
    num_nodes = np.array([len(a) for a in adjacency], dtype=np.int64)
    n_max = int(num_nodes.max())
    adj = np.zeros((len(adjacency), n_max, n_max), dtype=np.int64)
    for index, matrix in enumerate(adjacency):
        adj[index, : len(matrix), : len(matrix)] = matrix
    return ReductionGraphs(
        instance=instance,
        adjacency=adjacency,
        adj=adj,
        num_nodes=num_nodes,
        y=labels,
        points=points,
        max_degree=instance.n_elements + 1,
    )


def degree_histograms(adj: np.ndarray, max_degree: int) -> np.ndarray:
    """Count the nodes of each degree ``0..max_degree`` in each graph.

    This is what :meth:`DegreeHistogramGNN.histogram` computes, in NumPy.

    Parameters
    ----------
    adj : ndarray of shape (batch, n, n)
        Symmetric 0/1 adjacency matrices.
    max_degree : int
        Largest degree counted; nodes of higher degree are not counted.

    Returns
    -------
    ndarray of shape (batch, max_degree + 1)
        Integer counts.
    """
    adj = np.asarray(adj)
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2]:
        raise invalid("adj", "an array of shape (batch, n, n)", adj.shape)
    max_degree = check_int("max_degree", max_degree, low=0)
    degrees = adj.sum(axis=2).astype(np.int64)
    levels = np.arange(max_degree + 1)
    return (degrees[:, :, None] == levels).sum(axis=1)


def to_pyg(graphs: ReductionGraphs) -> list[Data]:
    """Convert the reduction graphs to PyTorch Geometric ``Data`` objects.

    Parameters
    ----------
    graphs : ReductionGraphs
        Output of :func:`reduction_graphs`.

    Returns
    -------
    list of torch_geometric.data.Data
        One per graph, unpadded, with ``edge_index`` (both directions of each
        edge), ``num_nodes`` and ``y`` (a tensor of shape (1,)), and no node
        features.
    """
    from torch_geometric.data import Data

    data_list = []
    for matrix, label in zip(graphs.adjacency, graphs.y, strict=True):
        rows, cols = np.nonzero(matrix)
        edge_index = torch.as_tensor(np.stack([rows, cols]), dtype=torch.long)
        data_list.append(
            Data(
                edge_index=edge_index,
                num_nodes=len(matrix),
                y=torch.tensor([int(label)], dtype=torch.long),
            )
        )
    return data_list


def dense_adjacency(
    data_list: Sequence[Data], *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Stack PyTorch Geometric graphs into padded dense adjacency matrices.

    Parameters
    ----------
    data_list : sequence of torch_geometric.data.Data
        Graphs with ``edge_index`` and ``num_nodes``.
    dtype : torch.dtype, default=torch.float32
        Dtype of the result.

    Returns
    -------
    Tensor of shape (batch, n_max, n_max)
        Padding nodes are isolated.
    """
    n_max = max(int(data.num_nodes) for data in data_list)
    adj = torch.zeros(len(data_list), n_max, n_max, dtype=dtype)
    for index, data in enumerate(data_list):
        adj[index, data.edge_index[0], data.edge_index[1]] = 1
    return adj


def halfspaces_from_split(
    instance: SetSplittingInstance, split: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Build two halfspaces that separate the step-1 points, given a valid split.

    Halfspace k (k = 1, 2) is ``{x : a_k . x >= b_k}`` with ``b_k = -1``,
    ``a_k[i - 1] = -2`` for elements i in part k and ``a_k[i - 1] = 2 d`` for the
    other elements. Every point lands at least 1 away from the boundary:

    - the origin gives ``a_k . 0 - b_k = 1``;
    - ``e_i`` with i in part k gives ``-2 + 1 = -1``, so halfspace k cuts it off;
    - a set indicator ``c_j`` with at least one element outside part k (true for
      both k when the split is valid) gives at least
      ``2 d - 2 (|C_j| - 1) + 1 >= 3``, because ``|C_j| <= d``.

    The weights are integers in ``[-2, 2 d]``, which is why
    :func:`symhard.nphard.solvers.default_weight_bound` is ``2 d``.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance, with d elements.
    split : sequence of int
        Part (1 or 2) of each element; entry ``i - 1`` is element i. The halfspaces
        separate the points only when the split is valid.

    Returns
    -------
    weights : ndarray of shape (2, d)
        Row k - 1 is ``a_k``.
    thresholds : ndarray of shape (2,)
        ``b_1, b_2``, both -1.
    """
    parts = np.asarray(check_split(instance, split))
    d = instance.n_elements
    weights = np.empty((N_UNITS, d), dtype=np.int64)
    for unit in range(N_UNITS):
        weights[unit] = np.where(parts == unit + 1, -2, 2 * d)
    thresholds = np.full(N_UNITS, -1, dtype=np.int64)
    return weights, thresholds


def readout_from_halfspaces(
    weights: np.ndarray, thresholds: np.ndarray, *, max_degree: int
) -> tuple[np.ndarray, np.ndarray]:
    """Translate halfspaces on {0,1}^d into GNN readout weights on the histogram.

    Element i's weight moves to the histogram column of degree ``i + 1``, which is
    column ``i`` of the readout because the readout starts at degree 1. The leaf
    column (degree 1) and the columns above degree ``d + 1`` get weight 0.

    Parameters
    ----------
    weights : ndarray of shape (2, d)
        Halfspace normals ``a_k``.
    thresholds : ndarray of shape (2,)
        Halfspace offsets ``b_k``.
    max_degree : int
        Largest histogram degree D, at least ``d + 1``.

    Returns
    -------
    readout_weight : ndarray of shape (2, max_degree)
    readout_threshold : ndarray of shape (2,)
    """
    weights = np.asarray(weights)
    d = weights.shape[1]
    max_degree = check_int(
        "max_degree", max_degree, low=d + 1, low_text=f"n_elements + 1 = {d + 1}"
    )
    readout_weight = np.zeros((N_UNITS, max_degree), dtype=weights.dtype)
    readout_weight[:, 1 : d + 1] = weights
    return readout_weight, np.asarray(thresholds).copy()


def gnn_from_split(
    instance: SetSplittingInstance,
    split: Sequence[int],
    *,
    max_degree: int | None = None,
    hard: bool = True,
    sharpness: float = 10.0,
) -> DegreeHistogramGNN:
    """Build the member of the GNN class that the halfspaces of a split define.

    Parameters
    ----------
    instance : SetSplittingInstance
        The instance, with d elements.
    split : sequence of int
        Part (1 or 2) of each element; entry ``i - 1`` is element i.
    max_degree : int or None, default=None
        Largest histogram degree; None means ``d + 1``.
    hard : bool, default=True
        Passed to :class:`DegreeHistogramGNN`.
    sharpness : float, default=10.0
        Passed to :class:`DegreeHistogramGNN`.

    Returns
    -------
    DegreeHistogramGNN
        Labels every graph of :func:`reduction_graphs` correctly when the split is
        valid.
    """
    if max_degree is None:
        max_degree = instance.n_elements + 1
    weights, thresholds = halfspaces_from_split(instance, split)
    readout_weight, readout_threshold = readout_from_halfspaces(
        weights, thresholds, max_degree=max_degree
    )
    model = DegreeHistogramGNN(max_degree, hard=hard, sharpness=sharpness)
    model.set_readout(
        torch.as_tensor(readout_weight), torch.as_tensor(readout_threshold)
    )
    return model
