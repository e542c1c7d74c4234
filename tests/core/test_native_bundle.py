"""The native JSON bundle round-trips a whole project on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from core.formats.records import FormatError
from core.store import ProjectStore
from core.store.edits import KeypointEditor
from core.store.native_bundle import export_native, import_native, read_native, write_native


def _rich_project(store: ProjectStore) -> None:
    """Demo-like content plus the things a bare import would miss."""
    import numpy as np

    from core.formats.records import AnnotationBundle, ModelAnnotation, ModelEntry, PointRecord
    from core.store.bundle_io import import_bundles

    cloud = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    bundle = AnnotationBundle(
        "chair", "03001627", (ModelEntry("m1", None, cloud), ModelEntry("m2")),
        (ModelAnnotation("m1", "kpn", (PointRecord(20, (0.1, 0.2, 0.3), 4, (0.2, 0.3, 0.5),
                                                   (1, 2, 3), 7),
                                       PointRecord(3, None, absent=True)),
                         {"symmetries": {"reflection": [{"kp_indexes": [0, 1]}]}}),),
        {("kpn", 20): "seat front"}, {"mean_distance": [[0.0]]})
    import_bundles(store, [bundle])
    store.add_annotator("rita", "reviewer")
    kpn = KeypointEditor(store, "kpn")
    cat_id = store.categories()[0].id
    m2 = store.model("chair", "m2").id
    moved = kpn.place(m2, store.category_sets("chair").set_ids[0], face=1, bary=(1, 0, 0),
                      xyz=(0.5, 0.5, 0.5))
    kpn.move(moved.after.id, 1, face=2, bary=(0, 1, 0), xyz=(0.6, 0.6, 0.6))
    kpn.set_template(cat_id, 2, m2)
    KeypointEditor(store, "rita").flag(moved.after.id, "check this")


def test_round_trip_everything(db_target, tmp_path):
    with ProjectStore.create(db_target) as store:
        _rich_project(store)
        doc = export_native(store)
    assert {t: len(r) for t, r in doc["tables"].items() if r} == {
        "project": 1, "category": 1, "annotator": 2, "model": 2, "template": 1,
        "correspondence_set": 2, "keypoint": 3, "annotation_record": 1,
        "model_point_cloud": 1, "keypoint_flag": 1}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc))
    with ProjectStore.create(tmp_path / "copy.corrstudio") as copy:
        import_native(copy, read_native(path))
        again = export_native(copy)
        assert again == doc
        # the copy is a working project: its sequences continue after imported ids
        KeypointEditor(copy, "kpn").mark_absent(copy.model("chair", "m2").id,
                                                copy.category_sets("chair").set_ids[1])


def test_write_native_is_stable(tmp_path):
    with ProjectStore.create(tmp_path / "a.corrstudio") as store:
        _rich_project(store)
        write_native(store, tmp_path / "1.json")
        write_native(store, tmp_path / "2.json")
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes()


def test_bad_bundles_name_the_problem_and_change_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FormatError, match="bad.json"):
        read_native(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(FormatError, match="not a CorrStudio bundle"):
        read_native(bad)
    with ProjectStore.create(tmp_path / "src.corrstudio") as store:
        _rich_project(store)
        doc = export_native(store)
    doc["tables"]["keypoint"][1]["x"] = "not a number"
    doc["tables"]["keypoint"][0].pop("version")
    with ProjectStore.create(tmp_path / "dst.corrstudio") as dst:
        with pytest.raises(FormatError, match="record 0, tables.keypoint"):
            import_native(dst, doc, "doc.json")
        assert dst.categories() == []
        with pytest.raises(FormatError, match="not empty"):
            _rich_project(dst)
            import_native(dst, export_native(dst), "doc.json")


def test_bundle_from_an_older_revision_imports(tmp_path):
    """A bundle written before the image tables existed (revision 0002) still loads."""
    src = ProjectStore.create(tmp_path / "old.corrstudio")
    _rich_project(src)
    doc = export_native(src)
    src.close()
    doc["schema_revision"] = "0002"
    for table in ("image", "image_keypoint"):
        doc["tables"].pop(table, None)
    dst = ProjectStore.create(tmp_path / "new.corrstudio")
    assert import_native(dst, doc) > 0
    assert dst.category_sets("chair").state.sum() > 0
    doc["schema_revision"] = "9999"
    with pytest.raises(FormatError, match="schema revision 9999"):
        import_native(ProjectStore.create(tmp_path / "other.corrstudio"), doc)
    dst.close()
