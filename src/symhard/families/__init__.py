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
        (listing the family's parameters), or a value out of range.
    """
    if name not in FAMILIES:
        raise invalid("family", "one of " + ", ".join(FAMILIES), name)
    family = FAMILIES[name]
    params = dict(params or {})
    missing = [key for key in family.required_parameters if key not in params]
    if missing:
        raise invalid(missing[0], f"a value ({missing[0]}=...) for {name}", None)
    return family.from_strings(params)


__all__ = [
    "FAMILIES",
    "CorrelationCertificate",
    "HardFamily",
    "ParityReLU",
    "Task",
    "make_family",
]
