"""Saved runs in the Pose dock: *Save run…* and *Runs…* (Run menu and dock buttons).

*Save run…* asks for a name and stores the shown run's every step in the project
(:func:`core.store.run_store.save_run`, kind ``"pose"`` or ``"reconstruction"``, the
controls as ``params``, the final IoU and steps as ``summary``; the steps as plain fields,
:mod:`ui.pose.saved_runs`). *Runs…* lists the category's saved runs: *Load* replays one in
the timeline and both views, *Delete* removes it. A store error or a malformed run is said
in the status line and the window's status bar; nothing crashes.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from ui.actions import new_action
from ui.pose.saved_runs import SavedRunError, records_from_steps, steps_of


class RunLibrary(QObject):
    """Save, list, replay and delete a :class:`~ui.pose.pose_view.PoseView`'s runs."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.save_action: QAction = new_action(
            view, "&Save run…", self.save_dialog, None,
            "Keep the shown run's every step in the project", "actionPoseSaveRun")
        self.runs_action: QAction = new_action(
            view, "R&uns…", self.runs_dialog, None,
            "The category's saved runs: replay or delete them", "actionPoseRuns")
        self.dialog: QDialog | None = None  # the open Runs… dialog

    def update_actions(self) -> None:
        v = self.view
        idle = v.state == "idle"
        self.save_action.setEnabled(idle and v.source is not None and v.template is not None
                                    and len(v.timeline.log) > 0 and v.project.store
                                    is not None)
        self.runs_action.setEnabled(idle and v.project.store is not None)

    # ------------------------------------------------------------------- save
    def save_dialog(self) -> None:
        name, ok = QInputDialog.getText(self.view, "Save run", "Name of the run:",
                                        text=self.default_name())
        if ok and name.strip():
            self.save(name.strip())

    def default_name(self) -> str:
        v = self.view
        source = v.source.name if v.source is not None else "run"
        return f"{v.run_kind} {source}"

    def save(self, name: str):
        """Store the shown run as ``name``; its :class:`RunInfo`, None when it failed."""
        from core.store.run_store import save_run

        v = self.view
        records = v.timeline.log.snapshot()
        if not records or v.template is None or v.source is None or v.project.store is None:
            v.say("No run to save")
            return None
        final = records[-1]
        params = dict(v.run_params)
        image_id = int(params["arg"]) if params.get("source") == "image" and \
            str(params.get("arg") or "").isdigit() else None
        summary = {"steps": len(records), "label": final.label,
                   "iou": None if math.isnan(final.iou) else final.iou}
        try:
            info = save_run(v.project.store, v.template.category, v.run_kind, name,
                            steps_of(records, v.template, v.source), params=params,
                            summary=summary, image_id=image_id, source=v.source.name)
        except Exception as exc:  # store errors, too large: say it
            self._fail(f"Cannot save the run: {exc}")
            return None
        v.say(f"Saved run {info.name!r} ({info.n_steps} steps)")
        return info

    # ------------------------------------------------------------- list / load
    def runs(self, category: str | None = None) -> list:
        """The saved runs (RunInfo) of ``category`` (default: the shown one), newest first."""
        from core.store.run_store import list_runs

        v = self.view
        if v.project.store is None:
            return []
        try:
            runs = list_runs(v.project.store, category or v.category() or None)
        except Exception as exc:
            self._fail(f"Cannot list the saved runs: {exc}")
            return []
        return sorted(runs, key=lambda r: r.created_at, reverse=True)

    def load(self, run_id: int) -> bool:
        """Replay saved run ``run_id`` in the timeline and both views."""
        from core.store.run_store import load_run

        v = self.view
        if v.state != "idle" or v.project.store is None:
            return False
        try:
            data = load_run(v.project.store, int(run_id))
            records, template, source = records_from_steps(data.steps, data.info.category)
        except (SavedRunError, Exception) as exc:
            self._fail(f"Cannot load the saved run: {exc}")
            return False
        v.replay(records, template, source, data.info.kind, dict(data.info.params),
                 f"Saved run {data.info.name!r}")
        return True

    def delete(self, run_id: int) -> bool:
        from core.store.run_store import delete_run

        try:
            delete_run(self.view.project.store, int(run_id))
        except Exception as exc:
            self._fail(f"Cannot delete the saved run: {exc}")
            return False
        return True

    def runs_dialog(self) -> QDialog:
        """The Runs… dialog (non-modal): the saved runs, Load, Delete, Close."""
        dialog = QDialog(self.view)
        dialog.setObjectName("poseRunsDialog")
        dialog.setWindowTitle("Saved runs")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        listing = QListWidget(dialog)
        listing.setObjectName("poseRunsList")
        layout.addWidget(listing)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        load = QPushButton("&Load", dialog)
        load.setObjectName("poseRunsLoad")
        delete = QPushButton("&Delete", dialog)
        delete.setObjectName("poseRunsDelete")
        buttons.addButton(load, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(delete, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)

        def fill() -> None:
            listing.clear()
            for info in self.runs():
                iou = info.summary.get("iou")
                text = (f"{info.name}  [{info.kind}, {info.n_steps} steps"
                        + (f", IoU {iou:.3f}" if isinstance(iou, float) else "")
                        + f"]  {info.source or ''}")
                item = QListWidgetItem(text, listing)
                item.setData(Qt.ItemDataRole.UserRole, info.id)

        def chosen():
            item = listing.currentItem()
            return None if item is None else item.data(Qt.ItemDataRole.UserRole)

        load.clicked.connect(lambda: chosen() is not None and self.load(chosen()))
        listing.itemDoubleClicked.connect(lambda _i: self.load(chosen()))
        delete.clicked.connect(lambda: chosen() is not None and self.delete(chosen())
                               and fill())
        fill()
        dialog.resize(560, 320)
        dialog.show()
        self.dialog = dialog
        dialog.destroyed.connect(lambda *_: setattr(self, "dialog", None))
        return dialog

    def _fail(self, message: str) -> None:
        """Say it in the status line (red) and the window's status bar; never blocks."""
        self.view.say(message, error=True)
        window = self.view.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(message, 8000)
