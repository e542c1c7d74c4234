"""Closing with edits that wait for a locked database (ui.close_guard): without dialogs the
loss is said on stderr and the queue is abandoned, so nothing is written after the close."""

from __future__ import annotations

import sqlite3

from sqlalchemy import create_engine, text

from ui.close_guard import confirm_close, waiting_edits
from ui.pending_edits import Outcome, PendingEdit, PendingEdits


def _count(path) -> int:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        conn.close()


def test_closing_without_dialogs_abandons_the_waiting_edits(qtbot, tmp_path, capsys):
    path = tmp_path / "project.db"
    setup = sqlite3.connect(str(path))
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.commit()
    setup.close()
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))

    edits = PendingEdits(sync_wait_s=2.0, retry_delays_s=(0.2,))
    assert confirm_close(None, [edits], ask=False)  # nothing waits: closes, says nothing
    assert capsys.readouterr().err == ""

    locker = sqlite3.connect(str(path), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # a teammate's long import holds the database
    try:
        outcome = edits.submit(PendingEdit("Place point 1", write, target=str(path)))
        assert outcome is Outcome.QUEUED and edits.outage
        assert waiting_edits([edits, None]) == 1
        assert confirm_close(None, [edits], ask=False)
        assert "1 change could not be saved yet" in capsys.readouterr().err
        assert edits.count == 0 and not edits.outage
    finally:
        locker.execute("ROLLBACK")  # the database is back
        locker.close()
    qtbot.wait(700)  # past the retry delay: the abandoned edit is not tried again
    assert _count(path) == 0
    engine.dispose()
