"""Mirror symmetry of a category: the plane, and sets that are mirror images.

Assumption: the models of a category are normalized (centred on the bounding-box centre)
and aligned, and the category is mirror-symmetric about a plane through the origin. The
demo categories follow the frame of :mod:`core.demo.types` (+X the object's left): the
airplane and the chair are symmetric about x = 0 (:data:`X_PLANE`, left/right); the mug,
whose handle is on +X, about z = 0 (front/back). The plane is a parameter everywhere;
:func:`detect_symmetry_plane` picks the coordinate plane the meshes are most symmetric
about when none is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.annotation.landmark_groups import LandmarkGroup, consensus_points
from core.store import CategorySets
from core.store.records import PLACED

__all__ = ["X_PLANE", "Y_PLANE", "Z_PLANE", "SymmetryPlane", "detect_symmetry_plane",
           "mirror_groups", "mirror_pairs"]


@dataclass(frozen=True)
class SymmetryPlane:
    """The plane ``dot(normal, p) = offset`` (normal: unit (3,), offset: normalized units)."""

    normal: tuple[float, float, float]
    offset: float = 0.0
    name: str = ""

    def reflect(self, points: np.ndarray) -> np.ndarray:
        """Mirror (..., 3) positions across the plane."""
        n = np.asarray(self.normal, dtype=np.float64)
        n = n / np.linalg.norm(n)
        p = np.asarray(points, dtype=np.float64)
        return p - 2.0 * ((p @ n) - self.offset)[..., None] * n


X_PLANE = SymmetryPlane((1.0, 0.0, 0.0), 0.0, "x = 0")
Y_PLANE = SymmetryPlane((0.0, 1.0, 0.0), 0.0, "y = 0")
Z_PLANE = SymmetryPlane((0.0, 0.0, 1.0), 0.0, "z = 0")


def detect_symmetry_plane(clouds: Sequence[np.ndarray],
                          candidates: Sequence[SymmetryPlane] = (X_PLANE, Y_PLANE, Z_PLANE),
                          ) -> tuple[SymmetryPlane, dict[str, float]]:
    """The candidate plane the point clouds are most symmetric about.

    Args:
        clouds: surface samples (N_i, 3) of some models, normalized units.
    Returns:
        The plane and, per candidate name, the mean symmetric Chamfer distance between
        each cloud and its reflection (normalized units; smaller = more symmetric).
    """
    from scipy.spatial import cKDTree

    scores = {}
    for plane in candidates:
        total = 0.0
        for cloud in clouds:
            tree = cKDTree(cloud)
            mirrored = plane.reflect(cloud)
            total += float(np.mean(tree.query(mirrored)[0]))
        scores[plane.name] = total / max(1, len(clouds))
    best = min(candidates, key=lambda p: scores[p.name])
    return best, scores


def mirror_pairs(sets: CategorySets, plane: SymmetryPlane, max_distance: float = 0.04,
                 ) -> list[tuple[int, int]]:
    """Pairs of one annotator's sets whose points are mirror images of each other.

    Sets A and B of an annotator pair up when, over the models holding both, the median
    distance between B's point and A's point reflected across ``plane`` is at most
    ``max_distance`` while A and B themselves are more than ``2 * max_distance`` apart
    (points on the plane are their own mirrors). Each set joins at most one pair (the
    closest).

    Returns:
        (set id A, set id B) with A < B, sorted.
    """
    placed = sets.state == PLACED
    pairs = []
    for annotator in sorted(set(sets.set_annotators)):
        cols = [j for j, a in enumerate(sets.set_annotators) if a == annotator]
        cand = []
        for x, a in enumerate(cols):
            for b in cols[x + 1:]:
                both = placed[:, a] & placed[:, b]
                if not both.any():
                    continue
                pa, pb = sets.xyz[both, a], sets.xyz[both, b]
                mirror = float(np.median(np.linalg.norm(plane.reflect(pa) - pb, axis=1)))
                apart = float(np.median(np.linalg.norm(pa - pb, axis=1)))
                if mirror <= max_distance and apart > 2 * max_distance:
                    cand.append((mirror, a, b))
        used: set[int] = set()
        for _, a, b in sorted(cand):
            if a not in used and b not in used:
                used |= {a, b}
                ids = sorted((int(sets.set_ids[a]), int(sets.set_ids[b])))
                pairs.append((ids[0], ids[1]))
    return sorted(pairs)


def mirror_groups(sets: CategorySets, groups: Sequence[LandmarkGroup], plane: SymmetryPlane,
                  max_distance: float = 0.04) -> dict[int, int]:
    """Landmark groups that are each other's mirror image: group index -> mirror index.

    Group G's mirror is the group H != G whose consensus points lie nearest (median over
    the models holding both) to G's consensus reflected across ``plane``, when that is at
    most ``max_distance`` and G is off the plane (its consensus more than
    ``2 * max_distance`` from its reflection).
    """
    cons = np.stack([consensus_points(sets, g)[0] for g in groups])   # (G, M, 3)
    out = {}
    for g in range(len(groups)):
        refl = plane.reflect(cons[g])
        if not _median(np.linalg.norm(refl - cons[g], axis=1)) > 2 * max_distance:
            continue
        d = np.linalg.norm(cons - refl[None], axis=2)                     # (G, M)
        med = np.array([_median(row) for row in d])
        med[g] = np.inf
        h = int(np.argmin(med))
        if med[h] <= max_distance:
            out[g] = h
    return out


def _median(values: np.ndarray) -> float:
    """Median of the finite values (inf when there are none)."""
    v = values[np.isfinite(values)]
    return float(np.median(v)) if v.size else float("inf")
