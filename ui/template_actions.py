"""Template slots (CPNet's process): each annotator keeps up to 6 reference models per
category, with their numbered points, to look at while labelling other models.

The Annotate menu gets "Use current model as template" (the first free slot), "Set as
template slot N" and "Clear template slot N". Every change is committed at once through
the annotator's :class:`~core.store.edits.KeypointEditor` and pushed as one undo step;
undo puts back exactly what the slot held before. Failures (the database is away, a
permission) go to the status bar through the :class:`ErrorReporter`; nothing raises.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QMainWindow, QMenu
from sqlalchemy import select

from core.store import ModelInfo, ProjectStore
from core.store.edits import KeypointEditor
from core.store.errors import ConflictError, NotFound
from core.store.schema import Category
from ui.actions import new_action
from ui.annotation_controller import AnnotationController
from ui.error_reporter import ErrorReporter

TEMPLATE_SLOTS = tuple(range(1, 7))


# ------------------------------------------------------------- store look-ups
# Plain functions of their arguments: the guide panel calls them on a worker thread.
def category_id(store: ProjectStore, category: str) -> int:
    """Id of a category by name (NotFound when the project has none of that name)."""
    with store.session() as s:
        cid = s.scalar(select(Category.id).where(Category.name == category))
    if cid is None:
        raise NotFound(f"No category {category!r} in this project")
    return int(cid)


def template_models(store: ProjectStore, editor: KeypointEditor,
                    category: str) -> list[tuple[int, ModelInfo]]:
    """The editor's templates in ``category`` as (slot, model), by slot."""
    slots = editor.templates(category_id(store, category))
    if not slots:
        return []
    by_id = {m.id: m for m in store.models(category)}
    return [(slot, by_id[mid]) for slot, mid in sorted(slots.items()) if mid in by_id]


# ---------------------------------------------------------------- undo step
class TemplateCommand(QUndoCommand):
    """A template slot changed from model ``before`` to ``after`` (None: empty); the
    change is already committed when the command is pushed."""

    def __init__(self, text: str, editor: KeypointEditor, category_id: int, slot: int,
                 before: int | None, after: int | None, on_change: Callable[[int], None],
                 on_error: Callable[[str, BaseException], None]) -> None:
        super().__init__(text)
        self._editor = editor
        self._category_id = category_id
        self._slot = slot
        self._before = before
        self._after = after
        self._on_change = on_change
        self._on_error = on_error
        self._applied = True

    def undo(self) -> None:
        if self._applied:
            self._write(self._before, expect=self._after)

    def redo(self) -> None:
        if not self._applied:  # the first push: already done
            self._write(self._after, expect=self._before)

    def _write(self, model_id: int | None, expect: int | None) -> None:
        try:
            current = self._editor.templates(self._category_id).get(self._slot)
            if current != expect:
                raise ConflictError(f"Template slot {self._slot} was changed since "
                                    "(by another session)")
            if model_id is None:
                self._editor.clear_template(self._category_id, self._slot)
            else:
                self._editor.set_template(self._category_id, self._slot, model_id)
        except Exception as exc:  # the history no longer matches the database: drop it
            self.setObsolete(True)
            self._on_error(f"{'Redo' if not self._applied else 'Undo'} {self.text()} failed",
                           exc)
            return
        self._applied = not self._applied
        self._on_change(self._slot if model_id is not None else 0)


# -------------------------------------------------------------------- actions
class TemplateActions(QObject):
    """Template entries of the Annotate menu and the edits behind them."""

    templates_changed = Signal(str, int)  # category, slot to show (0: keep the choice)

    def __init__(self, window: QMainWindow, annotation: AnnotationController,
                 errors: ErrorReporter) -> None:
        super().__init__(window)
        self.window = window
        self.annotation = annotation
        self.errors = errors
        self.set_actions: dict[int, object] = {}
        self.clear_actions: dict[int, object] = {}

    def build_menu(self, menu: QMenu) -> None:
        w = self.window
        menu.addSeparator()
        menu.addAction(new_action(w, "Use current model as &template", self.use_current_model,
                                  "Ctrl+T", "Keep the shown model as a template (first free "
                                  "slot 1-6) in the Guide", "actionUseAsTemplate"))
        set_menu = menu.addMenu("Set as template s&lot")
        set_menu.setObjectName("setTemplateMenu")
        clear_menu = menu.addMenu("C&lear template slot")
        clear_menu.setObjectName("clearTemplateMenu")
        for slot in TEMPLATE_SLOTS:
            self.set_actions[slot] = new_action(
                w, f"Slot {slot}", lambda _=False, n=slot: self.set_slot(n), None,
                f"Keep the shown model as template {slot}", f"actionSetTemplateSlot{slot}")
            set_menu.addAction(self.set_actions[slot])
            self.clear_actions[slot] = new_action(
                w, f"Slot {slot}", lambda _=False, n=slot: self.clear_slot(n), None,
                f"Empty template slot {slot}", f"actionClearTemplateSlot{slot}")
            clear_menu.addAction(self.clear_actions[slot])
        set_menu.aboutToShow.connect(self.update_slot_actions)
        clear_menu.aboutToShow.connect(self.update_slot_actions)

    # ------------------------------------------------------------------ state
    def slots(self) -> dict[int, str]:
        """The current annotator's templates of the shown category: slot -> model name."""
        ctx = self._context(quiet=True)
        if ctx is None:
            return {}
        editor, scene, _cid = ctx
        try:
            return {slot: m.name for slot, m in
                    template_models(self.annotation.store, editor, scene.info.category)}
        except Exception:  # the database is away: the menu just shows no names
            return {}

    def update_slot_actions(self) -> None:
        """Say which slots are taken (menu texts) and enable only non-empty clears."""
        taken = self.slots()
        for slot in TEMPLATE_SLOTS:
            name = taken.get(slot)
            label = f"Slot {slot} — {name}" if name else f"Slot {slot} (empty)"
            self.set_actions[slot].setText(label)
            self.clear_actions[slot].setText(label)
            self.clear_actions[slot].setEnabled(name is not None)

    # ------------------------------------------------------------------ edits
    def use_current_model(self) -> bool:
        """Put the shown model into the first free slot; True when it was committed."""
        ctx = self._context()
        if ctx is None:
            return False
        editor, scene, cid = ctx
        try:
            taken = editor.templates(cid)
        except Exception as exc:
            self._report("Cannot read templates", exc)
            return False
        already = [s for s, mid in taken.items() if mid == scene.info.id]
        if already:
            self._status(f"{scene.info.name} is already template slot {min(already)}")
            return False
        free = [s for s in TEMPLATE_SLOTS if s not in taken]
        if not free:
            self._status("All 6 template slots are taken: use Annotate > Set as template "
                         "slot to replace one")
            return False
        return self.set_slot(free[0])

    def set_slot(self, slot: int) -> bool:
        """Make the shown model template ``slot``; True when it was committed."""
        ctx = self._context()
        if ctx is None:
            return False
        editor, scene, cid = ctx
        text = f"Set template slot {slot} to {scene.info.name}"
        try:
            before = editor.set_template(cid, slot, scene.info.id)
        except Exception as exc:
            self._report(f"{text} failed", exc)
            return False
        if before != scene.info.id:
            self._push(text, editor, cid, slot, before, scene.info.id)
        self._status(f"{scene.info.name} is template slot {slot}")
        self.templates_changed.emit(scene.info.category, slot)
        return True

    def clear_slot(self, slot: int) -> bool:
        """Empty template ``slot``; True when something was removed."""
        ctx = self._context()
        if ctx is None:
            return False
        editor, scene, cid = ctx
        try:
            before = editor.clear_template(cid, slot)
        except Exception as exc:
            self._report(f"Clear template slot {slot} failed", exc)
            return False
        if before is None:
            self._status(f"Template slot {slot} is already empty")
            return False
        self._push(f"Clear template slot {slot}", editor, cid, slot, before, None)
        self._status(f"Template slot {slot} cleared")
        self.templates_changed.emit(scene.info.category, 0)
        return True

    # ---------------------------------------------------------------- helpers
    def _context(self, quiet: bool = False):
        """(editor, shown scene, category id), or None (with a status message)."""
        a = self.annotation
        if a.store is None or a.scene is None:
            if not quiet:
                self._status("Open a project and show a model first")
            return None
        if a.editor is None:
            if not quiet:
                self._status("Choose an annotator first (Annotate > Choose annotator)")
            return None
        try:
            return a.editor, a.scene, category_id(a.store, a.scene.info.category)
        except Exception as exc:
            if not quiet:
                self._report("Cannot read templates", exc)
            return None

    def _push(self, text: str, editor: KeypointEditor, cid: int, slot: int,
              before: int | None, after: int | None) -> None:
        category = self.annotation.scene.info.category

        def changed(shown: int) -> None:
            self.templates_changed.emit(category, shown)

        self.annotation.undo_stack.push(TemplateCommand(text, editor, cid, slot, before, after,
                                                        changed, self._report))

    def _report(self, title: str, exc: BaseException) -> None:
        self.errors.report(title, str(exc))

    def _status(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 5000)
