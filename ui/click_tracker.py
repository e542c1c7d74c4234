"""Tell a click from a drag on a 3D view: a left press and release within a few pixels.

VTK rotates the camera on a left drag; only a press-release without motion is a click
(a pick). Views feed their interactor's Qt mouse events to :meth:`ClickTracker.handle`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt

CLICK_SLOP_PX = 3  # Manhattan distance a click may move between press and release


class ClickTracker:
    """Remembers the left-button press; :meth:`handle` returns a click's position."""

    def __init__(self) -> None:
        self._press: tuple[float, float] | None = None

    def reset(self) -> None:
        self._press = None

    def handle(self, event) -> tuple[float, float] | None:
        """Feed a Qt event; on the release of a click returns its (x, y) widget position
        (logical pixels, origin top-left), else None."""
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = (event.position().x(), event.position().y())
        elif kind == QEvent.Type.MouseButtonRelease and \
                event.button() == Qt.MouseButton.LeftButton:
            press, self._press = self._press, None
            pos = event.position()
            if press is not None and \
                    abs(pos.x() - press[0]) + abs(pos.y() - press[1]) <= CLICK_SLOP_PX:
                return pos.x(), pos.y()
        return None
