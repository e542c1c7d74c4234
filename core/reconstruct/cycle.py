"""The 2D-3D-2D cycle: keypoints from a source image to a target image through 3D.

Each source keypoint (pixels) is cast as a ray from the source camera onto the source
reconstruction; the first surface hit is kept as face + barycentric weights. A ray that
misses the mesh (a keypoint just outside the silhouette) takes the surface point seen at the
nearest pixel of the mesh's silhouette (its z-buffer face, then a ray through that pixel's
centre). Both reconstructions come from one shape space, so they share the template's
topology: the same face + barycentric weights give the point on the target reconstruction,
which is projected with the target camera, with visibility
(:func:`core.pose.projection.project_keypoints`). :func:`cycle_pck` scores the result
against the target's ground truth with :func:`core.pose.pck.pck_report` (PCK@0.1 by the
object's box and by the image, the 2D-3D-2D paper's Eq. 2).

Anything with ``vertices`` (V, 3), ``faces`` (F, 3) and a perspective ``camera`` (batch of
one) can be a side of the cycle: a :class:`~core.reconstruct.records.Reconstruction`, or a
:class:`PosedMesh` (e.g. a model with its true camera). Pixels as in :mod:`core.cameras`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.cameras import PerspectiveCamera
from core.pose.pck import PCKReport, pck_report
from core.pose.projection import ProjectedKeypoints, project_keypoints
from core.raster.fast_mask import face_buffer
from core.raster.interface import camera_frame, project
from core.reconstruct.errors import ReconstructionError

_DET_EPS = 1e-14


@dataclass(frozen=True)
class PosedMesh:
    """A mesh and the camera that sees it: vertices (V, 3) world units, faces (F, 3), a
    :class:`PerspectiveCamera` batch of one."""

    vertices: np.ndarray
    faces: np.ndarray
    camera: PerspectiveCamera


@dataclass(frozen=True)
class SurfacePoints:
    """Image points located on a mesh.

    Attributes:
        face: (S,) int64 face of each point, -1 where it could not be placed (not valid,
            or no silhouette at all).
        bary: (S, 3) float64 barycentric weights on ``face`` (NaN where -1).
        xyz: (S, 3) float64 world position (NaN where -1).
        hit: (S,) bool: the point's own ray hit the mesh (False: the nearest silhouette
            pixel's surface point was used, or it was not placed).
    """

    face: np.ndarray
    bary: np.ndarray
    xyz: np.ndarray
    hit: np.ndarray

    @property
    def placed(self) -> np.ndarray:
        """(S,) bool: located on the mesh."""
        return self.face >= 0


@dataclass(frozen=True)
class TransferredKeypoints:
    """Keypoints carried from a source image to a target image.

    Attributes:
        uv: (S, 2) float64 positions in the target image, pixels (NaN where not placed).
        visible: (S,) bool: placed, in the target image and not hidden on the target mesh.
        asked: (S,) bool: the source keypoint was valid (finite, and in ``valid``).
        placed: (S,) bool: asked and located on the source mesh.
        source: where the keypoints sit on the source mesh.
        target_xyz: (S, 3) float64 the points on the target mesh (NaN where not placed).
        projected: the target projection (:class:`ProjectedKeypoints`; NaN rows where not
            placed).
    """

    uv: np.ndarray
    visible: np.ndarray
    asked: np.ndarray
    placed: np.ndarray
    source: SurfacePoints
    target_xyz: np.ndarray
    projected: ProjectedKeypoints


# ----------------------------------------------------------------------------- ray casting


def ray_hits(uv: np.ndarray, camera: PerspectiveCamera, vertices: np.ndarray,
             faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First surface hit of the ray through each pixel position.

    Args:
        uv: (S, 2) pixels; camera: perspective, batch of one; vertices (V, 3) world units;
            faces (F, 3).

    Returns:
        ``(face (S,) int64, -1 on a miss; bary (S, 3) float64, NaN on a miss)``. Faces with a
        vertex at or behind the camera are ignored. The barycentric test includes edges.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    faces = np.asarray(faces, dtype=np.int64)
    n = len(uv)
    face = np.full(n, -1, dtype=np.int64)
    bary = np.full((n, 3), np.nan)
    if n == 0 or len(faces) == 0:
        return face, bary
    verts = camera_frame(camera, vertices)                        # (V, 3), z forward
    f = float(camera.focal()[0])
    principal = camera.principal[0].detach().cpu().numpy().astype(np.float64)
    direc = np.concatenate([(uv - principal) / f, np.ones((n, 1))], axis=1)  # (S, 3)
    z = verts[faces, 2]                                           # (F, 3)
    keep = (z > 0).all(axis=1)
    if not keep.any():
        return face, bary
    fi_all = np.flatnonzero(keep)
    tri = verts[faces[fi_all]]                                    # (F', 3, 3)
    nx, ny = tri[..., 0] / tri[..., 2], tri[..., 1] / tri[..., 2]  # normalised image plane
    dx, dy = direc[:, 0:1], direc[:, 1:2]
    inside = ((nx.min(1) <= dx) & (nx.max(1) >= dx) & (ny.min(1) <= dy) & (ny.max(1) >= dy))
    pi, fj = np.nonzero(inside)                                   # (point, face) pairs
    if len(pi) == 0:
        return face, bary
    t, u, v, hit = _moller_trumbore(direc[pi], tri[fj])
    t = np.where(hit & (t > 0), t, np.inf)
    order = np.lexsort((t, pi))                                   # by point, then distance
    first = np.ones(len(order), dtype=bool)
    first[1:] = pi[order][1:] != pi[order][:-1]
    win = order[first & np.isfinite(t[order])]
    face[pi[win]] = fi_all[fj[win]]
    bary[pi[win]] = np.stack([1.0 - u[win] - v[win], u[win], v[win]], axis=1)
    return face, bary


def _moller_trumbore(direc: np.ndarray, tri: np.ndarray):
    """Rays from the origin along ``direc`` (K, 3) against triangles (K, 3, 3): ``(t, u, v,
    hit)`` with the hit at ``t * direc`` = ``(1 - u - v) a + u b + v c``."""
    v0 = tri[:, 0]
    e1, e2 = tri[:, 1] - v0, tri[:, 2] - v0
    pvec = np.cross(direc, e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    good = np.abs(det) > _DET_EPS
    inv = 1.0 / np.where(good, det, 1.0)
    tvec = -v0
    u = np.einsum("ij,ij->i", tvec, pvec) * inv
    qvec = np.cross(tvec, e1)
    v = np.einsum("ij,ij->i", direc, qvec) * inv
    t = np.einsum("ij,ij->i", e2, qvec) * inv
    return t, u, v, good & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0)


def locate_points(uv, camera: PerspectiveCamera, vertices, faces,
                  valid=None) -> SurfacePoints:
    """Place image points (S, 2) on the mesh seen by ``camera`` (module docs).

    ``valid`` (S,) bool: points to place (default: every finite one).
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    n = len(uv)
    ok = np.isfinite(uv).all(axis=1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool).reshape(-1)
        if valid.shape != (n,):
            raise ReconstructionError(f"valid must be ({n},) bool, got shape {valid.shape}")
        ok &= valid
    face = np.full(n, -1, dtype=np.int64)
    bary = np.full((n, 3), np.nan)
    idx = np.flatnonzero(ok)
    face[idx], bary[idx] = ray_hits(uv[idx], camera, vertices, faces)
    hit = face >= 0
    missed = np.flatnonzero(ok & ~hit)
    if len(missed):
        snapped = _nearest_silhouette_pixels(uv[missed], camera, vertices, faces)
        if snapped is not None:
            face[missed], bary[missed] = ray_hits(snapped, camera, vertices, faces)
    xyz = np.full((n, 3), np.nan)
    placed = face >= 0
    xyz[placed] = np.einsum("sc,scd->sd", bary[placed], vertices[faces[face[placed]]])
    return SurfacePoints(face, bary, xyz, hit)


def _nearest_silhouette_pixels(uv: np.ndarray, camera: PerspectiveCamera, vertices,
                               faces) -> np.ndarray | None:
    """Centres (M, 2) of the mesh's silhouette pixels nearest to ``uv`` (M, 2); None when
    the mesh covers no pixel."""
    proj, depth = project(camera, vertices)
    buffer, _ = face_buffer(proj, depth, faces, camera.image_size, perspective=True)
    rows, cols = np.nonzero(buffer >= 0)
    if len(rows) == 0:
        return None
    from scipy.spatial import cKDTree

    centres = np.stack([cols + 0.5, rows + 0.5], axis=1)
    _, nearest = cKDTree(centres).query(uv)
    return centres[nearest]


# ----------------------------------------------------------------------------- the cycle


def transfer_keypoints(uv, source, target, valid=None, rasterizer=None) -> TransferredKeypoints:
    """Carry keypoints ``uv`` (S, 2) of the source image to the target image through 3D.

    Args:
        uv: (S, 2) source keypoints, pixels (NaN rows are skipped).
        source, target: posed meshes (``vertices``, ``faces``, ``camera``) with the same
            topology (reconstructions from one shape space).
        valid: (S,) bool source keypoints to carry (default: every finite one).
        rasterizer: visibility backend for the target (default: the fast CPU one).

    Raises:
        ReconstructionError: the two meshes do not share their faces.
    """
    s_faces = np.asarray(source.faces, dtype=np.int64)
    t_faces = np.asarray(target.faces, dtype=np.int64)
    if s_faces.shape != t_faces.shape or not np.array_equal(s_faces, t_faces):
        raise ReconstructionError(
            f"the source and target meshes have different faces ({s_faces.shape[0]} and "
            f"{t_faces.shape[0]}): keypoints carry over only between shapes of one template")
    located = locate_points(uv, source.camera, source.vertices, s_faces, valid)
    placed = located.placed
    t_vertices = np.asarray(target.vertices, dtype=np.float64)
    xyz = np.full((len(placed), 3), np.nan)
    xyz[placed] = np.einsum("sc,scd->sd", located.bary[placed],
                            t_vertices[t_faces[located.face[placed]]])
    safe = np.where(placed[:, None], xyz, t_vertices.mean(axis=0))
    projected = project_keypoints(target.camera, t_vertices, t_faces, safe,
                                  np.where(placed, located.face, -1), rasterizer=rasterizer)
    nan2 = np.where(placed[:, None], projected.uv, np.nan)
    projected = ProjectedKeypoints(nan2, np.where(placed, projected.depth, np.nan),
                                   projected.in_front & placed, projected.in_image & placed,
                                   projected.visible & placed)
    asked = np.isfinite(np.asarray(uv, dtype=np.float64).reshape(-1, 2)).all(axis=1)
    if valid is not None:
        asked &= np.asarray(valid, dtype=bool).reshape(-1)
    return TransferredKeypoints(nan2, projected.visible, asked, placed, located, xyz,
                                projected)


def cycle_pck(transferred: TransferredKeypoints, gt_uv, gt_valid, image_size: tuple[int, int],
              mask=None, alpha: float = 0.1) -> PCKReport:
    """PCK@``alpha`` of transferred keypoints against the target's ground truth (S, 2).

    A keypoint counts when it is ``gt_valid`` (S,) in the target (e.g. visible there) and was
    valid in the source (its transfer was asked for); one that could not be placed counts as
    wrong. Normalised by the target ``mask``'s box (when given), the image and the keypoints'
    box (:func:`core.pose.pck.pck_report`).
    """
    gt = np.asarray(gt_uv, dtype=np.float64)
    valid = np.asarray(gt_valid, dtype=bool) & np.isfinite(gt).all(axis=1) & transferred.asked
    gt = np.where(valid[:, None], gt, 0.0)
    return pck_report(transferred.uv, gt, valid, image_size, mask=mask, alpha=alpha)


def box_transfer(uv, source_mask: np.ndarray, target_mask: np.ndarray) -> np.ndarray:
    """Baseline without 3D: keypoints (S, 2) mapped by the axis-aligned scaling that takes
    the source mask's bounding box onto the target's, pixels."""
    from core.pose.viewpoint import mask_box

    sx0, sy0, sx1, sy1 = mask_box(source_mask)
    tx0, ty0, tx1, ty1 = mask_box(target_mask)
    uv = np.asarray(uv, dtype=np.float64)
    scale = np.array([(tx1 - tx0) / (sx1 - sx0), (ty1 - ty0) / (sy1 - sy0)])
    return (uv - [sx0, sy0]) * scale + [tx0, ty0]
