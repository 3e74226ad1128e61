"""Ordered, named schema migrations, recorded in ``schema_migrations``.

Append new migrations to ``MIGRATIONS``; never edit or reorder one that has been applied.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            study TEXT,
            architecture TEXT,
            variant TEXT,
            method TEXT,
            train_seed INTEGER,
            checkpoint TEXT,
            checkpoint_hash TEXT,
            clean_accuracy REAL,
            clean_loss REAL,
            n_eval INTEGER,
            config TEXT,
            created_at TEXT
        );
        CREATE INDEX idx_runs_study ON runs(study);

        CREATE TABLE campaigns (
            campaign_id TEXT PRIMARY KEY,
            run_id TEXT REFERENCES runs(run_id),
            fault TEXT,
            sweep_param TEXT,
            campaign_seed INTEGER,
            bn_recalibration INTEGER,
            layers TEXT,
            scope TEXT,
            config TEXT,
            created_at TEXT
        );
        CREATE INDEX idx_campaigns_run ON campaigns(run_id);

        CREATE TABLE trials (
            campaign_id TEXT,
            run_id TEXT,
            fault TEXT,
            rate REAL,
            trial INTEGER,
            layer TEXT NOT NULL DEFAULT '*',
            fault_seed INTEGER,
            accuracy REAL,
            loss REAL,
            seconds REAL,
            n_samples INTEGER,
            correct BLOB,
            created_at TEXT,
            UNIQUE(run_id, fault, rate, trial, layer)
        );
        CREATE INDEX idx_trials_campaign ON trials(campaign_id);
        CREATE INDEX idx_trials_cell ON trials(run_id, fault, layer, rate);
        """,
    ),
    (
        # per-layer sensitivity: the layer's group (stem, depthwise, ..., classifier; '*' for whole-network
        # rows, NULL for per-layer rows stored before groups existed), and equal-count trials (exactly
        # equal_count faulty weights; 0 = a rate campaign) in the unique key
        "0002_layer_group_equal_count",
        """
        CREATE TABLE trials_v2 (
            campaign_id TEXT,
            run_id TEXT,
            fault TEXT,
            rate REAL,
            trial INTEGER,
            layer TEXT NOT NULL DEFAULT '*',
            layer_group TEXT,
            equal_count INTEGER NOT NULL DEFAULT 0,
            fault_seed INTEGER,
            accuracy REAL,
            loss REAL,
            seconds REAL,
            n_samples INTEGER,
            correct BLOB,
            created_at TEXT,
            UNIQUE(run_id, fault, rate, trial, layer, equal_count)
        );
        INSERT INTO trials_v2 (rowid, campaign_id, run_id, fault, rate, trial, layer, layer_group, fault_seed,
                               accuracy, loss, seconds, n_samples, correct, created_at)
            SELECT rowid, campaign_id, run_id, fault, rate, trial, layer, CASE WHEN layer = '*' THEN '*' END,
                   fault_seed, accuracy, loss, seconds, n_samples, correct, created_at FROM trials;
        DROP TABLE trials;
        ALTER TABLE trials_v2 RENAME TO trials;
        CREATE INDEX idx_trials_campaign ON trials(campaign_id);
        CREATE INDEX idx_trials_cell ON trials(run_id, fault, layer, equal_count, rate);
        """,
    ),
    (
        # a metric beyond top-1 accuracy per trial (top-k accuracy, or a user's metric), named per row;
        # NULL in rows stored before metrics existed or without one
        "0003_trial_metric",
        """
        ALTER TABLE trials ADD COLUMN metric_name TEXT;
        ALTER TABLE trials ADD COLUMN metric REAL;
        """,
    ),
    (
        # one run identity for every door: a run is (study, weights hash), so the column says what it holds.
        # Rows stored before keep what identified them then (a checkpoint file hash for --checkpoint, a config
        # hash for sweep runs); the code adopts such a run when it meets its weights again. eval_hash: a hash of
        # the test samples the run's clean accuracy and trials are on (NULL before); evaluation: what those
        # data were (data set, options, subset), JSON. studies: the spec each sweep ran, one row per version.
        "0004_weights_identity_and_studies",
        """
        ALTER TABLE runs RENAME COLUMN checkpoint_hash TO weights_hash;
        ALTER TABLE runs ADD COLUMN eval_hash TEXT;
        ALTER TABLE runs ADD COLUMN evaluation TEXT;
        CREATE INDEX idx_runs_weights ON runs(study, weights_hash);

        CREATE TABLE studies (
            name TEXT NOT NULL,
            spec_hash TEXT NOT NULL,
            spec TEXT NOT NULL,
            created_at TEXT,
            seq INTEGER NOT NULL,
            PRIMARY KEY (name, spec_hash)
        );
        """,
    ),
    (
        # the number of correctly classified test samples per trial, the exact datum accuracy is a fraction of.
        # Filled for stored rows where accuracy * n_samples is within float32 rounding (2^-22 per sample) of an
        # integer, as it is for every row a campaign stored (accuracy = mean of the per-sample mask); else NULL.
        "0005_trial_n_correct",
        """
        ALTER TABLE trials ADD COLUMN n_correct INTEGER;
        UPDATE trials SET n_correct = CAST(ROUND(accuracy * n_samples) AS INTEGER)
            WHERE n_samples > 0 AND accuracy IS NOT NULL
              AND ABS(accuracy * n_samples - ROUND(accuracy * n_samples)) <= n_samples * 2.384185791015625e-07;
        """,
    ),
    (
        # sequential seeds (`faultlab sweep --until-decided`): one row per primary contrast tested at each look of a
        # study, written whole in one transaction; a recorded look is never revised (a resumed sweep replays it).
        # arms: JSON list of [variant, method]; the design's parameters repeated on every row of a look.
        "0006_sequential_looks",
        """
        CREATE TABLE sequential_looks (
            study TEXT NOT NULL,
            look INTEGER NOT NULL,
            runs_per_arm INTEGER NOT NULL,
            contrast TEXT NOT NULL,
            fault TEXT NOT NULL,
            scope TEXT NOT NULL,
            arms TEXT NOT NULL,
            n_runs INTEGER,
            estimate REAL,
            se REAL,
            df REAL,
            statistic REAL,
            efficacy_bound REAL,
            futility_bound REAL,
            equivalence_bound REAL,
            margin REAL,
            decision TEXT NOT NULL,
            reason TEXT,
            first_look INTEGER NOT NULL,
            step INTEGER NOT NULL,
            max_runs INTEGER NOT NULL,
            alpha REAL NOT NULL,
            futility INTEGER NOT NULL,
            power REAL NOT NULL,
            created_at TEXT,
            PRIMARY KEY (study, look, contrast, fault, scope)
        );
        """,
    ),
]


def split_statements(sql: str) -> list[str]:
    """Split a SQL script into complete statements (so they can run inside one transaction)."""
    statements: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:80]!r}")
    return statements


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations already recorded in this database, in application order."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in one ``BEGIN IMMEDIATE`` transaction; return the names applied.

    Safe to call repeatedly and from several processes at once: the write lock serialises them and
    each re-reads what is applied after taking it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = set(applied(conn))
        new: list[str] = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            for stmt in split_statements(sql):
                conn.execute(stmt)
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, now))
            new.append(name)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return new
