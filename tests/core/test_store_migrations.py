"""Alembic migrations: a database at the first revision, with data, upgrades to head
with every row intact; the ORM schema matches what the migrations build."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from core.store import ProjectStore, migrate
from core.store.engine import make_engine
from core.store.schema import Base

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _fill_revision_0001(engine) -> None:
    rows = {
        "project": [dict(id=1, name="old", created_at=NOW, settings="{}")],
        "category": [dict(id=1, name="chair", shapenet_id="03001627")],
        "annotator": [dict(id=1, name="alice", role="annotator"),
                      dict(id=2, name="rita", role="reviewer")],
        "model": [dict(id=1, category_id=1, name="m1", mesh_path="m1.ply", content_hash="ab",
                       n_vertices=8, n_faces=12, transform=None)],
        "template": [dict(id=1, annotator_id=1, category_id=1, slot=1, model_id=1)],
        "correspondence_set": [dict(id=1, annotator_id=1, category_id=1, number=3, name="leg"),
                               dict(id=2, annotator_id=1, category_id=1, number=15, name=None)],
        "keypoint": [dict(id=1, model_id=1, set_id=1, state="placed", face_index=5, w0=0.25,
                          w1=0.25, w2=0.5, x=0.1, y=0.2, z=0.3, r=1, g=2, b=3, author_id=1,
                          created_at=NOW, updated_at=NOW, version=4),
                     dict(id=2, model_id=1, set_id=2, state="absent", face_index=None, w0=None,
                          w1=None, w2=None, x=None, y=None, z=None, r=128, g=128, b=128,
                          author_id=1, created_at=NOW, updated_at=NOW, version=1)],
    }
    with engine.begin() as conn:
        for table, items in rows.items():
            cols = list(items[0])
            conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                              f"({', '.join(':' + c for c in cols)})"), items)
            if engine.dialect.name == "postgresql":  # explicit ids: move the sequence on
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    return rows


def _table(engine, name: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {name} ORDER BY 1"))]


def test_upgrade_from_first_revision_keeps_all_data(db_target):
    engine = make_engine(db_target)
    migrate.upgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    _fill_revision_0001(engine)
    before = {t: _table(engine, t) for t in ("project", "category", "annotator", "model",
                                             "template", "correspondence_set", "keypoint")}
    engine.dispose()

    with ProjectStore.open(db_target) as store:  # opening upgrades to head
        assert migrate.current_revision(store.engine) == migrate.head_revision() != "0001"
        after = {t: _table(store.engine, t) for t in before}
        for table in ("project", "annotator", "model", "template", "correspondence_set"):
            assert after[table] == before[table], table
        # new columns are appended (None for old rows); the old values are untouched
        assert [r[: len(before["keypoint"][0])] for r in after["keypoint"]] == before["keypoint"]
        assert [r[:3] for r in after["category"]] == before["category"]
        kp = store.keypoints_of_model(1)
        assert kp.numbers.tolist() == [3] and kp.xyz.tolist() == [[0.1, 0.2, 0.3]]
        # the relaxed check: numbers above 15 now allowed, negative ones still refused
        assert store.add_sets(1, 1, [(21, None)])
        with pytest.raises(Exception, match="(?i)check"):
            store.add_sets(1, 1, [(-2, None)])


def test_downgrade_to_first_revision_and_back(db_target):
    with ProjectStore.create(db_target) as store:
        cat = store.add_category("mug")
        ann = store.add_annotator("bob")
        store.add_sets(ann, cat, [(4, "rim")])
        migrate.downgrade(store.engine, "0001")
        assert migrate.current_revision(store.engine) == "0001"
        assert _table(store.engine, "correspondence_set")[0][3:] == (4, "rim")
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.head_revision()


def test_orm_schema_matches_migrations(db_target):
    engine = make_engine(db_target)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diffs == []
