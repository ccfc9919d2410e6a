"""``subspace-relu``: alternating ReLUs in a hidden plane, plain or lifted.

In :math:`R^2` take the ``2m`` unit directions
:math:`u_j = (\\cos(\\pi j/m), \\sin(\\pi j/m))` and the signs :math:`(-1)^j`:

.. math:: F(y) = \\sum_{j=0}^{2m-1} (-1)^j \\,\\mathrm{relu}(\\langle u_j, y \\rangle).

In polar form :math:`F = r\\, h(\\theta)`, and ``h`` has only angular frequencies
that are odd multiples of ``m``, so ``F`` has no Hermite component of degree below
``m``. A member is :math:`f_V(x) = F(V^T x) / \\|F\\|` for a plane
:math:`V \\in R^{d \\times 2}` with orthonormal columns, and
:math:`|\\langle f_V, f_W \\rangle| \\le \\|V^T W\\|^m` (operator norm). A family
is ``planes`` random planes drawn from ``seed``; its ``gamma`` is computed exactly
over all pairs by :mod:`symhard.gram`.

Which ``m`` works: ``u_{j+m} = -u_j``, so for even ``m`` the pairs add up to
:math:`|\\langle u_j, y\\rangle|`, while for odd ``m`` they give the linear
:math:`\\langle u_j, y \\rangle` with alternating signs, and these cancel for odd
``m >= 3`` (``F = 0``, rejected). ``m = 1`` gives :math:`F(y) = y_1`: every member
is a linear function, which gradient descent learns easily, so it serves as a
control.

Lifts (parameter ``lift``):

- ``none``: input :math:`x \\sim N(0, I_d)` of shape (d,).
- ``gnn``: input :math:`X \\in R^{n \\times d}` with i.i.d. :math:`N(0, I_d)` rows on a
  fixed graph with adjacency ``A``, and :math:`\\hat A = A + I` with row ``v``
  divided by :math:`\\sqrt{1 + \\deg v}` (unit rows, so every row of
  :math:`\\hat A X` is standard Gaussian):
  :math:`f_V(X) = n^{-1/2} \\mathbf{1}^T \\mathrm{relu}(\\hat A X W) a / \\|\\cdot\\|`
  with :math:`W = [V u_0, \\dots, V u_{2m-1}]` and :math:`a_j = (-1)^j`.
- ``group``: a permutation group ``G`` acts on the ``d`` coordinates of
  :math:`x \\sim N(0, I_d)` (one channel, ``n = d`` points) and
  :math:`f^G_V(x) = |G|^{-1} \\sum_g F(V^T g x) / \\|\\cdot\\|`. For the cyclic group
  this is a one-layer circular CNN with ``2m`` filters of length ``d``. Averaging
  can raise ``gamma``, by at most a factor ``|G|``, and the exact kernel measures
  by how much.

References
----------
B. T. Kiani, T. Le, H. Lawrence, S. Jegelka and M. Weber, *On the hardness of
learning under symmetries*, ICLR 2024.

I. Diakonikolas, D. M. Kane, V. Kontonis and N. Zarifis, *Algorithms and SQ lower
bounds for PAC learning one-hidden-layer ReLU networks*, COLT 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from symhard._validation import (
    InvalidParameterError,
    LimitExceededError,
    SeedLike,
    as_generator,
    check_choice,
    check_float,
    check_int,
    invalid,
    missing,
    value_text,
)
from symhard.bounds import format_count
from symhard.families.base import (
    CorrelationCertificate,
    HardFamily,
    Task,
    format_bytes,
    format_duration,
)
from symhard.families.subset_orbits import parse_shape
from symhard.gram import (
    FrameTemplate,
    GramCertificate,
    exact_gram_certificate,
    exact_inner_products,
    gram_kernel_evaluations,
)
from symhard.groups import GROUP_NAMES, PermutationGroup, make_group, trivial
from symhard.learners import MLP, CircularCNN, GroupAveragedMLP, make_learner

LIFTS = ("none", "gnn", "group")
GRAPHS = ("empty", "cycle", "erdos-renyi")

_DEFAULT_EDGE_PROBABILITY = 0.3
# Kernel evaluations per second of the exact Gram certificate, the slowest rate
# measured (2e7 to 9e7 on one core of a shared 2-core machine, an estimate). It
# only turns a count into the time quoted in error messages.
_KERNEL_EVALUATIONS_PER_SECOND = 2e7
# Groups given by name. "generated" needs generators, which only a
# PermutationGroup passed from Python can carry.
_NAMED_GROUPS = tuple(name for name in GROUP_NAMES if name != "generated")
_GRAPH_PARAMETERS = ("n", "graph", "graph_seed", "edge_prob", "adjacency")
_GROUP_PARAMETERS = ("group", "shape")


def alternating_units(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``2m`` directions :math:`u_j` and the signs :math:`(-1)^j` of F.

    Parameters
    ----------
    m : int
        Half the number of units, ``m >= 1``.

    Returns
    -------
    directions : ndarray of shape (2m, 2)
        :math:`u_j = (\\cos(\\pi j/m), \\sin(\\pi j/m))`, with
        :math:`u_{j+m} = -u_j` stored exactly.
    coefficients : ndarray of shape (2m,)
        :math:`(-1)^j`.
    """
    m = check_int("m", m, low=1)
    angles = np.pi * np.arange(m) / m
    half = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    directions = np.concatenate([half, -half])
    coefficients = (-1.0) ** np.arange(2 * m)
    return directions, coefficients


def normalized_aggregation(adjacency: np.ndarray) -> np.ndarray:
    """Return :math:`\\hat A`: ``A + I`` with row ``v`` divided by ``sqrt(1 + deg v)``.

    Parameters
    ----------
    adjacency : ndarray of shape (n, n)
        A 0/1 adjacency matrix without self-loops.

    Returns
    -------
    ndarray of shape (n, n)
        Rows of unit Euclidean norm.
    """
    with_loops = np.asarray(adjacency, dtype=np.float64) + np.eye(len(adjacency))
    return with_loops / np.sqrt(with_loops.sum(axis=1, keepdims=True))


class SubspaceGNNTeacher(nn.Module):
    """One message-passing layer, ReLU and a sum readout: the ``gnn`` lift's network.

    :math:`h(A, X) = n^{-1/2} \\sum_v \\sum_j r_j \\mathrm{relu}((\\hat A X W)_{vj})`,
    where :math:`\\hat A` is ``A + I`` with row ``v`` divided by
    :math:`\\sqrt{1 + \\deg v}`, computed from ``adj`` inside the module. The output
    is invariant to node permutations applied to both ``adj`` and ``x``.

    Parameters
    ----------
    n_features : int
        Node feature size ``d``.
    hidden : int
        Hidden channels (``2m`` for a member).
    """

    def __init__(self, n_features: int, hidden: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_features, hidden))
        self.readout = nn.Parameter(torch.zeros(hidden))

    def forward(self, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Map ``adj`` of shape (batch, n, n) and ``x`` (batch, n, d) to (batch,)."""
        n = adj.shape[-1]
        with_loops = adj + torch.eye(n, dtype=adj.dtype, device=adj.device)
        mixing = with_loops / with_loops.sum(dim=-1, keepdim=True).sqrt()
        hidden = torch.relu(mixing @ x @ self.weight)
        return (hidden @ self.readout).sum(dim=-1) / math.sqrt(n)


class SubspaceReLU(HardFamily):
    """The ``subspace-relu`` family: ``planes`` random planes, plain or lifted.

    Parameters
    ----------
    d : int
        Input dimension (node feature size for ``lift="gnn"``, number of
        coordinates the group acts on for ``lift="group"``), ``d >= 2``.
    m : int, default=4
        ``F`` has ``2m`` ReLU units and no Hermite component of degree below
        ``m``. Even, or 1 for the linear control.
    planes : int, default=64
        Number of members (random planes).
    seed : int, default=0
        Seed of the planes: QR of a Gaussian ``d x 2`` matrix per plane, with the
        signs fixed so that ``R`` has a positive diagonal.
    lift : str, default="none"
        One of ``LIFTS``.
    n : int or None, default=None
        Nodes of the graph (``lift="gnn"`` only; inferred from ``adjacency``).
    graph : str or None, default=None
        One of ``GRAPHS`` (``lift="gnn"`` only; ``"cycle"`` when neither it nor
        ``adjacency`` is given).
    graph_seed : int or None, default=None
        Seed of the Erdos-Renyi graph (0 when not given).
    edge_prob : float or None, default=None
        Edge probability of the Erdos-Renyi graph (0.3 when not given).
    adjacency : str, Path, ndarray or None, default=None
        A symmetric 0/1 matrix with zero diagonal, or the path of a ``.npy`` or
        ``.txt`` file containing one (``lift="gnn"`` only).
    group : str, PermutationGroup or None, default=None
        A name from ``GROUP_NAMES`` other than ``"generated"``, or a group on
        ``d`` points (``lift="group"`` only; ``"cyclic"`` when not given).
    shape : str or None, default=None
        Grid ``"AxB"`` with ``A * B = d`` for ``group="torus"``.
    memory_limit_mb : int, default=1024
        Limit, in MiB, on the estimated memory of the frames and the graph or
        group tables, and separately on the working memory of the exact Gram
        computation.
    max_kernel_evaluations : int, default=1_000_000_000
        Limit on the kernel evaluations of the exact ``gamma`` over all pairs of
        planes (:func:`~symhard.gram.gram_kernel_evaluations`). The default is
        about 10 to 50 seconds on one core, an estimate.

    Examples
    --------
    >>> family = SubspaceReLU(d=16, planes=8)
    >>> family.family_size
    8
    >>> family.correlation().method
    'exact'
    """

    name = "subspace-relu"
    size_parameter = "d"
    required_parameters = ("d",)
    parameters = {
        "d": None,
        "m": 4,
        "planes": 64,
        "seed": 0,
        "lift": "none",
        "n": None,
        "graph": None,
        "graph_seed": None,
        "edge_prob": None,
        "adjacency": None,
        "group": None,
        "shape": None,
        "memory_limit_mb": 1024,
        "max_kernel_evaluations": 1_000_000_000,
    }

    def __init__(
        self,
        d: int,
        *,
        m: int = 4,
        planes: int = 64,
        seed: int = 0,
        lift: str = "none",
        n: int | None = None,
        graph: str | None = None,
        graph_seed: int | None = None,
        edge_prob: float | None = None,
        adjacency: str | Path | np.ndarray | None = None,
        group: str | PermutationGroup | None = None,
        shape: str | None = None,
        memory_limit_mb: int = 1024,
        max_kernel_evaluations: int = 1_000_000_000,
    ) -> None:
        self.d = check_int("d", d, low=2)
        self.m = _check_m(m)
        self.planes = check_int("planes", planes, low=1)
        self.seed = check_int("seed", seed, low=0)
        self.lift = check_choice("lift", lift, LIFTS)
        self.memory_limit_mb = check_int("memory_limit_mb", memory_limit_mb, low=1)
        self.max_kernel_evaluations = check_int(
            "max_kernel_evaluations", max_kernel_evaluations, low=1
        )
        lift_parameters = {
            "n": n,
            "graph": graph,
            "graph_seed": graph_seed,
            "edge_prob": edge_prob,
            "adjacency": adjacency,
            "group": group,
            "shape": shape,
        }
        _reject_foreign_parameters(self.lift, lift_parameters)
        self.adjacency: np.ndarray | None = None
        self.graph: dict[str, Any] | None = None
        self.group: PermutationGroup | None = None
        if self.lift == "gnn":
            self.adjacency, self.graph = _build_graph(
                n,
                graph,
                graph_seed,
                edge_prob,
                adjacency,
                memory_limit_mb=self.memory_limit_mb,
            )
        elif self.lift == "group":
            self.group = _build_group(group, self.d, shape)
        self._check_memory()

    def __repr__(self) -> str:
        return (
            f"SubspaceReLU(d={self.d}, m={self.m}, planes={self.planes}, "
            f"seed={self.seed}, lift={self.lift!r})"
        )

    @property
    def params(self) -> dict[str, Any]:
        """The effective parameters, JSON-ready."""
        params: dict[str, Any] = {
            "d": self.d,
            "m": self.m,
            "planes": self.planes,
            "seed": self.seed,
            "lift": self.lift,
        }
        if self.graph is not None:
            params.update(self.graph)
            if "adjacency" in self.graph:
                # Built from a matrix: the adjacency entry rebuilds it, not a name.
                del params["graph"]
        if self.group is not None:
            params["group"] = self.group.name
            if self.group.shape is not None:
                params["shape"] = "{}x{}".format(*self.group.shape)
        return params

    @property
    def n_nodes(self) -> int | None:
        """Nodes of the graph for ``lift="gnn"``, None otherwise."""
        return None if self.adjacency is None else len(self.adjacency)

    @property
    def family_size(self) -> int:
        return self.planes

    # Planes and exact quantities ---------------------------------------------

    @cached_property
    def frames(self) -> np.ndarray:
        """The planes :math:`V_a`, read-only array of shape (planes, d, 2)."""
        rng = as_generator(self.seed)
        gaussian = rng.standard_normal((self.planes, self.d, 2))
        q, r = np.linalg.qr(gaussian)
        signs = np.sign(np.diagonal(r, axis1=1, axis2=2))
        signs[signs == 0] = 1.0
        frames = q * signs[:, None, :]
        frames.setflags(write=False)
        return frames

    @cached_property
    def template(self) -> FrameTemplate:
        """The units of ``F`` with this family's lift, for :mod:`symhard.gram`."""
        directions, coefficients = alternating_units(self.m)
        if self.lift == "gnn":
            return FrameTemplate(
                directions,
                coefficients,
                aggregation=normalized_aggregation(self.adjacency),
            )
        if self.lift == "group":
            return FrameTemplate(
                directions, coefficients, group_elements=self.group.elements()
            )
        return FrameTemplate(directions, coefficients)

    @cached_property
    def base_norm_sq(self) -> float:
        """Exact :math:`\\|F\\|^2` under :math:`N(0, I_2)`, before lift and scaling."""
        directions, coefficients = alternating_units(self.m)
        plane = np.eye(2)[None]
        return float(
            exact_inner_products(plane, plane, FrameTemplate(directions, coefficients))[
                0
            ]
        )

    @cached_property
    def member_norms_sq(self) -> np.ndarray:
        """Exact squared norms of the lifted members before normalization, (planes,)."""
        norms = exact_inner_products(
            self.frames,
            self.frames,
            self.template,
            memory_limit_mb=self.memory_limit_mb,
        )
        norms.setflags(write=False)
        return norms

    def gram_certificate(self) -> GramCertificate:
        """Return the exact Gram certificate over all pairs of planes (cached).

        Raises
        ------
        LimitExceededError
            Naming ``planes`` when the kernel evaluations over all pairs are more
            than ``max_kernel_evaluations``, before any of them runs.
        """
        if not hasattr(self, "_gram_certificate"):
            self._check_gram_cost()
            self._gram_certificate = exact_gram_certificate(
                self.frames, self.template, memory_limit_mb=self.memory_limit_mb
            )
        return self._gram_certificate

    def correlation(self) -> CorrelationCertificate:
        certificate = self.gram_certificate()
        if certificate.argmax is None:
            detail = "a single plane: there are no pairs"
        else:
            first, second = certificate.argmax
            detail = (
                f"exact maximum over all {certificate.n_pairs} pairs of the "
                f"{self.planes} planes, attained by planes {first} and {second}; "
                "closed-form ReLU kernel in float64"
            )
        if self.lift == "gnn":
            detail += f", with the node cosines of the {self.graph['graph']} graph"
        elif self.lift == "group":
            detail += (
                f", averaged over the {self.group.order} elements of the "
                f"{self.group.name} group"
            )
        return CorrelationCertificate(
            gamma=certificate.gamma, method="exact", detail=detail
        )

    # Members -----------------------------------------------------------------

    def member_index(self, member: int) -> int:
        """Check ``member`` and return it as an index in ``[0, planes)``."""
        return check_int(
            "member",
            member,
            low=0,
            high=self.planes - 1,
            high_text=f"planes - 1 = {self.planes - 1}",
        )

    def member_description(self, member: int = 0) -> dict[str, Any]:
        index = self.member_index(member)
        overlap = self.frames[0].T @ self.frames[index]
        return {
            "plane": index,
            "overlap_with_plane_0": float(np.linalg.norm(overlap, 2)),
            "norm_sq_before_scaling": float(self.member_norms_sq[index]),
        }

    # Data ----------------------------------------------------------------------

    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input: (d,), or (n, d) for ``lift="gnn"``."""
        return self.template.input_shape(self.d)

    def sample(
        self, num: int, *, member: int = 0, seed: SeedLike = None
    ) -> dict[str, np.ndarray]:
        """Draw Gaussian inputs and the labels of ``member`` as float64 arrays.

        Returns ``x`` of shape (num, d), or (num, n, d) for ``lift="gnn"`` together
        with ``adj`` of shape (num, n, n) (the fixed graph repeated, for graph
        learners), and ``y`` of shape (num,). The same ``seed`` gives the same
        bytes.
        """
        num = self.check_sample_count(num)
        index = self.member_index(member)
        rng = as_generator(seed)
        arrays = {"x": rng.standard_normal((num, *self.input_shape()))}
        if self.adjacency is not None:
            arrays["adj"] = np.repeat(self.adjacency[None], num, axis=0)
        arrays["y"] = self.evaluate(arrays, member=index)
        return arrays

    def sample_memory_bytes(self, num: int) -> int:
        """Estimate ``sample(num)``: ``x``, ``adj`` for ``gnn`` and ``y`` in float64.

        The check that ``adj`` repeats the family's graph adds one byte per entry,
        and joining the chunks of labels adds one more copy of ``y``.
        """
        per_sample = 8 * math.prod(self.input_shape()) + 16
        if self.adjacency is not None:
            per_sample += 9 * self.n_nodes**2
        return num * per_sample

    def evaluate(
        self, arrays: Mapping[str, np.ndarray], *, member: int = 0
    ) -> np.ndarray:
        """Return member(x) of shape (num,) for ``arrays["x"]`` of the input shape.

        For ``lift="gnn"`` an ``adj`` entry, when present, must contain the family's
        graph in every batch entry: the labels are defined on that graph only.
        """
        index = self.member_index(member)
        if "x" not in arrays:
            raise invalid("input", "arrays with an entry 'x'", sorted(arrays))
        x = np.asarray(arrays["x"], dtype=np.float64)
        expected = self.input_shape()
        if x.ndim != len(expected) + 1 or x.shape[1:] != expected:
            shape_text = ", ".join(str(size) for size in expected)
            raise invalid("x", f"an array of shape (num, {shape_text})", x.shape)
        if self.adjacency is not None and "adj" in arrays:
            self._check_batch_adjacency(np.asarray(arrays["adj"]), len(x))
        evaluate = self._evaluator(index, torch.device("cpu"), torch.float64)
        return evaluate(torch.from_numpy(x)).numpy()

    def task(self, member: int = 0) -> Task:
        """Return the training task: ``(x, y)``, or ``((adj, x), y)`` for ``gnn``.

        Tensors are float32 on the requested device. ``adj`` is the fixed graph
        expanded along the batch axis (a view, not a copy). ``n_inputs`` is ``d``.
        """
        index = self.member_index(member)
        cache: dict[torch.device, tuple[Callable, torch.Tensor | None]] = {}
        shape = self.input_shape()

        def sampler(num: int, generator: torch.Generator, device: torch.device):
            if device not in cache:
                graph = None
                if self.adjacency is not None:
                    graph = torch.tensor(
                        self.adjacency, dtype=torch.float32, device=device
                    )
                cache[device] = (self._evaluator(index, device, torch.float32), graph)
            evaluate, graph = cache[device]
            x = torch.randn(num, *shape, generator=generator, device=device)
            if graph is None:
                return x, evaluate(x)
            return (graph.expand(num, *graph.shape), x), evaluate(x)

        return Task(f"{self!r} plane {index}", self.d, sampler)

    def teacher(self, member: int = 0) -> nn.Module:
        """Build the realizing network with the weights of ``member`` (float64).

        ``lift="none"``: a one-hidden-layer :class:`~symhard.learners.MLP` with
        ``2m`` units. ``gnn``: :class:`SubspaceGNNTeacher`, called as
        ``model(adj, x)``. ``group``: a :class:`~symhard.learners.CircularCNN` with
        ``2m`` filters of length ``d`` for the cyclic group, a one-hidden-layer
        :class:`~symhard.learners.GroupAveragedMLP` for other groups.
        """
        index = self.member_index(member)
        directions, coefficients = alternating_units(self.m)
        first_layer = torch.as_tensor(self.frames[index] @ directions.T).T  # (2m, d)
        readout = torch.as_tensor(coefficients / math.sqrt(self.member_norms_sq[index]))
        hidden = 2 * self.m
        if self.lift == "gnn":
            model = SubspaceGNNTeacher(self.d, hidden).double()
            weight, output = model.weight, model.readout
            first_layer = first_layer.T
        elif self.lift == "group" and self.group.name == "cyclic":
            model = CircularCNN(self.d, channels=hidden, bias=False).double()
            weight, output = model.conv.weight, model.readout.weight
        else:
            if self.lift == "group":
                model = GroupAveragedMLP(self.group, width=hidden, depth=1).double()
                layers = model.mlp.net
            else:
                model = MLP(self.d, width=hidden, depth=1).double()
                layers = model.net
            layers[0].bias.data.zero_()
            layers[2].bias.data.zero_()
            weight, output = layers[0].weight, layers[2].weight
        with torch.no_grad():
            weight.copy_(first_layer.reshape(weight.shape))
            output.copy_(readout.reshape(output.shape))
        return model

    def make_learner(self, name: str, *, width: int = 256, depth: int = 2) -> nn.Module:
        """Build the learner ``name`` for this family's inputs.

        ``lift="gnn"`` uses :func:`symhard.graph_learners.make_graph_learner` with
        ``n_features=d``; the other lifts use :func:`symhard.learners.make_learner`
        with the family's group (the trivial group for ``lift="none"``).
        """
        if self.lift == "gnn":
            from symhard.graph_learners import make_graph_learner

            return make_graph_learner(name, n_features=self.d, width=width, depth=depth)
        group = self.group if self.group is not None else trivial(self.d)
        return make_learner(name, group, width=width, depth=depth)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "family": self.name,
            "params": self.params,
            "family_size": self.family_size,
            "norm_sq": self.base_norm_sq,
            "norm_sq_method": "exact",
            "norm_sq_note": "squared L2 norm of F(y) under N(0, I_2), before the "
            "lift and normalization",
            "hermite_min_degree": self.m,
            "lift": self.lift,
            "architecture": self._architecture(),
            "teacher_hidden_units": 2 * self.m,
        }
        if self.lift != "none":
            info["lifted_norm_sq_min"] = float(self.member_norms_sq.min())
            info["lifted_norm_sq_max"] = float(self.member_norms_sq.max())
        if self.graph is not None:
            info["graph"] = dict(self.graph)
            info["graph"]["edges"] = int(self.adjacency.sum() // 2)
        if self.group is not None:
            info["group"] = {"name": self.group.name, "order": self.group.order}
        return info

    # Internals -------------------------------------------------------------------

    def _architecture(self) -> str:
        hidden = 2 * self.m
        if self.lift == "gnn":
            return (
                f"one message-passing layer (A + I, rows scaled by 1/sqrt(degree + 1))"
                f", {hidden} ReLU channels, sum readout"
            )
        if self.lift == "group" and self.group.name == "cyclic":
            return f"circular CNN, {hidden} filters of length {self.d}, ReLU, mean pool"
        if self.lift == "group":
            return f"group-averaged one-hidden-layer network, {hidden} ReLU units"
        return f"one-hidden-layer network, {hidden} ReLU units"

    def _evaluator(
        self, index: int, device: torch.device, dtype: torch.dtype
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        raw = self.template.evaluator(
            self.frames[index : index + 1], device=device, dtype=dtype
        )
        scale = 1.0 / math.sqrt(self.member_norms_sq[index])

        def evaluate(x: torch.Tensor) -> torch.Tensor:
            return raw(x)[:, 0] * scale

        return evaluate

    def _check_batch_adjacency(self, adj: np.ndarray, num: int) -> None:
        n = len(self.adjacency)
        if adj.shape != (num, n, n):
            raise invalid("adj", f"an array of shape ({num}, {n}, {n})", adj.shape)
        if not np.array_equal(adj, np.broadcast_to(self.adjacency, adj.shape)):
            raise invalid(
                "adj",
                "the family's fixed graph in every batch entry",
                "a different graph",
            )

    def _check_gram_cost(self) -> None:
        evaluations = gram_kernel_evaluations(self.template, self.planes)
        limit = self.max_kernel_evaluations
        if evaluations <= limit:
            return
        # Largest number of planes within the limit: the count is quadratic.
        per_pair = gram_kernel_evaluations(self.template, 2)
        largest = math.isqrt(2 * limit // per_pair) + 1
        while largest > 1 and gram_kernel_evaluations(self.template, largest) > limit:
            largest -= 1
        duration = format_duration(evaluations / _KERNEL_EVALUATIONS_PER_SECOND)
        raise LimitExceededError(
            f"invalid value for 'planes': the exact gamma over all "
            f"{self.planes * (self.planes - 1) // 2} pairs of {self.planes} planes "
            f"needs {evaluations:.3g} kernel evaluations (an estimated "
            f"{duration}), over the limit max_kernel_evaluations={limit}; "
            f"use planes <= {largest}, or raise max_kernel_evaluations"
        )

    def _check_memory(self) -> None:
        # Per plane: 2 frame columns, m even-part columns and 1 linear column.
        needed = 8 * self.planes * self.d * (2 + self.m + 1)
        parts = [f"{self.planes} planes in d={self.d}"]
        if self.adjacency is not None:
            needed += 8 * 3 * self.n_nodes**2
            parts.append(f"a graph on {self.n_nodes} nodes")
        if self.group is not None:
            needed += 8 * self.group.order * self.d * (1 + 2 * self.m)
            parts.append(f"{format_count(self.group.order)} group elements")
        if needed > self.memory_limit_mb * 2**20:
            raise LimitExceededError(
                f"invalid value for 'memory_limit_mb': {', '.join(parts)} need about "
                f"{format_bytes(needed)}, over the limit of {self.memory_limit_mb} "
                "MiB; raise memory_limit_mb or use fewer planes, a smaller d or a "
                "smaller graph or group"
            )


def _check_m(m: Any) -> int:
    m = check_int("m", m, low=1)
    if m % 2 == 1 and m >= 3:
        raise invalid(
            "m",
            f"m = 1 or an even m (odd m >= 3 gives the zero function, so use an even m "
            f"such as {m + 1})",
            m,
        )
    return m


def _reject_foreign_parameters(lift: str, lift_parameters: Mapping[str, Any]) -> None:
    allowed = {"gnn": _GRAPH_PARAMETERS, "group": _GROUP_PARAMETERS}.get(lift, ())
    for name, value in lift_parameters.items():
        if value is not None and name not in allowed:
            owner = "gnn" if name in _GRAPH_PARAMETERS else "group"
            raise invalid(name, f"no value unless lift={owner}", value)


def _build_graph(
    n: Any,
    graph: Any,
    graph_seed: Any,
    edge_prob: Any,
    adjacency: Any,
    *,
    memory_limit_mb: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the adjacency matrix and its JSON-ready description.

    A generated graph is checked against ``memory_limit_mb`` before it is built.
    """
    if adjacency is not None:
        if graph is not None:
            raise invalid("graph", "no value when adjacency is given", graph)
        matrix, label = _load_adjacency(adjacency)
        matrix = _check_adjacency(matrix)
        if n is not None and check_int("n", n, low=1) != len(matrix):
            raise invalid("n", f"None or the adjacency size {len(matrix)}", n)
        return matrix, {"n": len(matrix), "graph": "adjacency", "adjacency": label}

    graph = check_choice("graph", "cycle" if graph is None else graph, GRAPHS)
    if graph != "erdos-renyi":
        for name, value in (("graph_seed", graph_seed), ("edge_prob", edge_prob)):
            if value is not None:
                raise invalid(name, "no value unless graph=erdos-renyi", value)
    if n is None:
        raise missing("n", f"the number of nodes for graph={graph}")
    low = 3 if graph == "cycle" else 1
    n = check_int("n", n, low=low)
    _check_graph_memory(n, memory_limit_mb)
    description: dict[str, Any] = {"n": n, "graph": graph}
    matrix = np.zeros((n, n))
    if graph == "cycle":
        nodes = np.arange(n)
        matrix[nodes, (nodes + 1) % n] = 1.0
        matrix[(nodes + 1) % n, nodes] = 1.0
    elif graph == "erdos-renyi":
        probability = _DEFAULT_EDGE_PROBABILITY if edge_prob is None else edge_prob
        probability = check_float("edge_prob", probability, low=0.0, high=1.0)
        seed = check_int("graph_seed", 0 if graph_seed is None else graph_seed, low=0)
        upper = np.triu(as_generator(seed).random((n, n)) < probability, k=1)
        matrix = (upper | upper.T).astype(np.float64)
        description.update(graph_seed=seed, edge_prob=probability)
    matrix.setflags(write=False)
    return matrix, description


def _check_graph_memory(n: int, memory_limit_mb: int) -> None:
    # The adjacency, the aggregation and the node cosines are n x n float64 arrays,
    # as in SubspaceReLU._check_memory. Building an Erdos-Renyi graph adds a fourth.
    needed = 8 * 4 * n * n
    if needed > memory_limit_mb * 2**20:
        largest = math.isqrt(memory_limit_mb * 2**20 // 32)
        raise LimitExceededError(
            f"invalid value for 'n': a graph on {n} nodes needs about "
            f"{format_bytes(needed)} for its n x n float64 arrays, over the limit "
            f"memory_limit_mb={memory_limit_mb}; use n <= {largest} or raise "
            "memory_limit_mb"
        )


def _load_adjacency(source: Any) -> tuple[np.ndarray, str]:
    if isinstance(source, np.ndarray):
        return source, "array"
    path = Path(source)
    if path.suffix not in (".npy", ".txt"):
        raise invalid("adjacency", "an array or a path ending in .npy or .txt", source)
    if not path.is_file():
        raise invalid("adjacency", "an existing .npy or .txt file", str(path))
    try:
        if path.suffix == ".npy":
            matrix = np.load(path, allow_pickle=False)
        else:
            matrix = np.loadtxt(path, ndmin=2)
    except ValueError as error:
        raise invalid(
            "adjacency", "a file containing a numeric matrix", f"{path} ({error})"
        ) from None
    return matrix, str(path)


def _check_adjacency(matrix: Any) -> np.ndarray:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise invalid("adjacency", "a non-empty square matrix", matrix.shape)
    if matrix.dtype.kind not in "biuf":
        raise invalid("adjacency", "a numeric 0/1 matrix", matrix.dtype)
    bad = np.argwhere((matrix != 0) & (matrix != 1))
    if len(bad):
        i, j = bad[0]
        raise invalid(
            "adjacency",
            "entries 0 or 1",
            f"entry ({i}, {j}) = {value_text(matrix[i, j])}",
        )
    asymmetric = np.argwhere(matrix != matrix.T)
    if len(asymmetric):
        i, j = asymmetric[0]
        raise invalid(
            "adjacency",
            "a symmetric matrix (an undirected graph)",
            f"entry ({i}, {j}) = {matrix[i, j]} but ({j}, {i}) = {matrix[j, i]}",
        )
    loops = np.flatnonzero(np.diagonal(matrix))
    if len(loops):
        raise invalid(
            "adjacency",
            "a zero diagonal (the aggregation adds the self-loops)",
            f"entry ({loops[0]}, {loops[0]}) = 1",
        )
    matrix = matrix.astype(np.float64)
    matrix.setflags(write=False)
    return matrix


def _build_group(group: Any, d: int, shape: Any) -> PermutationGroup:
    if isinstance(group, PermutationGroup):
        if group.n != d:
            raise invalid("group", f"a group acting on d={d} points", group)
        if shape is not None:
            raise invalid("shape", "None when group is a PermutationGroup", shape)
        return group
    name = check_choice("group", "cyclic" if group is None else group, _NAMED_GROUPS)
    if name == "dihedral" and d < 3:
        raise invalid("d", "d >= 3 for group=dihedral", d)
    grid = parse_shape(shape)
    if grid is not None and grid[0] * grid[1] != d:
        raise invalid("shape", f"a grid AxB with A * B = d = {d}", shape)
    try:
        return make_group(name, d, shape=grid)
    except InvalidParameterError as error:
        if "'n'" in str(error):
            raise invalid("d", f"a size that group={name} accepts", d) from error
        raise
