"""Actions as data: one helper makes every QAction the same way (labelme habit)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def new_action(parent: QWidget, text: str, slot: Callable | None = None,
               shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
               tip: str | None = None, object_name: str | None = None,
               checkable: bool = False, enabled: bool = True) -> QAction:
    """Create a QAction with text, optional slot, shortcut, status tip and object name."""
    action = QAction(text, parent)
    if slot is not None:
        action.triggered.connect(slot)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    if object_name:
        action.setObjectName(object_name)
    action.setCheckable(checkable)
    action.setEnabled(enabled)
    return action
