"""Pieces the QA panels share: a read-only row table and "which category is shown"."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QWidget

from ui.mesh_view import MeshView
from ui.selection import Selection


def row_table(parent: QWidget, name: str, columns: list[str] | tuple[str, ...],
              stretch_last: bool) -> QTableWidget:
    """A read-only table selecting whole rows, without row numbers."""
    table = QTableWidget(0, len(columns), parent)
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(stretch_last)
    return table


def shown_category(view: MeshView, selection: Selection) -> str:
    """The category of the model in the 3D view, else of the selection ("" for none)."""
    scene = view.scene
    return scene.info.category if scene is not None else selection.model[0]
