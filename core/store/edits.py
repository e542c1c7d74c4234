"""Annotation edits with permissions, optimistic concurrency and undo.

A :class:`KeypointEditor` acts for one annotator. Every method is one committed
transaction and returns a :class:`KeypointChange` (before/after snapshots) that
:meth:`KeypointEditor.revert` turns back; the revert returns the inverse change,
so undo and redo are the same operation (the UI wraps them in QUndoCommands).

Rules:
- annotators change only their own sets, points and templates;
- reviewers may also flag (and resolve flags on) any point;
- admins may change anything.
Edits name the version they were made from; a row changed since then raises
:class:`ConflictError` instead of overwriting a teammate's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from core.store.errors import ConflictError, NotFound, PermissionDenied
from core.store.project_store import ProjectStore
from core.store.schema import (
    Annotator,
    CorrespondenceSet,
    Keypoint,
    KeypointFlag,
    Model,
    PointState,
    Role,
    Template,
)

_KP = Keypoint.__table__


@dataclass(frozen=True)
class KeypointState:
    """A snapshot of one keypoint row (positions in normalized model units)."""

    id: int
    model_id: int
    set_id: int
    state: str  # "placed" | "absent"
    face: int | None
    bary: tuple[float, float, float] | None
    xyz: tuple[float, float, float] | None
    rgb: tuple[int, int, int]
    author_id: int | None
    version: int
    point_index: int | None = None
    source_order: int | None = None


@dataclass(frozen=True)
class KeypointChange:
    """What one edit did: the row before and after (None = no row)."""

    before: KeypointState | None
    after: KeypointState | None


@dataclass(frozen=True)
class Actor:
    """Who edits: annotator id, name and role."""

    id: int
    name: str
    role: Role


class KeypointEditor:
    """Edits made by one annotator (``actor``, by name) on a project."""

    def __init__(self, store: ProjectStore, actor: str) -> None:
        self.store = store
        with store.session() as s:
            row = s.scalars(select(Annotator).where(Annotator.name == actor)).first()
            if row is None:
                raise NotFound(f"No annotator {actor!r} in project {store.target}")
            self.actor = Actor(row.id, row.name, Role(row.role))

    # -------------------------------------------------------------- keypoints
    def place(self, model_id: int, set_id: int, face: int,
              bary: tuple[float, float, float], xyz: tuple[float, float, float],
              rgb: tuple[int, int, int] = (128, 128, 128),
              expected_version: int | None = None) -> KeypointChange:
        """Place the set's point on a model (face + barycentric weights + xyz).

        When the model already holds a point of this set (placed or absent), pass its
        ``expected_version``; without it, or with a stale one, raises ConflictError.
        """
        _check_point(face, bary, xyz)
        model_id, set_id = int(model_id), int(set_id)

        def op(s: Session) -> KeypointChange:
            self._require_set_owner(s, set_id)
            _require_model(s, model_id)
            current = _state_by_model_set(s, model_id, set_id)
            values = dict(_placed_values(face, bary, xyz, self.actor.id),
                          r=int(rgb[0]), g=int(rgb[1]), b=int(rgb[2]))
            if current is None:
                if expected_version is not None:
                    raise ConflictError(f"Set {set_id} on model {model_id} has no point any "
                                        "more (someone deleted it)", None)
                return KeypointChange(None, _insert(s, dict(model_id=model_id, set_id=set_id,
                                                            version=1, **values)))
            _expect(current, expected_version)
            return KeypointChange(current, _update(s, current, values))

        return self.store.write(op)

    def move(self, keypoint_id: int, expected_version: int, face: int,
             bary: tuple[float, float, float], xyz: tuple[float, float, float],
             ) -> KeypointChange:
        """Move a point along the surface to a new face/weights/xyz."""
        _check_point(face, bary, xyz)
        keypoint_id = int(keypoint_id)

        def op(s: Session) -> KeypointChange:
            current = _state_by_id(s, keypoint_id)
            self._require_set_owner(s, current.set_id)
            _expect(current, expected_version)
            values = _placed_values(face, bary, xyz, self.actor.id)
            return KeypointChange(current, _update(s, current, values))

        return self.store.write(op)

    def mark_absent(self, model_id: int, set_id: int,
                    expected_version: int | None = None) -> KeypointChange:
        """Record that the set's part is absent on this model (replaces a placed point)."""
        model_id, set_id = int(model_id), int(set_id)

        def op(s: Session) -> KeypointChange:
            self._require_set_owner(s, set_id)
            _require_model(s, model_id)
            current = _state_by_model_set(s, model_id, set_id)
            values = dict(state=PointState.absent.value, face_index=None, w0=None, w1=None,
                          w2=None, x=None, y=None, z=None, author_id=self.actor.id)
            if current is None:
                if expected_version is not None:
                    raise ConflictError(f"Set {set_id} on model {model_id} has no point any "
                                        "more", None)
                return KeypointChange(None, _insert(s, dict(model_id=model_id, set_id=set_id,
                                                            version=1, r=128, g=128, b=128,
                                                            **values)))
            _expect(current, expected_version)
            return KeypointChange(current, _update(s, current, values))

        return self.store.write(op)

    def delete(self, keypoint_id: int, expected_version: int) -> KeypointChange:
        """Delete a point (placed or absent marker)."""
        keypoint_id = int(keypoint_id)

        def op(s: Session) -> KeypointChange:
            current = _state_by_id(s, keypoint_id)
            self._require_set_owner(s, current.set_id)
            _expect(current, expected_version)
            s.execute(delete(_KP).where(_KP.c.id == keypoint_id))
            return KeypointChange(current, None)

        return self.store.write(op)

    def revert(self, change: KeypointChange) -> KeypointChange:
        """Undo ``change``: the row must still hold what the change left (its content;
        the version counter may have moved on through undo of later steps).

        Returns the inverse change: reverting it redoes the original edit.
        """
        return self.store.write(lambda s: self._revert(s, change))

    def revert_many(self, changes: Sequence[KeypointChange]) -> list[KeypointChange]:
        """Undo several changes in one transaction (a bulk accept is one undo step).
        Changes are undone last-first; returns the inverse changes in that order, so
        ``revert_many(result)`` redoes them."""
        return self.store.write(lambda s: [self._revert(s, c) for c in reversed(changes)])

    def _revert(self, s: Session, change: KeypointChange) -> KeypointChange:
        ref = change.after or change.before
        if ref is None:
            raise ValueError("an empty change cannot be reverted")
        self._require_set_owner(s, ref.set_id)
        if change.after is None:
            current = _state_by_model_set(s, ref.model_id, ref.set_id)
            if current is not None:
                raise ConflictError("Cannot undo the delete: the point was placed again "
                                    "by someone else", current)
        else:
            current = _state_by_id(s, change.after.id, missing_ok=True)
            if current is None or not _same_content(current, change.after):
                raise ConflictError("Cannot undo: the point changed since (version "
                                    f"{current.version if current else 'deleted'})", current)
        target = change.before
        if target is None:
            s.execute(delete(_KP).where(_KP.c.id == current.id))
            return KeypointChange(current, None)
        if current is None:  # bring a deleted row back, with its id
            values = _row_values(target)
            values["version"] = target.version + 1
            return KeypointChange(None, _insert(s, values))
        values = _row_values(target)
        for key in ("id", "model_id", "set_id", "version"):
            values.pop(key)
        return KeypointChange(current, _update(s, current, values))

    # ------------------------------------------------------------------- sets
    def create_set(self, category_id: int, number: int, name: str | None = None) -> int:
        """Add one of the actor's own sets in a category; returns its id."""
        if number < 0:
            raise ValueError(f"Set numbers are >= 0 (got {number})")
        return self.store.add_sets(self.actor.id, category_id, [(number, name)])[number]

    def rename_set(self, set_id: int, name: str | None) -> str | None:
        """Rename a set; returns the previous name (rename back to undo)."""

        def op(s: Session) -> str | None:
            row = self._require_set_owner(s, set_id)
            previous = row.name
            row.name = name
            return previous

        return self.store.write(op)

    # -------------------------------------------------------------- templates
    def set_template(self, category_id: int, slot: int, model_id: int) -> int | None:
        """Use ``model_id`` as the actor's template in ``slot`` (1-6); returns the model
        previously in that slot (None when empty)."""
        if not 1 <= slot <= 6:
            raise ValueError(f"Template slots are 1-6 (got {slot})")

        def op(s: Session) -> int | None:
            _require_model(s, model_id)
            row = s.scalars(select(Template).where(
                Template.annotator_id == self.actor.id, Template.category_id == category_id,
                Template.slot == slot)).first()
            if row is None:
                s.add(Template(annotator_id=self.actor.id, category_id=category_id, slot=slot,
                               model_id=model_id))
                return None
            previous, row.model_id = row.model_id, model_id
            return previous

        return self.store.write(op)

    def clear_template(self, category_id: int, slot: int) -> int | None:
        """Empty a template slot; returns the model it held."""

        def op(s: Session) -> int | None:
            row = s.scalars(select(Template).where(
                Template.annotator_id == self.actor.id, Template.category_id == category_id,
                Template.slot == slot)).first()
            if row is None:
                return None
            previous = row.model_id
            s.delete(row)
            return previous

        return self.store.write(op)

    def templates(self, category_id: int) -> dict[int, int]:
        """The actor's templates in a category: slot -> model id."""
        with self.store.session() as s:
            rows = s.execute(select(Template.slot, Template.model_id).where(
                Template.annotator_id == self.actor.id,
                Template.category_id == category_id)).all()
        return dict(rows)

    # ----------------------------------------------------------------- review
    def flag(self, keypoint_id: int, reason: str) -> int:
        """Flag a point as a likely mistake (reviewers and admins: any point; others:
        their own). Returns the flag id."""

        def op(s: Session) -> int:
            current = _state_by_id(s, keypoint_id)
            if self.actor.role == Role.annotator:
                self._require_set_owner(s, current.set_id)
            row = KeypointFlag(keypoint_id=keypoint_id, reviewer_id=self.actor.id,
                               reason=reason[:500])
            s.add(row)
            s.flush()
            return row.id

        return self.store.write(op)

    def resolve_flag(self, flag_id: int) -> None:
        """Close a flag (reviewers and admins)."""
        if self.actor.role == Role.annotator:
            raise PermissionDenied(f"{self.actor.name} is an annotator: only reviewers and "
                                   "admins resolve flags")

        def op(s: Session) -> None:
            row = s.get(KeypointFlag, flag_id)
            if row is None:
                raise NotFound(f"No flag {flag_id}")
            row.resolved_by = self.actor.id
            row.resolved_at = datetime.now(UTC)

        self.store.write(op)

    def open_flags(self, category_id: int | None = None) -> list[tuple[int, int, str]]:
        """Unresolved flags as (flag id, keypoint id, reason), oldest first."""
        stmt = select(KeypointFlag.id, KeypointFlag.keypoint_id, KeypointFlag.reason).where(
            KeypointFlag.resolved_at.is_(None)).order_by(KeypointFlag.id)
        if category_id is not None:
            stmt = stmt.join(Keypoint, Keypoint.id == KeypointFlag.keypoint_id).join(
                Model, Model.id == Keypoint.model_id).where(Model.category_id == category_id)
        with self.store.session() as s:
            return [tuple(r) for r in s.execute(stmt).all()]

    # ---------------------------------------------------------------- helpers
    def _require_set_owner(self, s: Session, set_id: int) -> CorrespondenceSet:
        row = s.get(CorrespondenceSet, int(set_id))
        if row is None:
            raise NotFound(f"No correspondence set {set_id} in project {self.store.target}")
        if self.actor.role != Role.admin and row.annotator_id != self.actor.id:
            owner = s.get(Annotator, row.annotator_id)
            raise PermissionDenied(
                f"{self.actor.name} ({self.actor.role.value}) cannot change set {row.number} of "
                f"{owner.name if owner else 'another annotator'}: annotators change only their "
                "own sets")
        return row


# ------------------------------------------------------------------ row helpers
def _check_point(face: int, bary, xyz) -> None:
    import math

    if int(face) < 0:
        raise ValueError(f"face index must be >= 0 (got {face})")
    if len(bary) != 3 or any(not math.isfinite(w) or w < -1e-9 for w in bary) or \
            abs(sum(bary) - 1.0) > 1e-6:
        raise ValueError(f"barycentric weights must be >= 0 and sum to 1 (got {tuple(bary)})")
    if len(xyz) != 3 or any(not math.isfinite(c) for c in xyz):
        raise ValueError(f"xyz must be 3 finite numbers (got {tuple(xyz)})")


def _placed_values(face: int, bary, xyz, author_id: int) -> dict:
    """Keypoint columns of a point placed on ``face`` with weights ``bary`` at ``xyz``."""
    return dict(state=PointState.placed.value, face_index=int(face), w0=float(bary[0]),
                w1=float(bary[1]), w2=float(bary[2]), x=float(xyz[0]), y=float(xyz[1]),
                z=float(xyz[2]), author_id=author_id)


def _require_model(s: Session, model_id: int) -> None:
    if s.get(Model, int(model_id)) is None:
        raise NotFound(f"No model {model_id} in this project")


def _expect(current: KeypointState, expected_version: int | None) -> None:
    if expected_version is None:
        raise ConflictError(f"Set {current.set_id} on model {current.model_id} already has a "
                            f"point (version {current.version}); edit it instead", current)
    if current.version != expected_version:
        raise ConflictError(f"Point {current.id} was changed by someone else (now version "
                            f"{current.version}, you edited version {expected_version})", current)


def _to_state(row) -> KeypointState:
    m = row._mapping
    placed = m["state"] == PointState.placed.value
    return KeypointState(
        id=m["id"], model_id=m["model_id"], set_id=m["set_id"], state=m["state"],
        face=m["face_index"] if placed else None,
        bary=(m["w0"], m["w1"], m["w2"]) if placed else None,
        xyz=(m["x"], m["y"], m["z"]) if placed else None,
        rgb=(m["r"], m["g"], m["b"]), author_id=m["author_id"], version=m["version"],
        point_index=m["point_index"], source_order=m["source_order"])


def _same_content(a: KeypointState, b: KeypointState) -> bool:
    """Equal but for the version counter (undoing later steps bumps versions, not content)."""
    return replace(a, version=0) == replace(b, version=0)


def _row_values(state: KeypointState) -> dict:
    placed = state.state == PointState.placed.value
    bary = state.bary if placed else (None, None, None)
    xyz = state.xyz if placed else (None, None, None)
    return dict(id=state.id, model_id=state.model_id, set_id=state.set_id, state=state.state,
                face_index=state.face, w0=bary[0], w1=bary[1], w2=bary[2], x=xyz[0], y=xyz[1],
                z=xyz[2], r=state.rgb[0], g=state.rgb[1], b=state.rgb[2],
                author_id=state.author_id, version=state.version,
                point_index=state.point_index, source_order=state.source_order)


def _state_by_id(s: Session, keypoint_id: int, missing_ok: bool = False) -> KeypointState | None:
    row = s.execute(select(_KP).where(_KP.c.id == keypoint_id)).first()
    if row is None:
        if missing_ok:
            return None
        raise ConflictError(f"Point {keypoint_id} no longer exists (deleted by someone else)")
    return _to_state(row)


def _state_by_model_set(s: Session, model_id: int, set_id: int) -> KeypointState | None:
    row = s.execute(select(_KP).where(_KP.c.model_id == model_id,
                                      _KP.c.set_id == set_id)).first()
    return None if row is None else _to_state(row)


def _insert(s: Session, values: dict) -> KeypointState:
    now = datetime.now(UTC)
    values = {**values, "created_at": now, "updated_at": now}
    new_id = s.execute(insert(_KP).values(**values).returning(_KP.c.id)).scalar_one()
    return _state_by_id(s, new_id)


def _update(s: Session, current: KeypointState, values: dict) -> KeypointState:
    result = s.execute(update(_KP).where(_KP.c.id == current.id,
                                         _KP.c.version == current.version)
                       .values(**values, version=current.version + 1,
                               updated_at=datetime.now(UTC)))
    if result.rowcount != 1:  # a concurrent writer got in between read and write
        raise ConflictError(f"Point {current.id} was changed by someone else meanwhile",
                            _state_by_id(s, current.id, missing_ok=True))
    return _state_by_id(s, current.id)


__all__ = ["Actor", "KeypointChange", "KeypointEditor", "KeypointState"]
