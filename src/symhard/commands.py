"""The commands that work for every family: info, groups, sample, evaluate, reproduce.

Family and group parameters are ``key=value`` tokens, as in Hydra overrides:
``symhard info parity-relu n=12 k=4 group=cyclic``.
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import (
    InvalidParameterError,
    check_float,
    check_int,
    invalid,
    missing,
)
from symhard.jsonio import to_json

# Upper bound on the bytes a .npy header adds to the array data.
_NPY_HEADER_MARGIN = 65_536
# Integers past this many bits (about 3,900 digits) are printed in scientific
# notation, below Python's 4,300-digit limit on converting integers to text.
_MAX_PRINTED_BITS = 13_000


def parse_key_values(tokens: list[str]) -> dict[str, str]:
    """Turn ``["n=12", "k=4"]`` into ``{"n": "12", "k": "4"}``.

    Raises
    ------
    InvalidParameterError
        For a token without ``=`` or a key given twice.
    """
    values: dict[str, str] = {}
    for token in tokens:
        key, separator, value = token.partition("=")
        if not separator or not key:
            raise invalid("parameter", "key=value", token)
        if key in values:
            raise invalid(key, "one value", f"{values[key]!r} and {value!r}")
        values[key] = value
    return values


def parse_member(text: str | None) -> int | tuple[int, ...] | None:
    """Read ``member=5`` as an index and ``member=0,3,7`` as a subset.

    None (no ``member=``) stands for the family's default member.
    """
    if text is None:
        return None
    try:
        if "," in text:
            return tuple(int(part) for part in text.split(",") if part)
        return int(text)
    except ValueError:
        raise invalid("member", "an index or comma-separated subset", text) from None


def print_result(data: dict[str, Any], as_json: bool) -> None:
    """Print ``data`` as JSON or as aligned ``key: value`` lines.

    Integers of more than :data:`_MAX_PRINTED_BITS` bits (such as the order ``n!``
    of a large symmetric group) are printed as strings in scientific notation,
    because Python refuses to convert integers of more than 4300 digits to text.
    """
    data = _printable(data)
    if as_json:
        print(to_json(data))
        return
    width = max(len(key) for key in data)
    for key, value in data.items():
        print(f"{key:<{width}}  {value}")


def _printable(value: Any) -> Any:
    """Replace huge integers in ``value`` (nested dicts and lists too) by text."""
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int or value.bit_length() <= _MAX_PRINTED_BITS:
        return value
    # math.log10 accepts integers of any size.
    exponent = math.floor(math.log10(abs(value)))
    mantissa = 10 ** (math.log10(abs(value)) - exponent)
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa:.6f}e+{exponent} ({exponent + 1} digits, rounded)"


def save_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to an ``.npz`` file whose bytes depend only on the arrays.

    ``numpy.savez`` stamps each member with the current time; here every member
    gets a fixed timestamp, so equal arrays give equal files. Each array is
    streamed into the archive without an in-memory copy.
    """
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            array = np.asanyarray(array)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # A member written without its size known in advance needs ZIP64
            # fields to pass 2 GiB. The .npy header adds a few KiB at most.
            large = array.nbytes + _NPY_HEADER_MARGIN > zipfile.ZIP64_LIMIT
            with archive.open(info, "w", force_zip64=large) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise invalid("--input", "an existing .npz file", str(path))
    with path.open("rb") as handle:
        is_zip = handle.read(4) == b"PK\x03\x04"
    if not is_zip:
        raise invalid(
            "--input", "an .npz file (a ZIP archive of .npy arrays)", str(path)
        )
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it contains one array, not named arrays such as x or adj")
        with data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise invalid("--input", "a readable .npz file", f"{path} ({error})") from None


# Handlers ------------------------------------------------------------------------


def _family_and_member(args: argparse.Namespace):
    """Build the family of ``args`` and the keyword arguments that pick its member."""
    from symhard.families import make_family

    params = parse_key_values(args.params)
    member = parse_member(params.pop("member", None))
    return make_family(args.family, params), {} if member is None else {
        "member": member
    }


def _info(args: argparse.Namespace) -> int:
    tolerance = check_float("--tolerance", args.tolerance, low=0.0, low_open=True)
    family, _ = _family_and_member(args)
    data = family.info()
    data.update(family.bound_info(tolerance))
    print_result(data, args.json)
    return 0


def _groups_orbits(args: argparse.Namespace) -> int:
    from symhard.groups import GROUP_NAMES, make_group

    params = parse_key_values(args.params)
    known = {"group", "n", "k", "shape", "generators"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise invalid("parameter", "one of " + ", ".join(sorted(known)), unknown[0])
    if "group" not in params:
        raise missing("group", "one of " + ", ".join(GROUP_NAMES))
    shape = None
    if "shape" in params:
        from symhard.families.subset_orbits import parse_shape

        shape = parse_shape(params["shape"])
    if "n" in params or (shape is None and params["group"] != "generated"):
        n = check_int("n", params.get("n"), low=1)
    else:
        n = None  # taken from the grid or the generators
    group = make_group(
        params["group"], n, shape=shape, generators=params.get("generators")
    )
    n = group.n
    k = check_int("k", params.get("k"), low=0, high=n, high_text=f"n={n}")
    data = {
        "group": group.name,
        "n": group.n,
        "order": group.order,
        "k": k,
        "orbits": group.count_orbits(k),
        "method": "Burnside's lemma over cycle types",
    }
    print_result(data, args.json)
    return 0


def _sample(args: argparse.Namespace) -> int:
    num = check_int("--num", args.num, low=1)
    seed = check_int("--seed", args.seed, low=0)
    family, member = _family_and_member(args)
    # Checked here so that the error names the option '--num'. sample() checks
    # again under the name 'num'.
    family.check_sample_count(num, name="--num")
    arrays = family.sample(num, seed=seed, **member)
    meta = {
        "family": family.name,
        "params": family.params,
        "member": family.member_description(**member),
        "num": num,
        "seed": seed,
    }
    save_npz(args.out, {**arrays, "meta": np.array(to_json(meta, indent=None))})
    print(f"wrote {num} samples of {family!r} to {args.out}", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    family, member = _family_and_member(args)
    arrays = load_npz(args.input)
    arrays.pop("meta", None)
    arrays.pop("y", None)
    y = family.evaluate(arrays, **member)
    save_npz(args.out, {"y": y})
    print(f"wrote {len(y)} labels to {args.out}", file=sys.stderr)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from symhard.reproduce import reproduce

    workers = (
        None if args.workers is None else check_int("--workers", args.workers, low=1)
    )
    result = reproduce(
        args.out,
        profile=args.profile,
        seed=args.seed,
        workers=workers,
        backend=args.backend,
        address=args.address,
        show_progress=not args.no_progress,
    )
    print(f"report: {Path(args.out) / 'report.md'} ({result['seconds']:.0f} s)")
    if result["failed_sections"]:
        print(
            "symhard: error: these sections failed (see the report and log): "
            + ", ".join(result["failed_sections"]),
            file=sys.stderr,
        )
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``info``, ``groups``, ``sample``, ``evaluate`` and ``reproduce``."""
    info = subparsers.add_parser(
        "info", help="family size, norms, gamma and the CSQ bound of a family"
    )
    info.add_argument("family", help="family name, e.g. parity-relu")
    info.add_argument("params", nargs="*", help="family parameters as key=value")
    info.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="query tolerance tau (default 0.01)",
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=_info)

    groups = subparsers.add_parser("groups", help="permutation group facts")
    group_commands = groups.add_subparsers(dest="group_command", required=True)
    orbits = group_commands.add_parser(
        "orbits", help="number of orbits of k-subsets (Burnside)"
    )
    orbits.add_argument(
        "params",
        nargs="*",
        help="group=NAME n=N k=K [shape=AxB] [generators=1,2,0/0,2,1]",
    )
    orbits.add_argument("--json", action="store_true", help="print JSON")
    orbits.set_defaults(handler=_groups_orbits)

    sample = subparsers.add_parser("sample", help="draw inputs and labels to an .npz")
    sample.add_argument("family")
    sample.add_argument(
        "params", nargs="*", help="family parameters and member=M as key=value"
    )
    sample.add_argument("--num", type=int, default=1000, help="number of samples")
    sample.add_argument("--seed", type=int, default=0, help="random seed")
    sample.add_argument("--out", required=True, help="output .npz path")
    sample.set_defaults(handler=_sample)

    evaluate = subparsers.add_parser(
        "evaluate", help="label the inputs of an .npz with one member"
    )
    evaluate.add_argument("family")
    evaluate.add_argument("params", nargs="*")
    evaluate.add_argument("--input", required=True, help="input .npz with x or adj")
    evaluate.add_argument("--out", required=True, help="output .npz with y")
    evaluate.set_defaults(handler=_evaluate)

    run = subparsers.add_parser(
        "reproduce", help="run the main experiment and write a report"
    )
    run.add_argument("--profile", default="quick", help="quick or paper")
    run.add_argument("--out", required=True, help="run directory (resumed if present)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: all cores)",
    )
    run.add_argument(
        "--backend", default="local", help="local (process pool, the default) or ray"
    )
    run.add_argument(
        "--address",
        default=None,
        help="address of an existing Ray cluster (ray backend only; default: "
        "start a local Ray for this run)",
    )
    run.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar"
    )
    run.set_defaults(handler=_reproduce)


__all__ = [
    "InvalidParameterError",
    "load_npz",
    "parse_key_values",
    "parse_member",
    "print_result",
    "register",
    "save_npz",
]
