"""The degree-histogram GNN class whose consistency problem is NP-hard.

A member of the class maps a graph without node features to a label in {+1, -1}:

1. One message-passing layer with sum aggregation of the constant feature 1 gives
   each node its degree ``s``.
2. A ReLU layer turns the degree into a one-hot vector over degrees ``0..D``, using
   ``1{s = j} = ReLU(s - j + 1) - 2 ReLU(s - j) + ReLU(s - j - 1)``, which is exact
   for integer ``s``. Degrees above ``D`` give the zero vector.
3. Sum pooling over the nodes gives the degree histogram ``h`` of length ``D + 1``.
4. Two threshold units ``1{w_k . h[1:] - theta_k >= 0}`` read the histogram entries
   for degrees ``1..D``, and the output is +1 when both fire (their AND), else -1.

Only the readout (``w_k``, ``theta_k``) is learned. The readout skips the count of
degree-0 nodes, so isolated padding nodes added to batch graphs of different sizes
never change the output.
"""

from __future__ import annotations

import torch
from torch import nn

from symhard._validation import check_float, check_int, invalid

N_UNITS = 2
"""Number of threshold units in the readout."""


def relu_one_hot(degrees: torch.Tensor, max_degree: int) -> torch.Tensor:
    """Compute the one-hot encoding of integer degrees with three ReLUs per entry.

    Parameters
    ----------
    degrees : Tensor of shape (...,)
        Node degrees, integer-valued (any floating dtype).
    max_degree : int
        Largest degree D with its own entry.

    Returns
    -------
    Tensor of shape (..., max_degree + 1)
        Entry ``j`` equals ``1{degree = j}``; degrees above ``max_degree`` give zeros.
    """
    levels = torch.arange(max_degree + 1, dtype=degrees.dtype, device=degrees.device)
    offset = degrees.unsqueeze(-1) - levels
    return torch.relu(offset + 1) - 2 * torch.relu(offset) + torch.relu(offset - 1)


class DegreeHistogramGNN(nn.Module):
    """One degree-counting message-passing layer, a histogram and an AND of two units.

    Parameters
    ----------
    max_degree : int
        Largest degree D in the histogram. The reduction from a Set Splitting
        instance with d elements uses ``D = d + 1``.
    hard : bool, default=True
        With True, the units are step functions and the output is +1 or -1. With
        False, each unit is ``sigmoid(sharpness * score)``, the AND is their product
        ``p``, and the output is ``2 p - 1`` in [-1, 1], which gradients can train.
    sharpness : float, default=10.0
        Slope of the sigmoids when ``hard=False``; must be positive.

    Attributes
    ----------
    weight : Parameter of shape (2, max_degree)
        Column ``c`` weights the count of nodes of degree ``c + 1``.
    threshold : Parameter of shape (2,)
        Unit k fires when ``weight[k] . h[1:] - threshold[k] >= 0``.
    """

    def __init__(
        self, max_degree: int, *, hard: bool = True, sharpness: float = 10.0
    ) -> None:
        super().__init__()
        self.max_degree = check_int("max_degree", max_degree, low=1)
        self.hard = bool(hard)
        self.sharpness = check_float("sharpness", sharpness, low=0.0, low_open=True)
        self.weight = nn.Parameter(torch.zeros(N_UNITS, self.max_degree))
        self.threshold = nn.Parameter(torch.zeros(N_UNITS))

    def extra_repr(self) -> str:
        return (
            f"max_degree={self.max_degree}, hard={self.hard}, "
            f"sharpness={self.sharpness:g}"
        )

    @torch.no_grad()
    def set_readout(self, weight: torch.Tensor, threshold: torch.Tensor) -> None:
        """Copy readout values into the parameters.

        Parameters
        ----------
        weight : array-like of shape (2, max_degree)
            Unit weights over the counts of degrees ``1..max_degree``.
        threshold : array-like of shape (2,)
            Unit thresholds.
        """
        weight = torch.as_tensor(weight, dtype=self.weight.dtype)
        threshold = torch.as_tensor(threshold, dtype=self.threshold.dtype)
        if weight.shape != self.weight.shape:
            raise invalid(
                "weight", f"an array of shape {tuple(self.weight.shape)}", weight.shape
            )
        if threshold.shape != self.threshold.shape:
            raise invalid("threshold", "an array of shape (2,)", threshold.shape)
        self.weight.copy_(weight)
        self.threshold.copy_(threshold)

    def degrees(self, adj: torch.Tensor) -> torch.Tensor:
        """Aggregate the constant feature 1 over neighbours, giving node degrees.

        Parameters
        ----------
        adj : Tensor of shape (batch, n, n)
            Dense symmetric 0/1 adjacency matrices; padding nodes are isolated.

        Returns
        -------
        Tensor of shape (batch, n)
        """
        adj = _check_adjacency(adj)
        ones = torch.ones(adj.shape[:-1] + (1,), dtype=adj.dtype, device=adj.device)
        return (adj @ ones).squeeze(-1)

    def histogram(self, adj: torch.Tensor) -> torch.Tensor:
        """Sum the ReLU one-hot degree encodings over nodes.

        Parameters
        ----------
        adj : Tensor of shape (batch, n, n)
            Dense symmetric 0/1 adjacency matrices.

        Returns
        -------
        Tensor of shape (batch, max_degree + 1)
            Entry ``[b, j]`` is the number of nodes of degree j in graph b.
        """
        return relu_one_hot(self.degrees(adj), self.max_degree).sum(dim=-2)

    def unit_scores(self, histogram: torch.Tensor) -> torch.Tensor:
        """Compute ``weight[k] . h[1:] - threshold[k]`` for both units.

        Parameters
        ----------
        histogram : Tensor of shape (batch, max_degree + 1)
            Degree histograms from :meth:`histogram`.

        Returns
        -------
        Tensor of shape (batch, 2)
        """
        return histogram[:, 1:] @ self.weight.T - self.threshold

    def readout(self, histogram: torch.Tensor) -> torch.Tensor:
        """Apply the two units and their AND to degree histograms.

        Parameters
        ----------
        histogram : Tensor of shape (batch, max_degree + 1)
            Degree histograms from :meth:`histogram`.

        Returns
        -------
        Tensor of shape (batch,)
            Labels in {+1, -1} when ``hard``, else values in [-1, 1].
        """
        scores = self.unit_scores(histogram)
        if self.hard:
            both_fire = (scores >= 0).all(dim=-1)
            return torch.where(both_fire, 1.0, -1.0).to(scores.dtype)
        both_fire = torch.sigmoid(self.sharpness * scores).prod(dim=-1)
        return 2 * both_fire - 1

    def forward(self, adj: torch.Tensor) -> torch.Tensor:
        """Label graphs given as dense adjacency matrices.

        Parameters
        ----------
        adj : Tensor of shape (batch, n, n)
            Dense symmetric 0/1 adjacency matrices, float. Padding nodes must be
            isolated.

        Returns
        -------
        Tensor of shape (batch,)
            Labels in {+1, -1} when ``hard``, else values in [-1, 1].
        """
        return self.readout(self.histogram(adj))


def _check_adjacency(adj: torch.Tensor) -> torch.Tensor:
    if not isinstance(adj, torch.Tensor):
        raise invalid("adj", "a torch.Tensor of shape (batch, n, n)", type(adj))
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2]:
        raise invalid("adj", "a tensor of shape (batch, n, n)", tuple(adj.shape))
    if not adj.is_floating_point():
        adj = adj.to(torch.get_default_dtype())
    return adj
