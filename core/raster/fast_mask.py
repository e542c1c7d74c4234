"""Hard silhouette masks on the CPU by scanline-filling projected triangles (numpy), no z-buffer.

A pixel is inside when its centre ``(i + 0.5, j + 0.5)`` lies strictly inside a projected
triangle: the rule of pytorch3d's rasterizer (which samples pixel centres), so both paths give
the same mask up to ties exactly on an edge. The fill is vectorised over (triangle, row)
spans: for every pixel row a triangle crosses, the interval of covered centres is written into
a row-wise difference image whose running sum is the coverage count. Triangles that cover no
pixel centre (sub-pixel triangles between centres) produce no spans.

For a closed (watertight) mesh the silhouette is the union of its front-facing triangles (the
first surface a pixel ray enters is front-facing), so ``cull_backfaces=True`` halves the work;
leave it off for open meshes.
"""

from __future__ import annotations

import numpy as np

from core.masks import mask_iou  # noqa: F401  (re-exported for raster callers)


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def front_facing(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces whose projection winds clockwise in pixel coordinates (y down), (F,) bool.

    With outward (counter-clockwise) winding, a face seen from outside projects clockwise in
    a y-down image, i.e. with a negative signed area.
    """
    return _signed_area2(np.asarray(uv, dtype=np.float64)[faces]) < 0


def _sort_pair(xa, ya, xb, yb):
    """Order two vertices (arrays) so that the first has the smaller y."""
    swap = yb < ya
    return (np.where(swap, xb, xa), np.where(swap, yb, ya), np.where(swap, xa, xb),
            np.where(swap, ya, yb))


def _spans(tri: np.ndarray, h: int, w: int):
    """Covered pixel spans of triangles (T, 3, 2): rows (K,), first and last column (K,) and
    the triangle of each span (K,), all int64."""
    # Sort each triangle's vertices by y: top (0), middle (1), bottom (2).
    x0, y0 = tri[:, 0, 0], tri[:, 0, 1]
    x1, y1 = tri[:, 1, 0], tri[:, 1, 1]
    x2, y2 = tri[:, 2, 0], tri[:, 2, 1]
    x0, y0, x1, y1 = _sort_pair(x0, y0, x1, y1)
    x1, y1, x2, y2 = _sort_pair(x1, y1, x2, y2)
    x0, y0, x1, y1 = _sort_pair(x0, y0, x1, y1)
    # Rows whose centre r + 0.5 is strictly between y0 and y2.
    r0 = np.maximum(np.floor(y0 - 0.5) + 1.0, 0.0)
    r1 = np.minimum(np.ceil(y2 - 0.5) - 1.0, h - 1.0)
    count = np.maximum(r1 - r0 + 1.0, 0.0).astype(np.int64)
    live = count > 0
    if not live.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    live_index = np.flatnonzero(live)
    x0, y0, x1, y1, x2, y2, r0, count = (a[live] for a in (x0, y0, x1, y1, x2, y2, r0, count))
    with np.errstate(divide="ignore", invalid="ignore"):
        s02 = np.where(y2 > y0, (x2 - x0) / (y2 - y0), 0.0)
        s01 = np.where(y1 > y0, (x1 - x0) / (y1 - y0), 0.0)
        s12 = np.where(y2 > y1, (x2 - x1) / (y2 - y1), 0.0)
    total = int(count.sum())
    tri_idx = np.repeat(np.arange(len(count)), count)
    starts = np.cumsum(count) - count
    rows = r0[tri_idx] + (np.arange(total) - starts[tri_idx])
    y = rows + 0.5
    xa = x0[tri_idx] + (y - y0[tri_idx]) * s02[tri_idx]
    upper = y < y1[tri_idx]
    xb = np.where(upper, x0[tri_idx] + (y - y0[tri_idx]) * s01[tri_idx],
                  x1[tri_idx] + (y - y1[tri_idx]) * s12[tri_idx])
    xl = np.minimum(xa, xb)
    xr = np.maximum(xa, xb)
    # Columns whose centre c + 0.5 is strictly inside (xl, xr).
    c0 = np.maximum(np.floor(xl - 0.5) + 1.0, 0.0)
    c1 = np.minimum(np.ceil(xr - 0.5) - 1.0, w - 1.0)
    ok = c0 <= c1
    return (rows[ok].astype(np.int64), c0[ok].astype(np.int64), c1[ok].astype(np.int64),
            live_index[tri_idx[ok]])


def fill_triangles(tri: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Union of triangles (T, 3, 2) in pixels as an (H, W) bool mask (pixel-centre rule)."""
    h, w = int(image_size[0]), int(image_size[1])
    rows, c0, c1, _ = _spans(np.asarray(tri, dtype=np.float64).reshape(-1, 3, 2), h, w)
    if len(rows) == 0:
        return np.zeros((h, w), dtype=bool)
    stride = w + 1
    n = h * stride
    base = rows * stride
    # +1 where a span starts, -1 just after it ends; the running sum along a row counts the
    # spans covering each pixel.
    diff = np.bincount(np.concatenate([base + c0, base + c1 + 1]),
                       weights=np.repeat(np.array([1.0, -1.0]), len(rows)), minlength=n)
    return np.cumsum(diff.reshape(h, stride), axis=1)[:, :w] > 0.5


def _signed_area2(tri: np.ndarray) -> np.ndarray:
    """Twice the signed area (T,) of triangles (T, 3, 2) in pixel coordinates."""
    ax, ay = tri[:, 0, 0], tri[:, 0, 1]
    return ((tri[:, 1, 0] - ax) * (tri[:, 2, 1] - ay)
            - (tri[:, 1, 1] - ay) * (tri[:, 2, 0] - ax))


def hard_mask(uv, faces, image_size: tuple[int, int], depth=None,
              cull_backfaces: bool = False) -> np.ndarray:
    """Silhouette of a projected mesh.

    Args:
        uv: (V, 2) projected vertices, pixels (numpy or torch).
        faces: (F, 3) vertex indices.
        image_size: ``(height, width)``.
        depth: optional (V,) camera depth; faces with a vertex at or behind the camera
            (depth <= 0) are skipped, as the pytorch3d path does (no near-plane clipping).
        cull_backfaces: fill only front-facing faces (valid for closed meshes).

    Returns:
        (H, W) bool mask.
    """
    uv = _as_numpy(uv).astype(np.float64, copy=False).reshape(-1, 2)
    faces = _as_numpy(faces).astype(np.int64, copy=False).reshape(-1, 3)
    h, w = int(image_size[0]), int(image_size[1])
    if faces.size == 0:
        return np.zeros((h, w), dtype=bool)
    tri = uv[faces]  # (F, 3, 2)
    keep = None
    if depth is not None:
        d = _as_numpy(depth).astype(np.float64, copy=False).reshape(-1)[faces]
        keep = np.minimum(np.minimum(d[:, 0], d[:, 1]), d[:, 2]) > 0
    if cull_backfaces:
        ff = _signed_area2(tri) < 0
        keep = ff if keep is None else keep & ff
    if keep is not None:
        tri = tri[keep]
    if not np.isfinite(uv).all():
        tri = tri[np.isfinite(tri).all(axis=(1, 2))]
    return fill_triangles(tri, (h, w))


def face_buffer(uv, depth, faces, image_size: tuple[int, int], perspective: bool = True,
                cull_backfaces: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Nearest face and its depth at every pixel centre (a z-buffer in numpy).

    Same coverage rule as :func:`hard_mask` (so ``face >= 0`` is exactly the hard mask). The
    depth of a face at a pixel centre is interpolated as a perspective camera sees it
    (``1/z`` linear in the image) or linearly (weak perspective, ``perspective=False``).

    Args:
        uv: (V, 2) projected vertices, pixels.
        depth: (V,) camera depth, world units; with ``perspective``, faces with a vertex at
            depth <= 0 are skipped.
        faces: (F, 3) vertex indices.
        image_size: ``(height, width)``.
        perspective: how depth varies across a face.
        cull_backfaces: draw only front-facing faces (closed meshes).

    Returns:
        ``(face (H, W) int64, -1 for background; zbuf (H, W) float64, inf for background)``.
    """
    uv = _as_numpy(uv).astype(np.float64, copy=False).reshape(-1, 2)
    depth = _as_numpy(depth).astype(np.float64, copy=False).reshape(-1)
    faces = _as_numpy(faces).astype(np.int64, copy=False).reshape(-1, 3)
    h, w = int(image_size[0]), int(image_size[1])
    face_img = np.full(h * w, -1, dtype=np.int64)
    zbuf = np.full(h * w, np.inf)
    keep = np.isfinite(uv[faces]).all(axis=(1, 2))
    if perspective:
        keep &= (depth[faces] > 0).all(axis=1)
    if cull_backfaces:
        keep &= front_facing(uv, faces)
    index = np.flatnonzero(keep)
    tri = uv[faces[index]]
    rows, c0, c1, t = _spans(tri, h, w)
    if len(rows) == 0:
        return face_img.reshape(h, w), zbuf.reshape(h, w)
    # Depth plane per triangle: q = a x + b y + c with q = 1/z (perspective) or z.
    z = depth[faces[index]]
    q = 1.0 / z if perspective else z
    ones = np.ones((len(tri), 3, 1))
    mat = np.concatenate([tri, ones], axis=2)  # (T, 3, 3)
    det = np.linalg.det(mat)
    mat[np.abs(det) < 1e-12] = np.eye(3)  # degenerate faces cover no pixel centre anyway
    coef = np.linalg.solve(mat, q[:, :, None])[:, :, 0]  # (T, 3)
    length = c1 - c0 + 1
    span = np.repeat(np.arange(len(rows)), length)
    cols = c0[span] + (np.arange(int(length.sum())) - (np.cumsum(length) - length)[span])
    r = rows[span]
    ts = t[span]
    qv = coef[ts, 0] * (cols + 0.5) + coef[ts, 1] * (r + 0.5) + coef[ts, 2]
    key = -qv if perspective else qv  # smaller key = nearer
    pix = r * w + cols
    order = np.lexsort((key, pix))
    pix_sorted = pix[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = pix_sorted[1:] != pix_sorted[:-1]
    win = order[first]
    face_img[pix[win]] = index[ts[win]]
    zbuf[pix[win]] = 1.0 / qv[win] if perspective else qv[win]
    return face_img.reshape(h, w), zbuf.reshape(h, w)
