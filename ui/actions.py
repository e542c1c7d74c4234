"""Actions as data: one helper makes every QAction the same way (labelme habit)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget


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


def find_menu(window: QMainWindow, name: str, title: str) -> QMenu:
    """The window's menu with object name ``name``; added to the menu bar as ``title`` when
    there is none."""
    menu = window.findChild(QMenu, name)
    if menu is None:
        menu = window.menuBar().addMenu(title)
        menu.setObjectName(name)
    return menu


def add_dock_toggle(window: QMainWindow, dock: QDockWidget, object_name: str,
                    text: str | None = None) -> QAction:
    """Put ``dock``'s show/hide action in the View menu with the other docks' (before the
    menu's first separator); returns the action."""
    toggle = dock.toggleViewAction()
    toggle.setObjectName(object_name)
    if text is not None:
        toggle.setText(text)
    view_menu = find_menu(window, "viewMenu", "&View")
    separators = [a for a in view_menu.actions() if a.isSeparator()]
    if separators:
        view_menu.insertAction(separators[0], toggle)
    else:
        view_menu.addAction(toggle)
    return toggle


class CloseWatcher(QObject):
    """Calls ``on_close`` when the window closes (panels installed on a window stop their
    threads this way): on its ``closing`` signal when it has one (the main window emits it
    once a close is sure, after asking about unsaved edits), else on its close event."""

    def __init__(self, window: QMainWindow, on_close: Callable[[], None]) -> None:
        super().__init__(window)
        self._on_close = on_close
        closing = getattr(window, "closing", None)
        if closing is not None:
            closing.connect(on_close)
        else:
            window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Close:
            self._on_close()
        return False
