"""The review flag record shared by the flaggers and the review queue."""

from __future__ import annotations

from dataclasses import dataclass

from core.store import CategorySets

__all__ = ["FLAG_KINDS", "ReviewFlag", "make_flag", "ranked"]

FLAG_KINDS = ("far", "swap")


@dataclass(frozen=True)
class ReviewFlag:
    """A likely mistake on one placed point.

    Attributes:
        kind: ``"far"`` or ``"swap"``.
        model_id, model_name: the model.
        set_id, annotator, number: the set (the annotator's own number).
        keypoint_id: the point's database id (what a store flag refers to).
        score: distance from where the point should be, fraction of the bounding-box
            diagonal (far: geodesic, see :mod:`core.annotation.far_flags`; swap: 3D
            distance to the other annotators' consensus).
        message: one line for people.
        partner_set_id: swap: the annotator's own mirror set, when it has one.
    """

    kind: str
    model_id: int
    model_name: str
    set_id: int
    annotator: str
    number: int
    keypoint_id: int
    score: float
    message: str
    partner_set_id: int | None = None


def make_flag(sets: CategorySets, kind: str, i: int, j: int, score: float, message: str,
              partner: int | None = None) -> ReviewFlag:
    """The flag of the point of set column ``j`` on model row ``i``."""
    return ReviewFlag(kind, int(sets.model_ids[i]), sets.model_names[i], int(sets.set_ids[j]),
                      sets.set_annotators[j], int(sets.set_numbers[j]),
                      int(sets.keypoint_ids[i, j]), float(score), message, partner)


def ranked(flags: list[ReviewFlag]) -> list[ReviewFlag]:
    """Highest score first; ties by kind, model, annotator, number."""
    return sorted(flags, key=lambda f: (-f.score, f.kind, f.model_name, f.annotator, f.number))
