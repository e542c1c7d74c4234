"""Placement suggestions in the 3D view: a ghost marker and a similarity heatmap.

For the shown model and the current annotator's current set, when that set has nothing
on the model, :class:`core.annotation.SuggestionEngine` says where its point most likely
lies (nearest embedding to the set's points on the models already labelled). The
controller:

- computes it off the GUI thread. The engine is built once per project, category and
  checkpoint (on a worker; it caches every model's embedding) and then reused; one job
  runs at a time, so the engine is only ever used from one thread at once;
- draws the result when it is still wanted: a result for a model, set or annotator that
  is no longer current (or computed before the points changed) is dropped and the
  current one computed instead;
- accepts it (Enter in the 3D view): the point is placed through the same path as a
  click (:meth:`ui.annotation_controller.AnnotationController.place_at`, one undo step,
  committed at once) with the suggestion's exact face, weights and position;
- accepts every missing set of the annotator on the model at once (Ctrl+Shift+Enter)
  with :func:`core.annotation.accept.accept_suggestions`: all or nothing, ONE undo step.

Renders only when what is drawn changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.annotation import Suggestion, SuggestionEngine
from core.annotation.accept import accept_suggestions
from core.store import CategorySets, ProjectStore
from core.store.records import MISSING
from ui.annotation_controller import AnnotationController
from ui.mesh_view import MeshView
from ui.palette import SET_PALETTE
from ui.qa import overlay
from ui.qa.checkpoints import checkpoint_for, make_engine, set_checkpoint
from ui.workers import run_in_thread


@dataclass(frozen=True)
class Want:
    """What a suggestion is for: project, category, checkpoint, model, annotator, set."""

    target: str
    category: str
    checkpoint: str | None
    model_id: int
    annotator: str
    number: int  # set number 0..15 (-1: every missing set, a bulk accept)

    @property
    def engine_key(self) -> tuple[str, str, str | None]:
        return self.target, self.category, self.checkpoint


@dataclass(frozen=True, eq=False)
class _Result:
    want: Want
    engine: SuggestionEngine
    note: str
    suggestion: Suggestion | None = None  # one set
    suggestions: tuple[Suggestion, ...] = ()  # a bulk accept
    sets: CategorySets | None = None  # what the bulk suggestions were made from


SETTLE_MS = 150  # quiet time after the last change before a suggestion is computed

def _column(sets: CategorySets, annotator: str, number: int) -> int | None:
    for j, (a, n) in enumerate(zip(sets.set_annotators, sets.set_numbers, strict=True)):
        if a == annotator and int(n) == number:
            return j
    return None


def _engine(store: ProjectStore, want: Want, engine: SuggestionEngine | None
            ) -> tuple[SuggestionEngine, str]:
    if engine is not None:
        engine.refresh()  # the placed points may have changed since
        return engine, ""
    return make_engine(store, want.category, want.checkpoint)


def _with_engine(compute):
    """Run ``compute(store, want, engine, note)`` with the cached engine; once more with a
    new one when the cached engine does not know a model (models imported since)."""

    def run(store: ProjectStore, want: Want, engine: SuggestionEngine | None) -> _Result:
        used, note = _engine(store, want, engine)
        try:
            return compute(used, want, note)
        except KeyError:
            if engine is None:
                raise
            used, note = make_engine(store, want.category, want.checkpoint)
            return compute(used, want, note)

    return run


@_with_engine
def compute_one(engine: SuggestionEngine, want: Want, note: str) -> _Result:
    """Worker: the suggestion for ``want`` (None when the set is on the model already, or
    no other model holds it). Called as ``compute_one(store, want, cached_engine)``."""
    sets = engine.sets
    j = _column(sets, want.annotator, want.number)
    rows = np.flatnonzero(sets.model_ids == want.model_id)
    if j is None or rows.size == 0 or sets.state[rows[0], j] != MISSING:
        return _Result(want, engine, note)
    return _Result(want, engine, note,
                   engine.suggest(want.model_id, int(sets.set_ids[j]), heatmap=True))


@_with_engine
def compute_all(engine: SuggestionEngine, want: Want, note: str) -> _Result:
    """Worker: suggestions for every set of the annotator still missing on the model.
    Called as ``compute_all(store, want, cached_engine)``."""
    sets = engine.sets
    rows = np.flatnonzero(sets.model_ids == want.model_id)
    if rows.size == 0:
        return _Result(want, engine, note, sets=sets)
    i = int(rows[0])
    set_ids = [int(sets.set_ids[j]) for j, a in enumerate(sets.set_annotators)
               if a == want.annotator and sets.state[i, j] == MISSING]
    found = engine.suggest_model(want.model_id, set_ids, heatmap=False)
    return _Result(want, engine, note, suggestions=tuple(found[s] for s in set_ids
                                                         if s in found), sets=sets)


class SuggestionController(QObject):
    """Suggestions for the shown model and the current set (see the module notes)."""

    shown = Signal(object)  # the Suggestion drawn now, or None when none is drawn
    method_changed = Signal(str)  # the active method ("xyz", a network's label)
    accepted_all = Signal(int)  # points placed by a bulk accept (one undo step)
    checkpoint_changed = Signal(str)  # the shown category's checkpoint ("" for none)
    status = Signal(str)

    def __init__(self, annotation: AnnotationController, view: MeshView,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.annotation = annotation
        self.view = view
        self.enabled = True
        self.heatmap_on = True
        self.current: Suggestion | None = None  # drawn and still valid (Enter accepts it)
        self._current_want: Want | None = None
        self._drawn: tuple | None = None  # signature of what is drawn now
        self._engine: SuggestionEngine | None = None
        self._engine_key: tuple | None = None
        self._method = ""
        self._job = None  # the running worker
        self._job_want: Want | None = None
        self._stale = False  # something changed while the job ran
        self._bulk: Want | None = None  # a bulk accept waiting for the running job
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._update)
        annotation.keypoints_changed.connect(lambda _kp: self.schedule())
        annotation.current_set_changed.connect(lambda _n: self.schedule())
        annotation.annotator_changed.connect(lambda _n: self.schedule())
        annotation.project.project_opened.connect(lambda _t: self._forget_engine())
        view.scene_shown.connect(self._on_scene_shown)

    # ----------------------------------------------------------------- state
    @property
    def method(self) -> str:
        """The method of the engine last used ("" before the first suggestion)."""
        return self._method

    @property
    def engine_key(self) -> tuple[str, str, str | None] | None:
        """(project, category, checkpoint) of the cached engine (None: none yet)."""
        return self._engine_key

    @property
    def busy(self) -> bool:
        return self._job is not None

    def wanted(self, number: int | None = None) -> Want | None:
        """What should be suggested now (None: nothing: suggestions off, no model shown,
        no annotator)."""
        a, scene = self.annotation, self.view.scene
        target = a.project.target
        if scene is None or a.scene is None or a.editor is None or a.store is None or \
                not target or scene.info.id != a.scene.info.id:
            return None
        category = scene.info.category
        return Want(target, category, checkpoint_for(target, category), int(scene.info.id),
                    a.editor.actor.name, a.current_set if number is None else number)

    # -------------------------------------------------------------- options
    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self.schedule()

    def set_heatmap(self, on: bool) -> None:
        self.heatmap_on = bool(on)
        if self.current is not None and self._drawn is not None:
            self._draw(self.current, self._current_want)
        else:
            self.schedule()

    def set_checkpoint(self, path: str | None) -> bool:
        """Use ``path`` for the shown category's suggestions (None: xyz fallback)."""
        scene, target = self.view.scene, self.annotation.project.target
        if scene is None or not target:
            self.status.emit("Show a model first: the checkpoint is chosen per category")
            return False
        set_checkpoint(target, scene.info.category, path)
        self.status.emit(f"Suggestions for {scene.info.category}: "
                         f"{path if path else 'positions (xyz), no checkpoint'}")
        self._forget_engine()
        self.checkpoint_changed.emit(path or "")
        self.schedule()
        return True

    # ------------------------------------------------------------- actions
    def schedule(self) -> None:
        """Something changed: recompute once the user pauses for :data:`SETTLE_MS` (rapid
        clicks coalesce, so a burst of placements is not slowed by suggestion work and
        redraws). Until then the drawn suggestion cannot be accepted."""
        self.current = None
        self._timer.start(SETTLE_MS)

    def update_now(self) -> None:
        """Start computing what is wanted now without waiting for the event loop."""
        self.current = None
        self._timer.stop()
        self._update()

    def accept(self) -> bool:
        """Place the current set's point at the suggestion (one undo step)."""
        sug, want = self.current, self.wanted()
        if sug is None or want is None or want != self._current_want:
            n = self.annotation.current_set + 1
            self.status.emit(f"No suggestion to accept for point {n} "
                             f"{'(still computing)' if self.busy else 'on this model'}")
            return False
        return self.annotation.place_at(sug.face, sug.xyz, bary=sug.bary,
                                        text=f"Accept suggestion for point {want.number + 1}")

    def accept_all(self) -> bool:
        """Suggest every missing set of the annotator on the shown model, then place them
        all in one undo step (when the job comes back). False when nothing can start."""
        want = self.wanted(number=-1)
        if want is None:
            self.status.emit("Show a model and choose an annotator first")
            return False
        self._bulk = want
        if self._job is None:
            self._start()
        self.status.emit("Computing suggestions for every missing point ...")
        return True

    # -------------------------------------------------------------- helpers
    def _forget_engine(self) -> None:
        self._engine, self._engine_key = None, None

    def _on_scene_shown(self, _category: str, _name: str) -> None:
        self._drawn = None  # show_scene removed our actors and the heatmap
        self.schedule()

    def _update(self) -> None:
        want = self.wanted()
        if not self.enabled or want is None:
            self._clear()
            return
        if self._job is not None:
            self._stale = True  # start again when the running job is back
            return
        self._start()

    def _start(self) -> None:
        """Start the next job: a waiting bulk accept first, else the current set's
        suggestion."""
        store = self.annotation.store
        want = self._bulk
        if want is not None:
            self._bulk = None
            fn, on_done = compute_all, self._bulk_done
        else:
            want = self.wanted()
            if not self.enabled or want is None or store is None:
                self._clear()
                return
            fn, on_done = compute_one, self._done
        engine = self._engine if self._engine_key == want.engine_key else None
        self._stale = False
        self._job_want = want
        self._job = run_in_thread(fn, store, want, engine, on_done=on_done,
                                  on_error=self._failed)

    def _finish_job(self, result: _Result | None) -> None:
        self._job, self._job_want = None, None
        if result is not None and result.engine.store is self.annotation.store:
            changed = (result.engine is not self._engine
                       or result.engine.method != self._method)
            self._engine, self._engine_key = result.engine, result.want.engine_key
            self._method = result.engine.method
            if result.note:
                self.status.emit(result.note)
            if changed:
                self.method_changed.emit(self._method)

    def _next(self) -> None:
        if self._bulk is not None or self._stale:
            self._start()

    def _done(self, result: _Result) -> None:
        stale = self._stale
        self._finish_job(result)
        want = self.wanted()
        if not self.enabled or want is None:
            self._clear()
        elif stale or want != result.want or result.engine.store is not self.annotation.store:
            self._stale = True  # dropped: compute what is wanted now (drawing stays)
        elif result.suggestion is None:
            self._clear()
        else:
            self._draw(result.suggestion, want)
        self._next()

    def _bulk_done(self, result: _Result) -> None:
        self._finish_job(result)
        want, editor = self.wanted(number=-1), self.annotation.editor
        if want != result.want or editor is None or \
                result.engine.store is not self.annotation.store:
            self.status.emit("Accept all: the model or annotator changed meanwhile; "
                             "nothing was placed")
        elif not result.suggestions:
            self.status.emit("Accept all: no missing point of this annotator has a "
                             "suggestion on this model")
        else:
            suggestions, sets = list(result.suggestions), result.sets
            n = len(suggestions)
            name = self.view.scene.info.name if self.view.scene else "this model"

            def run():
                return accept_suggestions(editor, suggestions, sets)

            if self.annotation.apply_changes(f"Accept {n} suggestions on {name}", run):
                self.status.emit(f"Accepted {n} suggestion{'s' if n != 1 else ''} "
                                 f"on {name} (one undo step)")
                self.accepted_all.emit(n)
        self._stale = True  # the points changed: the current set's suggestion too
        self._next()

    def _failed(self, exc: BaseException) -> None:
        bulk = self._job_want is not None and self._job_want.number == -1
        self._finish_job(None)
        self.status.emit(f"{'Accept all' if bulk else 'Suggestion'} failed: {exc}")
        if not bulk:
            self._clear()
        self._next()

    def _draw(self, sug: Suggestion, want: Want) -> None:
        self.current, self._current_want = sug, want
        heat = sug.heatmap if self.heatmap_on else None
        signature = (want, sug.face, sug.bary, sug.xyz, heat is not None)
        if signature != self._drawn:
            rgb = SET_PALETTE[want.number % len(SET_PALETTE)]
            overlay.draw_ghost(self.view, sug.xyz, sug.face, rgb)
            try:
                self.view.show_heatmap(heat, render=False)
            except ValueError as exc:  # the mesh changed on disk since it was sampled
                self.status.emit(f"No heatmap: {exc}")
                self.view.show_heatmap(None, render=False)
            self.view.plotter.render()
            self._drawn = signature
        self.shown.emit(sug)

    def _clear(self) -> None:
        self.current, self._current_want = None, None
        if self._drawn is None and not overlay.has(self.view, overlay.GHOST):
            return
        overlay.remove(self.view, overlay.GHOST, overlay.GHOST_RING)
        self.view.show_heatmap(None, render=False)
        self.view.plotter.render()
        self._drawn = None
        self.shown.emit(None)
