"""Placing, moving, re-stating and deleting the current annotator's points on an image.

Mirrors :class:`ui.annotation_controller.AnnotationController` (the 3D workspace), whose
annotator and current set number it shares: the sets are the annotator's sets of the
image's category (a set is created when its first point is placed, as in 3D).

Every edit is committed when it is made, through a
:class:`~ui.pending_edits.PendingEdits` queue (off the GUI thread, in order, waiting
through a lost database); once committed its undo step is pushed on the project's
``undo_stack`` (the one Edit > Undo drives) as a :class:`~ui.undo_commands.ChangeCommand`
whose reverter is an :class:`~ui.image_annotation.lookups.ImagePointReverter`. The drawn
points then follow the stored row the edit returned (read in the write's worker thread, not
again on the GUI thread). A conflict or another store error is reported through the
:class:`~ui.error_reporter.ErrorReporter` and the drawn points are re-read, so what is
shown is what is stored.

The controller never touches widgets: views listen to its signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.store import ProjectStore
from core.store.edits import KeypointEditor
from core.store.errors import ConflictError
from core.store.image_store import get_image, image_info, image_keypoints
from core.store.records import ImageInfo
from ui.annotation_controller import AnnotationController
from ui.error_reporter import ErrorReporter
from ui.image_annotation.lookups import (
    ImagePointReverter,
    SetIndex,
    annotator_sets,
    ensure_set,
    image_points,
    point_of_set,
    remove_point,
    set_index,
    write_point,
)
from ui.image_annotation.records import ABSENT, STATES, VISIBLE, ImagePoint, ImagePointChange
from ui.pending_edits import Outcome, PendingEdit, PendingEdits
from ui.project_controller import ProjectController
from ui.undo_commands import ChangeCommand
from ui.workers import start_kept

OPEN_FIRST = "Open a project image first (Annotate > Image points > Open image)"


@dataclass(frozen=True)
class _EditInfo:
    """Who made a pending 2D edit, on which image and set number, and what kind it is."""

    editor: KeypointEditor
    image_id: int
    number: int  # set number 0..15, -1 when unknown
    kind: str  # "place" | "move" | "state" | "delete"


class Skipped(Exception):  # noqa: N818 (a status message, not an error)
    """An edit that has nothing to do (a status message, no error box)."""


class ImageAnnotationController(QObject):
    """The current annotator's 2D points on the project image shown in the Image dock."""

    image_loaded = Signal(object, object)  # ImageInfo, (H, W, 3) uint8 pixels: show them
    image_changed = Signal(object)  # ImageInfo, or None when no project image is shown
    points_changed = Signal(object)  # list[ImagePoint] drawn (the annotator's, or everyone's)
    status = Signal(str)

    def __init__(self, project: ProjectController, annotation: AnnotationController,
                 errors: ErrorReporter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.annotation = annotation
        self.errors = errors
        self.undo_stack = project.undo_stack
        self.writes = PendingEdits(self)
        self.image: ImageInfo | None = None
        self.points: list[ImagePoint] = []  # drawn: the annotator's (everyone's without one)
        self._stored: list[ImagePoint] = []  # the image's points, every annotator's
        self._index: SetIndex = {}
        self._index_key: tuple[str, str] | None = None  # (project target, category)
        self._workers: list = []
        self._load_serial = 0  # counts open_image requests: only the latest one is shown
        self._closed = False
        self.writes.applied.connect(self._on_applied)
        self.writes.rejected.connect(self._on_rejected)
        self.writes.restored.connect(lambda n: self.status.emit(
            f"The database is back: {n} waiting image change{'s' if n != 1 else ''} saved"))
        project.project_opened.connect(lambda _t: self.set_image(None))
        annotation.annotator_changed.connect(lambda _n: self.refresh())

    # ------------------------------------------------------------------ state
    @property
    def store(self) -> ProjectStore | None:
        return self.project.store

    @property
    def current_set(self) -> int:
        return self.annotation.current_set

    def point_of_number(self, number: int) -> ImagePoint | None:
        """The drawn (or listed, when absent) point of set ``number``, or None."""
        return next((p for p in self.points if p.number == int(number)), None)

    def point_of_set_id(self, set_id: int) -> ImagePoint | None:
        return next((p for p in self.points if p.set_id == int(set_id)), None)

    # ----------------------------------------------------------------- images
    def open_image(self, image_id: int) -> None:
        """Read a project image off the GUI thread; ``image_loaded`` then asks the view to
        show it (which calls :meth:`set_image`)."""
        store = self.store
        if store is None:
            self.status.emit("Open a project first")
            return

        def load() -> tuple[ImageInfo, np.ndarray]:
            return image_info(store, image_id), get_image(store, image_id)

        self._load_serial += 1
        serial = self._load_serial

        def current() -> bool:  # the latest request, of this project, window not closed
            return not self._closed and serial == self._load_serial and store is self.store

        def done(result) -> None:
            if current():
                self.image_loaded.emit(*result)

        def failed(exc: BaseException) -> None:
            if current():
                self.errors.report("Cannot open image", str(exc))

        self.status.emit("Loading image ...")
        start_kept(self._workers, load, on_done=done, on_error=failed)

    def set_image(self, info: ImageInfo | None) -> None:
        """The image now shown (None: the view shows something else)."""
        if info is None and self.image is None:
            return
        self.image = info
        self._index_key = None  # the category's sets are read again with the image's points
        self.image_changed.emit(info)
        self.refresh()
        if info is not None:
            self.status.emit(f"Image {info.name} ({info.category}): click to place point "
                             f"{self.current_set + 1}")

    # ------------------------------------------------------------------ edits
    def place_at(self, x: float, y: float) -> bool:
        """Place (or re-place) the current set's point at pixel ``(x, y)``, visible; then
        go to the annotator's next set with nothing on this image. True when committed."""
        if not self._ready():
            return False
        store, editor, image = self.store, self.annotation.editor, self.image
        number, x, y = self.current_set, float(x), float(y)
        shown = self.point_of_number(number)
        verb = "Move" if shown is not None and shown.xy is not None else "Place"

        def run() -> ImagePointChange:
            set_id = ensure_set(store, editor, image.category, number)
            return write_point(store, editor.actor.name, image.id, set_id, x, y, VISIBLE)

        outcome = self._submit(f"{verb} image point {number + 1}", run, number, "place")
        if outcome is not Outcome.FAILED:
            self._advance(announce=outcome is Outcome.APPLIED)
        return outcome is Outcome.APPLIED

    def move_point(self, set_id: int, x: float, y: float) -> bool:
        """A dragged point dropped at ``(x, y)``: one move, one undo step (an occluded
        point stays occluded)."""
        if not self._ready():
            self.refresh()  # put the dragged marker back
            return False
        store, editor, image = self.store, self.annotation.editor, self.image
        shown = self.point_of_set_id(set_id)
        number = shown.number if shown is not None else -1
        x, y, set_id = float(x), float(y), int(set_id)

        def run() -> ImagePointChange:
            current = point_of_set(store, image.id, set_id)
            if current is None:
                raise ConflictError("The point no longer exists (someone else deleted it)")
            state = VISIBLE if current.state == ABSENT else current.state
            return write_point(store, editor.actor.name, image.id, set_id, x, y, state)

        label = f"image point {number + 1}" if number >= 0 else "image point"
        return self._submit(f"Move {label}", run, number, "move") is Outcome.APPLIED

    def set_state(self, state: str) -> bool:
        """Mark the current set's point ``visible``, ``occluded`` or ``absent`` (absent
        drops its position; visible and occluded need a placed point)."""
        if state not in STATES:
            raise ValueError(f"a point's state is one of {STATES} (got {state!r})")
        if not self._ready():
            return False
        store, editor, image = self.store, self.annotation.editor, self.image
        number = self.current_set

        def run() -> ImagePointChange:
            if state == ABSENT:
                set_id = ensure_set(store, editor, image.category, number)
            else:
                set_id = annotator_sets(set_index(store, image.category),
                                        editor.actor.name).get(number)
            current = point_of_set(store, image.id, set_id) if set_id is not None else None
            if current is not None and current.state == state:
                raise Skipped(f"Image point {number + 1} is already {state}")
            if state == ABSENT:
                return write_point(store, editor.actor.name, image.id, set_id, None, None,
                                   ABSENT)
            if current is None or current.x is None or current.y is None:
                raise Skipped(f"Image point {number + 1} has no position on this image: "
                              "click the image to place it")
            return write_point(store, editor.actor.name, image.id, set_id, current.x,
                               current.y, state)

        outcome = self._submit(f"Mark image point {number + 1} {state}", run, number, "state")
        if outcome is Outcome.APPLIED and state == ABSENT:
            self._advance()
        return outcome is Outcome.APPLIED

    def delete_current(self) -> bool:
        """Remove the current set's point (or absent mark) from the image."""
        if not self._ready():
            return False
        store, editor, image = self.store, self.annotation.editor, self.image
        number = self.current_set

        def run() -> ImagePointChange:
            set_id = annotator_sets(set_index(store, image.category),
                                    editor.actor.name).get(number)
            change = remove_point(store, editor.actor.name, image.id, set_id) \
                if set_id is not None else None
            if change is None:
                raise Skipped(f"Image point {number + 1} is not on this image")
            return change

        return self._submit(f"Delete image point {number + 1}", run, number,
                            "delete") is Outcome.APPLIED

    # ---------------------------------------------------------------- helpers
    def _ready(self) -> bool:
        if self.store is None:
            return False
        if self.image is None:
            self.status.emit(OPEN_FIRST)
            return False
        if self.annotation.editor is None:
            self.errors.report("No annotator", "Choose an annotator first (Annotate menu).")
            return False
        return True

    def _submit(self, text: str, run: Callable[[], ImagePointChange], number: int,
                kind: str) -> Outcome:
        edit = PendingEdit(text, run, target=self.project.target or "",
                           context=_EditInfo(self.annotation.editor, self.image.id, number,
                                             kind))
        return self.writes.submit_and_note(edit, self.status.emit, "image change")

    def _on_applied(self, edit: PendingEdit, change: ImagePointChange) -> None:
        info = edit.context
        if isinstance(info, _EditInfo) and info.editor is self.annotation.editor \
                and isinstance(change, ImagePointChange):
            reverter = ImagePointReverter(info.editor.store, info.editor.actor.name)
            self.undo_stack.push(ChangeCommand(edit.text, reverter, [change], self.refresh,
                                               self._undo_failed, stack=self.undo_stack,
                                               blocked=self._undo_blocked))
        if not (isinstance(change, ImagePointChange) and self._show_change(change)):
            self.refresh()

    def _on_rejected(self, edit: PendingEdit, exc: BaseException) -> None:
        if isinstance(exc, Skipped):
            self.status.emit(str(exc))
        else:
            self.errors.report(f"{edit.text} failed", str(exc))
        self.refresh()

    def _undo_blocked(self) -> str | None:
        n = self.writes.count
        if n:
            return (f"{n} image change{'s' if n != 1 else ''} still waiting for the "
                    "database; undo and redo resume once they are saved")
        return None

    def _undo_failed(self, exc: BaseException) -> None:
        if self.writes.count:
            self.status.emit(f"Undo/redo paused: {exc}")
        else:
            self.errors.report("Undo failed", str(exc))
        self.refresh()

    def _set_index(self, refresh: bool = False) -> SetIndex:
        key = (self.project.target or "", self.image.category)
        if refresh or key != self._index_key:
            self._index = set_index(self.store, self.image.category)
            self._index_key = key
        return self._index

    def _show_change(self, change: ImagePointChange) -> bool:
        """Show a committed edit's point as the edit returned it, without reading the
        database on the GUI thread; False when that cannot be done here (another image is
        shown, or the point's set is new to this window: read then)."""
        if self.image is None or int(change.image_id) != int(self.image.id) or \
                self._index_key != (self.project.target or "", self.image.category):
            return False
        set_id = int(change.set_id)
        if set_id not in self._index:
            return False
        points = [p for p in self._stored if p.set_id != set_id]
        if change.after is not None:
            points.append(ImagePoint(change.after, *self._index[set_id]))
        self._show(sorted(points, key=lambda p: p.set_id))  # (the store's order)
        return True

    def _show(self, points: list[ImagePoint]) -> None:
        self._stored = points
        name = self.annotation.annotator
        self.points = [p for p in points if name is None or p.annotator == name]
        self.points_changed.emit(list(self.points))

    def refresh(self) -> None:
        """Re-read the image's points (an undo, another annotator, a failed edit)."""
        if self.image is None or self.store is None:
            self._show([])
            return
        try:
            records = image_keypoints(self.store, self.image.id)
            index = self._set_index()
            if any(int(r.set_id) not in index for r in records):  # a set made since
                index = self._set_index(refresh=True)
            points = image_points(records, index)
        except Exception as exc:  # the database is away: keep the last view
            self.status.emit(f"Cannot read the image's points: {exc}")
            return
        self._show(points)

    def _advance(self, announce: bool = True) -> None:
        """Go to the annotator's next set with nothing on this image (placed, occluded or
        absent); ``announce`` when none is left."""
        name = self.annotation.annotator
        if name is None or self.image is None or self.writes.outage:
            return
        try:  # (the sets this window knows: a set made by an edit is read with its point)
            numbers = sorted(annotator_sets(self._set_index(), name))
        except Exception:
            return
        done = {p.number for p in self.points if p.annotator == name}
        missing = [n for n in numbers if n not in done]
        later = [n for n in missing if n > self.current_set]
        if later or missing:
            self.annotation.select_set((later or missing)[0])
        elif announce:
            self.status.emit("All of this annotator's points are on this image")

    def shutdown(self) -> None:
        """Stop listening (the window closes); background reads finish on their own and
        their results are dropped."""
        self._closed = True
        self._workers.clear()


__all__ = ["ImageAnnotationController", "Skipped"]
