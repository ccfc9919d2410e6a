"""Tests for symhard.learners: output shapes, exact invariance and plug-in modules."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from symhard._validation import InvalidParameterError
from symhard.groups import make_group
from symhard.learners import (
    LEARNER_NAMES,
    MLP,
    CircularCNN,
    GroupAveragedMLP,
    count_parameters,
    make_learner,
)
from symhard.training import build_seeded

pytestmark = pytest.mark.usefixtures("torch_single_thread")


INVARIANT_GROUPS = {
    "cyclic": make_group("cyclic", 7),
    "dihedral": make_group("dihedral", 6),
    "torus": make_group("torus", shape=(3, 4)),
}
INVARIANT_GROUP_PARAMS = [
    pytest.param(group, id=key) for key, group in INVARIANT_GROUPS.items()
]


def test_learner_names_all_buildable():
    group = make_group("cyclic", 5)
    for name in LEARNER_NAMES:
        assert isinstance(make_learner(name, group, width=4), torch.nn.Module)


@pytest.mark.parametrize("name", LEARNER_NAMES)
@pytest.mark.parametrize("batch", [1, 9])
def test_make_learner_output_shape(name, batch):
    group = make_group("cyclic", 6)
    model = build_seeded(lambda: make_learner(name, group, width=8, depth=2), 0)
    output = model(torch.randn(batch, 6))
    assert output.shape == (batch,)


@pytest.mark.parametrize("depth", [1, 3])
def test_mlp_output_shape_and_depth(depth):
    model = MLP(5, width=7, depth=depth, activation="tanh")
    linear_layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linear_layers) == depth + 1
    assert model(torch.randn(3, 5)).shape == (3,)


def test_count_parameters_mlp_by_hand():
    model = MLP(4, width=8, depth=2)
    # (4 * 8 + 8) + (8 * 8 + 8) + (8 + 1) weights and biases.
    assert count_parameters(model) == 40 + 72 + 9


def test_count_parameters_skips_frozen():
    model = MLP(4, width=8, depth=1)
    model.net[0].weight.requires_grad_(False)
    # Only the first bias (8) and the readout (8 + 1) remain trainable.
    assert count_parameters(model) == 8 + 9


@pytest.mark.parametrize("group", INVARIANT_GROUP_PARAMS)
def test_group_averaged_mlp_invariant(group, rng):
    model = build_seeded(lambda: GroupAveragedMLP(group, width=16), 1).double()
    x = torch.from_numpy(rng.standard_normal((32, group.n)))
    with torch.no_grad():
        output = model(x)
        for _ in range(5):
            g = group.random_element(rng)
            moved = model(group.act(g, x))
            torch.testing.assert_close(moved, output, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("group", INVARIANT_GROUP_PARAMS)
def test_group_averaged_mlp_is_group_mean(group, rng):
    model = build_seeded(lambda: GroupAveragedMLP(group, width=16), 2).double()
    x = torch.from_numpy(rng.standard_normal((8, group.n)))
    with torch.no_grad():
        copies = [model.mlp(group.act(g, x)) for g in group.elements()]
        expected = torch.stack(copies).mean(dim=0)
        torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)


def test_plain_mlp_not_invariant(rng):
    # A check that the invariance test above can fail: a plain MLP is not invariant.
    group = make_group("cyclic", 7)
    model = build_seeded(lambda: MLP(7, width=16), 1).double()
    x = torch.from_numpy(rng.standard_normal((32, 7)))
    with torch.no_grad():
        shifted = model(group.act(np.roll(np.arange(7), 1), x))
        assert (shifted - model(x)).abs().max() > 1e-3


@pytest.mark.parametrize("kernel_size", [None, 3])
def test_circular_cnn_invariant_under_shifts(kernel_size, rng):
    n = 9
    model = build_seeded(
        lambda: CircularCNN(n, channels=12, kernel_size=kernel_size), 3
    ).double()
    x = torch.from_numpy(rng.standard_normal((16, n)))
    with torch.no_grad():
        output = model(x)
        for shift in range(1, n):
            moved = model(torch.roll(x, shifts=shift, dims=1))
            torch.testing.assert_close(moved, output, rtol=1e-12, atol=1e-12)


def test_circular_cnn_matches_loop_over_positions(rng):
    n, channels = 6, 5
    model = build_seeded(lambda: CircularCNN(n, channels=channels), 4).double()
    x = torch.from_numpy(rng.standard_normal((4, n)))
    weight = model.conv.weight[:, 0, :]  # (channels, n)
    # A full-length circular filter at position t reads x[(t + j) mod n].
    windows = torch.stack([torch.roll(x, shifts=-t, dims=1) for t in range(n)], 1)
    hidden = torch.relu(windows @ weight.T + model.conv.bias).mean(dim=1)
    expected = model.readout(hidden).squeeze(-1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=1e-12, atol=1e-12)


def test_circular_cnn_kernel_size_too_large():
    with pytest.raises(InvalidParameterError, match=r"'kernel_size'.*\[1, n=4\]"):
        CircularCNN(4, kernel_size=5)


def test_make_learner_unknown_lists_known():
    group = make_group("cyclic", 4)
    with pytest.raises(
        InvalidParameterError,
        match="'learner'.*mlp, group-mlp, circular-cnn or module:Class.*'transformer'",
    ):
        make_learner("transformer", group)


def test_make_learner_cnn_needs_cyclic():
    group = make_group("dihedral", 6)
    with pytest.raises(
        InvalidParameterError, match="circular-cnn needs group=cyclic.*group=dihedral"
    ):
        make_learner("circular-cnn", group)


def test_make_learner_rejects_zero_width():
    with pytest.raises(InvalidParameterError, match="'width'.*>= 1.*got 0"):
        make_learner("mlp", make_group("cyclic", 4), width=0)


USER_MODULE = textwrap.dedent(
    """
    import torch


    class SumModel(torch.nn.Module):
        def __init__(self, n_inputs, group, width):
            super().__init__()
            self.n_inputs = n_inputs
            self.group = group
            self.width = width
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.scale * x.sum(dim=-1)
    """
)


def test_make_learner_user_module(tmp_path, monkeypatch):
    (tmp_path / "symhard_user_learner.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    group = make_group("dihedral", 5)
    model = make_learner("symhard_user_learner:SumModel", group, width=12)
    assert type(model).__name__ == "SumModel"
    assert model.n_inputs == 5
    assert model.group is group
    assert model.width == 12
    x = torch.randn(3, 5)
    torch.testing.assert_close(model(x), x.sum(dim=-1))


def test_make_learner_missing_module():
    with pytest.raises(InvalidParameterError, match="'learner'.*could not import"):
        make_learner("symhard_no_such_module:Model", make_group("cyclic", 4))


def test_make_learner_missing_class(tmp_path, monkeypatch):
    (tmp_path / "symhard_user_learner_empty.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        InvalidParameterError, match="'symhard_user_learner_empty:Nope'"
    ):
        make_learner("symhard_user_learner_empty:Nope", make_group("cyclic", 4))


def test_build_seeded_same_seed_same_weights():
    first = build_seeded(lambda: MLP(4, width=8), 5)
    second = build_seeded(lambda: MLP(4, width=8), 5)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_build_seeded_restores_global_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_seeded(lambda: MLP(4, width=8), 5)
    assert torch.equal(torch.rand(3), expected)
