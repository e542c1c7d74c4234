"""Plain per-step records of a pose run, made from the engine's events in the worker thread.

A :class:`StepRecord` holds everything both views draw for one step, already computed, as
numpy arrays and numbers (no torch, no Qt): the camera (dict, rotation, centre, the four
image-plane corners of its frustum in world units), its hard silhouette (packed bits) and
the silhouette's outline polygons, and the template's semantic points projected with that
camera (pixels, visibility). Views only copy these into their items; scrubbing the timeline
redraws any kept record exactly as it was drawn live.

Pixel conventions are :mod:`core.cameras`' (x right, y down, origin at the image's top-left
corner); the frustum's image plane lies at :data:`FRUSTUM_DEPTH` times the camera's distance
to its look-at target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# used by the viewpoint search (convex hull): imported with the window, not in the worker
# on the first run, where loading its libraries held the GIL and stalled the GUI thread
import scipy.spatial  # noqa: F401
import torch

from core.pose.category_template import CategoryTemplate
from core.pose.pipeline import PoseEstimate, PoseEvent
from core.pose.projection import ProjectedKeypoints, project_keypoints
from core.pose.refine import RefineStep
from core.pose.viewpoint import ViewpointProgress, ViewpointSearchDone
from core.raster.interface import FastRasterizer

FRUSTUM_DEPTH = 0.6  # image plane depth, as a fraction of the camera's distance


@dataclass(frozen=True)
class CameraGeometry:
    """A camera as the 3D view draws it.

    Attributes:
        camera: ``PerspectiveCamera.to_dict()``.
        rotation: (3, 3) world-to-camera rotation.
        center: (3,) camera centre, world units.
        corners: (4, 3) the image's corners (top-left, top-right, bottom-right,
            bottom-left pixel corners) on the frustum's image plane, world units.
    """

    camera: dict
    rotation: np.ndarray
    center: np.ndarray
    corners: np.ndarray


@dataclass(frozen=True)
class StepRecord:
    """One step of a run, as drawn.

    Attributes:
        index: position in the run's timeline (0-based, every event of the run).
        stage: ``"viewpoint"``, ``"ttp"`` (reconstructions), ``"refine"`` or ``"done"``.
        step: refinement step (0 = start camera); bins scored for ``"viewpoint"``; the
            alternation for ``"ttp"``; the chosen refinement step for ``"done"``.
        hypothesis: the hypothesis refined (0-based), -1 outside refinement.
        loss: the objective (NaN outside refinement).
        iou: hard-silhouette IoU with the mask.
        geometry: the camera (:class:`CameraGeometry`).
        image_size: ``(height, width)``.
        silhouette_bits: the camera's hard silhouette, ``np.packbits`` of the flat mask.
        outline: closed polygons (P, 2) of the silhouette's outline, pixel coordinates.
        uv: (N, 2) projected semantic points, pixels.
        visible: (N,) bool, in the image and not hidden by the mesh.
        in_image: (N,) bool, in front of the camera and inside the image.
        seconds: since the run started.
        label: a short description ("refine 1: step 3/30").
        vertices: (V, 3) the mesh of this step when its shape changes during the run
            (reconstruction), None when the run's template mesh is used throughout.
        points: (N, 3) the semantic points on that mesh (None with ``vertices``).
    """

    index: int
    stage: str
    step: int
    hypothesis: int
    loss: float
    iou: float
    geometry: CameraGeometry
    image_size: tuple[int, int]
    silhouette_bits: np.ndarray
    outline: tuple[np.ndarray, ...]
    uv: np.ndarray
    visible: np.ndarray
    in_image: np.ndarray
    seconds: float
    label: str
    vertices: np.ndarray | None = None
    points: np.ndarray | None = None

    @property
    def silhouette(self) -> np.ndarray:
        """(H, W) bool hard silhouette."""
        h, w = self.image_size
        return np.unpackbits(self.silhouette_bits, count=h * w).astype(bool).reshape(h, w)

    @property
    def occluded(self) -> np.ndarray:
        """(N,) bool: in the image but hidden by the mesh."""
        return self.in_image & ~self.visible


def camera_geometry(camera, depth_fraction: float = FRUSTUM_DEPTH) -> CameraGeometry:
    """:class:`CameraGeometry` of a perspective camera (batch of one)."""
    with torch.no_grad():
        rotation = camera.rotation()[0].detach().cpu().numpy().astype(np.float64)
        center = camera.center()[0].detach().cpu().numpy().astype(np.float64)
        focal = float(camera.focal()[0])
        principal = camera.principal[0].detach().cpu().numpy().astype(np.float64)
        distance = float(camera.distance[0])
    return CameraGeometry(camera.to_dict(), rotation, center,
                          frustum_corners(rotation, center, focal, principal,
                                          camera.image_size, depth_fraction * distance))


def frustum_corners(rotation: np.ndarray, center: np.ndarray, focal: float,
                    principal: np.ndarray, image_size: tuple[int, int],
                    depth: float) -> np.ndarray:
    """(4, 3) world positions of the image corners (top-left, top-right, bottom-right,
    bottom-left) on the plane at camera depth ``depth``: pixel ``(u, v)`` lies at
    ``X_cam = ((u - px) d / f, (v - py) d / f, d)``, ``X = R^T X_cam + C``."""
    h, w = int(image_size[0]), int(image_size[1])
    uv = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
    xy = (uv - np.asarray(principal, dtype=np.float64)) * (depth / focal)
    cam = np.column_stack([xy, np.full(4, depth)])
    return cam @ np.asarray(rotation) + np.asarray(center)


def outline_polygons(mask: np.ndarray, min_points: int = 3) -> tuple[np.ndarray, ...]:
    """Closed outline polygons of an (H, W) bool mask through its boundary pixels' centres
    (outer outlines and holes), pixel coordinates, float64 (P, 2)."""
    import cv2

    if not mask.any():
        return ()
    contours, _ = cv2.findContours(np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_LIST,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return tuple(c.reshape(-1, 2).astype(np.float64) + 0.5 for c in contours
                 if len(c) >= min_points)


class RecordMaker:
    """Turns :class:`~core.pose.pipeline.PoseEvent` s into :class:`StepRecord` s (worker
    thread: silhouettes with :class:`FastRasterizer`, points with
    :func:`~core.pose.projection.project_keypoints`, a few ms per step)."""

    def __init__(self, template: CategoryTemplate, image_size: tuple[int, int],
                 steps: int) -> None:
        self.template = template
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.steps = steps
        self.rasterizer = FastRasterizer()

    def __call__(self, index: int, event: PoseEvent, seconds: float) -> StepRecord | None:
        """The record of ``event`` (None for an event without a camera)."""
        data = event.data
        if isinstance(data, RefineStep):
            h = int(event.hypothesis or 0)
            return self._make(index, "refine", data.step, h, data.loss, data.iou, data.camera,
                              None, seconds,
                              f"refine {h + 1}: step {data.step}/{self.steps}")
        if isinstance(data, ViewpointProgress | ViewpointSearchDone):
            best = data.best if isinstance(data, ViewpointProgress) else data.hypotheses
            if not best:
                return None
            hyp = best[0]
            label = (f"viewpoints {data.done}/{data.total}: az {hyp.azimuth:.0f}, "
                     f"el {hyp.elevation:.0f}")
            return self._make(index, "viewpoint", data.done, -1, math.nan, hyp.iou, hyp.camera,
                              None, seconds, label)
        if isinstance(data, PoseEstimate):
            loss, step = math.nan, -1
            if data.refinements:
                best_step = data.refinements[data.chosen].best
                loss, step = best_step.loss, best_step.step
            label = "stopped: best so far" if data.cancelled else \
                f"done: hypothesis {data.chosen + 1}, step {step}"
            return self._make(index, "done", step, data.chosen, loss, data.iou, data.camera,
                              data.keypoints, seconds, label)
        return None

    def _make(self, index: int, stage: str, step: int, hypothesis: int, loss: float,
              iou: float, camera, keypoints: ProjectedKeypoints | None, seconds: float,
              label: str) -> StepRecord:
        t = self.template
        sil = self.rasterizer.silhouette(camera, t.vertices, t.faces)
        if keypoints is None:
            keypoints = project_keypoints(camera, t.vertices, t.faces, t.points, t.point_faces,
                                          rasterizer=self.rasterizer)
        return StepRecord(
            index=index, stage=stage, step=int(step), hypothesis=int(hypothesis),
            loss=float(loss), iou=float(iou), geometry=camera_geometry(camera),
            image_size=self.image_size, silhouette_bits=np.packbits(sil.reshape(-1)),
            outline=outline_polygons(sil), uv=np.asarray(keypoints.uv, dtype=np.float64),
            visible=np.asarray(keypoints.visible, dtype=bool),
            in_image=np.asarray(keypoints.in_image, dtype=bool), seconds=float(seconds),
            label=label)
