"""The ``symhard sq-learn`` command: run the SQ learner on one family member.

Example: ``symhard sq-learn invariant-monomial n=16 k=3 group=cyclic member=0,2,7
--samples 400000 --seed 0``. Bad values raise :class:`InvalidParameterError`,
which the top-level command prints as one line before exiting with status 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from symhard._validation import check_choice, check_float, check_int

SQ_FAMILIES = ("invariant-monomial",)


def register(subparsers: Any) -> None:
    """Add the ``sq-learn`` command to ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The object returned by ``ArgumentParser.add_subparsers``.
    """
    parser = subparsers.add_parser(
        "sq-learn",
        help="recover an invariant-monomial member with the SQ learner",
        description=(
            "Run the SQ learner, which uses y^2 to grow the support of the target "
            "one coordinate at a time, through an empirical or exact SQ oracle, "
            "and print the recovered orbit, the true one and the cost."
        ),
    )
    parser.add_argument("family", choices=SQ_FAMILIES, help="family name")
    parser.add_argument(
        "params",
        nargs="*",
        help="family parameters and member=M (index or comma-separated subset)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="samples of the empirical oracle (required unless --oracle exact)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--oracle",
        default="empirical",
        help="empirical (sample means) or exact (closed-form expectations)",
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="probability that all answers are within their stated tolerances",
    )
    parser.add_argument(
        "--clip",
        type=float,
        default=None,
        help="clipping level c of x_i^2 in the queries (default 2); 0 means "
        "x_i^2 - 1 without clipping",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=handle_sq_learn)


def handle_sq_learn(args: argparse.Namespace) -> int:
    """Run the learner for the parsed arguments and print the result."""
    from symhard.commands import parse_key_values, parse_member, print_result
    from symhard.families import make_family
    from symhard.oracles import check_confidence
    from symhard.sq_learner import DEFAULT_CLIP, SQ_ORACLES, sq_learn

    params = parse_key_values(args.params)
    member = parse_member(params.pop("member", "0"))
    family = make_family(args.family, params)
    seed = check_int("--seed", args.seed, low=0)
    oracle = check_choice("--oracle", args.oracle, SQ_ORACLES)
    confidence = check_confidence(args.confidence, "--confidence")
    clip: float | None = DEFAULT_CLIP
    if args.clip is not None:
        clip = check_float("--clip", args.clip, low=0.0)
        if clip == 0.0:
            clip = None
    samples = None
    if oracle == "empirical" or args.samples is not None:
        samples = check_int("--samples", args.samples, low=2)
        # The oracle draws all its samples at once, so the memory check names the
        # option here.
        family.check_sample_count(samples, name="--samples")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = sq_learn(
            family,
            member,
            n_samples=samples,
            oracle=oracle,
            confidence=confidence,
            seed=seed,
            clip=clip,
        )
    for warning in caught:
        print(f"symhard: warning: {warning.message}", file=sys.stderr)

    data = result.to_dict()
    levels = data.pop("levels")
    if args.json:
        data["levels"] = levels
    else:
        data["recovered"] = data["recovered"] or "none"
    print_result(data, args.json)
    return 0
