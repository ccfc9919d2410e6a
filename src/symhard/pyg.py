"""PyTorch Geometric interop: samples as ``Data`` lists, dense batches as ``Batch``.

symhard stores graphs as dense adjacency arrays of shape (num, n, n). An entry
``adj[b, i, j] != 0`` is an edge that carries a message from node ``j`` to node
``i``; in PyG's ``edge_index`` (row 0 = source, row 1 = target, the default
``flow="source_to_target"``) it is the column ``(j, i)``. For the symmetric
adjacency of an undirected graph both directions are present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data, InMemoryDataset

from symhard._validation import SeedLike, check_int, invalid


def to_pyg_data(
    arrays: Mapping[str, np.ndarray], *, constant_features: bool = False
) -> list[Data]:
    """Convert sampled graphs to a list of PyG ``Data`` objects, one per graph.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        ``"adj"`` of shape (num, n, n) (required), ``"x"`` of shape
        (num, n, n_features) (optional) and ``"y"`` of shape (num,) (optional), as
        returned by a graph family's ``sample``.
    constant_features : bool, default=False
        When ``arrays`` has no ``"x"``, give every node the feature 1 (``x`` of
        shape (n, 1)), which PyG convolutions need as input.

    Returns
    -------
    list of Data
        Each with ``edge_index`` (long, shape (2, n_edges)) and ``num_nodes = n``.
        ``x`` (float32, shape (n, n_features)) is set when given or constant.
        ``y`` (float32, shape (1,)) is set when given, so that a ``DataLoader``
        batch has ``y`` of shape (batch,). ``edge_weight`` (float32, shape
        (n_edges,)) is set when some nonzero entry of ``adj`` differs from 1.
    """
    if "adj" not in arrays:
        raise invalid("arrays", "a mapping with an entry 'adj'", sorted(arrays))
    adj = torch.as_tensor(np.asarray(arrays["adj"]))
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise invalid("adj", "an array of shape (num, n, n)", tuple(adj.shape))
    num, n = adj.shape[0], adj.shape[1]
    x = _optional_array(arrays, "x", (num, n, None))
    if x is None and constant_features:
        x = torch.ones(num, n, 1)
    y = _optional_array(arrays, "y", (num,))

    graph, target, source = adj.nonzero(as_tuple=True)
    weights = adj[graph, target, source].to(torch.float32)
    weighted = bool((weights != 1).any())
    # Edges are sorted by graph, so one split gives each graph's edges.
    counts = torch.bincount(graph, minlength=num).tolist()
    edges = torch.stack([source, target]).split(counts, dim=1)
    edge_weights = weights.split(counts)

    data_list = []
    for index in range(num):
        data = Data(edge_index=edges[index].contiguous(), num_nodes=n)
        if weighted:
            data.edge_weight = edge_weights[index]
        if x is not None:
            data.x = x[index]
        if y is not None:
            data.y = y[index].reshape(1)
        data_list.append(data)
    return data_list


def dense_to_batch(adj: torch.Tensor, x: torch.Tensor | None = None) -> Batch:
    """Convert a dense batch of same-size graphs to one PyG ``Batch``.

    Parameters
    ----------
    adj : Tensor of shape (batch, n, n)
        Nonzero entries are edges, ``adj[b, i, j]`` from node ``j`` to node ``i``.
    x : Tensor of shape (batch, n, n_features) or None, default=None
        Node features; None gives the constant feature 1, shape (batch, n, 1).

    Returns
    -------
    Batch
        ``x`` of shape (batch * n, n_features), ``edge_index`` of shape
        (2, n_edges) with node ``i`` of graph ``b`` numbered ``b * n + i``,
        ``edge_weight`` (the nonzero entries, dtype of ``x``), ``batch`` (the
        graph of each node), ``ptr`` and ``num_graphs = batch``. Gradients flow
        into ``x`` but not into ``edge_weight``.
    """
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise invalid("adj", "a tensor of shape (batch, n, n)", tuple(adj.shape))
    num, n = adj.shape[0], adj.shape[1]
    if x is None:
        x = torch.ones(num, n, 1, dtype=torch.float32, device=adj.device)
    elif x.dim() != 3 or x.shape[:2] != adj.shape[:2]:
        raise invalid("x", f"a tensor of shape ({num}, {n}, n_features)", x.shape)

    graph, target, source = adj.nonzero(as_tuple=True)
    offset = graph * n
    edge_index = torch.stack([source + offset, target + offset])
    edge_weight = adj[graph, target, source].detach().to(x.dtype)
    node_graph = torch.arange(num, device=adj.device).repeat_interleave(n)
    ptr = torch.arange(num + 1, device=adj.device) * n
    batch = Batch(
        x=x.reshape(num * n, x.shape[-1]),
        edge_index=edge_index,
        edge_weight=edge_weight,
        batch=node_graph,
        ptr=ptr,
    )
    batch._num_graphs = num
    return batch


class SymhardGraphDataset(InMemoryDataset):
    """Samples of a graph family as an in-memory PyG dataset (no files, no download).

    Graphs without node features get the constant feature 1 (``x`` of shape
    (n, 1)).

    Parameters
    ----------
    family : HardFamily
        A family whose ``sample`` returns ``"adj"`` (for example ``degree-parity``).
    member : Any, default=1
        The member whose labels become ``y``; for ``degree-parity`` a bitmask over
        the degree window or a subset of degrees.
    num : int, default=1000
        Number of graphs.
    seed : int, numpy.random.Generator or None, default=None
        Passed to ``family.sample``; the same seed gives the same graphs.
    transform : callable or None, default=None
        Applied by PyG to each ``Data`` on access.

    Examples
    --------
    >>> from symhard.families import make_family
    >>> family = make_family("degree-parity", {"n": 26})
    >>> dataset = SymhardGraphDataset(family, num=4, seed=0)
    >>> len(dataset), dataset[0].num_nodes
    (4, 26)
    """

    def __init__(
        self,
        family: Any,
        *,
        member: Any = 1,
        num: int = 1000,
        seed: SeedLike = None,
        transform: Callable[[Data], Data] | None = None,
    ) -> None:
        super().__init__(root=None, transform=transform)
        num = check_int("num", num, low=1)
        self.family_name = family.name
        self.member = member
        arrays = family.sample(num, member=member, seed=seed)
        self.data, self.slices = self.collate(
            to_pyg_data(arrays, constant_features=True)
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.family_name!r}, member={self.member!r}, "
            f"num={len(self)})"
        )


def _optional_array(
    arrays: Mapping[str, np.ndarray], key: str, shape: tuple[int | None, ...]
) -> torch.Tensor | None:
    if key not in arrays:
        return None
    value = torch.as_tensor(np.asarray(arrays[key]), dtype=torch.float32)
    matches = value.dim() == len(shape) and all(
        expected is None or size == expected
        for size, expected in zip(value.shape, shape, strict=True)
    )
    if not matches:
        text = ", ".join("n_features" if s is None else str(s) for s in shape)
        text += "," if len(shape) == 1 else ""
        raise invalid(key, f"an array of shape ({text})", tuple(value.shape))
    return value
