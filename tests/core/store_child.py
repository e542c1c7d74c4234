"""A separate process that uses a project store, for the reliability tests.

Run as ``python tests/core/store_child.py MODE CONFIG_JSON`` with ``PYTHONPATH`` set to
the repository root. It talks to its parent through line-oriented stdin/stdout and
flushes every line, so the parent knows exactly what was acknowledged before it kills
the process.

Modes (CONFIG_JSON is a JSON object):

``place``  {"target", "actor", "plan_file", "start"=0, "wait"=false}
    Opens the project, prints ``READY``; with ``wait`` blocks until a line ``GO`` arrives
    on stdin (a start barrier). Then places the points of the plan (a JSON list of
    ``[model_id, set_id, face, [w0, w1, w2], [x, y, z]]``) from index ``start`` on, one
    committed :meth:`KeypointEditor.place` each, printing ``ACK <model_id> <set_id>``
    after each commit. Ends with ``DONE <count> <t_start> <t_first_commit>
    <t_last_commit> <slowest_place>`` (``time.time()`` stamps; ``t_start`` is when writing
    began; the slowest single place() in seconds) and exit status 0, or
    ``ERR <type>: <message>`` and exit status 1.

``move``   {"target", "actor", "keypoint_id", "tag"}
    A loop on stdin commands: ``READ`` prints ``READ <version>`` of the keypoint;
    ``GO <round>`` moves it from the version last read to a position derived from
    ``tag`` and ``round`` (see :func:`move_xyz`) and prints ``MOVED <new version>`` or
    ``CONFLICT <message>``; ``QUIT`` exits 0.

``lock``   {"target", "seconds"}
    Holds a write lock on the project from another client for ``seconds``: SQLite through
    the stdlib ``sqlite3`` module (``BEGIN IMMEDIATE``), PostgreSQL through SQLAlchemy
    (``LOCK TABLE keypoint``). Prints ``LOCKED`` once the lock is held, renames the
    project to ``locked-by-child`` inside the same transaction, commits after the delay and
    prints ``RELEASED``.
"""

from __future__ import annotations

import json
import sys
import time

MOVE_FACE = 3
MOVE_BARY = (0.25, 0.25, 0.5)


def move_xyz(tag: int, round_: int) -> tuple[float, float, float]:
    """Where the child tagged ``tag`` moves the point in round ``round_``."""
    return (0.1 + tag, 0.01 * round_ + 0.001, -0.5 - tag * 0.25 - round_ * 1e-3)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _place(cfg: dict) -> int:
    from core.store import ProjectStore
    from core.store.edits import KeypointEditor

    with open(cfg["plan_file"]) as fh:
        plan = json.load(fh)
    store = ProjectStore.open(cfg["target"])
    editor = KeypointEditor(store, cfg["actor"])
    say("READY")
    if cfg.get("wait"):
        line = sys.stdin.readline()
        if line.strip() != "GO":
            say(f"ERR barrier: expected GO, got {line!r}")
            return 1
    count, t_first, t_last, t_go, slowest = 0, 0.0, 0.0, time.time(), 0.0
    try:
        for model_id, set_id, face, bary, xyz in plan[cfg.get("start", 0):]:
            t0 = time.time()
            editor.place(model_id, set_id, face, tuple(bary), tuple(xyz))
            t_last = time.time()
            slowest = max(slowest, t_last - t0)
            t_first = t_first or t_last
            count += 1
            say(f"ACK {model_id} {set_id}")
    except Exception as exc:  # every error must reach the parent, with its type
        say(f"ERR {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return 1
    finally:
        store.close()
    say(f"DONE {count} {t_go:.6f} {t_first:.6f} {t_last:.6f} {slowest:.6f}")
    return 0


def _move(cfg: dict) -> int:
    from sqlalchemy import select

    from core.store import ConflictError, ProjectStore
    from core.store.edits import KeypointEditor
    from core.store.schema import Keypoint

    store = ProjectStore.open(cfg["target"])
    editor = KeypointEditor(store, cfg["actor"])
    kp_id, version = int(cfg["keypoint_id"]), None
    say("READY")
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "READ":
            with store.session() as s:
                version = s.scalar(select(Keypoint.version).where(Keypoint.id == kp_id))
            say(f"READ {version}")
        elif cmd[0] == "GO":
            try:
                change = editor.move(kp_id, version, MOVE_FACE, MOVE_BARY,
                                     move_xyz(cfg["tag"], int(cmd[1])))
            except ConflictError as exc:
                say(f"CONFLICT {str(exc).splitlines()[0]}")
            except Exception as exc:
                say(f"ERR {type(exc).__name__}: {exc}")
                return 1
            else:
                say(f"MOVED {change.after.version}")
        elif cmd[0] == "QUIT":
            break
    store.close()
    return 0


def _lock(cfg: dict) -> int:
    target, seconds = cfg["target"], float(cfg["seconds"])
    if "://" not in target:
        import sqlite3

        conn = sqlite3.connect(target, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE project SET name = 'locked-by-child'")
        say("LOCKED")
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(target)
        with engine.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE keypoint IN ACCESS EXCLUSIVE MODE"))
            conn.execute(text("UPDATE project SET name = 'locked-by-child'"))
            say("LOCKED")
            time.sleep(seconds)
        engine.dispose()
    say("RELEASED")
    return 0


MODES = {"place": _place, "move": _move, "lock": _lock}


def main(argv: list[str]) -> int:
    mode, cfg = argv[0], json.loads(argv[1])
    return MODES[mode](cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
