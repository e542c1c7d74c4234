"""Closing the window while edits wait for the database.

Edits are committed when made; while the database is unavailable they wait in the windows'
write queues (:class:`ui.pending_edits.PendingEdits`) and are retried. Closing the window
then would lose them, so :func:`confirm_close` says how many are waiting and lets the user
keep the window open (the queue goes on retrying) or close anyway. Without dialogs (the
screenshot mode, tests) it writes the same warning to stderr and closes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from PySide6.QtWidgets import QMessageBox, QWidget

from ui.pending_edits import PendingEdits

CLOSE_BOX_NAME = "unsavedEditsBox"


def waiting_edits(queues: Iterable[PendingEdits | None]) -> int:
    """How many edits the queues still hold (not yet in the database)."""
    return sum(q.count for q in queues if q is not None)


def lost_message(n: int, problem: str) -> str:
    s = "s" if n != 1 else ""
    why = f" ({problem})" if problem else ""
    return (f"{n} change{s} could not be saved yet: the database is unavailable{why}. "
            f"{'They are' if n != 1 else 'It is'} retried while the window stays open; "
            "closing now loses " + ("them." if n != 1 else "it."))


def confirm_close(parent: QWidget, queues: Iterable[PendingEdits | None],
                  ask: bool) -> bool:
    """True when the window may close: nothing waits, the user chose *Close and lose them*,
    or ``ask`` is False (the loss is then reported on stderr). The queues are abandoned
    then (no retry after the window is gone)."""
    queues = [q for q in queues if q is not None]
    n = waiting_edits(queues)
    if n == 0:
        return True
    problem = next((q.problem for q in queues if q.count and q.problem), "")
    text = lost_message(n, problem)
    if not ask:
        print(f"CorrStudio: {text}", file=sys.stderr, flush=True)
        _abandon(queues)
        return True
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes", text,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(CLOSE_BOX_NAME)
    keep = box.addButton("Keep the window open", QMessageBox.ButtonRole.RejectRole)
    box.addButton("Close and lose them", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(keep)
    box.exec()
    if box.clickedButton() is None or box.clickedButton() is keep:
        return False
    _abandon(queues)
    return True


def _abandon(queues: list[PendingEdits]) -> None:
    for q in queues:
        q.abandon()
