"""Files under the repository's ``resources/`` folder (icons)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def app_icon() -> QIcon:
    """CorrStudio's window icon (an empty icon when the file is missing)."""
    path = RESOURCES / "corrstudio.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
