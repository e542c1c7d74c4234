"""A model's mesh in the normalized frame with fixed surface samples and lookups.

Suggestions and review work on the same per-model data: the mesh in the frame the
keypoints are stored in, ``N`` area-weighted surface samples (the points an embedding
network sees), the nearest sample of every vertex (for per-vertex heatmaps) and
closest-point snapping back onto the surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.geometry.sampling import SurfaceSample
from core.geometry.surface import ClosestPoints
from core.store import ModelInfo, ProjectStore

__all__ = ["ModelSurface", "load_model_surface", "sample_seed"]


@dataclass(frozen=True, eq=False)
class ModelSurface:
    """One model ready for suggestions and review.

    Attributes:
        model_id: database id.
        name: model name.
        vertices: (V, 3) float64 positions, normalized model units (the keypoints' frame).
        faces: (F, 3) int64 vertex indices.
        sample: N surface samples (points (N, 3), faces (N,), bary (N, 3)).
    """

    model_id: int
    name: str
    vertices: np.ndarray
    faces: np.ndarray
    sample: SurfaceSample

    @cached_property
    def diagonal(self) -> float:
        """Bounding-box diagonal of the vertices (1 for a normalized model)."""
        return float(np.linalg.norm(self.vertices.max(axis=0) - self.vertices.min(axis=0)))

    @property
    def n_samples(self) -> int:
        return int(self.sample.points.shape[0])

    def nearest_samples(self, xyz: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the ``k`` samples nearest to each of (P, 3) positions:
        (P,) arrays for ``k == 1``, (P, k) otherwise."""
        return self._sample_tree.query(np.asarray(xyz, dtype=np.float64).reshape(-1, 3), k=k)

    @cached_property
    def vertex_sample(self) -> np.ndarray:
        """(V,) int64: the sample nearest to each vertex (maps per-sample values to
        per-vertex ones)."""
        _, idx = self._sample_tree.query(self.vertices, k=1)
        return np.asarray(idx, dtype=np.int64)

    def snap(self, xyz: np.ndarray) -> ClosestPoints:
        """Closest surface points (face, barycentric weights, position) of (P, 3) positions."""
        from core.geometry.surface import closest_points

        return closest_points(self.vertices, self.faces, np.asarray(xyz).reshape(-1, 3))

    @cached_property
    def _sample_tree(self):
        from scipy.spatial import cKDTree

        return cKDTree(self.sample.points)


def sample_seed(seed: int, model_id: int) -> int:
    """The sampling seed of a model: fixed by (seed, model id), whatever else is loaded."""
    return int(np.random.SeedSequence([int(seed), int(model_id)]).generate_state(1)[0])


def load_model_surface(store: ProjectStore, info: ModelInfo, n_points: int = 2048,
                       seed: int = 0) -> ModelSurface:
    """Load a model's mesh, bring it into the normalized frame and sample it.

    Args:
        info: the model (from ``store.models(category)``).
        n_points: surface samples N.
        seed: sampling seed (combined with the model id).
    Raises:
        core.geometry.mesh.MeshError: the mesh is missing or unreadable (names the file).
    """
    from core.geometry.mesh import MeshError, apply_transform, load_mesh
    from core.geometry.sampling import sample_surface

    if info.mesh_file is None:
        raise MeshError(f"{info.category}/{info.name}", "no mesh file linked")
    mesh = load_mesh(info.mesh_file)
    vertices = mesh.vertices
    if info.transform is not None:
        vertices = apply_transform(np.asarray(info.transform), vertices)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    sample = sample_surface(vertices, faces, n_points, seed=sample_seed(seed, info.id))
    return ModelSurface(int(info.id), info.name, np.asarray(vertices, dtype=np.float64), faces,
                        sample)
