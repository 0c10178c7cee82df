"""Records files as older versions wrote them, for the tests that read or upgrade them."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def unindex_measures(path: Path) -> None:
    """Rewrite a records file (or delta) as written before the measures had columns and tags (user_version 2)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        CREATE TABLE plain (n INTEGER PRIMARY KEY, data BLOB NOT NULL);
        INSERT INTO plain SELECT n, data FROM measures;
        DROP TABLE measures; DROP TABLE measure_tags;
        ALTER TABLE plain RENAME TO measures;
    """)
    if conn.execute("PRAGMA user_version").fetchone()[0]:
        conn.execute("PRAGMA user_version = 2")
    conn.close()
