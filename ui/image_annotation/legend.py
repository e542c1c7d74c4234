"""A small caption over the image view's bottom-left corner: the project image, the current
set, and the points that are listed but not drawn (absent ones)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel

from core.store.records import ImageInfo
from ui.image_annotation.records import ABSENT, OCCLUDED, ImagePoint
from ui.image_view import ImageView


class ImageLegend(QLabel):
    """The caption (hidden while no project image is annotated)."""

    def __init__(self, view: ImageView) -> None:
        super().__init__(view.viewport())
        self.setObjectName("imagePointsLegend")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setStyleSheet("QLabel { background: rgba(20, 22, 26, 190); color: #e8eaed; "
                           "padding: 3px 6px; border-radius: 3px; }")
        view.viewport().installEventFilter(self)  # keep to the corner on resize
        self.image: ImageInfo | None = None
        self.points: list[ImagePoint] = []
        self.current = 0
        self.annotator: str | None = None
        self.hide()

    def set_image(self, image: ImageInfo | None) -> None:
        self.image = image
        self._redraw()

    def set_points(self, points: list[ImagePoint], annotator: str | None) -> None:
        self.points, self.annotator = list(points), annotator
        self._redraw()

    def set_current(self, number: int) -> None:
        self.current = int(number)
        self._redraw()

    def _redraw(self) -> None:
        self.setText(self.text_for())
        self.adjustSize()
        self._place()
        self.setVisible(self.image is not None)

    def _place(self) -> None:
        self.move(6, max(self.parentWidget().height() - self.height() - 6, 0))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def absent_numbers(self) -> list[int]:
        """Set numbers (1-based) marked absent on the image."""
        return sorted(p.number + 1 for p in self.points if p.state == ABSENT)

    def text_for(self) -> str:
        if self.image is None:
            return ""
        placed = sum(p.state != ABSENT for p in self.points)
        occluded = sum(p.state == OCCLUDED for p in self.points)
        absent = self.absent_numbers()
        who = self.annotator or "everyone (no annotator)"
        lines = [f"{self.image.name} ({self.image.category}) — {who}",
                 f"point {self.current + 1} current · {placed} placed"
                 + (f" ({occluded} occluded)" if occluded else "")
                 + " · absent: " + (", ".join(str(n) for n in absent) if absent else "none")]
        return "\n".join(lines)


__all__ = ["ImageLegend"]
