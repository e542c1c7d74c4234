"""Triangle-mesh geometry on numpy (and trimesh for a few file formats); no torch.

- :mod:`core.geometry.mesh`: :class:`TriMesh`, :func:`load_mesh`, :func:`validate_mesh`,
  :func:`normalize`.
- :mod:`core.geometry.surface`: closest points on a surface, barycentric positions.
- :mod:`core.geometry.ply`: deterministic binary PLY writer and a PLY reader.
"""

from core.geometry.mesh import (
    MeshError,
    MeshReport,
    TriMesh,
    apply_transform,
    load_mesh,
    normalize,
    validate_mesh,
)
from core.geometry.ply import read_ply, write_ply
from core.geometry.surface import (
    ClosestPoints,
    closest_points,
    closest_surface_points,
    face_normals,
    surface_point_xyz,
)

__all__ = [
    "ClosestPoints",
    "MeshError",
    "MeshReport",
    "TriMesh",
    "apply_transform",
    "closest_points",
    "closest_surface_points",
    "face_normals",
    "load_mesh",
    "normalize",
    "read_ply",
    "surface_point_xyz",
    "validate_mesh",
    "write_ply",
]
