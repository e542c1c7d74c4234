""""Far" flags: placed points far, in geodesic distance, from where they should be.

For each placed point, :func:`far_scores` measures on the point's model (geodesic,
near-field corrected, fraction of the bounding-box diagonal):

- ``suggestion``: the distance to the suggestion for its set made from the *other* models
  (the engine never uses the target model as a source: the point is left out of its own
  query);
- ``consensus``: the distance to the other annotators' consensus point of the same
  landmark on this model (their component-wise median, snapped onto the surface; inf
  where nobody else placed it).

:func:`far_from_suggestion_flags` scores a point by the suggestion distance alone
(``consensus=False``), or by the smaller of the two (the default): a point the other
annotators agree with is not a likely mistake whatever the suggestion says, which
discounts models where the embedding (or the xyz fallback) is off for everyone. On the
demo categories that lifts the precision of the top flags on the injected swaps from
0.12 to 1.0 (tests/core/test_review.py, benchmarks/suggestions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.annotation.flags import ReviewFlag, make_flag, ranked
from core.annotation.landmark_groups import LandmarkGroup, consensus_points, group_sets
from core.annotation.suggestions import SuggestionEngine
from core.annotation.surface_distances import (
    SurfacePoints,
    corrected_pairs,
    geodesic_distances,
)
from core.store import CategorySets
from core.store.records import PLACED

__all__ = ["FarScore", "far_flags_from_scores", "far_from_suggestion_flags", "far_scores"]


@dataclass(frozen=True)
class FarScore:
    """Distances of one placed point (fractions of the bounding-box diagonal).

    Attributes:
        row, column: the point's model row and set column in the engine's
            :class:`CategorySets`.
        suggestion: geodesic distance to the leave-one-out suggestion.
        consensus: geodesic distance to the other annotators' consensus point (inf where
            there is none).
        n_sources: models the suggestion's query was averaged over.
    """

    row: int
    column: int
    suggestion: float
    consensus: float
    n_sources: int


def far_scores(engine: SuggestionEngine, model_ids: Iterable[int] | None = None,
               min_sources: int = 2, groups: Sequence[LandmarkGroup] | None = None,
               geodesic_mode: str = "mesh_heat",
               cache_dir: Path | None = None) -> list[FarScore]:
    """Both distances of every placed point (see the module docstring).

    Args:
        engine: suggestions for the category (its current placed points are judged).
        model_ids: models to check (default: all).
        min_sources: skip sets held by fewer other models (no reliable suggestion).
        groups: landmark groups for the consensus (None: :func:`group_sets`).
        geodesic_mode: see :func:`core.annotation.surface_distances.geodesic_distances`.
    """
    sets = engine.sets
    ids = sets.model_ids.tolist() if model_ids is None else [int(m) for m in model_ids]
    row = {int(m): i for i, m in enumerate(sets.model_ids)}
    others = _consensus_by_set(sets, groups)
    out = []
    for mid in ids:
        i = row[mid]
        cols = np.flatnonzero(sets.state[i] == PLACED)
        found = engine.suggest_model(mid, [int(sets.set_ids[j]) for j in cols])
        cols = [int(j) for j in cols if int(sets.set_ids[j]) in found
                and found[int(sets.set_ids[j])].n_sources >= min_sources]
        if not cols:
            continue
        surf = engine.surface(mid)
        sugs = [found[int(sets.set_ids[j])] for j in cols]
        placed = SurfacePoints.of(sets.faces[i, cols], sets.bary[i, cols], sets.xyz[i, cols])
        suggested = SurfacePoints.of([s.face for s in sugs], [s.bary for s in sugs],
                                     [s.xyz for s in sugs])
        cons = np.stack([others[j][i] if j in others else np.full(3, np.nan) for j in cols])
        has = np.flatnonzero(np.isfinite(cons).all(axis=1))
        snapped = surf.snap(cons[has])
        targets = SurfacePoints.concat(suggested, SurfacePoints(snapped.face, snapped.bary,
                                                                snapped.xyz))
        geo = geodesic_distances(surf, placed, targets, geodesic_mode, cache_dir)
        n = len(cols)
        d_sug = corrected_pairs(surf, placed.xyz, suggested.xyz,
                                geo[np.arange(n), n + np.arange(n)])
        d_cons = np.full(n, np.inf)
        d_cons[has] = corrected_pairs(surf, placed.xyz[has], snapped.xyz,
                                      geo[has, 2 * n + np.arange(has.size)])
        out += [FarScore(i, j, float(a / surf.diagonal), float(b / surf.diagonal), s.n_sources)
                for j, a, b, s in zip(cols, d_sug, d_cons, sugs, strict=True)]
    return out


def far_flags_from_scores(sets: CategorySets, scores: Iterable[FarScore],
                          min_distance: float = 0.05,
                          consensus: bool = True) -> list[ReviewFlag]:
    """Flags of the points scoring at least ``min_distance`` (highest score first)."""
    flags = []
    for s in scores:
        score = min(s.suggestion, s.consensus) if consensus else s.suggestion
        if score < min_distance:
            continue
        note = f" and {s.consensus:.3f} from the other annotators' point" \
            if np.isfinite(s.consensus) else ""
        flags.append(make_flag(sets, "far", s.row, s.column, score,
                               f"{s.suggestion:.3f} of the diagonal (geodesic) from the "
                               f"suggestion learned from {s.n_sources} other models{note}"))
    return ranked(flags)


def far_from_suggestion_flags(engine: SuggestionEngine, model_ids: Iterable[int] | None = None,
                              min_distance: float = 0.05, min_sources: int = 2,
                              consensus: bool = True,
                              groups: Sequence[LandmarkGroup] | None = None,
                              geodesic_mode: str = "mesh_heat",
                              cache_dir: Path | None = None) -> list[ReviewFlag]:
    """Flag placed points far from their leave-one-out suggestion (and, with
    ``consensus``, from the other annotators' point); see the module docstring.

    Returns:
        Flags, highest score first.
    """
    scores = far_scores(engine, model_ids, min_sources, groups, geodesic_mode, cache_dir)
    return far_flags_from_scores(engine.sets, scores, min_distance, consensus)


def _consensus_by_set(sets: CategorySets,
                      groups: Sequence[LandmarkGroup] | None) -> dict[int, np.ndarray]:
    """Column -> (M, 3) consensus of the column's landmark group without its annotator
    (NaN rows where no other annotator placed it)."""
    groups = groups if groups is not None else group_sets(sets)
    out = {}
    for g in groups:
        for j, annotator in zip(g.columns, g.annotators, strict=True):
            out[int(j)] = consensus_points(sets, g, exclude_annotator=annotator)[0]
    return out
