"""End-to-end test of ``reproduce`` on a tiny profile injected into ``PROFILES``.

One run (10 trials of 20 steps, one report section that works and one that
fails) is checked file by file, then resumed. Runtime: about 6 s on a shared
2-core machine at load average 2.5 (about 15 s at load 10).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symhard.reproduce as reproduce_module
from symhard._validation import InvalidParameterError
from symhard.cli import main
from symhard.jsonio import to_json
from symhard.reproduce import PROFILES, parity_relu_profile, reproduce
from symhard.sections import ReportSection, load_section, save_section
from symhard.training import interval_over_seeds

SIZES = (4, 6)
SEEDS = 2
TUNED_RATES = (1e-3, 1e-2)
STEPS = 20
EVAL_EVERY = 10
TINY = parity_relu_profile(
    "tiny",
    sizes={2: SIZES},
    learners=("mlp",),
    seeds=SEEDS,
    train={"steps": STEPS, "test_size": 64, "eval_every": EVAL_EVERY},
    grid={"learning_rate": (1e-2,), "batch_size": (32,)},
    tuned_grid={"learning_rate": TUNED_RATES},
    control_n=6,
    sparse_parity_n=6,
)
SECTION_MODULE = """
from symhard.sections import ReportSection


def build(run_dir, *, profile, seed):
    with open(run_dir / "tiny_section_calls.txt", "a") as calls:
        calls.write("called\\n")
    return ReportSection(
        title="Tiny section",
        markdown=f"Built for profile {profile} and seed {seed}.",
        summary_rows=[{"experiment": "tiny-section", "profile": profile}],
    )
"""
BROKEN_SECTION = "symhard.no_such_module:build"
# Hard rows run one setting except at the largest n; controls run one each.
N_TRIALS = ((len(SIZES) - 1) + len(TUNED_RATES)) * SEEDS + 2 * SEEDS
FIGURES = (
    "parity_relu_sweep",
    "parity_relu_phase_diagram",
    "parity_relu_learning_curves",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run ``reproduce`` once on the tiny profile with two report sections."""
    root = tmp_path_factory.mktemp("reproduce")
    (root / "modules").mkdir()
    (root / "modules" / "tiny_section.py").write_text(textwrap.dedent(SECTION_MODULE))
    with pytest.MonkeyPatch.context() as patch:
        torch = pytest.importorskip("torch")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        patch.setitem(PROFILES, "tiny", TINY)
        patch.setattr(
            reproduce_module,
            "SECTION_BUILDERS",
            ["tiny_section:build", BROKEN_SECTION],
        )
        # Spawned processes start with the parent's sys.path.
        patch.syspath_prepend(str(root / "modules"))
        out = root / "run"
        result = reproduce(out, profile="tiny", seed=0, workers=1, show_progress=False)
        torch.set_num_threads(threads)
        yield out, result


def stored_trials(out: Path) -> dict[str, dict]:
    connection = sqlite3.connect(out / "results.sqlite")
    rows = connection.execute(
        "SELECT key, spec, status, test_nmse, finished_at FROM trials"
    ).fetchall()
    steps = dict(
        connection.execute("SELECT key, COUNT(*) FROM steps GROUP BY key").fetchall()
    )
    connection.close()
    return {
        key: {
            "spec": json.loads(spec),
            "status": status,
            "test_nmse": nmse,
            "finished_at": finished,
            "n_steps": steps.get(key, 0),
        }
        for key, spec, status, nmse, finished in rows
    }


def cyclic_orbits(n: int, k: int) -> int:
    """Count the rotation orbits of k-subsets of {0..n-1} by brute force."""
    seen, orbits = set(), 0
    for subset in itertools.combinations(range(n), k):
        if subset in seen:
            continue
        orbits += 1
        for shift in range(n):
            seen.add(tuple(sorted((i + shift) % n for i in subset)))
    return orbits


def test_reproduce_writes_every_file(run):
    out, _ = run
    names = {path.name for path in out.iterdir()}
    assert names == {
        "config.json",
        "environment.json",
        "results.sqlite",
        "trials.log",
        "summary.json",
        "report.md",
        "report.html",
        "figures",
        "sections",
        "tiny_section_calls.txt",
    }
    for stem in FIGURES:
        assert (out / "figures" / f"{stem}.png").stat().st_size > 0
        assert (out / "figures" / f"{stem}.svg").stat().st_size > 0


def test_reproduce_config_names_profile(run):
    out, _ = run
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "reproduce"
    assert config["profile"] == "tiny"
    assert config["spec"]["seed"] == 0
    assert config["spec_hash"] == TINY.spec_hash()  # seed 0 is the profile's


def test_reproduce_environment_lists_versions(run):
    out, _ = run
    environment = json.loads((out / "environment.json").read_text())
    for key in ("symhard", "python", "torch", "numpy", "scipy", "platform"):
        assert environment[key]
    assert environment["seed"] == 0


def test_reproduce_stores_every_trial_with_history(run):
    out, _ = run
    trials = stored_trials(out)
    assert len(trials) == N_TRIALS
    assert {t["status"] for t in trials.values()} == {"done"}
    assert {t["n_steps"] for t in trials.values()} == {STEPS // EVAL_EVERY}


def test_reproduce_log_has_every_trial(run):
    out, _ = run
    text = (out / "trials.log").read_text()
    for key in stored_trials(out):
        assert f"start {key} " in text
        assert f"finish {key} status=done" in text


def test_reproduce_summary_rows_match_trials(run):
    out, result = run
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(to_json(result["summary"]))
    hard = [row for row in summary if row.get("kind") == "hard"]
    assert [row["size"] for row in hard] == list(SIZES)
    assert [row["n_settings"] for row in hard] == [1] * (len(SIZES) - 1) + [
        len(TUNED_RATES)
    ]
    trials = stored_trials(out)
    for row in hard:
        best = row["best_setting"]["learning_rate"]
        values = [
            t["test_nmse"]
            for t in trials.values()
            if t["spec"]["size"] == row["size"]
            and t["spec"]["control"] is None
            and t["spec"]["train"]["learning_rate"] == best
        ]
        mean, low, high = interval_over_seeds(values)
        assert row["n_seeds"] == SEEDS
        assert row["nmse_mean"] == pytest.approx(np.mean(values))
        assert (row["nmse_low"], row["nmse_high"]) == pytest.approx((low, high))
        assert row["family_size"] == cyclic_orbits(row["size"], 2)
        bound = row["log10_csq_lower_bound"]
        # A zero bound (m <= 2) has no logarithm; JSON stores it as null.
        assert (bound is None) == (row["family_size"] <= 2)


def test_reproduce_best_rate_has_lowest_mean(run):
    _, result = run
    (tuned,) = [row for row in result["summary"] if row.get("n_settings", 0) > 1]
    means = [setting["nmse_mean"] for setting in tuned["grid"]]
    assert tuned["nmse_mean"] == min(means)


def test_reproduce_summary_has_controls_and_sections(run):
    _, result = run
    controls = {
        row["family"] for row in result["summary"] if row.get("kind") == "control"
    }
    assert controls == {"random-teacher", "sparse-parity"}
    assert {"experiment": "tiny-section", "profile": "tiny"} in result["summary"]


def test_reproduce_report_has_sections_and_figures(run):
    out, result = run
    text = (out / "report.md").read_text()
    assert "## parity-relu under the cyclic group" in text
    assert "## Controls" in text
    assert "## Tiny section" in text
    assert "Built for profile tiny and seed 0." in text
    assert f"## Failed: {BROKEN_SECTION}" in text
    assert result["failed_sections"] == [BROKEN_SECTION]
    for stem in FIGURES:
        assert f"(figures/{stem}.png)" in text
    assert "Tiny section" in (out / "report.html").read_text()


def test_reproduce_resume_skips_stored_trials(run):
    out, result = run
    before = stored_trials(out)
    again = reproduce(
        out, profile="tiny", seed=0, workers=1, sections=False, show_progress=False
    )
    assert again["n_run"] == 0
    assert stored_trials(out) == before
    hard = [row for row in again["summary"] if row.get("kind") == "hard"]
    assert hard == [row for row in result["summary"] if row.get("kind") == "hard"]


def test_reproduce_resume_reuses_built_sections(run):
    out, _ = run
    again = reproduce(out, profile="tiny", seed=0, workers=1, show_progress=False)
    calls = (out / "tiny_section_calls.txt").read_text().splitlines()
    assert calls == ["called"]
    assert (out / "sections" / "tiny_section.build.json").is_file()
    assert {"experiment": "tiny-section", "profile": "tiny"} in again["summary"]
    assert "Built for profile tiny and seed 0." in (out / "report.md").read_text()
    assert again["failed_sections"] == [BROKEN_SECTION]


def test_section_round_trip_keeps_figures(tmp_path):
    figure = tmp_path / "figures" / "plot.png"
    figure.parent.mkdir()
    figure.write_bytes(b"png")
    section = ReportSection(
        title="T",
        markdown="body",
        figures=[figure],
        summary_rows=[{"experiment": "e", "value": float("nan"), "n": 3}],
    )
    save_section(section, tmp_path, "pkg.mod:build")
    loaded = load_section(tmp_path, "pkg.mod:build")
    assert loaded.title == "T"
    assert loaded.markdown == "body"
    assert loaded.figures == [figure]
    assert loaded.summary_rows == [{"experiment": "e", "value": None, "n": 3}]


def test_load_section_missing_figure_is_none(tmp_path):
    figure = tmp_path / "plot.png"
    figure.write_bytes(b"png")
    save_section(ReportSection("T", "body", [figure]), tmp_path, "pkg.mod:build")
    figure.unlink()
    assert load_section(tmp_path, "pkg.mod:build") is None
    assert load_section(tmp_path, "pkg.other:build") is None


def test_reproduce_rejects_other_seed_in_same_dir(run):
    out, _ = run
    with pytest.raises(InvalidParameterError, match=r"invalid value for '--out'"):
        reproduce(out, profile="tiny", seed=1, workers=1, sections=False)


def test_reproduce_rejects_unknown_profile(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"'profile': expected one of"):
        reproduce(tmp_path, profile="huge")


@pytest.mark.usefixtures("run")  # for the tiny profile and its sections
def test_cli_reproduce_no_progress_bar(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["reproduce", "--profile", "tiny", "--out", str(out), "--workers", "1"]
    status = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1  # the broken section still fails
    assert "report: " in captured.out
    assert "trial/s" not in captured.err
    assert "%|" not in captured.err


def test_cli_reproduce_rejects_bad_backend(tmp_path, capsys):
    status = main(["reproduce", "--out", str(tmp_path), "--backend", "spark"])
    assert status == 2
    assert "invalid value for '--backend'" in capsys.readouterr().err


def test_quick_profile_tunes_largest_n_only():
    rows: dict[tuple[int, int], set[float]] = {}
    for trial in PROFILES["quick"].trials():
        if trial.control is None:
            key = (trial.k, trial.size)
            rows.setdefault(key, set()).add(trial.train.learning_rate)
    largest = {k: max(n for kk, n in rows if kk == k) for k, _ in rows}
    for (k, n), rates in rows.items():
        assert len(rates) == (2 if n == largest[k] else 1)
