"""Per-point embeddings of a model's surface samples, for suggestions.

Two kinds:

- :class:`NetworkEmbedder`: a trained embedding network (a checkpoint of
  :mod:`core.embedding`, or a network in memory), run through
  :func:`core.embedding.trainer.embed` on the model's samples;
- :class:`XyzEmbedder`: the documented fallback without a checkpoint: a point's
  embedding is its position in the normalized frame (centred, bounding-box diagonal 1,
  models of a category aligned), so "most similar" means "nearest in normalized
  coordinates". A strong baseline on aligned, similar shapes (the demo categories).

torch is imported only by :class:`NetworkEmbedder` (``import core.annotation`` stays
light).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["NetworkEmbedder", "PointEmbedder", "XyzEmbedder", "make_embedder"]


class PointEmbedder(Protocol):
    """Maps a model's samples (N, 3) to embeddings (N, D) float32."""

    name: str
    exact_positions: bool  # True: the embedding of a position is the position itself

    def __call__(self, points: np.ndarray) -> np.ndarray: ...


class XyzEmbedder:
    """Positions as embeddings (D = 3): the fallback without a checkpoint."""

    name = "xyz"
    exact_positions = True

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float32)


class NetworkEmbedder:
    """A trained per-point embedding network (``(B, N, 3) -> (B, N, D)``) in eval mode.

    Args:
        model: the network (torch module).
        device: where it runs (``"auto"``: CUDA when present).
        name: label shown to users (default: the class name).
    """

    exact_positions = False

    def __init__(self, model, device: str = "auto", name: str | None = None) -> None:
        from core.device import pick_device

        self.device = pick_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.name = name or type(model).__name__

    def __call__(self, points: np.ndarray) -> np.ndarray:
        from core.embedding.trainer import embed
        from core.embedding.types import ShapeSample

        pts = np.ascontiguousarray(points, dtype=np.float32)
        sample = ShapeSample("", pts, np.zeros(0, dtype=np.int64),
                             np.zeros((0, pts.shape[0]), dtype=np.float32))
        return embed(self.model, [sample], self.device)[0]


def make_embedder(checkpoint=None, device: str = "auto") -> PointEmbedder:
    """The embedder for a checkpoint path, an in-memory network, or None (xyz fallback).

    Raises:
        core.embedding.checkpoint.CheckpointError: an unreadable checkpoint (names the file).
    """
    if checkpoint is None:
        return XyzEmbedder()
    if isinstance(checkpoint, (str, Path)):
        from core.device import pick_device
        from core.embedding.checkpoint import load_model

        dev = pick_device(device)
        model, doc = load_model(checkpoint, device=dev)
        return NetworkEmbedder(model, dev, name=f"{doc['backbone']} ({Path(checkpoint).name})")
    return NetworkEmbedder(checkpoint, device)
