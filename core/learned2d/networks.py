"""The image network of the learned 2D stages and its losses.

One small CNN on a square RGB crop (B, 3, P, P) with three heads:

- per semantic point a heatmap (B, S, P/2, P/2) of logits (a small U-Net: four stride-2
  stages down to P/16, decoded with skip connections back to P/2);
- per semantic point a visibility logit (B, S);
- viewpoint logits (B, n_azimuth, n_elevation), one class per (azimuth, elevation) bin of
  :mod:`core.pose.viewpoint` (24 x 12 by default), as in the 2D-3D-2D paper's viewpoint
  module.

Losses: the heatmap's spatial softmax against a Gaussian target (KL divergence, so a perfect
prediction scores 0), visible points only; binary cross-entropy of the visibility where it
is known; and the paper's KL divergence of the viewpoint softmax to a target spread over
neighbouring bins, circular in azimuth (bin ``n_azimuth - 1`` neighbours bin 0) and cut at
the ends of the elevation range (the mass that would fall outside is dropped before
normalising).

Heatmap coordinates: cell ``(i, j)`` covers ``[i, i+1) x [j, j+1)`` heatmap units, its
centre is ``(i + 0.5, j + 0.5)``; one unit is ``P / w`` crop pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture hyper-parameters (stored in checkpoints).

    Attributes:
        n_points: S semantic points.
        input_size: P, the square crop side, pixels (a multiple of 16).
        width: channels of the first stage (then 2x, 4x, 4x).
        n_azimuth, n_elevation: viewpoint bins.
    """

    n_points: int
    input_size: int = 64
    width: int = 32
    n_azimuth: int = 24
    n_elevation: int = 12

    @property
    def heatmap_size(self) -> int:
        """Side of the heatmaps, cells (``input_size / 2``)."""
        return self.input_size // 2


@dataclass(frozen=True)
class NetOutput:
    """Raw network outputs.

    Attributes:
        heatmap: (B, S, h, w) logits of the spatial softmax.
        visibility: (B, S) logits.
        viewpoint: (B, n_azimuth, n_elevation) logits of one joint softmax.
    """

    heatmap: torch.Tensor
    visibility: torch.Tensor
    viewpoint: torch.Tensor


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(_conv(c_in, c_out, 2), _conv(c_out, c_out))


class ImageNet2D(nn.Module):
    """Heatmaps, visibilities and viewpoint from a crop (see the module docstring).

    Input: (B, 3, P, P) float, RGB scaled to ``x / 255 - 0.5``.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        if spec.input_size % 16 or spec.input_size < 32:
            raise ValueError(f"input_size must be a multiple of 16 and >= 32, got "
                             f"{spec.input_size}")
        if spec.n_points < 1:
            raise ValueError("the network needs at least one semantic point")
        self.spec = spec
        w = spec.width
        self.enc1, self.enc2 = _stage(3, w), _stage(w, 2 * w)
        self.enc3, self.enc4 = _stage(2 * w, 4 * w), _stage(4 * w, 4 * w)
        self.dec3 = _conv(8 * w, 4 * w)
        self.dec2 = _conv(6 * w, 2 * w)
        self.dec1 = _conv(3 * w, w)
        self.heat = nn.Conv2d(w, spec.n_points, 1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(16 * w, 256), nn.ReLU(inplace=True),
                                nn.Dropout(0.2))
        self.visibility = nn.Linear(256, spec.n_points)
        self.viewpoint = nn.Linear(256, spec.n_azimuth * spec.n_elevation)

    def forward(self, x: torch.Tensor) -> NetOutput:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.dec3(torch.cat([_up(e4), e3], dim=1))
        d2 = self.dec2(torch.cat([_up(d3), e2], dim=1))
        d1 = self.dec1(torch.cat([_up(d2), e1], dim=1))
        g = self.fc(self.pool(e4))
        vp = self.viewpoint(g).view(-1, self.spec.n_azimuth, self.spec.n_elevation)
        return NetOutput(self.heat(d1), self.visibility(g), vp)


def _up(x: torch.Tensor) -> torch.Tensor:
    return functional.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def to_input(crops: torch.Tensor) -> torch.Tensor:
    """(B, P, P, 3) uint8 crops -> (B, 3, P, P) float network input."""
    return crops.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)


# ----------------------------------------------------------------------------- losses


def gaussian_heatmaps(xy: torch.Tensor, size: tuple[int, int], sigma: float) -> torch.Tensor:
    """(B, S, h, w) normalised Gaussians (each sums to 1) centred at ``xy`` (B, S, 2)
    heatmap units, standard deviation ``sigma`` cells. Non-finite centres give zeros."""
    h, w = size
    finite = torch.isfinite(xy).all(dim=-1)
    xy = torch.where(finite[..., None], xy, torch.zeros_like(xy))
    xs = torch.arange(w, device=xy.device, dtype=xy.dtype) + 0.5
    ys = torch.arange(h, device=xy.device, dtype=xy.dtype) + 0.5
    gx = torch.exp(-0.5 * ((xs - xy[..., 0:1]) / sigma) ** 2)  # (B, S, w)
    gy = torch.exp(-0.5 * ((ys - xy[..., 1:2]) / sigma) ** 2)  # (B, S, h)
    g = gy[..., :, None] * gx[..., None, :]
    g = g / g.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    return g * finite[..., None, None]


def heatmap_loss(logits: torch.Tensor, xy: torch.Tensor, weight: torch.Tensor,
                 sigma: float = 1.0) -> torch.Tensor:
    """Weighted mean over points of KL(Gaussian target || spatial softmax).

    Args:
        logits: (B, S, h, w) heatmap logits.
        xy: (B, S, 2) target positions, heatmap units (NaN where there is none).
        weight: (B, S) float, 0 for points that do not count (e.g. not visible).
        sigma: target standard deviation, cells.

    Returns:
        Scalar, 0 when no point counts.
    """
    b, s, h, w = logits.shape
    target = gaussian_heatmaps(xy, (h, w), sigma).view(b, s, -1)
    logp = functional.log_softmax(logits.view(b, s, -1), dim=-1)
    kl = (target * (torch.log(target.clamp_min(1e-12)) - logp)).sum(-1)  # (B, S)
    weight = weight * torch.isfinite(xy).all(-1)
    return (weight * kl).sum() / weight.sum().clamp_min(1.0)


def visibility_loss(logits: torch.Tensor, visible: torch.Tensor,
                    known: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of (B, S) logits against ``visible`` (B, S) bool, averaged over
    the ``known`` (B, S) entries (0 when none)."""
    bce = functional.binary_cross_entropy_with_logits(logits, visible.to(logits.dtype),
                                                      reduction="none")
    known = known.to(logits.dtype)
    return (bce * known).sum() / known.sum().clamp_min(1.0)


def viewpoint_target(azimuth: torch.Tensor, elevation: torch.Tensor, n_azimuth: int = 24,
                     n_elevation: int = 12, sigma: float = 1.0) -> torch.Tensor:
    """(B, n_azimuth, n_elevation) target distribution of the viewpoint KL loss.

    Args:
        azimuth, elevation: (B,) continuous bin coordinates (bin ``k``'s centre is ``k``;
            :func:`core.learned2d.data.viewpoint_coordinates`), or bin indices.
        sigma: spread, bins (a Gaussian in each direction; 0 gives a one-hot target).

    The azimuth distance is circular (bin 0 and bin ``n_azimuth - 1`` are neighbours); the
    elevation grid ends at its first and last bins, and each target sums to 1.
    """
    az = torch.as_tensor(azimuth, dtype=torch.float32).reshape(-1, 1)
    el = torch.as_tensor(elevation, dtype=torch.float32).reshape(-1, 1)
    ks = torch.arange(n_azimuth, dtype=az.dtype, device=az.device)
    js = torch.arange(n_elevation, dtype=az.dtype, device=az.device)
    d_az = torch.remainder(ks - az + n_azimuth / 2.0, float(n_azimuth)) - n_azimuth / 2.0
    d_el = js - el
    if sigma <= 0:
        p_az = (d_az.abs() == d_az.abs().min(dim=1, keepdim=True).values).to(az.dtype)
        p_el = (d_el.abs() == d_el.abs().min(dim=1, keepdim=True).values).to(az.dtype)
        p_az, p_el = _first_only(p_az), _first_only(p_el)
    else:
        p_az = torch.exp(-0.5 * (d_az / sigma) ** 2)
        p_el = torch.exp(-0.5 * (d_el / sigma) ** 2)
    joint = p_az[:, :, None] * p_el[:, None, :]
    return joint / joint.sum(dim=(1, 2), keepdim=True)


def _first_only(mask: torch.Tensor) -> torch.Tensor:
    """Keep the first 1 of each row (ties of an exact half-bin distance)."""
    first = torch.cumsum(mask, dim=1) == 1
    return mask * first


def viewpoint_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(target || softmax(logits)); both (B, n_azimuth,
    n_elevation)."""
    logp = functional.log_softmax(logits.flatten(1), dim=1)
    t = target.flatten(1).to(logp.dtype)
    return (t * (torch.log(t.clamp_min(1e-12)) - logp)).sum(1).mean()
