"""Start the Qt application and the main window."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def run_gui(project: str | None = None, select: str | None = None,
            screenshot: Path | None = None, timeout: float = 120.0) -> int:
    """Open the main window; returns the process exit code.

    With ``screenshot`` the window loads ``project`` (the demo by default), shows
    ``select`` (or the first model), saves a PNG of itself and quits: 0 on success,
    2 when the project or model could not be shown, 3 on timeout.
    """
    os.environ.setdefault("QT_API", "pyside6")
    from app.qt_platform import choose_platform

    choose_platform(os.environ)
    from PySide6.QtWidgets import QApplication

    from app.startup import StartupSession
    from ui.main_window import MainWindow
    from ui.settings import APPLICATION, ORGANIZATION, configure_settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    configure_settings()
    window = MainWindow(show_dialogs=screenshot is None)
    session = StartupSession(window, project=project, select=select, screenshot=screenshot,
                             timeout=timeout)
    window.show()
    session.start()
    app.exec()
    return session.exit_code
