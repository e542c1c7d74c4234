"""The one error cameras raise."""

from __future__ import annotations


class CameraError(ValueError):
    """A camera that cannot be used: non-finite parameters, a non-positive distance or scale,
    a field of view outside (0, 180) degrees, or points behind it where that matters."""
