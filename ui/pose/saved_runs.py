"""Pose and reconstruction runs as plain steps for :mod:`core.store.run_store`, and back.

Each :class:`~ui.pose.records.StepRecord` becomes a dict of numbers, strings and numpy
arrays (the outline polygons concatenated, with their lengths); the first step also holds
what a replay needs besides the steps: the template (mesh, semantic points, set numbers),
the source image, its mask and its ground truth. A saved run so replays without the project's
template, shape space or image (they may have changed since). :func:`records_from_steps`
raises :class:`SavedRunError` on missing or malformed fields.
"""

from __future__ import annotations

import math

import numpy as np

from core.pose.category_template import CategoryTemplate
from ui.pose.records import CameraGeometry, StepRecord
from ui.pose.sources import GroundTruth, PoseSource


class SavedRunError(ValueError):
    """A saved run that cannot be replayed (says why)."""


def _opt(value):
    return None if value is None else np.asarray(value)


def step_of(record: StepRecord) -> dict:
    """One record as plain fields."""
    lengths = np.array([len(p) for p in record.outline], dtype=np.int64)
    outline = np.concatenate(record.outline) if len(lengths) else np.zeros((0, 2))
    g = record.geometry
    return {"index": record.index, "stage": record.stage, "step": record.step,
            "hypothesis": record.hypothesis, "loss": None if math.isnan(record.loss)
            else record.loss, "iou": None if math.isnan(record.iou) else record.iou,
            "camera": g.camera, "rotation": g.rotation, "center": g.center,
            "corners": g.corners, "image_size": list(record.image_size),
            "silhouette_bits": record.silhouette_bits, "outline": outline,
            "outline_lengths": lengths, "uv": record.uv, "visible": record.visible,
            "in_image": record.in_image, "seconds": record.seconds, "label": record.label,
            "vertices": record.vertices, "points": record.points}


def steps_of(records: list[StepRecord], template: CategoryTemplate,
             source: PoseSource) -> list[dict]:
    """A run's records as steps, the first with the template and the source."""
    steps = [step_of(r) for r in records]
    if steps:
        truth = source.truth
        steps[0].update({
            "t_vertices": template.vertices, "t_faces": template.faces,
            "t_points": template.points, "t_point_faces": template.point_faces,
            "t_set_numbers": template.set_numbers, "t_set_ids": template.set_ids,
            "t_set_names": list(template.set_names), "t_model": template.model,
            "t_annotator": template.annotator, "rgb": source.rgb, "mask": source.mask,
            "source_name": source.name, "mask_origin": source.mask_origin,
            "truth_uv": None if truth is None else truth.uv,
            "truth_known": None if truth is None else truth.known,
            "truth_visible": None if truth is None else truth.visible,
            "truth_camera": None if truth is None or truth.geometry is None
            else _geometry_fields(truth.geometry)})
    return steps


def _geometry_fields(g: CameraGeometry) -> dict:
    return {"camera": g.camera, "rotation": g.rotation.tolist(), "center": g.center.tolist(),
            "corners": g.corners.tolist()}


def record_of(step: dict) -> StepRecord:
    """One step back as a record."""
    lengths = np.asarray(step["outline_lengths"], dtype=np.int64)
    flat = np.asarray(step["outline"], dtype=np.float64).reshape(-1, 2)
    outline = tuple(np.split(flat, np.cumsum(lengths)[:-1])) if len(lengths) else ()
    nan = math.nan
    return StepRecord(
        index=int(step["index"]), stage=str(step["stage"]), step=int(step["step"]),
        hypothesis=int(step["hypothesis"]),
        loss=nan if step["loss"] is None else float(step["loss"]),
        iou=nan if step["iou"] is None else float(step["iou"]),
        geometry=CameraGeometry(dict(step["camera"]), np.asarray(step["rotation"], float),
                                np.asarray(step["center"], float),
                                np.asarray(step["corners"], float)),
        image_size=tuple(int(x) for x in step["image_size"]),
        silhouette_bits=np.asarray(step["silhouette_bits"], dtype=np.uint8),
        outline=outline, uv=np.asarray(step["uv"], dtype=np.float64),
        visible=np.asarray(step["visible"], dtype=bool),
        in_image=np.asarray(step["in_image"], dtype=bool), seconds=float(step["seconds"]),
        label=str(step["label"]), vertices=_opt(step.get("vertices")),
        points=_opt(step.get("points")))


def records_from_steps(steps: list[dict], category: str
                       ) -> tuple[list[StepRecord], CategoryTemplate, PoseSource]:
    """A saved run's records, template and source (see the module docstring)."""
    if not steps:
        raise SavedRunError("the saved run has no steps")
    first = steps[0]
    try:
        records = [record_of(s) for s in steps]
        template = CategoryTemplate(
            category=category, model=str(first["t_model"]),
            annotator=str(first["t_annotator"]),
            vertices=np.asarray(first["t_vertices"], np.float64),
            faces=np.asarray(first["t_faces"], np.int64),
            set_numbers=np.asarray(first["t_set_numbers"], np.int64),
            set_names=tuple(first["t_set_names"]),
            set_ids=np.asarray(first["t_set_ids"], np.int64),
            point_faces=np.asarray(first["t_point_faces"], np.int64),
            points=np.asarray(first["t_points"], np.float64))
        truth = None
        if first.get("truth_uv") is not None:
            cam = first.get("truth_camera")
            geometry = None if cam is None else CameraGeometry(
                dict(cam["camera"]), np.asarray(cam["rotation"], float),
                np.asarray(cam["center"], float), np.asarray(cam["corners"], float))
            truth = GroundTruth(np.asarray(first["truth_uv"], float),
                                np.asarray(first["truth_known"], bool),
                                np.asarray(first["truth_visible"], bool), geometry)
        source = PoseSource(str(first["source_name"]),
                            np.asarray(first["rgb"], dtype=np.uint8),
                            np.asarray(first["mask"], dtype=bool), str(first["mask_origin"]),
                            truth)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SavedRunError(f"the saved run is incomplete or malformed ({exc!r})") from exc
    if len(template.points) and any(len(r.uv) != len(template.points) for r in records):
        raise SavedRunError("the saved run's steps do not match its template's points")
    return records, template, source
