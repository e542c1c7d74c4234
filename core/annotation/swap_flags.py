""""Swap" flags: placed points at the mirror image of where they belong.

A left/right swap (front/back for the mug) puts a point where the *mirror* landmark is.
For annotator A's point p of landmark group G on model m (groups:
:mod:`core.annotation.landmark_groups`), with the category's symmetry plane
(:mod:`core.annotation.symmetry`, assumption stated there):

- ``c``: the consensus of G on m without A (component-wise median of the other
  annotators' points); where nobody else placed G there, the leave-one-out suggestion of
  A's set;
- ``r``: the consensus of G's mirror group on m without A, when the category has one,
  else ``c`` reflected across the plane.

p is flagged when it is far from ``c`` and much nearer to ``r``. This catches a swapped
pair of mirror sets (both points flagged) as well as a single point clicked on the
mirror landmark (the demo's injected mistakes), whether or not the annotator has the
mirror set. Distances are 3D, normalized units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.annotation.flags import ReviewFlag, make_flag, ranked
from core.annotation.landmark_groups import LandmarkGroup, consensus_points, group_sets
from core.annotation.suggestions import SuggestionEngine
from core.annotation.symmetry import SymmetryPlane, detect_symmetry_plane, mirror_groups
from core.store import CategorySets
from core.store.records import PLACED

__all__ = ["category_symmetry_plane", "swap_flags"]


def category_symmetry_plane(engine: SuggestionEngine, n_models: int = 6) -> SymmetryPlane:
    """The coordinate plane the category's first ``n_models`` meshes are most symmetric
    about (see :mod:`core.annotation.symmetry` for the assumption)."""
    ids = engine.sets.model_ids.tolist()[:n_models]
    plane, _ = detect_symmetry_plane([engine.surface(m).sample.points for m in ids])
    return plane


def swap_flags(engine: SuggestionEngine, plane: SymmetryPlane | None = None,
               groups: Sequence[LandmarkGroup] | None = None, min_distance: float = 0.05,
               max_ratio: float = 0.5, group_distance: float = 0.04) -> list[ReviewFlag]:
    """Flag placed points that lie at the mirror image of where they belong.

    For annotator A's point p of landmark group G on model m:

    - ``c``: the consensus of G on m without A (component-wise median of the other
      annotators' points); where nobody else placed G there, the leave-one-out
      suggestion of A's set;
    - ``r``: the consensus of G's mirror group on m without A, when the category has
      one (:func:`~core.annotation.symmetry.mirror_groups`), else ``c`` reflected
      across ``plane``.

    p is flagged when ``|p - c| >= min_distance`` and ``|p - r| <= max_ratio * |p - c|``;
    points of landmarks on the plane (``|c - r| < min_distance``) are never flagged.
    Score: ``|p - c|``. Distances are 3D, normalized units.

    Args:
        plane: the symmetry plane (None: :func:`category_symmetry_plane`).
        groups: landmark groups (None: :func:`~core.annotation.landmark_groups.group_sets`
            with ``group_distance``).
    Returns:
        Flags, highest score first.
    """
    sets = engine.sets
    plane = plane or category_symmetry_plane(engine)
    groups = list(groups) if groups is not None else group_sets(sets, group_distance)
    mirrors = mirror_groups(sets, groups, plane, group_distance)
    flags = []
    for g in groups:
        h = mirrors.get(g.index)
        for j, annotator in zip(g.columns, g.annotators, strict=True):
            rows = np.flatnonzero(sets.state[:, j] == PLACED)
            if rows.size == 0:
                continue
            own, n_own = consensus_points(sets, g, exclude_annotator=annotator)
            own = own.copy()
            lonely = rows[n_own[rows] == 0]
            for i in lonely.tolist():  # nobody else placed G here: ask the embedding
                s = engine.suggest(int(sets.model_ids[i]), int(sets.set_ids[j]), heatmap=False)
                if s is not None:
                    own[i] = s.xyz
            if h is not None:
                mirror, n_mirror = consensus_points(sets, groups[h], exclude_annotator=annotator)
                mirror = np.where((n_mirror > 0)[:, None], mirror, plane.reflect(own))
            else:
                mirror = plane.reflect(own)
            partner = _partner(sets, groups[h], annotator) if h is not None else None
            for i in rows.tolist():
                p, c, r = sets.xyz[i, j], own[i], mirror[i]
                if not (np.isfinite(c).all() and np.isfinite(r).all()):
                    continue
                d_own, d_mirror = float(np.linalg.norm(p - c)), float(np.linalg.norm(p - r))
                if np.linalg.norm(c - r) < min_distance or d_own < min_distance or \
                        d_mirror > max_ratio * d_own:
                    continue
                with_set = "" if partner is None else \
                    f" (its mirror set is {annotator}:{int(sets.set_numbers[partner])})"
                flags.append(make_flag(
                    sets, "swap", i, j, d_own,
                    f"{d_own:.3f} from where the others put {g.name} but {d_mirror:.3f} from "
                    f"its mirror image: likely left/right swap{with_set}",
                    None if partner is None else int(sets.set_ids[partner])))
    return ranked(flags)


def _partner(sets: CategorySets, mirror_group: LandmarkGroup, annotator: str) -> int | None:
    """The annotator's own set (column) in the mirror group, if any."""
    for c, a in zip(mirror_group.columns, mirror_group.annotators, strict=True):
        if a == annotator:
            return int(c)
    return None
