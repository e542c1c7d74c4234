"""Transfer a point from model A to model B through embeddings.

For a point on A, the best-matching point on B (the sample of B whose embedding is
nearest) and a similarity value for every vertex of B, in [0, 1] (1 = the best
match), for heatmaps and placement suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TransferResult:
    """Where a point of A lands on B.

    Attributes:
        sample_index: index of the best-matching sample of B.
        xyz: (3,) its position (B's normalized units).
        face: its face on B (-1 when unknown).
        bary: (3,) its barycentric weights on ``face`` (NaN when unknown).
        distance: embedding distance of the best match.
        sample_similarity: (N_B,) float32 similarity of every sample of B.
        vertex_similarity: (V_B,) float32 similarity of every vertex of B (from the
            nearest sample), or None when no vertices were given.
    """

    sample_index: int
    xyz: np.ndarray
    face: int
    bary: np.ndarray
    distance: float
    sample_similarity: np.ndarray
    vertex_similarity: np.ndarray | None


def similarity_from_distance(distance: np.ndarray) -> np.ndarray:
    """Embedding distances (N,) -> similarity in [0, 1]: a Gaussian of the distance with
    the scale set by the nearest tenth of the other distances, so the best match is 1 and
    unrelated regions fall towards 0 whatever the embedding's overall scale."""
    d = np.asarray(distance, dtype=np.float64)
    d0 = d.min()
    spread = (d - d0)[d > d0]
    scale = max(float(np.quantile(spread, 0.1)), 1e-9) if spread.size else 1.0
    return np.exp(-0.5 * ((d - d0) / scale) ** 2).astype(np.float32)


def transfer_point(query: np.ndarray, embedding_b: np.ndarray, points_b: np.ndarray,
                   faces_b: np.ndarray | None = None, bary_b: np.ndarray | None = None,
                   vertices_b: np.ndarray | None = None) -> TransferResult:
    """Best match on B of a point whose embedding is ``query``.

    Args:
        query: (D,) embedding of the point on A.
        embedding_b: (N, D) embeddings of B's samples.
        points_b: (N, 3) B's samples.
        faces_b, bary_b: (N,), (N, 3) the samples' faces and weights (optional).
        vertices_b: (V, 3) B's mesh vertices for the per-vertex similarity (optional).
    """
    from scipy.spatial import cKDTree

    emb = np.asarray(embedding_b, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32).reshape(1, -1)
    if emb.ndim != 2 or emb.shape[1] != q.shape[1]:
        raise ValueError(f"query has {q.shape[1]} dimensions, B's embeddings {emb.shape}")
    dist = np.sqrt(np.maximum(((emb - q) ** 2).sum(axis=1), 0.0))
    best = int(np.argmin(dist))
    sim = similarity_from_distance(dist)
    vertex_sim = None
    if vertices_b is not None:
        _, nearest = cKDTree(points_b).query(np.asarray(vertices_b), k=1)
        vertex_sim = sim[nearest]
    face = int(faces_b[best]) if faces_b is not None else -1
    bary = np.asarray(bary_b[best], dtype=np.float64) if bary_b is not None \
        else np.full(3, np.nan)
    return TransferResult(best, np.asarray(points_b[best], dtype=np.float64), face, bary,
                          float(dist[best]), sim, vertex_sim)


def query_embedding(embedding_a: np.ndarray, points_a: np.ndarray,
                    xyz: np.ndarray) -> np.ndarray:
    """(D,) embedding of a point on A: that of A's sample nearest to ``xyz``."""
    d = np.linalg.norm(np.asarray(points_a) - np.asarray(xyz).reshape(1, 3), axis=1)
    return np.asarray(embedding_a)[int(np.argmin(d))]
