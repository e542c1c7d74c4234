"""Accept suggestions as placed points: one suggestion (Enter) or a whole model at once.

The returned changes form one undo step: ``editor.revert_many(changes)`` undoes them
all in one transaction (and returns the changes that redo them). Accepting is all or
nothing: when one placement fails (a teammate's conflicting edit, a set the editor may
not change), the ones already made are reverted before the error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.annotation.suggestions import Suggestion
from core.store import CategorySets
from core.store.edits import KeypointChange, KeypointEditor
from core.store.records import MISSING

__all__ = ["accept_suggestions"]


def accept_suggestions(editor: KeypointEditor, suggestions: Iterable[Suggestion],
                       sets: CategorySets | None = None,
                       rgb: tuple[int, int, int] = (128, 128, 128)) -> list[KeypointChange]:
    """Place each suggested point for the editor's annotator.

    Args:
        editor: acts for the annotator who owns the sets.
        suggestions: what to accept.
        sets: the category's sets as the suggestions were made from (their row versions
            let a suggestion replace an existing point or absent marker; without them only
            missing points can be accepted).
        rgb: color stored with the points.
    Returns:
        The changes, in order (pass them to ``editor.revert_many`` to undo as one step).
    Raises:
        ConflictError, PermissionDenied: from the store; nothing stays placed.
    """
    where = {}
    if sets is not None:
        where = {(int(m), int(s)): (i, j) for i, m in enumerate(sets.model_ids)
                 for j, s in enumerate(sets.set_ids)}
    changes: list[KeypointChange] = []
    try:
        for sug in suggestions:
            version = None
            if (sug.model_id, sug.set_id) in where:
                i, j = where[(sug.model_id, sug.set_id)]
                version = None if sets.state[i, j] == MISSING else int(sets.versions[i, j])
            changes.append(editor.place(sug.model_id, sug.set_id, sug.face, sug.bary, sug.xyz,
                                        rgb, expected_version=version))
    except Exception:
        if changes:
            editor.revert_many(changes)
        raise
    return changes
