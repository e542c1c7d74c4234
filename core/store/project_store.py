"""The project store: open/create a project and the queries the app needs.

Every mutating call is one committed transaction. Queries return plain records
(:mod:`core.store.records`), never ORM objects.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.store import migrate
from core.store.engine import is_url, make_engine
from core.store.errors import ProjectError, StoreUnavailable
from core.store.records import (
    ABSENT,
    PLACED,
    CategoryInfo,
    CategorySets,
    KeypointRecord,
    ModelInfo,
    ModelKeypoints,
)
from core.store.schema import (
    Annotator,
    Category,
    CorrespondenceSet,
    Keypoint,
    Model,
    PointState,
    ProjectInfo,
    Role,
)

T = TypeVar("T")
PROJECT_SUFFIX = ".corrstudio"
WRITE_ATTEMPTS = 6  # a busy SQLite file or a dropped server connection is retried
_SQLITE_MAGIC = b"SQLite format 3\x00"


class ProjectStore:
    """A CorrStudio project in a SQLite file or on a database server.

    Use :meth:`open` for an existing project and :meth:`create` for a new one.
    ``root`` is the folder relative mesh paths are resolved against (the project
    file's folder for SQLite; the current folder, or ``root=``, for a URL).
    """

    def __init__(self, engine: Engine, target: str, root: Path) -> None:
        self.engine = engine
        self.target = target
        self.root = root
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, target: str | Path, root: Path | None = None) -> ProjectStore:
        """Open an existing project; upgrade its schema to this version's head.

        Raises:
            ProjectError: naming the file/URL when it is missing, not a database,
                not a CorrStudio project, or cannot be read.
        """
        label = display_name(target)
        if not is_url(target):
            path = Path(target).expanduser()
            if not path.exists():
                raise ProjectError(f"Project file not found: {path}")
            if path.is_dir():
                raise ProjectError(f"{path} is a folder, not a project file (*{PROJECT_SUFFIX})")
            with path.open("rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
            if head != _SQLITE_MAGIC:
                raise ProjectError(
                    f"{path} is not a CorrStudio project: the file is not a SQLite database"
                )
            root = root or path.resolve().parent
            label = str(path)
        engine = make_engine(target)
        try:
            tables = set(inspect(engine).get_table_names())
            if "alembic_version" not in tables or "keypoint" not in tables:
                raise ProjectError(f"{label} is not a CorrStudio project (no CorrStudio tables)")
            migrate.upgrade(engine)
        except ProjectError:
            engine.dispose()
            raise
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:
            engine.dispose()
            raise ProjectError(f"Cannot read project {label}: {_short(exc)}") from exc
        return cls(engine, label, root or Path.cwd())

    @classmethod
    def create(cls, target: str | Path, name: str = "CorrStudio project",
               root: Path | None = None) -> ProjectStore:
        """Create a new project (a new SQLite file, or an empty database at a URL).

        Raises:
            ProjectError: when the file already exists or the database is not empty.
        """
        label = display_name(target)
        if not is_url(target):
            path = Path(target).expanduser()
            if path.exists():
                raise ProjectError(f"Cannot create project {path}: the file already exists")
            path.parent.mkdir(parents=True, exist_ok=True)
            root = root or path.resolve().parent
            label = str(path)
        engine = make_engine(target)
        try:
            if "keypoint" in set(inspect(engine).get_table_names()):
                raise ProjectError(f"Cannot create project at {label}: it already holds one")
            migrate.upgrade(engine)
            with Session(engine) as session, session.begin():
                session.add(ProjectInfo(name=name, settings={}))
        except ProjectError:
            engine.dispose()
            raise
        except (DatabaseError, OperationalError) as exc:
            engine.dispose()
            raise ProjectError(f"Cannot create project {label}: {_short(exc)}") from exc
        return cls(engine, label, root or Path.cwd())

    @classmethod
    def open_or_create(cls, target: str | Path, name: str | None = None) -> ProjectStore:
        """Open the project, creating it when the file is missing or the database empty."""
        if is_url(target):
            engine = make_engine(target)
            try:
                empty = not inspect(engine).get_table_names()
            except (DatabaseError, OperationalError) as exc:
                raise ProjectError(f"Cannot reach {display_name(target)}: {_short(exc)}") \
                    from exc
            finally:
                engine.dispose()
            if empty:
                return cls.create(target, name or "CorrStudio project")
        elif not Path(target).expanduser().exists():
            return cls.create(target, name or Path(target).stem)
        return cls.open(target)

    def close(self) -> None:
        """Release every connection (the SQLite file can then be moved or deleted)."""
        self.engine.dispose()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def session(self) -> Session:
        """A new ORM session for reading (``with store.session() as s:``)."""
        return self._sessions()

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one committed write transaction and return its result.

        SQLite write transactions start with BEGIN IMMEDIATE (writers queue on the
        busy timeout). A locked database, a serialization failure or a dropped server
        connection is retried with backoff; when it persists, raises
        :class:`StoreUnavailable` naming the project. Nothing is half-written: the
        transaction commits whole or not at all.
        """
        delay = 0.05
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
                    with conn.begin(), Session(bind=conn, expire_on_commit=False) as s:
                        result = fn(s)
                        s.flush()
                    return result
            except OperationalError as exc:
                if not _retryable(exc):
                    raise StoreUnavailable(
                        f"Cannot write to project {self.target}: {_short(exc)}") from exc
                if attempt == WRITE_ATTEMPTS - 1:
                    raise StoreUnavailable(
                        f"Project {self.target} stayed busy or unreachable after "
                        f"{WRITE_ATTEMPTS} attempts: {_short(exc)}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    # --------------------------------------------------------------- project
    @property
    def name(self) -> str:
        with self.session() as s:
            info = s.scalars(select(ProjectInfo).limit(1)).first()
            return info.name if info else Path(self.target).stem

    # --------------------------------------------------------------- writing
    def add_category(self, name: str, shapenet_id: str | None = None) -> int:
        """Add a category; returns its id."""
        def op(s: Session) -> int:
            cat = Category(name=name, shapenet_id=shapenet_id)
            s.add(cat)
            s.flush()
            return cat.id

        return self.write(op)

    def add_annotator(self, name: str, role: Role | str = Role.annotator) -> int:
        """Add an annotator; returns its id."""
        def op(s: Session) -> int:
            ann = Annotator(name=name, role=Role(role))
            s.add(ann)
            s.flush()
            return ann.id

        return self.write(op)

    def ensure_annotator(self, name: str, role: Role | str = Role.annotator) -> int:
        """Id of the annotator called ``name``, added with ``role`` when missing."""
        with self.session() as s:
            existing = s.scalars(select(Annotator.id).where(Annotator.name == name)).first()
        return existing if existing is not None else self.add_annotator(name, role)

    def add_models(self, category_id: int, models: Sequence[dict]) -> list[int]:
        """Add models to a category in one transaction.

        Each dict has ``name`` and optionally ``mesh_path`` (relative to ``root``),
        ``content_hash``, ``n_vertices``, ``n_faces``, ``transform`` (4x4 lists).
        Returns the new ids in order.
        """
        def op(s: Session) -> list[int]:
            rows = [Model(category_id=category_id, **m) for m in models]
            s.add_all(rows)
            s.flush()
            return [r.id for r in rows]

        return self.write(op)

    def add_sets(self, annotator_id: int, category_id: int,
                 numbers: Iterable[tuple[int, str | None]]) -> dict[int, int]:
        """Add an annotator's correspondence sets; returns number -> set id."""
        def op(s: Session) -> dict[int, int]:
            rows = [CorrespondenceSet(annotator_id=annotator_id, category_id=category_id,
                                      number=n, name=label) for n, label in numbers]
            s.add_all(rows)
            s.flush()
            return {r.number: r.id for r in rows}

        return self.write(op)

    def add_keypoints(self, records: Sequence[KeypointRecord]) -> int:
        """Insert keypoints in one transaction (all or nothing); returns the count."""
        rows = []
        for rec in records:
            placed = not rec.absent
            rows.append(dict(
                model_id=rec.model_id, set_id=rec.set_id,
                state=PointState.placed if placed else PointState.absent,
                face_index=rec.face if placed else None,
                w0=rec.bary[0] if placed else None, w1=rec.bary[1] if placed else None,
                w2=rec.bary[2] if placed else None,
                x=rec.xyz[0] if placed else None, y=rec.xyz[1] if placed else None,
                z=rec.xyz[2] if placed else None,
                r=rec.rgb[0], g=rec.rgb[1], b=rec.rgb[2], author_id=rec.author_id, version=1,
            ))
        if rows:
            self.write(lambda s: s.execute(Keypoint.__table__.insert(), rows))
        return len(rows)

    # --------------------------------------------------------------- queries
    def categories(self) -> list[CategoryInfo]:
        """Every category with model, set and placed-keypoint counts, by name."""
        with self.session() as s:
            n_models = dict(s.execute(
                select(Model.category_id, func.count()).group_by(Model.category_id)).all())
            n_sets = dict(s.execute(select(CorrespondenceSet.category_id, func.count())
                                    .group_by(CorrespondenceSet.category_id)).all())
            n_kp = dict(s.execute(
                select(Model.category_id, func.count())
                .join(Keypoint, Keypoint.model_id == Model.id)
                .where(Keypoint.state == PointState.placed).group_by(Model.category_id)).all())
            cats = s.scalars(select(Category).order_by(Category.name)).all()
            return [CategoryInfo(c.id, c.name, c.shapenet_id, n_models.get(c.id, 0),
                                 n_sets.get(c.id, 0), n_kp.get(c.id, 0)) for c in cats]

    def models(self, category: str | int) -> list[ModelInfo]:
        """Models of a category (by name or id), sorted by name, with keypoint counts."""
        with self.session() as s:
            cat = self._category(s, category)
            counts = dict(s.execute(
                select(Keypoint.model_id, func.count()).join(Model, Model.id == Keypoint.model_id)
                .where(Model.category_id == cat.id, Keypoint.state == PointState.placed)
                .group_by(Keypoint.model_id)).all())
            rows = s.scalars(select(Model).where(Model.category_id == cat.id)
                             .order_by(Model.name)).all()
            return [self._model_info(cat.name, m, counts.get(m.id, 0)) for m in rows]

    def model(self, category: str | int, name: str) -> ModelInfo:
        """One model by category and name. Raises KeyError naming both when missing."""
        with self.session() as s:
            cat = self._category(s, category)
            m = s.scalars(select(Model).where(Model.category_id == cat.id,
                                              Model.name == name)).first()
            if m is None:
                raise KeyError(f"No model {name!r} in category {cat.name!r}")
            n = s.scalar(select(func.count()).select_from(Keypoint).where(
                Keypoint.model_id == m.id, Keypoint.state == PointState.placed))
            return self._model_info(cat.name, m, int(n or 0))

    def keypoints_of_model(self, model_id: int) -> ModelKeypoints:
        """Placed keypoints of a model as arrays, ordered by annotator then number."""
        with self.session() as s:
            rows = s.execute(
                select(Keypoint.id, Keypoint.set_id, CorrespondenceSet.number, Annotator.name,
                       Keypoint.face_index, Keypoint.w0, Keypoint.w1, Keypoint.w2,
                       Keypoint.x, Keypoint.y, Keypoint.z, Keypoint.r, Keypoint.g, Keypoint.b)
                .join(CorrespondenceSet, CorrespondenceSet.id == Keypoint.set_id)
                .join(Annotator, Annotator.id == CorrespondenceSet.annotator_id)
                .where(Keypoint.model_id == model_id, Keypoint.state == PointState.placed)
                .order_by(Annotator.name, CorrespondenceSet.number)).all()
        k = len(rows)
        arr = np.array([r[4:] for r in rows], dtype=np.float64).reshape(k, 10)
        return ModelKeypoints(
            keypoint_ids=np.array([r[0] for r in rows], dtype=np.int64),
            set_ids=np.array([r[1] for r in rows], dtype=np.int64),
            numbers=np.array([r[2] for r in rows], dtype=np.int64),
            annotators=tuple(r[3] for r in rows),
            faces=arr[:, 0].astype(np.int64),
            bary=arr[:, 1:4].copy(),
            xyz=arr[:, 4:7].copy(),
            rgb=arr[:, 7:10].astype(np.uint8),
        )

    def category_sets(self, category: str | int) -> CategorySets:
        """All sets of a category with every model's points, as dense arrays (one query
        per table; see :class:`CategorySets`)."""
        with self.session() as s:
            cat = self._category(s, category)
            models = s.execute(select(Model.id, Model.name).where(Model.category_id == cat.id)
                               .order_by(Model.name)).all()
            sets = s.execute(
                select(CorrespondenceSet.id, Annotator.name, CorrespondenceSet.number,
                       CorrespondenceSet.name)
                .join(Annotator, Annotator.id == CorrespondenceSet.annotator_id)
                .where(CorrespondenceSet.category_id == cat.id)
                .order_by(Annotator.name, CorrespondenceSet.number)).all()
            kp = Keypoint.__table__
            rows = s.execute(
                select(kp.c.model_id, kp.c.set_id, kp.c.id, kp.c.version, kp.c.state,
                       kp.c.face_index, kp.c.w0, kp.c.w1, kp.c.w2, kp.c.x, kp.c.y, kp.c.z)
                .join(Model.__table__, Model.__table__.c.id == kp.c.model_id)
                .where(Model.__table__.c.category_id == cat.id)).all()
            name = cat.name
        m, n = len(models), len(sets)
        row_of = {mid: i for i, (mid, _) in enumerate(models)}
        col_of = {sid: j for j, (sid, *_rest) in enumerate(sets)}
        state = np.zeros((m, n), dtype=np.int8)
        keypoint_ids = np.full((m, n), -1, dtype=np.int64)
        versions = np.zeros((m, n), dtype=np.int64)
        faces = np.full((m, n), -1, dtype=np.int64)
        geo = np.full((m, n, 6), np.nan)
        for r in rows:
            i, j = row_of[r[0]], col_of[r[1]]
            keypoint_ids[i, j], versions[i, j] = r[2], r[3]
            if r[4] == "placed":
                state[i, j] = PLACED
                faces[i, j] = r[5] if r[5] is not None else -1
                geo[i, j] = [np.nan if v is None else v for v in r[6:12]]
            else:
                state[i, j] = ABSENT
        return CategorySets(
            category=name,
            model_ids=np.array([r[0] for r in models], dtype=np.int64),
            model_names=tuple(r[1] for r in models),
            set_ids=np.array([r[0] for r in sets], dtype=np.int64),
            set_annotators=tuple(r[1] for r in sets),
            set_numbers=np.array([r[2] for r in sets], dtype=np.int64),
            set_names=tuple(r[3] for r in sets),
            state=state, keypoint_ids=keypoint_ids, versions=versions, faces=faces,
            bary=geo[:, :, :3].copy(), xyz=geo[:, :, 3:].copy())

    # --------------------------------------------------------------- helpers
    def resolve(self, mesh_path: str | None) -> Path | None:
        """Absolute path of a stored mesh path (relative ones are under ``root``)."""
        if mesh_path is None:
            return None
        p = Path(mesh_path)
        return p if p.is_absolute() else self.root / p

    def _model_info(self, category: str, m: Model, n_keypoints: int) -> ModelInfo:
        transform = tuple(tuple(float(v) for v in row) for row in m.transform) \
            if m.transform else None
        return ModelInfo(m.id, category, m.name, self.resolve(m.mesh_path), m.n_vertices,
                         m.n_faces, n_keypoints, transform)

    @staticmethod
    def _category(s: Session, category: str | int) -> Category:
        stmt = select(Category).where(
            Category.id == category if isinstance(category, int) else Category.name == category)
        cat = s.scalars(stmt).first()
        if cat is None:
            raise KeyError(f"No category {category!r} in this project")
        return cat


def display_name(target: str | Path) -> str:
    """A project file path, or a database URL with its password masked (for messages)."""
    if not is_url(target):
        return str(target)
    from sqlalchemy.engine import make_url

    try:
        return make_url(str(target)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say so without echoing it
        return "<invalid database URL>"


def _retryable(exc: OperationalError) -> bool:
    """Locked/busy SQLite, PostgreSQL serialization failures and deadlocks, lost connections."""
    if exc.connection_invalidated:
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if code in ("40001", "40P01", "08006", "08003", "57P01"):
        return True
    text = str(exc.orig).lower() if exc.orig is not None else ""
    return "locked" in text or "busy" in text


def _short(exc: BaseException) -> str:
    """First line of a database error, without SQLAlchemy's background link."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
