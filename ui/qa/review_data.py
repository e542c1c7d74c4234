"""What the review queue shows: checks run off the GUI thread, and the open flags.

Plain functions of their arguments: they run on worker threads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from core.annotation import ReviewFlag, ReviewQueue, swap_flags
from core.annotation.far_flags import far_flags_from_scores, far_scores
from core.annotation.landmark_groups import group_sets
from core.store import ProjectStore
from core.store.schema import Annotator, Category, CorrespondenceSet, Keypoint, KeypointFlag, Model
from ui.qa.checkpoints import make_engine

_REASON = re.compile(r"^\[(\w+) ([-+0-9.eE]+|nan|inf)\] (.*)$", re.DOTALL)


@dataclass(frozen=True)
class OpenFlag:
    """An unresolved flag in the project, with where its point is."""

    flag_id: int
    keypoint_id: int
    reason: str
    model_id: int
    model_name: str
    set_id: int
    annotator: str
    number: int
    face: int | None
    xyz: tuple[float, float, float] | None

    @property
    def kind(self) -> str:
        m = _REASON.match(self.reason)
        return m.group(1) if m else "manual"

    @property
    def score(self) -> float:
        m = _REASON.match(self.reason)
        return float(m.group(2)) if m else math.nan

    @property
    def message(self) -> str:
        m = _REASON.match(self.reason)
        return m.group(3) if m else self.reason


@dataclass(frozen=True)
class Progress:
    """A step of the checks: ``done`` of ``total``, and what is being done."""

    done: int
    total: int
    text: str


@dataclass(frozen=True, eq=False)
class CheckResult:
    """What "Run checks" found: the ranked checks and the category's open flags."""

    queue: ReviewQueue
    flags: list[OpenFlag]


def run_checks(store: ProjectStore, category: str, checkpoint: str | None
               ) -> Iterator[Progress]:
    """Far and swap checks of every placed point of the category (a generator: yields
    :class:`Progress`, returns a :class:`CheckResult`)."""
    yield Progress(0, 1, f"Loading {category} ...")
    engine, _note = make_engine(store, category, checkpoint)
    sets = engine.sets
    ids = [int(m) for m in sets.model_ids]
    total = len(ids) + 1
    groups = group_sets(sets)
    scores = []
    for k, (mid, name) in enumerate(zip(ids, sets.model_names, strict=True)):
        yield Progress(k, total, f"Far checks: {name} ({k + 1} of {len(ids)})")
        scores += far_scores(engine, [mid], groups=groups)
    yield Progress(len(ids), total, "Swap checks ...")
    flags: list[ReviewFlag] = far_flags_from_scores(sets, scores) + swap_flags(engine)
    queue = ReviewQueue(flags)
    found = open_flags(store, category)
    yield Progress(total, total, "Done")
    return CheckResult(queue, found)


def open_flags(store: ProjectStore, category: str) -> list[OpenFlag]:
    """The category's unresolved flags, oldest first."""
    stmt = (select(KeypointFlag.id, KeypointFlag.keypoint_id, KeypointFlag.reason,
                   Keypoint.model_id, Model.name, Keypoint.set_id, Annotator.name,
                   CorrespondenceSet.number, Keypoint.face_index, Keypoint.x, Keypoint.y,
                   Keypoint.z)
            .join(Keypoint, Keypoint.id == KeypointFlag.keypoint_id)
            .join(Model, Model.id == Keypoint.model_id)
            .join(Category, Category.id == Model.category_id)
            .join(CorrespondenceSet, CorrespondenceSet.id == Keypoint.set_id)
            .join(Annotator, Annotator.id == CorrespondenceSet.annotator_id)
            .where(KeypointFlag.resolved_at.is_(None), Category.name == category)
            .order_by(KeypointFlag.id))
    with store.session() as s:
        rows = s.execute(stmt).all()
    return [OpenFlag(int(r[0]), int(r[1]), r[2], int(r[3]), r[4], int(r[5]), r[6], int(r[7]),
                     None if r[8] is None else int(r[8]),
                     None if r[9] is None else (float(r[9]), float(r[10]), float(r[11])))
            for r in rows]


def keypoint_position(store: ProjectStore, keypoint_id: int
                      ) -> tuple[int | None, tuple[float, float, float] | None]:
    """(face, xyz) of a keypoint ((None, None) when absent or gone)."""
    with store.session() as s:
        row = s.execute(select(Keypoint.face_index, Keypoint.x, Keypoint.y, Keypoint.z)
                        .where(Keypoint.id == int(keypoint_id))).first()
    if row is None or row[1] is None:
        return None, None
    return (None if row[0] is None else int(row[0])), (float(row[1]), float(row[2]),
                                                       float(row[3]))
