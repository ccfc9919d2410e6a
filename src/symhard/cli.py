"""The ``symhard`` command line."""

from __future__ import annotations

import argparse
import sys

from symhard._validation import InvalidParameterError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symhard",
        description="Hard families for symmetric networks, their bounds, experiments.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    from symhard.nphard.cli import register as register_nphard

    register_nphard(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except InvalidParameterError as error:
        print(f"symhard: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
