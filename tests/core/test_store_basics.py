"""Project store: create/open, clear errors for bad files, keypoints round trip."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from core.store import KeypointRecord, ProjectError, ProjectStore, migrate


@pytest.fixture
def store(db_target):
    s = ProjectStore.create(db_target, name="Test project")
    yield s
    s.close()


def _fill(store: ProjectStore):
    cat = store.add_category("chair", "03001627")
    ann = store.add_annotator("alice")
    m1, m2 = store.add_models(cat, [dict(name="m1", mesh_path="meshes/m1.ply", n_faces=10),
                                    dict(name="m2", mesh_path="/abs/m2.ply")])
    sets = store.add_sets(ann, cat, [(0, "seat"), (7, None)])
    store.add_keypoints([
        KeypointRecord(m1, sets[0], 3, (0.2, 0.3, 0.5), (0.1, 0.2, 0.3), rgb=(1, 2, 3)),
        KeypointRecord(m1, sets[7], 4, (1.0, 0.0, 0.0), (0.4, 0.5, 0.6)),
        KeypointRecord(m2, sets[0], None, None, None, absent=True),
    ])
    return cat, ann, (m1, m2), sets


def test_create_sets_head_revision_and_sqlite_pragmas(store):
    assert store.name == "Test project"
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_keypoints_round_trip_and_counts(store):
    _cat, _ann, (m1, m2), sets = _fill(store)
    kp = store.keypoints_of_model(m1)
    assert len(kp) == 2
    assert kp.numbers.tolist() == [0, 7]
    np.testing.assert_allclose(kp.xyz, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    np.testing.assert_allclose(kp.bary[0], [0.2, 0.3, 0.5])
    assert kp.faces.tolist() == [3, 4]
    assert kp.rgb[0].tolist() == [1, 2, 3]
    assert kp.annotators == ("alice", "alice")
    assert len(store.keypoints_of_model(m2)) == 0  # absent points are not "placed"
    [cat] = store.categories()
    assert (cat.n_models, cat.n_sets, cat.n_keypoints) == (2, 2, 2)
    models = {m.name: m for m in store.models("chair")}
    assert models["m1"].mesh_file == store.root / "meshes" / "m1.ply"  # relative to root
    assert str(models["m2"].mesh_file) == "/abs/m2.ply"
    assert models["m1"].n_keypoints == 2 and models["m2"].n_keypoints == 0


def test_one_keypoint_per_model_and_set(store):
    _cat, _ann, (m1, _m2), sets = _fill(store)
    with pytest.raises(Exception, match="(?i)unique"):
        store.add_keypoints([KeypointRecord(m1, sets[0], 1, (1, 0, 0), (0, 0, 0))])
    assert len(store.keypoints_of_model(m1)) == 2  # the failed batch wrote nothing


def test_set_numbers_are_non_negative(store):
    cat = store.add_category("mug")
    ann = store.add_annotator("bob")
    assert store.add_sets(ann, cat, [(20, None)])  # KeypointNet semantic ids exceed 15
    with pytest.raises(Exception, match="(?i)check"):
        store.add_sets(ann, cat, [(-1, None)])


def test_reopen_keeps_data(db_target):
    with ProjectStore.create(db_target) as s:
        _fill(s)
    with ProjectStore.open(db_target) as s:
        assert [c.name for c in s.categories()] == ["chair"]
        assert s.categories()[0].n_keypoints == 2


def test_create_refuses_a_database_that_holds_a_project(db_target):
    ProjectStore.create(db_target).close()
    with pytest.raises(ProjectError, match="already"):
        ProjectStore.create(db_target)


def test_open_missing_file_names_it(tmp_path):
    with pytest.raises(ProjectError, match="not found.*nope.corrstudio"):
        ProjectStore.open(tmp_path / "nope.corrstudio")


def test_open_garbage_file_names_it_and_leaves_it_untouched(tmp_path):
    bad = tmp_path / "bad.corrstudio"
    bad.write_bytes(b"\x00garbage" * 64)
    before = bad.read_bytes()
    with pytest.raises(ProjectError, match="bad.corrstudio.*not a SQLite database"):
        ProjectStore.open(bad)
    assert bad.read_bytes() == before


def test_open_foreign_sqlite_database_is_refused(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ProjectError, match="other.db is not a CorrStudio project"):
        ProjectStore.open(other)


def test_truncated_project_file_gives_clear_error(tmp_path):
    path = tmp_path / "p.corrstudio"
    with ProjectStore.create(path) as s:
        _fill(s)
    data = path.read_bytes()
    cut = tmp_path / "cut.corrstudio"
    cut.write_bytes(data[: len(data) // 3] + b"\xff" * 100)
    with pytest.raises(ProjectError, match="cut.corrstudio"):
        s = ProjectStore.open(cut)
        s.categories()  # a lazily detected corruption must also be a ProjectError


def test_create_refuses_existing_file(tmp_path):
    path = tmp_path / "p.corrstudio"
    path.write_text("keep me")
    with pytest.raises(ProjectError, match="already exists"):
        ProjectStore.create(path)
    assert path.read_text() == "keep me"


def test_open_or_create(db_target):
    with ProjectStore.open_or_create(db_target, "first") as s:
        assert s.name == "first"
        s.add_category("mug")
    with ProjectStore.open_or_create(db_target, "second") as s:
        assert s.name == "first" and [c.name for c in s.categories()] == ["mug"]


def test_unreachable_server_is_a_clear_error():
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=3"
    with pytest.raises(ProjectError, match="127.0.0.1:1"):
        ProjectStore.open(url)
    with pytest.raises(ProjectError, match="127.0.0.1:1"):
        ProjectStore.open_or_create(url)


def test_messages_never_show_a_password():
    url = "postgresql+psycopg://alice:s3cret@127.0.0.1:1/none?connect_timeout=3"
    with pytest.raises(ProjectError) as err:
        ProjectStore.open(url)
    assert "s3cret" not in str(err.value) and "alice" in str(err.value)
