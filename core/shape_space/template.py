"""The category template of a shape space: one annotated model, remeshed, with semantic points.

Choice, following the papers. To The Point (Sec. 4) takes its templates as given: CSM's for
CUB and, for PASCAL3D+, "one of the available CAD models for each object"; Li et al.
("Self-supervised single-view 3D reconstruction via semantic consistency", Sec. 3.2) grow
the template from a sphere and update it to "the mean shape of instances in a category". We
do both in that order: the template starts as the category's most-annotated model (the row
with the most semantic points placed; ties: the first by name; or a model you name), and
the shape space's mean shape ``T`` is the mean of the template fitted to every model (one
such M-step; see :mod:`core.shape_space.build`).

Remeshing. The solver and the fit work on 1-3k vertices, so the chosen model is brought into
``[min_vertices, max_vertices]`` (default 1000-3000) with manifold3d, which keeps a
watertight input watertight: too many vertices -> ``Manifold.simplify`` with the smallest
tolerance (found by bisection) that gets under ``max_vertices``; too few ->
``Manifold.refine_to_length`` with an edge length from the surface area. A mesh manifold3d
refuses (not closed, not manifold) is simplified by vertex clustering on a grid instead
(not watertight-preserving), or kept as it is when already small enough.

Semantic points. Either one annotator's sets (``mode="annotator"``, default: the annotator
with the most placed points, as :mod:`core.pose.category_template` chooses) or the consensus
of landmark groups (``mode="consensus"``: sets of different annotators grouped by
:func:`core.annotation.landmark_groups.group_sets`, each group's point on a model the median
of its members' points, groups of at least two sets). The template's points are those placed
on the template model, snapped to the remeshed surface and stored as face + barycentric
weights, so they follow any deformation of the template's vertices.
Units: normalized model units (bounding-box diagonal 1, +Y up), as the store keeps them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.shape_space.errors import ShapeSpaceError
from core.store import CategorySets, ProjectStore
from core.store.records import PLACED

__all__ = [
    "MAX_TEMPLATE_VERTICES",
    "MIN_TEMPLATE_VERTICES",
    "SEMANTIC_MODES",
    "Remeshed",
    "SemanticTargets",
    "ShapeTemplate",
    "build_template",
    "remesh",
    "semantic_targets",
    "template_from_mesh",
]

MIN_TEMPLATE_VERTICES = 1000
MAX_TEMPLATE_VERTICES = 3000
SEMANTIC_MODES = ("annotator", "consensus")


@dataclass(frozen=True)
class SemanticTargets:
    """A category's semantic points on every model.

    Attributes:
        model_names: M model names (the store's order, by name).
        labels: S labels: ``"<annotator>:<number>"`` per set, or the group's name.
        names: S optional landmark names.
        xyz: (M, S, 3) float64 positions, normalized units; NaN where the point is not placed
            (missing or absent) on that model.
    """

    model_names: tuple[str, ...]
    labels: tuple[str, ...]
    names: tuple[str | None, ...]
    xyz: np.ndarray

    @property
    def placed(self) -> np.ndarray:
        """(M, S) bool: the point is placed on the model."""
        return np.isfinite(self.xyz).all(axis=2)

    def columns(self, cols: np.ndarray) -> SemanticTargets:
        """The targets restricted to columns ``cols`` (S',) int."""
        cols = np.asarray(cols, dtype=np.int64)
        return SemanticTargets(self.model_names, tuple(self.labels[c] for c in cols),
                               tuple(self.names[c] for c in cols), self.xyz[:, cols])


@dataclass(frozen=True)
class Remeshed:
    """A remeshed surface: ``vertices`` (N, 3) float64, ``faces`` (F, 3) int64, the method
    used (readable) and whether every edge has exactly two faces."""

    vertices: np.ndarray
    faces: np.ndarray
    method: str
    watertight: bool


@dataclass(frozen=True)
class ShapeTemplate:
    """A template mesh with semantic points on it.

    Attributes:
        category: the category name.
        model: the model the template was made from ("" for a template made from a mesh).
        vertices: (N, 3) float64, normalized model units.
        faces: (F, 3) int64.
        labels: S semantic point labels (see :class:`SemanticTargets`).
        names: S optional landmark names.
        point_faces: (S,) int64 face of each semantic point.
        point_bary: (S, 3) float64 barycentric weights (>= 0, rows sum to 1).
        columns: (S,) int64 columns of the :class:`SemanticTargets` the points came from.
        remesh: how the model was remeshed.
        watertight: every edge of the template has exactly two faces.
    """

    category: str
    model: str
    vertices: np.ndarray
    faces: np.ndarray
    labels: tuple[str, ...]
    names: tuple[str | None, ...]
    point_faces: np.ndarray
    point_bary: np.ndarray
    columns: np.ndarray
    remesh: str
    watertight: bool

    def points(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """(S, 3) semantic points on ``vertices`` (N, 3) (default: the template's own)."""
        v = self.vertices if vertices is None else np.asarray(vertices, dtype=np.float64)
        tri = v[self.faces[self.point_faces]]                       # (S, 3 corners, 3)
        return np.einsum("sc,scd->sd", self.point_bary, tri)


# ----------------------------------------------------------------------------- targets


def semantic_targets(sets: CategorySets, mode: str = "annotator",
                     annotator: str | None = None) -> SemanticTargets:
    """The semantic points of every model (see the module docstring for the two modes).

    Raises:
        ShapeSpaceError: unknown mode or annotator, or no placed point at all.
    """
    placed = sets.state == PLACED
    if mode not in SEMANTIC_MODES:
        raise ShapeSpaceError(f"semantic point mode must be one of {SEMANTIC_MODES}, "
                              f"got {mode!r}")
    if not placed.any():
        raise ShapeSpaceError(f"category {sets.category!r} has no placed keypoints")
    if mode == "consensus":
        return _consensus_targets(sets)
    annotators = np.asarray(sets.set_annotators, dtype=object)
    if annotator is None:
        names = sorted(set(sets.set_annotators))
        counts = [int(placed[:, annotators == a].sum()) for a in names]
        annotator = names[int(np.argmax(counts))]
    cols = np.flatnonzero(annotators == annotator)
    if cols.size == 0:
        raise ShapeSpaceError(f"annotator {annotator!r} has no sets in category "
                              f"{sets.category!r}")
    xyz = np.where(placed[:, cols, None], sets.xyz[:, cols], np.nan)
    labels = tuple(f"{annotator}:{int(sets.set_numbers[c])}" for c in cols)
    return SemanticTargets(tuple(sets.model_names), labels,
                           tuple(sets.set_names[c] for c in cols), xyz)


def _consensus_targets(sets: CategorySets) -> SemanticTargets:
    """One point per landmark group of >= 2 sets: the median of the members' points."""
    from core.annotation.landmark_groups import consensus_points, group_sets

    groups = [g for g in group_sets(sets) if len(g) >= 2]
    if not groups:
        raise ShapeSpaceError(f"category {sets.category!r}: no landmark is marked by two "
                              "annotators; use mode='annotator'")
    xyz = np.stack([consensus_points(sets, g)[0] for g in groups], axis=1)  # (M, G, 3)
    seen: dict[str, int] = {}
    labels = []
    for g in groups:
        seen[g.name] = seen.get(g.name, 0) + 1
        labels.append(g.name if seen[g.name] == 1 else f"{g.name} ({seen[g.name]})")
    names = tuple(None if g.name.startswith("group ") else g.name for g in groups)
    return SemanticTargets(tuple(sets.model_names), tuple(labels), names, xyz)


# ----------------------------------------------------------------------------- template


def build_template(store: ProjectStore, category: str, model: str | None = None,
                   mode: str = "annotator", annotator: str | None = None,
                   min_vertices: int = MIN_TEMPLATE_VERTICES,
                   max_vertices: int = MAX_TEMPLATE_VERTICES,
                   targets: SemanticTargets | None = None) -> ShapeTemplate:
    """The template of ``category``: its most-annotated model (or ``model``), remeshed.

    Args:
        targets: the category's semantic points, when already computed (else from
            ``mode`` and ``annotator``).

    Raises:
        ShapeSpaceError: no models, unknown model, no semantic point on the template model,
            or a mesh file that cannot be read (the message names it).
    """
    from core.geometry.mesh import MeshError
    from core.model_scene import load_model_scene

    sets = store.category_sets(category)
    if len(sets.model_ids) == 0:
        raise ShapeSpaceError(f"category {category!r} has no models")
    if targets is None:
        targets = semantic_targets(sets, mode, annotator)
    placed = targets.placed
    if model is None:
        row = int(np.argmax(placed.sum(axis=1)))
    elif model in targets.model_names:
        row = targets.model_names.index(model)
    else:
        raise ShapeSpaceError(f"category {category!r} has no model {model!r}")
    name = targets.model_names[row]
    cols = np.flatnonzero(placed[row])
    if cols.size == 0:
        raise ShapeSpaceError(f"model {category}/{name} has no semantic point to put on "
                              "the template")
    try:
        scene = load_model_scene(store, store.model(category, name))
    except MeshError as exc:
        raise ShapeSpaceError(f"template model {category}/{name}: {exc}") from exc
    return template_from_mesh(scene.vertices, scene.faces, targets.xyz[row, cols],
                              [targets.labels[c] for c in cols],
                              [targets.names[c] for c in cols], category=category, model=name,
                              columns=cols, min_vertices=min_vertices,
                              max_vertices=max_vertices)


def template_from_mesh(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray,
                       labels: list[str] | tuple[str, ...],
                       names: list[str | None] | tuple[str | None, ...] | None = None, *,
                       category: str = "", model: str = "", columns: np.ndarray | None = None,
                       min_vertices: int = MIN_TEMPLATE_VERTICES,
                       max_vertices: int = MAX_TEMPLATE_VERTICES) -> ShapeTemplate:
    """A template from a mesh (V, 3) / (F, 3) and its semantic points (S, 3): the mesh is
    remeshed (:func:`remesh`), the points snapped to it as face + barycentric weights."""
    from core.geometry.surface import closest_points

    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(labels) != len(points):
        raise ShapeSpaceError(f"{len(labels)} labels for {len(points)} semantic points")
    mesh = remesh(vertices, faces, min_vertices, max_vertices)
    snap = closest_points(mesh.vertices, mesh.faces, points)
    cols = np.arange(len(points)) if columns is None else np.asarray(columns, dtype=np.int64)
    return ShapeTemplate(category=category, model=model, vertices=mesh.vertices,
                         faces=mesh.faces, labels=tuple(labels),
                         names=tuple(names) if names is not None else (None,) * len(labels),
                         point_faces=snap.face, point_bary=snap.bary, columns=cols,
                         remesh=mesh.method, watertight=mesh.watertight)


# ----------------------------------------------------------------------------- remeshing


def remesh(vertices: np.ndarray, faces: np.ndarray,
           min_vertices: int = MIN_TEMPLATE_VERTICES,
           max_vertices: int = MAX_TEMPLATE_VERTICES) -> Remeshed:
    """Bring a mesh to ``[min_vertices, max_vertices]`` vertices (see the module docstring).

    Args:
        vertices: (V, 3) positions; faces: (F, 3) vertex indices.

    Raises:
        ShapeSpaceError: an empty mesh or a bad vertex range.
    """
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(f) == 0 or len(v) < 3:
        raise ShapeSpaceError("cannot make a template from an empty mesh")
    if not 4 <= min_vertices <= max_vertices:
        raise ShapeSpaceError(f"bad template vertex range [{min_vertices}, {max_vertices}]")
    manifold = _to_manifold(v, f)
    if manifold is not None:
        out = _remesh_manifold(manifold, len(np.unique(f)), min_vertices, max_vertices)
        if out is not None:
            return out
    used = np.unique(f)
    if len(used) <= max_vertices:
        v2, f2 = _compact(v, f)
        return Remeshed(v2, f2, f"kept as is ({len(v2)} vertices)", _watertight(f2))
    return _cluster_to(v, f, max_vertices)


def _to_manifold(v: np.ndarray, f: np.ndarray):
    """A manifold3d ``Manifold`` of the mesh, or None when manifold3d refuses it."""
    try:
        import manifold3d as m3
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        mesh = m3.Mesh(vert_properties=np.ascontiguousarray(v, dtype=np.float32),
                       tri_verts=np.ascontiguousarray(f, dtype=np.uint32))
        mesh.merge()
        solid = m3.Manifold(mesh)
    except Exception:  # noqa: BLE001 - any refusal means "use the fallback"
        return None
    if solid.status() != m3.Error.NoError or solid.is_empty():
        return None
    return solid


def _manifold_arrays(solid) -> tuple[np.ndarray, np.ndarray]:
    mesh = solid.to_mesh()
    v = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    return _compact(v, np.asarray(mesh.tri_verts, dtype=np.int64))


def _remesh_manifold(solid, n_in: int, lo: int, hi: int) -> Remeshed | None:
    """Simplify (too many vertices) and/or refine (too few) a manifold; None if that fails."""
    n = solid.num_vert()
    if lo <= n <= hi:
        v, f = _manifold_arrays(solid)
        return Remeshed(v, f, f"kept as is ({len(v)} vertices)", _watertight(f))
    steps = []
    if n > hi:
        simplified = _simplify_under(solid, hi)
        if simplified is None:
            return None
        solid, tol = simplified
        steps.append(f"simplify (tolerance {tol:.2g} of the diagonal)")
    if solid.num_vert() < lo:  # too few, or simplified below: refine flat regions evenly
        refined = _refine_into(solid, lo, hi)
        if refined is None:
            return None
        solid = refined
        steps.append("refine_to_length")
    v, f = _manifold_arrays(solid)
    return Remeshed(v, f, f"manifold3d {' + '.join(steps)}: {n_in} -> {len(v)} vertices",
                    _watertight(f))


def _diagonal(solid) -> float:
    box = np.asarray(solid.bounding_box(), dtype=np.float64)
    return float(np.linalg.norm(box[3:] - box[:3])) or 1.0


def _simplify_under(solid, hi: int):
    """(simplified manifold, tolerance / diagonal) with <= ``hi`` vertices at the smallest
    tolerance found by bisection (most detail kept), or None."""
    diag = _diagonal(solid)
    tol_lo, tol_hi = 0.0, 1e-4 * diag
    best = solid.simplify(tol_hi)
    while best.num_vert() > hi and tol_hi < 0.2 * diag:
        tol_lo, tol_hi = tol_hi, 2.0 * tol_hi
        best = solid.simplify(tol_hi)
    if best.num_vert() > hi:
        return None
    for _ in range(14):
        mid = 0.5 * (tol_lo + tol_hi)
        trial = solid.simplify(mid)
        if trial.num_vert() <= hi:
            best, tol_hi = trial, mid
        else:
            tol_lo = mid
    return best, tol_hi / diag


def _refine_into(solid, lo: int, hi: int):
    """``refine_to_length`` with the edge length bisected (log scale) until the vertex
    count lies in [lo, hi] (aiming at the middle first); None if it never does."""
    target = 0.5 * (lo + hi)
    # a mesh of V vertices has about 2 V triangles of area sqrt(3) / 4 * L^2 each
    guess = math.sqrt(2.0 * solid.surface_area() / (math.sqrt(3.0) * target))
    short, long_ = guess / 8.0, guess * 8.0  # too many vertices at short, too few at long
    for _ in range(24):
        length = math.sqrt(short * long_)
        refined = solid.refine_to_length(length)
        n = refined.num_vert()
        if lo <= n <= hi:
            return refined
        if n > hi:
            short = length
        else:
            long_ = length
    return None


def _cluster_to(v: np.ndarray, f: np.ndarray, hi: int) -> Remeshed:
    """Vertex clustering on a grid, the coarsest cell searched so that <= ``hi`` remain."""
    extent = float(np.ptp(v, axis=0).max()) or 1.0
    lo_cell, hi_cell = 0.0, extent / 8.0
    best = _cluster(v, f, hi_cell)
    for _ in range(20):
        mid = 0.5 * (lo_cell + hi_cell)
        trial = _cluster(v, f, mid)
        if len(trial[0]) <= hi:
            best, hi_cell = trial, mid
        else:
            lo_cell = mid
    v2, f2 = best
    return Remeshed(v2, f2, f"vertex clustering: {len(np.unique(f))} -> {len(v2)} vertices",
                    _watertight(f2))


def _cluster(v: np.ndarray, f: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge the vertices of each grid cell (size ``cell``) at their mean; drop faces that
    collapse and duplicates."""
    keys = np.floor((v - v.min(axis=0)) / cell).astype(np.int64)
    _, label = np.unique(keys, axis=0, return_inverse=True)
    label = label.reshape(-1)
    n = int(label.max()) + 1
    counts = np.bincount(label, minlength=n).astype(np.float64)
    centre = np.stack([np.bincount(label, weights=v[:, d], minlength=n) for d in range(3)], 1)
    centre /= counts[:, None]
    f2 = label[f]
    ok = (f2[:, 0] != f2[:, 1]) & (f2[:, 1] != f2[:, 2]) & (f2[:, 0] != f2[:, 2])
    f2 = f2[ok]
    _, first = np.unique(np.sort(f2, axis=1), axis=0, return_index=True)
    return _compact(centre, f2[np.sort(first)])


def _compact(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop unreferenced vertices; returns float64 vertices and int64 faces."""
    used, inverse = np.unique(f, return_inverse=True)
    return np.ascontiguousarray(v[used], dtype=np.float64), inverse.reshape(-1, 3).astype(
        np.int64)


def _watertight(f: np.ndarray) -> bool:
    from core.geometry.mesh import edge_face_counts

    _, counts, _ = edge_face_counts(f)
    return bool(len(counts)) and bool((counts == 2).all())
