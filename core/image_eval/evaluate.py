"""Evaluate single-image reconstruction on held-out synthetic renders (issue 7, item 5).

For every held-out view (models never seen by the shape space or the image networks) the
reconstruction runs once per *variant*:

- ``full``: the learned viewpoint and keypoints, TTP, refinement (the product's path);
- ``gt_viewpoint``, ``gt_keypoints``, ``gt_both``: the same with the classifier's
  viewpoint and/or the predicted 2D points replaced by the ground truth (the 2D-3D-2D
  paper's Table 3 ablation);
- ``search``: no image networks: the silhouette viewpoint search, then refinement.

Each variant is scored after every stage (``viewpoint``, ``ttp``, ``refine``): PCK@0.1 of
the projected semantic points against the ground-truth visible points, normalised by the
image's longer side and by the mask box's longer side, the silhouette IoU and the camera
rotation error (degrees). 2D references that need no 3D: the network's own 2D points,
and the mean keypoint layout of the predicted (or true) viewpoint bin placed in the mask
box. The cycle: each view's ground-truth keypoints carried to the view of another model that
shares the most visible keypoints with it, through both reconstructions: by set (the target
reconstruction's point of the same set: the 2D-3D-2D paper's protocol) and by surface point
(ray cast onto the source mesh, carried by face + barycentric weights: what works for any
clicked point), against the layout baseline and a plain mask-box mapping. Everything streams as
:class:`EvalProgress` events; the last is the :class:`EvalReport`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.cameras import PerspectiveCamera
from core.learned2d.prediction import ImagePrediction
from core.pose.pck import pck_report

VARIANTS = ("full", "gt_viewpoint", "gt_keypoints", "gt_both", "search")
STAGES = ("viewpoint", "ttp", "refine")
ALPHA = 0.1


@dataclass(frozen=True)
class StageScore:
    """One stage of one variant on one image: PCK@0.1 (image / mask-box normalised; NaN
    with no visible ground-truth point), IoU and rotation error (degrees)."""

    pck_image: float
    pck_box: float
    iou: float
    rotation_error: float


@dataclass(frozen=True)
class ImageResult:
    """Everything measured on one held-out view.

    Attributes:
        index: the view's index; model: its model; azimuth, elevation: the true angles.
        stages: variant -> stage -> :class:`StageScore` (a stage that did not run is
            missing, e.g. ``ttp`` for ``search``).
        baselines: name -> (pck_image, pck_box) of the 2D references.
        seconds: variant -> reconstruction wall time.
        notes: what the full variant (else the search) fell back to, and any variant that
            failed on this view (it then has no stages), in words.
    """

    index: int
    model: str
    azimuth: float
    elevation: float
    stages: dict[str, dict[str, StageScore]]
    baselines: dict[str, tuple[float, float]]
    seconds: dict[str, float]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CycleResult:
    """Keypoints of view ``source`` carried to view ``target`` (another model), PCK@0.1
    (image, box) over the points visible in both: through the two reconstructions of
    ``variant`` by surface location (``through_3d``: each source point ray-cast onto the
    source mesh, carried by face + barycentric weights to the target mesh) and by set
    (``by_set``: the target reconstruction's point of each source point's set, the 2D-3D-2D
    paper's protocol), and with the 2D baselines."""

    variant: str
    source: int
    target: int
    through_3d: tuple[float, float]
    layout: tuple[float, float]
    box: tuple[float, float]
    by_set: tuple[float, float] = (math.nan, math.nan)


@dataclass(frozen=True)
class EvalProgress:
    """``done`` of ``total`` views evaluated; ``latest`` the last one's result."""

    done: int
    total: int
    latest: ImageResult | None


@dataclass(frozen=True, eq=False)
class EvalReport:
    """The whole evaluation: per-image and per-pair results plus the settings."""

    category: str
    images: tuple[ImageResult, ...]
    cycles: tuple[CycleResult, ...]
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    cancelled: bool = False

    def stage_table(self) -> list[dict]:
        """Rows (variant, stage, n, PCK image, PCK box, IoU, median rotation error): ``n``
        views ran that stage; a PCK mean skips views with no visible ground-truth point."""
        rows = []
        for variant in VARIANTS:
            for stage in STAGES:
                scores = [r.stages[variant][stage] for r in self.images
                          if stage in r.stages.get(variant, {})]
                if not scores:
                    continue
                rows.append({"variant": variant, "stage": stage, "n": len(scores),
                             "pck_image": _mean([s.pck_image for s in scores]),
                             "pck_box": _mean([s.pck_box for s in scores]),
                             "iou": _mean([s.iou for s in scores]),
                             "rotation_median": _median([s.rotation_error for s in scores])})
        return rows

    def baseline_table(self) -> list[dict]:
        """Rows (name, n, PCK image, PCK box) of the 2D references and the cycle: ``n`` views
        (pairs) considered; a mean skips those with no visible ground-truth point."""
        names = sorted({k for r in self.images for k in r.baselines})
        rows = [{"name": n, "n": len(self.images),
                 "pck_image": _mean([r.baselines[n][0] for r in self.images if n in r.baselines]),
                 "pck_box": _mean([r.baselines[n][1] for r in self.images if n in r.baselines])}
                for n in names]
        variants = [v for v in VARIANTS if any(c.variant == v for c in self.cycles)]
        for name, key, variant in [*((f"cycle through 3D by set ({v})", "by_set", v)
                                     for v in variants),
                                   *((f"cycle through 3D by surface point ({v})", "through_3d",
                                      v) for v in variants),
                                   ("cycle 2D: layout of the predicted bin", "layout", None),
                                   ("cycle 2D: mask box mapping", "box", None)]:
            first = variants[0] if variants else None
            vals = [getattr(c, key) for c in self.cycles
                    if c.variant == (variant if variant is not None else first)]
            rows.append({"name": name, "n": len(vals),
                         "pck_image": _mean([v[0] for v in vals]),
                         "pck_box": _mean([v[1] for v in vals])})
        return rows

    def to_dict(self) -> dict:
        """JSON-ready: settings, both tables, every image's scores and every pair."""
        def stage(s: StageScore) -> dict:
            return {"pck_image": _j(s.pck_image), "pck_box": _j(s.pck_box), "iou": _j(s.iou),
                    "rotation_error": _j(s.rotation_error)}

        return {"category": self.category, "settings": self.settings,
                "seconds": self.seconds, "cancelled": self.cancelled,
                "stage_table": [{k: _j(v) for k, v in r.items()} for r in self.stage_table()],
                "baseline_table": [{k: _j(v) for k, v in r.items()}
                                   for r in self.baseline_table()],
                "images": [{"index": r.index, "model": r.model, "azimuth": r.azimuth,
                            "elevation": r.elevation,
                            "stages": {v: {s: stage(x) for s, x in st.items()}
                                       for v, st in r.stages.items()},
                            "baselines": {k: [_j(a), _j(b)] for k, (a, b) in r.baselines.items()},
                            "seconds": r.seconds, "notes": list(r.notes)} for r in self.images],
                "cycles": [{"variant": c.variant, "source": c.source, "target": c.target,
                            "through_3d": [_j(x) for x in c.through_3d],
                            "by_set": [_j(x) for x in c.by_set],
                            "layout": [_j(x) for x in c.layout], "box": [_j(x) for x in c.box]}
                           for c in self.cycles]}


def in_order(prediction: ImagePrediction, labels: Sequence[str]) -> ImagePrediction:
    """``prediction`` with its points in the order of ``labels`` (NaN / 0 for a label it
    does not predict)."""
    index = {label: k for k, label in enumerate(prediction.labels)}
    rows = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    have = rows >= 0

    def take(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((len(rows), *values.shape[1:]), fill, dtype=np.float64)
        out[have] = values[rows[have]]
        return out

    return ImagePrediction(tuple(labels), take(prediction.uv, np.nan),
                           take(prediction.visibility, 0.0), take(prediction.confidence, 0.0),
                           prediction.viewpoint_probs)


class TruthPredictor:
    """A predictor whose viewpoint and/or 2D points are replaced by the ground truth (the
    ablation variants), with its points in the order of ``labels``. Wraps the real
    predictor; not used outside evaluation."""

    def __init__(self, base, labels: tuple[str, ...], uv: np.ndarray | None,
                 visible: np.ndarray | None, bins: tuple[int, int] | None) -> None:
        self.base = base
        self.category = base.category
        self.labels = labels
        self._uv, self._visible, self._bins = uv, visible, bins

    def predict(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> ImagePrediction:
        p = in_order(self.base.predict(rgb, mask), self.labels)
        uv, vis, conf, probs = p.uv, p.visibility, p.confidence, p.viewpoint_probs
        if self._uv is not None and self._visible is not None:
            ok = np.isfinite(self._uv).all(axis=1) & self._visible
            uv = np.where(ok[:, None], self._uv, np.nan)
            vis = ok.astype(np.float64)
            conf = np.ones(len(ok))
        if self._bins is not None and probs is not None:
            probs = np.zeros_like(probs)
            probs[self._bins] = 1.0
        return ImagePrediction(p.labels, uv, vis, conf, probs)


def iter_evaluate(space, predictor, views, variants: Sequence[str] = VARIANTS,
                  steps: int = 40, cancel=None, cycle_variants: Sequence[str] = ("full",
                                                                               "search"),
                  **reconstruct_kwargs) -> Iterator[EvalProgress | EvalReport]:
    """Evaluate on ``views`` (a :class:`~core.learned2d.data.ViewSet` rendered with
    ``keep_masks=True``, points in ``space.labels`` order); see the module docstring.

    ``predictor`` may be None: then only the ``search`` variant runs (and the 2D
    references that need the networks are left out). The cycle runs through the
    reconstructions of each of ``cycle_variants`` that ran.
    """
    if views.masks is None or len(views.cameras) != len(views):
        raise ValueError("the views need their masks and cameras (render_views(..., "
                         "keep_masks=True))")
    if predictor is not None and not set(space.labels) <= set(predictor.labels):
        missing = sorted(set(space.labels) - set(predictor.labels))
        raise ValueError(f"the image networks do not predict the shape space's semantic "
                         f"points {missing}; train the networks again for this shape space")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    wanted = [v for v in variants if predictor is not None or v == "search"]
    t0 = time.perf_counter()
    results: list[ImageResult] = []
    keep = [v for v in cycle_variants if v in wanted]
    posed: dict[str, dict[int, object]] = {v: {} for v in keep}
    cancelled = False
    for i in range(len(views)):
        if cancel is not None and getattr(cancel, "cancelled", False):
            cancelled = True
            break
        result, recons = _evaluate_view(space, predictor, views, i, wanted, steps,
                                        reconstruct_kwargs)
        results.append(result)
        for v in keep:
            if recons.get(v) is not None:
                posed[v][i] = recons[v]
        yield EvalProgress(i + 1, len(views), result)
    cycles = [c for v in keep for c in _cycles(views, predictor, v, posed[v], space.labels)]
    yield EvalReport(space.category, tuple(results), tuple(cycles),
                     {"variants": list(wanted), "cycle_variants": keep, "steps": steps,
                      "alpha": ALPHA, "n_views": len(views), "models": list(views.model_names)},
                     time.perf_counter() - t0, cancelled)


def _cycles(views, predictor, variant: str, posed: dict[int, object],
            labels: Sequence[str]) -> list[CycleResult]:
    """Each reconstructed view's true keypoints carried to its partner view (see
    :func:`_partner`) through the two reconstructions, and the 2D baselines."""
    from core.reconstruct.cycle import box_transfer, cycle_pck, transfer_keypoints

    cycles = []
    for i in sorted(posed):
        j = _partner(views, i, posed)
        if j is None:
            continue
        src_valid = views.visible[i] & np.isfinite(views.uv[i]).all(axis=1)
        tgt_valid = views.visible[j] & np.isfinite(views.uv[j]).all(axis=1)
        if not (src_valid & tgt_valid).any():
            continue
        size = views.masks[j].shape
        moved = transfer_keypoints(views.uv[i], posed[i], posed[j], valid=src_valid)
        through = cycle_pck(moved, views.uv[j], tgt_valid, size, mask=views.masks[j])
        box_uv = box_transfer(views.uv[i], views.masks[i], views.masks[j])
        both = src_valid & tgt_valid
        by_set = _pck(_in_labels(posed[j], labels), views.uv[j], both, views.masks[j])
        box = _pck(box_uv, views.uv[j], both, views.masks[j])
        layout = (math.nan, math.nan)
        if getattr(predictor, "layout", None) is not None:
            p = predictor.predict(views.rgb[j], views.masks[j])
            a, e, _ = p.top_viewpoints(1)[0]
            layout_uv = _layout_uv(predictor, views.masks[j], a, e, labels)
            layout = _pck(layout_uv, views.uv[j], both, views.masks[j])
        cycles.append(CycleResult(variant, i, j, (through.image, math.nan
                                                  if through.object_box is None
                                                  else through.object_box), layout, box,
                                  by_set))
    return cycles


def evaluate(space, predictor, views, **kwargs) -> EvalReport:
    """Run :func:`iter_evaluate` to the end and return its report."""
    report = None
    for event in iter_evaluate(space, predictor, views, **kwargs):
        if isinstance(event, EvalReport):
            report = event
    assert report is not None
    return report


# ----------------------------------------------------------------------------- one view

def stage_scores(last: dict, done, gt_uv: np.ndarray, gt_visible: np.ndarray,
                 mask: np.ndarray, truth: PerspectiveCamera) -> dict[str, StageScore]:
    """Per stage, the score of the stage's last event with a camera (``last``: stage ->
    event) and of the final :class:`~core.reconstruct.records.Reconstruction` ``done`` (for
    ``refine``), as :func:`core.image_eval.evaluate.iter_evaluate` scores them."""
    scores = {}
    for stage in STAGES:
        ev = last.get(stage)
        if ev is None:
            continue
        final = stage == "refine" and done is not None
        uv = done.keypoints.uv if final else ev.keypoints_uv
        iou = done.iou.get("refine", math.nan) if final else \
            (ev.iou if ev.iou is not None else math.nan)
        camera = done.camera if final else ev.camera
        pck = _pck(uv, gt_uv, gt_visible, mask)
        scores[stage] = StageScore(pck[0], pck[1], float(iou), _rotation_error(camera, truth))
    return scores


class VariantRun:
    """What one reconstruction of a view (one variant) left for scoring, filled while its
    events stream through :func:`variant_events`: the last event with a camera per stage
    (``last``), the final :class:`~core.reconstruct.records.Reconstruction` (``done``, None
    when it failed), the failure's message and the wall time (s)."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.last: dict[str, object] = {}
        self.done = None
        self.failure: str | None = None
        self.seconds = 0.0


def variant_events(run: VariantRun, rgb, mask, space, predictor, steps: int,
                   **kwargs) -> Iterator[object]:
    """Reconstruct one view (``iter_reconstruct``'s arguments), yield its events and record
    in ``run`` what scoring needs. A reconstruction error ends the run as failed (recorded,
    not raised): that view and variant fail, the rest go on."""
    from core.reconstruct.errors import ReconstructionError
    from core.reconstruct.pipeline import iter_reconstruct

    t = time.perf_counter()
    try:
        for event in iter_reconstruct(rgb, mask, space, predictor, steps=steps, **kwargs):
            yield event
            if event.stage in STAGES and event.camera is not None:
                run.last[event.stage] = event
            if event.stage == "done":
                run.done = event.data
    except ReconstructionError as exc:
        run.failure = f"{run.variant}: {exc}"
        run.last, run.done = {}, None
    run.seconds = time.perf_counter() - t


def _evaluate_view(space, predictor, views, i: int, variants: list[str], steps: int,
                   kwargs: dict) -> tuple[ImageResult, dict[str, object]]:
    from core.reconstruct.records import Reconstruction

    rgb, mask = views.rgb[i], views.masks[i]
    truth = PerspectiveCamera.from_dict(views.cameras[i])
    gt_uv, gt_vis = views.uv[i], views.visible[i] & np.isfinite(views.uv[i]).all(axis=1)
    bins = (int(views.azimuth_bin[i]), int(views.elevation_bin[i]))
    stages: dict[str, dict[str, StageScore]] = {}
    seconds: dict[str, float] = {}
    done_by_variant: dict[str, Reconstruction | None] = {}
    notes: tuple[str, ...] = ()
    failures: list[str] = []
    for variant in variants:
        pred = _variant_predictor(variant, predictor, space.labels, gt_uv, gt_vis, bins)
        run = VariantRun(variant)
        for _event in variant_events(run, rgb, mask, space, pred, steps, **kwargs):
            pass
        if run.failure is not None:
            failures.append(run.failure)
        done = run.done
        seconds[variant] = run.seconds
        stages[variant] = stage_scores(run.last, done, gt_uv, gt_vis, mask, truth)
        done_by_variant[variant] = done
        if variant == "full" or (variant == "search" and "full" not in variants):
            notes = tuple(getattr(done, "notes", ()) or ())
    baselines: dict[str, tuple[float, float]] = {}
    if predictor is not None:
        raw = predictor.predict(rgb, mask)
        p = in_order(raw, space.labels)
        baselines["network 2D"] = _pck(p.uv, gt_uv, gt_vis, mask)
        if getattr(predictor, "layout", None) is not None:
            a, e, _ = raw.top_viewpoints(1)[0]
            baselines["layout, predicted bin"] = _pck(
                _layout_uv(predictor, mask, a, e, space.labels), gt_uv, gt_vis, mask)
            baselines["layout, true bin"] = _pck(
                _layout_uv(predictor, mask, *bins, space.labels), gt_uv, gt_vis, mask)
    model = views.model_names[int(views.model[i])] if views.model_names else str(i)
    return (ImageResult(i, model, float(views.azimuth[i]), float(views.elevation[i]), stages,
                        baselines, seconds, notes + tuple(failures)), done_by_variant)


def _in_labels(recon, labels: Sequence[str]) -> np.ndarray:
    """A reconstruction's projected semantic points (S, 2) in ``labels`` order."""
    index = {label: k for k, label in enumerate(recon.labels)}
    out = np.full((len(labels), 2), np.nan)
    for k, label in enumerate(labels):
        if label in index:
            out[k] = recon.keypoints.uv[index[label]]
    return out


def _layout_uv(predictor, mask, azimuth_bin: int, elevation_bin: int,
               labels: Sequence[str]) -> np.ndarray:
    """The layout baseline's points for a bin placed in ``mask``'s box, in ``labels`` order."""
    uv, _ = predictor.layout.keypoints(mask, azimuth_bin, elevation_bin)
    index = {label: k for k, label in enumerate(predictor.labels)}
    out = np.full((len(labels), 2), np.nan)
    for k, label in enumerate(labels):
        if label in index:
            out[k] = uv[index[label]]
    return out


def _variant_predictor(variant: str, predictor, labels, gt_uv, gt_vis, bins):
    if variant == "search" or predictor is None:
        return None
    if variant == "full":
        return predictor
    use_points = variant in ("gt_keypoints", "gt_both")
    use_bins = variant in ("gt_viewpoint", "gt_both")
    return TruthPredictor(predictor, tuple(labels), gt_uv if use_points else None,
                          gt_vis if use_points else None, bins if use_bins else None)


def _partner(views, i: int, posed: dict) -> int | None:
    """The reconstructed view of another model sharing the most visible keypoints with
    view ``i`` (the first such in index order on ties); None when none shares any."""
    best, shared = None, 0
    for j in sorted(posed):
        if views.model[j] == views.model[i]:
            continue
        n = int((views.visible[i] & views.visible[j]).sum())
        if n > shared:
            best, shared = j, n
    return best


def _pck(pred, gt, valid, mask) -> tuple[float, float]:
    """PCK@0.1 (image, mask box) over the ``valid`` ground-truth points; a point without a
    prediction (NaN) counts as wrong. NaN when no point is valid."""
    gt = np.asarray(gt, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(gt).all(axis=1)
    if not valid.any():
        return math.nan, math.nan
    pred = np.asarray(pred, dtype=np.float64)
    pred = np.where(np.isfinite(pred), pred, -1e6)  # missing: far away, so wrong
    gt = np.where(np.isfinite(gt), gt, 0.0)
    report = pck_report(pred, gt, valid, mask.shape, mask=mask, alpha=ALPHA)
    return float(report.image), float(report.object_box if report.object_box is not None
                                      else math.nan)


def _rotation_error(camera: PerspectiveCamera, truth: PerspectiveCamera) -> float:
    from core.cameras.rotations import rotation_angle_deg

    return float(rotation_angle_deg(camera.rotation().double(), truth.rotation().double())
                 .reshape(-1)[0])


def _mean(values) -> float:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def _median(values) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def _j(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
