"""The project browser: categories and their models, with counts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from core.store import CategoryInfo, ModelInfo
from ui.selection import Selection

_ROLE = Qt.ItemDataRole.UserRole


class ProjectBrowser(QTreeWidget):
    """Tree of categories -> models. Selecting a model sets the shared selection."""

    def __init__(self, selection: Selection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("projectBrowser")
        self.setHeaderLabels(["Name", "Models / points"])
        self.setColumnWidth(0, 170)
        self.selection = selection
        self._categories: dict[str, QTreeWidgetItem] = {}
        self.currentItemChanged.connect(self._on_current)
        selection.model_changed.connect(self._sync_current)

    def set_categories(self, categories: list[CategoryInfo]) -> None:
        """Replace the tree's categories (models arrive via :meth:`set_models`)."""
        self.clear()
        self._categories.clear()
        for cat in categories:
            item = QTreeWidgetItem([cat.name, f"{cat.n_models} / {cat.n_keypoints:,}"])
            item.setData(0, _ROLE, ("category", cat.name))
            item.setToolTip(0, f"{cat.n_models} models, {cat.n_sets} correspondence sets, "
                               f"{cat.n_keypoints:,} points; ShapeNet id {cat.shapenet_id or '-'}")
            self.addTopLevelItem(item)
            self._categories[cat.name] = item

    def set_models(self, category: str, models: list[ModelInfo]) -> None:
        parent = self._categories.get(category)
        if parent is None:
            return
        parent.takeChildren()
        for m in models:
            child = QTreeWidgetItem([m.name, str(m.n_keypoints)])
            child.setData(0, _ROLE, ("model", category, m.name))
            child.setToolTip(0, f"{m.n_faces or '?'} faces — {m.mesh_file}")
            parent.addChild(child)
        self._sync_current(*self.selection.model)

    def model_names(self, category: str) -> list[str]:
        parent = self._categories.get(category)
        if parent is None:
            return []
        return [parent.child(i).text(0) for i in range(parent.childCount())]

    def _on_current(self, item: QTreeWidgetItem | None, _previous) -> None:
        data = item.data(0, _ROLE) if item is not None else None
        if data and data[0] == "model":
            self.selection.select_model(data[1], data[2])

    def _sync_current(self, category: str, name: str) -> None:
        parent = self._categories.get(category)
        if parent is None:
            return
        parent.setExpanded(True)
        for i in range(parent.childCount()):
            child = parent.child(i)
            if child.text(0) == name and self.currentItem() is not child:
                self.setCurrentItem(child)
                return
