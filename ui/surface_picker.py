"""Display position -> point on the shown mesh, through a VTK cell locator.

A static cell locator makes each pick O(log F), so clicking stays within a frame
on large meshes (pyvista's default picking walks every cell).
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkStaticCellLocator
from vtkmodules.vtkRenderingCore import vtkCellPicker


class SurfacePicker:
    """Picks faces of one actor's mesh at display coordinates (origin bottom-left)."""

    def __init__(self, renderer) -> None:
        self.renderer = renderer
        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0)
        self._picker.PickFromListOn()
        self._locator: vtkStaticCellLocator | None = None

    def set_target(self, actor, polydata) -> None:
        """Pick only ``actor``, whose cells are ``polydata``'s triangles in face order."""
        self._picker.InitializePickList()
        self._picker.AddPickList(actor)
        self._picker.RemoveAllLocators()
        locator = vtkStaticCellLocator()
        locator.SetDataSet(polydata)
        locator.BuildLocator()
        self._picker.AddLocator(locator)
        self._locator = locator

    def pick(self, x: float, y: float) -> tuple[int, np.ndarray] | None:
        """(face index, (3,) world position) under display pixel (x, y), or None."""
        if self._locator is None or not self._picker.Pick(x, y, 0.0, self.renderer):
            return None
        face = int(self._picker.GetCellId())
        if face < 0:
            return None
        return face, np.array(self._picker.GetPickPosition(), dtype=np.float64)
