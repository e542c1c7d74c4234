"""The run's timeline: every step's record is kept (the run's
:class:`~ui.pose.run_control.RunLog`, appended in the worker thread), and a slider scrubs
them. While *Follow* is on the slider tracks the newest shown step; moving the slider turns
Follow off (the run goes on in the log and the plot, the views show the chosen step) and
emits ``scrubbed``; turning Follow back on jumps to the newest step.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

from ui.pose.records import StepRecord
from ui.pose.run_control import RunLog


class Timeline(QWidget):
    """Slider over a run's records (see the module docstring)."""

    scrubbed = Signal(object)  # the StepRecord chosen on the slider
    follow_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("poseTimeline")
        self.log = RunLog()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Timeline:", self))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("poseTimelineSlider")
        self.slider.setToolTip("Scrub the run's steps (every step is kept)")
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        row.addWidget(self.slider, 1)
        self.label = QLabel("no run", self)
        self.label.setObjectName("poseTimelineLabel")
        self.label.setFixedWidth(380)  # a fixed width: new text never re-lays the dock out
        row.addWidget(self.label)
        self.follow = QCheckBox("Follow", self)
        self.follow.setObjectName("poseFollow")
        self.follow.setToolTip("Show each new step as it arrives")
        self.follow.setChecked(True)
        row.addWidget(self.follow)
        self.slider.valueChanged.connect(self._on_slider)
        self.follow.toggled.connect(self._on_follow)

    @property
    def following(self) -> bool:
        return self.follow.isChecked()

    def set_log(self, log: RunLog) -> None:
        """A new run: scrub its log (empty at first), following."""
        self.log = log
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, 0)
            self.slider.setValue(0)
        self.slider.setEnabled(False)
        self.label.setText("waiting for the first step")
        self.follow.setChecked(True)

    def advance(self, record: StepRecord) -> bool:
        """A new step arrived (throttled): extend the range; when following, move to it.
        Returns True when the views should show ``record``."""
        with QSignalBlocker(self.slider):
            self.slider.setMaximum(max(len(self.log) - 1, 0))
            if self.following:
                self.slider.setValue(record.index)
        self.slider.setEnabled(len(self.log) > 0)
        if self.following:
            self._describe(record)
        return self.following

    def scrub_to(self, index: int) -> StepRecord | None:
        """Show step ``index`` (as if the slider was moved there)."""
        if not 0 <= index < len(self.log):
            return None
        if self.slider.value() == index:
            self._on_slider(index)
        else:
            self.slider.setValue(index)
        return self.log[index]

    def current(self) -> StepRecord | None:
        i = self.slider.value()
        return self.log[i] if 0 <= i < len(self.log) else None

    def _on_slider(self, index: int) -> None:
        if not 0 <= index < len(self.log):
            return
        with QSignalBlocker(self.follow):
            self.follow.setChecked(False)
        self.follow_changed.emit(False)
        record = self.log[index]
        self._describe(record)
        self.scrubbed.emit(record)

    def _on_follow(self, on: bool) -> None:
        self.follow_changed.emit(on)
        if on and len(self.log):
            record = self.log[len(self.log) - 1]
            with QSignalBlocker(self.slider):
                self.slider.setMaximum(len(self.log) - 1)
                self.slider.setValue(record.index)
            self._describe(record)
            self.scrubbed.emit(record)

    def _describe(self, record: StepRecord) -> None:
        loss = "" if record.loss != record.loss else f", loss {record.loss:.4f}"
        self.label.setText(f"{record.index + 1}/{len(self.log)}  {record.label}  "
                           f"(IoU {record.iou:.3f}{loss})")
