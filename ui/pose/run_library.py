"""Saved runs in the Pose dock: *Save run…* and *Runs…* (Run menu and dock buttons).

*Save run…* asks for a name and stores the shown run's every step in the project
(:func:`core.store.run_store.save_run`, kind ``"pose"``, ``"search"``, ``"ttp"`` or
``"reconstruction"``, the controls as ``params``, the final IoU and steps as ``summary``;
the steps as plain fields,
:mod:`ui.pose.saved_runs`). *Runs…* lists the category's saved runs: *Load* replays one in
the timeline and both views, *Delete* removes it, *Compare* (two runs selected; *All
categories* lists every category's runs) opens them side by side
(:class:`~ui.pose.run_compare.RunCompareWindow`, loaded off the GUI thread). *Compare
runs…* opens *Runs…* with the two newest runs selected. A store error or a malformed run is
said in the status line and the window's status bar; nothing crashes.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from ui.actions import new_action
from ui.pose.run_compare import RunCompareWindow
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
            "The category's saved runs: replay, compare or delete them", "actionPoseRuns")
        self.compare_action: QAction = new_action(
            view, "Co&mpare runs…", self.compare_dialog, None,
            "Two saved runs side by side: choose them in the saved runs", "actionPoseCompare")
        self.dialog: QDialog | None = None  # the open Runs… dialog
        self.comparison: RunCompareWindow | None = None  # the newest compare window

    def update_actions(self) -> None:
        v = self.view
        idle = v.state == "idle"
        self.save_action.setEnabled(idle and v.source is not None and v.template is not None
                                    and len(v.timeline.log) > 0 and v.project.store
                                    is not None)
        self.runs_action.setEnabled(idle and v.project.store is not None)
        self.compare_action.setEnabled(idle and v.project.store is not None)

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
    def runs(self, category: str | None = None, all_categories: bool = False) -> list:
        """The saved runs (RunInfo) of ``category`` (default: the shown one; every
        category's with ``all_categories``), newest first."""
        from core.store.run_store import list_runs

        v = self.view
        if v.project.store is None:
            return []
        try:
            runs = list_runs(v.project.store,
                             None if all_categories else category or v.category() or None)
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

    def compare(self, run_ids) -> RunCompareWindow | None:
        """Open saved runs ``run_ids`` (two) side by side; they load off the GUI thread.
        A missing or malformed run is said in the window and the status line."""
        v = self.view
        if v.project.store is None:
            self._fail("Open a project to compare its saved runs")
            return None
        ids = [int(i) for i in run_ids]
        window = RunCompareWindow(v, count=max(len(ids), 2))
        window.failed.connect(self._fail)
        window.loaded.connect(lambda: v.say(window.status.text()))
        window.load(v.project.store, ids)
        window.show()
        self.comparison = window
        window.destroyed.connect(lambda *_: self.comparison is window
                                 and setattr(self, "comparison", None))
        v.say(f"Loading saved runs {', '.join(map(str, ids))} to compare…")
        return window

    def compare_dialog(self) -> QDialog:
        """*Compare runs…*: the Runs… dialog with the two newest runs selected."""
        dialog = self.runs_dialog()
        listing = dialog.findChild(QListWidget, "poseRunsList")
        for row in range(min(2, listing.count())):
            listing.item(row).setSelected(True)
        self.view.say("Select two saved runs and press Compare")
        return dialog

    def runs_dialog(self) -> QDialog:
        """The Runs… dialog (non-modal): the saved runs, Load, Compare, Delete, Close."""
        if self.dialog is not None:
            self.dialog.close()
        dialog = QDialog(self.view)
        dialog.setObjectName("poseRunsDialog")
        dialog.setWindowTitle("Saved runs")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        listing = QListWidget(dialog)
        listing.setObjectName("poseRunsList")
        listing.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        layout.addWidget(listing)
        everything = QCheckBox("All categories", dialog)
        everything.setObjectName("poseRunsAllCategories")
        everything.setToolTip("List every category's saved runs (to compare across them)")
        layout.addWidget(everything)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        load = QPushButton("&Load", dialog)
        load.setObjectName("poseRunsLoad")
        delete = QPushButton("&Delete", dialog)
        delete.setObjectName("poseRunsDelete")
        compare = QPushButton("&Compare", dialog)
        compare.setObjectName("poseRunsCompare")
        compare.setToolTip("Select two runs (Ctrl+click) to see them side by side")
        compare.setEnabled(False)
        buttons.addButton(load, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(compare, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(delete, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)

        def fill() -> None:
            listing.clear()
            every = everything.isChecked()
            for info in self.runs(all_categories=every):
                iou = info.summary.get("iou")
                text = (f"{info.name}  [{info.category + ', ' if every else ''}"
                        f"{info.kind}, {info.n_steps} steps"
                        + (f", IoU {iou:.3f}" if isinstance(iou, float) else "")
                        + f"]  {info.source or ''}")
                item = QListWidgetItem(text, listing)
                item.setData(Qt.ItemDataRole.UserRole, info.id)

        def chosen():
            item = listing.currentItem()
            return None if item is None else item.data(Qt.ItemDataRole.UserRole)

        def selected() -> list:
            """The selected runs' ids, the older first (the list is newest first)."""
            rows = sorted((listing.row(item) for item in listing.selectedItems()),
                          reverse=True)
            return [listing.item(r).data(Qt.ItemDataRole.UserRole) for r in rows]

        def on_selection() -> None:
            compare.setEnabled(len(selected()) == 2)

        load.clicked.connect(lambda: chosen() is not None and self.load(chosen()))
        listing.itemDoubleClicked.connect(lambda _i: self.load(chosen()))
        delete.clicked.connect(lambda: chosen() is not None and self.delete(chosen())
                               and fill())
        compare.clicked.connect(lambda: len(selected()) == 2 and self.compare(selected()))
        listing.itemSelectionChanged.connect(on_selection)
        everything.toggled.connect(lambda _on: fill())
        fill()
        dialog.resize(560, 320)
        dialog.show()
        self.dialog = dialog
        dialog.destroyed.connect(lambda *_: self.dialog is dialog
                                 and setattr(self, "dialog", None))
        return dialog

    def _fail(self, message: str) -> None:
        """Say it in the status line (red) and the window's status bar; never blocks."""
        self.view.say(message, error=True)
        window = self.view.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(message, 8000)
