"""Inter-annotator agreement per landmark: how far apart annotators click.

Sets are grouped by landmark across annotators (:func:`core.annotation.landmark_groups.
group_sets`); on every model where two or more members of a group are placed, the
geodesic distance between each pair of their points is measured on the model's mesh
(with the near-field correction of :mod:`core.annotation.surface_distances`).
A row of the table is one group: its members, on how many models they meet, and the
mean (and largest) pairwise geodesic distance, a fraction of the bounding-box diagonal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.annotation.landmark_groups import LandmarkGroup, group_sets
from core.annotation.model_surface import load_model_surface
from core.annotation.surface_distances import (
    SurfacePoints,
    corrected_pairs,
    geodesic_distances,
)
from core.store import ProjectStore
from core.store.records import PLACED

__all__ = ["AgreementRow", "agreement_table"]


@dataclass(frozen=True)
class AgreementRow:
    """Agreement on one landmark group.

    Attributes:
        group: the group's index.
        name: the group's name (common set name, or ``"group <index>"``).
        labels: member sets as ``"<annotator>:<number>"``.
        annotators: member annotators.
        n_models: models holding at least two of the members.
        n_pairs: point pairs measured (over those models; pairs on unconnected parts of
            a mesh are left out).
        mean_spread: mean pairwise geodesic distance, fraction of the diagonal (NaN
            when no pair).
        max_spread: the largest one (NaN when no pair).
    """

    group: int
    name: str
    labels: tuple[str, ...]
    annotators: tuple[str, ...]
    n_models: int
    n_pairs: int
    mean_spread: float
    max_spread: float


def agreement_table(store: ProjectStore, category: str,
                    groups: Sequence[LandmarkGroup] | None = None,
                    model_ids: Iterable[int] | None = None, geodesic_mode: str = "mesh_heat",
                    cache_dir: Path | None = None, group_distance: float = 0.04,
                    ) -> list[AgreementRow]:
    """One row per landmark group (largest groups first).

    Args:
        groups: landmark groups (None: :func:`group_sets` with ``group_distance``).
        model_ids: models to measure on (default: all of the category).
        geodesic_mode: see :func:`core.annotation.surface_distances.geodesic_distances`.
    """
    sets = store.category_sets(category)
    groups = list(groups) if groups is not None else group_sets(sets, group_distance)
    infos = {m.id: m for m in store.models(category)}
    ids = sets.model_ids.tolist() if model_ids is None else [int(m) for m in model_ids]
    row = {int(m): i for i, m in enumerate(sets.model_ids)}
    group_of = np.full(len(sets.set_ids), -1, dtype=np.int64)
    for g in groups:
        group_of[list(g.columns)] = g.index
    size = {g.index: len(g) for g in groups}
    sums = np.zeros(len(groups))
    maxs = np.full(len(groups), np.nan)
    pairs = np.zeros(len(groups), dtype=np.int64)
    models = np.zeros(len(groups), dtype=np.int64)
    index_of = {g.index: k for k, g in enumerate(groups)}
    for mid in ids:
        i = row[mid]
        cols = [int(j) for j in np.flatnonzero(sets.state[i] == PLACED)
                if group_of[j] >= 0 and size[int(group_of[j])] > 1]
        gids = group_of[cols]
        shared = [g for g in np.unique(gids) if (gids == g).sum() > 1]
        cols = [c for c, g in zip(cols, gids, strict=True) if g in shared]
        if not cols:
            continue
        surf = load_model_surface(store, infos[mid], n_points=512)
        pts = SurfacePoints.of(sets.faces[i, cols], sets.bary[i, cols], sets.xyz[i, cols])
        dist = geodesic_distances(surf, pts, mode=geodesic_mode, cache_dir=cache_dir)
        dist = 0.5 * (dist + dist.T)
        gids = group_of[cols]
        pair_a, pair_b, pair_g = [], [], []
        for g in shared:
            sel = np.flatnonzero(gids == g)
            ia, ib = np.triu_indices(sel.size, 1)
            pair_a.append(sel[ia])
            pair_b.append(sel[ib])
            pair_g.append(np.full(ia.size, index_of[int(g)]))
        a, b, pg = np.concatenate(pair_a), np.concatenate(pair_b), np.concatenate(pair_g)
        d = corrected_pairs(surf, pts.xyz[a], pts.xyz[b], dist[a, b]) / surf.diagonal
        ok = np.isfinite(d)  # points on unconnected parts of a mesh: not measured
        np.add.at(sums, pg[ok], d[ok])
        np.add.at(pairs, pg[ok], 1)
        np.fmax.at(maxs, pg[ok], d[ok])
        np.add.at(models, np.unique(pg[ok]), 1)
    return [AgreementRow(g.index, g.name, g.labels, g.annotators, int(models[k]),
                         int(pairs[k]), float(sums[k] / pairs[k]) if pairs[k] else float("nan"),
                         float(maxs[k])) for k, g in enumerate(groups)]
