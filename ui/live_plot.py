"""Cheap-to-repaint pyqtgraph plots for live runs.

On a software-rendered display (Mesa under Xvfb, remote desktops) what a plot costs to
repaint decides how smooth a live run feels. Measured on a 277 x 299 px plot (2-core machine,
Xvfb): 15 ms a repaint with pyqtgraph's grid (``showGrid``, drawn by the axes with every
tick line across the view), 1.6 ms without. Auto-ranging is also off: pyqtgraph fits the
range while it paints, which marks the plot dirty again and costs a second repaint per
refresh (so does a range change whose transform pyqtgraph applies only when it paints);
:func:`fit_range` sets the range and its transform once, before the paint. The axes have
fixed sizes: an axis that grows to fit wider tick labels re-lays the plot out while it paints
(measured: clearing a plot of a run repainted the window three times, once with fixed axes).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

BACKGROUND = "#1e2227"
AXIS_WIDTH = 56  # px, a vertical axis with its label and 6-character tick labels
AXIS_HEIGHT = 36  # px, the bottom axis with its label


def new_live_plot(name: str, bottom: str, left: str, *, plot: pg.PlotWidget | None = None,
                  left_color: str | None = None) -> pg.PlotWidget:
    """A dark plot named ``name`` with axis labels and a legend, no grid and no
    auto-range (see the module docstring); ``plot`` configures an existing widget."""
    plot = plot if plot is not None else pg.PlotWidget()
    plot.setObjectName(name)
    plot.setBackground(BACKGROUND)
    item = plot.getPlotItem()
    item.setLabel("bottom", bottom)
    item.setLabel("left", left, **({"color": left_color} if left_color else {}))
    item.getAxis("left").enableAutoSIPrefix(False)  # mGE 0.25, not "250 m"
    item.addLegend(offset=(-10, 10))
    item.getAxis("left").setWidth(AXIS_WIDTH)
    item.getAxis("bottom").setHeight(AXIS_HEIGHT)
    item.disableAutoRange()
    item.setMouseEnabled(x=False, y=False)
    item.hideButtons()  # the "A" (auto-range) button: the range follows the data
    return plot


def fit_range(view: pg.ViewBox, x: np.ndarray, *ys: np.ndarray, pad: float = 0.05,
              linked: tuple[pg.ViewBox, ...] = ()) -> None:
    """Set ``view``'s range to hold the finite values of ``x`` (N,) and each ``ys`` (N,),
    padded by ``pad`` of the span; a unit range when there is nothing to show. The new
    transform is applied now, to ``view`` and to the views ``linked`` to its axes:
    pyqtgraph would apply it while painting, which asks for a second repaint."""
    xs = x[np.isfinite(x)]
    values = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.empty(0)
    x0, x1 = (float(xs.min()), float(xs.max())) if xs.size else (0.0, 1.0)
    y0, y1 = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if x1 <= x0:
        x1 = x0 + 1.0
    if y1 <= y0:
        y0, y1 = y0 - 0.5 * max(abs(y0), 1e-6), y1 + 0.5 * max(abs(y1), 1e-6)
    view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=pad, update=True)
    for box in (view, *linked):
        box.updateMatrix()
