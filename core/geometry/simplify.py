"""Quick mesh simplification by vertex clustering (for tests, benchmarks and previews)."""

from __future__ import annotations

import numpy as np


def cluster_decimate(vertices: np.ndarray, faces: np.ndarray,
                     cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge the vertices in each cube of side ``cell`` (world units) into their mean.

    Args:
        vertices: (V, 3); faces: (F, 3) vertex indices.
        cell: cube side, world units.

    Returns:
        ``(vertices (V', 3), faces (F', 3))``: degenerate and repeated faces dropped, unused
        vertices removed, face order kept. The result need not stay watertight.
    """
    key = np.floor(vertices / cell).astype(np.int64)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    verts = np.zeros((len(counts), 3))
    np.add.at(verts, inverse, vertices)
    verts /= counts[:, None]
    f = inverse[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    _, first = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
    f = f[np.sort(first)]
    used = np.unique(f)
    remap = np.full(len(verts), -1)
    remap[used] = np.arange(len(used))
    return verts[used], remap[f]
