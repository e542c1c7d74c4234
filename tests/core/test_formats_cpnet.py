"""CPNet HDF5: reading, validation errors, round trips, k-NN graph geodesics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from core.formats.cpnet import keypoint_matrix, read_cpnet, write_cpnet
from core.formats.records import (
    AnnotationBundle,
    FormatError,
    ModelAnnotation,
    ModelEntry,
    PointRecord,
)
from core.geometry.knn_geodesic import (
    knn_graph_geodesics,
    mean_keypoint_geodesics,
    mean_set_distances,
)


def make_arrays(rng: np.random.Generator, m: int = 4, n: int = 64, s: int = 6):
    """Clouds (M, N, 3) float32 on a unit sphere, keypoints (M, S) with some -1."""
    clouds = rng.normal(size=(m, n, 3))
    clouds /= np.linalg.norm(clouds, axis=2, keepdims=True)
    kp = rng.integers(0, n, size=(m, s))
    kp[rng.random((m, s)) < 0.3] = -1
    names = [f"{i:08x}{'ab' * 4}" for i in range(m)]
    return clouds.astype(np.float32), kp.astype(np.int64), names


def write_h5(path: Path, clouds=None, keypoints=None, names=None, *, bytes_names=False,
             skip: str | None = None, **datasets) -> Path:
    with h5py.File(path, "w") as h5:
        content = {"point_clouds": clouds, "keypoints": keypoints, "mesh_names": names}
        for key, value in content.items():
            if key == skip or value is None:
                continue
            if key == "mesh_names" and not isinstance(value, np.ndarray):
                value = (np.array([v.encode() for v in value], dtype="S")
                         if bytes_names else np.array(value, dtype=h5py.string_dtype()))
            h5.create_dataset(key, data=value)
        for key, value in datasets.items():
            h5.create_dataset(key, data=value)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("bytes_names", [False, True])
def test_read_basic(tmp_path, rng, bytes_names):
    clouds, kp, names = make_arrays(rng)
    path = write_h5(tmp_path / "03001627.h5", clouds, kp, names, bytes_names=bytes_names)
    bundle = read_cpnet(path)
    assert (bundle.category, bundle.shapenet_id) == ("chair", "03001627")
    assert [m.name for m in bundle.models] == names
    assert bundle.extra == {"n_sets": kp.shape[1]}
    for m, (model, ann) in enumerate(zip(bundle.models, bundle.annotations, strict=True)):
        assert model.point_cloud.dtype == np.float32
        np.testing.assert_array_equal(model.point_cloud, clouds[m])
        assert ann.model == model.name and ann.annotator == "cpnet_03001627"
        assert [p.number for p in ann.points] == list(np.flatnonzero(kp[m] >= 0))
        for p in ann.points:
            assert p.point_index == kp[m, p.number]
            assert p.xyz == tuple(float(c) for c in clouds[m, p.point_index])
    assert read_cpnet(path, annotator="me").annotations[0].annotator == "me"


def test_read_mean_distance_explicit_and_next_to_file(tmp_path, rng):
    clouds, kp, names = make_arrays(rng, s=3)
    mean = np.array([[0, 1.5, np.nan], [1.5, 0, 2], [np.nan, 2, 0]])
    path = write_h5(tmp_path / "x.h5", clouds, kp, names)
    other = tmp_path / "elsewhere.h5"
    with h5py.File(other, "w") as h5:
        h5["mean_distance"] = mean
    expected = [[0.0, 1.5, None], [1.5, 0.0, 2.0], [None, 2.0, 0.0]]
    assert read_cpnet(path, other).extra["mean_distance"] == expected
    assert "mean_distance" not in read_cpnet(path).extra
    (tmp_path / "x_mean_distance.h5").write_bytes(other.read_bytes())
    assert read_cpnet(path).extra["mean_distance"] == expected


@pytest.mark.parametrize(("value", "problem"), [
    (np.zeros((2, 2)), "match"),
    (np.full((3, 3), np.inf), "infinite"),
    (-np.ones((3, 3)), "negative"),
    (np.zeros((3, 3), dtype=np.int32), "floats"),
])
def test_bad_mean_distance(tmp_path, rng, value, problem):
    clouds, kp, names = make_arrays(rng, s=3)
    path = write_h5(tmp_path / "x.h5", clouds, kp, names)
    md = tmp_path / "md.h5"
    with h5py.File(md, "w") as h5:
        h5["mean_distance"] = value
    with pytest.raises(FormatError, match=problem) as info:
        read_cpnet(path, md)
    assert str(md) in str(info.value) and info.value.field == "mean_distance"


def _bad(rng, what):
    clouds, kp, names = make_arrays(rng)
    if what == "nan cloud":
        clouds[2, 5, 1] = np.nan
    elif what == "huge cloud":
        clouds = clouds.astype(np.float64)
        clouds[1, 0, 0] = 1e300  # finite as float64, infinite as float32
    elif what == "int cloud":
        clouds = clouds.astype(np.int32)
    elif what == "2d cloud":
        clouds = clouds[:, :, 0]
    elif what == "xy cloud":
        clouds = clouds[:, :, :2]
    elif what == "index >= N":
        kp[1, 3] = clouds.shape[1]
    elif what == "index < -1":
        kp[3, 0] = -2
    elif what == "fractional index":
        kp = kp.astype(np.float64)
        kp[0, 1] = 0.5
    elif what == "string index":
        kp = np.array([[b"1"] * kp.shape[1]] * kp.shape[0])
    elif what == "row mismatch":
        kp = kp[:-1]
    elif what == "name count":
        names = names[:-1]
    elif what == "repeated name":
        names[3] = names[1]
    elif what == "empty name":
        names[0] = ""
    elif what == "numeric names":
        names = np.arange(len(names))
    elif what == "no models":
        clouds, kp, names = clouds[:0], kp[:0], names[:0]
    return clouds, kp, names


@pytest.mark.parametrize(("what", "record", "field"), [
    ("nan cloud", 2, "point_clouds"),
    ("huge cloud", 1, "point_clouds"),
    ("int cloud", None, "point_clouds"),
    ("2d cloud", None, "point_clouds"),
    ("xy cloud", None, "point_clouds"),
    ("index >= N", 1, "keypoints[3]"),
    ("index < -1", 3, "keypoints[0]"),
    ("fractional index", 0, "keypoints[1]"),
    ("string index", None, "keypoints"),
    ("row mismatch", None, "keypoints"),
    ("name count", None, "mesh_names"),
    ("repeated name", 3, "mesh_names"),
    ("empty name", 0, "mesh_names"),
    ("numeric names", 0, "mesh_names"),
    ("no models", None, "point_clouds"),
])
def test_invalid_arrays_name_file_row_and_dataset(tmp_path, rng, what, record, field):
    clouds, kp, names = _bad(rng, what)
    path = write_h5(tmp_path / "bad.h5", clouds, kp, names)
    with pytest.raises(FormatError) as info:
        read_cpnet(path)
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert (info.value.record, info.value.field) == (record, field)


def test_float_keypoints_with_integral_values_are_accepted(tmp_path, rng):
    clouds, kp, names = make_arrays(rng)
    path = write_h5(tmp_path / "f.h5", clouds, kp.astype(np.float32), names)
    ref = write_h5(tmp_path / "i.h5", clouds, kp, names)
    assert read_cpnet(path).annotations == read_cpnet(ref, annotator="cpnet_f").annotations


@pytest.mark.parametrize("missing", ["point_clouds", "keypoints", "mesh_names"])
def test_missing_dataset(tmp_path, rng, missing):
    clouds, kp, names = make_arrays(rng)
    path = write_h5(tmp_path / "m.h5", clouds, kp, names, skip=missing, other=np.zeros(3))
    with pytest.raises(FormatError, match="missing dataset") as info:
        read_cpnet(path)
    assert info.value.field == missing


def test_group_instead_of_dataset_and_non_hdf5(tmp_path, rng):
    clouds, kp, names = make_arrays(rng)
    path = write_h5(tmp_path / "g.h5", None, kp, names)
    with h5py.File(path, "a") as h5:
        h5.create_group("point_clouds")
    with pytest.raises(FormatError, match="expected a dataset"):
        read_cpnet(path)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(FormatError, match="cannot read HDF5") as info:
        read_cpnet(junk)
    assert str(junk) in str(info.value)
    with pytest.raises(FormatError, match="cannot read HDF5"):
        read_cpnet(tmp_path / "absent.h5")


# --------------------------------------------------------------------------- round trips


def test_round_trip_equal_arrays(tmp_path, rng):
    clouds, kp, names = make_arrays(rng, m=5, n=80, s=7)
    kp[:, -1] = -1  # a trailing set absent everywhere must survive
    (tmp_path / "src").mkdir()
    src = write_h5(tmp_path / "src" / "04379243.h5", clouds, kp, names)
    first = read_cpnet(src)
    h5_path, md_path = write_cpnet(first, tmp_path / "out")
    assert h5_path == tmp_path / "out" / "04379243.h5"
    assert md_path == tmp_path / "out" / "04379243_mean_distance.h5"
    with h5py.File(h5_path) as h5:
        np.testing.assert_array_equal(h5["point_clouds"][()], clouds)
        assert h5["point_clouds"].dtype == np.float32
        np.testing.assert_array_equal(h5["keypoints"][()], kp)
        assert [n.decode() for n in h5["mesh_names"][()]] == names
    second = read_cpnet(h5_path)
    assert second.annotations == first.annotations
    assert second.extra["n_sets"] == kp.shape[1]
    for a, b in zip(first.models, second.models, strict=True):
        np.testing.assert_array_equal(a.point_cloud, b.point_cloud)
    # The mean distances were computed on the first write and are re-used afterwards.
    h5_again, md_again = write_cpnet(second, tmp_path / "again")
    third = read_cpnet(h5_again)
    assert third.extra["mean_distance"] == second.extra["mean_distance"]
    assert h5_again.name == h5_path.name


def test_written_mean_distance_is_knn_geodesic_mean(tmp_path, rng):
    clouds, kp, names = make_arrays(rng, m=3, n=120, s=4)
    kp[:, 3] = -1          # set 3 nowhere
    kp[0, 2] = 10
    kp[1:, 2] = -1         # set 2 only on model 0
    kp[:, 0] = [1, 2, 3]
    kp[:, 1] = [-1, 5, 6]
    bundle = read_cpnet(write_h5(tmp_path / "c.h5", clouds, kp, names))
    _, md_path = write_cpnet(bundle, tmp_path / "out")
    with h5py.File(md_path) as h5:
        mean = h5["mean_distance"][()]
    assert mean.shape == (4, 4)
    np.testing.assert_allclose(mean, mean.T, equal_nan=True)
    assert mean[0, 0] == mean[1, 1] == mean[2, 2] == 0 and np.isnan(mean[3, 3])
    assert np.isnan(mean[1, 2]) and np.isnan(mean[0, 3])
    d1 = knn_graph_geodesics(clouds[1], np.array([2]))[0, 5]
    d2 = knn_graph_geodesics(clouds[2], np.array([3]))[0, 6]
    assert mean[0, 1] == pytest.approx((d1 + d2) / 2, rel=1e-12)
    assert mean[0, 2] == pytest.approx(knn_graph_geodesics(clouds[0], np.array([1]))[0, 10])
    np.testing.assert_allclose(mean_set_distances(bundle), mean, equal_nan=True)


def _bundle_with_clouds(rng, n_models=2, n=50):
    clouds = [rng.normal(size=(n, 3)).astype(np.float32) for _ in range(n_models)]
    models = tuple(ModelEntry(f"m{i}", point_cloud=c) for i, c in enumerate(clouds))
    return clouds, models


def test_write_locates_xyz_only_points_on_nearest_cloud_point(tmp_path, rng):
    clouds, models = _bundle_with_clouds(rng)
    target = clouds[1][17].astype(np.float64) + 1e-4
    ann = (ModelAnnotation("m1", "a", (PointRecord(2, tuple(target)),
                                       PointRecord(0, None, absent=True),
                                       PointRecord(1, (9.0, 9.0, 9.0), point_index=3))),)
    bundle = AnnotationBundle("thing", None, models, ann)
    h5_path, _ = write_cpnet(bundle, tmp_path)
    assert h5_path.name == "thing.h5"
    with h5py.File(h5_path) as h5:
        np.testing.assert_array_equal(h5["keypoints"][()], [[-1, -1, -1], [-1, 3, 17]])


@pytest.mark.parametrize("problem", ["no cloud", "unequal N", "two annotators", "unknown model",
                                     "index >= N", "twice"])
def test_write_errors(tmp_path, rng, problem):
    clouds, models = _bundle_with_clouds(rng)
    anns = [ModelAnnotation("m0", "a", (PointRecord(0, (0.0, 0.0, 0.0)),))]
    if problem == "no cloud":
        models = (models[0], replace(models[1], point_cloud=None))
    elif problem == "unequal N":
        models = (models[0], replace(models[1], point_cloud=clouds[1][:-1]))
    elif problem == "two annotators":
        anns.append(ModelAnnotation("m0", "b", ()))
    elif problem == "unknown model":
        anns.append(ModelAnnotation("zz", "a", ()))
    elif problem == "index >= N":
        anns = [ModelAnnotation("m0", "a", (PointRecord(0, None, point_index=50),))]
    elif problem == "twice":
        anns = [ModelAnnotation("m0", "a", (PointRecord(0, None, point_index=1),
                                            PointRecord(0, None, point_index=2)))]
    bundle = AnnotationBundle("thing", None, models, tuple(anns))
    with pytest.raises(FormatError) as info:
        write_cpnet(bundle, tmp_path)
    assert str(tmp_path / "thing.h5") in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing half-written
    if problem == "two annotators":
        write_cpnet(bundle, tmp_path, annotator="b")


def test_keypoint_matrix_uses_n_sets_extra(rng):
    _, models = _bundle_with_clouds(rng)
    bundle = AnnotationBundle("t", None, models, (), extra={"n_sets": 4})
    names, clouds, kp = keypoint_matrix(bundle)
    assert names == ["m0", "m1"] and kp.shape == (2, 4) and (kp == -1).all()


# --------------------------------------------------------------------------- geodesics


def fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)


def test_knn_geodesic_matches_great_circle_on_sphere():
    points = fibonacci_sphere(4000)
    sources = np.arange(0, 4000, 200)
    dist = knn_graph_geodesics(points, sources, k=20)
    assert dist.shape == (20, 4000) and dist.dtype == np.float64
    great = np.arccos(np.clip(points[sources] @ points.T, -1, 1))
    pairs = (great > 0.2) & (great < np.pi - 0.2)  # not antipodal, not tiny
    ratio = dist[pairs] / great[pairs]
    assert np.all(np.abs(ratio - 1) < 0.05), (ratio.min(), ratio.max())
    assert np.all(dist[np.arange(20), sources] == 0)


def test_knn_geodesic_unreachable_is_inf_and_small_clouds_work():
    a = np.random.default_rng(0).normal(size=(30, 3)) * 0.01
    points = np.concatenate([a, a + 100.0])  # two far clusters, k=20 cannot bridge them
    dist = knn_graph_geodesics(points, np.array([0, 45]))
    assert np.isinf(dist[0, 30:]).all() and np.isfinite(dist[0, :30]).all()
    assert np.isinf(dist[1, :30]).all()
    two = knn_graph_geodesics(np.array([[0.0, 0, 0], [3.0, 4, 0]]), np.array([1]))
    np.testing.assert_allclose(two, [[5.0, 0.0]])
    dup = knn_graph_geodesics(np.zeros((3, 3)), np.array([0]))  # coincident points connect
    assert np.isfinite(dup).all() and (dup < 1e-300).all()
    assert knn_graph_geodesics(np.zeros((1, 3)), np.array([0])).tolist() == [[0.0]]
    with pytest.raises(ValueError):
        knn_graph_geodesics(points, np.array([len(points)]))
    with pytest.raises(ValueError):
        knn_graph_geodesics(np.full((4, 3), np.nan), np.array([0]))


def test_mean_keypoint_geodesics_ignores_unreachable_pairs():
    a = np.random.default_rng(1).normal(size=(30, 3)) * 0.01
    split = np.concatenate([a, a + 100.0])
    joined = np.random.default_rng(2).normal(size=(60, 3))
    kp = np.array([[0, 40], [0, 40]])
    mean = mean_keypoint_geodesics([split, joined], kp)
    expected = knn_graph_geodesics(joined, np.array([0]))[0, 40]
    assert mean[0, 1] == pytest.approx(expected) and mean[1, 0] == mean[0, 1]
