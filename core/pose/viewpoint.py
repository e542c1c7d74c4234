"""Viewpoint initialisation without trained weights: a search over viewpoint bins by
silhouette IoU against a template mesh.

The 2D-3D-2D paper classifies azimuth into 24 bins and elevation into 12. Here every bin
centre is tried instead of predicted:

- azimuth bin ``k`` of ``n_azimuth`` (default 24, 15 degrees wide) has its centre at
  ``k * 360 / n_azimuth`` degrees (0, 15, ..., 345) and covers ``[centre - w/2, centre + w/2)``;
- elevation bin ``j`` of ``n_elevation`` (default 12) splits ``elevation_range`` (default
  -90..90 degrees, bins 15 degrees wide) evenly; its centre is ``lo + (j + 0.5) * w``
  (-82.5, -67.5, ..., 82.5).

For each bin (roll 0, the given field of view, look-at target at the centre of the mesh's
bounding box) the camera's distance and principal point are fitted so that the projected
vertices' bounding box matches the mask's (distance from the ratio of box areas, principal
shift from the box centres, alternated :data:`FIT_ITERATIONS` times because perspective
couples them); the bin is scored by the IoU of the hard silhouette
(:func:`core.raster.fast_mask.hard_mask`, or pytorch3d's rasterizer) with the mask. Masks
larger than ``max_side`` are searched at a reduced size and the top ``k`` re-scored at full
size. Angles are degrees, sizes pixels, conventions in :mod:`core.cameras`.

Silhouettes do not tell a view from every other one: for an object with a mirror plane
``x = 0`` the views ``(az, el)`` and ``(180 - az, -el)`` give the same orthographic
silhouette, and ``(-az, -el)`` for a plane ``z = 0``; the top-k list is where such twins go.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from core.cameras import PerspectiveCamera
from core.cameras.perspective import MIN_DEPTH
from core.pose.errors import PoseError, as_mask, as_mesh, is_closed_mesh
from core.raster.interface import rasterizer_by_name

FIT_ITERATIONS = 3


@dataclass(frozen=True)
class ViewpointHypothesis:
    """One scored viewpoint bin.

    Attributes:
        azimuth, elevation: the bin centre, degrees.
        azimuth_bin, elevation_bin: bin indices.
        camera: the fitted camera, a batch of one, at the mask's full image size.
        iou: hard-silhouette IoU with the mask (at full size for returned hypotheses).
        rank: 1 for the best hypothesis.
    """

    azimuth: float
    elevation: float
    azimuth_bin: int
    elevation_bin: int
    camera: PerspectiveCamera
    iou: float
    rank: int


@dataclass(frozen=True)
class ViewpointProgress:
    """Streamed after each batch of bins: bins scored so far and the current top-k (cameras
    at the mask's full size, IoU at the search size)."""

    done: int
    total: int
    best: tuple[ViewpointHypothesis, ...]


@dataclass(frozen=True)
class ViewpointSearchDone:
    """The search ended (all bins, or cancelled): the top-k, best first."""

    hypotheses: tuple[ViewpointHypothesis, ...]
    done: int
    total: int
    cancelled: bool
    seconds: float


# ------------------------------------------------------------------------------- bins
def azimuth_bin_centres(n_azimuth: int = 24) -> np.ndarray:
    """(n_azimuth,) bin centres in degrees: ``k * 360 / n_azimuth``."""
    return np.arange(n_azimuth, dtype=np.float64) * (360.0 / n_azimuth)


def elevation_bin_centres(n_elevation: int = 12,
                          elevation_range: tuple[float, float] = (-90.0, 90.0)) -> np.ndarray:
    """(n_elevation,) bin centres in degrees: ``lo + (j + 0.5) * (hi - lo) / n_elevation``."""
    lo, hi = float(elevation_range[0]), float(elevation_range[1])
    return lo + (np.arange(n_elevation, dtype=np.float64) + 0.5) * (hi - lo) / n_elevation


def azimuth_bin(azimuth: float, n_azimuth: int = 24) -> int:
    """Index of the azimuth bin containing ``azimuth`` degrees (any real value)."""
    width = 360.0 / n_azimuth
    return int(math.floor(((azimuth + width / 2.0) % 360.0) / width)) % n_azimuth


def elevation_bin(elevation: float, n_elevation: int = 12,
                  elevation_range: tuple[float, float] = (-90.0, 90.0)) -> int:
    """Index of the elevation bin containing ``elevation`` degrees (clipped to the range)."""
    lo, hi = float(elevation_range[0]), float(elevation_range[1])
    j = int(math.floor((elevation - lo) / ((hi - lo) / n_elevation)))
    return min(max(j, 0), n_elevation - 1)


# ------------------------------------------------------------------------- fitting
def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box ``(x0, y0, x1, y1)`` of a non-empty (H, W) bool mask, pixel edges."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def fit_cameras_to_box(vertices, azimuth, elevation, box: tuple[float, float, float, float],
                       image_size: tuple[int, int], fov: float = 30.0, roll=0.0,
                       iterations: int = FIT_ITERATIONS) -> PerspectiveCamera:
    """Cameras looking at the mesh's bounding-box centre whose projected vertex box matches
    ``box``.

    Args:
        vertices: (V, 3) world units (numpy or torch).
        azimuth, elevation: (B,) degrees.
        box: ``(x0, y0, x1, y1)`` target box, pixels.
        image_size: ``(height, width)``.
        fov: vertical field of view, degrees.
        roll: (B,) or scalar degrees.

    Returns:
        (B) float64 cameras: distance from the square root of the box-area ratio, principal
        point shifted by the box-centre offset; the distance is kept above 1.05 times the
        mesh's bounding radius about the target so no vertex is ever behind a camera. The
        arithmetic runs in numpy (cheap and single-threaded; the camera's own projection is
        reproduced exactly).
    """
    verts = _np(vertices)
    az = _np(azimuth).reshape(-1)
    el = np.broadcast_to(_np(elevation).reshape(-1), az.shape).copy()
    rl = np.broadcast_to(_np(roll).reshape(-1), az.shape).copy()
    centre = (verts.min(axis=0) + verts.max(axis=0)) / 2.0
    radius = max(float(np.linalg.norm(verts - centre, axis=1).max()), 1e-9)
    h, w = int(image_size[0]), int(image_size[1])
    x0, y0, x1, y1 = box
    box_area = max(x1 - x0, 1.0) * max(y1 - y0, 1.0)
    box_c = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    base = PerspectiveCamera.create(az, el, 1.0, rl, fov, None, centre, (h, w),
                                    dtype=torch.float64)
    rot = base.rotation().numpy()  # (B, 3, 3)
    direction = (base.center() - base.target).numpy()  # unit, target -> camera
    focal = float(base.focal()[0])
    rel = verts - centre  # (V, 3), relative to the target
    local = np.einsum("bij,nj->bni", rot, rel)  # R (X - target), (B, V, 3)
    offset = np.einsum("bij,bj->bi", rot, direction)  # R d: X_cam = local - dist * offset
    distance = np.full(len(az), 4.0 * radius)
    principal = np.tile([w / 2.0, h / 2.0], (len(az), 1))

    def project(dist: np.ndarray) -> np.ndarray:
        cam = local - dist[:, None, None] * offset[:, None, :]
        return focal * cam[..., :2] / cam[..., 2:3] + principal[:, None, :]

    for _ in range(iterations):
        uv = project(distance)
        wh = np.maximum(uv.max(axis=1) - uv.min(axis=1), 1e-6)
        distance = np.maximum(distance / np.sqrt(box_area / wh.prod(axis=1)), 1.05 * radius)
        uv = project(distance)
        principal = principal + box_c - (uv.min(axis=1) + uv.max(axis=1)) / 2.0
    return PerspectiveCamera.create(az, el, distance, rl, fov, principal, centre, (h, w),
                                    dtype=torch.float64)


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.array(x, dtype=np.float64)


# -------------------------------------------------------------------------- scoring
def _project(cams: PerspectiveCamera, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cams.project`` in numpy float64: (B, V, 2) pixels and (B, V) depth."""
    rot = cams.rotation().numpy()
    cam = np.einsum("bij,nj->bni", rot, vertices) + cams.translation().numpy()[:, None, :]
    depth = cam[..., 2]
    safe = np.maximum(depth, MIN_DEPTH)[..., None]
    uv = cams.focal().numpy()[:, None, None] * cam[..., :2] / safe
    return uv + cams.principal.numpy()[:, None, :], depth


def _silhouettes(cams: PerspectiveCamera, vertices: np.ndarray, faces: np.ndarray,
                 rasterizer, closed: bool) -> list[np.ndarray]:
    uv, depth = _project(cams.to(dtype=torch.float64), vertices)
    return [rasterizer.mask(uv[b], depth[b], faces, cams.image_size, cull_backfaces=closed)
            for b in range(cams.batch_size)]


def _iou(pred: np.ndarray, target: np.ndarray, target_sum: int) -> float:
    inter = int(np.count_nonzero(pred & target))
    union = target_sum + int(np.count_nonzero(pred)) - inter
    return inter / union if union else 1.0


def _downscale(mask: np.ndarray, max_side: int) -> np.ndarray:
    h, w = mask.shape
    if max(h, w) <= max_side:
        return mask
    import cv2

    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    out = small > 0.5
    return out if out.any() else small > 0


def _rescale_camera(cam: PerspectiveCamera, image_size: tuple[int, int]) -> PerspectiveCamera:
    """The same view at another image size (principal point scaled with the image)."""
    if tuple(cam.image_size) == tuple(image_size):
        return cam
    sy, sx = image_size[0] / cam.image_size[0], image_size[1] / cam.image_size[1]
    factor = torch.tensor([sx, sy], dtype=cam.principal.dtype)
    return PerspectiveCamera(cam.azimuth, cam.elevation, cam.distance, cam.roll, cam.fov,
                             cam.principal * factor, cam.target,
                             (int(image_size[0]), int(image_size[1])))


# ------------------------------------------------------------------------ the search
def iter_viewpoint_search(mask, vertices, faces, k: int = 5, n_azimuth: int = 24,
                          n_elevation: int = 12,
                          elevation_range: tuple[float, float] = (-90.0, 90.0),
                          fov: float = 30.0, rasterizer: str = "fast", max_side: int = 128,
                          cancel=None) -> Iterator[ViewpointProgress | ViewpointSearchDone]:
    """Score every (azimuth, elevation) bin; stream progress after each elevation ring.

    Args:
        mask: (H, W) target silhouette (bool, or numbers > 0.5 as foreground).
        vertices: (V, 3) template mesh, world units; faces: (F, 3) vertex indices.
        k: number of hypotheses returned.
        n_azimuth, n_elevation, elevation_range: the bins (module docs).
        fov: vertical field of view of the fitted cameras, degrees.
        rasterizer: ``"fast"`` (numpy scanline fill), ``"pytorch3d"`` or ``"auto"``
            (:func:`core.raster.interface.rasterizer_by_name`); both sample pixel centres.
        max_side: masks with a longer side are searched downscaled to it.
        cancel: anything with a ``cancelled`` attribute (e.g. the trainer's ``CancelToken``);
            checked between rings.

    Yields:
        :class:`ViewpointProgress` per ring of ``n_azimuth`` bins, then one
        :class:`ViewpointSearchDone` with the top ``k`` (IoU at full size, best first).

    Raises:
        PoseError: bad mask (empty, touching all borders, not 2D), bad mesh or options.
    """
    t0 = time.perf_counter()
    full = as_mask(mask)
    v_np, f_np = as_mesh(vertices, faces)
    if k < 1 or n_azimuth < 1 or n_elevation < 1:
        raise PoseError(f"k, n_azimuth and n_elevation must be >= 1, got {k}, {n_azimuth}, "
                        f"{n_elevation}")
    if not elevation_range[0] < elevation_range[1]:
        raise PoseError(f"elevation_range must be increasing, got {elevation_range}")
    if rasterizer not in ("fast", "pytorch3d", "auto"):
        raise PoseError(f"rasterizer must be 'fast', 'pytorch3d' or 'auto', got "
                        f"{rasterizer!r}")
    raster = rasterizer_by_name(rasterizer)
    if not 0.0 < fov < 180.0:
        raise PoseError(f"fov must be in (0, 180) degrees, got {fov}")
    small = _downscale(full, max_side)
    hull = _hull_points(v_np)
    closed = is_closed_mesh(f_np)
    box = mask_box(small)
    small_sum = int(np.count_nonzero(small))
    az_c, el_c = azimuth_bin_centres(n_azimuth), elevation_bin_centres(n_elevation,
                                                                       elevation_range)
    total = n_azimuth * n_elevation
    scored: list[tuple[float, int, int, PerspectiveCamera]] = []
    done = 0
    cancelled = False
    for j, el in enumerate(el_c):
        if cancel is not None and cancel.cancelled:
            cancelled = True
            break
        cams = fit_cameras_to_box(hull, az_c, np.full_like(az_c, el), box, small.shape, fov)
        sils = _silhouettes(cams, v_np, f_np, raster, closed)
        scored += [(_iou(s, small, small_sum), i, j, cams.index(i)) for i, s in enumerate(sils)]
        done += n_azimuth
        yield ViewpointProgress(done, total, _top(scored, k, az_c, el_c, full.shape))
    best = _top(scored, k, az_c, el_c, full.shape)
    if small.shape != full.shape:
        best = _rescore(best, v_np, f_np, full, raster, closed)
    yield ViewpointSearchDone(best, done, total, cancelled, time.perf_counter() - t0)


def search_viewpoints(mask, vertices, faces, k: int = 5, n_azimuth: int = 24,
                      n_elevation: int = 12,
                      elevation_range: tuple[float, float] = (-90.0, 90.0),
                      fov: float = 30.0, rasterizer: str = "fast", max_side: int = 128,
                      cancel=None) -> list[ViewpointHypothesis]:
    """The top ``k`` viewpoint hypotheses, best first (see :func:`iter_viewpoint_search`)."""
    result: list[ViewpointHypothesis] = []
    for event in iter_viewpoint_search(mask, vertices, faces, k, n_azimuth, n_elevation,
                                       elevation_range, fov, rasterizer, max_side, cancel):
        if isinstance(event, ViewpointSearchDone):
            result = list(event.hypotheses)
    return result


def _top(scored, k, az_c, el_c, full_size) -> tuple[ViewpointHypothesis, ...]:
    """The best ``k`` of ``(iou, i, j, camera)``, cameras moved to the full image size."""
    order = sorted(scored, key=lambda s: (-s[0], s[2], s[1]))[:k]
    return tuple(ViewpointHypothesis(float(az_c[i]), float(el_c[j]), i, j,
                                     _rescale_camera(cam, full_size).to(dtype=torch.float32),
                                     iou, rank + 1)
                 for rank, (iou, i, j, cam) in enumerate(order))


def _hull_points(vertices: np.ndarray) -> np.ndarray:
    """The convex hull's vertices (the same box and bounding radius as all the vertices under
    any camera that has them in front, and far fewer to project); all of them if the hull
    is degenerate."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return vertices[ConvexHull(vertices).vertices]
    except (QhullError, ValueError):
        return vertices


def _rescore(best, verts, faces, full, rasterizer, closed) -> tuple[ViewpointHypothesis, ...]:
    total = int(np.count_nonzero(full))
    out = []
    for hyp in best:
        cam = hyp.camera.to(dtype=torch.float64)
        sil = _silhouettes(cam, verts, faces, rasterizer, closed)[0]
        out.append((hyp, cam, _iou(sil, full, total)))
    out.sort(key=lambda t: -t[2])
    return tuple(ViewpointHypothesis(h.azimuth, h.elevation, h.azimuth_bin, h.elevation_bin,
                                     cam.to(dtype=torch.float32), iou, rank + 1)
                 for rank, (h, cam, iou) in enumerate(out))
