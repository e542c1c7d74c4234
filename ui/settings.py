"""Persistent settings (QSettings, INI format) and the recent-projects list.

Tests and CI redirect the settings folder with ``CORRSTUDIO_SETTINGS_DIR``.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ORGANIZATION = "CorrStudio"
APPLICATION = "CorrStudio"
MAX_RECENT = 8


def configure_settings() -> None:
    """Use INI files, in ``CORRSTUDIO_SETTINGS_DIR`` when that is set."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    folder = os.environ.get("CORRSTUDIO_SETTINGS_DIR")
    if folder:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)


def settings() -> QSettings:
    """The application's settings object."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def recent_projects() -> list[str]:
    """Most recent first."""
    value = settings().value("recentProjects", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])]


def add_recent_project(target: str) -> list[str]:
    """Put ``target`` first in the recent list; returns the new list."""
    items = [target] + [p for p in recent_projects() if p != target]
    items = items[:MAX_RECENT]
    settings().setValue("recentProjects", items)
    return items
