"""Placing, moving, deleting and marking points absent for the current annotator.

Holds the annotation state (annotator, current set number) and turns clicks and keys
into committed store edits wrapped in undo commands. Views listen to its signals;
it never touches widgets.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.geometry.surface import barycentric_on_face
from core.model_scene import ModelScene
from core.store import ModelKeypoints, ProjectStore
from core.store.edits import KeypointEditor
from ui.error_reporter import ErrorReporter
from ui.project_controller import ProjectController
from ui.undo_commands import ChangeCommand

N_SET_KEYS = 16  # sets 0-15 have keys: 1-8 and Q-I


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
        from sqlalchemy import select

        from core.store.schema import Annotator

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

    # ------------------------------------------------------------------ edits
    def place_at(self, face: int, picked_xyz) -> bool:
        """Place (or move) the current set's point at a picked surface position."""
        if not self._ready():
            return False
        bary, xyz = barycentric_on_face(self.scene.vertices, self.scene.faces, face, picked_xyz)
        set_id = self._ensure_set(self.current_set)
        if set_id is None:
            return False
        current = self._row(set_id)

        def edit():
            return self.editor.place(self.scene.info.id, set_id, face=face, bary=bary, xyz=xyz,
                                     expected_version=current[1] if current else None)

        verb = "Move" if current else "Place"
        if self._apply(f"{verb} point {self.current_set + 1}", edit):
            self._advance()
            return True
        return False

    def mark_absent(self) -> bool:
        """The current set's part is missing on this model."""
        if not self._ready():
            return False
        set_id = self._ensure_set(self.current_set)
        if set_id is None:
            return False
        current = self._row(set_id)
        ok = self._apply(f"Mark point {self.current_set + 1} absent", lambda: (
            self.editor.mark_absent(self.scene.info.id, set_id,
                                    expected_version=current[1] if current else None)))
        if ok:
            self._advance()
        return ok

    def delete_current(self) -> bool:
        """Remove the current set's point (or absent mark) from this model."""
        if not self._ready():
            return False
        set_id = self._set_ids().get(self.current_set)
        current = self._row(set_id) if set_id is not None else None
        if current is None:
            self.status.emit(f"Point {self.current_set + 1} is not on this model")
            return False
        return self._apply(f"Delete point {self.current_set + 1}",
                           lambda: self.editor.delete(current[0], current[1]))

    # ---------------------------------------------------------------- helpers
    def _ready(self) -> bool:
        if self.editor is None:
            self.errors.report("No annotator", "Choose an annotator first (Annotate menu).")
            return False
        return self.scene is not None and self.store is not None

    def _apply(self, text: str, edit) -> bool:
        try:
            change = edit()
        except Exception as exc:  # conflicts, permissions, a lost database: say so
            self.errors.report(f"{text} failed", str(exc))
            self._refresh_keypoints()
            return False
        self.undo_stack.push(ChangeCommand(text, self.editor, [change],
                                           self._refresh_keypoints,
                                           lambda e: self.errors.report("Undo failed", str(e))))
        self._refresh_keypoints()
        return True

    def _set_ids(self) -> dict[int, int]:
        """The annotator's set numbers -> ids in the current category."""
        from sqlalchemy import select

        from core.store.schema import Category, CorrespondenceSet

        with self.store.session() as s:
            rows = s.execute(
                select(CorrespondenceSet.number, CorrespondenceSet.id)
                .join(Category, Category.id == CorrespondenceSet.category_id)
                .where(Category.name == self.scene.info.category,
                       CorrespondenceSet.annotator_id == self.editor.actor.id)).all()
        return dict(rows)

    def _ensure_set(self, number: int) -> int | None:
        ids = self._set_ids()
        if number in ids:
            return ids[number]
        try:
            cat_id = next(c.id for c in self.store.categories()
                          if c.name == self.scene.info.category)
            return self.editor.create_set(cat_id, number)
        except Exception as exc:
            self.errors.report("Cannot create the set", str(exc))
            return None

    def _row(self, set_id: int) -> tuple[int, int] | None:
        """(keypoint id, version) of a set on the shown model, or None."""
        from sqlalchemy import select

        from core.store.schema import Keypoint

        with self.store.session() as s:
            row = s.execute(select(Keypoint.id, Keypoint.version).where(
                Keypoint.model_id == self.scene.info.id, Keypoint.set_id == set_id)).first()
        return tuple(row) if row else None

    def missing_sets(self) -> list[int]:
        """The annotator's set numbers with nothing (placed or absent) on this model."""
        if self.editor is None or self.scene is None:
            return []
        ids = self._set_ids()
        return [n for n, sid in sorted(ids.items()) if self._row(sid) is None]

    def _advance(self) -> None:
        """Go to the next missing set of the annotator's convention on this model."""
        missing = self.missing_sets()
        later = [n for n in missing if n > self.current_set]
        if later or missing:
            self.select_set((later or missing)[0])
        else:
            self.status.emit("All of this annotator's points are on this model")

    def _on_scene(self, scene: ModelScene) -> None:
        self.scene = scene  # the view draws it; it then asks for refresh_keypoints()

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
        kp = self.store.keypoints_of_model(self.scene.info.id)
        self.keypoints_changed.emit(self.visible_keypoints(
            ModelScene(self.scene.info, self.scene.vertices, self.scene.faces, kp)))


def _subset(kp: ModelKeypoints, rows: list[int]) -> ModelKeypoints:
    return ModelKeypoints(kp.keypoint_ids[rows], kp.set_ids[rows], kp.numbers[rows],
                          tuple(kp.annotators[i] for i in rows), kp.faces[rows],
                          kp.bary[rows], kp.xyz[rows], kp.rgb[rows])
