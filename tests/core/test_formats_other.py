"""ShapeNet folder scan, MeshLab PickedPoints and Slicer markups export, validate helpers."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from core.formats import validate as val
from core.formats.meshlab_pp import read_pp, write_pp
from core.formats.records import FormatError, ModelAnnotation, PointRecord
from core.formats.shapenet import scan_shapenet_folder
from core.formats.slicer_markups import SCHEMA_URL, read_mrk_json, write_mrk_json

TETRA = """v 0 0 0
v 1 0 0
v 0 1 0
v 0 0 1
f 1 3 2
f 1 2 4
f 1 4 3
f 2 3 4
"""


def put_model(root: Path, *parts: str, text: str = TETRA) -> Path:
    path = root.joinpath(*parts, "models", "model_normalized.obj")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- shapenet


def test_scan_shapenet_root(tmp_path):
    a = put_model(tmp_path, "03001627", "chair_b")
    b = put_model(tmp_path, "03001627", "chair_a")
    c = put_model(tmp_path, "my_things", "thing1")
    (tmp_path / "03001627" / "no_mesh_here" / "images").mkdir(parents=True)
    (tmp_path / "README.txt").write_text("not a class")
    bundles = scan_shapenet_folder(tmp_path)
    assert [(x.category, x.shapenet_id) for x in bundles] == [("chair", "03001627"),
                                                            ("my_things", None)]
    chairs, things = bundles
    assert [m.name for m in chairs.models] == ["chair_a", "chair_b"]
    assert [m.mesh_path for m in chairs.models] == [str(b.resolve()), str(a.resolve())]
    assert all(Path(m.mesh_path).is_absolute() for m in chairs.models)
    assert [m.mesh_path for m in things.models] == [str(c.resolve())]
    assert chairs.annotations == () and chairs.models[0].point_cloud is None


def test_scan_root_that_is_a_class_folder(tmp_path):
    root = tmp_path / "04379243"
    put_model(root, "t1")
    put_model(root, "t2")
    (bundle,) = scan_shapenet_folder(root)
    assert (bundle.category, bundle.shapenet_id) == ("table", "04379243")
    assert [m.name for m in bundle.models] == ["t1", "t2"]


def test_scan_reports_bad_mesh_by_file(tmp_path):
    put_model(tmp_path, "03001627", "good")
    bad = put_model(tmp_path, "03001627", "bad", text=TETRA.replace("v 1 0 0", "v nan 0 0"))
    with pytest.raises(FormatError) as info:
        scan_shapenet_folder(tmp_path)
    assert info.value.path == str(bad) and "NaN" in str(info.value)
    bad.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3 4\n")
    with pytest.raises(FormatError, match="non-triangular"):
        scan_shapenet_folder(tmp_path)


def test_scan_empty_or_missing_folder(tmp_path):
    with pytest.raises(FormatError, match="no ShapeNet models") as info:
        scan_shapenet_folder(tmp_path)
    assert info.value.path == str(tmp_path)
    (tmp_path / "03001627" / "m" / "models").mkdir(parents=True)  # no mesh inside
    with pytest.raises(FormatError, match="no ShapeNet models"):
        scan_shapenet_folder(tmp_path)
    with pytest.raises(FormatError, match="not a folder"):
        scan_shapenet_folder(tmp_path / "absent")


# --------------------------------------------------------------------------- meshlab


ANN = ModelAnnotation("88382b87", "alice & <bob>", (
    PointRecord(0, (0.1, -0.2, 1 / 3)),
    PointRecord(5, None, absent=True),
    PointRecord(17, (1e-17, 123456.789012345678, -0.0)),
))


def test_write_pp_layout_and_round_trip(tmp_path):
    path = tmp_path / "m.pp"
    write_pp(ANN, path, {0: 'seat "left"', 17: "leg"}, when=datetime(2024, 5, 6, 7, 8, 9))
    text = path.read_text()
    assert text.startswith("<!DOCTYPE PickedPoints>\n<PickedPoints>")
    root = ET.fromstring(text.split("\n", 1)[1])
    doc = root.find("DocumentData")
    assert doc.find("DateTime").attrib == {"time": "07:08:09", "date": "2024-05-06"}
    assert doc.find("User").attrib == {"name": "alice & <bob>"}
    assert doc.find("DataFileName").attrib == {"name": "88382b87"}
    assert doc.find("templateName").attrib == {"name": ""}
    points = read_pp(path)
    assert points == [
        ('seat "left"', (0.1, -0.2, 1 / 3), True),
        ("5", (0.0, 0.0, 0.0), False),
        ("leg", (1e-17, 123456.789012345678, -0.0), True),
    ]
    assert math.copysign(1, points[2][1][2]) == -1  # repr keeps even the sign of zero


def test_read_pp_errors(tmp_path):
    path = tmp_path / "bad.pp"
    path.write_text("<PickedPoints><point x='1' y='oops' z='3'/></PickedPoints>")
    with pytest.raises(FormatError, match="non-numeric") as info:
        read_pp(path)
    assert info.value.record == 0
    path.write_text("<PickedPoints><point x='1' z='3'/></PickedPoints>")
    with pytest.raises(FormatError, match="missing attribute"):
        read_pp(path)
    path.write_text("<Other/>")
    with pytest.raises(FormatError, match="not <PickedPoints>"):
        read_pp(path)
    path.write_text("<PickedPoints>")
    with pytest.raises(FormatError, match="cannot parse XML"):
        read_pp(path)


def test_write_pp_rejects_nan(tmp_path):
    bad = ModelAnnotation("m", "a", (PointRecord(0, (math.nan, 0.0, 0.0)),))
    with pytest.raises(FormatError, match="non-finite"):
        write_pp(bad, tmp_path / "x.pp")
    assert not (tmp_path / "x.pp").exists()


# --------------------------------------------------------------------------- slicer


def test_write_mrk_json_layout(tmp_path):
    path = tmp_path / "m.mrk.json"
    write_mrk_json(ANN, path, {17: "leg"})
    doc = json.loads(path.read_text())
    assert doc["@schema"] == SCHEMA_URL
    assert SCHEMA_URL.endswith("markups-schema-v1.0.3.json#")
    (markup,) = doc["markups"]
    assert {k: markup[k] for k in ("type", "coordinateSystem", "coordinateUnits", "locked",
                                   "labelFormat", "measurements")} == {
        "type": "Fiducial", "coordinateSystem": "LPS", "coordinateUnits": "mm", "locked": False,
        "labelFormat": "%N-%d", "measurements": []}
    assert isinstance(markup["display"], dict) and markup["display"]["visibility"] is True
    cps = markup["controlPoints"]
    assert [cp["id"] for cp in cps] == ["1", "2", "3"]
    assert [cp["label"] for cp in cps] == ["0", "5", "leg"]
    assert [cp["description"] for cp in cps] == ["set 0", "set 5", "set 17"]
    assert [cp["positionStatus"] for cp in cps] == ["defined", "missing", "defined"]
    assert cps[1]["position"] == [0.0, 0.0, 0.0]
    for cp in cps:
        assert cp["orientation"] == [-1, 0, 0, 0, -1, 0, 0, 0, 1]
        assert (cp["associatedNodeID"], cp["selected"], cp["locked"], cp["visibility"]) == (
            "", True, False, True)
    assert read_mrk_json(path) == [
        ("0", (0.1, -0.2, 1 / 3), "defined"),
        ("5", (0.0, 0.0, 0.0), "missing"),
        ("leg", (1e-17, 123456.789012345678, -0.0), "defined"),
    ]


def test_read_mrk_json_errors(tmp_path):
    path = tmp_path / "x.mrk.json"
    base = {"@schema": SCHEMA_URL, "markups": [{"type": "Fiducial", "controlPoints": [
        {"label": "a", "position": [0, 0, 0]}, {"label": "b", "position": [0, "x", 0]}]}]}
    path.write_text(json.dumps(base))
    with pytest.raises(FormatError) as info:
        read_mrk_json(path)
    assert (info.value.record, info.value.field) == (1, "position")
    base["markups"][0]["controlPoints"][1] = {"position": [1, 2, 3], "positionStatus": "lost"}
    path.write_text(json.dumps(base))
    with pytest.raises(FormatError, match="unknown status"):
        read_mrk_json(path)
    path.write_text('{"markups": []}')
    with pytest.raises(FormatError, match="no markups"):
        read_mrk_json(path)
    path.write_text('{"markups": [')
    with pytest.raises(FormatError, match="truncated"):
        read_mrk_json(path)


# --------------------------------------------------------------------------- validate


def test_validate_helpers():
    f = "file.json"
    assert val.as_finite_triple([1, 2.5, -3], f, 0, "xyz") == (1.0, 2.5, -3.0)
    for bad in ([1, 2], [1, 2, True], [1, 2, float("nan")], [1, 2, 10**400], "abc", None):
        with pytest.raises(FormatError, match="xyz"):
            val.as_finite_triple(bad, f, 0, "xyz")
    assert val.as_index(0, f, 1, "i") == 0
    for bad in (-1, 1.0, True, "3", val.MAX_INDEX + 1):
        with pytest.raises(FormatError):
            val.as_index(bad, f, 1, "i")
    with pytest.raises(FormatError, match="out of range"):
        val.as_index(5, f, 1, "i", upper=5)
    assert val.as_barycentric([0.2, 0.3, 0.5], f, 2, "uv") == (0.2, 0.3, 0.5)
    assert val.as_barycentric([1 + 5e-7, -5e-7, 0.0], f, 2, "uv")  # within 1e-6 tolerances
    for bad in ([1.0, 0.0, 0.1], [1.1, -0.1, 0.0], [0.5, 0.5]):
        with pytest.raises(FormatError, match="uv"):
            val.as_barycentric(bad, f, 2, "uv")
    assert val.as_rgb([0, 128, 255], f, 3, "rgb") == (0, 128, 255)
    for bad in ([0, 0, 256], [0, 0, -1], [0, 0, 1.0], [0, 0], "red"):
        with pytest.raises(FormatError, match="rgb"):
            val.as_rgb(bad, f, 3, "rgb")
    with pytest.raises(FormatError) as info:
        val.require_key({}, "k", f, 4, "a.b")
    assert str(info.value) == "file.json, record 4, a.b.k: missing key"
