"""The main job: sweep a hard family's size, train learners on it, and write a report.

For ``parity-relu`` under the cyclic group and each ``k``, members are drawn from
the seed at a range of ``n``; every learner trains on fresh samples and its
normalized test MSE is reported over seeds with an interval, beside the CSQ lower
bound at the tolerance a mini-batch gradient has (``1 / sqrt(batch_size)``).
Controls (a random teacher of each learner's own architecture, and sparse parity)
show that the trainer works. The other experiments of the package add their
sections through ``SECTION_BUILDERS``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import math
import multiprocessing
import platform
import signal
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from symhard._validation import check_choice, check_int
from symhard.experiment import TrialSpec, code_version, run_trials
from symhard.families import make_family
from symhard.results import ResultStore
from symhard.sections import SECTION_BUILDERS, ReportSection
from symhard.training import TrainConfig, interval_over_seeds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    """The sizes, learners and budgets of one ``reproduce`` run.

    Attributes
    ----------
    name : str
    sizes : dict of int to tuple of int
        For each ``k``, the values of ``n``.
    learners : tuple of str
    seeds : int
        Repetitions per (k, n, learner), each with its own member and data.
    train : TrainConfig
    control_n : int
        Input size of the random-teacher controls.
    sparse_parity_n : int
        Input size of the sparse-parity control (parity of 3 bits).
    min_width : int
        Smallest learner width; otherwise 4 times the teacher's hidden units.
    """

    name: str
    sizes: dict[int, tuple[int, ...]]
    learners: tuple[str, ...]
    seeds: int
    train: TrainConfig
    control_n: int
    sparse_parity_n: int
    min_width: int = 64

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train"] = self.train.to_dict()
        return data


LEARNERS = ("mlp", "group-mlp", "circular-cnn")

PROFILES = {
    # About 4 minutes of the 10-minute budget on 2 CPU cores for this sweep.
    "quick": Profile(
        name="quick",
        sizes={2: (4, 8, 16, 32), 4: (4, 8, 16, 24), 6: (6, 10, 16)},
        learners=LEARNERS,
        seeds=3,
        train=TrainConfig(
            steps=1000,
            batch_size=256,
            learning_rate=3e-3,
            test_size=4096,
            eval_every=250,
        ),
        control_n=16,
        sparse_parity_n=10,
    ),
    # For a larger machine: longer training, larger n, more seeds.
    "paper": Profile(
        name="paper",
        sizes={
            2: (4, 8, 16, 32, 64),
            4: (4, 8, 12, 16, 24, 32, 48),
            6: (6, 8, 10, 12, 16, 24, 32),
        },
        learners=LEARNERS,
        seeds=5,
        train=TrainConfig(
            steps=20000,
            batch_size=512,
            learning_rate=1e-3,
            test_size=16384,
            eval_every=1000,
        ),
        control_n=32,
        sparse_parity_n=20,
    ),
}

FAMILY = "parity-relu"
GROUP = "cyclic"


def trial_specs(profile: Profile, seed: int) -> list[TrialSpec]:
    """List the trials of the main sweep and its controls."""
    specs = []
    for k, sizes in profile.sizes.items():
        width = max(profile.min_width, 4 * 2**k)
        for n in sizes:
            for learner in profile.learners:
                for replicate in range(profile.seeds):
                    specs.append(
                        TrialSpec(
                            experiment=FAMILY,
                            family=FAMILY,
                            params={"n": n, "k": k, "group": GROUP},
                            size_name="n",
                            size=n,
                            k=k,
                            learner=learner,
                            width=width,
                            depth=2,
                            train=profile.train,
                            seed=seed * 1000 + replicate,
                        )
                    )
    for replicate in range(profile.seeds):
        for learner in profile.learners:
            specs.append(
                TrialSpec(
                    experiment="control",
                    family=FAMILY,
                    params={"n": profile.control_n, "k": 2, "group": GROUP},
                    size_name="n",
                    size=profile.control_n,
                    k=None,
                    learner=learner,
                    width=profile.min_width,
                    depth=2,
                    train=profile.train,
                    seed=seed * 1000 + replicate,
                    control="random-teacher",
                    control_params={"teacher_width": 16},
                )
            )
        specs.append(
            TrialSpec(
                experiment="control",
                family=FAMILY,
                params={"n": profile.sparse_parity_n, "k": 2, "group": "trivial"},
                size_name="n",
                size=profile.sparse_parity_n,
                k=3,
                learner="mlp",
                width=256,
                depth=2,
                train=profile.train,
                seed=seed * 1000 + replicate,
                control="sparse-parity",
                control_params={"parity_order": 3},
            )
        )
    return specs


def summarize(trials: list[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Aggregate trials over seeds into one row per (experiment, size, k, learner).

    Diverged trials are counted in ``n_diverged`` and never averaged in.
    """
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for trial in trials:
        key = (
            trial["experiment"],
            trial["family"],
            trial["control"],
            trial["size_name"],
            trial["size"],
            trial["k"],
            trial["learner"],
        )
        groups[key].append(trial)
    rows = []
    for key, members in groups.items():
        experiment, family, control, size_name, size, k, learner = key
        finished = [t["test_nmse"] for t in members if t["status"] == "done"]
        row: dict[str, Any] = {
            "experiment": experiment,
            "family": family if control is None else control,
            "kind": "hard" if control is None else "control",
            "size_name": size_name,
            "size": size,
            "k": k,
            "learner": learner,
            "n_seeds": len(finished),
            "n_diverged": len(members) - len(finished),
        }
        if finished:
            mean, low, high = interval_over_seeds(finished)
            row.update(nmse_mean=mean, nmse_low=low, nmse_high=high)
        if control is None:
            family_object = make_family(family, members[0]["params"])
            bound = family_object.bound_info(tolerance)
            row.update(
                family_size=family_object.family_size,
                max_abs_correlation=bound["max_abs_correlation"],
                correlation_method=bound["correlation_method"],
                tolerance=tolerance,
                csq_lower_bound=bound["csq_lower_bound"],
                log10_csq_lower_bound=bound["log10_csq_lower_bound"],
            )
        rows.append(row)
    rows.sort(key=lambda r: (r["kind"], str(r["k"]), r["size"], r["learner"]))
    return rows


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
        "torch_threads": torch.get_num_threads(),
        "seed": seed,
    }


def reproduce(
    out: str | Path,
    *,
    profile: str = "quick",
    seed: int = 0,
    workers: int | None = None,
    sections: bool = True,
) -> dict[str, Any]:
    """Run the main job and write its run directory.

    Parameters
    ----------
    out : str or Path
        The run directory. Trials already stored there are not run again.
    profile : str, default="quick"
        A key of ``PROFILES``.
    seed : int, default=0
    workers : int or None, default=None
        Worker processes for the trials; None uses every available core.
    sections : bool, default=True
        Whether to run the experiments of ``SECTION_BUILDERS`` too.

    Returns
    -------
    dict
        ``summary`` (rows), ``failed_sections`` (titles) and ``seconds``.
    """
    from symhard.report import write_report

    check_choice("profile", profile, PROFILES)
    seed = check_int("seed", seed, low=0)
    chosen = PROFILES[profile]
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "figures").mkdir(exist_ok=True)
    start = time.perf_counter()

    config = {"profile": chosen.to_dict(), "seed": seed, "family": FAMILY}
    _write_json(run_dir / "config.json", config)
    _write_json(run_dir / "environment.json", environment(seed))

    # The other experiments run in one background process while the trials use
    # the worker pool, so the job keeps every core busy until the end.
    context = multiprocessing.get_context("spawn")
    section_pool = context.Pool(1, initializer=_prepare_section_worker)
    pending_sections = [
        (path, section_pool.apply_async(_build_section, (path, run_dir, profile, seed)))
        for path in (SECTION_BUILDERS if sections else [])
    ]
    section_pool.close()
    store = ResultStore(run_dir / "results.sqlite")
    try:
        specs = trial_specs(chosen, seed)
        run_trials(specs, store, workers=workers, description=FAMILY)
        tolerance = 1 / math.sqrt(chosen.train.batch_size)
        trials = store.trials()
        summary = summarize(trials, tolerance)
        histories = {t["key"]: store.history(t["key"]) for t in trials}
        extra_sections, failed = _collect_sections(pending_sections)
    except BaseException:
        section_pool.terminate()
        raise
    finally:
        store.close()
    section_pool.join()

    for section in extra_sections:
        summary.extend(section.summary_rows)
    _write_json(run_dir / "summary.json", summary)
    write_report(
        run_dir,
        profile=chosen,
        summary=summary,
        trials=trials,
        histories=histories,
        sections=extra_sections,
        tolerance=tolerance,
    )
    seconds = time.perf_counter() - start
    logger.info("report written to %s in %.0f s", run_dir / "report.md", seconds)
    return {"summary": summary, "failed_sections": failed, "seconds": seconds}


def _prepare_section_worker() -> None:
    # One thread, because the trial workers use the other cores; Ctrl-C is left
    # to the main process, which terminates this worker.
    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


def _build_section(
    path: str, run_dir: Path, profile: str, seed: int
) -> ReportSection | str:
    """Run one section builder; return its section or the traceback it raised."""
    module_name, _, function_name = path.partition(":")
    started = time.perf_counter()
    logger.info("running section %s", path)
    try:
        builder = getattr(importlib.import_module(module_name), function_name)
        section = builder(run_dir, profile=profile, seed=seed)
    except Exception:  # a broken section must not lose the others
        logger.exception("section %s failed", path)
        return traceback.format_exc()
    logger.info("section %s took %.1f s", path, time.perf_counter() - started)
    return section


def _collect_sections(
    pending: list[tuple[str, Any]],
) -> tuple[list[ReportSection], list[str]]:
    sections, failed = [], []
    for path, result in pending:
        outcome = result.get()
        if isinstance(outcome, ReportSection):
            sections.append(outcome)
            continue
        failed.append(path)
        sections.append(
            ReportSection(
                title=f"Failed: {path}",
                markdown="This section raised an error, so it has no results:\n\n"
                f"```\n{outcome}```",
            )
        )
    return sections, failed


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__} to JSON")
