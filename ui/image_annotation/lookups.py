"""Store look-ups and writes of the image annotation, as plain functions of their arguments.

Pending edits run them on a worker thread (see :mod:`ui.pending_edits`); they talk to
``core`` only through its public functions.
"""

from __future__ import annotations

from core.store import ProjectStore
from core.store.edits import KeypointEditor
from core.store.errors import ConflictError
from core.store.image_store import delete_image_keypoint, image_keypoints, set_image_keypoint
from core.store.records import ImageKeypointRecord
from ui.image_annotation.records import ImagePoint, ImagePointChange

SetIndex = dict[int, tuple[str, int]]  # set id -> (annotator name, set number)


def set_index(store: ProjectStore, category: str) -> SetIndex:
    """Every correspondence set of ``category``: set id -> (annotator, number)."""
    sets = store.category_sets(category)
    return {int(sid): (name, int(number)) for sid, name, number in
            zip(sets.set_ids, sets.set_annotators, sets.set_numbers, strict=True)}


def annotator_sets(index: SetIndex, annotator: str) -> dict[int, int]:
    """An annotator's set numbers -> set ids, from a :data:`SetIndex`."""
    return {number: sid for sid, (name, number) in index.items() if name == annotator}


def ensure_set(store: ProjectStore, editor: KeypointEditor, category: str, number: int) -> int:
    """Id of the editor's set ``number`` in ``category``, created when missing (as the 3D
    workspace does when a point of a new set is placed)."""
    ids = annotator_sets(set_index(store, category), editor.actor.name)
    if number in ids:
        return ids[number]
    cat_id = next((c.id for c in store.categories() if c.name == category), None)
    if cat_id is None:
        raise ValueError(f"no category {category!r} in the project any more")
    return editor.create_set(cat_id, number)


def image_points(records: list[ImageKeypointRecord], index: SetIndex) -> list[ImagePoint]:
    """Stored points (:func:`~core.store.image_store.image_keypoints`) with their set's
    annotator and number; sets missing from ``index`` are left out."""
    return [ImagePoint(r, *index[int(r.set_id)]) for r in records if int(r.set_id) in index]


def point_of_set(store: ProjectStore, image_id: int,
                 set_id: int) -> ImageKeypointRecord | None:
    """The image's stored point of a set (any state), or None."""
    for record in image_keypoints(store, image_id):
        if int(record.set_id) == int(set_id):
            return record
    return None


def write_point(store: ProjectStore, annotator: str, image_id: int, set_id: int,
                x: float | None, y: float | None, state: str) -> ImagePointChange:
    """Store the set's point as given over whatever is stored now (its version is read
    now); one committed transaction."""
    current = point_of_set(store, image_id, set_id)
    after = set_image_keypoint(store, image_id, set_id, x, y, state, annotator=annotator,
                               expected_version=None if current is None else current.version)
    return ImagePointChange(image_id, set_id, current, after)


def remove_point(store: ProjectStore, annotator: str, image_id: int,
                 set_id: int) -> ImagePointChange | None:
    """Delete the set's point from the image; None when there is none."""
    current = point_of_set(store, image_id, set_id)
    if current is None:
        return None
    delete_image_keypoint(store, current.id, current.version, annotator=annotator)
    return ImagePointChange(image_id, set_id, current, None)


def same_content(a: ImageKeypointRecord | None, b: ImageKeypointRecord | None) -> bool:
    """Both None, or the same set, position and state (ids and versions may differ: undo
    bumps the version, and a deleted point comes back with a new id)."""
    if a is None or b is None:
        return a is b
    return (int(a.set_id), a.x, a.y, str(a.state)) == (int(b.set_id), b.x, b.y, str(b.state))


class ImagePointReverter:
    """Undo/redo of :class:`ImagePointChange` for :class:`ui.undo_commands.ChangeCommand`
    (it calls ``revert_many`` as it does on a :class:`KeypointEditor`).

    Reverting puts ``before`` back over ``after``: the stored point must still hold what
    the change left (its content; the version counter moves on through undo of later
    steps), otherwise it raises :class:`~core.store.errors.ConflictError` and writes
    nothing (a teammate's edit since then is kept). The write itself passes the version
    just read, so an edit slipping in between is refused by the store. Returns the
    inverse change (reverting it redoes the edit).
    """

    def __init__(self, store: ProjectStore, annotator: str) -> None:
        self.store = store
        self.annotator = annotator

    def revert(self, change: ImagePointChange) -> ImagePointChange:
        store, target = self.store, change.before
        current = point_of_set(store, change.image_id, change.set_id)
        if not same_content(current, change.after):
            what = "deleted" if current is None else f"now {current.state}, version " \
                f"{current.version}"
            if change.after is None:
                what = "placed again"
            raise ConflictError(f"Cannot undo or redo: image point of set {change.set_id} was "
                                f"changed by someone else since ({what})", current)
        if target is None:  # undo a placement: delete what it stored
            delete_image_keypoint(store, current.id, current.version, annotator=self.annotator)
            return ImagePointChange(change.image_id, change.set_id, current, None)
        after = set_image_keypoint(store, change.image_id, change.set_id, target.x, target.y,
                                   target.state, annotator=self.annotator,
                                   expected_version=None if current is None else current.version)
        return ImagePointChange(change.image_id, change.set_id, current, after)

    def revert_many(self, changes: list[ImagePointChange]) -> list[ImagePointChange]:
        """Revert changes newest first; returns their inverses in the original order."""
        return [self.revert(c) for c in reversed(changes)][::-1]


__all__ = ["ImagePointReverter", "SetIndex", "annotator_sets", "ensure_set", "image_points",
           "point_of_set", "remove_point", "same_content", "set_index", "write_point"]
