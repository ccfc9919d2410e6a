"""Learners: plain PyTorch modules, with and without built-in symmetry.

Every learner maps a batch of inputs of shape (batch, n) to outputs of shape
(batch,). The group acts on the last axis.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch
from torch import nn

from symhard._validation import InvalidParameterError, check_int, invalid
from symhard.groups import PermutationGroup
from symhard.ridge import activation_module

LEARNER_NAMES = ("mlp", "group-mlp", "circular-cnn")


class MLP(nn.Module):
    """A fully connected network with no built-in symmetry.

    Parameters
    ----------
    n_inputs : int
        Input size ``n``.
    width : int, default=256
        Hidden width of every hidden layer.
    depth : int, default=2
        Number of hidden layers.
    activation : str, default="relu"
    """

    def __init__(
        self, n_inputs: int, *, width: int = 256, depth: int = 2, activation="relu"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = n_inputs
        for _ in range(depth):
            layers += [nn.Linear(size, width), activation_module(activation)]
            size = width
        layers.append(nn.Linear(size, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, n) to (batch,)."""
        return self.net(x).squeeze(-1)


class GroupAveragedMLP(nn.Module):
    """An MLP averaged over every element of a permutation group: exactly invariant.

    :math:`h(x) = |G|^{-1} \\sum_{g \\in G} \\mathrm{MLP}(g x)`.

    Parameters
    ----------
    group : PermutationGroup
        Acts on the ``n`` input coordinates; its elements are enumerated once.
    width, depth, activation
        As for :class:`MLP`.
    """

    def __init__(
        self,
        group: PermutationGroup,
        *,
        width: int = 256,
        depth: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.group = group
        elements = torch.tensor(np.array(group.elements()), dtype=torch.long)
        # (g x)[perm[i]] = x[i], so (g x)[j] = x[inverse[j]].
        inverses = torch.argsort(elements, dim=1)
        self.register_buffer("index", inverses, persistent=False)
        self.mlp = MLP(group.n, width=width, depth=depth, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, n) to (batch,), averaging over the group."""
        copies = x[:, self.index]  # (batch, |G|, n)
        return self.mlp(copies).mean(dim=1)


class CircularCNN(nn.Module):
    """A one-layer circular 1-D CNN with global average pooling: invariant to ``C_n``.

    ``h(x) = readout(mean_t act(conv(x)[:, :, t]))``, where the convolution wraps
    around the ``n`` positions.

    Parameters
    ----------
    n_inputs : int
        Signal length ``n``.
    channels : int, default=256
        Number of filters.
    kernel_size : int or None, default=None
        Filter length; None means ``n`` (every filter sees the whole signal).
    activation : str, default="relu"
    bias : bool, default=True
        Whether the convolution and readout have biases.
    """

    def __init__(
        self,
        n_inputs: int,
        *,
        channels: int = 256,
        kernel_size: int | None = None,
        activation: str = "relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        kernel_size = n_inputs if kernel_size is None else kernel_size
        self.kernel_size = check_int(
            "kernel_size", kernel_size, low=1, high=n_inputs, high_text=f"n={n_inputs}"
        )
        self.conv = nn.Conv1d(1, channels, self.kernel_size, bias=bias)
        self.activation = activation_module(activation)
        self.readout = nn.Linear(channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (batch, n) to (batch,)."""
        padded = nn.functional.pad(
            x.unsqueeze(1), (0, self.kernel_size - 1), mode="circular"
        )
        features = self.activation(self.conv(padded)).mean(dim=-1)
        return self.readout(features).squeeze(-1)


def make_learner(
    name: str,
    group: PermutationGroup,
    *,
    width: int = 256,
    depth: int = 2,
    activation: str = "relu",
) -> nn.Module:
    """Build the learner ``name`` for inputs on which ``group`` acts.

    Parameters
    ----------
    name : str
        One of ``LEARNER_NAMES``, or an import path ``"package.module:Class"`` of a
        user module, which is called as ``Class(n_inputs=n, group=group,
        width=width)`` and must map (batch, n) to (batch,).
    group : PermutationGroup
    width : int, default=256
        Hidden width (channels for the CNN).
    depth : int, default=2
        Hidden layers of the MLPs.
    activation : str, default="relu"
    """
    width = check_int("width", width, low=1)
    if ":" in name:
        return _import_learner(name)(n_inputs=group.n, group=group, width=width)
    if name == "mlp":
        return MLP(group.n, width=width, depth=depth, activation=activation)
    if name == "group-mlp":
        return GroupAveragedMLP(group, width=width, depth=depth, activation=activation)
    if name == "circular-cnn":
        if group.name != "cyclic":
            raise invalid(
                "learner",
                "a learner whose symmetry matches the group "
                "(circular-cnn needs group=cyclic; use group-mlp for other groups)",
                f"{name} with group={group.name}",
            )
        return CircularCNN(group.n, channels=width, activation=activation)
    raise invalid(
        "learner", "one of " + ", ".join(LEARNER_NAMES) + " or module:Class", name
    )


def _import_learner(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise InvalidParameterError(
            f"invalid value for 'learner': could not import {path!r} ({error})"
        ) from None


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
