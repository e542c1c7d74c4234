"""Pictures of widgets that hold 3D views.

The 3D views (pyvistaqt ``QtInteractor``) draw into native child windows with VTK's own
OpenGL context, outside Qt's backing store (so repainting a label or the 2D view does not
compose the whole window through OpenGL: see ``packaging/constraints.txt``). ``QWidget.grab``
therefore leaves them blank; :func:`grab_widget` renders each visible 3D view and paints its
frame where the view sits. :func:`render_view_image` is one view's frame as a ``QImage``.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget
from pyvistaqt import QtInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter


def render_view_image(plotter: QtInteractor) -> QImage | None:
    """Render ``plotter`` now and read its frame back: (height, width) RGB pixels as a
    ``QImage`` (a copy), or None when the view has no frame (hidden, closed, zero size)."""
    if getattr(plotter, "_closed", False) or not plotter.isVisible():
        return None
    ren_win = plotter.ren_win
    if ren_win is None:
        return None
    ren_win.Render()
    width, height = ren_win.GetSize()
    if width <= 0 or height <= 0:
        return None
    grabber = vtkWindowToImageFilter()
    grabber.SetInput(ren_win)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()  # the frame just rendered (the back buffer)
    grabber.ShouldRerenderOff()  # (rendered just above)
    grabber.Update()
    data = grabber.GetOutput()
    w, h, _ = data.GetDimensions()
    pixels = vtk_to_numpy(data.GetPointData().GetScalars()).reshape(h, w, 3)
    pixels = np.ascontiguousarray(pixels[::-1])  # VTK's rows run bottom to top
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def grab_widget(widget: QWidget) -> QPixmap:
    """``widget.grab()`` with the frames of its visible 3D views painted in place."""
    pixmap = widget.grab()
    views = [widget] if isinstance(widget, QtInteractor) else []
    views += widget.findChildren(QtInteractor)
    if not views:
        return pixmap
    painter = QPainter(pixmap)
    try:
        for view in views:
            if not view.isVisible() or (view is not widget and
                                        view.window() is not widget.window()):
                continue  # (a view in a floating dock: not in widget's picture)
            image = render_view_image(view)
            if image is None:
                continue
            origin = view.mapTo(widget, QPoint(0, 0)) if view is not widget else QPoint(0, 0)
            painter.drawImage(QRect(origin, view.size()), image)  # (logical pixels)
    finally:
        painter.end()
    return pixmap
