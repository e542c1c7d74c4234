"""Which embedding checkpoint a category's suggestions use.

There is no project-wide convention for "the category's checkpoint": the user picks one
(Annotate > Suggestions > Load checkpoint...) and it is remembered per project and
category in the application settings. Without one (or when it cannot be loaded)
suggestions use the engine's xyz fallback; the status bar says which method is active.
"""

from __future__ import annotations

import hashlib

from core.annotation import SuggestionEngine
from core.embedding.checkpoint import CheckpointError, checkpoint_paths, read_sidecar
from core.store import ProjectStore
from ui import settings as app_settings

_GROUP = "suggestions/checkpoint"


def _key(target: str, category: str) -> str:
    digest = hashlib.sha1(f"{target}\n{category}".encode()).hexdigest()[:20]
    return f"{_GROUP}/{digest}"


def checkpoint_for(target: str | None, category: str | None) -> str | None:
    """The checkpoint chosen for a project's category (None: the xyz fallback)."""
    if not target or not category:
        return None
    value = app_settings.settings().value(_key(target, category))
    return str(value) if value else None


def set_checkpoint(target: str, category: str, path: str | None) -> None:
    """Remember ``path`` for the project's category (None: back to the xyz fallback)."""
    s = app_settings.settings()
    if path:
        s.setValue(_key(target, category), str(path))
    else:
        s.remove(_key(target, category))
    s.sync()


def make_engine(store: ProjectStore, category: str,
                checkpoint: str | None) -> tuple[SuggestionEngine, str]:
    """A suggestion engine for the category and a note ("" when all went as asked).

    A checkpoint that cannot be loaded (missing, corrupt, torch absent) falls back to the
    xyz method; the note says why. Runs off the GUI thread (loading a network is slow).
    """
    if checkpoint:
        try:
            weights, _, _ = checkpoint_paths(checkpoint)
            read_sidecar(checkpoint)  # cheap checks first: no torch import for a bad path
            if not weights.is_file():
                raise CheckpointError(f"Checkpoint weights not found: {weights}")
            return SuggestionEngine(store, category, checkpoint), ""
        except Exception as exc:  # CheckpointError, OSError, ImportError: say it, carry on
            note = (f"Checkpoint {checkpoint} not usable ({str(exc).splitlines()[0]}); "
                    "suggestions use positions (xyz)")
            return SuggestionEngine(store, category), note
    return SuggestionEngine(store, category), ""
