"""The hard families, by name."""

from __future__ import annotations

from collections.abc import Mapping

from symhard._validation import invalid
from symhard.families.base import CorrelationCertificate, HardFamily, Task
from symhard.families.degree_parity import DegreeParity
from symhard.families.invariant_monomial import InvariantMonomial
from symhard.families.parity_relu import ParityReLU
from symhard.families.subspace_relu import SubspaceReLU

FAMILIES: dict[str, type[HardFamily]] = {
    ParityReLU.name: ParityReLU,
    SubspaceReLU.name: SubspaceReLU,
    DegreeParity.name: DegreeParity,
    InvariantMonomial.name: InvariantMonomial,
}


def make_family(name: str, params: Mapping[str, str | int] | None = None) -> HardFamily:
    """Build the family ``name`` from parameters given as strings or values.

    Raises
    ------
    InvalidParameterError
        For an unknown family (listing the known ones), an unknown parameter
        (listing the family's parameters), a missing required parameter, or a
        value out of range.
    """
    if name not in FAMILIES:
        raise invalid("family", "one of " + ", ".join(FAMILIES), name)
    family = FAMILIES[name]
    params = dict(params or {})
    # A required parameter left out is passed as None, so the family's own check
    # raises "missing value for ..." with the values it allows.
    for key in family.required_parameters:
        params.setdefault(key, None)
    return family.from_strings(params)


__all__ = [
    "FAMILIES",
    "CorrelationCertificate",
    "HardFamily",
    "ParityReLU",
    "Task",
    "make_family",
]
