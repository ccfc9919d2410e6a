"""The SQLite store of trials and their per-evaluation metrics.

One database per run directory. A trial is written in a single transaction with
all of its history rows, so an interrupted run (Ctrl-C, a crash, SIGKILL) never
leaves a half-written trial, and a trial already present is skipped when the run
resumes. Trials that raised an exception (status ``"failed"``) are stored with
their error text and run again on resume.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

# Statuses of a stored trial. "done" and "diverged" are results, so a resumed run
# skips them; "failed" (the trial raised an exception) is run again.
STATUSES = ("done", "diverged", "failed")
FINISHED_STATUSES = ("done", "diverged")

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
    finished_at REAL NOT NULL,
    error TEXT,
    cpu_seconds REAL,
    code_version TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    key TEXT NOT NULL REFERENCES trials(key),
    step INTEGER NOT NULL,
    train_loss REAL,
    test_nmse REAL,
    PRIMARY KEY (key, step)
);
"""

_COLUMNS = (
    "key",
    "experiment",
    "spec",
    "status",
    "test_nmse",
    "diverged_at",
    "seconds",
    "samples_seen",
    "n_parameters",
    "member",
    "finished_at",
    "error",
    "cpu_seconds",
    "code_version",
)
# Columns added after the first release, with their types, for older databases.
_ADDED_COLUMNS = {"error": "TEXT", "cpu_seconds": "REAL", "code_version": "TEXT"}


class ResultStore:
    """Trials and per-step metrics in an SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file; created with its tables when missing. A database
        written before the ``error`` and ``cpu_seconds`` columns existed gets them
        added.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=60)
        self._connection.executescript(_SCHEMA)
        columns = {
            row[1] for row in self._connection.execute("PRAGMA table_info(trials)")
        }
        for name, kind in _ADDED_COLUMNS.items():
            if name not in columns:
                self._connection.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")
        self._connection.commit()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, trials={self.count()})"

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()

    def count(self) -> int:
        """Return the number of stored trials, failed ones included."""
        return self._connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]

    def finished_keys(self) -> set[str]:
        """Return the keys of trials with a result ("done" or "diverged").

        A resumed run skips these; failed trials are not among them, so they run
        again.
        """
        rows = self._connection.execute(
            "SELECT key FROM trials WHERE status IN (?, ?)", FINISHED_STATUSES
        ).fetchall()
        return {key for (key,) in rows}

    def record(self, key: str, spec: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Write one trial and its history atomically, replacing an earlier row.

        ``outcome`` has ``status`` (one of ``STATUSES``), ``test_nmse``,
        ``diverged_at``, ``seconds``, ``samples_seen``, ``n_parameters``,
        ``member``, ``history`` (rows with ``step``, ``train_loss``,
        ``test_nmse``), optionally ``cpu_seconds`` (process CPU time of the
        trial), ``code_version`` (the symhard version it ran under) and, for a
        failed trial, ``error`` (the traceback text).
        """
        with self._connection:
            self._connection.execute(
                f"INSERT OR REPLACE INTO trials ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
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
                    outcome.get("error"),
                    outcome.get("cpu_seconds"),
                    outcome.get("code_version"),
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

    def trials(self, keys: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Return stored trials as dicts: the spec's fields plus the outcome.

        Parameters
        ----------
        keys : collection of str or None, default=None
            Return only these trials (in storage order); None returns every trial.
        """
        cursor = self._connection.execute(
            "SELECT key, spec, status, test_nmse, diverged_at, seconds, samples_seen, "
            "n_parameters, member, error, cpu_seconds, code_version FROM trials "
            "ORDER BY rowid"
        )
        wanted = None if keys is None else set(keys)
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
            error,
            cpu_seconds,
            version,
        ) in cursor:
            if wanted is not None and key not in wanted:
                continue
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
                error=error,
                cpu_seconds=cpu_seconds,
                code_version=version,
            )
            rows.append(row)
        return rows

    def history(self, key: str) -> list[dict[str, float]]:
        """Return the evaluation rows of trial ``key``, by step."""
        cursor = self._connection.execute(
            "SELECT step, train_loss, test_nmse FROM steps WHERE key = ? ORDER BY step",
            (key,),
        )
        return [
            {"step": step, "train_loss": loss, "test_nmse": nmse}
            for step, loss, nmse in cursor
        ]

    def histories(
        self, keys: Collection[str] | None = None
    ) -> dict[str, list[dict[str, float]]]:
        """Return the evaluation rows of many trials in one query, by key."""
        wanted = None if keys is None else set(keys)
        result: dict[str, list[dict[str, float]]] = {}
        cursor = self._connection.execute(
            "SELECT key, step, train_loss, test_nmse FROM steps ORDER BY key, step"
        )
        for key, step, loss, nmse in cursor:
            if wanted is not None and key not in wanted:
                continue
            result.setdefault(key, []).append(
                {"step": step, "train_loss": loss, "test_nmse": nmse}
            )
        return result
