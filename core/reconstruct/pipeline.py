"""Single-image reconstruction: image + mask -> shape, camera and projected semantic points.

Stages, each streamed as :class:`~core.reconstruct.records.ReconstructEvent` so a view can
draw them live:

1. ``predict`` (with an image predictor): the semantic points' 2D positions, visibility,
   confidence and viewpoint probabilities (:class:`core.learned2d.ImagePrediction`), put in
   the shape space's point order.
2. ``viewpoint``: camera hypotheses for the mean shape: the classifier's most probable bins
   (cameras fitted to the mask's box) or, without a classifier, the silhouette search over
   24 x 12 bins (:func:`core.pose.viewpoint.iter_viewpoint_search`, on the mask downscaled
   to ``search_side`` and, for large templates, the mean shape decimated to
   ``search_faces``; its best bins rescored at full size with the whole mesh).
3. ``ttp`` (with predicted points): To The Point on the predicted 2D points weighted by
   visibility x confidence (:func:`core.pose.ttp.ttp_steps`; ridge ``gamma`` = the expected
   point error squared, the MAP choice for unit-variance coefficients), its weak perspective
   turned into a perspective orbit camera
   (:func:`core.reconstruct.cameras.orbit_camera_from_weak`).
4. ``refine``: every candidate (TTP's pose and shape; each viewpoint hypothesis with the mean
   shape) is scored by :func:`core.reconstruct.scoring.score`: silhouette IoU, times
   ``(1 + a) / 2`` with ``a`` the weighted fraction of predicted points its projection agrees
   with. The best ``screen`` are refined for ``screen_steps`` steps (silhouettes alone often
   rank a wrong view first: mirror twins, views from below), rescored, and the winner,
   announced by an :class:`~core.reconstruct.records.InitialPose` event, is refined for
   ``steps`` steps: camera and coefficients ``c`` together against the silhouette
   (:func:`core.pose.refine.refine_pose` with a :class:`~core.pose.refine.ShapeModel`:
   Mahalanobis prior on ``c``, a keypoint term when points were predicted). Objective: the
   fast points objective on the CPU, pytorch3d's soft silhouette on CUDA (computed there) or
   on request (on the CPU when there is no CUDA).
5. ``done``: the :class:`~core.reconstruct.records.Reconstruction` (the refinement step with
   the best IoU, and the semantic points projected with visibility).

Without a predictor, stages 1 and 3 are skipped. The cancel token is checked between stages
and inside the search and the refinements; a cancelled run still ends with a ``done`` event
holding the best result so far (``cancelled=True``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from core.pose.errors import PoseError
from core.pose.projection import project_keypoints
from core.pose.refine import KeypointTerm
from core.raster.interface import project, rasterizer_by_name
from core.reconstruct.cameras import DEFAULT_FOV
from core.reconstruct.errors import ReconstructionError
from core.reconstruct.inputs import check_inputs
from core.reconstruct.records import InitialPose, ReconstructEvent, Reconstruction
from core.reconstruct.stages import (
    RefineRun,
    Scene,
    align_prediction,
    classifier_stage,
    search_stage,
    ttp_stage,
)
from core.shape_space import ShapeSpace

DEFAULT_STEPS = 40
SCREEN, SCREEN_STEPS = 3, 10  # candidates screened, steps each
SEARCH_SIDE = 64  # pixels: the silhouette search's mask size (the pose pipeline's is 128)
SEARCH_FACES = 1500  # the search scores a decimated mean shape above this many faces
SHAPE_PRIOR = 3e-4  # refinement: loss units per squared standard deviation of c
KEYPOINT_WEIGHT = 0.5  # refinement: keypoint term against the silhouette objective
TTP_NOISE = 0.03  # expected error of predicted points, fraction of the mask box side


def iter_reconstruct(rgb, mask, space: ShapeSpace, predictor=None, objective: str = "auto",
                     steps: int = DEFAULT_STEPS, cancel=None, *, hypotheses: int = 3,
                     screen: int = SCREEN, screen_steps: int = SCREEN_STEPS,
                     fov: float = DEFAULT_FOV, shape_prior: float = SHAPE_PRIOR,
                     keypoint_weight: float = KEYPOINT_WEIGHT, ttp_noise: float = TTP_NOISE,
                     ttp_alternations: int = 4, refine_shape: bool = True,
                     search_side: int = SEARCH_SIDE, search_faces: int = SEARCH_FACES,
                     device=None) -> Iterator[ReconstructEvent]:
    """Reconstruct the object of ``rgb`` inside ``mask`` (module docs); yield events.

    The inputs are checked when this is called, before the first event is asked for.

    Args:
        rgb: (H, W, 3) image (uint8, or floats in [0, 1] or [0, 255]); may be None without
            a predictor.
        mask: (H, W) the object's silhouette (bool, or > 0.5), pixels.
        space: the category's :class:`~core.shape_space.ShapeSpace`.
        predictor: an :class:`~core.learned2d.ImagePredictor` for the category, or None.
        objective: ``"auto"`` (soft on CUDA, fast otherwise), ``"fast"`` or ``"soft"``.
        steps: refinement steps of the chosen start.
        cancel: anything with a ``cancelled`` attribute.
        hypotheses: viewpoint bins proposed (classifier's most probable, or the search's
            best).
        screen, screen_steps: how many of the best-scored candidates are refined briefly
            before choosing, and for how many steps (``screen <= 1`` or 0 steps: none).
        fov: vertical field of view assumed for the camera, degrees.
        shape_prior: weight of the Mahalanobis prior on ``c`` in the refinement.
        keypoint_weight: weight of the predicted points in the refinement (0: none).
        ttp_noise: expected error of the predicted points as a fraction of the mask box's
            longer side; TTP's ``gamma`` is its square in pixels^2.
        ttp_alternations: TTP alternations.
        refine_shape: refine ``c`` with the camera (False: camera only).
        search_side: the silhouette search runs on the mask downscaled to this longer side
            (its best bins are rescored at full size).
        search_faces: above this many faces the search scores the mean shape decimated by
            vertex clustering (its best bins are rescored with the whole mesh); 0: never.
        device: for ``objective="auto"``, the soft objective (CUDA when available, else CPU)
            and the final visibility test.

    Raises:
        ReconstructionError: bad image or mask, a predictor for another category, bad
            options; while streaming: a predictor that fails or predicts other points.
    """
    image, target = check_inputs(rgb, mask)
    if predictor is not None:
        if image is None:
            raise ReconstructionError("an image predictor needs the image (rgb is None)")
        category = getattr(predictor, "category", space.category)
        if category != space.category:
            raise ReconstructionError(f"the image predictor is for category {category!r} but "
                                      f"the shape space is {space.category!r}")
    if min(steps, screen, screen_steps, search_faces) < 0 \
            or min(hypotheses, ttp_alternations) < 1 or search_side < 16:
        raise ReconstructionError(
            f"need steps, screen, screen_steps, search_faces >= 0, hypotheses, "
            f"ttp_alternations >= 1 and search_side >= 16; got {steps}, {screen}, "
            f"{screen_steps}, {search_faces}, {hypotheses}, {ttp_alternations}, "
            f"{search_side}")
    if not 0.0 < fov < 180.0:
        raise ReconstructionError(f"fov must be in (0, 180) degrees, got {fov}")
    for name, value in (("shape_prior", shape_prior), ("keypoint_weight", keypoint_weight),
                        ("ttp_noise", ttp_noise)):
        if not (np.isfinite(value) and value >= 0):
            raise ReconstructionError(f"{name} must be a number >= 0, got {value}")
    from core.pose.pipeline import resolve_objective

    try:
        chosen_objective = resolve_objective(objective, device)
    except PoseError as exc:
        raise ReconstructionError(str(exc)) from exc
    compute = None
    if chosen_objective == "soft":  # pytorch3d's soft silhouette where it is fast
        from core.device import pick_device

        try:
            compute = pick_device("auto" if device is None else str(device))
        except ValueError as exc:
            raise ReconstructionError(str(exc)) from exc
    cfg = dict(steps=steps, hypotheses=hypotheses, screen=screen, screen_steps=screen_steps,
               fov=fov, shape_prior=shape_prior, keypoint_weight=keypoint_weight,
               ttp_noise=ttp_noise, ttp_alternations=ttp_alternations,
               refine_shape=refine_shape, objective=chosen_objective, device=device,
               compute_device=compute, search_side=search_side, search_faces=search_faces)
    return _run(image, target, space, predictor, cancel, cfg)


def reconstruct(rgb, mask, space: ShapeSpace, predictor=None, **kwargs) -> Reconstruction:
    """Run :func:`iter_reconstruct` to the end and return its
    :class:`~core.reconstruct.records.Reconstruction`."""
    result = None
    for event in iter_reconstruct(rgb, mask, space, predictor, **kwargs):
        if event.stage == "done":
            result = event.data
    if not isinstance(result, Reconstruction):  # unreachable: the run always ends with done
        raise ReconstructionError("the reconstruction ended without a result")
    return result


def _cancelled(cancel) -> bool:
    return bool(getattr(cancel, "cancelled", False))


def _run(image, target, space: ShapeSpace, predictor, cancel,
         cfg: dict) -> Iterator[ReconstructEvent]:
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    ious: dict[str, float] = {}
    notes: list[str] = []

    # 1. predict
    prediction = pred_uv = weights = None
    if predictor is not None:
        t0 = time.perf_counter()
        try:
            prediction = predictor.predict(image, target)
        except (ValueError, RuntimeError) as exc:
            raise ReconstructionError(f"the image predictor failed: {exc}") from exc
        pred_uv, weights, more = align_prediction(prediction, space.labels)
        notes += more
        seconds["predict"] = time.perf_counter() - t0
        yield ReconstructEvent("predict", 0, prediction, keypoints_uv=pred_uv)
    scene = Scene(space, target, pred_uv, weights)

    # 2. viewpoint
    t0 = time.perf_counter()
    if prediction is not None and prediction.viewpoint_probs is not None:
        viewpoint_source = "classifier"
        candidates = yield from classifier_stage(scene, prediction, cfg)
    else:
        viewpoint_source = "search"
        if predictor is not None:
            notes.append("the image predictor has no viewpoint classifier: viewpoints from "
                         "the silhouette search")
        candidates = yield from search_stage(scene, cfg, cancel)
    ious["viewpoint"] = max(c.iou for c in candidates)
    seconds["viewpoint"] = time.perf_counter() - t0

    # 3. ttp
    if weights is not None and not _cancelled(cancel):
        t0 = time.perf_counter()
        ttp = yield from ttp_stage(scene, cfg, notes)
        if ttp is not None:
            candidates.append(ttp)
            ious["ttp"] = ttp.iou
        seconds["ttp"] = time.perf_counter() - t0

    # 4. refine
    t0 = time.perf_counter()
    best = yield from _refine_stage(scene, candidates, cfg, cancel, notes, ious)
    seconds["refine"] = time.perf_counter() - t0
    camera, c, iou, initial = best
    ious["refine"] = iou

    # 5. done
    t0 = time.perf_counter()
    vertices = scene.shape(c)
    points = scene.points(vertices)
    keypoints = project_keypoints(camera, vertices, scene.faces, points, space.point_faces,
                                  rasterizer=rasterizer_by_name("auto", cfg["device"]))
    seconds["project"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    result = Reconstruction(
        category=space.category, vertices=vertices, faces=scene.faces,
        coefficients=np.asarray(c, dtype=np.float64), camera=camera, keypoints=keypoints,
        points=points, point_faces=np.asarray(space.point_faces, dtype=np.int64),
        point_bary=np.asarray(space.point_bary, dtype=np.float64), labels=tuple(space.labels),
        names=tuple(space.names), iou=ious, seconds=seconds,
        viewpoint_source=viewpoint_source, initial=initial, objective=cfg["objective"],
        prediction_uv=pred_uv, prediction_weights=weights, cancelled=_cancelled(cancel),
        notes=tuple(notes))
    yield ReconstructEvent("done", 0, result, vertices, camera, keypoints.uv, iou)


def _refine_stage(scene: Scene, candidates: list, cfg: dict, cancel, notes: list[str],
                  ious: dict[str, float]):
    """Screen the best candidates, choose, refine the winner (module docs); streams
    ``refine`` events and returns ``(camera, c, iou, source)`` of the best step seen."""
    space = scene.space
    kp = None
    if scene.weights is not None and cfg["keypoint_weight"] > 0 and (scene.weights > 0).any():
        kp = KeypointTerm(space.point_faces, space.point_bary, scene.pred_uv, scene.weights,
                          cfg["keypoint_weight"])
    order = sorted(range(len(candidates)), key=lambda i: (-candidates[i].score, i))
    ious["initial"] = candidates[order[0]].iou
    n = 0
    screened = list(candidates)
    shortlist = order[:max(cfg["screen"], 1)]
    if len(shortlist) > 1 and cfg["screen_steps"] > 0:
        for i in shortlist:
            if _cancelled(cancel):
                break
            run = RefineRun(scene, candidates[i], cfg["screen_steps"], cfg, kp, cancel, notes)
            for step, verts, uv in run:
                yield ReconstructEvent("refine", n, step, verts, step.camera, uv, step.iou,
                                       candidate=i)
                n += 1
            if run.best is not None:
                screened[i] = scene.candidate(candidates[i].source, *run.best,
                                              f"{candidates[i].detail}, screened "
                                              f"{cfg['screen_steps']} steps", run.best_iou)
    chosen = max(shortlist, key=lambda i: (screened[i].score, -i))
    start = screened[chosen]
    if screened[chosen] is not candidates[chosen]:
        ious["screen"] = start.iou
    vertices = scene.shape(start.coefficients)
    yield ReconstructEvent("refine", n, InitialPose(tuple(candidates), tuple(screened), chosen),
                           vertices, start.camera,
                           project(start.camera, scene.points(vertices))[0], start.iou,
                           candidate=chosen)
    n += 1
    best = (start.camera, start.coefficients, start.iou)
    if not _cancelled(cancel):
        run = RefineRun(scene, start, cfg["steps"], cfg, kp, cancel, notes)
        for step, verts, uv in run:
            yield ReconstructEvent("refine", n, step, verts, step.camera, uv, step.iou,
                                   candidate=chosen)
            n += 1
        if run.best is not None and run.best_iou >= best[2]:
            best = (*run.best, run.best_iou)
    return (*best, start.source)
