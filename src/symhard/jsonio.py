"""JSON output that strict parsers accept.

Python's ``json`` writes ``Infinity`` and ``NaN``, which are not JSON; a zero
query bound has ``log10 = -inf``, for example. Here they become ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def to_json(data: Any, *, indent: int | None = 2) -> str:
    """Serialize ``data``, writing non-finite floats as ``null``.

    NumPy scalars and arrays, paths, tuples and sets are converted too.

    Examples
    --------
    >>> to_json({"bound": float("-inf"), "m": 3}, indent=None)
    '{"bound": null, "m": 3}'
    """
    return json.dumps(_clean(data), indent=indent, allow_nan=False)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(item) for item in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
