"""The banner shown above the 3D view while edits wait for an unavailable database.

Non-modal: the view and the menus keep working; clicks made meanwhile are queued by
:class:`~ui.pending_edits.PendingEdits` and committed in order when the database answers.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.pending_edits import PendingEdits

BANNER_STYLE = """
QFrame#storeBanner { background: #7f1d1d; border: 1px solid #dc2626; border-radius: 3px; }
QFrame#storeBanner QLabel { color: #fef2f2; background: transparent; }
QLabel#storeBannerTitle { font-weight: bold; }
"""


class StoreBanner(QFrame):
    """Says which database is unavailable and why, how many changes wait; "Retry now"."""

    def __init__(self, pending: PendingEdits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("storeBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.pending = pending
        self.title = QLabel(self)
        self.title.setObjectName("storeBannerTitle")
        self.detail = QLabel(self)
        self.detail.setObjectName("storeBannerText")
        self.count_label = QLabel(self)
        self.count_label.setObjectName("storeBannerCount")
        self.retry_button = QPushButton("Retry now", self)
        self.retry_button.setObjectName("storeBannerRetry")
        self.retry_button.clicked.connect(pending.retry_now)
        for label in (self.title, self.detail, self.count_label):
            label.setWordWrap(True)  # long paths never widen the central area
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addWidget(self.count_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(text, 1)
        layout.addWidget(self.retry_button)
        pending.changed.connect(self.update_state)
        self.update_state()

    def update_state(self) -> None:
        """Show or hide the banner and repaint its texts from the queue's state."""
        p = self.pending
        if not p.outage:
            self.hide()
            return
        waiting = p.pending()
        target = waiting[0].target if waiting else ""
        self.title.setText(f"Database unavailable: {target}" if target
                           else "Database unavailable")
        self.detail.setText(f"{p.problem}. The 3D view shows the last saved state; "
                            "nothing you did is lost.")
        n = p.count
        changes = f"{n} change{'s' if n != 1 else ''} waiting"
        if p.trying:
            when = "trying now..."
        elif p.next_retry_s is not None:
            when = f"next try in {p.next_retry_s:g} s"
        else:
            when = ""
        self.count_label.setText(f"{changes} — {when}" if when else changes)
        self.retry_button.setEnabled(not p.trying)
        self.show()
