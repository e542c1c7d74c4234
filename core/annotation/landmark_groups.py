"""Group correspondence sets of different annotators that mark the same landmark.

Annotators number their sets by their own conventions, so "annotator A's set 3" and
"annotator B's set 11" may be the same semantic landmark. Sets are grouped by where their
points lie on the models both annotators labelled:

1. set distance ``D[i, j]``: the median over the shared models of the 3D distance between
   the two sets' points (normalized units; the median ignores a rare misplaced point);
2. average-linkage agglomerative clustering on ``D``, closest clusters first, with a
   cannot-link rule (one set per annotator in a group) and a stop distance
   (``max_distance``, default 0.04 of the bounding-box diagonal, about three times the
   typical spread of two annotators' clicks on the same landmark).

Merging closest-first matters for landmarks a few clicks apart (the mug's outer and
inner bottom centres are 0.025 apart through the base): each set joins its own
landmark's cluster long before two landmarks' clusters could meet, and clusters that
share an annotator never merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.store import CategorySets
from core.store.records import PLACED

__all__ = ["LandmarkGroup", "consensus_points", "group_sets", "set_distance_matrix"]


@dataclass(frozen=True)
class LandmarkGroup:
    """Sets (of different annotators) that mark one landmark.

    Attributes:
        index: group number, 0.. (groups sorted by size, then by first member).
        columns: column indices into the :class:`CategorySets` arrays.
        set_ids: the sets' database ids.
        labels: ``"<annotator>:<number>"`` of each set.
        annotators: the annotators, one per set.
        name: the members' most common set name, or ``"group <index>"``.
    """

    index: int
    columns: tuple[int, ...]
    set_ids: tuple[int, ...]
    labels: tuple[str, ...]
    annotators: tuple[str, ...]
    name: str

    def __len__(self) -> int:
        return len(self.columns)


def set_distance_matrix(sets: CategorySets) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) median 3D distance between sets over the models holding both (NaN where no
    model holds both) and (S, S) int64 number of such models."""
    placed = sets.state == PLACED                                     # (M, S)
    xyz = np.where(placed[..., None], sets.xyz, np.nan)
    n_sets = placed.shape[1]
    dist = np.full((n_sets, n_sets), np.nan)
    shared = (placed.astype(np.int64).T @ placed.astype(np.int64))
    for i in range(n_sets):
        d = np.linalg.norm(xyz[:, i:i + 1, :] - xyz, axis=2)          # (M, S)
        ok = shared[i] > 0
        if ok.any():
            with np.errstate(all="ignore"):
                dist[i, ok] = np.nanmedian(d[:, ok], axis=0)
    return dist, shared


def group_sets(sets: CategorySets, max_distance: float = 0.04) -> list[LandmarkGroup]:
    """Group the category's sets by landmark (see the module docstring).

    Args:
        max_distance: clusters farther apart than this (average of the members' median
            distances, fraction of the bounding-box diagonal) are not merged.
    Returns:
        Every set in exactly one group (singletons included), largest groups first.
    """
    dist, _ = set_distance_matrix(sets)
    n = dist.shape[0]
    finite = np.isfinite(dist)
    sums = np.where(finite, dist, 0.0)
    counts = finite.astype(np.float64)
    ann = np.array(sets.set_annotators, dtype=object)
    cannot = ann[:, None] == ann[None, :]
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    alive = np.ones(n, dtype=bool)
    while True:
        with np.errstate(invalid="ignore", divide="ignore"):
            link = sums / counts
        link[~(alive[:, None] & alive[None, :]) | cannot | (counts == 0)] = np.inf
        np.fill_diagonal(link, np.inf)
        flat = int(np.argmin(link))
        a, b = divmod(flat, n)
        if not np.isfinite(link[a, b]) or link[a, b] > max_distance:
            break
        # merge b into a: linkage sums and counts add up (average linkage), constraints OR
        sums[a] += sums[b]
        sums[:, a] += sums[:, b]
        counts[a] += counts[b]
        counts[:, a] += counts[:, b]
        cannot[a] |= cannot[b]
        cannot[:, a] |= cannot[:, b]
        alive[b] = False
        members[a] += members.pop(b)
    clusters = sorted((sorted(m) for m in members.values()), key=lambda m: (-len(m), m[0]))
    groups = []
    for k, cols in enumerate(clusters):
        names = [sets.set_names[c] for c in cols if sets.set_names[c]]
        name = max(set(names), key=names.count) if names else f"group {k}"
        groups.append(LandmarkGroup(
            k, tuple(cols), tuple(int(sets.set_ids[c]) for c in cols),
            tuple(f"{sets.set_annotators[c]}:{int(sets.set_numbers[c])}" for c in cols),
            tuple(sets.set_annotators[c] for c in cols), name))
    return groups


def consensus_points(sets: CategorySets, group: LandmarkGroup,
                     exclude_annotator: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per model, the component-wise median of the group's placed points.

    Args:
        exclude_annotator: leave this annotator's sets out (for judging its points).
    Returns:
        (M, 3) float64 positions (NaN where no member is placed) and (M,) int64 number of
        points each median is taken over.
    """
    cols = [c for c, a in zip(group.columns, group.annotators, strict=True)
            if a != exclude_annotator]
    if not cols:
        m = len(sets.model_ids)
        return np.full((m, 3), np.nan), np.zeros(m, dtype=np.int64)
    placed = sets.state[:, cols] == PLACED
    xyz = np.where(placed[..., None], sets.xyz[:, cols], np.nan)
    count = placed.sum(axis=1).astype(np.int64)
    out = np.full((len(sets.model_ids), 3), np.nan)
    ok = count > 0
    out[ok] = np.nanmedian(xyz[ok], axis=1)
    return out, count
