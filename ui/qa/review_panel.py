"""The review queue: likely mistakes of the shown category, ranked, and the open flags.

"Run checks" computes far and swap flags (:mod:`core.annotation.review`) of every placed
point of the category on a worker thread, with progress; the table lists them highest
score first, merged with the category's open flags from the project (a check whose flag is
already open shows its flag id). Double-clicking a row shows that model, makes the set
current when it is the annotator's own, and rings the point in the 3D view.

"Flag" records the selected checks as flags in the project
(:meth:`core.annotation.ReviewQueue.submit`: reviewers and admins flag any point,
annotators only their own); "Resolve" closes the selected open flags (reviewers and
admins; an annotator is told so in the status bar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.annotation import ReviewFlag, ReviewQueue
from core.annotation.review import reason_text
from core.store.schema import Role
from ui.annotation_controller import AnnotationController
from ui.mesh_view import MeshView
from ui.qa import overlay
from ui.qa.checkpoints import checkpoint_for
from ui.qa.panel_parts import row_table, shown_category
from ui.qa.review_data import (
    CheckResult,
    OpenFlag,
    Progress,
    keypoint_position,
    open_flags,
    run_checks,
)
from ui.selection import Selection
from ui.workers import run_in_thread

COLUMNS = ("Score", "Kind", "Model", "Set", "Annotator", "Message", "Flag")


@dataclass(frozen=True)
class ReviewRow:
    """One line of the queue: a check's result, an open flag, or both."""

    check: ReviewFlag | None
    flag: OpenFlag | None

    @property
    def score(self) -> float:
        return self.check.score if self.check is not None else self.flag.score

    @property
    def kind(self) -> str:
        return self.check.kind if self.check is not None else self.flag.kind

    @property
    def keypoint_id(self) -> int:
        return self.check.keypoint_id if self.check is not None else self.flag.keypoint_id

    @property
    def model_name(self) -> str:
        return self.check.model_name if self.check is not None else self.flag.model_name

    @property
    def annotator(self) -> str:
        return self.check.annotator if self.check is not None else self.flag.annotator

    @property
    def number(self) -> int:
        return self.check.number if self.check is not None else self.flag.number

    @property
    def message(self) -> str:
        return self.check.message if self.check is not None else self.flag.message


def merge_rows(checks: list[ReviewFlag], flags: list[OpenFlag]) -> list[ReviewRow]:
    """Checks and open flags in one list, highest score first (flags without a score
    last); a check whose flag is open is one row."""
    by_reason = {(f.keypoint_id, f.reason): f for f in flags}
    rows, used = [], set()
    for c in checks:
        f = by_reason.get((c.keypoint_id, reason_text(c)[:500]))
        if f is not None:
            used.add(f.flag_id)
        rows.append(ReviewRow(c, f))
    rows += [ReviewRow(None, f) for f in flags if f.flag_id not in used]
    return sorted(rows, key=lambda r: (math.isnan(r.score), -r.score if not math.isnan(r.score)
                                       else 0.0, r.kind, r.model_name, r.annotator, r.number))


class ReviewPanel(QWidget):
    """The review queue of the shown model's category."""

    checks_done = Signal(int)  # number of checks found
    flags_loaded = Signal(int)  # open flags listed
    flags_changed = Signal()  # flags were written (flagged or resolved)
    status = Signal(str)

    def __init__(self, annotation: AnnotationController, selection: Selection, view: MeshView,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewPanel")
        self.annotation = annotation
        self.selection = selection
        self.view = view
        self.category = ""  # what the table shows
        self.checks: list[ReviewFlag] = []
        self.flags: list[OpenFlag] = []
        self.rows: list[ReviewRow] = []
        self._worker = None
        self._highlight: tuple[int, int] | None = None  # (model id, keypoint id) to ring

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        self.run_button = QPushButton("Run checks", self)
        self.run_button.setObjectName("reviewRunButton")
        self.run_button.setToolTip("Find points far from their suggestion and likely "
                                   "left/right swaps in the shown model's category")
        self.run_button.clicked.connect(self.run_checks)
        top.addWidget(self.run_button)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("reviewProgress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        top.addWidget(self.progress, 1)
        layout.addLayout(top)
        self.info = QLabel("Show a model, then Run checks", self)
        self.info.setObjectName("reviewInfo")
        layout.addWidget(self.info)
        self.table = row_table(self, "reviewTable", COLUMNS, stretch_last=False)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.show_row(row))
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.flag_button = QPushButton("Flag", self)
        self.flag_button.setObjectName("reviewFlagButton")
        self.flag_button.setToolTip("Record the selected checks as flags for reviewers")
        self.flag_button.clicked.connect(self.flag_selected)
        self.resolve_button = QPushButton("Resolve", self)
        self.resolve_button.setObjectName("reviewResolveButton")
        self.resolve_button.setToolTip("Close the selected open flags (reviewers and admins)")
        self.resolve_button.clicked.connect(self.resolve_selected)
        self.reload_button = QPushButton("Reload flags", self)
        self.reload_button.setObjectName("reviewReloadButton")
        self.reload_button.clicked.connect(self.load_flags)
        for b in (self.flag_button, self.resolve_button, self.reload_button):
            bottom.addWidget(b)
        bottom.addStretch(1)
        layout.addLayout(bottom)
        view.scene_shown.connect(self._on_scene_shown)

    # --------------------------------------------------------------- state
    def current_category(self) -> str:
        return shown_category(self.view, self.selection)

    @property
    def running(self) -> bool:
        return self._worker is not None

    # ------------------------------------------------------------- actions
    def run_checks(self) -> bool:
        """Start the far and swap checks of the shown category (False: cannot start)."""
        store, category = self.annotation.store, self.current_category()
        if store is None or not category:
            self.status.emit("Review: open a project and show a model first")
            return False
        if self._worker is not None:
            self.status.emit("Review: the checks are running")
            return False
        checkpoint = checkpoint_for(self.annotation.project.target, category)
        self.run_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"Checking {category} ...")
        self._worker = run_in_thread(
            run_checks, store, category, checkpoint,
            on_yield=self._on_progress,
            on_done=lambda result: self._checks_done(category, result),
            on_error=self._checks_failed)
        return True

    def load_flags(self) -> None:
        """Re-read the category's open flags (off the GUI thread)."""
        store, category = self.annotation.store, self.current_category()
        if store is None or not category:
            return
        run_in_thread(open_flags, store, category,
                      on_done=lambda flags: self._flags_loaded(category, flags),
                      on_error=lambda exc: self.status.emit(f"Cannot read flags: {exc}"))

    def selected_rows(self) -> list[ReviewRow]:
        picked = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.rows[i] for i in picked if i < len(self.rows)]

    def flag_selected(self) -> bool:
        """Record the selected checks (not yet flagged) as flags in the project."""
        editor = self.annotation.editor
        if editor is None:
            self.status.emit("Flag: choose an annotator (a reviewer) first")
            return False
        checks = [r.check for r in self.selected_rows() if r.check is not None and r.flag is None]
        if not checks:
            self.status.emit("Flag: select checks that are not flagged yet")
            return False
        queue = ReviewQueue(checks)
        run_in_thread(queue.submit, editor,
                      on_done=lambda ids: self._written(f"Flagged {len(ids)} point"
                                                        f"{'s' if len(ids) != 1 else ''}"),
                      on_error=lambda exc: self._refused("Flag", exc))
        return True

    def resolve_selected(self) -> bool:
        """Resolve the selected open flags (reviewers and admins)."""
        editor = self.annotation.editor
        if editor is None:
            self.status.emit("Resolve: choose a reviewer first (Annotate > Choose annotator)")
            return False
        ids = [r.flag.flag_id for r in self.selected_rows() if r.flag is not None]
        if not ids:
            self.status.emit("Resolve: select open flags")
            return False
        if editor.actor.role == Role.annotator:
            self.status.emit(f"Resolve refused: {editor.actor.name} is an annotator; only "
                             "reviewers and admins resolve flags")
            return False

        def resolve() -> int:
            for flag_id in ids:
                editor.resolve_flag(flag_id)
            return len(ids)

        run_in_thread(resolve,
                      on_done=lambda n: self._written(f"Resolved {n} flag{'s' if n != 1 else ''}"),
                      on_error=lambda exc: self._refused("Resolve", exc))
        return True

    def show_row(self, row: int) -> None:
        """Show the row's model, make its set current (the annotator's own) and ring it."""
        if not 0 <= row < len(self.rows):
            return
        r = self.rows[row]
        model_id = r.check.model_id if r.check is not None else r.flag.model_id
        self._highlight = (model_id, r.keypoint_id)
        if self.annotation.annotator == r.annotator:
            self.annotation.select_set(r.number)
        self.status.emit(f"Review: {r.model_name}, {r.annotator} point {r.number + 1} "
                         f"({r.kind})")
        scene = self.view.scene
        if scene is not None and scene.info.id == model_id:
            self._draw_highlight()
        else:
            self.selection.select_model(self.category or self.current_category(),
                                        r.model_name)

    # -------------------------------------------------------------- helpers
    def _on_progress(self, step: Progress) -> None:
        self.progress.setRange(0, step.total)
        self.progress.setValue(step.done)
        self.progress.setFormat(step.text)

    def _checks_done(self, category: str, result: CheckResult) -> None:
        self._worker = None
        self.run_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(f"{len(result.queue)} likely mistakes in {category}")
        self.checks, self.flags = list(result.queue), result.flags
        self.category = category
        self._fill()
        self.checks_done.emit(len(self.checks))

    def _checks_failed(self, exc: BaseException) -> None:
        self._worker = None
        self.run_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Checks failed")
        self.status.emit(f"Review checks failed: {exc}")

    def _flags_loaded(self, category: str, flags: list[OpenFlag]) -> None:
        if category != self.category:
            self.checks = []  # checks of another category do not belong here
            self.category = category
        self.flags = flags
        self._fill()
        self.flags_loaded.emit(len(flags))

    def _written(self, message: str) -> None:
        self.status.emit(message)
        self.flags_changed.emit()
        self.load_flags()

    def _refused(self, what: str, exc: BaseException) -> None:
        self.status.emit(f"{what} refused: {exc}")
        self.flags_changed.emit()
        self.load_flags()

    def _fill(self) -> None:
        self.rows = merge_rows(self.checks, self.flags)
        t = self.table
        t.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            score = "—" if math.isnan(r.score) else f"{r.score:.3f}"
            flag = f"open #{r.flag.flag_id}" if r.flag is not None else ""
            values = (score, r.kind, r.model_name, str(r.number + 1), r.annotator, r.message,
                      flag)
            for j, v in enumerate(values):
                item = QTableWidgetItem(v)
                if j in (0, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(i, j, item)
        t.resizeColumnsToContents()
        n_open = sum(r.flag is not None for r in self.rows)
        self.info.setText(f"{self.category}: {len(self.checks)} checks, {n_open} open flags"
                          if self.category else "Show a model, then Run checks")

    def _on_scene_shown(self, _category: str, _name: str) -> None:
        scene = self.view.scene
        if self._highlight is not None and scene is not None and \
                scene.info.id == self._highlight[0]:
            self._draw_highlight()
        else:
            self._highlight = None

    def _draw_highlight(self) -> None:
        store = self.annotation.store
        if self._highlight is None or store is None:
            return
        face, xyz = keypoint_position(store, self._highlight[1])
        overlay.remove(self.view, overlay.HIGHLIGHT)
        if xyz is not None:
            overlay.draw_highlight(self.view, xyz, face)
            overlay.centre_on(self.view, xyz)
        self.view.plotter.render()

    def reset(self) -> None:
        """Another project: empty the queue."""
        self.checks, self.flags, self.category, self._highlight = [], [], "", None
        self._fill()

    def shutdown(self) -> None:
        if self._worker is not None:
            self._worker.quit()
