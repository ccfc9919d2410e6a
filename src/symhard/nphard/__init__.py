"""NP-hardness of proper learning for a one-layer GNN class, as runnable steps.

Set Splitting reduces to consistency of the degree-histogram GNN class:

1. :func:`halfspace_points` gives points in {0,1}^d that an intersection of two
   halfspaces separates if and only if the instance has a split (Blum and Rivest,
   1992).
2. :func:`reduction_graphs` encodes each point as a graph without node features,
   whose degree histogram recovers the point.
3. :class:`DegreeHistogramGNN` is the class: degrees by message passing, a ReLU
   one-hot, sum pooling and an AND of two threshold units.

:func:`brute_force_split` and :func:`solve_milp` decide instances exactly, and
:func:`train_gradient` tries the same task with Adam.
"""

from symhard.nphard.gnn import DegreeHistogramGNN, relu_one_hot
from symhard.nphard.instances import (
    SetSplittingInstance,
    Split,
    check_split,
    is_valid_split,
    parse_instance,
    random_instance,
    read_instance,
)
from symhard.nphard.reduction import (
    ReductionGraphs,
    degree_histograms,
    dense_adjacency,
    encode_graph,
    gnn_from_split,
    halfspace_points,
    halfspaces_from_split,
    readout_from_halfspaces,
    reduction_graphs,
    to_pyg,
)
from symhard.nphard.solvers import (
    MilpFit,
    SolverResult,
    brute_force_split,
    default_weight_bound,
    fit_readout_milp,
    solve_milp,
    split_from_readout,
)
from symhard.nphard.training import (
    GradientResult,
    compare_gradient_training,
    gradient_table,
    train_gradient,
)

__all__ = [
    "DegreeHistogramGNN",
    "GradientResult",
    "MilpFit",
    "ReductionGraphs",
    "SetSplittingInstance",
    "SolverResult",
    "Split",
    "brute_force_split",
    "check_split",
    "compare_gradient_training",
    "default_weight_bound",
    "degree_histograms",
    "dense_adjacency",
    "encode_graph",
    "fit_readout_milp",
    "gnn_from_split",
    "gradient_table",
    "halfspace_points",
    "halfspaces_from_split",
    "is_valid_split",
    "parse_instance",
    "random_instance",
    "read_instance",
    "readout_from_halfspaces",
    "reduction_graphs",
    "relu_one_hot",
    "solve_milp",
    "split_from_readout",
    "to_pyg",
    "train_gradient",
]
