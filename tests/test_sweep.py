"""Tests for symhard.sweep: specification, expansion, best-of-grid, divergence, CLI.

Runtime: about 10 s on a shared 2-core machine at load average 2.5, three times
that at load 10 (the trials are 20-step runs of width-8 networks, run in the test
process).
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import yaml

import symhard.experiment
from symhard._validation import InvalidParameterError
from symhard.cli import main
from symhard.experiment import TrialSpec, run_trials
from symhard.results import ResultStore
from symhard.sweep import (
    GRID_DEFAULTS,
    SweepSpec,
    run_sweep,
    summarize,
    trial_setting,
)
from symhard.training import TrainConfig

pytestmark = pytest.mark.usefixtures("torch_single_thread")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sweep_small.yaml"


def tiny_spec(**changes) -> dict:
    """A sweep of 20-step trials on parity-relu k=2 with a huge learning rate."""
    spec = {
        "name": "tiny",
        "seeds": 2,
        "learners": ["mlp"],
        "families": {"parity-relu": {"group": "cyclic", "k": 2, "n": [4, 6]}},
        "grid": {
            "learning_rate": [1e-2, 1e6],
            "width": [8],
            "batch_size": [32],
        },
        "train": {"steps": 20, "test_size": 64, "eval_every": 10},
    }
    spec.update(changes)
    return spec


# Reading a specification --------------------------------------------------------------


def test_from_dict_fills_defaults():
    spec = SweepSpec.from_dict(tiny_spec())
    assert spec.grid["optimizer"] == ("adam",)
    assert spec.grid["depth"] == (2,)
    assert spec.train["train_size"] is None
    assert spec.seed == 0


def test_from_dict_round_trips_through_to_dict():
    spec = SweepSpec.from_dict(tiny_spec())
    again = SweepSpec.from_dict(spec.to_dict())
    assert again == spec
    assert again.spec_hash() == spec.spec_hash()


def test_spec_hash_changes_with_grid():
    first = SweepSpec.from_dict(tiny_spec())
    second = SweepSpec.from_dict(tiny_spec(seeds=3))
    assert first.spec_hash() != second.spec_hash()


def test_log_grid_matches_geometric_spacing():
    data = tiny_spec(grid={"learning_rate": {"log_grid": [1e-4, 1e-1, 4]}})
    values = SweepSpec.from_dict(data).grid["learning_rate"]
    expected = [1e-4 * 10 ** (i * 3 / 3) for i in range(4)]
    assert len(values) == 4
    for value, target in zip(values, expected, strict=True):
        assert value == pytest.approx(target, rel=1e-5)


def test_yaml_reads_exponents_without_dot(tmp_path):
    # PyYAML reads "1e-3" (no dot) as a string; the spec must still take it.
    path = tmp_path / "spec.yaml"
    path.write_text(
        "learners: [mlp]\nfamilies:\n  parity-relu: {k: 2, n: 4}\n"
        "grid:\n  learning_rate: [1e-3, 3e-3]\n"
    )
    assert SweepSpec.from_yaml(path).grid["learning_rate"] == (1e-3, 3e-3)


def test_example_spec_expands():
    data = yaml.safe_load(EXAMPLE.read_text())
    spec = SweepSpec.from_yaml(EXAMPLE)
    family = data["families"]["parity-relu"]
    hard = len(family["k"]) * len(family["n"]) * len(data["learners"])
    settings = data["grid"]["learning_rate"]["log_grid"][2]
    control = len(data["learners"])
    assert len(spec.trials()) == (hard + control) * settings * data["seeds"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 3}, r"unknown key 'epochs' in the sweep specification: .*families"),
        ({"grid": {"lr": [1]}}, r"unknown key 'lr' in grid: expected one of .*"),
        (
            {"families": {"parity-relu": {"k": 2, "n": 4, "size": 3}}},
            r"unknown key 'size' in families.parity-relu: expected one of n, k",
        ),
        (
            {"families": {"parity-relu": [{"k": 2, "n": 4}, {"k": 4, "m": 3}]}},
            r"unknown key 'm' in families.parity-relu\[1\]",
        ),
        (
            {"controls": {"sparse-parity": {"n": 6, "k": 2, "order": 3}}},
            r"unknown key 'order' in controls.sparse-parity: .*parity_order",
        ),
        (
            {"train": {"steps": 5, "batch_size": 3}},
            r"unknown key 'batch_size' in train: expected one of steps",
        ),
        (
            {"grid": {"learning_rate": {"log": [1, 2, 3]}}},
            r"unknown key 'log' in grid.learning_rate: expected one of log_grid",
        ),
    ],
)
def test_from_dict_rejects_unknown_keys(changes, message):
    with pytest.raises(InvalidParameterError, match=message):
        SweepSpec.from_dict(tiny_spec(**changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grid": {"learning_rate": [0.0]}}, r"'grid.learning_rate': expected a num"),
        ({"grid": {"optimizer": ["lbfgs"]}}, r"'grid.optimizer': expected one of"),
        ({"grid": {"width": ["wide"]}}, r"'grid.width': expected an integer >= 1 or"),
        ({"grid": {"batch_size": [32, 32]}}, r"'grid.batch_size': expected distinct"),
        ({"seeds": 0}, r"'seeds': expected an integer >= 1, got 0"),
        ({"families": {"parity-relu": {"k": 3, "n": 6}}}, r"families.parity-relu: "),
        ({"families": {"no-such": {"n": 4}}}, r"'families': expected family names"),
        ({"learners": ["transformer"]}, r"families.parity-relu: .*'learner'"),
        ({"families": {}}, r"'families': expected at least one family or control"),
    ],
)
def test_from_dict_rejects_bad_values(changes, message):
    with pytest.raises(InvalidParameterError, match=message):
        SweepSpec.from_dict(tiny_spec(**changes)).trials()


# Expansion ----------------------------------------------------------------------------


def test_trials_count_is_product_of_axes():
    data = tiny_spec(
        learners=["mlp", "circular-cnn"],
        grid={"learning_rate": [1e-3, 1e-2, 1e-1], "init_scale": [0.5, 1.0]},
    )
    trials = SweepSpec.from_dict(data).trials()
    assert len(trials) == 2 * 2 * 3 * 2 * data["seeds"]
    assert len({trial.key() for trial in trials}) == len(trials)


def test_trials_auto_width_is_four_teacher_widths():
    data = tiny_spec(families={"parity-relu": {"k": [2, 4, 6], "n": 12}})
    data["grid"]["width"] = ["auto"]
    widths = {t.k: t.width for t in SweepSpec.from_dict(data).trials()}
    assert widths == {k: max(64, 4 * 2**k) for k in (2, 4, 6)}


def test_trials_share_seeds_across_settings():
    trials = SweepSpec.from_dict(tiny_spec(seed=7)).trials()
    seeds = {(t.size, t.train.learning_rate): [] for t in trials}
    for trial in trials:
        seeds[(trial.size, trial.train.learning_rate)].append(trial.seed)
    assert all(sorted(s) == [7000, 7001] for s in seeds.values())


def test_entry_grid_replaces_sweep_grid():
    data = tiny_spec(
        families={
            "parity-relu": [
                {"k": 2, "n": 4},
                {"k": 2, "n": 6, "grid": {"learning_rate": [1e-3, 1e-2, 1e-1]}},
            ]
        },
        grid={"learning_rate": [3e-3], "width": [8]},
    )
    rates = {}
    for trial in SweepSpec.from_dict(data).trials():
        rates.setdefault(trial.size, set()).add(trial.train.learning_rate)
    assert rates == {4: {3e-3}, 6: {1e-3, 1e-2, 1e-1}}


def test_controls_expand_with_their_settings():
    data = tiny_spec(
        controls={
            "random-teacher": {"n": 6, "k": 2, "teacher_width": 4},
            "sparse-parity": {
                "n": 7,
                "k": 2,
                "group": "trivial",
                "parity_order": 2,
                "learners": ["mlp"],
            },
        }
    )
    controls = [t for t in SweepSpec.from_dict(data).trials() if t.control]
    teacher = [t for t in controls if t.control == "random-teacher"]
    parity = [t for t in controls if t.control == "sparse-parity"]
    assert len(teacher) == len(parity) == 2 * 2  # 2 learning rates, 2 seeds
    assert teacher[0].control_params == {"teacher_width": 4}
    assert parity[0].size == 7
    assert parity[0].k == 2


def test_tolerance_uses_largest_batch():
    data = tiny_spec()
    data["grid"]["batch_size"] = [16, 64]
    assert SweepSpec.from_dict(data).tolerance == pytest.approx(1 / 8)


# Best of grid -------------------------------------------------------------------------


def fake_trial(lr: float, seed: int, nmse: float | None, status: str = "done") -> dict:
    spec = TrialSpec(
        experiment="parity-relu",
        family="parity-relu",
        params={"n": 4, "k": 2, "group": "cyclic"},
        size_name="n",
        size=4,
        k=2,
        learner="mlp",
        width=8,
        depth=2,
        train=TrainConfig(steps=10, learning_rate=lr, eval_every=5),
        seed=seed,
    ).to_dict()
    spec.update(key=f"{lr}-{seed}", status=status, test_nmse=nmse)
    return spec


def test_summarize_picks_lowest_mean_setting():
    trials = [
        fake_trial(1e-3, 0, 0.5),
        fake_trial(1e-3, 1, 0.7),
        fake_trial(1e-2, 0, 0.2),
        fake_trial(1e-2, 1, 0.4),
    ]
    (row,) = summarize(trials, tolerance=0.1)
    half = scipy.stats.t.ppf(0.975, 1) * np.std([0.2, 0.4], ddof=1) / math.sqrt(2)
    assert row["best_setting"]["learning_rate"] == 1e-2
    assert row["nmse_mean"] == pytest.approx(0.3)
    assert row["nmse_low"] == pytest.approx(0.3 - half)
    assert row["nmse_high"] == pytest.approx(0.3 + half)
    assert row["n_settings"] == 2


def test_summarize_never_averages_diverged():
    trials = [
        fake_trial(1e-3, 0, 0.5),
        fake_trial(1e-3, 1, 0.7),
        fake_trial(1e6, 0, None, "diverged"),
        fake_trial(1e6, 1, 0.01),
    ]
    (row,) = summarize(trials, tolerance=0.1)
    # The huge rate has one surviving seed with a low value, but the setting
    # with every seed finished wins.
    assert row["best_setting"]["learning_rate"] == 1e-3
    assert row["nmse_mean"] == pytest.approx(0.6)
    assert row["n_diverged"] == 1


def test_summarize_counts_failed_trials():
    trials = [fake_trial(1e-3, 0, 0.5), fake_trial(1e-3, 1, None, "failed")]
    (row,) = summarize(trials, tolerance=0.1)
    assert row["n_failed"] == 1
    assert row["n_seeds"] == 1


def test_summarize_row_without_results_has_no_mean():
    trials = [fake_trial(1e6, 0, None, "diverged")]
    (row,) = summarize(trials, tolerance=0.1)
    assert "nmse_mean" not in row
    assert row["n_diverged"] == 1


def test_summarize_reports_exact_bound():
    (row,) = summarize([fake_trial(1e-3, 0, 0.5)], tolerance=0.1)
    assert row["family_size"] == 2  # {0,1} and {0,2} are the C_4 orbits of 2-sets
    assert row["correlation_method"] == "exact"


def test_trial_setting_lists_grid_keys():
    setting = trial_setting(fake_trial(1e-3, 0, 0.5))
    assert set(setting) == set(GRID_DEFAULTS)


# Running ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "run"
    result = run_sweep(tiny_spec(), out, workers=1, show_progress=False)
    return out, result


def test_run_sweep_huge_rate_diverges(tiny_run):
    _, result = tiny_run
    huge = [t for t in result.trials if t["train"]["learning_rate"] == 1e6]
    assert huge
    assert all(t["status"] == "diverged" for t in huge)
    assert all(t["diverged_at"] == 10 for t in huge)


def test_run_sweep_best_ignores_diverged(tiny_run):
    _, result = tiny_run
    for row in result.summary:
        assert row["best_setting"]["learning_rate"] == 1e-2
        assert row["n_diverged"] == 2
        assert row["n_seeds"] == 2


def test_run_sweep_report_shows_diverged_counts(tiny_run):
    out, _ = tiny_run
    text = (out / "report.md").read_text()
    header = next(line for line in text.splitlines() if "| diverged |" in line)
    column = header.split("|").index(" diverged ")
    row = next(line for line in text.splitlines() if line.startswith("| 2 | n=4 |"))
    assert row.split("|")[column].strip() == "2"


def test_run_sweep_writes_run_directory(tiny_run):
    out, result = tiny_run
    for name in ("config.json", "environment.json", "results.sqlite", "trials.log"):
        assert (out / name).is_file()
    for name in ("summary.json", "report.md", "report.html"):
        assert (out / name).is_file()
    stems = ("parity_relu_sweep", "parity_relu_phase_diagram")
    for stem in stems + ("parity_relu_learning_curves",):
        assert (out / "figures" / f"{stem}.png").is_file()
        assert (out / "figures" / f"{stem}.svg").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["spec_hash"] == result.spec.spec_hash()


def test_run_sweep_stores_cpu_time(tiny_run):
    _, result = tiny_run
    assert all(t["cpu_seconds"] > 0 for t in result.trials)


def test_run_sweep_log_has_every_trial(tiny_run):
    out, result = tiny_run
    text = (out / "trials.log").read_text()
    for trial in result.trials:
        assert f"start {trial['key']} " in text
        assert f"finish {trial['key']} status={trial['status']}" in text


def test_run_sweep_resume_runs_nothing(tiny_run):
    out, result = tiny_run
    again = run_sweep(tiny_spec(), out, workers=1, show_progress=False)
    assert again.n_run == 0
    assert again.summary == result.summary


def test_run_sweep_records_code_version(tiny_run):
    _, result = tiny_run
    versions = {trial["code_version"] for trial in result.trials}
    assert versions == {symhard.experiment.code_version()}


def test_trial_key_ignores_code_version(monkeypatch):
    trial = SweepSpec.from_dict(tiny_spec()).trials()[0]
    before = trial.key()
    monkeypatch.setattr(symhard.experiment, "code_version", lambda: "9.9+other")
    assert trial.key() == before


def test_resume_after_update_keeps_trials(tmp_path, monkeypatch):
    out = tmp_path / "run"
    spec = tiny_spec(seeds=1)
    monkeypatch.setattr(symhard.experiment, "code_version", lambda: "1.0+first")
    first = run_sweep(spec, out, workers=1, show_progress=False)
    removed = first.trials[0]["key"]
    with sqlite3.connect(out / "results.sqlite") as connection:
        connection.execute("DELETE FROM trials WHERE key = ?", (removed,))
    connection.close()

    monkeypatch.setattr(symhard.experiment, "code_version", lambda: "1.1+second")
    again = run_sweep(spec, out, workers=1, show_progress=False)
    versions = {trial["key"]: trial["code_version"] for trial in again.trials}
    assert again.n_run == 1
    assert versions.pop(removed) == "1.1+second"
    assert set(versions.values()) == {"1.0+first"}
    report = (out / "report.md").read_text()
    assert "more than one symhard version" in report
    assert f"1.0+first ({len(first.trials) - 1})" in report
    assert "1.1+second (1)" in report


def test_run_sweep_rejects_other_spec(tiny_run):
    out, _ = tiny_run
    with pytest.raises(InvalidParameterError, match=r"invalid value for '--out'"):
        run_sweep(tiny_spec(seeds=1), out, workers=1, show_progress=False)


def test_run_trials_records_raising_trial_as_failed(tmp_path):
    spec = TrialSpec(
        experiment="control",
        family="parity-relu",
        params={"n": 4, "k": 2},
        size_name="n",
        size=4,
        k=2,
        learner="mlp",
        width=8,
        depth=2,
        train=TrainConfig(steps=5, batch_size=8, test_size=8, eval_every=5),
        seed=0,
        control="no-such-control",
    )
    with ResultStore(tmp_path / "results.sqlite") as store:
        run_trials(
            [spec],
            store,
            workers=1,
            show_progress=False,
            log_path=tmp_path / "trials.log",
        )
        (trial,) = store.trials()
        assert store.finished_keys() == set()
    assert trial["status"] == "failed"
    assert "invalid value for 'control'" in trial["error"]
    assert "invalid value for 'control'" in (tmp_path / "trials.log").read_text()


def test_result_store_adds_error_column(tmp_path):
    path = tmp_path / "old.sqlite"
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE trials (key TEXT PRIMARY KEY, experiment TEXT NOT NULL, "
        "spec TEXT NOT NULL, status TEXT NOT NULL, test_nmse REAL, "
        "diverged_at INTEGER, seconds REAL, samples_seen INTEGER, "
        "n_parameters INTEGER, member TEXT, finished_at REAL NOT NULL)"
    )
    connection.execute(
        "INSERT INTO trials VALUES ('a', 'e', '{}', 'done', 0.5, NULL, 1.0, 8, 3, "
        "'null', 0.0)"
    )
    connection.commit()
    connection.close()
    with ResultStore(path) as store:
        (trial,) = store.trials()
    assert trial["error"] is None
    assert trial["cpu_seconds"] is None
    assert trial["test_nmse"] == 0.5


# Command line -------------------------------------------------------------------------


def test_cli_sweep_rejects_other_spec(tiny_run, tmp_path, capsys):
    out, _ = tiny_run
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(tiny_spec(seeds=1)))
    status = main(["sweep", str(path), "--out", str(out), "--no-progress"])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith("symhard: error: invalid value for '--out'")
    assert len(error.splitlines()) == 1


def test_cli_sweep_rejects_unknown_backend(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_spec()))
    status = main(["sweep", str(path), "--out", str(tmp_path / "o"), "--backend", "x"])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error == (
        "symhard: error: invalid value for '--backend': expected one of local, ray, "
        "got 'x'"
    )


def test_cli_sweep_rejects_address_without_ray(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_spec()))
    argv = ["sweep", str(path), "--out", str(tmp_path / "o"), "--address", "h:1"]
    status = main(argv)
    assert status == 2
    assert "'--address': only the ray backend" in capsys.readouterr().err


def test_cli_sweep_rejects_unknown_key(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_spec(optimiser="adam")))
    status = main(["sweep", str(path), "--out", str(tmp_path / "o")])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith(
        "symhard: error: unknown key 'optimiser' in the sweep specification"
    )
    assert not (tmp_path / "o").exists()


def test_cli_sweep_rejects_missing_file(tmp_path, capsys):
    status = main(["sweep", str(tmp_path / "none.yaml"), "--out", str(tmp_path)])
    assert status == 2
    assert "invalid value for 'CONFIG': expected an existing YAML file" in (
        capsys.readouterr().err
    )
