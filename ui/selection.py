"""The shared selection state that linked views subscribe to.

Views never call each other: they set fields here and listen to the signals
(napari's camera/glue hub habit). Fields hold plain values only.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Selection(QObject):
    """What the user has selected: a model (category, name) and a keypoint set."""

    model_changed = Signal(str, str)  # category, model name ("" when none)
    set_changed = Signal(int)  # correspondence-set id (-1 when none)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model: tuple[str, str] = ("", "")
        self._set_id = -1

    @property
    def model(self) -> tuple[str, str]:
        return self._model

    def select_model(self, category: str, name: str) -> None:
        """Select a model; emits ``model_changed`` only when it differs."""
        if (category, name) != self._model:
            self._model = (category, name)
            self.model_changed.emit(category, name)

    @property
    def set_id(self) -> int:
        return self._set_id

    def select_set(self, set_id: int) -> None:
        if set_id != self._set_id:
            self._set_id = set_id
            self.set_changed.emit(set_id)
