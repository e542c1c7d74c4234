"""Triangle meshes: the :class:`TriMesh` record, loading, validation and normalization.

Loading keeps the file's vertex and face order (annotations refer to faces by index and
to positions by barycentric weights), so OBJ, OFF and PLY are read by small parsers of
our own; other formats (STL, GLB/GLTF) go through trimesh without processing, except
that STL's per-face vertex triples are merged by exact position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "MeshError",
    "MeshReport",
    "TriMesh",
    "apply_transform",
    "edge_face_counts",
    "load_mesh",
    "normalize",
    "validate_mesh",
]


class MeshError(ValueError):
    """A mesh file could not be used; the message names the file and the problem.

    ``MeshError(path, problem)`` gives the message ``"<path>: <problem>"`` and keeps both
    parts as ``source`` and ``problem``; ``MeshError(message)`` takes a ready message
    (``source`` is then None).
    """

    def __init__(self, source: str | Path, problem: str | None = None) -> None:
        if problem is None:
            self.source: str | None = None
            self.problem = str(source)
            super().__init__(self.problem)
        else:
            self.source = str(source)
            self.problem = problem
            super().__init__(f"{self.source}: {problem}")


@dataclass(frozen=True)
class TriMesh:
    """An indexed triangle mesh.

    Attributes:
        vertices: (V, 3) float64 positions, in the file's (or model's) units.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
    """

    vertices: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        vertices = np.ascontiguousarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def n_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def bbox(self) -> tuple[np.ndarray, np.ndarray]:
        """(min corner (3,), max corner (3,)) of the vertices; zeros for an empty mesh."""
        if self.n_vertices == 0:
            return np.zeros(3), np.zeros(3)
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    @property
    def bbox_diagonal(self) -> float:
        """Length of the bounding-box diagonal, in the mesh's units."""
        lo, hi = self.bbox
        return float(np.linalg.norm(hi - lo))


@dataclass(frozen=True)
class MeshReport:
    """What :func:`validate_mesh` found.

    Attributes:
        source: the file (or description) the mesh came from.
        n_vertices, n_faces: sizes of the arrays.
        n_components: connected components of the faces (faces sharing a vertex are
            connected); vertices no face uses are not counted.
        watertight: closed and consistently oriented: every edge is shared by exactly two
            faces, which traverse it in opposite directions.
        is_manifold: edge-manifold: every edge is shared by exactly two faces.
        has_nan: some vertex coordinate is NaN or infinite.
        n_degenerate_faces: faces with a repeated index or (near) zero area.
        n_boundary_edges: edges used by one face only.
        n_nonmanifold_edges: edges used by three or more faces.
        problems: human-readable descriptions of everything above that is wrong.
    """

    source: str
    n_vertices: int
    n_faces: int
    n_components: int
    watertight: bool
    is_manifold: bool
    has_nan: bool
    n_degenerate_faces: int
    n_boundary_edges: int = 0
    n_nonmanifold_edges: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the mesh is one watertight, edge-manifold, finite component."""
        return not self.problems


def edge_face_counts(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count how often each edge is used.

    Args:
        faces: (F, 3) integer vertex indices.

    Returns:
        (edges (E, 2) sorted undirected edges, counts (E,) faces per edge,
        balance (E,) number of uses as (low, high) minus uses as (high, low)).
    """
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    forward = directed[:, 0] < directed[:, 1]
    undirected = np.sort(directed, axis=1)
    if undirected.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2), dtype=np.int64), empty, empty
    edges, inverse, counts = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    balance = np.bincount(
        inverse.reshape(-1), weights=np.where(forward, 1.0, -1.0), minlength=len(edges)
    )
    return edges, counts.astype(np.int64), balance.astype(np.int64)


def _count_components(n_vertices: int, faces: np.ndarray) -> int:
    if faces.shape[0] == 0:
        return 0
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows = np.concatenate([faces[:, 0], faces[:, 1]])
    cols = np.concatenate([faces[:, 1], faces[:, 2]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    _, labels = connected_components(graph, directed=False)
    return len(np.unique(labels[np.unique(faces)]))


def validate_mesh(vertices: np.ndarray, faces: np.ndarray, source: str) -> MeshReport:
    """Check a triangle mesh for the properties the app relies on.

    Args:
        vertices: (V, 3) positions.
        faces: (F, 3) vertex indices.
        source: file name or description, repeated in the report.

    Returns:
        A :class:`MeshReport`; its ``problems`` list is empty for one watertight,
        edge-manifold component with finite coordinates and no degenerate faces.
    """
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    problems: list[str] = []
    n_v, n_f = vertices.shape[0], faces.shape[0]
    has_nan = bool(not np.all(np.isfinite(vertices)))
    if has_nan:
        bad = int(np.count_nonzero(~np.all(np.isfinite(vertices), axis=1)))
        problems.append(f"{bad} vertices have NaN or infinite coordinates")
    if n_f == 0:
        problems.append("no faces")
    out_of_range = bool(n_f and (faces.min() < 0 or faces.max() >= n_v))
    if out_of_range:
        problems.append(f"face indices out of range 0..{n_v - 1}")
        return MeshReport(str(source), n_v, n_f, 0, False, False, has_nan, 0, 0, 0, problems)

    _, counts, balance = edge_face_counts(faces)
    n_boundary = int(np.count_nonzero(counts == 1))
    n_nonmanifold = int(np.count_nonzero(counts > 2))
    is_manifold = bool(n_f > 0 and n_boundary == 0 and n_nonmanifold == 0)
    consistent = bool(np.all(balance == 0))
    watertight = is_manifold and consistent
    if n_boundary:
        problems.append(f"{n_boundary} boundary edges (holes): not watertight")
    if n_nonmanifold:
        problems.append(f"{n_nonmanifold} edges shared by more than two faces")
    if is_manifold and not consistent:
        problems.append("inconsistent face winding")

    repeated = (
        (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    )
    n_degenerate = int(np.count_nonzero(repeated))
    if n_f and not has_nan:
        tri = vertices[faces]
        doubled_area = np.linalg.norm(
            np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1
        )
        lo, hi = vertices[np.unique(faces)].min(axis=0), vertices[np.unique(faces)].max(axis=0)
        scale = float(np.linalg.norm(hi - lo)) or 1.0
        n_degenerate = int(np.count_nonzero(repeated | (doubled_area <= 1e-14 * scale**2)))
    if n_degenerate:
        problems.append(f"{n_degenerate} degenerate (zero-area) faces")

    n_components = _count_components(n_v, faces)
    if n_components > 1:
        problems.append(f"{n_components} connected components")
    return MeshReport(
        source=str(source),
        n_vertices=n_v,
        n_faces=n_f,
        n_components=n_components,
        watertight=watertight,
        is_manifold=is_manifold,
        has_nan=has_nan,
        n_degenerate_faces=n_degenerate,
        n_boundary_edges=n_boundary,
        n_nonmanifold_edges=n_nonmanifold,
        problems=problems,
    )


def _parse_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    # Lenient decoding: comments and group names may be in any 8-bit encoding.
    text = path.read_bytes().decode("utf-8", errors="replace")
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] == "#":
            continue
        parts = line.split()
        if parts[0] == "v":
            if len(parts) < 4:
                raise MeshError(path, f"line {line_no}: vertex needs 3 coordinates")
            vertices.append([float(parts[1]), float(parts[2]), float(parts[3])])
        elif parts[0] == "f":
            idx = []
            for token in parts[1:]:
                i = int(token.split("/")[0])
                # OBJ indices are 1-based; negative ones count back from the last vertex.
                idx.append(i - 1 if i > 0 else len(vertices) + i)
            if len(idx) != 3:
                raise MeshError(
                    path, f"line {line_no}: non-triangular face with {len(idx)} vertices"
                )
            faces.append(idx)
    return np.asarray(vertices, dtype=np.float64).reshape(-1, 3), np.asarray(
        faces, dtype=np.int64
    ).reshape(-1, 3)


def _parse_off(path: Path) -> tuple[np.ndarray, np.ndarray]:
    lines = [
        ln.split("#", 1)[0].strip()
        for ln in path.read_bytes().decode("utf-8", errors="strict").splitlines()
    ]
    tokens = " ".join(ln for ln in lines if ln).split()
    if not tokens or not tokens[0].endswith("OFF"):
        raise MeshError(path, "not an OFF file (missing OFF header)")
    n_v, n_f = int(tokens[1]), int(tokens[2])
    pos = 4
    vertices = np.asarray(tokens[pos : pos + 3 * n_v], dtype=np.float64)
    if vertices.size != 3 * n_v:
        raise MeshError(path, "truncated vertex list")
    pos += 3 * n_v
    faces = np.zeros((n_f, 3), dtype=np.int64)
    for k in range(n_f):
        count = int(tokens[pos])
        if count != 3:
            raise MeshError(path, f"face {k}: non-triangular face with {count} vertices")
        faces[k] = [int(t) for t in tokens[pos + 1 : pos + 4]]
        pos += 1 + count
    return vertices.reshape(-1, 3), faces


def _load_with_trimesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    loaded = trimesh.load(str(path), force="mesh", process=False)
    vertices = np.asarray(loaded.vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(loaded.faces, dtype=np.int64).reshape(-1, 3)
    if path.suffix.lower() == ".stl" and len(vertices):
        vertices, inverse = np.unique(vertices, axis=0, return_inverse=True)
        faces = inverse.reshape(-1)[faces]
    return vertices, faces


MAX_FACES = 10_000_000  # beyond this an interactive view cannot stay responsive
MAX_MESH_BYTES = 2 << 30  # files over 2 GiB are refused before parsing


def load_mesh(path: str | Path, max_faces: int = MAX_FACES) -> TriMesh:
    """Read a triangle mesh, keeping the file's vertex and face order.

    Supports OBJ, OFF, PLY (ASCII and binary) with parsers of our own, and STL, GLB/GLTF
    through trimesh.

    Args:
        path: the file.
        max_faces: larger meshes are refused (the limit is in the message).

    Returns:
        The mesh, coordinates as stored in the file.

    Raises:
        MeshError: naming the file, when it is missing, unreadable or corrupt, too large
            (over :data:`MAX_MESH_BYTES` on disk or ``max_faces`` faces), has no faces,
            non-triangular faces, NaN/infinite coordinates or face indices out of range.
    """
    path = Path(path)
    if not path.exists():
        raise MeshError(path, "file not found")
    if not path.is_file():
        raise MeshError(path, "not a regular file")
    size = path.stat().st_size
    if size > MAX_MESH_BYTES:
        raise MeshError(path, f"too large to open ({size / 2**30:.1f} GiB; the limit is "
                              f"{MAX_MESH_BYTES / 2**30:.0f} GiB)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".obj":
            vertices, faces = _parse_obj(path)
        elif suffix == ".off":
            vertices, faces = _parse_off(path)
        elif suffix == ".ply":
            from core.geometry.ply import parse_ply

            vertices, faces = parse_ply(path)
        else:
            vertices, faces = _load_with_trimesh(path)
    except MeshError:
        raise
    except Exception as exc:  # any parser failure means an unreadable or corrupt file
        raise MeshError(path, f"cannot read mesh ({type(exc).__name__}: {exc})") from exc
    if vertices.shape[0] == 0:
        raise MeshError(path, "no vertices")
    if faces.shape[0] == 0:
        raise MeshError(path, "no faces")
    if faces.shape[0] > max_faces:
        raise MeshError(path, f"too large: {faces.shape[0]:,} faces (the limit is "
                              f"{max_faces:,}); simplify it first")
    if not np.all(np.isfinite(vertices)):
        raise MeshError(path, "NaN or infinite vertex coordinates")
    if faces.min() < 0 or faces.max() >= vertices.shape[0]:
        raise MeshError(path, f"face indices out of range (valid: 0..{vertices.shape[0] - 1})")
    return TriMesh(vertices, faces)


def normalize(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre on the bounding-box centre and scale to a unit bounding-box diagonal.

    Args:
        vertices: (V, 3) positions, V >= 1, finite, not all equal.

    Returns:
        (normalized (V, 3) float64, transform (4, 4) float64) where
        ``normalized = (transform @ [v, 1])[:3]`` for every input vertex ``v``.

    Raises:
        ValueError: for no vertices, non-finite values or a zero-size bounding box.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if v.shape[0] == 0 or not np.all(np.isfinite(v)):
        raise ValueError("normalize needs at least one finite vertex")
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre = (lo + hi) / 2.0
    diagonal = float(np.linalg.norm(hi - lo))
    if diagonal <= 0.0:
        raise ValueError("normalize needs a bounding box of non-zero size")
    scale = 1.0 / diagonal
    transform = np.eye(4)
    transform[:3, :3] *= scale
    transform[:3, 3] = -centre * scale
    return (v - centre) * scale, transform


def apply_transform(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) affine transform to (N, 3) points; returns (N, 3) float64."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    t = np.asarray(transform, dtype=np.float64)
    return p @ t[:3, :3].T + t[:3, 3]
