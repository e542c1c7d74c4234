"""The trained image model as an :class:`~core.learned2d.prediction.ImagePredictor`.

An image is cropped around its mask (:func:`core.learned2d.data.image_crop_box`, the same
crop as in training), run through the network, and each heatmap's peak is refined to
subpixel precision by a soft-argmax over the (2r + 1)^2 cells around its maximum; the
peak's softmax mass in that window is the point's confidence. Positions go back to the
image's pixels (x right, y down, pixel centres at ``i + 0.5``). Visibility is the sigmoid
of its logit; the viewpoint the softmax over all (azimuth, elevation) bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.learned2d.data import DEFAULT_MARGIN, CropBox, crop_image, image_crop_box
from core.learned2d.layout_baseline import LayoutBaseline
from core.learned2d.networks import NetworkSpec, to_input
from core.learned2d.prediction import ImagePrediction

PEAK_RADIUS = 2


def heatmap_peaks(logits: torch.Tensor, radius: int = PEAK_RADIUS
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Subpixel peaks of heatmaps.

    Args:
        logits: (B, S, h, w) spatial-softmax logits.
        radius: half-size of the soft-argmax window, cells.

    Returns:
        ``(xy (B, S, 2) heatmap units (cell centres at i + 0.5), confidence (B, S) softmax
        mass inside the window)``.
    """
    b, s, h, w = logits.shape
    prob = torch.softmax(logits.reshape(b, s, -1).float(), dim=-1).reshape(b, s, h, w)
    peak = prob.reshape(b, s, -1).argmax(dim=-1)
    py, px = peak // w, peak % w
    ys = torch.arange(h, device=logits.device)
    xs = torch.arange(w, device=logits.device)
    win_y = ((ys - py[..., None]).abs() <= radius).float()  # (B, S, h)
    win_x = ((xs - px[..., None]).abs() <= radius).float()  # (B, S, w)
    local = prob * win_y[..., :, None] * win_x[..., None, :]
    mass = local.sum(dim=(-2, -1))
    cx = (local.sum(-2) * (xs.float() + 0.5)).sum(-1) / mass.clamp_min(1e-12)
    cy = (local.sum(-1) * (ys.float() + 0.5)).sum(-1) / mass.clamp_min(1e-12)
    return torch.stack([cx, cy], dim=-1), mass


@dataclass(frozen=True)
class CropOutputs:
    """Network predictions for B crops (numpy).

    Attributes:
        uv: (B, S, 2) float64 crop pixels; visibility, confidence: (B, S) float64;
        viewpoint_probs: (B, n_azimuth, n_elevation) float64.
    """

    uv: np.ndarray
    visibility: np.ndarray
    confidence: np.ndarray
    viewpoint_probs: np.ndarray


class ImageNetPredictor:
    """Implements :class:`~core.learned2d.prediction.ImagePredictor` with a trained
    :class:`~core.learned2d.networks.ImageNet2D` (see the module docstring).

    Attributes:
        category, labels: the category and its S semantic point labels.
        spec: the network's :class:`NetworkSpec`.
        margin: crop margin (fraction of the mask box's longer side, each side).
        layout: the checkpoint's :class:`LayoutBaseline`, or None.
        device: the torch device the network runs on.
    """

    def __init__(self, network: torch.nn.Module, category: str, labels: Sequence[str],
                 spec: NetworkSpec, margin: float = DEFAULT_MARGIN,
                 layout: LayoutBaseline | None = None, device=None,
                 peak_radius: int = PEAK_RADIUS) -> None:
        self.category = category
        self.labels = tuple(labels)
        if len(self.labels) != spec.n_points:
            raise ValueError(f"{len(self.labels)} labels for a network of {spec.n_points} "
                             "points")
        self.spec = spec
        self.margin = float(margin)
        self.layout = layout
        self.device = torch.device(device) if device is not None else next(
            network.parameters()).device
        self.network = network.to(self.device).eval()
        self.peak_radius = int(peak_radius)

    # ------------------------------------------------------------------ batches of crops
    @torch.no_grad()
    def predict_crops(self, crops: np.ndarray, batch_size: int = 64) -> CropOutputs:
        """Predictions for (B, P, P, 3) uint8 crops (P = ``spec.input_size``)."""
        crops = np.asarray(crops, dtype=np.uint8)
        p = self.spec.input_size
        if crops.ndim != 4 or crops.shape[1:] != (p, p, 3):
            raise ValueError(f"crops must be (B, {p}, {p}, 3) uint8, got {crops.shape}")
        was_training = self.network.training
        self.network.eval()
        parts: list[tuple] = []
        try:
            for i in range(0, len(crops), batch_size):
                x = to_input(torch.from_numpy(crops[i:i + batch_size]).to(self.device))
                out = self.network(x)
                xy, conf = heatmap_peaks(out.heatmap, self.peak_radius)
                cell = p / out.heatmap.shape[-1]
                vp = torch.softmax(out.viewpoint.flatten(1).double(), dim=1)
                parts.append(((xy.double() * cell).cpu().numpy(),
                              torch.sigmoid(out.visibility.double()).cpu().numpy(),
                              conf.double().cpu().numpy(),
                              vp.view_as(out.viewpoint).cpu().numpy()))
        finally:
            self.network.train(was_training)
        s, a, e = self.spec.n_points, self.spec.n_azimuth, self.spec.n_elevation
        if not parts:
            return CropOutputs(np.zeros((0, s, 2)), np.zeros((0, s)), np.zeros((0, s)),
                               np.zeros((0, a, e)))
        return CropOutputs(*(np.concatenate(k) for k in zip(*parts, strict=True)))

    # ------------------------------------------------------------------------- images
    def crop(self, rgb: np.ndarray, mask: np.ndarray | None = None
             ) -> tuple[np.ndarray, CropBox]:
        """``((P, P, 3) uint8 crop, its box in the image)`` of an image and its mask."""
        rgb = _as_rgb(rgb)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != rgb.shape[:2]:
                raise ValueError(f"mask is {mask.shape[0]}x{mask.shape[1]} (height x width) but "
                                 f"the image is {rgb.shape[0]}x{rgb.shape[1]}")
            mask = mask if mask.dtype == bool else mask > 0.5
        box = image_crop_box(mask, rgb.shape[:2], self.margin)
        return crop_image(rgb, box, self.spec.input_size), box

    def predict(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> ImagePrediction:
        """Predict on ``rgb`` (H, W, 3) uint8 with the object's ``mask`` (H, W) bool (None:
        the whole image). Positions in ``rgb``'s pixels."""
        return self.predict_batch([rgb], None if mask is None else [mask])[0]

    def predict_batch(self, images: Sequence[np.ndarray],
                      masks: Sequence[np.ndarray | None] | None = None
                      ) -> list[ImagePrediction]:
        """:meth:`predict` for several images at once (one network batch)."""
        masks = [None] * len(images) if masks is None else list(masks)
        if len(masks) != len(images):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        crops, boxes = zip(*(self.crop(i, m) for i, m in zip(images, masks, strict=True)),
                           strict=True) if images else ((), ())
        out = self.predict_crops(np.stack(crops) if crops else
                                 np.zeros((0, self.spec.input_size, self.spec.input_size, 3),
                                          np.uint8))
        p = self.spec.input_size
        return [ImagePrediction(self.labels, box.to_image(out.uv[b], p), out.visibility[b],
                                out.confidence[b], out.viewpoint_probs[b])
                for b, box in enumerate(boxes)]


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or min(rgb.shape[:2]) < 1:
        raise ValueError(f"image must be (H, W, 3) uint8, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {rgb.dtype}")
    return rgb[..., :3]
