"""Store reliability with real processes and real servers (SQLite and PostgreSQL).

Each test drives child processes (tests/core/store_child.py) that use the store the way
several running copies of the app would:

- kill: a writer is SIGKILLed at random moments; every acknowledged point survives with
  its exact data, nothing half-written appears, and the database opens cleanly;
- load: 8 annotators write 250 points each at the same time without any error;
- conflict: two processes move the same point from the same version; one wins, the
  other gets ConflictError;
- a write waits out another process's lock; an unreachable server fails fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.store import ProjectError, ProjectStore
from core.store.edits import KeypointEditor
from core.store.schema import Keypoint, ProjectInfo
from tests.core import store_child

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(store_child.__file__).resolve()
KILLS = 15
LOAD_PROCS, LOAD_WRITES = 8, 250


class Child:
    """A store_child.py process with its stdout lines read into a queue."""

    def __init__(self, mode: str, cfg: dict) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), mode, json.dumps(cfg)], cwd=REPO, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._stderr: list[str] = []
        self._threads = [threading.Thread(target=self._pump, daemon=True),
                         threading.Thread(target=self._drain_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _drain_stderr(self) -> None:
        self._stderr.extend(self.proc.stderr)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)[-3000:]

    def expect(self, prefix: str, timeout: float = 60.0) -> str:
        """The next line (which must start with ``prefix``)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"child sent nothing for {timeout} s (wanted {prefix!r}); "
                                 f"stderr:\n{self.stderr}") from None
        if line is None:
            self.proc.wait(timeout=10)
            raise AssertionError(f"child exited ({self.proc.returncode}) before {prefix!r}; "
                                 f"output {self.seen[-5:]}; stderr:\n{self.stderr}")
        self.seen.append(line)
        assert line.startswith(prefix), f"child said {line!r}, expected {prefix!r}"
        return line

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 120.0) -> list[str]:
        """Wait for exit; every line the child printed (including ones already read)."""
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=10)
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                break
            self.seen.append(line)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(BrokenPipeError, OSError):
                stream.close()
        return self.seen


def _setup(target, annotators: dict[str, str], n_models: int, n_numbers: int):
    """A project with one category, ``n_models`` models and ``n_numbers`` sets per
    annotator. Returns (model ids, {annotator: {number: set id}})."""
    with ProjectStore.create(target) as store:
        cat = store.add_category("chair")
        models = store.add_models(cat, [dict(name=f"m{i:04d}") for i in range(n_models)])
        sets = {}
        for name, role in annotators.items():
            aid = store.add_annotator(name, role)
            sets[name] = store.add_sets(aid, cat, [(n, None) for n in range(n_numbers)])
    return models, sets


def _plan(rng: random.Random, pairs: list[tuple[int, int]]) -> list[list]:
    """One point per (model, set) with random, exactly representable data."""
    plan = []
    for model_id, set_id in pairs:
        a = rng.random() * 0.6
        b = rng.random() * (1.0 - a) * 0.9
        xyz = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)]
        plan.append([model_id, set_id, rng.randrange(100_000), [a, b, 1.0 - a - b], xyz])
    return plan


def _rows(store) -> dict[tuple[int, int], tuple]:
    """Every keypoint row: (model, set) -> (state, face, [w0 w1 w2], [x y z], version)."""
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT model_id, set_id, state, face_index, w0, w1, w2, x, y, z, version "
            "FROM keypoint")).all()
    out = {}
    for r in rows:
        assert (r[0], r[1]) not in out, f"two rows for model {r[0]}, set {r[1]}"
        out[(r[0], r[1])] = (r[2], r[3], [r[4], r[5], r[6]], [r[7], r[8], r[9]], r[10])
    return out


def _sqlite_integrity(path) -> None:
    conn = sqlite3.connect(str(path))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


# ----------------------------------------------------------------------------- kill
@pytest.mark.slow
def test_killed_writer_loses_no_acknowledged_point(db_target, tmp_path):
    """SIGKILL a writer at random moments (KILLS times); after each kill every ACKed
    point is there exactly, every row is a whole planned point, and the rows are
    exactly a prefix of the plan (at most one committed point was not yet ACKed)."""
    rng = random.Random(20240611)
    models, sets = _setup(db_target, {"alice": "annotator"}, 200, 50)
    plan = _plan(rng, [(m, s) for m in models for s in sets["alice"].values()])
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    planned = {(p[0], p[1]): p for p in plan}
    acked: list[tuple[int, int]] = []
    kills_while_writing = kills_before_ready = committed_not_acked = 0
    t_start = time.perf_counter()
    for k in range(KILLS):
        with ProjectStore.open(db_target) as store:
            start = len(_rows(store))
        child = Child("place", dict(target=str(db_target), actor="alice",
                                    plan_file=str(plan_file), start=start))
        if k % 4 == 3:  # sometimes anywhere: during start-up, opening or writing
            time.sleep(rng.uniform(0.2, 1.2))
        else:
            child.expect("READY")
            time.sleep(rng.uniform(0.0, 0.25))
        child.proc.send_signal(signal.SIGKILL)
        lines = child.finish(timeout=30)
        assert child.proc.returncode == -signal.SIGKILL, (
            f"kill {k}: the child ended on its own ({child.proc.returncode}) - the plan "
            f"is too short or it failed: {lines[-3:]} {child.stderr}")
        new_acks = [tuple(int(v) for v in line.split()[1:]) for line in lines
                    if line.startswith("ACK ")]
        assert not [line for line in lines if line.startswith("ERR")], lines
        kills_while_writing += bool(new_acks)
        kills_before_ready += "READY" not in lines
        acked += new_acks

        if isinstance(db_target, Path):
            _sqlite_integrity(db_target)
        with ProjectStore.open(db_target) as store:
            rows = _rows(store)
            n_placed = store.categories()[0].n_keypoints
        assert n_placed == len(rows)
        for pair in acked:
            assert pair in rows, f"kill {k}: acknowledged point {pair} is missing"
        for pair, (state, face, bary, xyz, version) in rows.items():
            want = planned.get(pair)
            assert want is not None, f"kill {k}: unplanned row {pair}"
            assert (state, face, bary, xyz, version) == ("placed", want[2], want[3], want[4],
                                                         1), f"kill {k}: bad row {pair}"
        assert set(rows) == {(p[0], p[1]) for p in plan[:len(rows)]}, \
            f"kill {k}: the rows are not the points placed in order"
        assert new_acks == [(p[0], p[1]) for p in plan[start:start + len(new_acks)]]
        assert start + len(new_acks) <= len(rows) <= start + len(new_acks) + 1, \
            f"kill {k}: {len(rows)} rows after {start} + {len(new_acks)} acknowledged points"
        committed_not_acked += len(rows) - start - len(new_acks)
    elapsed = time.perf_counter() - t_start
    print(f"kill test: {KILLS} kills, {kills_while_writing} while writing, "
          f"{kills_before_ready} before READY, {len(acked)} acknowledged points, "
          f"{committed_not_acked} committed but killed before the ACK, "
          f"{elapsed:.1f} s")
    assert kills_while_writing >= KILLS // 2, "too few kills landed while points were written"
    assert len(acked) > 0


# ----------------------------------------------------------------------------- load
@pytest.mark.slow
def test_eight_annotators_write_at_once_without_errors(db_target, tmp_path):
    """8 processes x 250 place() by 8 annotators, released together: all 2,000 rows land,
    no caller sees an error, and the writers really overlapped in time."""
    rng = random.Random(7)
    names = {f"ann{i}": "annotator" for i in range(LOAD_PROCS)}
    models, sets = _setup(db_target, names, 25, LOAD_WRITES // 25)
    plans = {}
    for name in names:
        plan = _plan(rng, [(m, s) for m in models for s in sets[name].values()])
        assert len(plan) == LOAD_WRITES
        rng.shuffle(plan)
        plans[name] = plan
        (tmp_path / f"{name}.json").write_text(json.dumps(plan))
    children = {name: Child("place", dict(target=str(db_target), actor=name, wait=True,
                                          plan_file=str(tmp_path / f"{name}.json")))
                for name in names}
    try:
        for child in children.values():
            child.expect("READY")
    except AssertionError:
        for child in children.values():
            child.proc.kill()
            child.finish()
        raise
    t0 = time.perf_counter()
    for child in children.values():  # the barrier: everyone is open and waiting
        child.send("GO")
    spans = []
    for name, child in children.items():
        lines = child.finish(timeout=240)
        errors = [line for line in lines if line.startswith("ERR")]
        assert child.proc.returncode == 0 and not errors, \
            f"{name}: exit {child.proc.returncode}, {errors}; stderr:\n{child.stderr}"
        assert sum(line.startswith("ACK ") for line in lines) == LOAD_WRITES
        done = lines[-1].split()
        assert done[:2] == ["DONE", str(LOAD_WRITES)], lines[-1]
        spans.append(tuple(float(v) for v in done[2:6]))
    elapsed = time.perf_counter() - t0
    # All writers were running at once: none finished before the last one started.
    assert max(go for go, *_ in spans) < min(last for _, _, last, _ in spans)
    slowest = max(s for *_, s in spans)

    with ProjectStore.open(db_target) as store:
        rows = _rows(store)
        with store.engine.connect() as conn:
            authors = dict(conn.execute(text(
                "SELECT a.name, count(*) FROM keypoint k JOIN annotator a "
                "ON a.id = k.author_id GROUP BY a.name")).all())
    assert len(rows) == LOAD_PROCS * LOAD_WRITES
    assert authors == {name: LOAD_WRITES for name in names}
    for plan in plans.values():
        for model_id, set_id, face, bary, xyz in plan:
            assert rows[(model_id, set_id)] == ("placed", face, bary, xyz, 1)
    if isinstance(db_target, Path):
        _sqlite_integrity(db_target)
    print(f"load test: {LOAD_PROCS * LOAD_WRITES} commits by {LOAD_PROCS} processes in "
          f"{elapsed:.1f} s; slowest single place() {slowest:.2f} s")


# ------------------------------------------------------------------------- conflict
@pytest.mark.slow
def test_concurrent_moves_from_same_version_one_wins(db_target):
    """Two processes (the owner and an admin) read a point at version v and move it at
    the same moment, in several rounds: exactly one move commits (v+1, its xyz), the
    other gets ConflictError."""
    models, sets = _setup(db_target, {"alice": "annotator", "adam": "admin"}, 2, 1)
    with ProjectStore.open(db_target) as store:
        alice = KeypointEditor(store, "alice")
        placed = alice.place(models[0], sets["alice"][0], 1, (1.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        moved = alice.move(placed.after.id, 1, 2, (0.0, 1.0, 0.0), (0.5, 0.5, 0.5))
        kp_id, version = placed.after.id, moved.after.version
    assert version == 2
    children = [Child("move", dict(target=str(db_target), actor=actor, keypoint_id=kp_id,
                                   tag=tag)) for tag, actor in enumerate(["alice", "adam"])]
    wins = [0, 0]
    try:
        for child in children:
            child.expect("READY")
        for rnd in range(8):
            for child in children:
                child.send("READ")
            read = [int(child.expect("READ").split()[1]) for child in children]
            assert read == [version, version]
            for child in children:
                child.send(f"GO {rnd}")
            outcomes = [child.expect("") for child in children]
            won = [i for i, line in enumerate(outcomes) if line.startswith("MOVED ")]
            lost = [i for i, line in enumerate(outcomes) if line.startswith("CONFLICT ")]
            assert len(won) == 1 and len(lost) == 1, f"round {rnd}: {outcomes}"
            assert outcomes[won[0]] == f"MOVED {version + 1}"
            with ProjectStore.open(db_target) as store, store.session() as s:
                row = s.scalars(select(Keypoint).where(Keypoint.id == kp_id)).one()
                assert row.version == version + 1
                assert (row.x, row.y, row.z) == store_child.move_xyz(won[0], rnd)
                assert row.face_index == store_child.MOVE_FACE
            wins[won[0]] += 1
            version += 1
        for child in children:
            child.send("QUIT")
    finally:
        for child in children:
            child.finish(timeout=30)
    assert [c.proc.returncode for c in children] == [0, 0]
    print(f"conflict test: wins per process {wins}")


# ---------------------------------------------------------------------- lock, reach
@pytest.mark.slow
def test_write_waits_for_another_process_lock(db_target):
    """Another process holds a write lock for 1 s (SQLite: BEGIN IMMEDIATE; PostgreSQL:
    LOCK TABLE keypoint); a place() issued meanwhile waits, then commits, and the other
    process's write is kept too."""
    models, sets = _setup(db_target, {"alice": "annotator"}, 1, 1)
    hold = 1.0
    with ProjectStore.open(db_target) as store:
        alice = KeypointEditor(store, "alice")
        child = Child("lock", dict(target=str(db_target), seconds=hold))
        try:
            child.expect("LOCKED")
            t0 = time.perf_counter()
            change = alice.place(models[0], sets["alice"][0], 4, (0.5, 0.5, 0.0),
                                 (0.25, -0.75, 1.5))
            waited = time.perf_counter() - t0
        finally:
            lines = child.finish(timeout=30)
        assert child.proc.returncode == 0 and lines[-1] == "RELEASED", (lines, child.stderr)
        assert change.after.version == 1
        # it really waited for the lock (started after LOCKED, so at most `hold` early)
        assert 0.5 * hold < waited < hold + 8.0, waited
        with store.session() as s:
            assert s.scalar(select(ProjectInfo.name)) == "locked-by-child"
        assert _rows(store)[(models[0], sets["alice"][0])] == (
            "placed", 4, [0.5, 0.5, 0.0], [0.25, -0.75, 1.5], 1)
    if isinstance(db_target, Path):
        _sqlite_integrity(db_target)
    print(f"lock test: the write waited {waited:.2f} s for a {hold:.1f} s lock")


def test_unreachable_server_fails_fast_naming_the_url():
    """Nothing listens on 127.0.0.1:1: open() raises ProjectError naming the URL at once."""
    url = "postgresql+psycopg://corrstudio@127.0.0.1:1/corrstudio_unreachable"
    t0 = time.perf_counter()
    with pytest.raises(ProjectError) as info:
        ProjectStore.open(url)
    assert time.perf_counter() - t0 < 15.0
    assert url in str(info.value)


@pytest.mark.slow
def test_silent_server_fails_fast_naming_the_url():
    """A port that accepts connections but never speaks (a hung server, a black-holing
    proxy): open() must still give ProjectError within ~15 s instead of hanging."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        url = f"postgresql+psycopg://corrstudio@127.0.0.1:{srv.getsockname()[1]}/silent"
        code = ("import sys; from core.store import ProjectStore, ProjectError\n"
                "try: ProjectStore.open(sys.argv[1])\n"
                "except ProjectError as e: print(e); sys.exit(3)\n")
        env = {**os.environ, "PYTHONPATH": str(REPO), "CORRSTUDIO_DB_CONNECT_TIMEOUT": "3"}
        try:
            out = subprocess.run([sys.executable, "-c", code, url], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"ProjectStore.open({url!r}) still hung after 15 s")
    assert out.returncode == 3 and url in out.stdout, (out.returncode, out.stdout, out.stderr)
