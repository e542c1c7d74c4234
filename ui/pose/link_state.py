"""The state the linked 2D and 3D pose views share: what they show and what is pointed at.

One object, plain values, change signals (the napari camera / glue hub habit): the Pose
panel writes the shown step (:meth:`LinkState.set_record`) and the run's template
(:meth:`LinkState.set_template`); :class:`~ui.pose.linking.PoseLinker` writes what the
pointer hovers, what is selected and the picked surface point (:class:`Probe`); the marks
of both views (:mod:`ui.pose.link_marks`) only listen. Views never call each other.

Semantic points are indexed as the template's (row ``i`` of ``template.points``, of
``record.uv``); -1 means none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.pose.category_template import CategoryTemplate
from ui.pose.records import StepRecord


@dataclass(frozen=True)
class Probe:
    """A surface point picked in one of the views, as both draw it.

    Attributes:
        origin: ``"mesh"`` (clicked in 3D) or ``"image"`` (cast from an image click).
        face: the template face it lies on.
        xyz: (3,) world position on the template mesh.
        uv: (2,) its projection with the shown step's camera, pixels.
        in_image: in front of that camera and inside the image.
        visible: in the image and not hidden by the mesh (drawn filled; hollow when not).
        bary: (3,) its barycentric weights on ``face``: it stays on that surface point when
            a step with another shape is shown (reconstruction runs).
    """

    origin: str
    face: int
    xyz: np.ndarray
    uv: np.ndarray
    in_image: bool
    visible: bool
    bary: np.ndarray | None = None


class LinkState(QObject):
    """Shown step, hovered and selected semantic point, picked surface point."""

    template_changed = Signal(object)  # CategoryTemplate | None (a new run: links reset)
    record_changed = Signal(object)  # the StepRecord both views show
    hovered_changed = Signal(int)  # semantic point index, -1 when none
    selected_changed = Signal(int)  # semantic point index, -1 when none
    probe_changed = Signal(object)  # Probe | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.template: CategoryTemplate | None = None
        self.record: StepRecord | None = None
        self.hovered = -1
        self.selected = -1
        self.probe: Probe | None = None

    def set_template(self, template: CategoryTemplate | None) -> None:
        """A new run's template: forget the step, the hover, the selection and the probe."""
        self.template, self.record = template, None
        self.set_hovered(-1)
        self.set_selected(-1)
        self.set_probe(None)
        self.template_changed.emit(template)

    def set_record(self, record: StepRecord | None) -> None:
        """The step both views now show (live or scrubbed)."""
        self.record = record
        self.record_changed.emit(record)

    def set_hovered(self, index: int) -> None:
        index = int(index)
        if index != self.hovered:
            self.hovered = index
            self.hovered_changed.emit(index)

    def set_selected(self, index: int) -> None:
        index = int(index)
        if index != self.selected:
            self.selected = index
            self.selected_changed.emit(index)

    def set_probe(self, probe: Probe | None) -> None:
        if probe is not self.probe:
            self.probe = probe
            self.probe_changed.emit(probe)

    def vertices(self) -> np.ndarray | None:
        """(V, 3) the mesh as shown: the shown step's shape (reconstruction), else the
        template's; None without a template."""
        if self.template is None:
            return None
        if self.record is not None and self.record.vertices is not None:
            return self.record.vertices
        return self.template.vertices

    def points(self) -> np.ndarray:
        """(N, 3) the semantic points as shown (the shown step's, else the template's)."""
        if self.template is None:
            return np.zeros((0, 3))
        if self.record is not None and self.record.points is not None:
            return np.asarray(self.record.points, dtype=np.float64)
        return np.asarray(self.template.points, dtype=np.float64)

    def point_count(self) -> int:
        return 0 if self.template is None else len(self.template.points)

    def label(self, index: int) -> str:
        """``"set 3 (wing_tip_left)"`` / ``"set 3"`` for a semantic point index."""
        t = self.template
        if t is None or not 0 <= index < len(t.set_numbers):
            return ""
        name = t.set_names[index]
        number = int(t.set_numbers[index])
        return f"set {number} ({name})" if name else f"set {number}"
