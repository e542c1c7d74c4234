"""QUndoCommands around the store's undoable changes.

An edit is made (and committed) first; the command then records its
:class:`~core.store.edits.KeypointChange`. Undo reverts it through the editor, which
returns the inverse change that redo reverts in turn, so the database is always the
source of truth and every step is its own committed transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QUndoCommand

from core.store.edits import KeypointChange, KeypointEditor


class ChangeCommand(QUndoCommand):
    """One or several already-applied keypoint changes, undone and redone together."""

    def __init__(self, text: str, editor: KeypointEditor, changes: Sequence[KeypointChange],
                 on_change: Callable[[], None], on_error: Callable[[BaseException], None]):
        super().__init__(text)
        self._editor = editor
        self._changes = list(changes)
        self._on_change = on_change
        self._on_error = on_error
        self._applied = True  # the edit happened before the command was pushed

    def undo(self) -> None:
        self._flip()

    def redo(self) -> None:
        if self._applied:
            return  # first push: already done
        self._flip()

    def _flip(self) -> None:
        try:
            self._changes = self._editor.revert_many(self._changes)
        except Exception as exc:  # a conflict or a lost connection: say so, keep the stack
            self.setObsolete(True)
            self._on_error(exc)
            return
        self._applied = not self._applied
        self._on_change()
