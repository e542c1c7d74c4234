"""A 2D keypoint baseline that needs no 3D: the mean layout of each viewpoint bin.

From the training renders, per (azimuth, elevation) bin and semantic point: the mean
position normalised to the object's mask box (0 at the box's top-left edge, 1 at its
bottom-right edge) over the views where the point is placed, and how often it is visible.
At inference the layout of the given bin (e.g. the predicted one) is placed in the mask's
box; a bin without views of that point falls back to the nearest bin that has some
(distance in bins, circular in azimuth; ties: the first in azimuth-major order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class LayoutBaseline:
    """Mean box-normalised keypoint layout per viewpoint bin.

    Attributes:
        mean_uv: (A, E, S, 2) float64 mean positions in box units; NaN where ``count`` is 0.
        visible_rate: (A, E, S) float64 fraction of the bin's views where the point is
            visible; NaN where the bin has no view.
        count: (A, E, S) int64 views of the bin where the point is placed.
        views: (A, E) int64 views per bin.
    """

    mean_uv: np.ndarray
    visible_rate: np.ndarray
    count: np.ndarray
    views: np.ndarray

    @classmethod
    def fit(cls, uv_box: np.ndarray, placed: np.ndarray, visible: np.ndarray,
            azimuth_bin: np.ndarray, elevation_bin: np.ndarray, n_azimuth: int = 24,
            n_elevation: int = 12) -> LayoutBaseline:
        """From N views: ``uv_box`` (N, S, 2) box-normalised points, ``placed`` and
        ``visible`` (N, S) bool, bins (N,) int."""
        uv_box = np.asarray(uv_box, dtype=np.float64)
        n, s = uv_box.shape[:2]
        ok = np.asarray(placed, bool) & np.isfinite(uv_box).all(-1)
        flat = np.asarray(azimuth_bin) * n_elevation + np.asarray(elevation_bin)
        bins = n_azimuth * n_elevation
        total = np.zeros((bins, s, 2))
        count = np.zeros((bins, s), dtype=np.int64)
        seen = np.zeros((bins, s))
        np.add.at(total, flat, np.where(ok[..., None], uv_box, 0.0))
        np.add.at(count, flat, ok.astype(np.int64))
        np.add.at(seen, flat, np.asarray(visible, bool).astype(np.float64))
        views = np.bincount(flat, minlength=bins).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count[..., None]
            rate = seen / views[:, None]
        mean[count == 0] = np.nan
        rate[views == 0] = np.nan
        a, e = n_azimuth, n_elevation
        return cls(mean.reshape(a, e, s, 2), rate.reshape(a, e, s), count.reshape(a, e, s),
                   views.reshape(a, e))

    @property
    def n_points(self) -> int:
        return int(self.mean_uv.shape[2])

    def layout(self, azimuth_bin: int, elevation_bin: int) -> tuple[np.ndarray, np.ndarray]:
        """``(uv (S, 2) box units, visibility (S,) 0..1)`` of a bin, each point from the
        nearest bin where it was seen (NaN for a point never seen at all)."""
        a, e, s = self.count.shape
        k = np.arange(a)[:, None]
        j = np.arange(e)[None, :]
        d_az = np.abs(k - int(azimuth_bin) % a)
        d_az = np.minimum(d_az, a - d_az)
        dist = (d_az ** 2 + (j - int(elevation_bin)) ** 2).ravel()  # (A * E,)
        order = np.argsort(dist, kind="stable")
        counts = self.count.reshape(a * e, s)[order]  # bins nearest first
        first = np.argmax(counts > 0, axis=0)  # (S,) position in ``order``
        src = order[first]
        seen = counts[first, np.arange(s)] > 0
        uv = self.mean_uv.reshape(a * e, s, 2)[src, np.arange(s)]
        vis = self.visible_rate.reshape(a * e, s)[src, np.arange(s)]
        uv[~seen] = np.nan
        vis = np.where(seen & np.isfinite(vis), vis, 0.0)
        return uv, vis

    def keypoints(self, mask: np.ndarray, azimuth_bin: int,
                  elevation_bin: int) -> tuple[np.ndarray, np.ndarray]:
        """``(uv (S, 2) image pixels, visible (S,) bool)``: the bin's layout placed in the
        bounding box of ``mask`` (H, W) bool; visible where the point was visible in at
        least half of the bin's views."""
        from core.learned2d.data import mask_box

        x0, y0, x1, y1 = mask_box(np.asarray(mask, dtype=bool))
        uv, rate = self.layout(azimuth_bin, elevation_bin)
        return uv * [x1 - x0, y1 - y0] + [x0, y0], rate >= 0.5

    def overall(self) -> tuple[np.ndarray, np.ndarray]:
        """``(uv (S, 2) box units, visibility (S,))`` averaged over all bins (a trivial,
        viewpoint-blind baseline)."""
        c = self.count.reshape(-1, self.n_points)
        with np.errstate(invalid="ignore", divide="ignore"):
            uv = (np.nan_to_num(self.mean_uv.reshape(-1, self.n_points, 2))
                  * c[..., None]).sum(0) / c.sum(0)[:, None]
            v = self.views.reshape(-1, 1)
            vis = np.nansum(self.visible_rate.reshape(-1, self.n_points) * v, 0) / v.sum()
        return uv, vis

    def to_tensors(self, prefix: str = "layout.") -> dict:
        """Arrays for a safetensors file (torch tensors, names prefixed)."""
        import torch

        return {f"{prefix}{name}": torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
                for name in ("mean_uv", "visible_rate", "count", "views")}

    @classmethod
    def from_tensors(cls, tensors: dict, prefix: str = "layout.") -> LayoutBaseline:
        """Inverse of :meth:`to_tensors`. Raises KeyError or ValueError on a bad set."""
        arrays = {name: tensors[f"{prefix}{name}"].numpy()
                  for name in ("mean_uv", "visible_rate", "count", "views")}
        a, e, s = arrays["count"].shape
        if (arrays["mean_uv"].shape != (a, e, s, 2) or arrays["visible_rate"].shape != (a, e, s)
                or arrays["views"].shape != (a, e)):
            raise ValueError("layout arrays of inconsistent shapes")
        return cls(arrays["mean_uv"].astype(np.float64),
                   arrays["visible_rate"].astype(np.float64),
                   arrays["count"].astype(np.int64), arrays["views"].astype(np.int64))
