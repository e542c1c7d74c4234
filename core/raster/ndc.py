"""Pixels <-> pytorch3d normalised device coordinates (NDC), for rasterizing projected meshes.

Pixels follow :mod:`core.cameras` (x right, y down, origin at the top-left corner, pixel centres
at ``i + 0.5``). pytorch3d's NDC has +x left and +y up; the shorter image side spans
``[-1, 1]`` and the longer one ``[-L/S, L/S]`` (square pixels). With ``s = min(H, W)``::

    ndc_x = (W - 2 u) / s        ndc_y = (H - 2 v) / s

so the centre of pixel column ``c`` (``u = c + 0.5``) is exactly where pytorch3d's rasterizer
samples column ``c`` of its output image (``PixToNonSquareNdc`` on the flipped index).
"""

from __future__ import annotations

import torch


def _hw(image_size) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    return int(image_size[0]), int(image_size[1])


def pixels_to_ndc(uv: torch.Tensor, image_size) -> torch.Tensor:
    """Pixel positions (..., 2) ``[x, y]`` -> pytorch3d NDC (..., 2) ``[x_ndc, y_ndc]``.

    Args:
        uv: pixels, any leading shape; differentiable.
        image_size: ``(height, width)`` or an int for square images.
    """
    h, w = _hw(image_size)
    s = float(min(h, w))
    ndc_x = (w - 2.0 * uv[..., 0]) / s
    ndc_y = (h - 2.0 * uv[..., 1]) / s
    return torch.stack([ndc_x, ndc_y], dim=-1)


def ndc_to_pixels(ndc: torch.Tensor, image_size) -> torch.Tensor:
    """Inverse of :func:`pixels_to_ndc`: NDC (..., 2) -> pixels (..., 2)."""
    h, w = _hw(image_size)
    s = float(min(h, w))
    u = (w - s * ndc[..., 0]) / 2.0
    v = (h - s * ndc[..., 1]) / 2.0
    return torch.stack([u, v], dim=-1)
