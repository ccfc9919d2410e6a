"""The SQLite store of trials and their per-evaluation metrics.

One database per run directory. A trial is written in a single transaction with
all of its history rows, so an interrupted run never leaves a half-written trial,
and a trial already present is skipped when the run resumes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    test_nmse REAL,
    diverged_at INTEGER,
    seconds REAL,
    samples_seen INTEGER,
    n_parameters INTEGER,
    member TEXT,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    key TEXT NOT NULL REFERENCES trials(key),
    step INTEGER NOT NULL,
    train_loss REAL,
    test_nmse REAL,
    PRIMARY KEY (key, step)
);
"""


class ResultStore:
    """Trials and per-step metrics in an SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file; created with its tables when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path)
        self._connection.executescript(_SCHEMA)
        self._connection.commit()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, trials={len(self.finished_keys())})"

    def close(self) -> None:
        self._connection.close()

    def finished_keys(self) -> set[str]:
        rows = self._connection.execute("SELECT key FROM trials").fetchall()
        return {key for (key,) in rows}

    def record(self, key: str, spec: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Write one finished trial and its history atomically.

        ``outcome`` has ``status`` ("done" or "diverged"), ``test_nmse``,
        ``diverged_at``, ``seconds``, ``samples_seen``, ``n_parameters``,
        ``member`` and ``history`` (rows with ``step``, ``train_loss``,
        ``test_nmse``).
        """
        with self._connection:
            self._connection.execute(
                "INSERT OR REPLACE INTO trials VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    spec["experiment"],
                    json.dumps(spec, sort_keys=True),
                    outcome["status"],
                    outcome["test_nmse"],
                    outcome["diverged_at"],
                    outcome["seconds"],
                    outcome["samples_seen"],
                    outcome["n_parameters"],
                    json.dumps(outcome["member"]),
                    time.time(),
                ),
            )
            self._connection.execute("DELETE FROM steps WHERE key = ?", (key,))
            self._connection.executemany(
                "INSERT INTO steps VALUES (?,?,?,?)",
                [
                    (key, row["step"], row["train_loss"], row["test_nmse"])
                    for row in outcome["history"]
                ],
            )

    def trials(self) -> list[dict[str, Any]]:
        """Return every trial as a dict: the spec's fields plus the outcome."""
        cursor = self._connection.execute(
            "SELECT key, spec, status, test_nmse, diverged_at, seconds, samples_seen, "
            "n_parameters, member FROM trials ORDER BY rowid"
        )
        rows = []
        for (
            key,
            spec,
            status,
            nmse,
            diverged,
            seconds,
            samples,
            params,
            member,
        ) in cursor:
            row = json.loads(spec)
            row.update(
                key=key,
                status=status,
                test_nmse=nmse,
                diverged_at=diverged,
                seconds=seconds,
                samples_seen=samples,
                n_parameters=params,
                member=json.loads(member),
            )
            rows.append(row)
        return rows

    def history(self, key: str) -> list[dict[str, float]]:
        cursor = self._connection.execute(
            "SELECT step, train_loss, test_nmse FROM steps WHERE key = ? ORDER BY step",
            (key,),
        )
        return [
            {"step": step, "train_loss": loss, "test_nmse": nmse}
            for step, loss, nmse in cursor
        ]
