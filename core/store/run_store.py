"""Saved runs of a project: a live computation's every step, kept for replay and comparison.

A run is a list of steps; a step is a mapping of field name -> value where a value is a
number, a string, a bool, None, a JSON-ready dict/list, or a numpy array (any shape,
numeric or bool dtype). The steps are stored as one ``.npz`` archive (arrays under
``<step>/<field>``, everything else in a JSON document inside it; no pickles), with the
run's settings (``params``) and final metrics (``summary``) as JSON columns. Every write
is one committed transaction through :meth:`ProjectStore.write`.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.store.errors import NotFound, ProjectError
from core.store.project_store import ProjectStore
from core.store.schema import Category, Image, SavedRun

MAX_RUN_BYTES = 512 * 2**20  # a larger archive is refused (keep fewer steps or fields)
_META = "__steps__.json"
_FORMAT = "corrstudio-run/1"

__all__ = ["MAX_RUN_BYTES", "RunInfo", "SavedRunData", "delete_run", "list_runs", "load_run",
           "rename_run", "save_run"]


@dataclass(frozen=True)
class RunInfo:
    """A saved run, without its steps."""

    id: int
    category: str
    kind: str
    name: str
    image_id: int | None
    source: str | None
    params: dict
    summary: dict
    n_steps: int
    created_at: datetime  # timezone-aware UTC


@dataclass(frozen=True, eq=False)
class SavedRunData:
    """A saved run with its steps (each a dict of the fields given to :func:`save_run`)."""

    info: RunInfo
    steps: list[dict[str, Any]]


def encode_steps(steps: Sequence[Mapping[str, Any]]) -> bytes:
    """The ``.npz`` archive of ``steps`` (see the module docstring).

    Raises:
        ValueError: a value that is neither JSON-ready nor a numeric/bool array, a field
            name with ``/``, a NaN/inf outside an array (JSON cannot hold it).
    """
    arrays: dict[str, np.ndarray] = {}
    meta: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        plain: dict[str, Any] = {}
        for key, value in step.items():
            if "/" in key:
                raise ValueError(f"step {i}: field name {key!r} must not contain '/'")
            if isinstance(value, np.ndarray):
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"step {i}: field {key!r} has dtype {value.dtype}; "
                                     "only numbers and bools are stored")
                arrays[f"{i}/{key}"] = value
            elif isinstance(value, np.generic):
                plain[key] = value.item()
            else:
                plain[key] = value
        meta.append(plain)
    try:
        text = json.dumps({"format": _FORMAT, "steps": meta}, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a step field cannot be stored as JSON: {exc}") from exc
    arrays[_META] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def decode_steps(data: bytes, where: str = "saved run") -> list[dict[str, Any]]:
    """Steps from an archive written by :func:`encode_steps`.

    Raises:
        ProjectError: naming ``where`` when the archive is damaged or of another format.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            doc = json.loads(bytes(z[_META]).decode("utf-8"))
            if doc.get("format") != _FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {_FORMAT!r}")
            steps = [dict(s) for s in doc["steps"]]
            for name in z.files:
                if name == _META:
                    continue
                index, key = name.split("/", 1)
                steps[int(index)][key] = z[name]
    except Exception as exc:  # zip, JSON, index errors: one message naming the run
        raise ProjectError(f"{where} cannot be read: {exc}") from exc
    return steps


def save_run(store: ProjectStore, category: str, kind: str, name: str,
             steps: Sequence[Mapping[str, Any]], *, params: Mapping[str, Any] | None = None,
             summary: Mapping[str, Any] | None = None, image_id: int | None = None,
             source: str | None = None) -> RunInfo:
    """Save a run of ``category``; returns its :class:`RunInfo`.

    Raises:
        NotFound: unknown category or image.
        ValueError: an empty name or kind, a field that cannot be stored, an archive over
            :data:`MAX_RUN_BYTES`.
    """
    if not name.strip() or not kind.strip():
        raise ValueError("a saved run needs a name and a kind")
    data = encode_steps(steps)
    if len(data) > MAX_RUN_BYTES:
        raise ValueError(f"the run's steps take {len(data) / 2**20:,.0f} MiB; at most "
                         f"{MAX_RUN_BYTES / 2**20:,.0f} MiB can be saved")
    params_text = _json(params, "params")
    summary_text = _json(summary, "summary")

    def write(s: Session) -> int:
        cat = s.scalars(select(Category).where(Category.name == category)).first()
        if cat is None:
            raise NotFound(f"No category {category!r} in this project")
        if image_id is not None and s.get(Image, image_id) is None:
            raise NotFound(f"No image {image_id} in this project")
        row = SavedRun(category_id=cat.id, kind=kind, name=name.strip(), image_id=image_id,
                       source=source, params_json=params_text, summary_json=summary_text,
                       n_steps=len(steps), steps=data, created_at=datetime.now(UTC))
        s.add(row)
        s.flush()
        return row.id

    return _info(store, store.write(write))


def list_runs(store: ProjectStore, category: str | None = None,
              kind: str | None = None) -> list[RunInfo]:
    """Saved runs (newest first), optionally of one category and/or kind."""
    stmt = _info_query()
    if category is not None:
        stmt = stmt.where(Category.name == category)
    if kind is not None:
        stmt = stmt.where(SavedRun.kind == kind)
    with store.session() as s:
        rows = s.execute(stmt.order_by(SavedRun.created_at.desc(), SavedRun.id.desc())).all()
    return [_record(r) for r in rows]


def load_run(store: ProjectStore, run_id: int) -> SavedRunData:
    """A saved run with its steps.

    Raises:
        NotFound: no such run. ProjectError: its archive is damaged.
    """
    info = _info(store, run_id)
    with store.session() as s:
        data = s.scalars(select(SavedRun.steps).where(SavedRun.id == run_id)).first()
    if data is None:
        raise NotFound(f"No saved run {run_id} in this project")
    return SavedRunData(info, decode_steps(data, f"saved run {run_id} ({info.name!r})"))


def rename_run(store: ProjectStore, run_id: int, name: str) -> RunInfo:
    """Give a saved run a new name."""
    if not name.strip():
        raise ValueError("a saved run needs a name")

    def write(s: Session) -> None:
        done = s.execute(update(SavedRun).where(SavedRun.id == run_id)
                         .values(name=name.strip()))
        if done.rowcount == 0:
            raise NotFound(f"No saved run {run_id} in this project")

    store.write(write)
    return _info(store, run_id)


def delete_run(store: ProjectStore, run_id: int) -> None:
    """Delete a saved run (NotFound when there is none)."""

    def write(s: Session) -> None:
        if s.execute(delete(SavedRun).where(SavedRun.id == run_id)).rowcount == 0:
            raise NotFound(f"No saved run {run_id} in this project")

    store.write(write)


def _json(value: Mapping[str, Any] | None, what: str) -> str:
    try:
        return json.dumps(dict(value or {}), allow_nan=False, default=_plain)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the run's {what} cannot be stored as JSON: {exc}") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        v = value.item()
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"non-finite number {v}")
        return v
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-ready")


def _info_query():
    return (select(SavedRun.id, Category.name, SavedRun.kind, SavedRun.name, SavedRun.image_id,
                   SavedRun.source, SavedRun.params_json, SavedRun.summary_json,
                   SavedRun.n_steps, SavedRun.created_at)
            .join(Category, Category.id == SavedRun.category_id))


def _record(row) -> RunInfo:
    created = row[9]
    if created.tzinfo is None:  # SQLite returns naive datetimes
        created = created.replace(tzinfo=UTC)
    return RunInfo(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]),
                   json.loads(row[7]), row[8], created)


def _info(store: ProjectStore, run_id: int) -> RunInfo:
    with store.session() as s:
        row = s.execute(_info_query().where(SavedRun.id == run_id)).first()
    if row is None:
        raise NotFound(f"No saved run {run_id} in this project")
    return _record(row)
