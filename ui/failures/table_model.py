"""The failure table's model: one row per (image, variant), sortable by number.

:class:`FailureTableModel` shows :class:`~ui.failures.report.FailureRow` s (rows can be
appended while an evaluation runs); :class:`FailureSortProxy` sorts by the raw values
(:data:`SORT_ROLE`: numbers compare as numbers; a missing score, NaN, comes after every
number in ascending order) and filters by variant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from ui.failures.report import FailureRow

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the raw value (float, int or str)
ROW_ROLE = Qt.ItemDataRole.UserRole + 2  # the FailureRow
MISSING = "–"

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    """A table column: header, value of a row, text format (None: ``str``), tooltip."""

    header: str
    value: Callable[[FailureRow], object]
    fmt: str | None = None
    tip: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("Model", lambda r: r.model, tip="The held-out model rendered"),
    Column("View", lambda r: r.index, tip="The view's index in the evaluation"),
    Column("Variant", lambda r: r.variant,
           tip="full: learned viewpoint and points; gt_*: ground truth replaces them; "
               "search: silhouette search only"),
    Column("PCK (box)", lambda r: r.pck_box, "{:.3f}",
           "PCK@0.1 normalised by the mask box's longer side (final stage)"),
    Column("PCK (image)", lambda r: r.pck_image, "{:.3f}",
           "PCK@0.1 normalised by the image's longer side (final stage)"),
    Column("IoU", lambda r: r.iou, "{:.3f}", "Silhouette IoU with the mask (final stage)"),
    Column("Rot. err. (°)", lambda r: r.rotation_error, "{:.1f}",
           "Camera rotation error against the true camera, degrees (final stage)"),
)
COLUMN = {c.header: i for i, c in enumerate(COLUMNS)}


def _missing(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


class FailureTableModel(QAbstractTableModel):
    """The rows (see the module docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[FailureRow] = []

    # ------------------------------------------------------------------ content
    def set_rows(self, rows: Sequence[FailureRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def append_rows(self, rows: Sequence[FailureRow]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def rows(self) -> list[FailureRow]:
        return list(self._rows)

    def row_at(self, row: int) -> FailureRow:
        return self._rows[row]

    # -------------------------------------------------------------- Qt overrides
    def rowCount(self, parent: Index | None = None) -> int:  # noqa: N802 (Qt)
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index | None = None) -> int:  # noqa: N802 (Qt)
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], COLUMNS[index.column()]
        value = column.value(row)
        if role == Qt.ItemDataRole.DisplayRole:
            if _missing(value):
                return MISSING
            return column.fmt.format(value) if column.fmt else str(value)
        if role == SORT_ROLE:
            return value
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole and column.fmt is not None:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = (f"{row.model}, view {row.index}: azimuth {row.azimuth:.0f}°, elevation "
                   f"{row.elevation:.0f}°; {row.variant}, scored after {row.stage}")
            return tip + "".join(f"\n{n}" for n in row.notes)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 (Qt)
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tip
        return None


class FailureSortProxy(QSortFilterProxyModel):
    """Numeric sort, missing scores last, and a variant filter ("" shows all)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.variant = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_variant(self, variant: str) -> None:
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10 (invalidateFilter is deprecated)
            self.beginFilterChange()
            self.variant = variant
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.variant = variant
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        if not self.variant:
            return True
        model = self.sourceModel()
        row = model.data(model.index(source_row, 0, source_parent), ROW_ROLE)
        return row is not None and row.variant == self.variant

    def lessThan(self, left: Index, right: Index) -> bool:  # noqa: N802 (Qt)
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if _missing(a) or _missing(b):
            # missing last in ascending order (and first in descending): a missing score
            # is never "less" than a number
            return not _missing(a) and _missing(b)
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        return str(a) < str(b)

    def row_at(self, proxy_row: int) -> FailureRow | None:
        index = self.index(proxy_row, 0)
        return index.data(ROW_ROLE) if index.isValid() else None
