"""KeypointNet annotation JSON <-> :class:`AnnotationBundle`.

A KeypointNet file (``annotations/<category>.json``) is a JSON list of records::

    {"class_id": "03001627", "model_id": "88382b87...",
     "keypoints": [{"xyz": [x, y, z], "rgb": [r, g, b], "semantic_id": 17,
                    "pcd_info": {"point_index": 1090},
                    "mesh_info": {"face_index": 1690, "face_uv": [w0, w1, w2]}}, ...],
     "symmetries": {"reflection": [{"kp_indexes": [0, 1]}, ...], "rotation": []}}

Coordinates are in the units of ShapeNet's ``model_normalized.obj``; ``face_uv`` holds
barycentric weights so that ``xyz = sum_i w_i * V[F[face_index][i]]``. KeypointNet has no
annotator field: a file is one annotator (its stem by default).

Round trip: ``write_keypointnet(read_keypointnet(f))`` reproduces ``f`` field for field
(floats exactly) when the file lists each category's records contiguously (records of
interleaved categories come back grouped by category, in order of first appearance).
Missing ``pcd_info`` / ``mesh_info`` / ``rgb`` are read as None and omitted again on
export; unknown record-level keys (``symmetries`` ...) go verbatim to
``ModelAnnotation.extra``; unknown keypoint-level keys are kept in
``extra[KEYPOINT_EXTRA_KEY]`` keyed by ``str(semantic_id)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
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
from core.formats.validate import (
    as_barycentric,
    as_dict,
    as_finite_triple,
    as_index,
    as_list,
    as_rgb,
    as_text,
    check_plain_json,
    load_json_file,
    require_key,
    write_text_atomic,
)

__all__ = [
    "KEYPOINT_EXTRA_KEY",
    "MESH_CHECK_TOLERANCE",
    "check_against_mesh",
    "read_keypointnet",
    "write_keypointnet",
]

#: Key of ``ModelAnnotation.extra`` holding unknown keypoint-level keys, as
#: ``{str(semantic_id): {key: value}}`` (only present when a file has such keys).
KEYPOINT_EXTRA_KEY = "_keypointnet_keypoint_extra"

_RECORD_KEYS = ("class_id", "model_id", "keypoints")
_KEYPOINT_KEYS = ("xyz", "rgb", "semantic_id", "pcd_info", "mesh_info")
#: Relative tolerance of :func:`check_against_mesh` (fraction of the bbox diagonal).
MESH_CHECK_TOLERANCE = 1e-4


# --------------------------------------------------------------------------- reading


def _parse_keypoint(kp: Any, path: str, rec: int, k: int) -> tuple[PointRecord, dict]:
    """One keypoint -> (PointRecord, unknown keys)."""
    where = f"keypoints[{k}]"
    kp = as_dict(kp, path, rec, where)
    xyz = as_finite_triple(require_key(kp, "xyz", path, rec, where), path, rec, f"{where}.xyz")
    number = as_index(require_key(kp, "semantic_id", path, rec, where), path, rec,
                      f"{where}.semantic_id")
    rgb = None
    if "rgb" in kp:
        rgb = as_rgb(kp["rgb"], path, rec, f"{where}.rgb")
    point_index = None
    if "pcd_info" in kp:
        pcd = as_dict(kp["pcd_info"], path, rec, f"{where}.pcd_info")
        point_index = as_index(require_key(pcd, "point_index", path, rec, f"{where}.pcd_info"),
                               path, rec, f"{where}.pcd_info.point_index")
        if len(pcd) != 1:
            extra_keys = sorted(str(key) for key in pcd if key != "point_index")
            raise FormatError(path, f"unexpected keys {extra_keys}", rec, f"{where}.pcd_info")
    face = bary = None
    if "mesh_info" in kp:
        mesh = as_dict(kp["mesh_info"], path, rec, f"{where}.mesh_info")
        face = as_index(require_key(mesh, "face_index", path, rec, f"{where}.mesh_info"),
                        path, rec, f"{where}.mesh_info.face_index")
        bary = as_barycentric(require_key(mesh, "face_uv", path, rec, f"{where}.mesh_info"),
                              path, rec, f"{where}.mesh_info.face_uv")
        if len(mesh) != 2:
            extra_keys = sorted(str(key) for key in mesh if key not in ("face_index", "face_uv"))
            raise FormatError(path, f"unexpected keys {extra_keys}", rec, f"{where}.mesh_info")
    unknown = {key: value for key, value in kp.items() if key not in _KEYPOINT_KEYS}
    check_plain_json(unknown, path, rec, where)
    point = PointRecord(number=number, xyz=xyz, face=face, bary=bary, rgb=rgb,
                        point_index=point_index)
    return point, unknown


def _check_symmetries(value: Any, path: str, rec: int, n_keypoints: int) -> None:
    """``symmetries``: {kind: [{"kp_indexes": [i, ...], ...}, ...]} with i < n_keypoints."""
    sym = as_dict(value, path, rec, "symmetries")
    for kind, groups in sym.items():
        field = f"symmetries.{kind}"
        groups = as_list(groups, path, rec, field)
        for g, group in enumerate(groups):
            group = as_dict(group, path, rec, f"{field}[{g}]")
            if "kp_indexes" in group:
                indexes = as_list(group["kp_indexes"], path, rec, f"{field}[{g}].kp_indexes")
                for j, idx in enumerate(indexes):
                    as_index(idx, path, rec, f"{field}[{g}].kp_indexes[{j}]", upper=n_keypoints)


def _parse_record(raw: Any, path: str, rec: int, annotator: str) -> tuple[str, ModelAnnotation]:
    """One record -> (class_id, ModelAnnotation)."""
    record = as_dict(raw, path, rec, None)
    class_id = as_text(require_key(record, "class_id", path, rec), path, rec, "class_id")
    model_id = as_text(require_key(record, "model_id", path, rec), path, rec, "model_id")
    keypoints = as_list(require_key(record, "keypoints", path, rec), path, rec, "keypoints")
    if KEYPOINT_EXTRA_KEY in record:
        raise FormatError(path, "reserved key", rec, KEYPOINT_EXTRA_KEY)
    points: list[PointRecord] = []
    seen: dict[int, int] = {}
    kp_extra: dict[str, dict] = {}
    for k, kp in enumerate(keypoints):
        point, unknown = _parse_keypoint(kp, path, rec, k)
        if point.number in seen:
            raise FormatError(
                path, f"semantic_id {point.number} repeats keypoints[{seen[point.number]}]",
                rec, f"keypoints[{k}].semantic_id")
        seen[point.number] = k
        points.append(point)
        if unknown:
            kp_extra[str(point.number)] = unknown
    if "symmetries" in record:
        _check_symmetries(record["symmetries"], path, rec, len(points))
    extra = {key: value for key, value in record.items() if key not in _RECORD_KEYS}
    check_plain_json(extra, path, rec, None)
    if kp_extra:
        extra[KEYPOINT_EXTRA_KEY] = kp_extra
    return class_id, ModelAnnotation(model=model_id, annotator=annotator, points=tuple(points),
                                     extra=extra)


def read_keypointnet(path: str | Path, annotator: str | None = None) -> list[AnnotationBundle]:
    """Read a KeypointNet annotation file, validating every record.

    Args:
        path: the JSON file (a list of records).
        annotator: annotator name given to every record; defaults to the file's stem.

    Returns:
        One bundle per ``class_id``, in order of first appearance: category name from
        :data:`SHAPENET_SYNSETS` (else the class id), ``shapenet_id`` the class id when
        it is an 8-digit synset id, models ``ModelEntry(name=model_id)`` without mesh in
        record order, one :class:`ModelAnnotation` per record (points in file order,
        ``number = semantic_id``, xyz in model units).

    Raises:
        FormatError: naming the file, record index and field, for unreadable or invalid
            JSON, wrong types, missing keys, NaN/inf, negative or non-integer indices,
            invalid barycentric weights or rgb, repeated semantic ids in a record, or a
            model id appearing in two records of a category.
    """
    p = Path(path)
    label = str(p)
    if annotator is None:
        annotator = p.stem
    data = load_json_file(p)
    records = as_list(data, label, None, None)
    order: list[str] = []
    grouped: dict[str, list[ModelAnnotation]] = {}
    first_record: dict[tuple[str, str], int] = {}
    for rec, raw in enumerate(records):
        class_id, annotation = _parse_record(raw, label, rec, annotator)
        key = (class_id, annotation.model)
        if key in first_record:
            raise FormatError(
                label, f"model {annotation.model!r} of class {class_id!r} also in record "
                f"{first_record[key]} (records {first_record[key]} and {rec})", rec, "model_id")
        first_record[key] = rec
        if class_id not in grouped:
            order.append(class_id)
            grouped[class_id] = []
        grouped[class_id].append(annotation)
    bundles = []
    for class_id in order:
        annotations = grouped[class_id]
        category, shapenet_id = category_for_class_id(class_id)
        bundles.append(AnnotationBundle(
            category=category,
            shapenet_id=shapenet_id,
            models=tuple(ModelEntry(name=a.model) for a in annotations),
            annotations=tuple(annotations),
        ))
    return bundles


# --------------------------------------------------------------------------- writing


def _float(value: Any, path: str, field: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise FormatError(path, f"non-finite value {value!r}", None, field)
    return number


def _keypoint_json(point: PointRecord, path: str, where: str, unknown: dict | None) -> dict:
    if point.number < 0:
        raise FormatError(path, f"negative set number {point.number}", None, where)
    out: dict[str, Any] = {"xyz": [_float(v, path, f"{where}.xyz") for v in point.xyz]}
    if point.rgb is not None:
        out["rgb"] = [int(v) for v in point.rgb]
    out["semantic_id"] = int(point.number)
    if point.point_index is not None:
        out["pcd_info"] = {"point_index": int(point.point_index)}
    if (point.face is None) != (point.bary is None):
        raise FormatError(path, "face index and barycentric weights must be given together",
                          None, where)
    if point.face is not None:
        out["mesh_info"] = {
            "face_index": int(point.face),
            "face_uv": [_float(v, path, f"{where}.face_uv") for v in point.bary],
        }
    for key, value in (unknown or {}).items():
        out.setdefault(key, value)
    return out


def _record_json(class_id: str, ann: ModelAnnotation, path: str) -> dict:
    where = f"model {ann.model!r}"
    kp_extra = ann.extra.get(KEYPOINT_EXTRA_KEY) or {}
    if not isinstance(kp_extra, dict):
        raise FormatError(path, "must be an object", None, f"{where}.{KEYPOINT_EXTRA_KEY}")
    keypoints = []
    for k, point in enumerate(ann.points):
        if point.absent or point.xyz is None:
            continue  # KeypointNet cannot say "absent": such points are left out
        unknown = kp_extra.get(str(point.number))
        keypoints.append(_keypoint_json(point, path, f"{where}.points[{k}]",
                                        unknown if isinstance(unknown, dict) else None))
    record: dict[str, Any] = {"class_id": class_id, "model_id": ann.model, "keypoints": keypoints}
    for key, value in ann.extra.items():
        if key == KEYPOINT_EXTRA_KEY:
            continue
        if key in record:
            raise FormatError(path, f"extra key {key!r} clashes with a record field", None, where)
        record[key] = value
    return record


def write_keypointnet(bundles: Sequence[AnnotationBundle], path: str | Path, *,
                      annotator: str | None = None) -> None:
    """Write bundles as one KeypointNet annotation file (atomically).

    Records are written bundle by bundle, annotation by annotation, keypoints in stored
    order; record-level ``extra`` keys are restored after ``keypoints``. Points that are
    absent (or have no xyz) are left out: KeypointNet has no way to mark them. A keypoint
    gets ``rgb`` / ``pcd_info`` / ``mesh_info`` only when the point has them.

    Args:
        bundles: the categories to write.
        path: destination JSON file (overwritten).
        annotator: write only this annotator's records; by default all annotations are
            written, which must then hold one record per (category, model).

    Raises:
        FormatError: naming ``path`` when a model has records of several annotators (the
            format has no annotator field), for non-finite numbers, extras that are not
            JSON-able, or when the file cannot be written.
    """
    label = str(path)
    records = []
    for bundle in bundles:
        class_id = category_class_id(bundle)
        owners: dict[str, str] = {}
        for ann in bundle.annotations:
            if annotator is not None and ann.annotator != annotator:
                continue
            if ann.model in owners:
                raise FormatError(
                    label, f"model {ann.model!r} of {class_id!r} has records of annotators "
                    f"{owners[ann.model]!r} and {ann.annotator!r}; KeypointNet holds one record "
                    "per model (export one annotator at a time)")
            owners[ann.model] = ann.annotator
            records.append(_record_json(class_id, ann, label))
    try:
        text = json.dumps(records, indent=1, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise FormatError(label, f"cannot encode as JSON ({exc})") from exc
    write_text_atomic(path, text + "\n")


# --------------------------------------------------------------------------- mesh check


def check_against_mesh(annotation: ModelAnnotation, vertices: np.ndarray, faces: np.ndarray,
                       path_label: str) -> list[str]:
    """Check an annotation's face indices and barycentric positions against its mesh.

    Args:
        annotation: the points (xyz, face, bary in model units).
        vertices: (V, 3) mesh positions in model units.
        faces: (F, 3) vertex indices.
        path_label: file (or description) named in each problem.

    Returns:
        One message per problem: a face index out of range 0..F-1, a face without
        weights, or a barycentric position ``sum_i w_i V[F[face, i]]`` farther than
        1e-4 x the mesh's bounding-box diagonal from the point's xyz. Empty when all
        points agree with the mesh; points without a face are not checked.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    diagonal = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if len(v) else 0.0
    tolerance = MESH_CHECK_TOLERANCE * diagonal
    problems = []
    for k, point in enumerate(annotation.points):
        if point.face is None:
            continue
        where = (f"{path_label}: model {annotation.model} ({annotation.annotator}), "
                 f"keypoint {k} (set {point.number})")
        if not 0 <= point.face < len(f):
            problems.append(f"{where}: face index {point.face} out of range 0..{len(f) - 1}")
            continue
        if point.bary is None:
            problems.append(f"{where}: face {point.face} without barycentric weights")
            continue
        if point.xyz is None:
            continue
        corners = v[f[point.face]]
        if not np.all(np.isfinite(corners)):
            problems.append(f"{where}: face {point.face} has non-finite vertices")
            continue
        position = np.asarray(point.bary, dtype=np.float64) @ corners
        distance = float(np.linalg.norm(position - np.asarray(point.xyz, dtype=np.float64)))
        if not distance <= tolerance:
            problems.append(
                f"{where}: barycentric position on face {point.face} is {distance:.3g} from "
                f"xyz (tolerance {tolerance:.3g} = 1e-4 x bbox diagonal)")
    return problems

