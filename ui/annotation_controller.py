"""Placing, moving, deleting and marking points absent for the current annotator.

Holds the annotation state (annotator, current set number) and turns clicks, marker drags
and keys into committed store edits wrapped in undo commands (one step per click or drag).
Views listen to its signals; it never touches widgets.

Edits go through :class:`~ui.pending_edits.PendingEdits` (``self.writes``), which commits
them in order off the GUI thread:

- an edit resolves itself against the database when it runs (which set row, which
  version) and commits one transaction; normally that happens before the click handler
  returns, and its undo command is pushed at once;
- when the database is unavailable the edit waits in an ordered queue (the banner says
  how many) and is committed when the database is back; only then is its undo command
  pushed. Pending edits are therefore never on the undo stack, and while any edit waits
  Undo and Redo are refused (the history stays as it is) so nothing is undone out of
  order. Points committed before the outage stay as they are;
- while edits wait, the 3D view keeps the last saved state (a dragged marker stays where
  it was dropped), and placing a point still moves on to the next missing set, counting
  the waiting ones as done;
- a waiting edit is applied over whatever the database holds for its point when it runs
  (the version is read then); edits of an annotator or project that is no longer current
  are saved without an undo step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from sqlalchemy import select

from core.geometry.surface import barycentric_on_face
from core.model_scene import ModelScene
from core.store import ModelKeypoints, ProjectStore
from core.store.edits import KeypointChange, KeypointEditor
from core.store.errors import ConflictError, NotFound
from core.store.schema import Annotator, Category, CorrespondenceSet, Keypoint
from ui.error_reporter import ErrorReporter
from ui.pending_edits import Outcome, PendingEdit, PendingEdits
from ui.project_controller import ProjectController
from ui.undo_commands import ChangeCommand

N_SET_KEYS = 16  # sets 0-15 have keys: 1-8 and Q-I


@dataclass(frozen=True)
class _EditInfo:
    """Who made a pending edit, on which model and set, and what kind it is."""

    editor: KeypointEditor
    model_id: int
    number: int  # set number 0..15
    kind: str  # "place" | "absent" | "move" | "delete" | "bulk"


class _NothingThere(NotFound):
    """Delete asked for a point the model does not hold (a status message, no error)."""


class AnnotationController(QObject):
    """The current annotator's edits on the shown model."""

    annotator_changed = Signal(str)
    current_set_changed = Signal(int)  # set number 0..15
    keypoints_changed = Signal(object)  # ModelKeypoints of the shown model
    status = Signal(str)

    def __init__(self, project: ProjectController, errors: ErrorReporter,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.errors = errors
        self.undo_stack = project.undo_stack
        self.editor: KeypointEditor | None = None
        self.scene: ModelScene | None = None
        self.current_set = 0
        self.writes = PendingEdits(self)
        self._shown: ModelKeypoints | None = None  # what the view draws now
        self._last_missing: list[int] = []  # missing_sets() as last read
        self.writes.applied.connect(self._on_applied)
        self.writes.rejected.connect(self._on_rejected)
        self.writes.restored.connect(self._on_restored)
        project.model_loaded.connect(self._on_scene)
        project.project_opened.connect(lambda _t: self.set_annotator(None))

    # ------------------------------------------------------------------ state
    @property
    def store(self) -> ProjectStore | None:
        return self.project.store

    @property
    def annotator(self) -> str | None:
        return self.editor.actor.name if self.editor else None

    def annotators(self) -> list[str]:
        if self.store is None:
            return []
        with self.store.session() as s:
            return list(s.scalars(select(Annotator.name).order_by(Annotator.name)))

    def set_annotator(self, name: str | None, create: bool = False) -> None:
        """Act as ``name`` (created as an annotator when ``create``); None: nobody."""
        if name is None or self.store is None:
            self.editor = None
            self.annotator_changed.emit("")
            return
        try:
            if create:
                self.store.ensure_annotator(name)
            self.editor = KeypointEditor(self.store, name)
        except Exception as exc:
            self.errors.report("Cannot select annotator", str(exc))
            return
        self.undo_stack.clear()
        self.annotator_changed.emit(name)
        self._refresh_keypoints()

    def select_set(self, number: int) -> None:
        if 0 <= number < N_SET_KEYS and number != self.current_set:
            self.current_set = number
            self.current_set_changed.emit(number)

    def select_marker(self, keypoint_id: int, number: int) -> None:
        """A click on a drawn point: make its set current (nothing is placed)."""
        self.select_set(int(number))
        self.status.emit(f"Point {int(number) + 1} selected")

    # ------------------------------------------------------------------ edits
    def place_at(self, face: int, picked_xyz, bary=None, text: str | None = None) -> bool:
        """Place (or move) the current set's point at a picked surface position.

        ``bary``: the barycentric weights on ``face`` when they are known exactly (an
        accepted suggestion); ``picked_xyz`` is then stored as given. ``text``: the undo
        step's name (default "Place point N" / "Move point N").

        Returns True when the point was committed now; False when it failed or waits for
        the database (then it is committed later, see the module notes).
        """
        if not self._ready():
            return False
        if bary is None:
            bary, xyz = barycentric_on_face(self.scene.vertices, self.scene.faces, face,
                                            picked_xyz)
        else:
            bary = tuple(float(w) for w in bary)
            xyz = tuple(float(c) for c in picked_xyz)
        number = self.current_set
        verb = "Move" if self._shown_row(number=number) is not None else "Place"

        def place(editor, store, model_id, set_id) -> KeypointChange:
            current = _row(store, model_id, set_id)
            return editor.place(model_id, set_id, face=face, bary=bary, xyz=xyz,
                                expected_version=current[1] if current else None)

        return self._edit_set(text or f"{verb} point {number + 1}", number, "place", place)

    def mark_absent(self) -> bool:
        """The current set's part is missing on this model."""
        if not self._ready():
            return False

        def absent(editor, store, model_id, set_id) -> KeypointChange:
            current = _row(store, model_id, set_id)
            return editor.mark_absent(model_id, set_id,
                                      expected_version=current[1] if current else None)

        return self._edit_set(f"Mark point {self.current_set + 1} absent", self.current_set,
                              "absent", absent)

    def delete_current(self) -> bool:
        """Remove the current set's point (or absent mark) from this model."""
        if not self._ready():
            return False
        number = self.current_set
        store, editor, model_id = self.store, self.editor, self.scene.info.id
        category = self.scene.info.category

        def run() -> KeypointChange:
            set_id = _set_ids(store, category, editor.actor.id).get(number)
            current = _row(store, model_id, set_id) if set_id is not None else None
            if current is None:
                raise _NothingThere(f"Point {number + 1} is not on this model")
            return editor.delete(current[0], current[1])

        return self._submit(f"Delete point {number + 1}", run, number, "delete") \
            is Outcome.APPLIED

    def apply_changes(self, text: str, run: Callable[[], list[KeypointChange]]) -> bool:
        """Commit an edit made of several changes (a bulk accept) as ONE undo step.

        ``run()`` makes the changes for the current annotator on the shown model and
        returns them (it is called off the GUI thread, like every edit, and must leave
        nothing behind when it fails). Returns True when committed now.
        """
        if not self._ready():
            return False
        return self._submit(text, run, -1, "bulk") is Outcome.APPLIED

    def move_marker(self, keypoint_id: int, face: int, picked_xyz) -> bool:
        """A marker dragged onto ``face`` at ``picked_xyz``: one move, one undo step."""
        if not self._ready():
            self._refresh_keypoints()  # put the dragged marker back
            return False
        bary, xyz = barycentric_on_face(self.scene.vertices, self.scene.faces, face, picked_xyz)
        row = self._shown_row(keypoint_id=keypoint_id)
        number = int(self._shown.numbers[row]) if row is not None else -1
        store, editor, keypoint_id = self.store, self.editor, int(keypoint_id)

        def run() -> KeypointChange:
            return editor.move(keypoint_id, _version(store, keypoint_id), face=face,
                               bary=bary, xyz=xyz)

        label = f"point {number + 1}" if number >= 0 else f"point #{keypoint_id}"
        return self._submit(f"Move {label}", run, number, "move") is Outcome.APPLIED

    # ---------------------------------------------------------------- helpers
    def _ready(self) -> bool:
        if self.editor is None:
            self.errors.report("No annotator", "Choose an annotator first (Annotate menu).")
            return False
        return self.scene is not None and self.store is not None

    def _edit_set(self, text: str, number: int, kind: str,
                  write: Callable[..., KeypointChange]) -> bool:
        """Submit ``write(editor, store, model_id, set_id)`` for set ``number`` (created
        when missing); advance to the next missing set unless it failed."""
        store, editor, model_id = self.store, self.editor, self.scene.info.id
        category = self.scene.info.category

        def run() -> KeypointChange:
            return write(editor, store, model_id, _ensure_set(store, editor, category, number))

        outcome = self._submit(text, run, number, kind)
        if outcome is not Outcome.FAILED:  # (keep the "waiting" message when queued)
            self._advance(announce=outcome is Outcome.APPLIED)
        return outcome is Outcome.APPLIED

    def _submit(self, text: str, run: Callable[[], KeypointChange], number: int,
                kind: str) -> Outcome:
        edit = PendingEdit(text, run, target=self.store.target,
                           context=_EditInfo(self.editor, self.scene.info.id, number, kind))
        return self.writes.submit_and_note(edit, self.status.emit)

    def _on_applied(self, edit: PendingEdit, change: KeypointChange) -> None:
        info = edit.context
        changes = list(change) if isinstance(change, (list, tuple)) else [change]
        if isinstance(info, _EditInfo) and info.editor is self.editor and changes:
            self.undo_stack.push(ChangeCommand(edit.text, info.editor, changes,
                                               self._refresh_keypoints, self._undo_failed,
                                               stack=self.undo_stack,
                                               blocked=self._undo_blocked))
        self._refresh_keypoints()

    def _on_rejected(self, edit: PendingEdit, exc: BaseException) -> None:
        if isinstance(exc, _NothingThere):
            self.status.emit(str(exc))
            return
        self.errors.report(f"{edit.text} failed", str(exc))
        self._refresh_keypoints()

    def _on_restored(self, saved: int) -> None:
        self.status.emit(f"The database is back: {saved} waiting change"
                         f"{'s' if saved != 1 else ''} saved")

    def _undo_blocked(self) -> str | None:
        n = self.writes.count
        if n:
            return (f"{n} change{'s' if n != 1 else ''} still waiting for the database; "
                    "undo and redo resume once they are saved")
        return None

    def _undo_failed(self, exc: BaseException) -> None:
        if self.writes.count:  # refused while edits wait: the banner already says why
            self.status.emit(f"Undo/redo paused: {exc}")
        else:
            self.errors.report("Undo failed", str(exc))

    def _shown_row(self, number: int | None = None, keypoint_id: int | None = None
                   ) -> int | None:
        """Row of the drawn point with set ``number`` or id ``keypoint_id``, or None."""
        kp = self._shown
        if kp is None or not len(kp):
            return None
        column = kp.numbers if keypoint_id is None else kp.keypoint_ids
        value = number if keypoint_id is None else keypoint_id
        rows = [i for i, v in enumerate(column) if int(v) == int(value)]
        return rows[0] if rows else None

    def missing_sets(self) -> list[int]:
        """The annotator's set numbers with nothing (placed or absent) on this model."""
        if self.editor is None or self.scene is None:
            return []
        store, model_id = self.store, self.scene.info.id
        ids = _set_ids(store, self.scene.info.category, self.editor.actor.id)
        self._last_missing = [n for n, sid in sorted(ids.items())
                              if _row(store, model_id, sid) is None]
        return list(self._last_missing)

    def _advance(self, announce: bool = True) -> None:
        """Go to the next missing set of the annotator's convention on this model
        (sets with a waiting edit count as done); ``announce`` when none is left."""
        missing = self._last_missing  # the database is away: use what it said last
        if not self.writes.outage:
            with contextlib.suppress(Exception):
                missing = self.missing_sets()
        waiting = {e.context.number for e in self.writes.pending()
                   if isinstance(e.context, _EditInfo) and e.context.kind in ("place", "absent")
                   and e.context.model_id == self.scene.info.id}
        missing = [n for n in missing if n not in waiting]
        later = [n for n in missing if n > self.current_set]
        if later or missing:
            self.select_set((later or missing)[0])
        elif announce:
            self.status.emit("All of this annotator's points are on this model")

    def _on_scene(self, scene: ModelScene) -> None:
        self.scene = scene  # the view draws it; it then asks for refresh_keypoints()
        self._shown = self.visible_keypoints(scene)

    def visible_keypoints(self, scene: ModelScene) -> ModelKeypoints:
        """The keypoints to draw for ``scene``: the current annotator's, or everyone's."""
        kp = scene.keypoints
        if self.editor is None:
            return kp
        return _subset(kp, [i for i, a in enumerate(kp.annotators)
                            if a == self.editor.actor.name])

    def _refresh_keypoints(self) -> None:
        if self.scene is None or self.store is None:
            return
        try:
            kp = self.store.keypoints_of_model(self.scene.info.id)
        except Exception:  # the database is away: keep the last view
            return
        self._shown = self.visible_keypoints(
            ModelScene(self.scene.info, self.scene.vertices, self.scene.faces, kp))
        self.keypoints_changed.emit(self._shown)


# ------------------------------------------------------------ store look-ups
# Plain functions of their arguments: pending edits call them on a worker thread.
def _set_ids(store: ProjectStore, category: str, annotator_id: int) -> dict[int, int]:
    """An annotator's set numbers -> ids in a category."""
    with store.session() as s:
        rows = s.execute(
            select(CorrespondenceSet.number, CorrespondenceSet.id)
            .join(Category, Category.id == CorrespondenceSet.category_id)
            .where(Category.name == category,
                   CorrespondenceSet.annotator_id == annotator_id)).all()
    return dict(rows)


def _ensure_set(store: ProjectStore, editor: KeypointEditor, category: str,
                number: int) -> int:
    """Id of the editor's set ``number`` in ``category``, created when missing."""
    ids = _set_ids(store, category, editor.actor.id)
    if number in ids:
        return ids[number]
    cat_id = next(c.id for c in store.categories() if c.name == category)
    return editor.create_set(cat_id, number)


def _row(store: ProjectStore, model_id: int, set_id: int) -> tuple[int, int] | None:
    """(keypoint id, version) of a set on a model, or None."""
    with store.session() as s:
        row = s.execute(select(Keypoint.id, Keypoint.version).where(
            Keypoint.model_id == model_id, Keypoint.set_id == set_id)).first()
    return tuple(row) if row else None


def _version(store: ProjectStore, keypoint_id: int) -> int:
    """The stored version of a keypoint (ConflictError when it was deleted)."""
    with store.session() as s:
        version = s.scalar(select(Keypoint.version).where(Keypoint.id == keypoint_id))
    if version is None:
        raise ConflictError(f"Point {keypoint_id} no longer exists (deleted by someone else)")
    return int(version)


def _subset(kp: ModelKeypoints, rows: list[int]) -> ModelKeypoints:
    return ModelKeypoints(kp.keypoint_ids[rows], kp.set_ids[rows], kp.numbers[rows],
                          tuple(kp.annotators[i] for i in rows), kp.faces[rows],
                          kp.bary[rows], kp.xyz[rows], kp.rgb[rows])
