"""Review: flag likely annotation mistakes and rank them in a queue.

- :func:`far_from_suggestion_flags` ("far", :mod:`core.annotation.far_flags`): a placed
  point far, in geodesic distance on its model, from its leave-one-out suggestion (and,
  by default, from the other annotators' point of the same landmark);
- :func:`swap_flags` ("swap", :mod:`core.annotation.swap_flags`): a placed point near the
  *mirror* of where the other annotators put the same landmark: a likely left/right swap;
- :class:`ReviewQueue`: flags of both kinds merged and ranked by score, writable to the
  project as keypoint flags that reviewers resolve
  (:meth:`core.store.edits.KeypointEditor.resolve_flag`);
- :func:`agreement_table` (:mod:`core.annotation.agreement`): inter-annotator spread per
  landmark.

Scores are distances in normalized model units (fractions of the bounding-box diagonal),
so the two kinds rank on one scale: how far the point is from where it should be.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.annotation.agreement import AgreementRow, agreement_table
from core.annotation.far_flags import far_from_suggestion_flags
from core.annotation.flags import FLAG_KINDS, ReviewFlag, ranked
from core.annotation.swap_flags import category_symmetry_plane, swap_flags

__all__ = ["FLAG_KINDS", "AgreementRow", "ReviewFlag", "ReviewQueue", "agreement_table",
           "category_symmetry_plane", "far_from_suggestion_flags", "reason_text",
           "swap_flags"]


class ReviewQueue:
    """Flags of both kinds ranked by score (highest first; ties by kind, model,
    annotator, number).

    Args:
        flags: any flags.
        one_per_point: keep only the highest-scoring flag of each point.
    """

    def __init__(self, flags: Iterable[ReviewFlag] = (), one_per_point: bool = False) -> None:
        items = ranked(list(flags))
        if one_per_point:
            seen: set[int] = set()
            items = [f for f in items if not (f.keypoint_id in seen or seen.add(f.keypoint_id))]
        self.items: list[ReviewFlag] = items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ReviewFlag]:
        return iter(self.items)

    def __getitem__(self, index: int) -> ReviewFlag:
        return self.items[index]

    def top(self, n: int) -> list[ReviewFlag]:
        """The ``n`` highest-ranked flags."""
        return self.items[:n]

    def of_kind(self, kind: str) -> list[ReviewFlag]:
        """The flags of one kind, in rank order."""
        if kind not in FLAG_KINDS:
            raise ValueError(f"Unknown flag kind {kind!r}; expected one of {FLAG_KINDS}")
        return [f for f in self.items if f.kind == kind]

    def for_model(self, model_id: int) -> list[ReviewFlag]:
        """The flags on one model, in rank order."""
        return [f for f in self.items if f.model_id == int(model_id)]

    def submit(self, editor, top: int | None = None) -> list[int]:
        """Record the flags in the project as keypoint flags for reviewers.

        Args:
            editor: a :class:`core.store.edits.KeypointEditor` acting for a reviewer or
                admin (annotators may flag only their own points: PermissionDenied).
            top: only the first ``top`` flags (default: all).
        Returns:
            The new flag ids. A point that already has an open flag with the same reason
            is not flagged again.
        """
        open_reasons = {(kp, reason) for _, kp, reason in editor.open_flags()}
        ids = []
        for f in self.items[:top]:
            reason = reason_text(f)[:500]
            if (f.keypoint_id, reason) in open_reasons:
                continue
            ids.append(editor.flag(f.keypoint_id, reason))
            open_reasons.add((f.keypoint_id, reason))
        return ids


def reason_text(flag: ReviewFlag) -> str:
    """The reason stored with a submitted flag: ``"[kind score] message"``."""
    return f"[{flag.kind} {flag.score:.3f}] {flag.message}"
