"""Pose refinement against a target silhouette, streamed step by step.

Two objectives, both minimised with Adam over the camera (the template mesh is fixed):

- ``"soft"``: the 2D-3D-2D paper's Eq. 1 with the square, ``mean_p (S[p] - Proj(M, V)[p])^2``
  over all pixels ``p`` (the mean, not the sum, so the loss does not grow with resolution),
  ``Proj`` the pytorch3d soft silhouette (:func:`core.raster.soft_silhouette.soft_silhouette`).
  Exact but slow on a CPU.
- ``"fast"`` (:class:`FastObjective`): differentiable through projected points only, TTP's
  points-Chamfer term applied to the mesh's projected *contour* (edges between a front- and a
  back-facing triangle, sampled ``edge_samples`` times each, kept where they lie on the outline
  of the current hard silhouette). *Consistency*: the distance transform of the mask's outside
  (:func:`cv2.distanceTransform`, on a ``supersample`` x finer grid, zero within ``tolerance``
  pixels of the mask, sampled bilinearly as :func:`torch.nn.functional.grid_sample` does; beyond
  the image the distance to its border is added, except across a border the mask touches,
  where the object may continue) at the contour points pulls them into the mask.
  *Coverage*: the mean distance from ``n_cover`` points on the mask's outline (midpoints of the
  pixel sides between foreground and background) to the nearest contour point (a k-d tree
  picks it; the distance itself is differentiable) pushes the contour out to the outline. Both
  are divided by ``max(H, W)``. A rasterized mask places the true outline only within half a
  pixel, hence the 0.5 px ``tolerance`` and outline points on pixel sides: at the true pose
  both terms are at their minimum up to the contour sampling. (Surface points or all vertices
  in place of the contour, and coverage of every mask pixel, biased the optimum by 5-10 % in
  distance on the demo models: interior points make a denser projection look better.)

Parameters (``params``): ``"azimuth"``, ``"elevation"``, ``"roll"`` (degrees), ``"distance"``
and ``"principal"`` (the 2D shift of the principal point, pixels); the field of view and the
look-at target stay fixed. The optimiser works on unit-scaled offsets from the starting camera
so that one learning rate suits every parameter and resolution: one unit is
:data:`ANGLE_UNIT` degrees, a factor ``exp(LOG_DISTANCE_UNIT)`` of distance (beyond its
floor), and :data:`PRINCIPAL_UNIT` times ``max(H, W)`` pixels. Adam's first steps move each
parameter by about ``lr`` units; the learning rate follows a cosine from ``lr`` to
``lr * LR_FLOOR`` over ``steps``.

Camera behind the object: the distance is parametrised as ``d_min + (d0 - d_min) * exp(z)``
with ``d_min`` = 1.01 x the radius of the mesh's bounding sphere about the look-at target, so
every vertex stays in front of the camera at every step. A starting camera with any vertex at
or behind it raises :class:`~core.cameras.CameraError` (as does a non-finite one); a starting
camera inside that sphere with every vertex in front is moved out along its viewing direction
to 1.05 x the radius (the documented fallback). A NaN or infinite loss or parameter raises
:class:`~core.pose.errors.RefinementDiverged` before that camera is yielded.

Every yielded :class:`RefineStep` carries the loss, the IoU of the camera's hard silhouette
(:func:`core.raster.fast_mask.hard_mask`) with the mask, and the camera. Step 0 is the
starting camera; step ``i`` is the camera after ``i`` updates (``steps + 1`` records).

Shape (``shape=``, a :class:`ShapeModel`): the mesh becomes ``V = vertices + sum_k c_k B_k``
and the coefficients ``c`` (K,) move with the camera, one optimiser unit being one unit of
``c`` (a standard deviation for the std-scaled PCA modes of :mod:`core.shape_space`). The
loss gains a Mahalanobis prior ``prior * sum_k c_k^2 / var_k`` and, when 2D points are given
(:class:`KeypointTerm`), ``weight * sum_i w_i ||proj(p_i) - u_i|| / (sum_i w_i max(H, W))``
for semantic points ``p_i`` on the mesh (face + barycentric weights). ``||c||`` is kept below
``max_norm`` by a smooth radial squash (identity up to 0.8 ``max_norm``), and the distance
floor uses the largest reach of any shape in that ball, so the in-front guarantee holds for
every shape. Steps then also carry ``coefficients`` and ``vertices``.

Device: the soft objective runs where ``device`` says (pytorch3d's rasterizer on CUDA); the
fast objective (numpy, k-d trees) always on the CPU. Yielded records are on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.cameras import CameraError, PerspectiveCamera
from core.pose.errors import PoseError, RefinementDiverged, as_mask, as_mesh, is_closed_mesh
from core.raster.fast_mask import hard_mask

ANGLE_UNIT = 30.0  # degrees per optimiser unit
LOG_DISTANCE_UNIT = 0.3  # log of the distance above its floor, per optimiser unit
PRINCIPAL_UNIT = 0.3  # principal-point shift per optimiser unit, as a fraction of max(H, W)
LR_FLOOR = 0.05  # the cosine schedule ends at lr * LR_FLOOR
PARAMS = ("azimuth", "elevation", "roll", "distance", "principal")
DEFAULT_LR = {"fast": 0.15, "soft": 0.05}
SOFT_EDGE_PX = 0.15  # default soft-silhouette edge width, pixels (sigma = 1e-4 at 30 px)


@dataclass(frozen=True)
class RefineStep:
    """One refinement step.

    Attributes:
        step: 0 for the starting camera, ``i`` after ``i`` updates.
        loss: the objective at ``camera``.
        iou: IoU of ``camera``'s hard silhouette with the target mask.
        camera: detached, finite, a batch of one, in the starting camera's dtype.
        camera_dict: ``camera.to_dict()`` (JSON-able).
        seconds: since the refinement started.
        mask: (H, W) bool hard silhouette of ``camera`` when asked for, else None.
        coefficients: (K,) float64 shape coefficients ``c`` when a :class:`ShapeModel` is
            refined, else None.
        vertices: (V, 3) float64 the mesh at this step (world units) with a shape model,
            else None.
    """

    step: int
    loss: float
    iou: float
    camera: PerspectiveCamera
    camera_dict: dict
    seconds: float
    mask: np.ndarray | None = None
    coefficients: np.ndarray | None = None
    vertices: np.ndarray | None = None


@dataclass(frozen=True)
class RefineResult:
    """A whole run: the best step (highest IoU; earliest on ties), the last one, the
    ``(step, loss, iou)`` history and whether it was cancelled."""

    best: RefineStep
    last: RefineStep
    history: tuple[tuple[int, float, float], ...]
    cancelled: bool
    objective: str


# ------------------------------------------------------------------------ objectives
def mask_outline_points(target: np.ndarray) -> np.ndarray:
    """(P, 2) float32 pixel positions on the outline of an (H, W) bool mask: the midpoints
    of the pixel sides between a foreground and a background pixel (the image frame is not
    part of the outline: the object may continue beyond it)."""
    rows, cols = np.nonzero(target[:, :-1] != target[:, 1:])
    horizontal = np.stack([cols + 1.0, rows + 0.5], axis=1)
    rows, cols = np.nonzero(target[:-1, :] != target[1:, :])
    vertical = np.stack([cols + 0.5, rows + 1.0], axis=1)
    return np.concatenate([horizontal, vertical]).astype(np.float32)


def outside_distance(target: np.ndarray, supersample: int = 4,
                     tolerance: float = 0.5) -> np.ndarray:
    """Distance (pixels) from the foreground of an (H, W) bool mask, minus ``tolerance``
    and clamped at 0, on a ``supersample`` x finer grid: (sH, sW) float32."""
    import cv2

    up = max(int(supersample), 1)
    fine = np.kron(target, np.ones((up, up), dtype=bool)) if up > 1 else target
    dt = cv2.distanceTransform(np.ascontiguousarray((~fine).astype(np.uint8)), cv2.DIST_L2,
                               cv2.DIST_MASK_PRECISE)
    # Fine-pixel centres sit half a fine pixel outside the foreground's edge at best.
    return np.where(fine, 0.0, np.maximum((dt - 0.5) / up - tolerance, 0.0)).astype(np.float32)


class MeshEdges:
    """Undirected edges of a triangle mesh with their first two faces, to find its contour.

    Attributes:
        edges: (E, 2) int64 vertex indices (torch).
        first, second: (E,) int64 adjacent faces (numpy); ``second`` is -1 on open edges.
    """

    def __init__(self, faces: np.ndarray) -> None:
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        owner = np.tile(np.arange(len(faces), dtype=np.int64), 3)
        uniq, inverse = np.unique(np.sort(e, axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        sorted_inv = inverse[order]
        start = np.searchsorted(sorted_inv, np.arange(len(uniq)))
        count = np.bincount(inverse, minlength=len(uniq))
        self.first = owner[order[start]]
        nxt = np.minimum(start + 1, len(order) - 1)
        self.second = np.where(count >= 2, owner[order[nxt]], -1)
        self.faces = faces
        self.edges = torch.from_numpy(uniq.astype(np.int64))

    def contour(self, uv: np.ndarray) -> np.ndarray:
        """Indices of contour edges (front face next to a back face, or open) for projected
        vertices (V, 2), pixels."""
        a, b, c = uv[self.faces[:, 0]], uv[self.faces[:, 1]], uv[self.faces[:, 2]]
        cross = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
                 - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
        front = cross < 0  # outward faces seen from outside wind clockwise (y down)
        sel = (self.second < 0) | (front[self.first] != front[np.maximum(self.second, 0)])
        return np.flatnonzero(sel)


class FastObjective:
    """Points-Chamfer objective on the projected contour (module docs).

    Args:
        target: (H, W) bool mask.
        faces: (F, 3) int64 mesh faces.
        n_cover: outline points of the mask used for coverage (a fixed random subset).
        seed: for that subset.
        coverage_weight: weight of coverage against consistency.
        supersample, tolerance: of the consistency field (:func:`outside_distance`).
        edge_samples: points per contour edge (at t = 0, 1/n, ...).
        outline_px: keep contour points within this distance (pixels) of the current hard
            silhouette's background (0: keep all, interior folds included).
    """

    def __init__(self, target: np.ndarray, faces: np.ndarray, n_cover: int = 512,
                 seed: int = 0, coverage_weight: float = 1.0, supersample: int = 4,
                 tolerance: float = 0.5, edge_samples: int = 3,
                 outline_px: float = 1.5) -> None:
        h, w = target.shape
        self.size = (h, w)
        self.scale = float(max(h, w))
        self.field = torch.from_numpy(outside_distance(target, supersample, tolerance))
        pts = mask_outline_points(target)
        if len(pts) == 0:  # the mask fills the image: no outline inside the frame
            pts = np.zeros((0, 2), dtype=np.float32)
        pick = np.random.default_rng(seed).permutation(len(pts))[:n_cover]
        self.cover_np = np.ascontiguousarray(pts[pick])
        self.cover = torch.from_numpy(self.cover_np)  # (P, 2) px
        self.coverage_weight = float(coverage_weight)
        self.free = torch.tensor([0.0 if target[:, 0].any() else 1.0,
                                  0.0 if target[:, -1].any() else 1.0,
                                  0.0 if target[0].any() else 1.0,
                                  0.0 if target[-1].any() else 1.0])  # left right top bottom
        self.mesh = MeshEdges(faces)
        self.t = torch.arange(edge_samples, dtype=torch.float32) / max(edge_samples, 1)
        self.outline_px = float(outline_px)

    def contour_points(self, vertices_uv: torch.Tensor,
                       silhouette: np.ndarray | None = None) -> torch.Tensor:
        """(C, 2) contour samples of projected vertices (V, 2), pixels."""
        uv = vertices_uv.float()
        idx = self.mesh.contour(uv.detach().numpy())
        if len(idx) == 0:
            return uv
        e = self.mesh.edges[torch.from_numpy(idx)]
        a, b = uv[e[:, 0]], uv[e[:, 1]]
        pts = (a[:, None] + (b - a)[:, None] * self.t[None, :, None]).reshape(-1, 2)
        if silhouette is None or self.outline_px <= 0:
            return pts
        import cv2

        inner = cv2.distanceTransform(np.pad(silhouette, 1).astype(np.uint8), cv2.DIST_L2,
                                      3)[1:-1, 1:-1]
        h, w = silhouette.shape
        p = pts.detach().numpy()
        cols = np.clip(p[:, 0].astype(np.int64), 0, w - 1)
        rows = np.clip(p[:, 1].astype(np.int64), 0, h - 1)
        keep = inner[rows, cols] <= self.outline_px
        return pts[torch.from_numpy(keep)] if keep.any() else pts

    def open_sides(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 2) 0/1: whether a point's overshoot beyond the frame (in x, in y) counts."""
        left, right, top, bottom = self.free
        x = torch.where(points[:, 0] < 0, left, right)
        y = torch.where(points[:, 1] < 0, top, bottom)
        return torch.stack([x, y], dim=-1)

    def points_loss(self, points: torch.Tensor) -> torch.Tensor:
        """Consistency + weighted coverage of points (N, 2) pixels, over ``max(H, W)``."""
        h, w = self.size
        clamped = torch.stack([points[:, 0].clamp(0.0, float(w)),
                               points[:, 1].clamp(0.0, float(h))], dim=-1)
        inside = _bilinear(self.field, clamped * (self.field.shape[1] / w))
        # Beyond the frame: the distance to it, except across a border the mask touches
        # (the object may continue there).
        beyond = (points - clamped) * self.open_sides(points)
        consistency = (inside + _safe_norm(beyond)).mean()
        if len(self.cover) == 0:
            return consistency / self.scale
        from scipy.spatial import cKDTree

        # Nearest contour point per outline point (k-d tree, no gradient), then the distance
        # in torch so that it is differentiable in the points.
        _, nearest = cKDTree(points.detach().numpy()).query(self.cover_np)
        coverage = _safe_norm(self.cover - points[torch.from_numpy(nearest)]).mean()
        return (consistency + self.coverage_weight * coverage) / self.scale

    def __call__(self, vertices_uv: torch.Tensor,
                 silhouette: np.ndarray | None = None) -> torch.Tensor:
        """Loss (scalar) of projected vertices (V, 2), pixels, given the current hard
        silhouette (H, W) bool (or None: every contour point is used)."""
        return self.points_loss(self.contour_points(vertices_uv, silhouette))


class SoftObjective:
    """Eq. 1 with the square: mean squared difference of the target mask and the pytorch3d
    soft silhouette of the projected mesh (``sigma`` default: :data:`SOFT_EDGE_PX`), on
    ``device`` (default CPU; the projected vertices must be there too)."""

    def __init__(self, target: np.ndarray, faces: np.ndarray, sigma: float | None = None,
                 faces_per_pixel: int = 16, cull_backfaces: bool = False,
                 device=None) -> None:
        from core.raster.soft_silhouette import sigma_for_pixels

        self.target = torch.from_numpy(target.astype(np.float32)).to(device)
        self.faces = torch.as_tensor(faces, dtype=torch.int64, device=device)
        self.size = target.shape
        self.sigma = sigma_for_pixels(SOFT_EDGE_PX, self.size) if sigma is None \
            else float(sigma)
        self.faces_per_pixel = int(faces_per_pixel)
        self.cull = bool(cull_backfaces)

    def __call__(self, vertices_uv: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Loss (scalar) of projected vertices (V, 2) pixels with depths (V,)."""
        from core.raster.soft_silhouette import soft_silhouette

        sil = soft_silhouette(vertices_uv[None], depth[None], self.faces, self.size,
                              sigma=self.sigma, faces_per_pixel=self.faces_per_pixel,
                              cull_backfaces=self.cull)[0]
        return ((sil - self.target) ** 2).mean()


def _bilinear(image: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of an (H, W) image at positions (N, 2) ``[x, y]`` in its pixels
    (centres at ``i + 0.5``), clamped to the border: ``grid_sample(..., align_corners=False,
    padding_mode="border")`` by gathering the four neighbours, which keeps the cost and the
    backward pass proportional to N (grid_sample's backward touches the whole image)."""
    h, w = image.shape
    x = (xy[:, 0] - 0.5).clamp(0.0, float(w - 1))
    y = (xy[:, 1] - 0.5).clamp(0.0, float(h - 1))
    x0, y0 = x.detach().floor().long(), y.detach().floor().long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1.0 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1.0 - fx) + image[y1, x1] * fx
    return top * (1.0 - fy) + bottom * fy


def _safe_norm(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean norm over the last axis with a finite gradient at 0."""
    return torch.sqrt((x ** 2).sum(-1) + eps) - math.sqrt(eps)


# ----------------------------------------------------------------------------- shape
SHAPE_KNEE = 0.8  # the squash of ||c|| is the identity up to this fraction of max_norm


@dataclass(frozen=True)
class KeypointTerm:
    """2D points the mesh's semantic points should project to (a loss term).

    Attributes:
        point_faces: (S,) int64 face of each semantic point on the mesh.
        point_bary: (S, 3) barycentric weights on that face.
        uv: (S, 2) target pixels; entries with weight 0 may be NaN.
        weights: (S,) in [0, 1] (e.g. visibility x confidence of a prediction).
        weight: the term's weight against the silhouette objective.
    """

    point_faces: np.ndarray
    point_bary: np.ndarray
    uv: np.ndarray
    weights: np.ndarray
    weight: float = 1.0


@dataclass(frozen=True)
class ShapeModel:
    """Linear shape coefficients refined with the camera (module docs).

    Attributes:
        basis: (K, V, 3) world units per unit coefficient, added to ``refine_pose``'s
            vertices (the mean shape).
        coefficients: (K,) start (None: zeros).
        variances: (K,) prior variances of ``c`` (None: ones, right for std-scaled modes).
        prior: weight of ``sum_k c_k^2 / var_k`` (loss units per squared std).
        max_norm: bound on ``||c||`` (None: ``max(3, 2 sqrt(K))``).
        keypoints: an optional :class:`KeypointTerm`.
    """

    basis: np.ndarray
    coefficients: np.ndarray | None = None
    variances: np.ndarray | None = None
    prior: float = 1e-3
    max_norm: float | None = None
    keypoints: KeypointTerm | None = None


class _ShapeParams:
    """``c = squash(c0 + z)`` and the mesh ``mean + c B`` (torch, float64)."""

    def __init__(self, model: ShapeModel, mean: torch.Tensor, faces: np.ndarray,
                 image_size: tuple[int, int]) -> None:
        dev = mean.device
        basis = np.asarray(model.basis, dtype=np.float64)
        k = basis.shape[0] if basis.ndim == 3 else -1
        if basis.ndim != 3 or basis.shape[1:] != tuple(mean.shape):
            raise PoseError(f"shape basis must be (K, V, 3) = (K, {mean.shape[0]}, 3), got "
                            f"{basis.shape}")
        c0 = np.zeros(k) if model.coefficients is None else np.asarray(model.coefficients,
                                                                        dtype=np.float64)
        var = np.ones(k) if model.variances is None else np.asarray(model.variances,
                                                                    dtype=np.float64)
        if c0.shape != (k,) or var.shape != (k,):
            raise PoseError(f"coefficients and variances must be ({k},), got {c0.shape} and "
                            f"{var.shape}")
        if not (np.isfinite(basis).all() and np.isfinite(c0).all() and np.isfinite(var).all()
                and (var > 0).all()):
            raise PoseError("shape basis, coefficients and variances must be finite "
                            "(variances > 0)")
        prior = float(model.prior)
        if not (math.isfinite(prior) and prior >= 0):
            raise PoseError(f"shape prior must be a number >= 0, got {model.prior}")
        self.max_norm = float(model.max_norm) if model.max_norm is not None \
            else max(3.0, 2.0 * math.sqrt(max(k, 1)))
        if not self.max_norm > 0:
            raise PoseError(f"max_norm must be > 0, got {model.max_norm}")
        norm0 = float(np.linalg.norm(c0))
        if norm0 > SHAPE_KNEE * self.max_norm:  # start inside the identity part of the squash
            c0 = c0 * (SHAPE_KNEE * self.max_norm / norm0)
        self.mean = mean
        self.basis = torch.from_numpy(basis.reshape(k, -1)).to(dev)
        self.c0 = torch.from_numpy(c0).to(dev)
        self.inv_var = torch.from_numpy(1.0 / var).to(dev)
        self.prior = prior
        self.z = torch.zeros(k, dtype=torch.float64, device=dev, requires_grad=True)
        # Largest displacement of each vertex over ||c|| <= max_norm (Cauchy-Schwarz).
        self.reach = self.max_norm * np.sqrt((basis ** 2).sum(axis=(0, 2)))  # (V,)
        self.keypoints = self._keypoints(model.keypoints, faces, image_size, dev)

    @staticmethod
    def _keypoints(term: KeypointTerm | None, faces: np.ndarray,
                   image_size: tuple[int, int], dev: torch.device):
        if term is None:
            return None
        pf = np.asarray(term.point_faces, dtype=np.int64).reshape(-1)
        bary = np.asarray(term.point_bary, dtype=np.float64)
        uv = np.asarray(term.uv, dtype=np.float64)
        w = np.asarray(term.weights, dtype=np.float64)
        s = len(pf)
        if bary.shape != (s, 3) or uv.shape != (s, 2) or w.shape != (s,):
            raise PoseError(f"keypoint term: point_bary (S, 3), uv (S, 2) and weights (S,) "
                            f"for S = {s}, got {bary.shape}, {uv.shape}, {w.shape}")
        if s and (pf.min() < 0 or pf.max() >= len(faces)):
            raise PoseError("keypoint term: point faces outside the mesh")
        w = np.where(np.isfinite(uv).all(axis=1) & np.isfinite(w), np.clip(w, 0.0, 1.0), 0.0)
        if w.sum() <= 0 or float(term.weight) <= 0:
            return None
        scale = float(term.weight) / (w.sum() * max(image_size))
        return tuple(torch.from_numpy(a).to(dev) for a in (
            faces[pf], bary, np.where(w[:, None] > 0, uv, 0.0), w * scale))

    def coefficients(self) -> torch.Tensor:
        w = self.c0 + self.z
        r = torch.sqrt((w * w).sum() + 1e-24)
        knee = SHAPE_KNEE * self.max_norm
        if float(r.detach()) <= knee:
            return w
        span = self.max_norm - knee
        return w * ((knee + span * torch.tanh((r - knee) / span)) / r)

    def vertices(self, c: torch.Tensor) -> torch.Tensor:
        return self.mean + (c @ self.basis).view_as(self.mean)

    def penalty(self, c: torch.Tensor, verts: torch.Tensor, cam: PerspectiveCamera
                ) -> torch.Tensor:
        """Prior plus keypoint term (scalar), loss units."""
        loss = self.prior * (c * c * self.inv_var).sum()
        if self.keypoints is not None:
            corners, bary, uv, w = self.keypoints
            points = (verts[corners] * bary[..., None]).sum(1)            # (S, 3)
            proj, _ = cam.project(points)
            loss = loss + (w * _safe_norm(proj[0] - uv)).sum()
        return loss


# ------------------------------------------------------------------- parametrisation
class _CameraParams:
    """Unit-scaled offsets ``x`` from a starting camera (module docs)."""

    def __init__(self, camera: PerspectiveCamera, params: Sequence[str], d_min: float) -> None:
        params = tuple(params)
        unknown = [p for p in params if p not in PARAMS]
        if unknown or not params or len(set(params)) != len(params):
            raise PoseError(f"params must be distinct names from {PARAMS}, got {params!r}")
        self.base = camera
        self.params = params
        self.d_min = d_min
        self.x = torch.zeros(len(params) + ("principal" in params),
                             dtype=camera.azimuth.dtype, device=camera.azimuth.device,
                             requires_grad=True)
        self.px_unit = PRINCIPAL_UNIT * float(max(camera.image_size))

    def camera(self) -> PerspectiveCamera:
        base, x = self.base, self.x
        values = {"azimuth": base.azimuth, "elevation": base.elevation, "roll": base.roll,
                  "distance": base.distance, "principal": base.principal}
        i = 0
        for name in self.params:
            if name == "principal":
                values[name] = base.principal + self.px_unit * x[i:i + 2][None]
                i += 2
                continue
            if name == "distance":
                extra = base.distance - self.d_min
                values[name] = self.d_min + extra * torch.exp(LOG_DISTANCE_UNIT * x[i])
            else:
                values[name] = values[name] + ANGLE_UNIT * x[i]
            i += 1
        return PerspectiveCamera(values["azimuth"], values["elevation"], values["distance"],
                                 values["roll"], base.fov, values["principal"], base.target,
                                 base.image_size)


def _start_camera(camera: PerspectiveCamera, vertices: torch.Tensor,
                  reach: np.ndarray | None = None) -> tuple[PerspectiveCamera, float]:
    """The starting camera in float64 and the distance floor (module docs); ``reach`` (V,)
    is how far each vertex may move (shape refinement)."""
    if camera.batch_size != 1:
        raise PoseError(f"refinement takes a batch of one camera, got {camera.batch_size}")
    cam = camera.detach().to(dtype=torch.float64).validate()
    cam.require_in_front(vertices, what="template mesh")
    dist = (vertices - cam.target).norm(dim=1)
    if reach is not None:
        dist = dist + torch.from_numpy(reach)
    radius = float(dist.max())
    if float(cam.distance[0]) <= 1.02 * radius:
        cam = PerspectiveCamera(cam.azimuth, cam.elevation, cam.distance.new_full(
            (1,), 1.05 * radius), cam.roll, cam.fov, cam.principal, cam.target, cam.image_size)
    return cam, 1.01 * radius


# ---------------------------------------------------------------------- refinement
def refine_pose(mask, vertices, faces, camera: PerspectiveCamera, objective: str = "fast",
                steps: int = 100, lr: float | None = None, cancel=None,
                params: Sequence[str] = PARAMS, sigma: float | None = None,
                faces_per_pixel: int = 16, return_masks: bool = False,
                fast_options: dict | None = None,
                shape: ShapeModel | None = None, device=None) -> Iterator[RefineStep]:
    """Refine ``camera`` so the mesh's silhouette matches ``mask``; yield every step.

    Args:
        mask: (H, W) target silhouette (bool, or numbers > 0.5 as foreground); its size
            must be the camera's ``image_size``.
        vertices: (V, 3) template mesh, world units; faces: (F, 3) vertex indices.
        camera: the starting :class:`PerspectiveCamera`, a batch of one.
        objective: ``"fast"`` (points-Chamfer on the contour) or ``"soft"`` (Eq. 1).
        steps: number of updates (``steps + 1`` records, step 0 the start).
        lr: Adam learning rate in optimiser units (default :data:`DEFAULT_LR`).
        cancel: anything with a ``cancelled`` attribute (e.g. the trainer's
            ``CancelToken``); checked after every yielded step.
        params: which camera parameters move (distinct names from :data:`PARAMS`).
        sigma, faces_per_pixel: soft-silhouette settings (soft objective).
        return_masks: attach each step's hard silhouette.
        fast_options: keyword arguments of :class:`FastObjective` (fast objective).
        shape: refine shape coefficients too (:class:`ShapeModel`; ``vertices`` is then the
            mean shape); None: the mesh is fixed.
        device: where the soft objective computes (e.g. ``"cuda"``; default CPU). The fast
            objective always runs on the CPU. Yielded cameras and arrays are on the CPU.

    Yields:
        :class:`RefineStep`, each with a finite camera in the input camera's dtype.

    Raises:
        PoseError: mask of another size (both named), empty mask, mask touching all four
            borders, bad mesh, bad options.
        CameraError: non-finite starting camera or one with the mesh behind it.
        RefinementDiverged: NaN/inf loss or parameters (nothing non-finite is yielded).
    """
    t0 = time.perf_counter()
    if not isinstance(camera, PerspectiveCamera):
        raise PoseError(f"refinement needs a PerspectiveCamera, got {type(camera).__name__}")
    if objective not in ("fast", "soft"):
        raise PoseError(f"objective must be 'fast' or 'soft', got {objective!r}")
    if steps < 0:
        raise PoseError(f"steps must be >= 0, got {steps}")
    rate = DEFAULT_LR[objective] if lr is None else float(lr)
    if not (math.isfinite(rate) and rate > 0):
        raise PoseError(f"lr must be a positive number, got {lr}")
    image_size = camera.image_size
    target = as_mask(mask, image_size)
    v_np, f_np = as_mesh(vertices, faces)
    dev = torch.device("cpu") if device is None or objective == "fast" \
        else torch.device(device)
    mean = torch.as_tensor(v_np, dtype=torch.float64, device=dev)
    shaper = None if shape is None else _ShapeParams(shape, mean, f_np, image_size)
    c = verts = None
    if shaper is not None:
        with torch.no_grad():
            c = shaper.coefficients()
            verts = shaper.vertices(c).cpu()
        camera.detach().to(device="cpu", dtype=torch.float64).require_in_front(
            verts, what="start shape")
    start, d_min = _start_camera(camera.to(device="cpu"), mean.cpu(),
                                 None if shaper is None else shaper.reach)
    start = start.to(device=dev)
    closed = is_closed_mesh(f_np)
    if objective == "fast":
        loss_fn = FastObjective(target, f_np, **(fast_options or {}))
    else:
        loss_fn = SoftObjective(target, f_np, sigma, faces_per_pixel, cull_backfaces=closed,
                                device=dev)
    state = _CameraParams(start, params, d_min)
    opt = torch.optim.Adam([state.x] if shaper is None else [state.x, shaper.z], lr=rate)
    out_dtype = camera.azimuth.dtype
    target_sum = int(np.count_nonzero(target))
    for step in range(steps + 1):
        cam = state.camera()
        if shaper is None:
            verts = mean
        else:
            c = shaper.coefficients()
            verts = shaper.vertices(c)
        uv, depth = cam.project(verts)
        uv, depth = uv[0], depth[0]
        if not bool(torch.isfinite(uv).all()):
            raise RefinementDiverged(f"refinement diverged at step {step}: non-finite "
                                     f"projections; stopped before yielding that camera")
        sil = hard_mask(uv.detach().cpu().numpy(), f_np, image_size,
                        depth=depth.detach().cpu().numpy(), cull_backfaces=closed)
        loss = loss_fn(uv, sil) if objective == "fast" else loss_fn(uv, depth)
        if shaper is not None:
            loss = loss + shaper.penalty(c, verts, cam)
        if not bool(torch.isfinite(loss)):
            raise RefinementDiverged(f"refinement diverged at step {step}: loss "
                                     f"{float(loss.detach())}; stopped before yielding that "
                                     f"camera")
        out = cam.detach().to(device="cpu", dtype=out_dtype)
        try:
            out.validate()
        except CameraError as exc:
            raise RefinementDiverged(f"refinement diverged at step {step}: {exc}") from exc
        inter = int(np.count_nonzero(sil & target))
        iou = inter / (target_sum + int(np.count_nonzero(sil)) - inter)
        extra = {} if shaper is None else {
            "coefficients": c.detach().cpu().numpy().copy(),
            "vertices": verts.detach().cpu().numpy().copy()}
        yield RefineStep(step, float(loss.detach()), float(iou), out, out.to_dict(),
                         time.perf_counter() - t0, sil if return_masks else None, **extra)
        if step == steps or (cancel is not None and cancel.cancelled):
            return
        opt.zero_grad(set_to_none=True)
        loss.backward()
        progress = step / max(steps - 1, 1)
        for group in opt.param_groups:
            group["lr"] = rate * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 *
                                  (1.0 + math.cos(math.pi * progress)))
        opt.step()
        if not (bool(torch.isfinite(state.x).all())
                and (shaper is None or bool(torch.isfinite(shaper.z).all()))):
            raise RefinementDiverged(f"refinement diverged after step {step}: non-finite "
                                     f"camera parameters")


def run_refinement(mask, vertices, faces, camera: PerspectiveCamera, objective: str = "fast",
                   steps: int = 100, lr: float | None = None, cancel=None,
                   params: Sequence[str] = PARAMS, **kwargs) -> RefineResult:
    """Run :func:`refine_pose` to the end (or cancellation) and return the best step.

    ``kwargs`` go to :func:`refine_pose`; same errors.
    """
    best = last = None
    history = []
    for rec in refine_pose(mask, vertices, faces, camera, objective, steps, lr, cancel, params,
                           **kwargs):
        history.append((rec.step, rec.loss, rec.iou))
        if best is None or rec.iou > best.iou:
            best = rec
        last = rec
    if best is None or last is None:  # unreachable: step 0 is always yielded
        raise PoseError("refinement yielded no step")
    return RefineResult(best, last, tuple(history), last.step < steps, objective)
