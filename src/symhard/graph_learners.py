"""Graph neural network learners on dense batches of same-size graphs.

Every learner is called as ``model(adj, x)`` with ``adj`` a float tensor of shape
(batch, n, n) and ``x`` a float tensor of shape (batch, n, n_features), and returns
a tensor of shape (batch,). Node permutations act on the two node axes of ``adj``
and on the node axis of ``x``. Every learner is invariant to them, because it
aggregates with sums over neighbours and pools with a sum over nodes.

Featureless graphs: build the learner with ``n_features=0`` (or 1) and pass
``x=None``; the learner then uses the constant feature 1 on every node, so the
first layer has one input channel. Families without node features, such as
``degree-parity``, pass that constant explicitly as ``x`` of shape (batch, n, 1).

An entry ``adj[b, i, j]`` is the weight of the edge that carries a message from
node ``j`` to node ``i``. The dense learner multiplies by ``adj`` as it is. The
PyTorch Geometric learners receive the nonzero entries as edges; ``GCNConv`` and
``GraphConv`` use the entries as edge weights, ``GINConv`` has no edge weights and
treats every edge as weight 1.
"""

from __future__ import annotations

import torch
from torch import nn

from symhard._validation import check_int, invalid

GRAPH_LEARNER_NAMES = ("gin-dense", "pyg-gin", "pyg-gcn", "pyg-graphconv")

_PYG_CONVOLUTIONS = {"pyg-gin": "gin", "pyg-gcn": "gcn", "pyg-graphconv": "graphconv"}


class NodeMLP(nn.Module):
    """The two-layer perceptron applied to every node inside a GIN layer.

    ``Linear -> BatchNorm1d -> ReLU -> Linear``. The batch norm, when present,
    normalizes each channel over all nodes of all graphs in the batch. It keeps
    the sums of a GIN layer at unit scale on dense graphs.

    Parameters
    ----------
    in_channels : int
        Input channels.
    width : int
        Hidden and output channels.
    batch_norm : bool, default=True
        Whether to normalize the hidden channels.
    """

    def __init__(self, in_channels: int, width: int, *, batch_norm: bool = True):
        super().__init__()
        self.first = nn.Linear(in_channels, width)
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.second = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Map (..., in_channels) to (..., width), treating leading axes as nodes."""
        leading = h.shape[:-1]
        hidden = self.first(h.reshape(-1, h.shape[-1]))
        hidden = torch.relu(self.norm(hidden))
        return self.second(hidden).reshape(*leading, -1)


class DenseGINLayer(nn.Module):
    """One GIN layer on dense adjacency: :math:`h' = \\mathrm{MLP}((1 + \\epsilon) h
    + A h)`.

    Parameters
    ----------
    in_channels : int
    width : int
    batch_norm : bool, default=True
        Passed to :class:`NodeMLP`.
    """

    def __init__(self, in_channels: int, width: int, *, batch_norm: bool = True):
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        self.mlp = NodeMLP(in_channels, width, batch_norm=batch_norm)

    def forward(self, adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Map ``adj`` (batch, n, n) and ``h`` (batch, n, c) to (batch, n, width)."""
        return self.mlp((1 + self.eps) * h + adj @ h)


class DenseGIN(nn.Module):
    """A GIN on dense batches of same-size graphs, with sum pooling.

    ``depth`` GIN layers, each followed by a ReLU, then a sum over nodes and the
    readout ``Linear -> BatchNorm1d -> ReLU -> Linear``. Aggregation is one batched
    matrix product ``adj @ h`` per layer, with no loop over graphs or nodes.
    Invariant to node permutations.

    Parameters
    ----------
    n_features : int
        Node feature channels; 0 for featureless graphs (see the module notes).
    width : int, default=64
        Channels of every layer.
    depth : int, default=2
        Number of GIN layers.
    batch_norm : bool, default=True
        Batch norm inside each layer's MLP (as in the GIN paper) and in the
        readout, where it keeps the output near unit scale although sum pooling
        grows with ``n``. The exact teachers of the graph families are built
        without it.

    References
    ----------
    K. Xu, W. Hu, J. Leskovec and S. Jegelka, *How powerful are graph neural
    networks?*, ICLR 2019.
    """

    def __init__(
        self,
        n_features: int,
        *,
        width: int = 64,
        depth: int = 2,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.n_features = check_int("n_features", n_features, low=0)
        width = check_int("width", width, low=1)
        depth = check_int("depth", depth, low=1)
        channels = [max(self.n_features, 1)] + [width] * depth
        self.layers = nn.ModuleList(
            DenseGINLayer(channels[i], width, batch_norm=batch_norm)
            for i in range(depth)
        )
        self.readout = readout_mlp(width, batch_norm=batch_norm)

    def forward(self, adj: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``adj`` (batch, n, n) and ``x`` (batch, n, n_features) to (batch,)."""
        h = node_features(adj, x, self.n_features)
        for layer in self.layers:
            h = torch.relu(layer(adj, h))
        return self.readout(h.sum(dim=1)).squeeze(-1)


class PyGGNN(nn.Module):
    """A PyTorch Geometric GNN run on dense batches through :func:`dense_to_batch`.

    ``depth`` convolutions with ReLU, global add pooling and the readout
    ``Linear -> BatchNorm1d -> ReLU -> Linear``. ``"gin"`` uses ``GINConv`` with a
    trainable :math:`\\epsilon` around the same :class:`NodeMLP` as
    :class:`DenseGIN`, so the two models compute the same function when they share
    weights. ``"gcn"`` uses ``GCNConv`` (self-loops and symmetric degree
    normalization) and ``"graphconv"`` uses ``GraphConv`` with sum aggregation;
    both are followed by a batch norm.

    Parameters
    ----------
    convolution : str
        ``"gin"``, ``"gcn"`` or ``"graphconv"``.
    n_features : int
        Node feature channels; 0 for featureless graphs.
    width : int, default=64
    depth : int, default=2
    """

    def __init__(
        self, convolution: str, n_features: int, *, width: int = 64, depth: int = 2
    ) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv, GINConv, GraphConv

        self.convolution = convolution
        self.n_features = check_int("n_features", n_features, low=0)
        width = check_int("width", width, low=1)
        depth = check_int("depth", depth, low=1)
        channels = [max(self.n_features, 1)] + [width] * depth
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(depth):
            if convolution == "gin":
                conv = GINConv(NodeMLP(channels[i], width), train_eps=True)
                norm: nn.Module = nn.Identity()
            elif convolution == "gcn":
                conv = GCNConv(channels[i], width)
                norm = nn.BatchNorm1d(width)
            elif convolution == "graphconv":
                conv = GraphConv(channels[i], width, aggr="add")
                norm = nn.BatchNorm1d(width)
            else:
                raise invalid("convolution", "one of gin, gcn, graphconv", convolution)
            self.convs.append(conv)
            self.norms.append(norm)
        self.readout = readout_mlp(width)

    def forward(self, adj: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``adj`` (batch, n, n) and ``x`` (batch, n, n_features) to (batch,)."""
        from torch_geometric.nn import global_add_pool

        from symhard.pyg import dense_to_batch

        batch = dense_to_batch(adj, node_features(adj, x, self.n_features))
        h = batch.x
        for conv, norm in zip(self.convs, self.norms, strict=True):
            if self.convolution == "gin":
                h = conv(h, batch.edge_index)
            else:
                h = conv(h, batch.edge_index, batch.edge_weight)
            h = torch.relu(norm(h))
        pooled = global_add_pool(h, batch.batch, size=batch.num_graphs)
        return self.readout(pooled).squeeze(-1)


def readout_mlp(width: int, *, batch_norm: bool = True) -> nn.Sequential:
    """Build the graph-level readout ``Linear -> BatchNorm1d -> ReLU -> Linear``.

    Maps pooled features (batch, width) to (batch, 1); without ``batch_norm`` the
    norm is an identity.
    """
    return nn.Sequential(
        nn.Linear(width, width),
        nn.BatchNorm1d(width) if batch_norm else nn.Identity(),
        nn.ReLU(),
        nn.Linear(width, 1),
    )


def node_features(
    adj: torch.Tensor, x: torch.Tensor | None, n_features: int
) -> torch.Tensor:
    """Check ``adj`` and ``x`` and return the node features the first layer reads.

    Parameters
    ----------
    adj : Tensor of shape (batch, n, n)
    x : Tensor of shape (batch, n, n_features) or None
        None means the constant feature 1 on every node, allowed when
        ``n_features`` is 0 or 1.
    n_features : int

    Returns
    -------
    Tensor of shape (batch, n, max(n_features, 1))
        With the dtype and device of ``adj``.
    """
    if adj.dim() != 3 or adj.shape[1] != adj.shape[2]:
        raise invalid("adj", "a tensor of shape (batch, n, n)", tuple(adj.shape))
    batch, n = adj.shape[0], adj.shape[1]
    if x is None:
        if n_features > 1:
            raise invalid(
                "x",
                f"a tensor of shape (batch, n, {n_features}) (None is allowed "
                "only for a learner built with n_features=0 or 1)",
                None,
            )
        return torch.ones(batch, n, 1, dtype=adj.dtype, device=adj.device)
    expected = (batch, n, max(n_features, 1))
    if tuple(x.shape) != expected:
        raise invalid("x", f"a tensor of shape {expected} or None", tuple(x.shape))
    return x


def make_graph_learner(
    name: str, *, n_features: int, width: int = 64, depth: int = 2
) -> nn.Module:
    """Build the graph learner ``name`` (randomly initialized from torch's generator).

    Seed the initialization with :func:`symhard.training.build_seeded`.

    Parameters
    ----------
    name : str
        One of ``GRAPH_LEARNER_NAMES``: ``"gin-dense"`` (:class:`DenseGIN`),
        ``"pyg-gin"``, ``"pyg-gcn"`` or ``"pyg-graphconv"`` (:class:`PyGGNN`).
    n_features : int
        Node feature channels of ``x``; 0 for featureless graphs, which are then
        called with ``x=None``.
    width : int, default=64
        Channels of every layer.
    depth : int, default=2
        Number of message-passing layers.

    Returns
    -------
    nn.Module
        Called as ``model(adj, x)`` with ``adj`` of shape (batch, n, n) and ``x``
        of shape (batch, n, n_features) or None; returns shape (batch,).

    Examples
    --------
    >>> model = make_graph_learner("gin-dense", n_features=0, width=8)
    >>> model(torch.ones(3, 5, 5) - torch.eye(5)).shape
    torch.Size([3])
    """
    n_features = check_int("n_features", n_features, low=0)
    width = check_int("width", width, low=1)
    depth = check_int("depth", depth, low=1)
    if name == "gin-dense":
        return DenseGIN(n_features, width=width, depth=depth)
    if name in _PYG_CONVOLUTIONS:
        return PyGGNN(_PYG_CONVOLUTIONS[name], n_features, width=width, depth=depth)
    raise invalid("learner", "one of " + ", ".join(GRAPH_LEARNER_NAMES), name)
