"""User-facing errors: a non-blocking message box, the status bar, and a log.

Bad input never stops the app: callers report and carry on. Messages name the
file and the problem (the engine's exceptions already do).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow, QMessageBox


class ErrorReporter(QObject):
    """Shows errors without blocking the event loop; keeps them for tests and logs."""

    reported = Signal(str, str)  # title, message

    def __init__(self, window: QMainWindow, show_dialogs: bool = True) -> None:
        super().__init__(window)
        self._window = window
        self.show_dialogs = show_dialogs
        self.messages: list[tuple[str, str]] = []
        self._box: QMessageBox | None = None

    def report(self, title: str, message: str) -> None:
        """Record and show an error (window-modal box opened with ``open()``)."""
        self.messages.append((title, message))
        self._window.statusBar().showMessage(f"{title}: {message}", 15000)
        if self.show_dialogs:
            if self._box is not None:
                self._box.close()
            box = QMessageBox(QMessageBox.Icon.Warning, title, message,
                              QMessageBox.StandardButton.Ok, self._window)
            box.setObjectName("errorMessageBox")
            box.open()
            self._box = box
        self.reported.emit(title, message)
