"""Tests for the Ray backend: same metrics as the local backend, bit for bit.

The Ray test starts a local Ray instance with 2 CPUs (no dashboard) and shuts it
down. Runtime: about 16 s on a shared 2-core machine at load average 2.5, most of
it Ray's start and its workers importing torch.
"""

from __future__ import annotations

import sys

import pytest

from symhard._validation import InvalidParameterError
from symhard.executors import import_ray, make_executor
from symhard.results import ResultStore
from symhard.sweep import SweepSpec, run_sweep

SPEC = {
    "name": "backends",
    "seeds": 2,
    "learners": ["mlp", "circular-cnn"],
    "families": {"parity-relu": {"group": "cyclic", "k": 2, "n": 6}},
    "grid": {"learning_rate": [1e-2, 1e6], "width": [8], "batch_size": [32]},
    "train": {"steps": 30, "test_size": 128, "eval_every": 10},
    "controls": {"random-teacher": {"n": 6, "k": 2, "teacher_width": 4}},
}


def stored_outcomes(path) -> dict:
    """Return every trial's outcome and history by key, without timings."""
    with ResultStore(path) as store:
        trials = store.trials()
        histories = store.histories()
    fields = ("status", "test_nmse", "diverged_at", "n_parameters", "member")
    return {
        t["key"]: ({name: t[name] for name in fields}, histories.get(t["key"], []))
        for t in trials
    }


@pytest.mark.usefixtures("torch_single_thread")
def test_ray_backend_matches_local_bitwise(tmp_path):
    pytest.importorskip("ray")
    local = run_sweep(SPEC, tmp_path / "local", workers=1, show_progress=False)
    remote = run_sweep(
        SPEC, tmp_path / "ray", backend="ray", workers=2, show_progress=False
    )
    expected = {trial.key() for trial in SweepSpec.from_dict(SPEC).trials()}
    local_outcomes = stored_outcomes(tmp_path / "local" / "results.sqlite")
    ray_outcomes = stored_outcomes(tmp_path / "ray" / "results.sqlite")
    assert remote.n_run == local.n_run == len(expected)
    assert set(ray_outcomes) == expected
    statuses = {outcome["status"] for outcome, _ in ray_outcomes.values()}
    assert statuses == {"done", "diverged"}
    for key, (outcome, history) in local_outcomes.items():
        # Exact equality: the floats must agree to the last bit.
        assert ray_outcomes[key][0] == outcome
        assert ray_outcomes[key][1] == history


def test_import_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(
        InvalidParameterError,
        match=r"'--backend': expected local, or ray with Ray installed "
        r"\(pip install 'symhard\[ray\]'\), got 'ray'",
    ):
        import_ray()


def test_make_executor_ray_missing_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InvalidParameterError, match=r"symhard\[ray\]"):
        make_executor("ray", 2)


def test_make_executor_rejects_address_for_local():
    with pytest.raises(InvalidParameterError, match=r"'--address': only the ray"):
        make_executor("local", 2, address="127.0.0.1:6379")


def test_make_executor_rejects_zero_workers():
    with pytest.raises(InvalidParameterError, match=r"'--workers': expected an int"):
        make_executor("local", 0)
