"""Exports of a pose run: a PNG figure of the linked views, and every kept step as a
numbered PNG sequence (plus an animated GIF when Pillow is installed).

A figure is the image with its overlays (left) and the 3D view (right), side by side in
panels :data:`PANEL_HEIGHT` pixels tall, with a caption line under them (image, step, loss,
IoU):

    width  = 3 * MARGIN + left panel width + right panel width
    height = 2 * MARGIN + PANEL_HEIGHT + CAPTION_HEIGHT

Each panel's width follows the aspect ratio of what it shows (the image; the 3D view's
widget), clamped to half / twice the height (:func:`panel_size`, :func:`figure_size`). The
image panel is the image view's scene drawn at that size; the 3D panel is the 3D view
rendered as it is on screen, scaled to fit and centred.

Rendering must stay on the GUI thread (Qt widgets, VTK), so :class:`RunExport` renders one
step per event-loop pass (a single-shot :class:`QTimer`), each well under 100 ms, behind a
cancellable :class:`QProgressDialog`; encoding and writing the files (Pillow releases the
GIL while it compresses) happen in one writer thread, at most :data:`MAX_PENDING` frames
behind. The caller's ``restore`` puts the views back on the step shown before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QProgressDialog, QWidget

from ui.mesh_view import BACKGROUND
from ui.pose.records import StepRecord

PANEL_HEIGHT = 480  # figure panel height, pixels
MARGIN = 8
CAPTION_HEIGHT = 30
FIGURE_BACKGROUND = "#15181c"
IMAGE_BACKGROUND = "#2b2f36"  # the image view's
CAPTION_COLOR = "#e6e8eb"
FRAME_PREFIX = "step_"  # step_0000.png, step_0001.png, ...
GIF_NAME = "run.gif"
GIF_WIDTH = 640  # GIF frames are scaled to this width at most
GIF_FRAME_MS = 100
MAX_PENDING = 3  # frames rendered but not yet written before rendering waits
WAIT_MS = 10  # how long a pass waits for the writer when it is behind


def panel_size(image_size: tuple[int, int], height: int = PANEL_HEIGHT) -> tuple[int, int]:
    """``(width, height)`` of the figure panel showing something of ``(H, W)`` pixels."""
    h, w = int(image_size[0]), int(image_size[1])
    width = round(height * w / h) if h > 0 and w > 0 else height
    return int(min(max(width, height // 2), 2 * height)), int(height)


def figure_size(image_size: tuple[int, int], view_size: tuple[int, int] | None = None,
                height: int = PANEL_HEIGHT) -> tuple[int, int]:
    """``(width, height)`` of the figure of an image of ``(H, W)`` pixels and a 3D view of
    ``(H, W)`` pixels (None: a panel like the image's)."""
    lw, ph = panel_size(image_size, height)
    rw, _ = panel_size(view_size or image_size, height)
    return 3 * MARGIN + lw + rw, 2 * MARGIN + ph + CAPTION_HEIGHT


def caption(image_name: str, record: StepRecord, total: int) -> str:
    """``"<image>  |  step 12/40: refine 1: step 8/30  |  loss 0.1234  |  IoU 0.912"``."""
    loss = "n/a" if math.isnan(record.loss) else f"{record.loss:.4f}"
    return (f"{image_name}  |  step {record.index + 1}/{max(total, record.index + 1)}: "
            f"{record.label}  |  loss {loss}  |  IoU {record.iou:.3f}")


def compose_figure(left: QImage | None, right: QImage | None, text: str,
                   left_panel: tuple[int, int],
                   right_panel: tuple[int, int] | None = None) -> QImage:
    """The figure (module docstring) from the two panels' images (None: left blank) and
    their ``(width, height)`` (the right one defaults to the left one's)."""
    right_panel = right_panel or left_panel
    ph = left_panel[1]
    out = QImage(3 * MARGIN + left_panel[0] + right_panel[0],
                 2 * MARGIN + ph + CAPTION_HEIGHT, QImage.Format.Format_RGB32)
    out.fill(QColor(FIGURE_BACKGROUND))
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    x0 = MARGIN
    for img, background, (pw, _h) in ((left, IMAGE_BACKGROUND, left_panel),
                                      (right, BACKGROUND, right_panel)):
        painter.fillRect(QRect(x0, MARGIN, pw, ph), QColor(background))
        if img is not None and not img.isNull():
            scaled = img.scaled(pw, ph, Qt.AspectRatioMode.KeepAspectRatio,
                                Qt.TransformationMode.SmoothTransformation)
            painter.drawImage(x0 + (pw - scaled.width()) // 2,
                              MARGIN + (ph - scaled.height()) // 2, scaled)
        x0 += pw + MARGIN
    font = QFont()
    font.setPixelSize(15)
    painter.setFont(font)
    painter.setPen(QColor(CAPTION_COLOR))
    box = QRect(MARGIN, MARGIN + ph, out.width() - 2 * MARGIN, CAPTION_HEIGHT)
    elided = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, box.width())
    painter.drawText(box, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                     elided)
    painter.end()
    return out


def qimage_rgb(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage's pixels."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    data = np.frombuffer(img.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    return data[:, :3 * w].reshape(h, w, 3).copy()


def pillow_available() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def save_png(rgb: np.ndarray, path: Path) -> None:
    """Write an (H, W, 3) uint8 array as a PNG (Pillow, else Qt); any thread."""
    if pillow_available():
        from PIL import Image

        Image.fromarray(rgb).save(path, format="PNG", compress_level=3)
        return
    h, w, _ = rgb.shape
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    if not img.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")


def _gif_frame(rgb: np.ndarray):
    """A palette image of at most :data:`GIF_WIDTH` pixels wide (writer thread)."""
    from PIL import Image

    frame = Image.fromarray(rgb)
    if frame.width > GIF_WIDTH:
        frame = frame.resize((GIF_WIDTH, round(frame.height * GIF_WIDTH / frame.width)),
                             Image.Resampling.BILINEAR)
    return frame.quantize(colors=255, method=Image.Quantize.FASTOCTREE)


def _save_gif(frames: list, path: Path) -> None:
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS,
                   loop=0, optimize=False)


@dataclass
class ExportResult:
    """What :class:`RunExport` wrote: ``frames`` (one PNG per step, in order; when cancelled,
    those finished by then), ``gif`` (None without Pillow, or when cancelled), ``cancelled``,
    ``error`` (a message, or None) and ``max_pass_ms``, the longest GUI-thread pass."""

    folder: Path
    frames: list[Path] = field(default_factory=list)
    gif: Path | None = None
    cancelled: bool = False
    error: str | None = None
    max_pass_ms: float = 0.0


class RunExport(QObject):
    """Writes every record as a numbered PNG (and a GIF) without freezing the GUI.

    Args:
        records: the steps to write, in order.
        show: puts a record in the views (without moving the timeline).
        render: the figure of the shown record, or None when it cannot be drawn.
        restore: puts the views back as they were (called once, at the end or on cancel).
        folder: where the files go (created if needed).
        gif: also write :data:`GIF_NAME` (ignored without Pillow).
        parent: the progress dialog's parent (None: no dialog, e.g. in scripts).
    """

    progressed = Signal(int, int)  # steps rendered, total
    finished = Signal(object)  # ExportResult

    def __init__(self, records: Sequence[StepRecord], show: Callable[[StepRecord], None],
                 render: Callable[[StepRecord], QImage | None], restore: Callable[[], None],
                 folder: str | Path, gif: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records = list(records)
        self._show, self._render, self._restore = show, render, restore
        self.folder = Path(folder)
        self.gif = bool(gif) and pillow_available()
        self.result = ExportResult(self.folder)
        self.dialog: QProgressDialog | None = None
        self._parent = parent
        self._next = 0
        self._pending: list[Future] = []
        self._written: list[tuple[Path, Future]] = []
        self._gif_frames: list[Future] = []
        self._final: Future | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pose-export")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._pass)
        self.done = False

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start exporting (returns at once; ``finished`` says when it is over)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        total = len(self.records) + (1 if self.gif else 0)
        if self._parent is not None:
            dialog = QProgressDialog(f"Exporting {len(self.records)} steps to {self.folder}…",
                                     "Cancel", 0, total, self._parent)
            dialog.setObjectName("poseExportProgress")
            dialog.setWindowTitle("Export run")
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(0)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.canceled.connect(self.cancel)
            dialog.show()
            self.dialog = dialog
        self._timer.start(0)

    def cancel(self) -> None:
        """Stop after the pass in flight; files already written stay."""
        if self.done:
            return
        self.result.cancelled = True
        self._finish()

    # ------------------------------------------------------------------- passes
    def _pass(self) -> None:
        """One event-loop pass: render the next step (or wait for the writer)."""
        if self.done:
            return
        t0 = time.perf_counter()
        try:
            self._step()
        except Exception as exc:  # a write or render failed: stop and say it
            self.result.error = str(exc)
            self._finish()
            return
        finally:
            self.result.max_pass_ms = max(self.result.max_pass_ms,
                                          (time.perf_counter() - t0) * 1000.0)

    def _step(self) -> None:
        for f in [f for f in self._pending if f.done()]:
            self._pending.remove(f)
            f.result()  # re-raises a write error here
        if self._next < len(self.records):
            if len(self._pending) >= MAX_PENDING:
                self._timer.start(WAIT_MS)
                return
            record = self.records[self._next]
            self._show(record)
            figure = self._render(record)
            if figure is None:
                raise RuntimeError("the views cannot be drawn (is the Pose dock shown?)")
            rgb = qimage_rgb(figure)
            path = self.folder / f"{FRAME_PREFIX}{self._next:04d}.png"
            write = self._writer.submit(save_png, rgb, path)
            self._pending.append(write)
            self._written.append((path, write))
            if self.gif:
                self._gif_frames.append(self._writer.submit(_gif_frame, rgb))
            self._next += 1
            self._progress(self._next)
            if not self.done:
                self._timer.start(0)
            return
        if self.gif and self._final is None:
            self._final = self._writer.submit(
                lambda: _save_gif([f.result() for f in self._gif_frames],
                                  self.folder / GIF_NAME))
            if self.dialog is not None:
                self.dialog.setLabelText("Writing the GIF…")
        waiting = self._pending + ([self._final] if self._final is not None else [])
        if any(not f.done() for f in waiting):
            self._timer.start(WAIT_MS)
            return
        for f in waiting:
            f.result()
        if self.gif:
            self.result.gif = self.folder / GIF_NAME
        self._progress(len(self.records) + (1 if self.gif else 0))
        self._finish()

    def _progress(self, value: int) -> None:
        self.progressed.emit(min(value, len(self.records)), len(self.records))
        if self.dialog is not None and not self.done:
            # in a pass of its own: a modal dialog's setValue() processes pending events
            QTimer.singleShot(0, self, lambda: self._show_progress(value))

    def _show_progress(self, value: int) -> None:
        if self.dialog is not None and not self.done:
            self.dialog.setValue(value)

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        self._timer.stop()
        self._writer.shutdown(wait=False, cancel_futures=True)
        self.result.frames = [path for path, f in self._written
                              if f.done() and not f.cancelled() and f.exception() is None]
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        self._restore()
        self.finished.emit(self.result)
