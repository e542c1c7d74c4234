"""The stages of a reconstruction run, each a small generator or helper used by
:mod:`core.reconstruct.pipeline`: the shared :class:`Scene`, the prediction's points in the
shape space's order, TTP, and one camera + shape refinement."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from core.cameras import CameraError, PerspectiveCamera, WeakPerspectiveCamera
from core.pose.errors import PoseError
from core.pose.refine import KeypointTerm, ShapeModel, refine_pose
from core.pose.viewpoint import (
    ViewpointHypothesis,
    ViewpointProgress,
    ViewpointSearchDone,
    iter_viewpoint_search,
)
from core.raster.interface import project
from core.reconstruct import scoring
from core.reconstruct.cameras import bin_cameras, box_centre, orbit_camera_from_weak
from core.reconstruct.errors import ReconstructionError
from core.reconstruct.records import (
    Candidate,
    ClassifierViewpoints,
    ReconstructEvent,
    TTPUpdate,
)
from core.shape_space import ShapeSpace


class Scene:
    """What every stage of one run shares: the shape space, the mask, the predicted points
    (S, 2) and their weights (S,) (None without a predictor), and how candidates are scored.
    """

    def __init__(self, space: ShapeSpace, mask: np.ndarray, pred_uv: np.ndarray | None = None,
                 weights: np.ndarray | None = None) -> None:
        from core.pose.errors import is_closed_mesh

        self.space = space
        self.mask = mask
        self.faces = np.asarray(space.faces, dtype=np.int64)
        self.closed = is_closed_mesh(self.faces)
        self.k = space.k
        self.pred_uv, self.weights = pred_uv, weights
        self.side = scoring.box_side(mask)
        self.threshold = scoring.AGREEMENT_ALPHA * self.side

    def shape(self, c: np.ndarray | None) -> np.ndarray:
        """``T + B c`` (N, 3); the mean for None."""
        return self.space.shape(None if c is None or self.k == 0 else c)

    def points(self, vertices: np.ndarray) -> np.ndarray:
        """The semantic points (S, 3) on a shape of the space (N, 3)."""
        return scoring.semantic_points(vertices, self.faces, self.space.point_faces,
                                       self.space.point_bary)

    def view(self, camera: PerspectiveCamera, vertices: np.ndarray) -> tuple[np.ndarray, float]:
        """Projected semantic points (S, 2) and silhouette IoU of ``vertices`` under
        ``camera``."""
        uv, _ = project(camera, self.points(vertices))
        sil = scoring.silhouette(camera, vertices, self.faces, self.closed)
        return uv, scoring.iou(sil, self.mask)

    def candidate(self, source: str, camera: PerspectiveCamera, c: np.ndarray, detail: str,
                  iou: float | None = None) -> Candidate:
        """Score the shape ``c`` (K,) under ``camera`` (:func:`scoring.score`); ``iou``
        overrides the computed IoU (e.g. one measured at full size elsewhere)."""
        uv, iou_now = self.view(camera, self.shape(c))
        iou = iou_now if iou is None else iou
        agree = None if self.weights is None else scoring.agreement(
            uv, self.pred_uv, self.weights, self.threshold)
        return Candidate(source, camera, np.asarray(c, dtype=np.float64), iou, agree,
                         scoring.score(iou, agree), detail)


def align_prediction(prediction, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray,
                                                                   list[str]]:
    """A prediction's points in the order of ``labels`` (S): ``uv`` (S, 2) pixels (NaN where
    not predicted), ``weights`` (S,) visibility x confidence in [0, 1] (0 where not
    predicted or not finite), and notes.

    Raises:
        ReconstructionError: malformed arrays, or no label in common (a predictor trained
            for other semantic points: retrain it or rebuild the shape space).
    """
    p_labels = tuple(prediction.labels)
    n = len(p_labels)
    uv = np.asarray(prediction.uv, dtype=np.float64)
    vis = np.asarray(prediction.visibility, dtype=np.float64)
    conf = np.asarray(prediction.confidence, dtype=np.float64)
    if uv.shape != (n, 2) or vis.shape != (n,) or conf.shape != (n,):
        raise ReconstructionError(
            f"the image predictor returned uv {uv.shape}, visibility {vis.shape} and "
            f"confidence {conf.shape} for {n} labels; expected ({n}, 2), ({n},), ({n},)")
    index = {label: i for i, label in enumerate(p_labels)}
    rows = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    if not (rows >= 0).any():
        raise ReconstructionError(
            f"the image predictor's semantic points {_few(p_labels)} are not the shape "
            f"space's {_few(labels)}: it was trained for other points (retrain it, or "
            f"rebuild the shape space from the same annotations)")
    notes = []
    if not (rows >= 0).all():
        notes.append(f"the image predictor lacks {int((rows < 0).sum())} of the shape "
                     f"space's {len(labels)} semantic points; they get no 2D evidence")
    have = rows >= 0
    out_uv = np.full((len(labels), 2), np.nan)
    out_uv[have] = uv[rows[have]]
    w = np.zeros(len(labels))
    w[have] = np.nan_to_num(np.clip(vis[rows[have]], 0, 1) * np.clip(conf[rows[have]], 0, 1))
    w[~np.isfinite(out_uv).all(axis=1)] = 0.0
    return out_uv, w, notes


def _few(labels) -> str:
    labels = list(labels)
    return str(labels[:4])[:-1] + (", ...]" if len(labels) > 4 else "]")


def ttp_stage(scene: Scene, cfg: dict, notes: list[str]):
    """Stream TTP's alternations on the scene's predicted points as ``ttp`` events; returns
    the last state as a :class:`Candidate`, or None (``notes`` says why).

    ``cfg``: ``ttp_noise`` (TTP's ``gamma`` is ``(ttp_noise * box side)^2`` px^2),
    ``ttp_alternations``, ``fov``.
    """
    from core.pose.ttp import TTPError, ttp_steps

    space, pred_uv, weights, side = scene.space, scene.pred_uv, scene.weights, scene.side
    if int((weights > 0).sum()) < 3:
        notes.append(f"only {int((weights > 0).sum())} predicted point(s) with weight > 0: "
                     f"TTP skipped (it needs 3)")
        return None
    T, B = space.semantic_template()
    u = torch.from_numpy(np.where(weights[:, None] > 0, pred_uv, 0.0))
    gamma = (cfg["ttp_noise"] * side) ** 2
    h, w = scene.mask.shape
    last = None
    try:
        for step in ttp_steps(u, torch.from_numpy(weights), torch.from_numpy(T),
                              torch.from_numpy(B), gamma=gamma,
                              n_alternations=cfg["ttp_alternations"]):
            c = step.c.detach().numpy().astype(np.float64)
            weak = WeakPerspectiveCamera(step.s.reshape(1), step.R.reshape(1, 3, 3),
                                         step.t.reshape(1, 2), (h, w))
            vertices = scene.shape(c)
            centre = box_centre(vertices)
            reach = float(np.linalg.norm(vertices - centre, axis=1).max())
            camera = orbit_camera_from_weak(weak, centre, cfg["fov"], 1.05 * reach)
            _, iou = scene.view(camera, vertices)
            uv, _ = project(camera, scene.points(vertices))  # the camera this event carries
            yield ReconstructEvent("ttp", step.index,
                                   TTPUpdate(step.index, c, float(step.rms), weak.to_dict()),
                                   vertices, camera, uv, iou)
            last = (camera, c)
    except TTPError as exc:
        notes.append(f"TTP failed on the predicted points ({exc}); starting from the "
                     f"viewpoint hypotheses")
        return None
    if last is None:
        return None
    return scene.candidate("ttp", last[0], last[1], "TTP on the predicted points")



class RefineRun:
    """Iterate ``(RefineStep, vertices (N, 3), projected points (S, 2))`` of one refinement
    of ``start``; afterwards ``best`` is ``(camera, c)`` of the best-IoU step (None if none)
    and ``best_iou`` its IoU. A divergence or bad camera ends the run with a note."""

    def __init__(self, scene: Scene, start: Candidate, steps: int, cfg: dict,
                 kp: KeypointTerm | None, cancel, notes: list[str]) -> None:
        self.scene, self.start, self.steps, self.cfg = scene, start, steps, cfg
        self.kp, self.cancel, self.notes = kp, cancel, notes
        self.best: tuple[PerspectiveCamera, np.ndarray] | None = None
        self.best_iou = -1.0

    def __iter__(self):
        scene, start, cfg = self.scene, self.start, self.cfg
        space = scene.space
        start_vertices = scene.shape(start.coefficients)
        shape = None
        if cfg["refine_shape"] and space.k > 0:
            shape = ShapeModel(space.basis, start.coefficients, prior=cfg["shape_prior"],
                               keypoints=self.kp)
        steps = refine_pose(scene.mask, space.mean if shape is not None else start_vertices,
                            scene.faces, start.camera, objective=cfg["objective"],
                            steps=self.steps, cancel=self.cancel, shape=shape,
                            device=cfg["compute_device"])
        try:
            for step in steps:
                verts = step.vertices if step.vertices is not None else start_vertices
                uv, _ = project(step.camera, scene.points(verts))
                yield step, verts, uv
                if step.iou > self.best_iou:
                    c = step.coefficients if step.coefficients is not None \
                        else start.coefficients
                    self.best, self.best_iou = (step.camera, c), step.iou
        except (PoseError, CameraError) as exc:  # RefinementDiverged is a PoseError
            self.notes.append(f"a refinement from the {start.source} pose stopped early "
                              f"({exc}); keeping its best step")


def classifier_stage(scene: Scene, prediction, cfg: dict) -> Iterator[ReconstructEvent]:
    """The classifier's ``hypotheses`` most probable bins as cameras for the mean shape: one
    ``viewpoint`` event (:class:`ClassifierViewpoints`); returns their candidates."""
    mean = scene.space.mean
    probs = np.asarray(prediction.viewpoint_probs, dtype=np.float64)
    # bins with no probability are no hypotheses (a one-hot viewpoint gives one candidate)
    top = [t for rank, t in enumerate(prediction.top_viewpoints(cfg["hypotheses"]))
           if rank == 0 or t[2] > 0.0]
    cams = bin_cameras(mean, [(i, j) for i, j, _ in top], scene.mask, cfg["fov"],
                       probs.shape[0], probs.shape[1])
    candidates, hyps = [], []
    for rank, (i, j, prob) in enumerate(top):
        cam = cams.index(rank).to(dtype=torch.float32)
        az, el = float(cam.azimuth[0]), float(cam.elevation[0])
        cand = scene.candidate("classifier", cam, np.zeros(scene.k),
                               f"classifier bin az {az:.0f} / el {el:.0f}, p = {prob:.2f}")
        candidates.append(cand)
        hyps.append(ViewpointHypothesis(az, el, i, j, cam, cand.iou, rank + 1))
    lead = max(hyps, key=lambda h: h.iou)
    yield ReconstructEvent("viewpoint", 0,
                           ClassifierViewpoints(tuple(hyps), tuple(t[2] for t in top)),
                           mean, lead.camera, project(lead.camera, scene.points(mean))[0],
                           lead.iou)
    return candidates


def search_stage(scene: Scene, cfg: dict, cancel) -> Iterator[ReconstructEvent]:
    """The silhouette search over 24 x 12 bins for the mean shape, streamed as ``viewpoint``
    events; returns the top ``hypotheses`` as candidates.

    Raises:
        ReconstructionError: cancelled before any bin was scored.
    """
    mean = scene.space.mean
    points = scene.points(mean)
    done = None
    verts, faces = search_mesh(mean, scene.faces, cfg["search_faces"])
    for n, event in enumerate(iter_viewpoint_search(scene.mask, verts, faces,
                                                    k=cfg["hypotheses"], fov=cfg["fov"],
                                                    max_side=cfg["search_side"],
                                                    cancel=cancel)):
        best = event.best if isinstance(event, ViewpointProgress) else event.hypotheses
        lead = best[0] if best else None
        yield ReconstructEvent("viewpoint", n, event, mean,
                               None if lead is None else lead.camera,
                               None if lead is None else project(lead.camera, points)[0],
                               None if lead is None else lead.iou)
        if isinstance(event, ViewpointSearchDone):
            done = event
    if done is None or not done.hypotheses:
        raise ReconstructionError("the viewpoint search was cancelled before it scored any "
                                  "viewpoint")
    exact = len(faces) == len(scene.faces)  # else rescored with the whole mesh
    return [scene.candidate("search", h.camera, np.zeros(scene.k),
                            f"search bin az {h.azimuth:.0f} / el {h.elevation:.0f}",
                            h.iou if exact else None)
            for h in done.hypotheses]


def search_mesh(vertices: np.ndarray, faces: np.ndarray,
                max_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh (V', 3), (F', 3) the silhouette search scores: ``vertices`` / ``faces``
    themselves, or, above ``max_faces`` faces (0: never), a vertex-clustering decimation to
    at most that many (a silhouette at search size barely changes; the search's cost grows
    with the faces)."""
    if max_faces <= 0 or len(faces) <= max_faces:
        return vertices, faces
    from core.geometry.simplify import cluster_decimate

    size = float(np.ptp(vertices, axis=0).max())
    lo, hi = 1e-4 * size, 0.2 * size
    best = vertices, faces
    for _ in range(12):  # bisection on the cell size
        cell = (lo * hi) ** 0.5
        v, f = cluster_decimate(vertices, faces, cell)
        if len(f) > max_faces:
            lo = cell
        else:
            hi, best = cell, (v, f)
            if len(f) >= 0.8 * max_faces:
                break
    return best
