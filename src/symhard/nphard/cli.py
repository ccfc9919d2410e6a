"""The ``symhard np-hard`` command: generate, solve and time the reduction.

Instance sizes and experiment settings are given as ``key=value`` tokens or as
``--flags``. Every bad value raises :class:`InvalidParameterError`, which the
top-level command prints as one line before exiting with status 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from symhard import commands
from symhard._validation import (
    InvalidParameterError,
    check_choice,
    check_float,
    check_int,
)
from symhard.nphard.instances import (
    SetSplittingInstance,
    parse_set_size,
    random_instance,
    read_instance,
)

if TYPE_CHECKING:
    from symhard.nphard.solvers import SolverResult


_INSTANCE_KEYS = ("elements", "sets", "set_size")
_SCALING_KEYS = ("min_elements", "max_elements", "trials", "ratio", "set_size")
_SOLVERS = ("both", "brute-force", "milp")


def register(subparsers: Any) -> None:
    """Add the ``np-hard`` command and its subcommands to ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The object returned by ``ArgumentParser.add_subparsers``.
    """
    parser = subparsers.add_parser(
        "np-hard",
        help="Set Splitting reduced to consistency of a GNN class",
        description=(
            "Build the reduction from Set Splitting to consistency of a one-layer "
            "degree-histogram GNN class, decide instances exactly, and time it."
        ),
    )
    commands = parser.add_subparsers(
        dest="nphard_command", required=True, parser_class=_IntermixedParser
    )

    generate = commands.add_parser(
        "generate",
        help="write the labeled graphs of an instance",
        description=(
            "Write the reduction of one instance. A .npz file gets the arrays adj "
            "(padded adjacency, batch x n_max x n_max), y, num_nodes, points, "
            "point_labels, n_elements and sets (one row per set, padded with 0). "
            "A .pt file gets a list of torch_geometric.data.Data; load it with "
            "torch.load(path, weights_only=False)."
        ),
    )
    _add_instance_arguments(generate)
    generate.add_argument(
        "--out", required=True, help="output file, ending in .npz or .pt"
    )
    generate.set_defaults(handler=handle_generate)

    solve = commands.add_parser(
        "solve",
        help="decide an instance with brute force and with the MILP",
        description=(
            "Decide whether an instance has a split, by brute force over splits and "
            "by a MILP (SciPy's HiGHS interface) for consistency of the GNN class."
        ),
    )
    _add_instance_arguments(solve)
    solve.add_argument(
        "--solver",
        default="both",
        help="which solver to run: both, brute-force or milp (default: both)",
    )
    solve.add_argument(
        "--time-limit",
        default=None,
        help="HiGHS time limit in seconds (default: none)",
    )
    solve.add_argument(
        "--json", action="store_true", help="print the results as one JSON object"
    )
    solve.set_defaults(handler=handle_solve)

    scaling = commands.add_parser(
        "scaling",
        help="time both solvers against the number of elements",
        description=(
            "Time both solvers on random instances with round(ratio * d) sets for "
            "each d, and write scaling.json, nphard_scaling.png and "
            "nphard_scaling.svg. Keys: " + ", ".join(_SCALING_KEYS) + "."
        ),
    )
    scaling.add_argument(
        "params",
        nargs="*",
        metavar="key=value",
        help="settings, for example max_elements=14 trials=5",
    )
    scaling.add_argument("--out", required=True, help="output folder")
    scaling.add_argument(
        "--min-elements",
        dest="min_elements",
        default=None,
        help="smallest d (default: 4)",
    )
    scaling.add_argument(
        "--max-elements",
        dest="max_elements",
        default=None,
        help="largest d, at most 30 (default: 14)",
    )
    scaling.add_argument(
        "--trials", default=None, help="random instances per d (default: 5)"
    )
    scaling.add_argument(
        "--ratio",
        default=None,
        help="sets per element (default: 2.5, near the threshold)",
    )
    scaling.add_argument(
        "--set-size",
        dest="set_size",
        default=None,
        help="set size, or a range such as 2-4 (default: 3)",
    )
    scaling.add_argument("--seed", default="0", help="random seed (default: 0)")
    scaling.set_defaults(handler=handle_scaling)


class _IntermixedParser(argparse.ArgumentParser):
    """Parser that accepts ``key=value`` tokens before, between and after flags.

    Plain ``parse_known_args`` stops filling a ``nargs="*"`` positional at the
    first flag, so ``elements=6 --seed 1 sets=12`` would leave ``sets=12``
    unrecognized.
    """

    _parsing_intermixed = False

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # parse_known_intermixed_args calls parse_known_args itself in Python
        # 3.11 and 3.12, and the flag sends those calls to the plain method.
        if self._parsing_intermixed:
            return super().parse_known_args(args, namespace)
        self._parsing_intermixed = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing_intermixed = False


def _add_instance_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "params",
        nargs="*",
        metavar="key=value",
        help=(
            "random instance: elements=D sets=R [set_size=3 or 2-4]; with --input, "
            "only elements=D, which sets the element count"
        ),
    )
    parser.add_argument(
        "--input",
        default=None,
        help="instance file: one set per line, element numbers separated by spaces",
    )
    parser.add_argument("--seed", default="0", help="random seed (default: 0)")


def parse_key_values(tokens: list[str], known_keys: tuple[str, ...]) -> dict[str, str]:
    """Parse ``key=value`` tokens into a dict, accepting only ``known_keys``.

    Raises
    ------
    InvalidParameterError
        On a token without ``=``, a key given twice, or an unknown key (the
        message lists the known keys).
    """
    values = commands.parse_key_values(tokens)
    for key in values:
        if key not in known_keys:
            raise InvalidParameterError(
                f"unknown parameter {key!r}: expected one of {', '.join(known_keys)}"
            )
    return values


def instance_from_args(args: argparse.Namespace) -> SetSplittingInstance:
    """Read the instance from ``--input`` or draw it from ``key=value`` settings.

    Raises
    ------
    InvalidParameterError
        On a bad key or value, a missing size, or a bad instance file.
    """
    values = parse_key_values(args.params, _INSTANCE_KEYS)
    seed = check_int("--seed", args.seed, low=0)
    if args.input is not None:
        extra = sorted(set(values) - {"elements"})
        if extra:
            raise InvalidParameterError(
                f"parameter {extra[0]!r} cannot be combined with --input; "
                "only elements=D is allowed with an instance file"
            )
        n_elements = None
        if "elements" in values:
            n_elements = check_int("elements", values["elements"], low=1)
        return read_instance(args.input, n_elements=n_elements)
    for key in ("elements", "sets"):
        if key not in values:
            raise InvalidParameterError(
                f"missing parameter {key!r}: give elements=D sets=R, or --input FILE"
            )
    n_elements = check_int("elements", values["elements"], low=1)
    n_sets = check_int("sets", values["sets"], low=0)
    set_size = parse_set_size(values.get("set_size", "3"), n_elements=n_elements)
    return random_instance(n_elements, n_sets, set_size=set_size, seed=seed)


def handle_generate(args: argparse.Namespace) -> int:
    """Write the reduction graphs of one instance to ``--out``."""
    from symhard.nphard.reduction import reduction_graphs

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".npz", ".pt"):
        raise InvalidParameterError(
            f"invalid value for '--out': expected a file ending in .npz or .pt, "
            f"got {str(out)!r}"
        )
    instance = instance_from_args(args)
    graphs = reduction_graphs(instance)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npz":
        widest = max((len(elements) for elements in instance.sets), default=0)
        sets = np.zeros((instance.n_sets, widest), dtype=np.int64)
        for row, elements in enumerate(instance.sets):
            sets[row, : len(elements)] = elements
        np.savez_compressed(
            out,
            adj=graphs.adj,
            y=graphs.y,
            num_nodes=graphs.num_nodes,
            points=graphs.points,
            point_labels=graphs.y,
            n_elements=np.int64(instance.n_elements),
            sets=sets,
        )
    else:
        import torch

        from symhard.nphard.reduction import to_pyg

        torch.save(to_pyg(graphs), out)
    print(
        f"wrote {len(graphs)} graphs ({instance.n_elements} elements, "
        f"{instance.n_sets} sets, up to {graphs.adj.shape[1]} nodes) to {out}"
    )
    return 0


def handle_solve(args: argparse.Namespace) -> int:
    """Decide one instance and print each solver's result, time and certificate.

    Returns 1 when the solvers disagree or a solution fails its check, else 0.
    """
    from symhard.nphard.solvers import brute_force_split, solve_milp

    solver = check_choice("--solver", args.solver, _SOLVERS)
    time_limit = None
    if args.time_limit is not None:
        time_limit = check_float(
            "--time-limit", args.time_limit, low=0.0, low_open=True
        )
    instance = instance_from_args(args)
    runners: list[Callable[[], Any]] = []
    if solver in ("both", "brute-force"):
        runners.append(lambda: brute_force_split(instance))
    if solver in ("both", "milp"):
        runners.append(lambda: solve_milp(instance, time_limit=time_limit))
    results = [run() for run in runners]
    # A MILP stopped at its time limit decides nothing, so it cannot disagree.
    decisions = {r.satisfiable for r in results if r.satisfiable is not None}
    agree = len(decisions) <= 1
    verified = all(result.verified for result in results)

    if args.json:
        output = {
            "instance": {"n_elements": instance.n_elements, "sets": instance.sets},
            "results": [result.to_dict() for result in results],
            "agree": agree,
        }
        print(json.dumps(output))
    else:
        print(repr(instance))
        for result in results:
            print(_format_result(result))
        if not agree:
            print("the solvers disagree, which means a bug in this package")
    return 0 if agree and verified else 1


def _format_result(result: SolverResult) -> str:
    if result.satisfiable is None:
        answer = "unknown (stopped at the time limit)"
    else:
        answer = "split exists" if result.satisfiable else "no split"
    lines = [f"{result.solver}: {answer} in {1e3 * result.seconds:.1f} ms"]
    if result.split is not None:
        part_one = [i + 1 for i, part in enumerate(result.split) if part == 1]
        part_two = [i + 1 for i, part in enumerate(result.split) if part == 2]
        lines.append(f"  split: part 1 = {part_one}, part 2 = {part_two}")
    lines.append(f"  certificate: {result.certificate}")
    if not result.verified:
        lines.append("  check FAILED: the solution does not verify")
    return "\n".join(lines)


def handle_scaling(args: argparse.Namespace) -> int:
    """Time both solvers against d and write the figure and JSON rows."""
    from symhard.nphard.experiment import (
        DEFAULT_RATIO,
        plot_scaling,
        run_scaling,
        scaling_markdown,
        summarize_scaling,
    )

    values = parse_key_values(args.params, _SCALING_KEYS)
    for key in _SCALING_KEYS:
        flag_value = getattr(args, key)
        if flag_value is not None:
            if key in values:
                raise InvalidParameterError(
                    f"parameter {key!r} is given both as {key}= and as a flag"
                )
            values[key] = flag_value
    seed = check_int("--seed", args.seed, low=0)
    max_elements = check_int(
        "max_elements", values.get("max_elements", "14"), low=1, high=30
    )
    min_elements = check_int(
        "min_elements",
        values.get("min_elements", "4"),
        low=1,
        high=max_elements,
        high_text=f"max_elements={max_elements}",
    )
    trials = check_int("trials", values.get("trials", "5"), low=1)
    ratio = check_float(
        "ratio", values.get("ratio", DEFAULT_RATIO), low=0, low_open=True
    )
    set_size = parse_set_size(values.get("set_size", "3"), n_elements=min_elements)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = run_scaling(
        range(min_elements, max_elements + 1),
        trials=trials,
        ratio=ratio,
        set_size=set_size,
        seed=seed,
    )
    (out / "scaling.json").write_text(json.dumps(rows, indent=2) + "\n")
    figures = plot_scaling(rows, out / "nphard_scaling")
    print(scaling_markdown(summarize_scaling(rows)))
    print(f"wrote {out / 'scaling.json'}, {figures[0]} and {figures[1]}")
    return 0 if all(row["agree"] and row["milp_verified"] for row in rows) else 1
