"""Sweeps: families, sizes, learners and hyperparameter grids, expanded into trials.

A sweep specification names the families with their fixed parameters and swept
sizes, the learners, a hyperparameter grid, the training budget, the number of
seeds and the controls. It is read from YAML (or built from a dict) and expanded
into :class:`~symhard.experiment.TrialSpec` objects: one per (family parameters,
learner, grid setting, seed). Example (``examples/sweep_small.yaml``)::

    name: small
    seed: 0
    seeds: 2
    learners: [mlp, circular-cnn]
    families:
      parity-relu: {group: cyclic, k: [2, 4], n: [8, 12]}
    grid:
      learning_rate: {log_grid: [1.0e-3, 1.0e-2, 3]}
      width: [64]
    train: {steps: 300, test_size: 2048, eval_every: 100}
    controls:
      random-teacher: {n: 12, k: 2, group: cyclic, teacher_width: 16}

Every trial is stored in ``results.sqlite`` under a key hashed from its resolved
configuration and the code version. So :func:`run_sweep` on a run directory that
contains an earlier run of the same specification runs only the missing trials.

The report takes, per (family, size, learner), the mean normalized test MSE over
seeds of each grid setting and reports the best setting with its interval.
Diverged and failed trials are counted and never averaged in.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import platform
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import (
    InvalidParameterError,
    check_choice,
    check_float,
    check_int,
    invalid,
)
from symhard.experiment import (
    CONTROL_SETTINGS,
    CONTROLS,
    TrialSpec,
    code_version,
    run_trials,
)
from symhard.families import FAMILIES, make_family
from symhard.jsonio import to_json
from symhard.results import ResultStore
from symhard.training import OPTIMIZERS, TrainConfig, interval_over_seeds

logger = logging.getLogger(__name__)

# Hyperparameters a grid may sweep, with the value used when the grid omits them.
# "auto" width is 4 times the realizing teacher's hidden units, at least min_width.
GRID_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "optimizer": "adam",
    "init_scale": 1.0,
    "batch_size": 256,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "width": "auto",
    "depth": 2,
}
# Training settings that stay fixed over a sweep.
TRAIN_DEFAULTS: dict[str, Any] = {
    "steps": 1000,
    "test_size": 4096,
    "eval_every": 250,
    "train_size": None,
}
SPEC_KEYS = (
    "name",
    "description",
    "seed",
    "seeds",
    "min_width",
    "learners",
    "families",
    "controls",
    "grid",
    "train",
)
# Keys of a family or control entry that are not family parameters.
ENTRY_KEYS = ("learners", "grid")
CONTROL_ENTRY_KEYS = ("family", "learners", "grid")
DEFAULT_CONTROL_FAMILY = "parity-relu"
# Trial seeds are seed * SEED_STRIDE + replicate.
SEED_STRIDE = 1000


@dataclass(frozen=True)
class SweepEntry:
    """One family (or control) with its parameters, as a block of the sweep.

    Attributes
    ----------
    family : str
        A name in ``FAMILIES``.
    params : dict
        Family parameters; a tuple value is swept (every combination runs).
    learners : tuple of str or None
        Learners for this entry; None uses the sweep's.
    grid : dict or None
        Grid values that replace the sweep's for this entry (for example one
        learning rate where the full grid would cost too much).
    control : str or None
        None for a hard family, else a name in ``CONTROLS``.
    control_params : dict
        Settings of the control (``teacher_width``, ``parity_order``).
    """

    family: str
    params: dict[str, Any]
    learners: tuple[str, ...] | None = None
    grid: dict[str, tuple[Any, ...]] | None = None
    control: str | None = None
    control_params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in self.params.items()
        }
        if self.control is not None:
            data["family"] = self.family
            data.update(self.control_params)
        if self.learners is not None:
            data["learners"] = list(self.learners)
        if self.grid is not None:
            data["grid"] = {key: list(values) for key, values in self.grid.items()}
        return data


@dataclass(frozen=True)
class SweepSpec:
    """A resolved sweep: every default filled in and every grid listed.

    Build one with :meth:`from_dict` or :meth:`from_yaml`, which check every
    key and value; :meth:`to_dict` returns the form they read.

    Attributes
    ----------
    name : str
    families : tuple of SweepEntry
    learners : tuple of str
    grid : dict of str to tuple
        Values of every key of ``GRID_DEFAULTS``.
    train : dict
        Values of every key of ``TRAIN_DEFAULTS``.
    seeds : int
        Replicates per setting; each draws its own member, data and
        initialization.
    seed : int
        Base seed; replicate ``r`` uses ``seed * 1000 + r``.
    controls : tuple of SweepEntry
    min_width : int
        Smallest width that ``width: auto`` gives.
    description : str
        Free text shown at the top of the report.
    """

    name: str
    families: tuple[SweepEntry, ...]
    learners: tuple[str, ...]
    grid: dict[str, tuple[Any, ...]]
    train: dict[str, Any]
    seeds: int = 3
    seed: int = 0
    controls: tuple[SweepEntry, ...] = ()
    min_width: int = 64
    description: str = ""

    # Reading and writing -----------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path) -> SweepSpec:
        """Read a specification from a YAML file (see the module docstring)."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise invalid("CONFIG", "an existing YAML file", str(path))
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            problem = str(error).replace("\n", " ")
            raise invalid(
                "CONFIG", "a valid YAML file", f"{path} ({problem})"
            ) from None
        if not isinstance(data, Mapping):
            raise invalid(
                "CONFIG", "a YAML mapping at the top level", type(data).__name__
            )
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        """Check ``data`` and fill in defaults.

        Raises
        ------
        InvalidParameterError
            For an unknown key (naming it, where it is and the known keys) or a
            value out of range.
        """
        _reject_unknown(data, SPEC_KEYS, "the sweep specification")
        given_grid = data.get("grid") or {}
        _reject_unknown(given_grid, tuple(GRID_DEFAULTS), "grid")
        grid = {
            key: _grid_values(key, given_grid.get(key, default), "grid")
            for key, default in GRID_DEFAULTS.items()
        }
        learners = _learner_list(data.get("learners"), "learners")
        families = tuple(
            entry
            for name, value in _mapping(data.get("families"), "families").items()
            for entry in _family_entries(name, value)
        )
        controls = tuple(
            entry
            for name, value in _mapping(data.get("controls"), "controls").items()
            for entry in _control_entries(name, value)
        )
        if not families and not controls:
            raise invalid("families", "at least one family or control", None)
        if not learners and any(e.learners is None for e in families + controls):
            raise invalid("learners", "a list of learner names", data.get("learners"))
        return cls(
            name=str(data.get("name", "sweep")),
            families=families,
            learners=learners or (),
            grid=grid,
            train=_train_settings(data.get("train") or {}),
            seeds=check_int("seeds", data.get("seeds", 3), low=1),
            seed=check_int("seed", data.get("seed", 0), low=0),
            controls=controls,
            min_width=check_int("min_width", data.get("min_width", 64), low=1),
            description=str(data.get("description", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved specification; :meth:`from_dict` reads it back."""
        families: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in self.families:
            families[entry.family].append(entry.to_dict())
        controls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in self.controls:
            controls[entry.control].append(entry.to_dict())
        return {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "seeds": self.seeds,
            "min_width": self.min_width,
            "learners": list(self.learners),
            "families": dict(families),
            "controls": dict(controls),
            "grid": {key: list(values) for key, values in self.grid.items()},
            "train": dict(self.train),
        }

    def spec_hash(self) -> str:
        """Return a hash of the resolved specification (code version excluded)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def tolerance(self) -> float:
        """Query tolerance of the reported CSQ bounds: 1/sqrt(largest batch size).

        The largest batch gives the smallest tolerance a mini-batch gradient of
        the sweep has, and so the smallest bound, which is valid for every setting.
        """
        batch_sizes = [
            size
            for entry in self.families + self.controls
            for size in (entry.grid or {}).get("batch_size", self.grid["batch_size"])
        ]
        return 1 / math.sqrt(max(batch_sizes))

    # Expansion ------------------------------------------------------------------

    def trials(self) -> list[TrialSpec]:
        """Expand into one trial per (parameters, learner, grid setting, seed)."""
        specs: list[TrialSpec] = []
        for entry in self.families + self.controls:
            specs += self._entry_trials(entry)
        return specs

    def _entry_trials(self, entry: SweepEntry) -> list[TrialSpec]:
        grid = {**self.grid, **(entry.grid or {})}
        learners = entry.learners if entry.learners is not None else self.learners
        where = _entry_name(entry)
        combos = _parameter_combinations(entry.params)
        families = [_build_family(entry.family, params, where) for params in combos]
        smallest = min(range(len(combos)), key=lambda i: _size(families[i], combos[i]))
        for learner in learners:
            _check_learner(entry, families[smallest], combos[smallest], learner, where)
        specs = []
        for params, family in zip(combos, families, strict=True):
            size = _size(family, params)
            for learner in learners:
                for values in itertools.product(*grid.values()):
                    setting = dict(zip(grid, values, strict=True))
                    specs += self._replicates(entry, params, size, learner, setting)
        return specs

    def _replicates(
        self,
        entry: SweepEntry,
        params: dict[str, Any],
        size: int,
        learner: str,
        setting: dict[str, Any],
    ) -> list[TrialSpec]:
        width = setting["width"]
        if width == "auto":
            width = self._auto_width(entry, params)
        train = TrainConfig(
            **self.train,
            **{
                key: setting[key]
                for key in GRID_DEFAULTS
                if key not in ("width", "depth")
            },
        )
        if entry.control == "sparse-parity":
            k = entry.control_params.get("parity_order", 3)
        else:
            k = params.get("k")
        return [
            TrialSpec(
                experiment=entry.family if entry.control is None else "control",
                family=entry.family,
                params=dict(params),
                size_name=FAMILIES[entry.family].size_parameter,
                size=size,
                k=None if k is None else int(k),
                learner=learner,
                width=int(width),
                depth=int(setting["depth"]),
                train=train,
                seed=self.seed * SEED_STRIDE + replicate,
                control=entry.control,
                control_params=dict(entry.control_params),
            )
            for replicate in range(self.seeds)
        ]

    def _auto_width(self, entry: SweepEntry, params: dict[str, Any]) -> int:
        if entry.control is not None:
            return self.min_width
        units = make_family(entry.family, params).info().get("teacher_hidden_units")
        return max(self.min_width, 4 * int(units)) if units else self.min_width


# Parsing helpers -------------------------------------------------------------------


def _reject_unknown(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise invalid(where, "a mapping of keys to values", data)
    for key in data:
        if key not in known:
            raise InvalidParameterError(
                f"unknown key {key!r} in {where}: expected one of {', '.join(known)}"
            )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid(where, "a mapping of names to settings", value)
    return value


def _learner_list(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise invalid(where, "a non-empty list of learner names", value)
    return tuple(str(name) for name in value)


def _entry_list(value: Any, where: str) -> list[Mapping[str, Any]]:
    entries = value if isinstance(value, list) else [value]
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise invalid(f"{where}[{index}]", "a mapping of parameters", entry)
    return entries


def _family_entries(name: str, value: Any) -> list[SweepEntry]:
    if name not in FAMILIES:
        raise invalid("families", "family names from " + ", ".join(FAMILIES), name)
    known = tuple(FAMILIES[name].parameters) + ENTRY_KEYS
    entries = []
    for index, data in enumerate(_entry_list(value or {}, f"families.{name}")):
        where = f"families.{name}" + (f"[{index}]" if isinstance(value, list) else "")
        _reject_unknown(data, known, where)
        entries.append(
            SweepEntry(
                family=name,
                params=_params(data, ENTRY_KEYS),
                learners=_learner_list(data.get("learners"), f"{where}.learners"),
                grid=_entry_grid(data.get("grid"), where),
            )
        )
    return entries


def _control_entries(name: str, value: Any) -> list[SweepEntry]:
    if name not in CONTROLS:
        raise invalid("controls", "control names from " + ", ".join(CONTROLS), name)
    entries = []
    for index, data in enumerate(_entry_list(value or {}, f"controls.{name}")):
        where = f"controls.{name}" + (f"[{index}]" if isinstance(value, list) else "")
        family = check_choice(
            f"{where}.family", data.get("family", DEFAULT_CONTROL_FAMILY), FAMILIES
        )
        settings = CONTROL_SETTINGS[name]
        known = tuple(FAMILIES[family].parameters) + CONTROL_ENTRY_KEYS + settings
        _reject_unknown(data, known, where)
        entries.append(
            SweepEntry(
                family=family,
                params=_params(data, CONTROL_ENTRY_KEYS + settings),
                learners=_learner_list(data.get("learners"), f"{where}.learners"),
                grid=_entry_grid(data.get("grid"), where),
                control=name,
                control_params={
                    key: check_int(f"{where}.{key}", data[key], low=1)
                    for key in settings
                    if key in data
                },
            )
        )
    return entries


def _params(data: Mapping[str, Any], reserved: Sequence[str]) -> dict[str, Any]:
    return {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in data.items()
        if key not in reserved
    }


def _entry_grid(value: Any, where: str) -> dict[str, tuple[Any, ...]] | None:
    if value is None:
        return None
    _reject_unknown(value, tuple(GRID_DEFAULTS), f"{where}.grid")
    return {
        key: _grid_values(key, item, f"{where}.grid") for key, item in value.items()
    }


def _grid_values(key: str, value: Any, where: str) -> tuple[Any, ...]:
    """Read a list, a scalar or ``{log_grid: [low, high, count]}`` and check it."""
    name = f"{where}.{key}"
    if isinstance(value, Mapping):
        _reject_unknown(value, ("log_grid",), name)
        bounds = value.get("log_grid")
        if not isinstance(bounds, Sequence) or len(bounds) != 3:
            raise invalid(f"{name}.log_grid", "[low, high, count]", bounds)
        low = check_float(f"{name}.log_grid", bounds[0], low=0.0, low_open=True)
        high = check_float(f"{name}.log_grid", bounds[1], low=low)
        count = check_int(f"{name}.log_grid", bounds[2], low=1)
        # Six significant digits keep the values readable in reports and hashes.
        values: list[Any] = [float(f"{v:.6g}") for v in np.geomspace(low, high, count)]
    elif isinstance(value, list | tuple):
        values = list(value)
    else:
        values = [value]
    if not values:
        raise invalid(name, "at least one value", value)
    checked = tuple(_check_grid_value(key, item, name) for item in values)
    if len(set(checked)) < len(checked):
        raise invalid(name, "distinct values", list(values))
    return checked


def _check_grid_value(key: str, value: Any, name: str) -> Any:
    if key in ("learning_rate", "init_scale"):
        return check_float(name, value, low=0.0, low_open=True)
    if key == "momentum":
        return check_float(name, value, low=0.0, high=1.0)
    if key == "weight_decay":
        return check_float(name, value, low=0.0)
    if key == "optimizer":
        return check_choice(name, value, OPTIMIZERS)
    if key == "width" and value == "auto":
        return "auto"
    if key == "width":
        if isinstance(value, str) and not value.strip().isdigit():
            raise invalid(name, "an integer >= 1 or 'auto'", value)
        return check_int(name, value, low=1)
    return check_int(name, value, low=1)  # batch_size, depth


def _train_settings(data: Any) -> dict[str, Any]:
    _reject_unknown(data, tuple(TRAIN_DEFAULTS), "train")
    settings = {**TRAIN_DEFAULTS, **data}
    settings["steps"] = check_int("train.steps", settings["steps"], low=1)
    settings["test_size"] = check_int("train.test_size", settings["test_size"], low=2)
    settings["eval_every"] = check_int(
        "train.eval_every", settings["eval_every"], low=1
    )
    if settings["train_size"] is not None:
        settings["train_size"] = check_int(
            "train.train_size", settings["train_size"], low=1
        )
    return settings


def _parameter_combinations(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = list(params)
    options = [v if isinstance(v, tuple) else (v,) for v in params.values()]
    return [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*options)
    ]


def _entry_name(entry: SweepEntry) -> str:
    if entry.control is None:
        return f"families.{entry.family}"
    return f"controls.{entry.control}"


def _build_family(name: str, params: dict[str, Any], where: str) -> Any:
    try:
        return make_family(name, params)
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{where}: {error}") from None


def _size(family: Any, params: dict[str, Any]) -> int:
    return int(params[family.size_parameter])


def _check_learner(
    entry: SweepEntry, family: Any, params: dict[str, Any], learner: str, where: str
) -> None:
    """Build ``learner`` once, small, so a bad name fails before any trial runs."""
    from symhard.groups import make_group
    from symhard.learners import make_learner

    try:
        if entry.control == "sparse-parity":
            make_learner(learner, make_group("trivial", _size(family, params)), width=1)
        else:
            family.make_learner(learner, width=1, depth=1)
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{where}: {error}") from None


# Summaries: best setting per (family, size, learner) -------------------------------


def row_key(trial: Mapping[str, Any]) -> tuple:
    """Return what identifies a summary row: everything but the setting and seed."""
    return (
        trial["experiment"],
        trial["family"],
        trial["control"],
        json.dumps(trial["params"], sort_keys=True),
        json.dumps(trial["control_params"], sort_keys=True),
        trial["learner"],
    )


def trial_setting(trial: Mapping[str, Any]) -> dict[str, Any]:
    """Return the grid setting of a trial (a stored row or ``TrialSpec.to_dict()``)."""
    train = trial["train"]
    setting = {key: train[key] for key in GRID_DEFAULTS if key in train}
    setting.update(width=trial["width"], depth=trial["depth"])
    return setting


def summarize(
    trials: Sequence[Mapping[str, Any]], *, tolerance: float
) -> list[dict[str, Any]]:
    """Aggregate trials into one row per (experiment, parameters, learner).

    For each grid setting, the normalized test MSE is averaged over the seeds that
    finished ("done"). The best setting is the one with the lowest mean among the
    settings with the most finished seeds, so a setting where some seeds diverged
    cannot win on the seeds that survived. The row reports that setting, its mean
    and 95% Student-t interval over seeds, and counts of diverged and failed trials
    over the whole grid. Hard-family rows also carry the family size, ``gamma``
    and the CSQ lower bound at ``tolerance``.
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for trial in trials:
        groups[row_key(trial)].append(trial)
    bounds: dict[tuple[str, str], dict[str, Any]] = {}
    rows = [_summary_row(members, tolerance, bounds) for members in groups.values()]
    rows.sort(key=_row_order)
    return rows


def _row_order(row: Mapping[str, Any]) -> tuple:
    return (
        row["kind"],
        row["experiment"],
        row["family"],
        -1 if row["k"] is None else row["k"],
        row["size"],
        row["learner"],
        json.dumps(row["params"], sort_keys=True, default=str),
    )


def _summary_row(
    members: list[Mapping[str, Any]],
    tolerance: float,
    bounds: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    first = members[0]
    by_setting: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for trial in members:
        by_setting[json.dumps(trial_setting(trial), sort_keys=True)].append(trial)
    settings = [_setting_result(group) for group in by_setting.values()]
    control = first["control"]
    row: dict[str, Any] = {
        "experiment": first["experiment"],
        "family": first["family"] if control is None else control,
        "kind": "hard" if control is None else "control",
        "params": dict(first["params"]),
        "size_name": first["size_name"],
        "size": first["size"],
        "k": first["k"],
        "learner": first["learner"],
        "n_trials": len(members),
        "n_settings": len(settings),
        "n_diverged": sum(s["n_diverged"] for s in settings),
        "n_failed": sum(s["n_failed"] for s in settings),
        "n_seeds": 0,
        "grid": sorted(settings, key=_setting_order),
    }
    best = min(settings, key=_setting_order)
    if best["n_seeds"]:
        row.update(
            best_setting=best["setting"],
            n_seeds=best["n_seeds"],
            nmse_mean=best["nmse_mean"],
            nmse_low=best["nmse_low"],
            nmse_high=best["nmse_high"],
        )
    if control is None:
        row.update(_bound(first["family"], first["params"], tolerance, bounds))
    return row


def _setting_result(trials: list[Mapping[str, Any]]) -> dict[str, Any]:
    finished = [t["test_nmse"] for t in trials if t["status"] == "done"]
    result: dict[str, Any] = {
        "setting": trial_setting(trials[0]),
        "n_seeds": len(finished),
        "n_diverged": sum(t["status"] == "diverged" for t in trials),
        "n_failed": sum(t["status"] == "failed" for t in trials),
        "keys": sorted(t["key"] for t in trials if "key" in t),
    }
    if finished:
        mean, low, high = interval_over_seeds(finished)
        result.update(nmse_mean=mean, nmse_low=low, nmse_high=high)
    return result


def _setting_order(result: Mapping[str, Any]) -> tuple[int, float]:
    return (-result["n_seeds"], result.get("nmse_mean", math.inf))


def _bound(
    family: str,
    params: Mapping[str, Any],
    tolerance: float,
    cache: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    key = (family, json.dumps(params, sort_keys=True))
    if key not in cache:
        family_object = make_family(family, params)
        info = family_object.bound_info(tolerance)
        cache[key] = {
            "family_size": family_object.family_size,
            "max_abs_correlation": info["max_abs_correlation"],
            "correlation_method": info["correlation_method"],
            "tolerance": tolerance,
            "csq_lower_bound": info["csq_lower_bound"],
            "log10_csq_lower_bound": info["log10_csq_lower_bound"],
        }
    return dict(cache[key])


# Run directories -------------------------------------------------------------------


@dataclass
class SweepResult:
    """The outcome of :func:`run_sweep`, for callers that go on to report.

    Attributes
    ----------
    run_dir : Path
    spec : SweepSpec
    summary : list of dict
        One row per (experiment, parameters, learner); see :func:`summarize`.
    trials : list of dict
        Every trial of the specification as stored.
    histories : dict of str to list of dict
        Evaluation rows by trial key.
    n_run : int
        Trials run by this call (the others were already stored).
    """

    run_dir: Path
    spec: SweepSpec
    summary: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    histories: dict[str, list[dict[str, float]]]
    n_run: int


def environment(seed: int) -> dict[str, Any]:
    """Return versions, platform, seed and code revision for the run directory."""
    import scipy
    import torch
    import torch_geometric

    return {
        "symhard": code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch_threads_per_trial": 1,
        "seed": seed,
    }


def prepare_run_directory(
    out: str | Path,
    spec: SweepSpec,
    *,
    extra: Mapping[str, Any] | None = None,
    option: str = "--out",
) -> Path:
    """Create the run directory, or check that it contains a run of the same spec.

    Writes ``config.json`` (the resolved specification and its hash, plus
    ``extra``) and ``environment.json``.

    Raises
    ------
    InvalidParameterError
        When the directory contains a run of a different specification. The
        message names ``option``.
    """
    run_dir = Path(out)
    config_path = run_dir / "config.json"
    if config_path.exists():
        try:
            earlier = json.loads(config_path.read_text()).get("spec_hash")
        except (OSError, json.JSONDecodeError, AttributeError):
            earlier = None
        if earlier != spec.spec_hash():
            raise InvalidParameterError(
                f"invalid value for '{option}': expected a new directory or one with "
                f"a run of the same specification (hash {spec.spec_hash()}), got "
                f"{str(run_dir)!r}, which contains a run of another specification "
                f"(hash {earlier}); choose another {option}"
            )
        logger.info("resuming the run in %s", run_dir)
    elif run_dir.exists() and not run_dir.is_dir():
        raise invalid(option, "a directory", str(run_dir))
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    config = {
        "spec_hash": spec.spec_hash(),
        "code_version": code_version(),
        **(extra or {}),
        "spec": spec.to_dict(),
    }
    write_json(config_path, config)
    write_json(run_dir / "environment.json", environment(spec.seed))
    return run_dir


def run_spec_trials(
    spec: SweepSpec,
    run_dir: Path,
    *,
    backend: str = "local",
    address: str | None = None,
    workers: int | None = None,
    show_progress: bool = True,
) -> SweepResult:
    """Run the trials of ``spec`` missing from ``run_dir`` and summarize them all."""
    specs = spec.trials()
    keys = [trial.key() for trial in specs]
    with ResultStore(run_dir / "results.sqlite") as store:
        n_run = run_trials(
            specs,
            store,
            workers=workers,
            description=spec.name,
            show_progress=show_progress,
            backend=backend,
            address=address,
            log_path=run_dir / "trials.log",
        )
        trials = store.trials(keys)
        histories = store.histories(keys)
    summary = summarize(trials, tolerance=spec.tolerance)
    return SweepResult(run_dir, spec, summary, trials, histories, n_run)


def run_sweep(
    spec: SweepSpec | Mapping[str, Any] | str | Path,
    out: str | Path,
    *,
    backend: str = "local",
    address: str | None = None,
    workers: int | None = None,
    show_progress: bool = True,
) -> SweepResult:
    """Run a sweep and write its run directory and report.

    Parameters
    ----------
    spec : SweepSpec, dict, str or Path
        The specification, as an object, a dict (see :meth:`SweepSpec.from_dict`)
        or the path of a YAML file.
    out : str or Path
        The run directory. A directory containing a run of the same specification
        is resumed: trials already stored are not run again.
    backend : str, default="local"
        ``"local"`` (process pool) or ``"ray"``.
    address : str or None, default=None
        Address of an existing Ray cluster; None starts a local Ray for the run.
    workers : int or None, default=None
        Trials running at once; None uses every available core.
    show_progress : bool, default=True

    Returns
    -------
    SweepResult

    Raises
    ------
    InvalidParameterError
        For an invalid specification, or ``out`` containing another specification's
        run.
    """
    from symhard.report import write_report

    spec = resolve_spec(spec)
    run_dir = prepare_run_directory(out, spec, extra={"kind": "sweep"})
    result = run_spec_trials(
        spec,
        run_dir,
        backend=backend,
        address=address,
        workers=workers,
        show_progress=show_progress,
    )
    write_json(run_dir / "summary.json", result.summary)
    write_report(
        run_dir,
        spec=spec,
        summary=result.summary,
        trials=result.trials,
        histories=result.histories,
        sections=[],
    )
    return result


def resolve_spec(spec: SweepSpec | Mapping[str, Any] | str | Path) -> SweepSpec:
    """Return ``spec`` as a checked :class:`SweepSpec`."""
    if isinstance(spec, str | Path):
        return SweepSpec.from_yaml(spec)
    if isinstance(spec, SweepSpec):
        return SweepSpec.from_dict(spec.to_dict())
    return SweepSpec.from_dict(spec)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON (NumPy scalars and paths allowed)."""
    path.write_text(to_json(data) + "\n")


__all__ = [
    "GRID_DEFAULTS",
    "TRAIN_DEFAULTS",
    "SweepEntry",
    "SweepResult",
    "SweepSpec",
    "prepare_run_directory",
    "resolve_spec",
    "run_spec_trials",
    "run_sweep",
    "summarize",
    "trial_setting",
]
