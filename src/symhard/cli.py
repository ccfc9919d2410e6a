"""The ``symhard`` command line.

Each command lives in a module with a ``register(subparsers)`` function that adds
its parser and sets ``handler``; ``handler(args)`` returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import NoReturn

from symhard._validation import InvalidParameterError

# Modules that contribute commands, in the order they appear in --help.
COMMAND_MODULES = [
    "symhard.commands",
    "symhard.bound_commands",
    "symhard.nphard.cli",
    "symhard.sq_commands",
    "symhard.sweep_commands",
]


class _OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like symhard's own."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"symhard: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(
        prog="symhard",
        description="Hard families for symmetric networks, their certified "
        "lower bounds, and experiments that train learners on them.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except InvalidParameterError as error:
        print(f"symhard: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symhard: interrupted; finished results are saved", file=sys.stderr)
        return 130
    except (
        FileNotFoundError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
        FileExistsError,
    ) as error:
        # An output path the user gave that cannot be written.
        print(
            f"symhard: error: cannot write {error.filename!r}: {error.strerror}",
            file=sys.stderr,
        )
        return 2
    except BrokenPipeError:
        # The reader of stdout went away (for example `symhard ... | head`).
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
