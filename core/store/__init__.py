"""Project storage: SQLAlchemy 2 ORM over SQLite (default) or PostgreSQL.

Public entry point: :class:`core.store.project_store.ProjectStore`.
"""

from core.store.errors import (
    ConflictError,
    NotFound,
    PermissionDenied,
    ProjectError,
    StoreUnavailable,
)
from core.store.project_store import ProjectStore
from core.store.records import (
    CategoryInfo,
    CategorySets,
    KeypointRecord,
    ModelInfo,
    ModelKeypoints,
)

__all__ = [
    "CategoryInfo",
    "CategorySets",
    "ConflictError",
    "NotFound",
    "PermissionDenied",
    "StoreUnavailable",
    "KeypointRecord",
    "ModelInfo",
    "ModelKeypoints",
    "ProjectError",
    "ProjectStore",
]
