"""Tests for the report sections of the graph sweeps and the cyclic-group sweep."""

from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np
import pytest
import torch

import symhard.experiment
from symhard._validation import InvalidParameterError
from symhard.cnn_experiment import (
    CONTROL_EXPERIMENT,
    EXPERIMENT,
    CyclicProfile,
    bound_paragraph,
    build_cnn_section,
    cnn_section,
    cyclic_trial_specs,
    family_params,
)
from symhard.cnn_experiment import PROFILES as CYCLIC_PROFILES
from symhard.experiment import build_trial
from symhard.families import make_family
from symhard.graph_experiment import PROFILES as GRAPH_PROFILES
from symhard.graph_experiment import (
    GraphProfile,
    build_graph_section,
    control_trial_specs,
    graph_section,
    summarize_trials,
    table_line,
)
from symhard.results import ResultStore
from symhard.sections import SECTION_BUILDERS
from symhard.training import TrainConfig

# Student-t quantile t_0.975 with 2 degrees of freedom.
T_975_DF2 = 4.302653


def tiny_cyclic_profile(**changes) -> CyclicProfile:
    """A profile that runs in a few seconds: d=4, two learners, 20 steps."""
    profile = CyclicProfile(
        sizes=(4,),
        learners=("circular-cnn", "mlp"),
        planes=3,
        control_sizes=(4,),
        seeds=2,
        width=8,
        depth=1,
        teacher_width=4,
        train=TrainConfig(
            steps=20, batch_size=16, learning_rate=1e-2, test_size=256, eval_every=10
        ),
    )
    return dataclasses.replace(profile, **changes)


def csq_bound(family_size: int, gamma: float, tolerance: float) -> float:
    return (family_size - 2) * tolerance**2 / (1 + (family_size - 1) * gamma)


# Graph sweeps: the random-teacher control through the generic runner --------------


def test_control_trial_specs_use_generic_control():
    profile = GRAPH_PROFILES["quick"]
    specs = control_trial_specs(profile, seed=5)
    assert len(specs) == len(profile.degree_sizes) * profile.seeds
    for spec in specs:
        assert spec.experiment == "random-teacher-gnn"
        assert spec.control == "random-teacher"
        assert spec.control_params == {"teacher_width": profile.teacher_width}
        assert spec.family == "degree-parity"
        assert spec.learner == profile.control_learner
    assert [spec.size for spec in specs[: profile.seeds]] == [26] * profile.seeds


def test_control_trial_target_standardized(torch_single_thread):
    spec = dataclasses.replace(
        control_trial_specs(GRAPH_PROFILES["quick"], seed=25)[0],
        control_params={"teacher_width": 4},
    )
    task, _, description = build_trial(spec)
    (adj, x), y = task.sample(2048, torch.Generator().manual_seed(26), "cpu")
    assert adj.shape == (2048, 26, 26)
    assert x.shape == (2048, 26, 1)
    # Fresh graphs: mean 0 and variance 1 up to sampling error (the teacher was
    # calibrated on 16384 other graphs).
    assert abs(float(y.mean())) < 0.15
    assert abs(float(y.var()) - 1.0) < 0.2
    assert description["teacher_width"] == 4


def test_control_trial_target_reproducible(torch_single_thread):
    spec = control_trial_specs(GRAPH_PROFILES["quick"], seed=27)[0]
    first, _, _ = build_trial(spec)
    second, _, _ = build_trial(spec)
    _, y_first = first.sample(16, torch.Generator().manual_seed(28), "cpu")
    _, y_second = second.sample(16, torch.Generator().manual_seed(28), "cpu")
    assert torch.equal(y_first, y_second)


def test_graph_section_tiny_profile(tmp_path, torch_single_thread):
    profile = GraphProfile(
        degree_sizes=(26,),
        subspace_sizes=(4,),
        learners=("gin-dense",),
        sparse_max_nodes=26,
        control_learner="gin-dense",
        seeds=2,
        width=4,
        depth=1,
        teacher_width=4,
        correlation_samples=500,
        train=TrainConfig(
            steps=5, batch_size=8, learning_rate=1e-2, test_size=64, eval_every=5
        ),
    )
    section = build_graph_section(tmp_path, profile, 3, workers=1)
    experiments = [row["experiment"] for row in section.summary_rows]
    assert experiments == ["degree-parity", "random-teacher-gnn", "subspace-relu-gnn"]
    control = section.summary_rows[1]
    assert control["n_seeds"] == 2
    assert control["csq_lower_bound"] is None
    with ResultStore(tmp_path / "graph_trials.sqlite") as store:
        assert store.count() == 6
    assert section.figures[0].is_file()
    assert section.figures[0].with_suffix(".svg").is_file()


# Summary rows ----------------------------------------------------------------------


def degree_parity_trial(**changes) -> dict:
    trial = {
        "experiment": "degree-parity",
        "family": "degree-parity",
        "params": {"n": 26, "correlation_samples": 2000, "correlation_seed": 0},
        "size_name": "n",
        "size": 26,
        "learner": "gin-dense",
        "control": None,
        "train": TrainConfig().to_dict(),
        "seed": 0,
    }
    trial.update(changes)
    return trial


def test_summarize_trials_rows():
    tolerance = 0.01
    trials = [degree_parity_trial(status="done", test_nmse=v) for v in (0.9, 1.0, 1.1)]
    trials.append(degree_parity_trial(status="diverged", test_nmse=None))
    trials.append(degree_parity_trial(status="failed", test_nmse=None))
    (row,) = summarize_trials(trials, tolerance=tolerance)
    assert row["n_seeds"] == 3
    assert row["n_diverged"] == 1
    assert row["n_failed"] == 1
    assert row["nmse_mean"] == pytest.approx(1.0)
    # Student-t with 2 degrees of freedom, sample standard deviation 0.1.
    half = T_975_DF2 * 0.1 / np.sqrt(3)
    assert row["nmse_high"] == pytest.approx(1.0 + half, rel=1e-5)
    expected = csq_bound(row["family_size"], row["gamma"], tolerance)
    assert row["csq_lower_bound"] == pytest.approx(expected)
    assert row["bound_model"] == "SQ"
    assert row["tolerance"] == tolerance


def test_summarize_trials_bound_once_per_family(monkeypatch):
    import symhard.graph_experiment as graph_experiment

    calls = []
    original = graph_experiment.make_family

    def counting_make_family(name, params):
        calls.append(name)
        return original(name, params)

    monkeypatch.setattr(graph_experiment, "make_family", counting_make_family)
    trials = [
        degree_parity_trial(status="done", test_nmse=1.0, learner=learner)
        for learner in ("gin-dense", "pyg-gin", "pyg-gcn")
    ]
    rows = summarize_trials(trials, tolerance=0.01)
    assert len(rows) == 3
    assert calls == ["degree-parity"]


def test_table_line_counts_unfinished_seeds():
    trials = [
        degree_parity_trial(status="diverged", test_nmse=None),
        degree_parity_trial(status="failed", test_nmse=None),
    ]
    (row,) = summarize_trials(trials, tolerance=0.01)
    line = table_line(row)
    assert "no seed finished (1 diverged) (1 failed)" in line
    assert line.count("|") == 9


# Cyclic-group sweep: specs ---------------------------------------------------------


def test_family_params_build_cyclic_lift():
    family = make_family("subspace-relu", family_params(6, planes=5, seed=3))
    assert family.lift == "group"
    assert family.group.name == "cyclic"
    assert family.group.order == 6
    assert family.m == 4
    assert family.family_size == 5
    assert family.seed == 3


def test_cyclic_trial_specs_counts():
    profile = tiny_cyclic_profile(sizes=(4, 6), control_sizes=(6,))
    specs = cyclic_trial_specs(profile, seed=7)
    hard = [spec for spec in specs if spec.control is None]
    controls = [spec for spec in specs if spec.control is not None]
    assert len(hard) == 2 * 2 * 2
    assert len(controls) == 1 * 2 * 2
    assert len({spec.key() for spec in specs}) == len(specs)
    assert {spec.seed for spec in specs} == {7000, 7001}


def test_cyclic_trial_specs_fields():
    profile = tiny_cyclic_profile(sizes=(4, 6), control_sizes=(6,))
    for spec in cyclic_trial_specs(profile, seed=7):
        assert spec.family == "subspace-relu"
        assert spec.params == family_params(spec.size, planes=3, seed=7)
        assert spec.size_name == "d"
        assert spec.width == profile.width
        if spec.control is None:
            assert spec.experiment == EXPERIMENT
            assert spec.control_params == {}
        else:
            assert spec.experiment == CONTROL_EXPERIMENT
            assert spec.control == "random-teacher"
            assert spec.control_params == {"teacher_width": 4}


def test_cyclic_profile_tolerance_inverse_sqrt_batch():
    for profile in CYCLIC_PROFILES.values():
        assert profile.tolerance == pytest.approx(profile.train.batch_size**-0.5)


@pytest.mark.parametrize("learner", ["circular-cnn", "group-mlp", "mlp"])
def test_quick_profile_learners_map_inputs(learner):
    profile = CYCLIC_PROFILES["quick"]
    for d in profile.sizes:
        family = make_family("subspace-relu", family_params(d, planes=2, seed=0))
        model = family.make_learner(learner, width=profile.width, depth=profile.depth)
        with torch.no_grad():
            assert model(torch.randn(3, d)).shape == (3,)


# Cyclic-group sweep: section -------------------------------------------------------


def test_cnn_section_rejects_unknown_profile(tmp_path):
    with pytest.raises(InvalidParameterError, match="'profile'.*'huge'"):
        cnn_section(tmp_path, profile="huge", seed=0)


def test_cnn_section_rejects_negative_seed(tmp_path):
    with pytest.raises(InvalidParameterError, match="'seed'"):
        cnn_section(tmp_path, profile="quick", seed=-1)


def test_graph_section_rejects_unknown_profile(tmp_path):
    with pytest.raises(InvalidParameterError, match="'profile'.*'huge'"):
        graph_section(tmp_path, profile="huge", seed=0)


def test_cnn_section_registered():
    assert "symhard.cnn_experiment:cnn_section" in SECTION_BUILDERS
    module_name, _, name = "symhard.cnn_experiment:cnn_section".partition(":")
    assert getattr(importlib.import_module(module_name), name) is cnn_section


@pytest.fixture(scope="module")
def tiny_cnn_run(tmp_path_factory):
    """Run the tiny cyclic profile once, then again on the same directory.

    The second run has a training function that raises, so any trial it ran
    again would be stored as failed.
    """

    def broken_train(*args, **kwargs):
        raise RuntimeError("a stored trial was run again")

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = tmp_path_factory.mktemp("cnn_run")
        first = build_cnn_section(run_dir, tiny_cyclic_profile(), 11, workers=1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(symhard.experiment, "train", broken_train)
            second = build_cnn_section(run_dir, tiny_cyclic_profile(), 11, workers=1)
    finally:
        torch.set_num_threads(previous)
    return run_dir, first, second


def test_cnn_section_summary_rows(tiny_cnn_run):
    _, section, _ = tiny_cnn_run
    keys = [(row["experiment"], row["learner"]) for row in section.summary_rows]
    assert keys == [
        (CONTROL_EXPERIMENT, "circular-cnn"),
        (CONTROL_EXPERIMENT, "mlp"),
        (EXPERIMENT, "circular-cnn"),
        (EXPERIMENT, "mlp"),
    ]
    for row in section.summary_rows:
        assert row["n_seeds"] == 2
        assert row["size"] == 4


def test_cnn_section_bound_matches_formula(tiny_cnn_run):
    _, section, _ = tiny_cnn_run
    row = section.summary_rows[2]
    tolerance = 1 / math.sqrt(16)
    assert row["family_size"] == 3
    assert row["gamma_method"] == "exact"
    expected = csq_bound(3, row["gamma"], tolerance)
    assert row["csq_lower_bound"] == pytest.approx(expected)


def test_cnn_section_gamma_matches_monte_carlo(tiny_cnn_run):
    _, section, _ = tiny_cnn_run
    family = make_family("subspace-relu", family_params(4, planes=3, seed=11))
    x = np.random.default_rng(12).standard_normal((200_000, 4))
    values = [family.evaluate({"x": x}, member=i) for i in range(3)]
    estimates = []
    for i, j in ((0, 1), (0, 2), (1, 2)):
        product = values[i] * values[j]
        error = 5 * product.std() / math.sqrt(len(x))
        estimates.append((abs(product.mean()), error))
    largest, error = max(estimates)
    assert abs(section.summary_rows[2]["gamma"] - largest) < error


def test_cnn_section_writes_figure(tiny_cnn_run):
    _, section, _ = tiny_cnn_run
    (png,) = section.figures
    assert png.is_file()
    assert png.with_suffix(".svg").is_file()


def test_cnn_section_markdown_table(tiny_cnn_run):
    _, section, _ = tiny_cnn_run
    table = [line for line in section.markdown.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(section.summary_rows)
    assert "below one query" in section.markdown


def test_cnn_section_rerun_reuses_trials(tiny_cnn_run):
    run_dir, first, second = tiny_cnn_run
    with ResultStore(run_dir / "cnn_trials.sqlite") as store:
        assert store.count() == 8
    assert second.summary_rows == first.summary_rows


def test_bound_paragraph_reports_largest_bound():
    profile = tiny_cyclic_profile()
    rows = [
        {"experiment": EXPERIMENT, "csq_lower_bound": 0.5, "size": 8},
        {"experiment": EXPERIMENT, "csq_lower_bound": 12.5, "size": 32},
        {"experiment": CONTROL_EXPERIMENT, "csq_lower_bound": None, "size": 32},
    ]
    text = bound_paragraph(rows, profile)
    assert "The largest bound is 12.5 queries, at d=32." in text
    assert "below one query" not in text


def test_bound_paragraph_flags_vacuous_bounds():
    rows = [{"experiment": EXPERIMENT, "csq_lower_bound": 0.25, "size": 8}]
    text = bound_paragraph(rows, tiny_cyclic_profile())
    assert "below one query (largest 0.25, at d=8)" in text
