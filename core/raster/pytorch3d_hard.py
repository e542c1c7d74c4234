"""Hard rasterization through pytorch3d from projected vertices: face index and depth per pixel,
the silhouette, and point visibility by the z-buffer.

Vertices come already projected (pixels and camera depth, see :mod:`core.cameras`); they are
moved to pytorch3d NDC (:func:`core.raster.ndc.pixels_to_ndc`) with their depth as z, so one
function serves perspective and weak-perspective cameras. pytorch3d samples pixel centres,
like :func:`core.raster.fast_mask.hard_mask`. Faces with a vertex at or behind the camera
(depth <= 0) are dropped, as the fast path does (no near-plane clipping).

Visibility samples the z-buffer at each point's exact position (:func:`sample_zbuffer`), not
at the centre of the pixel holding it: comparing with the depth at the pixel centre is off by
the depth slope times half a pixel, which on the demo mug at 128 px disagreed with exact ray
casting on 13 % of random surface points (near silhouettes and at grazing angles); sampled at
the points it agrees on all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.raster.ndc import pixels_to_ndc


@dataclass(frozen=True)
class HardRaster:
    """One hard rasterization.

    Attributes:
        pix_to_face: (H, W) int64 tensor, index into the caller's faces of the nearest face
            whose triangle contains the pixel centre, -1 for background.
        zbuf: (H, W) float tensor, camera depth of that face at the pixel centre (world units;
            exact for perspective when rasterized with ``perspective_correct=True``), -1 for
            background.
        mask: (H, W) bool numpy array, ``pix_to_face >= 0``.
    """

    pix_to_face: torch.Tensor
    zbuf: torch.Tensor
    mask: np.ndarray


def _tensor(x, dtype=torch.float32, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(dtype=dtype, device=device if device is not None else x.device)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def rasterize_hard(uv, depth, faces, image_size: tuple[int, int],
                   cull_backfaces: bool = False, perspective_correct: bool = False,
                   device=None) -> HardRaster:
    """Rasterize a projected mesh with pytorch3d (blur 0, one face per pixel).

    Args:
        uv: (V, 2) projected vertices, pixels (numpy or torch).
        depth: (V,) camera depth of the vertices, world units; must be > 0 for a face to be
            drawn (shift weak-perspective relative depths first).
        faces: (F, 3) vertex indices, outward counter-clockwise winding when culling.
        image_size: ``(height, width)``.
        cull_backfaces: skip faces seen from behind (valid for closed meshes).
        perspective_correct: interpolate depth as a perspective camera does (``True`` for
            perspective cameras, ``False`` for weak-perspective ones).
        device: torch device (default: that of ``uv`` when it is a tensor, else CPU).

    Returns:
        :class:`HardRaster`.
    """
    from pytorch3d.renderer.mesh import rasterize_meshes
    from pytorch3d.structures import Meshes

    h, w = int(image_size[0]), int(image_size[1])
    uv_t = _tensor(uv, device=device)
    dev = uv_t.device
    depth_t = _tensor(depth, device=dev).reshape(-1)
    faces_t = _tensor(faces, dtype=torch.int64, device=dev).reshape(-1, 3)
    keep = (depth_t[faces_t] > 0).all(dim=1)
    kept_index = torch.nonzero(keep).squeeze(1)
    if kept_index.numel() == 0:
        empty = torch.full((h, w), -1, dtype=torch.int64, device=dev)
        return HardRaster(empty, empty.to(torch.float32), np.zeros((h, w), dtype=bool))
    verts = torch.cat([pixels_to_ndc(uv_t, (h, w)), depth_t.unsqueeze(-1)], dim=-1)
    mesh = Meshes(verts=[verts], faces=[faces_t[kept_index]])
    pix_to_face, zbuf, _, _ = rasterize_meshes(
        mesh, image_size=(h, w), blur_radius=0.0, faces_per_pixel=1,
        perspective_correct=perspective_correct, cull_backfaces=cull_backfaces)
    p2f = pix_to_face[0, ..., 0]
    hit = p2f >= 0
    p2f = torch.where(hit, kept_index[p2f.clamp(min=0)], p2f)
    return HardRaster(p2f, zbuf[0, ..., 0], hit.cpu().numpy())


def hard_mask_pytorch3d(uv, depth, faces, image_size: tuple[int, int],
                        cull_backfaces: bool = False, device=None) -> np.ndarray:
    """Silhouette (H, W) bool of a projected mesh through pytorch3d (see
    :func:`rasterize_hard`)."""
    return rasterize_hard(uv, depth, faces, image_size, cull_backfaces=cull_backfaces,
                          device=device).mask


def _candidate_faces(tri_uv: np.ndarray, puv: np.ndarray, margin: float = 1e-3):
    """(point, face) pairs where the point lies in the projected face or within ``margin``
    pixels of it: a superset of the faces pytorch3d can report at the point."""
    lo, hi = tri_uv.min(axis=1) - margin, tri_uv.max(axis=1) + margin  # (F, 2)
    pi, fi = np.nonzero((lo[None, :, 0] <= puv[:, None, 0]) & (hi[None, :, 0] >= puv[:, None, 0])
                        & (lo[None, :, 1] <= puv[:, None, 1])
                        & (hi[None, :, 1] >= puv[:, None, 1]))
    tri = tri_uv[fi]  # (K, 3, 2)
    p = puv[pi]
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    sign = np.where(area < 0, -1.0, 1.0)
    inside = np.ones(len(pi), dtype=bool)
    for s, e in ((a, b), (b, c), (c, a)):
        edge = e - s
        length = np.maximum(np.hypot(edge[:, 0], edge[:, 1]), 1e-12)
        dist = sign * (edge[:, 0] * (p[:, 1] - s[:, 1]) - edge[:, 1] * (p[:, 0] - s[:, 0]))
        inside &= dist / length >= -margin
    return pi[inside], fi[inside]


def sample_zbuffer(uv, depth, faces, image_size: tuple[int, int], point_uv,
                   perspective_correct: bool = False, device=None):
    """The nearest face and its depth at the exact positions ``point_uv`` (N, 2) pixels.

    pytorch3d's z-buffer sampled at the points instead of at pixel centres: each point gets a
    1x1 image whose pixel centre is the point (the NDC mesh shifted by the point), holding
    only the faces that contain the point in the image or pass within 1e-3 pixel of it (no
    other face can cover it; pytorch3d's own bounding-box test would skip them), and all are
    rasterized as one batch. Faces with a vertex at depth <= 0 are dropped, as in
    :func:`rasterize_hard`. The image bounds play no part.

    Returns:
        ``(face (N,) int64 numpy, -1 where nothing covers the point; zbuf (N,) float64 numpy,
        depth of that face at the point in world units, inf where nothing covers it)``.
    """
    from pytorch3d.renderer.mesh import rasterize_meshes
    from pytorch3d.structures import Meshes

    uv = _np(uv).astype(np.float64).reshape(-1, 2)
    depth = _np(depth).astype(np.float64).reshape(-1)
    faces = _np(faces).astype(np.int64).reshape(-1, 3)
    puv = _np(point_uv).astype(np.float64).reshape(-1, 2)
    n = len(puv)
    face = np.full(n, -1, dtype=np.int64)
    zbuf = np.full(n, np.inf)
    kept_index = np.flatnonzero((depth[faces] > 0).all(axis=1))
    if n == 0 or len(kept_index) == 0:
        return face, zbuf
    kept = faces[kept_index]
    pi, fi = _candidate_faces(uv[kept], puv)
    if len(pi) == 0:
        return face, zbuf
    counts = np.bincount(pi, minlength=n)
    width = int(counts.max())
    slot = np.arange(len(pi)) - (np.cumsum(counts) - counts)[pi]  # pi is sorted
    dev = torch.device(device) if device is not None else torch.device("cpu")
    # Unshared vertices: candidate k of point i uses vertices 3k..3k+2 of mesh i.
    ndc = pixels_to_ndc(torch.from_numpy(uv), image_size)
    shift = pixels_to_ndc(torch.from_numpy(puv), image_size)
    corners = torch.from_numpy(kept[fi])  # (K, 3)
    tri = torch.cat([ndc[corners] - shift[torch.from_numpy(pi)].unsqueeze(1),
                     torch.from_numpy(depth)[corners].unsqueeze(-1)], dim=-1)
    verts = torch.zeros(n, 3 * width, 3, dtype=torch.float64)
    verts.view(n, width, 3, 3)[torch.from_numpy(pi), torch.from_numpy(slot)] = tri
    local = torch.arange(3 * width).reshape(width, 3)
    face_pad = torch.where(torch.arange(width)[None, :, None] < torch.from_numpy(counts)[
        :, None, None], local.unsqueeze(0), torch.tensor(-1))
    mesh = Meshes(verts=verts.to(device=dev, dtype=torch.float32), faces=face_pad.to(dev))
    pix_to_face, zb, _, _ = rasterize_meshes(
        mesh, image_size=(1, 1), blur_radius=0.0, faces_per_pixel=1,
        perspective_correct=perspective_correct)
    # Packed face k of the batch is candidate pair k (pairs are sorted by point, then slot).
    packed = pix_to_face.reshape(n).cpu().numpy()
    which = np.flatnonzero(packed >= 0)
    face[which] = kept_index[fi[packed[which]]]
    zbuf[which] = zb.reshape(n).cpu().numpy().astype(np.float64)[which]
    return face, zbuf


def point_zbuffer_visibility(uv, depth, faces, image_size: tuple[int, int], point_uv,
                             point_depth, point_faces=None, tol: float = 1e-3,
                             perspective_correct: bool = False, device=None) -> np.ndarray:
    """Which points are not hidden, by pytorch3d's z-buffer sampled at the points.

    A point is visible when nothing covers it, the nearest face is its own face
    (``point_faces``, -1 where unknown) or the point is at most ``tol`` world units behind
    the nearest face (see :func:`sample_zbuffer`). Points with depth <= 0 are not visible;
    the image bounds are not checked.

    Args:
        uv, depth, faces: (V, 2) pixels, (V,) depth (faces need depth > 0), (F, 3) indices.
        image_size: ``(height, width)`` of the camera (sets the NDC scale).
        point_uv, point_depth: (N, 2) pixels and (N,) depth of the points.
        point_faces: optional (N,) face of each point.
        tol: depth tolerance, world units.
        perspective_correct: True for perspective cameras (exact depth along the ray).

    Returns:
        (N,) bool.
    """
    pdepth = _np(point_depth).astype(np.float64).reshape(-1)
    face, zbuf = sample_zbuffer(uv, depth, faces, image_size, point_uv,
                                perspective_correct=perspective_correct, device=device)
    visible = (face < 0) | (pdepth <= zbuf + tol)
    if point_faces is not None:
        visible |= face == _np(point_faces).astype(np.int64).reshape(-1)
    return visible & (pdepth > 0)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
