"""Everything a view needs to show one model: its mesh and its keypoints.

Loaded off the GUI thread by the UI (file I/O and validation), handed over as a
plain immutable record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.store import ModelInfo, ModelKeypoints, ProjectStore


@dataclass(frozen=True)
class ModelScene:
    """A model ready to draw.

    Attributes:
        info: the model's store record.
        vertices: (V, 3) float64 vertex positions in the normalized frame (the stored
            transform applied), the frame keypoints are stored in.
        faces: (F, 3) int64 vertex indices.
        keypoints: the model's placed keypoints (positions in the same frame).
    """

    info: ModelInfo
    vertices: np.ndarray
    faces: np.ndarray
    keypoints: ModelKeypoints


def load_model_scene(store: ProjectStore, info: ModelInfo) -> ModelScene:
    """Load a model's mesh from disk and its keypoints from the store.

    Raises:
        core.geometry.mesh.MeshError: naming the file, when the mesh is missing or broken.
    """
    from core.geometry.mesh import MeshError, load_mesh

    if info.mesh_file is None:
        raise MeshError(f"Model {info.category}/{info.name} has no mesh file linked")
    mesh = load_mesh(info.mesh_file)
    vertices = mesh.vertices
    if info.transform is not None:
        t = np.asarray(info.transform, dtype=np.float64)
        if not np.allclose(t, np.eye(4)):
            vertices = vertices @ t[:3, :3].T + t[:3, 3]
    return ModelScene(info, vertices, mesh.faces, store.keypoints_of_model(info.id))
