"""The Qt binding keeps None's reference count: PySide6 6.12.0 took one reference from None
on every call of a void method, and under Python 3.11 the process aborted ("deallocating
None") after about 200,000 calls, i.e. after a dozen live runs in the Pose dock."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsScene, QLabel

CALLS = 20_000


def _none_refs_after(fn) -> int:
    fn()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        fn()
    gc.collect()
    return sys.getrefcount(None) - before


def test_void_calls_leave_nones_reference_count_alone(qapp):
    label = QLabel()
    scene = QGraphicsScene()
    item = QGraphicsEllipseItem(0, 0, 1, 1)
    scene.addItem(item)
    for name, fn in (("QLabel.setText", lambda: label.setText("x")),
                     ("QGraphicsItem.setPos", lambda: item.setPos(QPointF(1.0, 2.0))),
                     ("QGraphicsItem.setVisible", lambda: item.setVisible(True))):
        delta = _none_refs_after(fn)
        assert abs(delta) < CALLS // 100, f"{name}: None's reference count moved by {delta} " \
                                          f"over {CALLS} calls"
