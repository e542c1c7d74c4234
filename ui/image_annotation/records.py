"""Plain records of the image annotation: a drawn 2D point and one edit's before/after.

Coordinates are image pixels as :mod:`core.store.image_store` defines them (x right, y
down, origin at the top-left corner, pixel centres at ``i + 0.5``).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.store.records import ImageKeypointRecord

VISIBLE, OCCLUDED, ABSENT = "visible", "occluded", "absent"
STATES = (VISIBLE, OCCLUDED, ABSENT)


@dataclass(frozen=True)
class ImagePoint:
    """One stored 2D point with the set it belongs to.

    Attributes:
        record: the stored row (id, set id, x, y, state, version).
        annotator: the set's owner (name).
        number: the set number 0..15 (drawn as ``number + 1``).
    """

    record: ImageKeypointRecord
    annotator: str
    number: int

    @property
    def set_id(self) -> int:
        return int(self.record.set_id)

    @property
    def state(self) -> str:
        return str(self.record.state)

    @property
    def xy(self) -> tuple[float, float] | None:
        """The position in pixels, None when the point is absent."""
        r = self.record
        return None if r.x is None or r.y is None else (float(r.x), float(r.y))


@dataclass(frozen=True)
class ImagePointChange:
    """What one 2D edit did: the stored point before and after (None = no point).

    ``image_id`` and ``set_id`` say where, so a deleted point can be put back.
    """

    image_id: int
    set_id: int
    before: ImageKeypointRecord | None
    after: ImageKeypointRecord | None


__all__ = ["ABSENT", "OCCLUDED", "STATES", "VISIBLE", "ImagePoint", "ImagePointChange"]
