"""Looking at embeddings: principal-component colours and point-to-models similarity maps.

- :func:`pca_rgb`: the first three principal components of per-point embeddings as RGB, with
  signs fixed so a training run's preview keeps its colours from epoch to epoch;
- :func:`similarity_maps`: for a point picked on one model, how similar every vertex of
  other models is (1 = the best match on that model), the embedding inspector's heatmaps.

Headless: numpy only (the embeddings come from :mod:`core.annotation.embedders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.annotation.embedders import PointEmbedder
from core.annotation.model_surface import ModelSurface
from core.embedding.transfer import query_embedding, transfer_point

__all__ = ["PcaColors", "SimilarityMap", "pca_rgb", "similarity_maps"]


@dataclass(frozen=True, eq=False)
class PcaColors:
    """Colours of N points from their embeddings.

    Attributes:
        rgb: (N, 3) float32 in [0, 1].
        mean: (D,) the embeddings' mean.
        basis: (3, D) unit principal directions (rows), signs fixed (see :func:`pca_rgb`).
        explained: (3,) fraction of the variance along each direction.
    """

    rgb: np.ndarray
    mean: np.ndarray
    basis: np.ndarray
    explained: np.ndarray


def pca_rgb(embedding: np.ndarray, previous: np.ndarray | None = None) -> PcaColors:
    """Map (N, D) embeddings to RGB by their first three principal components.

    Each component is scaled to [0, 1] by its 2nd and 98th percentiles (robust to a few
    outliers). A component's sign is arbitrary; it is chosen to agree with ``previous``
    ((3, D) basis of an earlier call, e.g. the last epoch's) when given and of the same
    width, else so that the component's largest loading is positive. Fewer than three
    dimensions or points leave the missing channels at 0.5.
    """
    x = np.asarray(embedding, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"embedding must be (N, D) with N > 0, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embedding has NaN or infinite values")
    n, d = x.shape
    mean = x.mean(axis=0)
    centred = x - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    m = min(3, vt.shape[0])
    basis = np.zeros((3, d))
    basis[:m] = vt[:m]
    for i in range(m):
        ref = previous[i] if previous is not None and previous.shape == (3, d) else None
        sign = np.sign(basis[i] @ ref) if ref is not None else np.sign(
            basis[i][np.argmax(np.abs(basis[i]))])
        basis[i] *= sign if sign != 0 else 1.0
    var = s ** 2
    explained = np.zeros(3)
    if var.sum() > 0:
        explained[:m] = var[:m] / var.sum()
    comps = centred @ basis.T                                          # (N, 3)
    rgb = np.full((n, 3), 0.5)
    for i in range(m):
        lo, hi = np.percentile(comps[:, i], [2.0, 98.0])
        if hi - lo > 1e-12:
            rgb[:, i] = np.clip((comps[:, i] - lo) / (hi - lo), 0.0, 1.0)
    return PcaColors(rgb.astype(np.float32), mean, basis, explained)


@dataclass(frozen=True, eq=False)
class SimilarityMap:
    """Where a picked point lands on one model.

    Attributes:
        name: the model's name.
        vertex_similarity: (V,) float32 in [0, 1] per vertex of the model (1 = best match).
        best_xyz: (3,) the best-matching surface sample (normalized model units).
        distance: embedding distance of the best match.
    """

    name: str
    vertex_similarity: np.ndarray
    best_xyz: np.ndarray
    distance: float


def similarity_maps(embedder: PointEmbedder, source: ModelSurface, xyz: np.ndarray,
                    targets: Sequence[ModelSurface],
                    cache: dict[int, np.ndarray] | None = None) -> list[SimilarityMap]:
    """Similarity of every vertex of each target model to the point ``xyz`` (3,) on
    ``source``, through the embeddings of the models' surface samples.

    ``cache`` (model id -> (N, D) embedding) avoids recomputing embeddings across picks.
    """
    cache = {} if cache is None else cache

    def embedding(surface: ModelSurface) -> np.ndarray:
        if surface.model_id not in cache:
            cache[surface.model_id] = np.asarray(embedder(surface.sample.points))
        return cache[surface.model_id]

    query = query_embedding(embedding(source), source.sample.points, np.asarray(xyz))
    maps = []
    for surface in targets:
        result = transfer_point(query, embedding(surface), surface.sample.points)
        per_vertex = result.sample_similarity[surface.vertex_sample]  # nearest sample's value
        maps.append(SimilarityMap(surface.name, per_vertex, result.xyz, result.distance))
    return maps
