"""QUndoCommands around the store's undoable changes.

An edit is made (and committed) first; the command then records its
:class:`~core.store.edits.KeypointChange`. Undo reverts it through the editor, which
returns the inverse change that redo reverts in turn, so the database is always the
source of truth and every step is its own committed transaction.

When the database does not take a step (it is unavailable, or ``blocked`` says edits are
still waiting to be saved), the command stays on the stack unchanged: the stack's index
is put back right after the refused step, so the history keeps matching the database and
the step can be undone later. A conflict (someone changed the point since) makes the
command obsolete instead: Qt drops it from the history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QTimer
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.store.edits import KeypointChange, KeypointEditor
from core.store.errors import StoreUnavailable


class ChangeCommand(QUndoCommand):
    """One or several already-applied keypoint changes, undone and redone together."""

    def __init__(self, text: str, editor: KeypointEditor, changes: Sequence[KeypointChange],
                 on_change: Callable[[], None], on_error: Callable[[BaseException], None],
                 stack: QUndoStack | None = None,
                 blocked: Callable[[], str | None] | None = None) -> None:
        super().__init__(text)
        self._editor = editor
        self._changes = list(changes)
        self._on_change = on_change
        self._on_error = on_error
        self._stack = stack
        self._blocked = blocked
        self._applied = True  # the edit happened before the command was pushed

    def undo(self) -> None:
        if self._applied:
            self._flip()

    def redo(self) -> None:
        if not self._applied:  # first push: already done
            self._flip()

    def _flip(self) -> None:
        reason = self._blocked() if self._blocked is not None else None
        if reason:
            self._refused(StoreUnavailable(reason))
            return
        try:
            self._changes = self._editor.revert_many(self._changes)
        except StoreUnavailable as exc:  # nothing was written: keep the step for later
            self._refused(exc)
            return
        except Exception as exc:  # a conflict: say so, drop the step from the history
            self.setObsolete(True)
            self._on_error(exc)
            return
        self._applied = not self._applied
        self._on_change()

    def _refused(self, exc: StoreUnavailable) -> None:
        """Put the stack's index back once it has moved (this step did not happen)."""
        if self._stack is None:
            self.setObsolete(True)
        else:  # undo/redo are no-ops for a command already in that state
            QTimer.singleShot(0, self._stack.redo if self._applied else self._stack.undo)
        self._on_error(exc)
