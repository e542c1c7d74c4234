"""Reconstruction runs as the Pose dock's step records (worker thread, no Qt).

:class:`ReconstructRecordMaker` turns :class:`~core.reconstruct.records.ReconstructEvent` s
into :class:`~ui.pose.records.StepRecord` s that carry the step's *current shape*
(``vertices``) and its semantic points (``points``) besides the camera, the silhouette of
that shape and the points projected with visibility: the views then show the shape changing
and scrubbing restores it. :func:`space_template` makes the run's template (the mesh the
scene is set up with, the points' colours and labels) from a shape space's mean shape, and
:func:`truth_for_space` carries a source's ground-truth points (made for the pose template)
over to the shape space's points, matched by ``"<annotator>:<number>"`` label.
"""

from __future__ import annotations

import math

import numpy as np

from core.pose.category_template import CategoryTemplate
from core.pose.projection import project_keypoints
from core.pose.refine import RefineStep
from core.pose.viewpoint import ViewpointProgress, ViewpointSearchDone
from core.raster.interface import FastRasterizer
from core.reconstruct.records import InitialPose, ReconstructEvent, Reconstruction, TTPUpdate
from ui.pose.records import StepRecord, camera_geometry, outline_polygons
from ui.pose.sources import GroundTruth

SPACE_ANNOTATOR = "shape space"


def _label_number(label: str, fallback: int) -> int:
    """The set number of a ``"<annotator>:<number>"`` label (``fallback`` otherwise)."""
    tail = label.rpartition(":")[2]
    return int(tail) if tail.isdigit() else fallback


def space_template(space) -> CategoryTemplate:
    """The shape space's mean shape with its semantic points, as a run template."""
    labels = list(space.labels)
    return CategoryTemplate(
        category=space.category, model=f"{space.template_model} (mean shape)",
        annotator=SPACE_ANNOTATOR, vertices=np.asarray(space.mean, dtype=np.float64),
        faces=np.asarray(space.faces, dtype=np.int64),
        set_numbers=np.array([_label_number(s, i) for i, s in enumerate(labels)], np.int64),
        set_names=tuple(space.names), set_ids=np.full(len(labels), -1, np.int64),
        point_faces=np.asarray(space.point_faces, dtype=np.int64),
        points=np.asarray(space.semantic_points(), dtype=np.float64))


def truth_for_space(truth: GroundTruth | None, pose: CategoryTemplate,
                    labels: tuple[str, ...]) -> GroundTruth | None:
    """``truth`` (one row per ``pose`` point) re-ordered to the shape space's ``labels``;
    labels without a match are unknown. The true camera is kept."""
    if truth is None:
        return None
    rows = {f"{pose.annotator}:{int(n)}": i for i, n in enumerate(pose.set_numbers.tolist())}
    n = len(labels)
    uv, known, visible = np.full((n, 2), np.nan), np.zeros(n, bool), np.zeros(n, bool)
    for j, label in enumerate(labels):
        i = rows.get(label)
        if i is not None and i < len(truth.uv):
            uv[j], known[j], visible[j] = truth.uv[i], truth.known[i], truth.visible[i]
    return GroundTruth(uv, known, visible, truth.geometry)


class ReconstructRecordMaker:
    """ReconstructEvent -> StepRecord (see the module docstring); a few ms per step."""

    def __init__(self, space, image_size: tuple[int, int], steps: int) -> None:
        self.faces = np.asarray(space.faces, dtype=np.int64)
        self.point_faces = np.asarray(space.point_faces, dtype=np.int64)
        self.point_bary = np.asarray(space.point_bary, dtype=np.float64)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.steps = steps
        self.rasterizer = FastRasterizer()

    def points_on(self, vertices: np.ndarray) -> np.ndarray:
        """(S, 3) the semantic points on ``vertices``."""
        corners = vertices[self.faces[self.point_faces]]
        return np.einsum("sc,scd->sd", self.point_bary, corners)

    def __call__(self, index: int, event: ReconstructEvent, seconds: float) -> StepRecord | None:
        """The record of ``event`` (None for an event without a camera or shape)."""
        if event.camera is None or event.vertices is None:
            return None
        data = event.data
        loss, step, hyp = math.nan, int(event.step), int(event.candidate or 0)
        keypoints = None
        if isinstance(data, RefineStep):
            loss, step = float(data.loss), int(data.step)
            label = f"refine (start {hyp + 1}): step {step}"
        elif isinstance(data, InitialPose):
            label = f"start from {data.source} (candidate {data.chosen + 1})"
        elif isinstance(data, ViewpointProgress | ViewpointSearchDone):
            best = data.best if isinstance(data, ViewpointProgress) else data.hypotheses
            hyp, step = -1, int(data.done)
            lead = best[0] if best else None
            where = f": az {lead.azimuth:.0f}, el {lead.elevation:.0f}" if lead else ""
            label = f"viewpoints {data.done}/{data.total}{where}"
        elif isinstance(data, TTPUpdate):
            hyp, step = -1, int(data.index)
            label = f"TTP alternation {data.index + 1}: RMS {data.rms:.1f} px"
        elif isinstance(data, Reconstruction):
            keypoints = data.keypoints
            label = "stopped: best so far" if data.cancelled else \
                f"done: start from {data.initial}" + \
                (", shape refined" if self.steps > 0 else " (not refined)")
        else:
            hyp = -1
            label = f"{event.stage} {event.step}"
        stage = event.stage if event.stage in ("viewpoint", "ttp", "refine", "done") \
            else "viewpoint"
        return self.make(index, stage, step, hyp, loss, event.iou, event.camera,
                         np.asarray(event.vertices, dtype=np.float64), keypoints, seconds,
                         label)

    def make(self, index: int, stage: str, step: int, hypothesis: int, loss: float,
             iou: float | None, camera, vertices: np.ndarray, keypoints, seconds: float,
             label: str) -> StepRecord:
        sil = self.rasterizer.silhouette(camera, vertices, self.faces)
        points = self.points_on(vertices)
        if keypoints is None:
            keypoints = project_keypoints(camera, vertices, self.faces, points,
                                          self.point_faces, rasterizer=self.rasterizer)
        return StepRecord(
            index=index, stage=stage, step=int(step), hypothesis=int(hypothesis),
            loss=float(loss), iou=math.nan if iou is None else float(iou),
            geometry=camera_geometry(camera), image_size=self.image_size,
            silhouette_bits=np.packbits(np.asarray(sil, dtype=bool).reshape(-1)),
            outline=outline_polygons(np.asarray(sil, dtype=bool)),
            uv=np.asarray(keypoints.uv, dtype=np.float64),
            visible=np.asarray(keypoints.visible, dtype=bool),
            in_image=np.asarray(keypoints.in_image, dtype=bool), seconds=float(seconds),
            label=label, vertices=vertices, points=points)
