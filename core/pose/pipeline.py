"""Image -> camera -> projected semantic points: the whole pose run, streamed.

Stages: (1) viewpoint search over 24 azimuth x 12 elevation bins by silhouette IoU
(:mod:`core.pose.viewpoint`), (2) refinement of the best ``k`` hypotheses against the mask
(:mod:`core.pose.refine`; pytorch3d's soft silhouette on CUDA, the fast points objective on
CPU, either on request), keeping the refined camera with the highest IoU, (3) projection of the
template's semantic points with visibility (:mod:`core.pose.projection`).

Every stage's events are yielded as they come, wrapped in :class:`PoseEvent`, so a view can
draw them live; the last event carries the :class:`PoseEstimate`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core.cameras import PerspectiveCamera
from core.pose.category_template import CategoryTemplate
from core.pose.errors import PoseError, as_mask
from core.pose.projection import ProjectedKeypoints, project_keypoints
from core.pose.refine import RefineResult, RefineStep, refine_pose
from core.pose.viewpoint import ViewpointHypothesis, ViewpointSearchDone, iter_viewpoint_search
from core.raster.interface import rasterizer_by_name

OBJECTIVES = ("auto", "fast", "soft")


@dataclass(frozen=True)
class PoseEstimate:
    """The result of a pose run.

    Attributes:
        camera: the refined camera (batch of one), at the mask's image size.
        iou: its hard-silhouette IoU with the mask.
        hypotheses: the viewpoint search's top-k, best first.
        refinements: one :class:`RefineResult` per refined hypothesis, in hypothesis order.
        chosen: index into ``hypotheses`` of the hypothesis the camera came from.
        keypoints: the template's semantic points projected with ``camera``.
        labels: one label per semantic point (set number and name).
        objective: the refinement objective used (``"fast"`` or ``"soft"``).
        seconds: wall time per stage (``viewpoint``, ``refine``, ``project``).
        cancelled: the run was cancelled; the estimate holds the best camera so far.
    """

    camera: PerspectiveCamera
    iou: float
    hypotheses: tuple[ViewpointHypothesis, ...]
    refinements: tuple[RefineResult, ...]
    chosen: int
    keypoints: ProjectedKeypoints
    labels: tuple[str, ...]
    objective: str
    seconds: dict[str, float]
    cancelled: bool = False

    def to_dict(self) -> dict:
        """JSON-able summary: camera, IoU, stage times and the projected keypoints."""
        kp = self.keypoints
        return {
            "camera": self.camera.to_dict(), "iou": self.iou, "objective": self.objective,
            "viewpoint": {"azimuth": self.hypotheses[self.chosen].azimuth,
                          "elevation": self.hypotheses[self.chosen].elevation,
                          "iou": self.hypotheses[self.chosen].iou},
            "seconds": self.seconds, "cancelled": self.cancelled,
            "keypoints": [{"label": label, "x": float(kp.uv[i, 0]), "y": float(kp.uv[i, 1]),
                           "state": _state(kp, i)} for i, label in enumerate(self.labels)],
        }


@dataclass(frozen=True)
class PoseEvent:
    """One streamed event: ``stage`` is ``"viewpoint"``, ``"refine"`` or ``"done"``;
    ``hypothesis`` is the index being refined (refine stage) and ``data`` the stage's own
    event (:class:`ViewpointProgress`/:class:`ViewpointSearchDone`, :class:`RefineStep`, or
    the :class:`PoseEstimate`)."""

    stage: str
    data: object
    hypothesis: int | None = None


def _state(kp: ProjectedKeypoints, i: int) -> str:
    if kp.visible[i]:
        return "visible"
    return "occluded" if kp.in_image[i] else "outside"


def resolve_objective(objective: str, device=None) -> str:
    """``"auto"`` -> ``"soft"`` (pytorch3d) on CUDA, ``"fast"`` otherwise."""
    if objective not in OBJECTIVES:
        raise PoseError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")
    if objective != "auto":
        return objective
    import torch

    from core.device import pick_device

    dev = pick_device("auto") if device is None else torch.device(device)
    return "soft" if dev.type == "cuda" else "fast"


def iter_estimate_pose(mask, template: CategoryTemplate, k: int = 3, steps: int = 60,
                       objective: str = "auto", cancel=None,
                       device=None) -> Iterator[PoseEvent]:
    """Run the three stages on ``mask`` (H, W) for ``template``; yield :class:`PoseEvent`.

    Args:
        mask: the object's silhouette in the image (bool or > 0.5), pixels.
        template: the category's mesh and semantic points.
        k: viewpoint hypotheses refined (the best refined IoU wins).
        steps: refinement steps per hypothesis.
        objective: ``"auto"``, ``"fast"`` or ``"soft"`` (see :func:`resolve_objective`).
        cancel: anything with a ``cancelled`` attribute; checked between steps.

    Raises:
        PoseError: bad mask (empty, touching every border), bad options.
    """
    target = as_mask(mask)
    if k < 1 or steps < 0:
        raise PoseError(f"need k >= 1 and steps >= 0, got k={k}, steps={steps}")
    chosen_objective = resolve_objective(objective, device)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    done: ViewpointSearchDone | None = None
    for event in iter_viewpoint_search(target, template.vertices, template.faces, k=k,
                                       cancel=cancel):
        yield PoseEvent("viewpoint", event)
        if isinstance(event, ViewpointSearchDone):
            done = event
    seconds["viewpoint"] = time.perf_counter() - t0
    if done is None or not done.hypotheses:
        raise PoseError("the viewpoint search returned no hypothesis")
    hypotheses = done.hypotheses
    t1 = time.perf_counter()
    refinements: list[RefineResult] = []
    cancelled = done.cancelled
    for index, hyp in enumerate(hypotheses):
        if cancelled or getattr(cancel, "cancelled", False):
            cancelled = True
            break
        history, best, last = [], None, None
        for step in refine_pose(target, template.vertices, template.faces, hyp.camera,
                                objective=chosen_objective, steps=steps, cancel=cancel):
            yield PoseEvent("refine", step, hypothesis=index)
            history.append((step.step, step.loss, step.iou))
            last = step
            if best is None or step.iou > best.iou:
                best = step
        if best is None:
            break
        run_cancelled = bool(getattr(cancel, "cancelled", False))
        refinements.append(RefineResult(best, last, tuple(history), run_cancelled,
                                        chosen_objective))
        cancelled = cancelled or run_cancelled
    seconds["refine"] = time.perf_counter() - t1
    estimate = _finish(template, hypotheses, refinements, chosen_objective, seconds, cancelled,
                       device)
    yield PoseEvent("done", estimate)


def _finish(template: CategoryTemplate, hypotheses, refinements: list[RefineResult],
            objective: str, seconds: dict[str, float], cancelled: bool,
            device) -> PoseEstimate:
    if refinements:
        chosen = int(np.argmax([r.best.iou for r in refinements]))
        best: RefineStep | ViewpointHypothesis = refinements[chosen].best
    else:  # cancelled before any refinement: the best viewpoint as found
        chosen, best = 0, hypotheses[0]
    camera = best.camera
    t2 = time.perf_counter()
    rasterizer = rasterizer_by_name("auto", device)
    keypoints = project_keypoints(camera, template.vertices, template.faces, template.points,
                                  template.point_faces, rasterizer=rasterizer)
    seconds["project"] = time.perf_counter() - t2
    return PoseEstimate(camera=camera, iou=float(best.iou), hypotheses=tuple(hypotheses),
                        refinements=tuple(refinements), chosen=chosen, keypoints=keypoints,
                        labels=tuple(template.labels()), objective=objective,
                        seconds=seconds, cancelled=cancelled)


def estimate_pose(mask, template: CategoryTemplate, **kwargs) -> PoseEstimate:
    """Run :func:`iter_estimate_pose` to the end and return its estimate."""
    estimate = None
    for event in iter_estimate_pose(mask, template, **kwargs):
        if event.stage == "done":
            estimate = event.data
    assert isinstance(estimate, PoseEstimate)
    return estimate
