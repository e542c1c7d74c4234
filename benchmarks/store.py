"""Project store speed on SQLite and PostgreSQL, each beside a baseline from the same run.

- single-point commit latency: p50/p95 of :meth:`KeypointEditor.place` (one committed
  transaction each, as a click in the viewer does), against a raw driver
  INSERT+COMMIT per row into a similar table (stdlib ``sqlite3`` with the store's PRAGMAs:
  WAL, synchronous=FULL; raw ``psycopg`` for PostgreSQL);
- ``category_sets`` on 100 models x 50 sets with a placed point everywhere, against a
  naive loop calling ``keypoints_of_model`` once per model.

PostgreSQL rows use ``CORRSTUDIO_TEST_PG_URL`` when it is set (a throw-away database
is created there), otherwise a throw-away server started like
``packaging/pg_test_server.sh`` does; without PostgreSQL installed they are skipped with
a note on stderr. More store measurements (e.g. the bundle import of
``benchmarks/store_import.py``) join the table by appending a function
``(workdir, pg_url, repeat) -> list[Row]`` to :data:`PARTS`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.table import Row, median_time

N_COMMITS = 300            # commits timed per repeat
N_WARMUP = 20              # commits before timing starts (connections, caches)
QUERY_MODELS, QUERY_ANNOTATORS, QUERY_NUMBERS = 100, 5, 10   # 100 models x 50 sets
COMMIT_GOAL = "p95 < 10 ms"
QUERY_GOAL = "< 50 ms (SQLite)"

_XYZ = (0.125, -0.25, 0.5)
_BARY = (0.2, 0.3, 0.5)

_RAW_TABLE = """CREATE TABLE raw_keypoint (
    id {pk}, model_id INTEGER NOT NULL, set_id INTEGER NOT NULL,
    state VARCHAR(10) NOT NULL, face_index INTEGER,
    w0 {real}, w1 {real}, w2 {real}, x {real}, y {real}, z {real},
    r INTEGER NOT NULL, g INTEGER NOT NULL, b INTEGER NOT NULL, author_id INTEGER,
    version INTEGER NOT NULL, created_at {ts}, updated_at {ts},
    UNIQUE (model_id, set_id))"""
_RAW_INSERT = ("INSERT INTO raw_keypoint (model_id, set_id, state, face_index, w0, w1, w2, "
               "x, y, z, r, g, b, author_id, version, created_at, updated_at) VALUES "
               "({p}, {p}, 'placed', {p}, {p}, {p}, {p}, {p}, {p}, {p}, 128, 128, 128, 1, 1, "
               "{now}, {now})")


def _ms(seconds: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = sorted(s * 1000.0 for s in seconds)
    return statistics.median(ms), statistics.quantiles(ms, n=20, method="inclusive")[18]


# ------------------------------------------------------------------ PostgreSQL
def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                   key=lambda p: [int(v) if v.isdigit() else v for v in p.parent.name.split(".")])
    return found[-1] if found else None


def _as_postgres(cmd: list[str]) -> None:
    """Run a server command as the postgres user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _postgres(workdir: Path) -> Iterator[str | None]:
    """A SQLAlchemy URL of a fresh, empty PostgreSQL database (None without PostgreSQL)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server_url, stop = os.environ.get("CORRSTUDIO_TEST_PG_URL"), None
    if not server_url:
        pg_bin = _pg_bin()
        if pg_bin is None:
            print("[benchmarks store] PostgreSQL not installed: PostgreSQL rows skipped",
                  file=sys.stderr)
            yield None
            return
        data, port = workdir / "pg", _free_port()
        data.mkdir()
        workdir.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
        _as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=200 "
                "-c fsync=on")
        _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"),
                      "-w", "-o", opts, "start"])
        server_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

        def stop() -> None:
            _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"cs_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
        if stop is not None:
            stop()


# ------------------------------------------------------------- commit latency
def _place_latencies(target: str | Path, n: int) -> list[float]:
    """Seconds per KeypointEditor.place over ``n`` commits (after a warm-up)."""
    from core.store import ProjectStore
    from core.store.edits import KeypointEditor

    n_numbers = 10
    n_models = -(-(n + N_WARMUP) // n_numbers)
    with ProjectStore.create(target) as store:
        cat = store.add_category("bench")
        ann = store.add_annotator("bench")
        models = store.add_models(cat, [dict(name=f"m{i:04d}") for i in range(n_models)])
        sets = list(store.add_sets(ann, cat, [(k, None) for k in range(n_numbers)]).values())
        editor = KeypointEditor(store, "bench")
        pairs = [(m, s) for m in models for s in sets][:n + N_WARMUP]
        times = []
        for i, (m, s) in enumerate(pairs):
            t0 = time.perf_counter()
            editor.place(m, s, i, _BARY, _XYZ)
            times.append(time.perf_counter() - t0)
    return times[N_WARMUP:]


def _raw_sqlite_latencies(path: Path, n: int) -> list[float]:
    conn = sqlite3.connect(str(path), isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000",
                   "synchronous=FULL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(_RAW_TABLE.format(pk="INTEGER PRIMARY KEY", real="FLOAT", ts="DATETIME"))
    sql = _RAW_INSERT.format(p="?", now="CURRENT_TIMESTAMP")
    times = []
    for i in range(n + N_WARMUP):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql, (i, 0, i, *_BARY, *_XYZ))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t0)
    conn.close()
    return times[N_WARMUP:]


def _raw_pg_latencies(url: str, n: int) -> list[float]:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    times = []
    with psycopg.connect(dsn) as conn:
        conn.execute(_RAW_TABLE.format(pk="SERIAL PRIMARY KEY", real="DOUBLE PRECISION",
                                       ts="TIMESTAMP WITH TIME ZONE"))
        conn.commit()
        sql = _RAW_INSERT.format(p="%s", now="now()")
        for i in range(n + N_WARMUP):
            t0 = time.perf_counter()
            conn.execute(sql, (i, 0, i, *_BARY, *_XYZ))
            conn.commit()
            times.append(time.perf_counter() - t0)
    return times[N_WARMUP:]


def commit_latency(workdir: Path, pg_url: str | None, repeat: int) -> list[Row]:
    n = N_COMMITS * max(1, repeat)
    rows = []
    backends = [("SQLite", workdir / "latency.corrstudio",
                 lambda: _raw_sqlite_latencies(workdir / "raw.sqlite", n),
                 "raw sqlite3 INSERT+COMMIT")]
    if pg_url:
        backends.append(("PostgreSQL", pg_url, lambda: _raw_pg_latencies(pg_url, n),
                         "raw psycopg INSERT+COMMIT"))
    for label, target, raw, raw_name in backends:
        p50, p95 = _ms(_place_latencies(target, n))
        b50, b95 = _ms(raw())
        rows += [Row("store", f"single-point commit latency p50 ({label}, {n} commits)", p50,
                     "ms", raw_name, b50, ""),
                 Row("store", f"single-point commit latency p95 ({label}, {n} commits)", p95,
                     "ms", raw_name, b95, COMMIT_GOAL)]
    return rows


# --------------------------------------------------------------- category_sets
def _fill_category(target: str | Path):
    """A project with one category: 100 models, 50 sets, a placed point everywhere."""
    from core.store import KeypointRecord, ProjectStore

    store = ProjectStore.create(target)
    cat = store.add_category("bench")
    models = store.add_models(cat, [dict(name=f"m{i:04d}") for i in range(QUERY_MODELS)])
    sets = []
    for a in range(QUERY_ANNOTATORS):
        ann = store.add_annotator(f"ann{a}")
        sets += store.add_sets(ann, cat, [(k, None) for k in range(QUERY_NUMBERS)]).values()
    store.add_keypoints([KeypointRecord(m, s, i, _BARY, (0.001 * i, 0.002 * j, 0.5))
                         for i, m in enumerate(models) for j, s in enumerate(sets)])
    return store, cat, models


def category_sets_query(workdir: Path, pg_url: str | None, repeat: int) -> list[Row]:
    from core.store.records import PLACED

    rows = []
    targets = [("SQLite", workdir / "query.corrstudio", QUERY_GOAL)]
    if pg_url:
        targets.append(("PostgreSQL", pg_url, ""))
    runs = max(7, 3 * repeat)
    for label, target, goal in targets:
        store, cat, models = _fill_category(target)
        with store:
            result = store.category_sets(cat)  # warm-up, and check what is timed
            n_sets = QUERY_ANNOTATORS * QUERY_NUMBERS
            assert result.state.shape == (QUERY_MODELS, n_sets)
            assert (result.state == PLACED).all()
            t = median_time(lambda s=store, c=cat: s.category_sets(c), runs)
            naive = median_time(
                lambda s=store, ms=models: [s.keypoints_of_model(m) for m in ms], runs)
        rows.append(Row("store", f"category_sets query, {QUERY_MODELS} models x {n_sets} "
                        f"points ({label})", t * 1000.0, "ms",
                        "per-model keypoints_of_model loop", naive * 1000.0, goal))
    return rows


def bundle_import(_workdir: Path, _pg_url: str | None, _repeat: int) -> list[Row]:
    from benchmarks import store_import

    return store_import.run()


PARTS: list[Callable[[Path, str | None, int], list[Row]]] = [
    commit_latency,
    category_sets_query,
    bundle_import,
]


def run(repeat: int = 3) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="corrstudio-bench-store-") as tmp:
        workdir = Path(tmp)
        with _postgres(workdir) as pg_url:
            for part in PARTS:
                part_dir = workdir / part.__name__
                part_dir.mkdir()
                rows += part(part_dir, pg_url, repeat)
                if pg_url:  # every part starts from an empty PostgreSQL database
                    _reset_pg(pg_url)
    return rows


def _reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
