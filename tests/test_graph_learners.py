"""Tests for the GNN learners on dense batches of graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symhard._validation import InvalidParameterError
from symhard.graph_learners import (
    GRAPH_LEARNER_NAMES,
    DenseGIN,
    PyGGNN,
    make_graph_learner,
)
from symhard.training import build_seeded


def random_graphs(num: int, n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    upper = (torch.rand(num, n, n, generator=generator) < 0.5).float().triu(1)
    return upper + upper.transpose(1, 2)


def random_features(num: int, n: int, channels: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(num, n, channels, generator=generator)


def permute_nodes(
    adj: torch.Tensor, x: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Relabel the nodes of every graph by its own random permutation."""
    generator = torch.Generator().manual_seed(seed)
    num, n = adj.shape[:2]
    order = torch.stack([torch.randperm(n, generator=generator) for _ in range(num)])
    rows = torch.arange(num)[:, None, None]
    permuted_adj = adj[rows, order[:, :, None], order[:, None, :]]
    permuted_x = x[torch.arange(num)[:, None], order]
    return permuted_adj, permuted_x


def randomize_batch_norms(model: torch.nn.Module, seed: int) -> None:
    """Give every batch norm random statistics and affine weights (else identity)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator))
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            with torch.no_grad():
                module.weight.copy_(torch.randn(size, generator=generator))
                module.bias.copy_(torch.randn(size, generator=generator))


@pytest.mark.parametrize("name", GRAPH_LEARNER_NAMES)
def test_graph_learner_output_shape(name):
    model = make_graph_learner(name, n_features=3, width=8, depth=2)
    adj = random_graphs(5, 7, seed=0)
    x = random_features(5, 7, 3, seed=1)
    assert model(adj, x).shape == (5,)


@pytest.mark.parametrize("name", GRAPH_LEARNER_NAMES)
def test_graph_learner_permutation_invariant(name):
    model = build_seeded(
        lambda: make_graph_learner(name, n_features=2, width=16, depth=2), 3
    ).double()
    randomize_batch_norms(model, seed=4)
    model.eval()
    adj = random_graphs(6, 9, seed=5).double()
    x = random_features(6, 9, 2, seed=6).double()
    permuted_adj, permuted_x = permute_nodes(adj, x, seed=7)
    assert not torch.equal(permuted_adj, adj)
    expected = model(adj, x)
    actual = model(permuted_adj, permuted_x)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", GRAPH_LEARNER_NAMES)
def test_graph_learner_invariant_in_train_mode(name):
    # Batch norm in train mode uses statistics over all nodes, which a node
    # permutation leaves unchanged.
    model = build_seeded(
        lambda: make_graph_learner(name, n_features=1, width=8, depth=2), 8
    ).double()
    adj = random_graphs(4, 6, seed=9).double()
    x = torch.ones(4, 6, 1, dtype=torch.float64)
    permuted_adj, permuted_x = permute_nodes(adj, x, seed=10)
    torch.testing.assert_close(
        model(permuted_adj, permuted_x), model(adj, x), rtol=1e-10, atol=1e-10
    )


def copy_dense_gin_into_pyg(dense: DenseGIN, pyg: PyGGNN) -> None:
    for layer, conv in zip(dense.layers, pyg.convs, strict=True):
        conv.nn.load_state_dict(layer.mlp.state_dict())
        with torch.no_grad():
            conv.eps.copy_(layer.eps)
    pyg.readout.load_state_dict(dense.readout.state_dict())


@pytest.mark.parametrize("train_mode", [False, True])
def test_dense_gin_equals_pyg_ginconv(train_mode):
    dense = build_seeded(lambda: DenseGIN(3, width=16, depth=3), 11)
    pyg = PyGGNN("gin", 3, width=16, depth=3)
    randomize_batch_norms(dense, seed=12)
    with torch.no_grad():
        for layer in dense.layers:
            layer.eps.fill_(0.3)
    copy_dense_gin_into_pyg(dense, pyg)
    dense.train(train_mode)
    pyg.train(train_mode)
    adj = random_graphs(8, 12, seed=13)
    x = random_features(8, 12, 3, seed=14)
    expected = dense(adj, x)
    actual = pyg(adj, x)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_dense_gin_equals_pyg_gradients():
    dense = build_seeded(lambda: DenseGIN(1, width=8, depth=2), 15)
    pyg = PyGGNN("gin", 1, width=8, depth=2)
    copy_dense_gin_into_pyg(dense, pyg)
    adj = random_graphs(4, 10, seed=16)
    dense(adj).square().sum().backward()
    pyg(adj).square().sum().backward()
    torch.testing.assert_close(
        pyg.convs[0].nn.first.weight.grad,
        dense.layers[0].mlp.first.weight.grad,
        rtol=1e-4,
        atol=1e-4,
    )
    torch.testing.assert_close(
        pyg.convs[1].eps.grad, dense.layers[1].eps.grad, rtol=1e-4, atol=1e-4
    )


def test_dense_gin_layer_sums_neighbours():
    model = DenseGIN(1, width=1, depth=1, batch_norm=False).double()
    layer = model.layers[0]
    with torch.no_grad():
        layer.eps.fill_(-1.0)
        layer.mlp.first.weight.fill_(1.0)
        layer.mlp.first.bias.zero_()
        layer.mlp.second.weight.fill_(1.0)
        layer.mlp.second.bias.zero_()
    adj = random_graphs(3, 8, seed=17).double()
    h = layer(adj, torch.ones(3, 8, 1, dtype=torch.float64))
    torch.testing.assert_close(h[..., 0], adj.sum(dim=2))


def test_featureless_learner_uses_constant_one():
    model = build_seeded(lambda: make_graph_learner("gin-dense", n_features=0), 18)
    model.eval()
    adj = random_graphs(3, 5, seed=19)
    torch.testing.assert_close(model(adj, None), model(adj, torch.ones(3, 5, 1)))


def test_learner_rejects_missing_features():
    model = make_graph_learner("gin-dense", n_features=3, width=4)
    with pytest.raises(InvalidParameterError, match="'x'.*n_features=0 or 1.*None"):
        model(random_graphs(2, 5, seed=20), None)


def test_learner_rejects_wrong_feature_shape():
    model = make_graph_learner("pyg-gcn", n_features=2, width=4)
    x = torch.ones(2, 5, 3)
    with pytest.raises(InvalidParameterError, match=r"'x'.*\(2, 5, 2\).*\(2, 5, 3\)"):
        model(random_graphs(2, 5, seed=21), x)


def test_learner_rejects_non_square_adjacency():
    model = make_graph_learner("gin-dense", n_features=0, width=4)
    with pytest.raises(InvalidParameterError, match=r"'adj'.*\(batch, n, n\)"):
        model(torch.ones(2, 5, 4))


def test_make_graph_learner_unknown_name():
    message = "'learner': expected one of gin-dense, pyg-gin, pyg-gcn, pyg-graphconv"
    with pytest.raises(InvalidParameterError, match=message):
        make_graph_learner("gat", n_features=1)


def test_make_graph_learner_rejects_zero_width():
    with pytest.raises(InvalidParameterError, match="'width'.*>= 1.*got 0"):
        make_graph_learner("gin-dense", n_features=1, width=0)


def test_graph_learner_seeded_init_reproducible():
    def build():
        return make_graph_learner("pyg-graphconv", n_features=1, width=8)

    first = build_seeded(build, 22)
    second = build_seeded(build, 22)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_dense_gin_depth_and_width():
    model = make_graph_learner("gin-dense", n_features=4, width=12, depth=3)
    assert len(model.layers) == 3
    assert model.layers[0].mlp.first.in_features == 4
    assert model.layers[2].mlp.second.out_features == 12


def test_dense_gin_weighted_adjacency_scales_messages():
    # Doubling every edge weight doubles each neighbour sum, so the layer input
    # must change; the dense learner reads weights as they are.
    model = build_seeded(lambda: DenseGIN(1, width=4, depth=1), 23).eval()
    adj = random_graphs(2, 6, seed=24)
    assert not np.allclose(model(adj).detach().numpy(), model(2 * adj).detach().numpy())
