"""Tests that a sweep survives SIGKILL and Ctrl-C: resumed, nothing lost or doubled.

Each test runs ``python -m symhard.cli sweep`` in a subprocess with two worker
processes. Runtime: about 26 s on a shared 2-core machine at load average 2.5
(47 s at load 10), most of it spent starting Python processes that import torch.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from symhard.cli import main
from symhard.sweep import SweepSpec

pytestmark = pytest.mark.skipif(
    not Path("/proc/self").exists(), reason="reads worker processes from /proc"
)

STEPS = 200
EVAL_EVERY = 50
SPEC = {
    "name": "resume",
    "seeds": 2,
    "learners": ["mlp"],
    "families": {"parity-relu": {"group": "cyclic", "k": 2, "n": [8, 12]}},
    "grid": {"learning_rate": [3e-3, 1e-2], "width": [16], "batch_size": [32]},
    "train": {"steps": STEPS, "test_size": 128, "eval_every": EVAL_EVERY},
}
TIMEOUT = 240


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def start_sweep(spec_path: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "symhard.cli", "sweep", str(spec_path)]
    command += ["--out", str(out), "--workers", "2", "--no-progress"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stored(out: Path) -> dict[str, tuple]:
    """Return each stored trial's status, metric, time and history by key."""
    path = out / "results.sqlite"
    if not path.exists():
        return {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        trials = connection.execute(
            "SELECT key, status, test_nmse, finished_at FROM trials"
        ).fetchall()
        steps = connection.execute(
            "SELECT key, step, train_loss, test_nmse FROM steps ORDER BY key, step"
        ).fetchall()
    except sqlite3.OperationalError:  # the tables are not created yet
        return {}
    finally:
        connection.close()
    history: dict[str, list[tuple]] = {}
    for key, *row in steps:
        history.setdefault(key, []).append(tuple(row))
    return {key: (*row, history.get(key, [])) for key, *row in trials}


def wait_until(condition, process: subprocess.Popen, description: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"the sweep ended before {description}: {process.stderr.read()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting until {description}")
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(part) for part in text.split()]


def is_running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "zombie" not in state and "dead" not in state


def started_keys(out: Path) -> set[str]:
    lines = (out / "trials.log").read_text().splitlines()
    return {line.split()[3] for line in lines if line.split()[2:3] == ["start"]}


def test_sweep_resumes_after_sigkill(spec_path, tmp_path):
    out = tmp_path / "run"
    expected = {trial.key() for trial in SweepSpec.from_dict(SPEC).trials()}
    process = start_sweep(spec_path, out)
    wait_until(lambda: len(stored(out)) >= 2, process, "2 trials were stored")
    workers = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)
    before = stored(out)
    assert 2 <= len(before) < len(expected)

    # The orphaned workers notice that their parent died and exit.
    deadline = time.monotonic() + 30
    while any(map(is_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(is_running, workers))

    status = main(["sweep", str(spec_path), "--out", str(out), "--workers", "1"])
    after = stored(out)
    assert status == 0
    assert set(after) == expected
    for trial_status, _, _, history in after.values():
        assert trial_status == "done"
        assert [row[0] for row in history] == list(
            range(EVAL_EVERY, STEPS + 1, EVAL_EVERY)
        )
    for key, row in before.items():
        assert after[key] == row  # same metric, history and finish time


def test_sweep_stores_running_trials_on_ctrl_c(spec_path, tmp_path):
    out = tmp_path / "run"
    total = len(SweepSpec.from_dict(SPEC).trials())
    process = start_sweep(spec_path, out)

    def some_stored_and_some_running() -> bool:
        done = stored(out)
        log = out / "trials.log"
        return len(done) >= 1 and log.exists() and len(started_keys(out)) > len(done)

    wait_until(some_stored_and_some_running, process, "a trial was running")
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=TIMEOUT)
    after = stored(out)
    assert process.returncode == 130
    assert error.strip().splitlines()[-1] == (
        "symhard: interrupted; finished results are saved"
    )
    assert "Traceback" not in error
    assert started_keys(out) <= set(after)
    assert len(after) < total
    for _, _, _, history in after.values():
        assert len(history) == STEPS // EVAL_EVERY


def test_sweep_skips_stored_trials_on_rerun(spec_path, tmp_path, capsys):
    small = dict(SPEC, seeds=1, grid=dict(SPEC["grid"], learning_rate=[3e-3]))
    small["train"] = dict(SPEC["train"], steps=20, eval_every=10)
    spec_path.write_text(yaml.safe_dump(small))
    out = tmp_path / "run"
    argv = ["sweep", str(spec_path), "--out", str(out), "--workers", "1"]
    assert main(argv + ["--no-progress"]) == 0
    first = stored(out)
    capsys.readouterr()
    assert main(argv + ["--no-progress"]) == 0
    assert "(0 trials run now; 2 done)" in capsys.readouterr().out
    assert stored(out) == first
    assert os.path.getsize(out / "trials.log") > 0
