"""Tests for the PyTorch Geometric interop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GINConv, global_add_pool

from symhard._validation import InvalidParameterError
from symhard.families.degree_parity import DegreeParity
from symhard.pyg import SymhardGraphDataset, dense_to_batch, to_pyg_data
from symhard.training import build_seeded


def edge_set(adj: np.ndarray) -> set[tuple[int, int]]:
    """Edges (source j, target i) for every nonzero adj[i, j], by brute force."""
    n = len(adj)
    return {(j, i) for i in range(n) for j in range(n) if adj[i, j] != 0}


def random_adjacency(num: int, n: int, seed: int) -> np.ndarray:
    upper = np.triu(np.random.default_rng(seed).integers(0, 2, (num, n, n)), k=1)
    return (upper + upper.transpose(0, 2, 1)).astype(np.uint8)


def test_to_pyg_data_edges_match_adjacency():
    adj = random_adjacency(5, 9, seed=0)
    data_list = to_pyg_data({"adj": adj})
    assert len(data_list) == 5
    for data, graph in zip(data_list, adj, strict=True):
        edges = {tuple(edge) for edge in data.edge_index.t().tolist()}
        assert data.edge_index.shape[1] == len(edges)
        assert edges == edge_set(graph)
        assert data.num_nodes == 9


def test_to_pyg_data_directed_edge_orientation():
    # adj[0, 1] = 1 is a message from node 1 to node 0: source 1, target 0.
    adj = np.zeros((1, 3, 3))
    adj[0, 0, 1] = 1
    (data,) = to_pyg_data({"adj": adj})
    assert data.edge_index.tolist() == [[1], [0]]


def test_to_pyg_data_labels_and_features():
    adj = random_adjacency(4, 6, seed=1)
    x = np.random.default_rng(2).standard_normal((4, 6, 3))
    y = np.array([1.0, -1.0, 1.0, 1.0])
    data_list = to_pyg_data({"adj": adj, "x": x, "y": y})
    assert data_list[1].y.tolist() == [-1.0]
    assert data_list[2].x.shape == (6, 3)
    assert torch.allclose(data_list[2].x, torch.as_tensor(x[2], dtype=torch.float32))


def test_to_pyg_data_constant_features_when_missing():
    data_list = to_pyg_data({"adj": random_adjacency(2, 5, 3)}, constant_features=True)
    assert torch.equal(data_list[0].x, torch.ones(5, 1))


def test_to_pyg_data_weighted_edges():
    adj = np.zeros((1, 3, 3))
    adj[0, 0, 1] = adj[0, 1, 0] = 0.5
    adj[0, 1, 2] = adj[0, 2, 1] = 1.0
    (data,) = to_pyg_data({"adj": adj})
    edges = map(tuple, data.edge_index.t().tolist())
    weights = dict(zip(edges, data.edge_weight.tolist(), strict=True))
    assert weights == {(1, 0): 0.5, (0, 1): 0.5, (2, 1): 1.0, (1, 2): 1.0}


def test_to_pyg_data_unweighted_has_no_edge_weight():
    (data,) = to_pyg_data({"adj": random_adjacency(1, 5, 4)})
    assert "edge_weight" not in data


def test_to_pyg_data_rejects_bad_label_shape():
    with pytest.raises(InvalidParameterError, match=r"'y'.*\(3,\).*\(2,\)"):
        to_pyg_data({"adj": random_adjacency(3, 4, 5), "y": np.ones(2)})


def test_to_pyg_data_requires_adj():
    with pytest.raises(InvalidParameterError, match="'arrays'.*'adj'"):
        to_pyg_data({"x": np.ones((1, 2, 2))})


def test_dense_to_batch_structure():
    adj = random_adjacency(3, 5, seed=6)
    x = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(7))
    batch = dense_to_batch(torch.as_tensor(adj, dtype=torch.float32), x)
    assert isinstance(batch, Batch)
    assert batch.num_graphs == 3
    assert batch.batch.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert batch.ptr.tolist() == [0, 5, 10, 15]
    assert torch.equal(batch.x, x.reshape(15, 2))
    expected = {
        (source + 5 * graph, target + 5 * graph)
        for graph in range(3)
        for source, target in edge_set(adj[graph])
    }
    actual = {tuple(edge) for edge in batch.edge_index.t().tolist()}
    assert batch.edge_index.shape[1] == len(expected)
    assert actual == expected


def test_dense_to_batch_matches_from_data_list():
    adj = random_adjacency(4, 6, seed=8)
    batch = dense_to_batch(torch.as_tensor(adj, dtype=torch.float32))
    reference = Batch.from_data_list(to_pyg_data({"adj": adj}, constant_features=True))
    assert torch.equal(batch.edge_index, reference.edge_index)
    assert torch.equal(batch.batch, reference.batch)
    assert torch.equal(batch.x, reference.x)


def test_dense_to_batch_empty_graphs():
    batch = dense_to_batch(torch.zeros(2, 4, 4))
    assert batch.edge_index.shape == (2, 0)
    assert batch.num_graphs == 2


def test_dense_to_batch_rejects_feature_mismatch():
    with pytest.raises(InvalidParameterError, match=r"'x'.*\(2, 4, n_features\)"):
        dense_to_batch(torch.zeros(2, 4, 4), torch.zeros(2, 5, 1))


def test_dataset_matches_family_sample():
    family = DegreeParity(n=26)
    dataset = SymhardGraphDataset(family, member=2, num=10, seed=9)
    arrays = family.sample(10, member=2, seed=9)
    assert len(dataset) == 10
    assert dataset[3].y.item() == arrays["y"][3]
    assert {tuple(e) for e in dataset[3].edge_index.t().tolist()} == edge_set(
        arrays["adj"][3]
    )
    assert torch.equal(dataset[3].x, torch.ones(26, 1))
    assert repr(dataset) == "SymhardGraphDataset('degree-parity', member=2, num=10)"


def test_dataset_loader_batches_labels():
    dataset = SymhardGraphDataset(DegreeParity(n=26), num=20, seed=10)
    batch = next(iter(DataLoader(dataset, batch_size=8)))
    assert batch.num_graphs == 8
    assert batch.y.shape == (8,)
    assert batch.x.shape == (8 * 26, 1)


class SmallGIN(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = GINConv(self.node_mlp(1, width))
        self.conv2 = GINConv(self.node_mlp(width, width))
        self.readout = torch.nn.Linear(width, 1)

    @staticmethod
    def node_mlp(in_channels: int, width: int) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(in_channels, width),
            torch.nn.BatchNorm1d(width),
            torch.nn.ReLU(),
        )

    def forward(self, batch: Batch) -> torch.Tensor:
        h = self.conv1(batch.x, batch.edge_index)
        h = self.conv2(h, batch.edge_index)
        return self.readout(global_add_pool(h, batch.batch)).squeeze(-1)


def test_pyg_model_trains_on_exported_data():
    # Labels: the standardized edge count of degree-parity graphs, a target a
    # GIN can fit, so the loss must fall well below its starting value.
    family = DegreeParity(n=26)
    arrays = family.sample(256, seed=11)
    edges = arrays["adj"].sum(axis=(1, 2)) / 2
    arrays["y"] = (edges - edges.mean()) / edges.std()
    data_list = to_pyg_data(arrays, constant_features=True)
    loader = DataLoader(
        data_list,
        batch_size=32,
        shuffle=True,
        generator=torch.Generator().manual_seed(12),
    )
    model = build_seeded(lambda: SmallGIN(width=16), 13)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    epoch_losses = []
    for _ in range(8):
        losses = []
        for batch in loader:
            loss = torch.mean((model(batch) - batch.y) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_losses.append(float(np.mean(losses)))
    assert epoch_losses[-1] < 0.5 * epoch_losses[0]
    assert epoch_losses[-1] < 0.5
