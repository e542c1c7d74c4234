"""Scores of the image networks on rendered views, beside the layout baselines.

PCK@alpha is box-normalised (the 2D-3D-2D paper's ``alpha_bbox``): a visible point is
correct when its error is at most ``alpha`` times the longer side of the object's mask box
(:mod:`core.pose.pck`'s ``object_box``). Viewpoint accuracy compares the most probable
(azimuth, elevation) bin with the true one; "within one bin" allows one bin of error in
each direction (circular in azimuth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.learned2d.data import ViewSet, crop_box, crop_image


@dataclass(frozen=True)
class ViewScores:
    """Scores on N views (all fractions in [0, 1]; NaN when nothing counts).

    Attributes:
        n_views: views scored; n_points: visible points scored.
        pck: the network's PCK@alpha on visible points.
        pck_layout: the layout baseline at the network's predicted viewpoint bin.
        pck_layout_true_bin: the layout baseline at the true bin (an oracle viewpoint).
        pck_mean_layout: the viewpoint-blind mean layout (a trivial baseline).
        viewpoint_top1: predicted bin == true bin (azimuth and elevation).
        viewpoint_within1: within one bin in azimuth (circular) and in elevation.
        azimuth_top1: predicted azimuth bin == true azimuth bin.
        visibility_accuracy: thresholded visibility (0.5) right, over known points.
        alpha: the PCK tolerance.
    """

    n_views: int
    n_points: int
    pck: float
    pck_layout: float
    pck_layout_true_bin: float
    pck_mean_layout: float
    viewpoint_top1: float
    viewpoint_within1: float
    azimuth_top1: float
    visibility_accuracy: float
    alpha: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def correct_points(pred: np.ndarray, views: ViewSet, alpha: float = 0.1) -> np.ndarray:
    """(N, S) bool: visible points of ``views`` whose prediction ``pred`` (N, S, 2) image
    pixels lies within ``alpha`` times the mask box's longer side (False elsewhere)."""
    side = np.max(views.box[:, 2:] - views.box[:, :2], axis=1)  # (N,)
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm(pred - views.uv, axis=-1)
        ok = np.isfinite(dist) & (dist <= alpha * side[:, None])
    return ok & views.visible


def _rate(ok: np.ndarray, valid: np.ndarray) -> float:
    n = int(valid.sum())
    return float((ok & valid).sum()) / n if n else float("nan")


def evaluate_views(predictor, views: ViewSet, alpha: float = 0.1,
                   batch_size: int = 64) -> ViewScores:
    """Score an :class:`~core.learned2d.predictor.ImageNetPredictor` on ``views`` (crops
    from the true mask boxes, as at inference) beside its checkpoint's layout baseline."""
    p = predictor.spec.input_size
    n = len(views)
    boxes = [crop_box(tuple(views.box[i]), predictor.margin) for i in range(n)]
    crops = np.stack([crop_image(views.rgb[i], boxes[i], p) for i in range(n)]) if n else \
        np.zeros((0, p, p, 3), np.uint8)
    out = predictor.predict_crops(crops, batch_size)
    pred = np.stack([boxes[i].to_image(out.uv[i], p) for i in range(n)]) if n else \
        np.zeros((0, len(predictor.labels), 2))
    a, e = predictor.spec.n_azimuth, predictor.spec.n_elevation
    flat = out.viewpoint_probs.reshape(n, -1).argmax(axis=1)
    pa, pe = flat // e, flat % e
    d_az = np.abs(pa - views.azimuth_bin)
    d_az = np.minimum(d_az, a - d_az)
    d_el = np.abs(pe - views.elevation_bin)
    visible = views.visible
    scores = {"pck": _rate(correct_points(pred, views, alpha), visible)}
    layout = predictor.layout
    if layout is not None:
        lo, wh = views.box[:, None, :2], views.box[:, None, 2:] - views.box[:, None, :2]
        at_pred = np.stack([layout.layout(pa[i], pe[i])[0] for i in range(n)]) if n else pred
        at_true = np.stack([layout.layout(views.azimuth_bin[i], views.elevation_bin[i])[0]
                            for i in range(n)]) if n else pred
        mean = np.broadcast_to(layout.overall()[0], pred.shape)
        for key, uv in (("pck_layout", at_pred), ("pck_layout_true_bin", at_true),
                        ("pck_mean_layout", mean)):
            scores[key] = _rate(correct_points(uv * wh + lo, views, alpha), visible)
    nan = float("nan")
    known = views.known
    vis_ok = (out.visibility >= 0.5) == views.visible
    return ViewScores(
        n_views=n, n_points=int(visible.sum()), pck=scores["pck"],
        pck_layout=scores.get("pck_layout", nan),
        pck_layout_true_bin=scores.get("pck_layout_true_bin", nan),
        pck_mean_layout=scores.get("pck_mean_layout", nan),
        viewpoint_top1=float(np.mean((d_az == 0) & (d_el == 0))) if n else nan,
        viewpoint_within1=float(np.mean((d_az <= 1) & (d_el <= 1))) if n else nan,
        azimuth_top1=float(np.mean(d_az == 0)) if n else nan,
        visibility_accuracy=_rate(vis_ok, known), alpha=float(alpha))
