"""Database engines: a project file path becomes SQLite (WAL, foreign keys, busy
timeout); anything with ``://`` is used as a SQLAlchemy URL (e.g. PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
SERVER_CONNECT_TIMEOUT_S = 10  # override with CORRSTUDIO_DB_CONNECT_TIMEOUT


def is_url(target: str | Path) -> bool:
    """True when ``target`` is a database URL rather than a project file path."""
    return "://" in str(target)


def make_engine(target: str | Path) -> Engine:
    """Engine for a project file path or a database URL."""
    if is_url(target):
        url = make_url(str(target))
        connect_args = {}
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            # a server that accepts the connection but never answers must not hang us
            connect_args["connect_timeout"] = int(os.environ.get(
                "CORRSTUDIO_DB_CONNECT_TIMEOUT", SERVER_CONNECT_TIMEOUT_S))
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    path = Path(target).expanduser().resolve()
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn) -> None:
    """Emit BEGIN ourselves: IMMEDIATE for write transactions (execution option
    ``sqlite_immediate``) so concurrent writers queue on the busy timeout instead of
    failing when a read transaction tries to upgrade to a write."""
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's "begin" event own transactions (pysqlite's implicit BEGIN is
    # deferred and skips DDL); see the SQLAlchemy SQLite dialect notes.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()
