"""The records a reconstruction streams and returns (plain data: numpy arrays, cameras,
frozen dataclasses), for views to draw and files to write."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.cameras import PerspectiveCamera
from core.pose.projection import ProjectedKeypoints
from core.pose.viewpoint import ViewpointHypothesis

STAGES = ("predict", "viewpoint", "ttp", "refine", "done")


@dataclass(frozen=True)
class ClassifierViewpoints:
    """The classifier's most probable bins as hypotheses (mean shape, IoU at full size) and
    their probabilities, in the classifier's order."""

    hypotheses: tuple[ViewpointHypothesis, ...]
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class TTPUpdate:
    """One TTP alternation: coefficients ``c`` (K,), weighted RMS reprojection error
    (pixels) and the weak-perspective camera (``WeakPerspectiveCamera.to_dict()``)."""

    index: int
    coefficients: np.ndarray
    rms: float
    weak_camera: dict


@dataclass(frozen=True)
class Candidate:
    """A starting pose: where it came from (``"ttp"``, ``"classifier"`` or ``"search"``),
    camera (batch of one), coefficients (K,), silhouette IoU, agreement with the predicted
    points (None without them), the score it was ranked by, and a short description."""

    source: str
    camera: PerspectiveCamera
    coefficients: np.ndarray
    iou: float
    agreement: float | None
    score: float
    detail: str


@dataclass(frozen=True)
class InitialPose:
    """The starting poses and the one the refinement starts from.

    ``hypotheses``: every candidate as proposed (TTP, classifier bins or search bins);
    ``candidates``: the same after screening (the best few refined for a few steps; the
    others unchanged); the refinement starts from ``candidates[chosen]``.
    """

    hypotheses: tuple[Candidate, ...]
    candidates: tuple[Candidate, ...]
    chosen: int

    @property
    def source(self) -> str:
        return self.candidates[self.chosen].source


@dataclass(frozen=True)
class ReconstructEvent:
    """One streamed event.

    Attributes:
        stage: one of :data:`STAGES`.
        step: the event's index within its stage.
        data: the stage's own record: :class:`~core.learned2d.ImagePrediction` (predict),
            :class:`~core.pose.viewpoint.ViewpointProgress`,
            :class:`~core.pose.viewpoint.ViewpointSearchDone` or
            :class:`ClassifierViewpoints` (viewpoint), :class:`TTPUpdate` (ttp),
            :class:`~core.pose.refine.RefineStep` of the screening runs, then
            :class:`InitialPose`, then the chosen run's steps (refine),
            :class:`Reconstruction` (done).
        vertices: (N, 3) float64 the current shape, world units (None for predict).
        camera: the current camera, batch of one (None for predict).
        keypoints_uv: (S, 2) float64 the current semantic points projected, pixels (predict:
            the predicted points in the shape space's order, NaN where none).
        iou: hard-silhouette IoU of the current shape and camera with the mask, if known.
        candidate: refine stage: the index into :attr:`InitialPose.hypotheses` of the pose
            being refined (screening runs first, then the chosen one); else None.
    """

    stage: str
    step: int
    data: object = None
    vertices: np.ndarray | None = None
    camera: PerspectiveCamera | None = None
    keypoints_uv: np.ndarray | None = None
    iou: float | None = None
    candidate: int | None = None


@dataclass(frozen=True)
class Reconstruction:
    """The result of a reconstruction.

    Attributes:
        category: the shape space's category.
        vertices: (N, 3) float64 the reconstructed mesh, world units; faces: (F, 3) int64
            (the shape space's template topology).
        coefficients: (K,) float64 its shape coefficients ``c``.
        camera: the refined :class:`PerspectiveCamera` (batch of one), image-size pixels.
        keypoints: the semantic points projected with visibility
            (:class:`~core.pose.projection.ProjectedKeypoints`, S points).
        points: (S, 3) float64 the semantic points on the mesh; point_faces (S,) int64 and
            point_bary (S, 3) float64 where they sit.
        labels, names: the S points' labels and optional names.
        iou: IoU with the mask per stage: ``viewpoint`` (best hypothesis, mean shape),
            ``ttp`` (when it ran), ``initial`` (the best-scored candidate before any
            refinement), ``screen`` (the chosen start after screening, when it ran),
            ``refine`` (the result).
        seconds: wall seconds per stage (``predict``, ``viewpoint``, ``ttp``, ``refine``,
            ``project``) and ``total``.
        viewpoint_source: ``"classifier"`` or ``"search"``.
        initial: the source of the starting pose (``"ttp"``, ``"classifier"``, ``"search"``).
        objective: ``"fast"`` or ``"soft"``.
        prediction_uv: (S, 2) predicted points in the space's order (NaN where none), or None
            without a predictor; prediction_weights: (S,) visibility x confidence, or None.
        cancelled: the run was cancelled (the result is the best so far).
        notes: what fell back or was skipped, in words.
    """

    category: str
    vertices: np.ndarray
    faces: np.ndarray
    coefficients: np.ndarray
    camera: PerspectiveCamera
    keypoints: ProjectedKeypoints
    points: np.ndarray
    point_faces: np.ndarray
    point_bary: np.ndarray
    labels: tuple[str, ...]
    names: tuple[str | None, ...]
    iou: dict[str, float]
    seconds: dict[str, float]
    viewpoint_source: str
    initial: str
    objective: str
    prediction_uv: np.ndarray | None = None
    prediction_weights: np.ndarray | None = None
    cancelled: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def uv(self) -> np.ndarray:
        """(S, 2) projected semantic points, pixels."""
        return self.keypoints.uv

    @property
    def visible(self) -> np.ndarray:
        """(S,) bool: in the image and not hidden by the mesh."""
        return self.keypoints.visible

    def keypoints_dict(self) -> dict:
        """JSON-able: labels, names, uv (pixels), visible and in_image per point."""
        kp = self.keypoints
        return {"labels": list(self.labels), "names": list(self.names),
                "uv": [[float(x), float(y)] for x, y in kp.uv],
                "visible": [bool(v) for v in kp.visible],
                "in_image": [bool(v) for v in kp.in_image],
                "image_size": [int(v) for v in self.camera.image_size]}

    def to_dict(self) -> dict:
        """JSON-able summary: camera, coefficients, IoU and seconds per stage, sources."""
        return {"category": self.category, "camera": self.camera.to_dict(),
                "coefficients": [float(c) for c in self.coefficients],
                "iou": dict(self.iou), "seconds": dict(self.seconds),
                "viewpoint_source": self.viewpoint_source, "initial": self.initial,
                "objective": self.objective, "cancelled": self.cancelled,
                "notes": list(self.notes), "n_vertices": int(len(self.vertices)),
                "n_faces": int(len(self.faces)),
                "n_visible_keypoints": int(self.keypoints.visible.sum())}
