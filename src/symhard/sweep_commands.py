"""The ``sweep`` command: run a sweep specification from a YAML file.

``symhard sweep CONFIG.yaml --backend local|ray [--address ADDR] [--workers N]
--out DIR`` writes a run directory (``config.json``, ``environment.json``,
``results.sqlite``, ``trials.log``, figures, ``summary.json``, ``report.md`` and
``report.html``). Running it again with the same specification and ``--out``
resumes: stored trials are skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from symhard._validation import check_int


def _sweep(args: argparse.Namespace) -> int:
    from symhard.executors import check_backend
    from symhard.sweep import run_sweep

    check_backend(args.backend, args.address)
    workers = (
        None if args.workers is None else check_int("--workers", args.workers, low=1)
    )
    result = run_sweep(
        args.config,
        args.out,
        backend=args.backend,
        address=args.address,
        workers=workers,
        show_progress=not args.no_progress,
    )
    counts: dict[str, int] = {}
    for trial in result.trials:
        counts[trial["status"]] = counts.get(trial["status"], 0) + 1
    print(
        f"report: {Path(args.out) / 'report.md'} ({result.n_run} trials run now; "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + ")"
    )
    if counts.get("failed"):
        print(
            f"symhard: error: {counts['failed']} trials failed; their errors are in "
            f"{Path(args.out) / 'trials.log'}",
            file=sys.stderr,
        )
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` command."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a sweep of families, sizes, learners and hyperparameters",
        description="Run every trial of a sweep specification (YAML) and write a "
        "run directory with results.sqlite, figures and a report. A directory "
        "containing an earlier run of the same specification is resumed.",
    )
    parser.add_argument("config", help="sweep specification (YAML file)")
    parser.add_argument(
        "--out",
        required=True,
        help="run directory (resumed if it contains a run of this spec)",
    )
    parser.add_argument(
        "--backend",
        default="local",
        help="local (process pool, the default) or ray",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="address of an existing Ray cluster (ray backend only; default: "
        "start a local Ray for this run)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="trials running at once (default: every available core)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar"
    )
    parser.set_defaults(handler=_sweep)
