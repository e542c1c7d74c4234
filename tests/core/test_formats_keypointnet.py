"""KeypointNet JSON: reading, validation errors, round trips and the mesh check."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path

import pytest

from core.formats.keypointnet import (
    KEYPOINT_EXTRA_KEY,
    check_against_mesh,
    read_keypointnet,
    write_keypointnet,
)
from core.formats.records import (
    AnnotationBundle,
    FormatError,
    ModelAnnotation,
    ModelEntry,
    PointRecord,
)

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "shared/data/keypointnet-sample"
SAMPLE_JSON = SAMPLE_DIR / "chair_88382b87.json"
SAMPLE_MESH = SAMPLE_DIR / "model_normalized.obj"


@pytest.fixture(scope="module")
def sample() -> Path:
    if not SAMPLE_JSON.is_file() or not SAMPLE_MESH.is_file():
        pytest.skip(f"KeypointNet sample not found at {SAMPLE_DIR} (../shared is absent)")
    return SAMPLE_JSON


def assert_json_close(a, b, where: str = "$", tol: float = 1e-9) -> None:
    """Structural equality of JSON values, floats to ``tol``, ints and bools exact."""
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), where
        assert not isinstance(a, bool) and not isinstance(b, bool), where
        assert math.isclose(a, b, rel_tol=0, abs_tol=tol), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a!r} vs {b!r}"
        for key in a:
            assert_json_close(a[key], b[key], f"{where}.{key}", tol)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_json_close(x, y, f"{where}[{i}]", tol)
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def _write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def make_record(rng: random.Random, class_id: str, model_id: str, n_kp: int) -> dict:
    """A valid KeypointNet record; optional parts (rgb, pcd_info, mesh_info,
    symmetries, extra keys) are present or not at random."""
    ids = rng.sample(range(40), n_kp)
    keypoints = []
    for sid in ids:
        kp: dict = {"xyz": [rng.uniform(-0.5, 0.5) for _ in range(3)]}
        if rng.random() < 0.8:
            kp["rgb"] = [rng.randrange(256) for _ in range(3)]
        kp["semantic_id"] = sid
        if rng.random() < 0.7:
            kp["pcd_info"] = {"point_index": rng.randrange(2048)}
        if rng.random() < 0.7:
            a, b = sorted((rng.random(), rng.random()))
            kp["mesh_info"] = {"face_index": rng.randrange(5000), "face_uv": [a, b - a, 1 - b]}
        if rng.random() < 0.1:
            kp["confidence"] = rng.random()
        keypoints.append(kp)
    record = {"class_id": class_id, "model_id": model_id, "keypoints": keypoints}
    if n_kp >= 2 and rng.random() < 0.6:
        record["symmetries"] = {"reflection": [{"kp_indexes": [0, 1]}], "rotation": []}
    if rng.random() < 0.2:
        record["note"] = {"by": "generator", "tags": [1, 2.5, None, True]}
    return record


def make_file(rng: random.Random, class_ids: list[str], per_class: int) -> list[dict]:
    records = []
    for class_id in class_ids:
        for i in range(per_class):
            records.append(make_record(rng, class_id, f"{class_id}_m{i:03d}", rng.randrange(0, 8)))
    return records


# --------------------------------------------------------------------------- reading


def test_read_real_sample(sample):
    bundles = read_keypointnet(sample)
    assert len(bundles) == 1
    bundle = bundles[0]
    raw = json.loads(sample.read_text())[0]
    assert bundle.category == "chair" and bundle.shapenet_id == "03001627"
    assert [m.name for m in bundle.models] == [raw["model_id"]]
    assert bundle.models[0].mesh_path is None
    (ann,) = bundle.annotations
    assert ann.annotator == sample.stem  # the file stem by default
    assert [p.number for p in ann.points] == [0, 1, 2, 3, 4, 5, 17, 18, 19, 20]
    for point, kp in zip(ann.points, raw["keypoints"], strict=True):
        assert point.xyz == tuple(kp["xyz"])
        assert point.rgb == tuple(kp["rgb"])
        assert point.point_index == kp["pcd_info"]["point_index"]
        assert point.face == kp["mesh_info"]["face_index"]
        assert point.bary == tuple(kp["mesh_info"]["face_uv"])
        assert not point.absent
    assert ann.extra == {"symmetries": raw["symmetries"]}
    assert read_keypointnet(sample, annotator="alice")[0].annotations[0].annotator == "alice"


def test_real_sample_round_trip(sample, tmp_path):
    out = tmp_path / "out.json"
    write_keypointnet(read_keypointnet(sample), out)
    assert_json_close(json.loads(out.read_text()), json.loads(sample.read_text()))
    # A second pass is byte-stable.
    out2 = tmp_path / "out2.json"
    write_keypointnet(read_keypointnet(out), out2)
    assert out2.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("seed", range(8))
def test_generated_multi_record_round_trip(tmp_path, seed):
    rng = random.Random(seed)
    classes = ["03001627", "04379243", "my_category", "12345678"][: 1 + seed % 4]
    records = make_file(rng, classes, per_class=1 + seed % 5)
    src = _write_json(tmp_path / "annotations.json", records)
    bundles = read_keypointnet(src)
    assert [b.shapenet_id or b.category for b in bundles] == classes
    assert sum(len(b.annotations) for b in bundles) == len(records)
    out = tmp_path / "written.json"
    write_keypointnet(bundles, out)
    assert_json_close(json.loads(out.read_text()), records)


def test_missing_optional_parts_are_none_and_stay_omitted(tmp_path):
    records = [{"class_id": "03001627", "model_id": "m", "keypoints": [
        {"xyz": [0, 1, 2], "semantic_id": 3},
        {"xyz": [0.5, 1, 2], "rgb": [1, 2, 3], "semantic_id": 4, "pcd_info": {"point_index": 7}},
    ]}]
    (bundle,) = read_keypointnet(_write_json(tmp_path / "a.json", records))
    p0, p1 = bundle.annotations[0].points
    assert (p0.rgb, p0.point_index, p0.face, p0.bary) == (None, None, None, None)
    assert p0.xyz == (0.0, 1.0, 2.0)
    assert (p1.rgb, p1.point_index, p1.face) == ((1, 2, 3), 7, None)
    out = tmp_path / "b.json"
    write_keypointnet([bundle], out)
    assert json.loads(out.read_text()) == records


def test_unknown_keypoint_keys_survive(tmp_path):
    records = [{"class_id": "x", "model_id": "m", "keypoints": [
        {"xyz": [0, 0, 0], "semantic_id": 2, "name": "seat corner"}]}]
    (bundle,) = read_keypointnet(_write_json(tmp_path / "a.json", records))
    assert bundle.annotations[0].extra == {KEYPOINT_EXTRA_KEY: {"2": {"name": "seat corner"}}}
    out = tmp_path / "b.json"
    write_keypointnet([bundle], out)
    assert json.loads(out.read_text()) == records


def test_interleaved_categories_are_grouped(tmp_path):
    rng = random.Random(1)
    records = [make_record(rng, c, f"m{i}", 2) for i, c in enumerate("abab")]
    bundles = read_keypointnet(_write_json(tmp_path / "a.json", records))
    assert [b.category for b in bundles] == ["a", "b"]
    out = tmp_path / "b.json"
    write_keypointnet(bundles, out)
    written = json.loads(out.read_text())
    assert_json_close(written, [records[0], records[2], records[1], records[3]])


def test_same_model_in_two_categories_is_fine(tmp_path):
    records = [{"class_id": c, "model_id": "m", "keypoints": []} for c in ("a", "b")]
    assert len(read_keypointnet(_write_json(tmp_path / "a.json", records))) == 2


# --------------------------------------------------------------------------- errors

VALID = {"class_id": "03001627", "model_id": "m0", "keypoints": [
    {"xyz": [0.1, 0.2, 0.3], "rgb": [1, 2, 3], "semantic_id": 0,
     "pcd_info": {"point_index": 5},
     "mesh_info": {"face_index": 9, "face_uv": [0.25, 0.25, 0.5]}},
    {"xyz": [0.4, 0.5, 0.6], "rgb": [4, 5, 6], "semantic_id": 17,
     "pcd_info": {"point_index": 6},
     "mesh_info": {"face_index": 10, "face_uv": [0.5, 0.5, 0.0]}},
], "symmetries": {"reflection": [{"kp_indexes": [0, 1]}], "rotation": []}}


def _mutated(path: tuple, value=None, delete: bool = False) -> dict:
    record = copy.deepcopy(VALID)
    target = record
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


NAN = float("nan")
CASES = [
    ("missing class_id", _mutated(("class_id",), delete=True), "class_id", "missing key"),
    ("model_id int", _mutated(("model_id",), 5), "model_id", "string"),
    ("keypoints dict", _mutated(("keypoints",), {}), "keypoints", "list"),
    ("keypoint not object", _mutated(("keypoints", 1), [1, 2]), "keypoints[1]", "object"),
    ("missing xyz", _mutated(("keypoints", 0, "xyz"), delete=True), "keypoints[0].xyz",
     "missing"),
    ("xyz NaN", _mutated(("keypoints", 0, "xyz"), [0.0, NAN, 1.0]), "keypoints[0].xyz",
     "finite"),
    ("xyz inf", _mutated(("keypoints", 1, "xyz"), [0.0, 1.0, float("inf")]),
     "keypoints[1].xyz", "finite"),
    ("xyz two items", _mutated(("keypoints", 0, "xyz"), [0.0, 1.0]), "keypoints[0].xyz", "3"),
    ("xyz string item", _mutated(("keypoints", 0, "xyz"), [0.0, "1", 2.0]),
     "keypoints[0].xyz", "number"),
    ("negative semantic_id", _mutated(("keypoints", 0, "semantic_id"), -1),
     "keypoints[0].semantic_id", "negative"),
    ("float semantic_id", _mutated(("keypoints", 0, "semantic_id"), 2.0),
     "keypoints[0].semantic_id", "integer"),
    ("bool semantic_id", _mutated(("keypoints", 0, "semantic_id"), True),
     "keypoints[0].semantic_id", "integer"),
    ("huge semantic_id", _mutated(("keypoints", 0, "semantic_id"), 10**40),
     "keypoints[0].semantic_id", "too large"),
    ("repeated semantic_id", _mutated(("keypoints", 1, "semantic_id"), 0),
     "keypoints[1].semantic_id", "repeats keypoints[0]"),
    ("rgb 256", _mutated(("keypoints", 0, "rgb"), [0, 256, 0]), "keypoints[0].rgb", "0..255"),
    ("rgb floats", _mutated(("keypoints", 0, "rgb"), [0.5, 0.5, 0.5]), "keypoints[0].rgb",
     "integer"),
    ("rgb 4 items", _mutated(("keypoints", 0, "rgb"), [1, 2, 3, 4]), "keypoints[0].rgb", "3"),
    ("pcd_info null", _mutated(("keypoints", 0, "pcd_info"), None), "keypoints[0].pcd_info",
     "object"),
    ("point_index negative", _mutated(("keypoints", 0, "pcd_info", "point_index"), -3),
     "keypoints[0].pcd_info.point_index", "negative"),
    ("point_index missing", _mutated(("keypoints", 0, "pcd_info", "point_index"), delete=True),
     "keypoints[0].pcd_info.point_index", "missing"),
    ("face_index float", _mutated(("keypoints", 1, "mesh_info", "face_index"), 1.5),
     "keypoints[1].mesh_info.face_index", "integer"),
    ("face_uv negative", _mutated(("keypoints", 0, "mesh_info", "face_uv"), [1.1, -0.1, 0.0]),
     "keypoints[0].mesh_info.face_uv", "negative"),
    ("face_uv sum", _mutated(("keypoints", 0, "mesh_info", "face_uv"), [0.3, 0.3, 0.3]),
     "keypoints[0].mesh_info.face_uv", "sum"),
    ("face_uv NaN", _mutated(("keypoints", 0, "mesh_info", "face_uv"), [NAN, 0.5, 0.5]),
     "keypoints[0].mesh_info.face_uv", "finite"),
    ("face_uv missing", _mutated(("keypoints", 0, "mesh_info", "face_uv"), delete=True),
     "keypoints[0].mesh_info.face_uv", "missing"),
    ("symmetry index out of range",
     _mutated(("symmetries", "reflection", 0, "kp_indexes"), [0, 2]),
     "symmetries.reflection[0].kp_indexes[1]", "out of range"),
    ("symmetries list", _mutated(("symmetries",), []), "symmetries", "object"),
    ("NaN in an extra", _mutated(("note",), {"w": [1.0, NAN]}), "note.w[1]", "non-finite"),
    ("NaN in a keypoint extra", _mutated(("keypoints", 0, "score"), float("-inf")),
     "keypoints[0].score", "non-finite"),
    ("reserved key", _mutated((KEYPOINT_EXTRA_KEY,), {}), KEYPOINT_EXTRA_KEY, "reserved"),
    ("lone surrogate", _mutated(("model_id",), "m\ud800"), "model_id", "surrogate"),
]


@pytest.mark.parametrize(("record", "field", "problem"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_invalid_record_names_file_record_and_field(tmp_path, record, field, problem):
    path = tmp_path / "bad_file.json"
    # allow_nan: JSON NaN/Infinity tokens, as Python's json writes them.
    path.write_text(json.dumps([copy.deepcopy(VALID) | {"model_id": "other"}, record]))
    with pytest.raises(FormatError) as info:
        read_keypointnet(path)
    err = info.value
    assert err.path == str(path) and str(path) in str(err)
    assert err.record == 1
    assert err.field == field
    assert problem in str(err)


def test_duplicate_model_names_both_records(tmp_path):
    other = copy.deepcopy(VALID) | {"model_id": "zz"}
    path = _write_json(tmp_path / "dup.json", [VALID, other, VALID])
    with pytest.raises(FormatError) as info:
        read_keypointnet(path)
    assert info.value.record == 2
    assert "records 0 and 2" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(("text", "problem"), [
    ('[{"class_id": "a", "model_id": "m", "keypoints": [', "truncated"),
    ("", "truncated"),
    ('{"class_id": "a"}', "list"),
    ("[1, 2]", "object"),
    ("[" * 100_000 + "]" * 100_000, "invalid JSON"),
])
def test_invalid_json_text(tmp_path, text, problem):
    path = tmp_path / "text.json"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_keypointnet(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_keypointnet(tmp_path / "missing.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'[{"class_id": "\xe9"}]')
    with pytest.raises(FormatError, match="UTF-8"):
        read_keypointnet(bad)


# --------------------------------------------------------------------------- writing


def _bundle(*annotations: ModelAnnotation, category="chair", shapenet_id=None):
    models = tuple(ModelEntry(name=m) for m in dict.fromkeys(a.model for a in annotations))
    return AnnotationBundle(category=category, shapenet_id=shapenet_id, models=models,
                            annotations=annotations)


def test_write_leaves_out_absent_points_and_uses_shapenet_id(tmp_path):
    ann = ModelAnnotation("m", "ann", (
        PointRecord(0, (0.0, 0.0, 1.0), face=3, bary=(1.0, 0.0, 0.0), rgb=(1, 2, 3)),
        PointRecord(1, None, absent=True),
        PointRecord(2, (1.0, 1.0, 1.0), point_index=4),
    ))
    out = tmp_path / "o.json"
    write_keypointnet([_bundle(ann, shapenet_id="03001627")], out)
    (record,) = json.loads(out.read_text())
    assert record["class_id"] == "03001627"
    assert [kp["semantic_id"] for kp in record["keypoints"]] == [0, 2]
    assert record["keypoints"][0] == {"xyz": [0.0, 0.0, 1.0], "rgb": [1, 2, 3], "semantic_id": 0,
                                      "mesh_info": {"face_index": 3, "face_uv": [1.0, 0.0, 0.0]}}
    assert record["keypoints"][1] == {"xyz": [1.0, 1.0, 1.0], "semantic_id": 2,
                                      "pcd_info": {"point_index": 4}}


def test_write_refuses_two_annotators_on_one_model_unless_filtered(tmp_path):
    a = ModelAnnotation("m", "alice", (PointRecord(0, (0.0, 0.0, 0.0)),))
    b = ModelAnnotation("m", "bob", (PointRecord(0, (1.0, 0.0, 0.0)),))
    out = tmp_path / "o.json"
    with pytest.raises(FormatError, match="alice.*bob") as info:
        write_keypointnet([_bundle(a, b)], out)
    assert str(out) in str(info.value) and not out.exists()
    write_keypointnet([_bundle(a, b)], out, annotator="bob")
    (record,) = json.loads(out.read_text())
    assert record["keypoints"][0]["xyz"] == [1.0, 0.0, 0.0]
    assert record["class_id"] == "chair"  # no ShapeNet id: the category name


def test_write_rejects_non_finite_and_unencodable(tmp_path):
    out = tmp_path / "o.json"
    bad = ModelAnnotation("m", "a", (PointRecord(0, (0.0, math.nan, 0.0)),))
    with pytest.raises(FormatError, match="non-finite"):
        write_keypointnet([_bundle(bad)], out)
    odd = ModelAnnotation("m", "a", (), extra={"blob": object()})
    with pytest.raises(FormatError, match="JSON"):
        write_keypointnet([_bundle(odd)], out)
    assert not out.exists()
    with pytest.raises(FormatError, match="cannot write"):
        write_keypointnet([], tmp_path / "no_such_dir" / "o.json")


# --------------------------------------------------------------------------- mesh check


def test_real_sample_agrees_with_its_mesh(sample):
    from core.geometry.mesh import load_mesh

    mesh = load_mesh(SAMPLE_MESH)
    (ann,) = read_keypointnet(sample)[0].annotations
    assert len(ann.points) == 10
    assert check_against_mesh(ann, mesh.vertices, mesh.faces, str(SAMPLE_MESH)) == []


def test_shifted_or_out_of_range_faces_are_reported(sample):
    from dataclasses import replace

    from core.geometry.mesh import load_mesh

    mesh = load_mesh(SAMPLE_MESH)
    (ann,) = read_keypointnet(sample)[0].annotations
    points = list(ann.points)
    points[3] = replace(points[3], face=points[3].face + 1)
    points[5] = replace(points[5], face=mesh.n_faces)
    problems = check_against_mesh(replace(ann, points=tuple(points)), mesh.vertices,
                                  mesh.faces, "chair.obj")
    assert len(problems) == 2
    assert "keypoint 3 (set 3)" in problems[0] and "barycentric position" in problems[0]
    assert "keypoint 5 (set 5)" in problems[1] and "out of range" in problems[1]
    assert all(p.startswith("chair.obj") for p in problems)
