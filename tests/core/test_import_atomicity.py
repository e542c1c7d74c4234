"""Malformed files through the whole import path: a clear error naming the file, and the
project exactly as it was (property-based, on a real SQLite project)."""

from __future__ import annotations

import copy
import json
import shutil
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.formats.keypointnet import read_keypointnet
from core.formats.records import FormatError
from core.store import ProjectStore
from core.store.bundle_io import import_bundles
from core.store.native_bundle import export_native


def _record(i: int) -> dict:
    return {
        "class_id": "03001627", "model_id": f"model{i}",
        "keypoints": [
            {"xyz": [0.1 * k, 0.2, 0.3], "rgb": [10, 20, 30], "semantic_id": k,
             "pcd_info": {"point_index": 5 * k}, "mesh_info": {"face_index": k,
                                                               "face_uv": [0.2, 0.3, 0.5]}}
            for k in range(4)],
        "symmetries": {"reflection": [{"kp_indexes": [0, 1]}], "rotation": []},
    }


BASE = [_record(i) for i in range(3)]
BAD_VALUES = [float("nan"), float("inf"), -1, -0.5, "x", None, [], {}, [1, 2], [1, 2, 3, 4],
              1e308, 10**12, True, [0.5, 0.6, 0.1], [-0.2, 0.6, 0.6], [300, 0, 0], "03001627"]
KP_FIELDS = ["xyz", "rgb", "semantic_id", "pcd_info", "mesh_info"]
NESTED = [("mesh_info", "face_index"), ("mesh_info", "face_uv"), ("pcd_info", "point_index")]


@st.composite
def broken_files(draw) -> str:
    doc = copy.deepcopy(BASE)
    kind = draw(st.sampled_from(["keypoint", "nested", "record", "drop", "duplicate",
                                 "truncate"]))
    r = draw(st.integers(0, 2))
    k = draw(st.integers(0, 3))
    bad = draw(st.sampled_from(BAD_VALUES))
    if kind == "keypoint":
        doc[r]["keypoints"][k][draw(st.sampled_from(KP_FIELDS))] = bad
    elif kind == "nested":
        outer, inner = draw(st.sampled_from(NESTED))
        doc[r]["keypoints"][k][outer][inner] = bad
    elif kind == "record":
        doc[r][draw(st.sampled_from(["class_id", "model_id", "keypoints"]))] = bad
    elif kind == "drop":
        del doc[r]["keypoints"][k][draw(st.sampled_from(["xyz", "semantic_id"]))]
    elif kind == "duplicate":
        doc.append(copy.deepcopy(doc[r]))
    text = json.dumps(doc)
    if kind == "truncate":
        text = text[: draw(st.integers(0, len(text) - 2))]
    return text


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A project that already holds data (one good import of the same category)."""
    path = tmp_path_factory.mktemp("fuzz") / "template.corrstudio"
    good = path.with_name("good.json")
    good.write_text(json.dumps([_record(9)]))
    with ProjectStore.create(path) as store:
        import_bundles(store, read_keypointnet(good, "earlier"), str(good))
        snapshot = export_native(store)
    return path, snapshot


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=broken_files())
def test_malformed_keypointnet_changes_nothing(template, tmp_path, text):
    path, snapshot = template
    project = tmp_path / f"{uuid.uuid4().hex}.corrstudio"
    shutil.copy(path, project)
    src = tmp_path / "incoming.json"
    src.write_text(text)
    try:
        with ProjectStore.open(project) as store:
            try:
                import_bundles(store, read_keypointnet(src, "fuzz"), str(src))
            except FormatError as exc:
                assert "incoming.json" in str(exc)
                assert export_native(store) == snapshot
            else:  # the mutation was harmless (e.g. a value that is valid after all)
                assert export_native(store) != snapshot
    finally:
        project.unlink(missing_ok=True)
