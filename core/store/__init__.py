"""Project storage: SQLAlchemy 2 ORM over SQLite (default) or PostgreSQL.

Public entry point: :class:`core.store.project_store.ProjectStore`.
"""

from core.store.errors import ProjectError
from core.store.project_store import ProjectStore
from core.store.records import CategoryInfo, KeypointRecord, ModelInfo, ModelKeypoints

__all__ = [
    "CategoryInfo",
    "KeypointRecord",
    "ModelInfo",
    "ModelKeypoints",
    "ProjectError",
    "ProjectStore",
]
