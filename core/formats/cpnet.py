"""CorresPondenceNet (CPNet) HDF5 <-> :class:`AnnotationBundle`.

A category is ``<class_id>.h5`` with datasets

- ``point_clouds``: (M, N, 3) float, the sampled surface of each model (model units);
- ``keypoints``: (M, S) integer, point index of set ``s`` on model ``m`` in its cloud, or
  -1 when the set is absent on that model;
- ``mesh_names``: (M,) strings (model ids; h5py may hand them over as bytes),

plus, optionally, ``<class_id>_mean_distance.h5`` with ``mean_distance`` (S, S) float, the
mean geodesic distance between sets (model units).

In a bundle, set ``s`` of model ``m`` is ``PointRecord(number=s, xyz=cloud[index],
point_index=index)``; a -1 has no record. ``bundle.extra`` keeps ``n_sets`` (S, so that
trailing all-absent columns survive a round trip) and ``mean_distance`` as nested lists
with None for NaN (JSON has no NaN).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from core.formats.records import (
    AnnotationBundle,
    FormatError,
    ModelAnnotation,
    ModelEntry,
    PointRecord,
    category_class_id,
    category_for_class_id,
)
from core.geometry.knn_geodesic import mean_keypoint_geodesics

__all__ = ["keypoint_matrix", "mean_distance_array", "read_cpnet", "write_cpnet"]

_MEAN_SUFFIX = "_mean_distance"


# --------------------------------------------------------------------------- reading


def _dataset(h5: Any, name: str, label: str) -> np.ndarray:
    import h5py

    if name not in h5:
        raise FormatError(label, f"missing dataset (has: {sorted(h5.keys())})", None, name)
    obj = h5[name]
    if not isinstance(obj, h5py.Dataset):
        raise FormatError(label, f"expected a dataset, got {type(obj).__name__}", None, name)
    return obj[()]


def _as_float_array(arr: Any, label: str, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        raise FormatError(label, f"expected floats, got dtype {arr.dtype}", None, name)
    if arr.ndim != ndim:
        raise FormatError(label, f"expected {ndim} dimensions, got shape {arr.shape}", None, name)
    return arr


def _as_index_matrix(arr: Any, label: str, n_points: int) -> np.ndarray:
    """(M, S) point indices as int64; integral floats are accepted, -1 means absent."""
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise FormatError(label, f"expected (M, S), got shape {arr.shape}", None, "keypoints")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        bad[~bad] = arr[~bad] != np.round(arr[~bad])
        _first_bad(arr, bad, label, "is not an integer")
    elif arr.dtype.kind not in "iu":
        raise FormatError(label, f"expected integers, got dtype {arr.dtype}", None, "keypoints")
    _first_bad(arr, arr < -1, label, "is below -1")
    _first_bad(arr, arr >= n_points, label, f"is out of range (N = {n_points})")
    return arr.astype(np.int64)


def _first_bad(arr: np.ndarray, bad: np.ndarray, label: str, problem: str) -> None:
    if bad.any():
        m, s = (int(v) for v in np.argwhere(bad)[0])
        raise FormatError(label, f"point index {arr[m, s].item()!r} {problem}", m,
                          f"keypoints[{s}]")


def _as_names(arr: Any, label: str, n_models: int) -> list[str]:
    arr = np.asarray(arr)
    if arr.ndim != 1 or arr.shape[0] != n_models:
        raise FormatError(label, f"expected ({n_models},) names, got shape {arr.shape}", None,
                          "mesh_names")
    names: list[str] = []
    first: dict[str, int] = {}
    for m, item in enumerate(arr.tolist()):
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormatError(label, "name is not UTF-8", m, "mesh_names") from exc
        if not isinstance(item, str):
            raise FormatError(label, f"expected a string, got {type(item).__name__}", m,
                              "mesh_names")
        item = item.rstrip("\x00")
        if not item.strip():
            raise FormatError(label, "empty model name", m, "mesh_names")
        if item in first:
            raise FormatError(label, f"model name {item!r} repeats row {first[item]} "
                              f"(rows {first[item]} and {m})", m, "mesh_names")
        first[item] = m
        names.append(item)
    return names


def mean_distance_array(value: Any, n_sets: int) -> np.ndarray | None:
    """``bundle.extra["mean_distance"]`` as an (S, S) float64 array (None -> NaN), or None
    when it is missing or malformed (wrong shape, non-numbers, inf or negative values)."""
    if value is None:
        return None
    try:
        arr = np.array(
            [[np.nan if v is None else v for v in row] for row in value], dtype=np.float64
        )
    except (TypeError, ValueError, OverflowError):
        return None
    if arr.shape != (n_sets, n_sets) or np.isinf(arr).any() or (arr < 0).any():
        return None
    return arr


def _mean_distance_json(arr: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in arr]


def _read_mean_distance(path: Path, n_sets: int) -> list[list[float | None]]:
    label = str(path)
    (arr,) = _read_datasets(path, ("mean_distance",), label)
    arr = _as_float_array(arr, label, "mean_distance", 2)
    if arr.shape != (n_sets, n_sets):
        raise FormatError(label, f"expected ({n_sets}, {n_sets}) to match the keypoints' "
                          f"{n_sets} sets, got {arr.shape}", None, "mean_distance")
    arr = arr.astype(np.float64)
    if np.isinf(arr).any():
        raise FormatError(label, "infinite distance", None, "mean_distance")
    if (arr < 0).any():
        raise FormatError(label, "negative distance", None, "mean_distance")
    return _mean_distance_json(arr)


def _read_datasets(path, names: tuple[str, ...], label: str) -> list:
    """Read the named datasets of an HDF5 file; any h5py/OS failure becomes FormatError."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return [_dataset(h5, name, label) for name in names]
    except FormatError:
        raise
    except Exception as exc:  # an unreadable or corrupt file
        raise FormatError(label, f"cannot read HDF5 ({type(exc).__name__}: {exc})") from exc


def read_cpnet(h5_path: str | Path, mean_distance_path: str | Path | None = None,
               annotator: str | None = None) -> AnnotationBundle:
    """Read a CPNet category file, validating layout, shapes, dtypes and indices.

    Args:
        h5_path: ``<class_id>.h5``.
        mean_distance_path: ``<class_id>_mean_distance.h5``; by default the file of that
            name next to ``h5_path`` is read when it exists.
        annotator: annotator of every model's points; defaults to ``cpnet_<class_id>``.

    Returns:
        The bundle: models ``ModelEntry(name, point_cloud=(N, 3) float32)`` in file
        order, one :class:`ModelAnnotation` per model with a :class:`PointRecord` per set
        present (``number`` = column, ``xyz`` = that cloud point, ``point_index``);
        ``extra`` holds ``n_sets`` and, when read, ``mean_distance`` (S x S nested
        lists, model units, None for NaN).

    Raises:
        FormatError: naming the file, the model row (record) and the dataset (field) for
            a missing or corrupt file, missing datasets, wrong shapes or dtypes, no
            models, NaN/inf coordinates, indices below -1 or >= N, repeated or empty
            names, or an inconsistent mean-distance file.
    """
    p = Path(h5_path)
    label = str(p)
    class_id = p.stem
    clouds, keypoints, raw_names = _read_datasets(
        p, ("point_clouds", "keypoints", "mesh_names"), label)

    clouds = _as_float_array(clouds, label, "point_clouds", 3)
    n_models, n_points = clouds.shape[0], clouds.shape[1]
    if clouds.shape[2] != 3:
        raise FormatError(label, f"expected (M, N, 3), got {clouds.shape}", None, "point_clouds")
    if n_models == 0:
        raise FormatError(label, "no models", None, "point_clouds")
    if n_points == 0:
        raise FormatError(label, "empty point clouds", None, "point_clouds")
    with np.errstate(over="ignore"):  # values beyond float32 become inf: caught below
        clouds = clouds.astype(np.float32)
    bad_rows = np.flatnonzero(~np.isfinite(clouds).all(axis=(1, 2)))
    if bad_rows.size:
        raise FormatError(label, "NaN or infinite coordinates (or beyond float32 range)",
                          int(bad_rows[0]), "point_clouds")
    kp = _as_index_matrix(keypoints, label, n_points)
    if kp.shape[0] != n_models:
        raise FormatError(label, f"{kp.shape[0]} rows for {n_models} models", None, "keypoints")
    names = _as_names(raw_names, label, n_models)
    n_sets = int(kp.shape[1])

    extra: dict[str, Any] = {"n_sets": n_sets}
    md_path = (Path(mean_distance_path) if mean_distance_path is not None
               else p.with_name(f"{class_id}{_MEAN_SUFFIX}.h5"))
    if mean_distance_path is not None or md_path.is_file():
        extra["mean_distance"] = _read_mean_distance(md_path, n_sets)

    if annotator is None:
        annotator = f"cpnet_{class_id}"
    models, annotations = [], []
    for m, name in enumerate(names):
        cloud = clouds[m]
        cloud.flags.writeable = False
        models.append(ModelEntry(name=name, point_cloud=cloud))
        points = tuple(
            PointRecord(number=int(s), xyz=tuple(float(c) for c in cloud[kp[m, s]]),
                        point_index=int(kp[m, s]))
            for s in np.flatnonzero(kp[m] >= 0)
        )
        annotations.append(ModelAnnotation(model=name, annotator=annotator, points=points))
    category, shapenet_id = category_for_class_id(class_id)
    return AnnotationBundle(category=category, shapenet_id=shapenet_id, models=tuple(models),
                            annotations=tuple(annotations), extra=extra)


# --------------------------------------------------------------------------- writing


def keypoint_matrix(bundle: AnnotationBundle, annotator: str | None = None,
                    label: str = "") -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """Lay a bundle out as CPNet arrays.

    Args:
        bundle: models (each with a point cloud of the same N) and annotations.
        annotator: use only this annotator's annotations (default: all, at most one per
            model).
        label: file or description named in errors.

    Returns:
        (names (M,), clouds M x (N, 3) float32, keypoints (M, S) int64) with
        S = max(largest set number + 1, ``bundle.extra["n_sets"]``); -1 where a model
        lacks a set. A point's index is its ``point_index``, else the index of the cloud
        point nearest to its ``xyz``; absent points and points with neither are -1.

    Raises:
        FormatError: naming ``label`` for models without (or with malformed or unequal)
            point clouds, repeated model names, annotations of unknown models, several
            annotators on one model, repeated set numbers or point indices >= N.
    """
    from scipy.spatial import cKDTree

    names: list[str] = []
    clouds: list[np.ndarray] = []
    row: dict[str, int] = {}
    for m, model in enumerate(bundle.models):
        if model.name in row:
            raise FormatError(label, f"model {model.name!r} listed twice", m, "models")
        if model.point_cloud is None:
            raise FormatError(label, f"model {model.name!r} has no point cloud", m,
                              "point_clouds")
        try:
            with np.errstate(over="ignore"):
                cloud = np.asarray(model.point_cloud, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise FormatError(label, f"model {model.name!r}: point cloud is not numeric",
                              m, "point_clouds") from exc
        if cloud.ndim != 2 or cloud.shape[1] != 3 or cloud.shape[0] == 0:
            raise FormatError(label, f"model {model.name!r}: point cloud of shape "
                              f"{cloud.shape}, expected (N, 3)", m, "point_clouds")
        if clouds and cloud.shape[0] != clouds[0].shape[0]:
            raise FormatError(label, f"model {model.name!r} has {cloud.shape[0]} points, "
                              f"{names[0]!r} has {clouds[0].shape[0]} (CPNet needs equal N)",
                              m, "point_clouds")
        if not np.isfinite(cloud).all():
            raise FormatError(label, f"model {model.name!r}: NaN or infinite points", m,
                              "point_clouds")
        row[model.name] = m
        names.append(model.name)
        clouds.append(cloud)

    chosen: dict[int, ModelAnnotation] = {}
    for ann in bundle.annotations:
        if annotator is not None and ann.annotator != annotator:
            continue
        if ann.model not in row:
            raise FormatError(label, f"annotation of unknown model {ann.model!r}")
        m = row[ann.model]
        if m in chosen:
            raise FormatError(label, f"model {ann.model!r} has points of annotators "
                              f"{chosen[m].annotator!r} and {ann.annotator!r}; CPNet holds one "
                              "set of points per model (export one annotator at a time)", m)
        chosen[m] = ann

    n_sets = bundle.extra.get("n_sets", 0)
    n_sets = n_sets if isinstance(n_sets, int) and not isinstance(n_sets, bool) else 0
    for ann in chosen.values():
        for point in ann.points:
            if not point.absent and (point.point_index is not None or point.xyz is not None):
                n_sets = max(n_sets, int(point.number) + 1)
    kp = np.full((len(names), n_sets), -1, dtype=np.int64)
    for m, ann in sorted(chosen.items()):
        n_points = clouds[m].shape[0]
        tree = None
        for point in ann.points:
            if point.absent:
                continue
            if point.number < 0:
                raise FormatError(label, f"negative set number {point.number}", m,
                                  f"model {ann.model!r}")
            if point.point_index is not None:
                index = int(point.point_index)
                if not 0 <= index < n_points:
                    raise FormatError(label, f"point index {index} out of range 0..{n_points - 1}",
                                      m, f"model {ann.model!r}, set {point.number}")
            elif point.xyz is not None:
                tree = tree or cKDTree(clouds[m].astype(np.float64))
                index = int(tree.query(np.asarray(point.xyz, dtype=np.float64))[1])
            else:
                continue
            if kp[m, point.number] >= 0:
                raise FormatError(label, f"set {point.number} given twice", m,
                                  f"model {ann.model!r}")
            kp[m, point.number] = index
    return names, clouds, kp


def _write_h5_atomic(path: Path, datasets: dict[str, np.ndarray]) -> None:
    import h5py

    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        with h5py.File(tmp_name, "w") as h5:
            for name, data in datasets.items():
                h5.create_dataset(name, data=data)
        os.chmod(tmp_name, (path.stat().st_mode & 0o777) if path.exists() else 0o644)
        os.replace(tmp_name, path)
        tmp_name = None
    except Exception as exc:  # h5py raises OSError/ValueError/TypeError subclasses
        raise FormatError(str(path), f"cannot write HDF5 ({type(exc).__name__}: {exc})") from exc
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


def write_cpnet(bundle: AnnotationBundle, out_dir: str | Path, *, annotator: str | None = None,
                k: int = 20) -> tuple[Path, Path]:
    """Write a bundle as CPNet files (each atomically).

    Args:
        bundle: every model must carry a point cloud of the same N points.
        out_dir: destination folder (created if needed).
        annotator: write only this annotator's points (default: all, one per model).
        k: neighbours of the k-NN graph when mean distances must be computed.

    Returns:
        (``<out_dir>/<class_id>.h5``, ``<out_dir>/<class_id>_mean_distance.h5``) with the
        class id from :func:`core.formats.records.category_class_id`. ``point_clouds`` is
        float32 (M, N, 3), ``keypoints`` int64 (M, S) (see :func:`keypoint_matrix`),
        ``mesh_names`` UTF-8 strings, ``mean_distance`` float64 (S, S) in model units:
        ``bundle.extra["mean_distance"]`` when present and (S, S), else computed with
        :func:`core.geometry.knn_geodesic.mean_keypoint_geodesics`.

    Raises:
        FormatError: see :func:`keypoint_matrix`; also when the files cannot be written.
    """
    import h5py

    class_id = category_class_id(bundle)
    out = Path(out_dir)
    h5_path = out / f"{class_id}.h5"
    md_path = out / f"{class_id}{_MEAN_SUFFIX}.h5"
    names, clouds, kp = keypoint_matrix(bundle, annotator=annotator, label=str(h5_path))
    mean = mean_distance_array(bundle.extra.get("mean_distance"), kp.shape[1])
    if mean is None:
        mean = mean_keypoint_geodesics(clouds, kp, k)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FormatError(str(out), f"cannot create folder ({exc.strerror or exc})") from exc
    _write_h5_atomic(h5_path, {
        "point_clouds": np.stack(clouds).astype(np.float32),
        "keypoints": kp,
        "mesh_names": np.array(names, dtype=h5py.string_dtype("utf-8")),
    })
    _write_h5_atomic(md_path, {"mean_distance": mean.astype(np.float64)})
    return h5_path, md_path
