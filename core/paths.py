"""Where CorrStudio keeps its files.

The user data directory comes from platformdirs (``~/.local/share/CorrStudio`` on
Linux) and can be overridden with the ``CORRSTUDIO_DATA_DIR`` environment
variable (tests and CI point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "CorrStudio"
DEMO_PROJECT_NAME = "demo.corrstudio"


def data_dir() -> Path:
    """The user data directory (not created here)."""
    override = os.environ.get("CORRSTUDIO_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def demo_dir() -> Path:
    """Folder of the bundled demo project (built on first use)."""
    return data_dir() / "demo"


def demo_project_file() -> Path:
    """The demo project's SQLite file."""
    return demo_dir() / DEMO_PROJECT_NAME


def artifacts_dir(project_target: str | Path, category: str) -> Path:
    """Folder for a category's derived files (shape space, image networks, reconstructions)
    of the project ``project_target`` (a project file or a database URL); not created here.

    A project file ``X.corrstudio`` keeps them beside it in ``X.corrstudio.d/<category>/``; a
    database URL under the user data folder, ``artifacts/<sha1 of the URL>/<category>/``.
    """
    import hashlib

    target = str(project_target)
    if "://" in target:
        digest = hashlib.sha1(target.encode("utf-8")).hexdigest()[:16]
        return data_dir() / "artifacts" / digest / category
    path = Path(target).expanduser()
    return path.with_name(path.name + ".d") / category
