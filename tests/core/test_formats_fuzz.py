"""Property tests: malformed input makes the readers raise FormatError and nothing else.

Each property feeds a generated file to ``read_keypointnet`` / ``read_cpnet``: random JSON
structures, valid records with random mutations (wrong types, NaN/inf, negative or huge
indices, bad weights, deleted keys, duplicated records), truncated text, random bytes;
HDF5 files with wrong dataset names, shapes, dtypes, out-of-range indices, odd names.
Either the reader raises :class:`FormatError` whose message names the file, or it returns
data that survives a write/read round trip unchanged.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.formats.cpnet import read_cpnet, write_cpnet
from core.formats.keypointnet import read_keypointnet, write_keypointnet
from core.formats.records import FormatError

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- JSON values

KEYS = ["class_id", "model_id", "keypoints", "symmetries", "xyz", "rgb", "semantic_id",
        "pcd_info", "point_index", "mesh_info", "face_index", "face_uv", "kp_indexes",
        "reflection", "rotation"]
SPECIAL = [math.nan, math.inf, -math.inf, -1, -2**40, 2**31, 2**63, 10**30, 1.5, 0.5, 1e308,
           True, False, None, "", "x", [], {}, [0, 0], [1, 2, 3, 4], [math.nan] * 3,
           [-0.5, 0.5, 1.0], [0.3, 0.3, 0.3], [256, 0, 0], [1.0, 2.0, 3.0]]

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
           | st.sampled_from(SPECIAL))
json_values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children,
                                        max_size=5)),
    max_leaves=25,
)

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
triples = st.lists(finite, min_size=3, max_size=3)


@st.composite
def keypoints(draw, semantic_id: int) -> dict:
    kp: dict = {"xyz": draw(triples)}
    if draw(st.booleans()):
        kp["rgb"] = draw(st.lists(st.integers(0, 255), min_size=3, max_size=3))
    kp["semantic_id"] = semantic_id
    if draw(st.booleans()):
        kp["pcd_info"] = {"point_index": draw(st.integers(0, 4096))}
    if draw(st.booleans()):
        a = draw(st.floats(0, 1))
        b = draw(st.floats(0, 1 - a))
        kp["mesh_info"] = {"face_index": draw(st.integers(0, 10**6)), "face_uv": [a, b, 1 - a - b]}
    return kp


@st.composite
def records(draw, index: int) -> dict:
    ids = draw(st.lists(st.integers(0, 30), unique=True, max_size=5))
    record = {"class_id": draw(st.sampled_from(["03001627", "04379243", "custom"])),
              "model_id": f"model_{index}",
              "keypoints": [draw(keypoints(sid)) for sid in ids]}
    if len(ids) >= 2 and draw(st.booleans()):
        record["symmetries"] = {"reflection": [{"kp_indexes": [0, 1]}], "rotation": []}
    return record


@st.composite
def valid_files(draw) -> list:
    n = draw(st.integers(0, 4))
    return [draw(records(i)) for i in range(n)]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, prefix + (i,))


@st.composite
def mutated_files(draw) -> list | object:
    doc = draw(valid_files())

    def fresh(strategy):  # drawn values may be shared objects (SPECIAL): never alias them
        return copy.deepcopy(draw(strategy))

    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        action = draw(st.sampled_from(["replace", "special", "delete", "duplicate"]))
        if not path:
            if action in ("replace", "special"):
                doc = fresh(json_values if action == "replace" else st.sampled_from(SPECIAL))
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if action == "replace":
            parent[key] = fresh(json_values)
        elif action == "special":
            parent[key] = fresh(st.sampled_from(SPECIAL))
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return doc


def _check_keypointnet(path: Path) -> None:
    """FormatError naming the file, or a result that round-trips."""
    try:
        bundles = read_keypointnet(path)
    except FormatError as err:
        assert str(path) in str(err)
        assert err.path == str(path)
        return
    out = path.with_name("written.json")
    write_keypointnet(bundles, out)
    assert read_keypointnet(out, annotator=path.stem) == bundles


@FUZZ
@given(doc=json_values)
def test_random_json_structures(work, doc):
    path = work / "random structure.json"
    path.write_text(json.dumps(doc))
    _check_keypointnet(path)


@FUZZ
@given(doc=st.lists(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4), max_size=3))
def test_random_record_shaped_structures(work, doc):
    path = work / "record shaped.json"
    path.write_text(json.dumps(doc))
    _check_keypointnet(path)


@FUZZ
@given(doc=mutated_files())
def test_mutated_valid_records(work, doc):
    path = work / "mutated.json"
    path.write_text(json.dumps(doc))
    _check_keypointnet(path)


@FUZZ
@given(doc=valid_files(), data=st.data())
def test_valid_files_round_trip_and_truncations_fail(work, doc, data):
    path = work / "valid.json"
    text = json.dumps(doc)
    path.write_text(text)
    _check_keypointnet(path)
    cut = data.draw(st.integers(0, len(text) - 1))
    path.write_text(text[:cut])
    with pytest.raises(FormatError) as info:
        read_keypointnet(path)
    assert str(path) in str(info.value)


@FUZZ
@given(blob=st.binary(max_size=200))
def test_random_bytes_json(work, blob):
    path = work / "bytes.json"
    path.write_bytes(blob)
    _check_keypointnet(path)


# --------------------------------------------------------------------------- HDF5

_H5_COMMON = ["rename", "drop", "group", "scalar", "slice", "dtype", "empty"]
H5_MUTATIONS = {  # per dataset, targeted mutations listed more than once to favour them
    "point_clouds": _H5_COMMON + ["transpose", "flatten", "extra_dims", "nan", "nan"],
    "keypoints": _H5_COMMON + ["transpose", "flatten", "extra_dims"] + ["index"] * 4,
    "mesh_names": _H5_COMMON + ["names"] * 3,
}
DTYPES = ["int8", "uint8", "int32", "uint64", "float16", "float32", "float64", "bool",
          "complex64", "S4"]


@st.composite
def h5_contents(draw) -> dict[str, object]:
    m = draw(st.integers(1, 4))
    n = draw(st.integers(1, 12))
    s = draw(st.integers(0, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    content: dict[str, object] = {
        "point_clouds": rng.normal(size=(m, n, 3)).astype(np.float32),
        "keypoints": rng.integers(-1, n, size=(m, s)),
        "mesh_names": np.array([f"model_{i}" for i in range(m)], dtype=h5py.string_dtype()),
    }
    for _ in range(draw(st.integers(0, 3))):
        names = sorted(n for n in H5_MUTATIONS if n in content)
        if not names:
            break
        name = draw(st.sampled_from(names))
        how = draw(st.sampled_from(H5_MUTATIONS[name]))
        value = content[name]
        if how == "rename":
            content[draw(st.sampled_from(["pointclouds", "keypoint", "names", "Keypoints"]))] = \
                content.pop(name)
        elif how == "drop":
            del content[name]
        elif how == "group":
            content[name] = "GROUP"
        elif how == "scalar":
            content[name] = np.float64(3.0)
        elif how == "transpose" and isinstance(value, np.ndarray):
            content[name] = value.T.copy()
        elif how == "flatten" and isinstance(value, np.ndarray):
            content[name] = value.reshape(-1)
        elif how == "slice" and isinstance(value, np.ndarray) and value.ndim:
            content[name] = value[: max(0, len(value) - draw(st.integers(1, 2)))]
        elif how == "dtype" and isinstance(value, np.ndarray) and value.dtype.kind != "O":
            dtype = draw(st.sampled_from(DTYPES))
            with np.errstate(invalid="ignore", over="ignore"):  # NaN -> int casts are fine
                content[name] = value.astype(dtype)
        elif how == "dtype" and isinstance(value, np.ndarray) and value.ndim:
            content[name] = np.arange(len(value), dtype=draw(st.sampled_from(DTYPES[:7])))
        elif how == "index" and name == "keypoints" and np.size(value):
            flat = np.asarray(value).reshape(-1).copy()
            flat[draw(st.integers(0, flat.size - 1))] = draw(
                st.sampled_from([-2, -10**9, n, n + 5, 2**31]))
            content[name] = flat.reshape(np.shape(value))
        elif how == "nan" and name == "point_clouds" and np.size(value):
            flat = np.asarray(value, dtype=np.float64).reshape(-1).copy()
            flat[draw(st.integers(0, flat.size - 1))] = draw(
                st.sampled_from([np.nan, np.inf, -np.inf]))
            content[name] = flat.reshape(np.shape(value))
        elif how == "names" and name == "mesh_names":
            choice = draw(st.sampled_from(["dup", "empty", "badutf8", "bytes"]))
            names = [f"model_{i}" for i in range(m)]
            if choice == "dup":
                names[-1] = names[0]
            elif choice == "empty":
                names[0] = ""
            if choice == "badutf8":
                content[name] = np.array([b"\xff\xfe"] * m, dtype="S2")
            elif choice == "bytes":
                content[name] = np.array([x.encode() for x in names], dtype="S")
            else:
                content[name] = np.array(names, dtype=h5py.string_dtype())
        elif how == "empty":
            content[name] = np.zeros((0,) * draw(st.integers(1, 3)))
        elif how == "extra_dims" and isinstance(value, np.ndarray):
            content[name] = value[..., None]
    return content


def _write_h5(path: Path, content: dict[str, object]) -> None:
    with h5py.File(path, "w") as h5:
        for name, value in content.items():
            if isinstance(value, str) and value == "GROUP":
                h5.create_group(name)
            else:
                h5.create_dataset(name, data=value)


def _check_cpnet(path: Path, out_dir: Path) -> None:
    try:
        bundle = read_cpnet(path)
    except FormatError as err:
        assert str(path) in str(err)
        return
    h5_path, _ = write_cpnet(bundle, out_dir)
    again = read_cpnet(h5_path, annotator=f"cpnet_{path.stem}")
    assert again.annotations == bundle.annotations
    for a, b in zip(again.models, bundle.models, strict=True):
        np.testing.assert_array_equal(a.point_cloud, b.point_cloud)


@FUZZ
@given(content=h5_contents())
def test_mutated_hdf5(work, content):
    path = work / "mutated_case.h5"
    path.unlink(missing_ok=True)
    _write_h5(path, content)
    _check_cpnet(path, work / "h5out")


@FUZZ
@given(blob=st.binary(max_size=300), truncate=st.integers(0, 4000))
def test_random_and_truncated_hdf5_bytes(work, blob, truncate):
    path = work / "bytes_case.h5"
    path.write_bytes(blob)
    _check_cpnet(path, work / "h5out")
    good = work / "good_case.h5"
    rng = np.random.default_rng(0)
    _write_h5(good, {"point_clouds": rng.normal(size=(2, 5, 3)),
                     "keypoints": np.array([[0, -1], [4, 2]]),
                     "mesh_names": np.array([b"a", b"b"])})
    data = good.read_bytes()
    path.write_bytes(data[: truncate % len(data)])
    with pytest.raises(FormatError) as info:
        read_cpnet(path)
    assert str(path) in str(info.value)


@FUZZ
@given(md=st.one_of(
    st.just("GROUP"),
    st.sampled_from([np.zeros((2, 2)), np.zeros(3), np.full((3, 3), np.inf), -np.ones((3, 3)),
                     np.zeros((3, 3), dtype=np.int64), np.array([[b"a"] * 3] * 3),
                     np.full((3, 3), np.nan), np.eye(3)])))
def test_mean_distance_file(work, md):
    path = work / "03001627.h5"
    _write_h5(path, {"point_clouds": np.zeros((2, 4, 3)) + np.arange(4)[None, :, None],
                     "keypoints": np.array([[0, 1, -1], [2, -1, 3]]),
                     "mesh_names": np.array([b"a", b"b"])})
    md_path = work / "03001627_mean_distance.h5"
    _write_h5(md_path, {"mean_distance": md} if not isinstance(md, str) else {"mean_distance":
                                                                              "GROUP"})
    try:
        bundle = read_cpnet(path)
    except FormatError as err:
        assert str(md_path) in str(err)
        return
    assert len(bundle.extra["mean_distance"]) == 3
