"""Scoring suggestions and review flags against a demo category's ground truth.

- :func:`suggestion_errors`: after labelling a few models, suggest every point the
  annotators placed on other models and measure the geodesic distance from each
  suggestion to the ground-truth landmark the set stands for;
  :func:`random_point_errors` does the same for uniformly random surface points (the
  baseline to beat).
- :func:`flag_recall_precision`: how many injected swaps the top-N flags catch.

Distances are fractions of the model's bounding-box diagonal (normalized units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.annotation.demo_truth import DemoTruth
from core.annotation.suggestions import SuggestionEngine
from core.annotation.surface_distances import SurfacePoints, paired_geodesics
from core.store.records import PLACED

__all__ = ["FlagScore", "SuggestionErrors", "flag_recall_precision", "random_point_errors",
           "suggestion_errors"]


@dataclass(frozen=True)
class SuggestionErrors:
    """Geodesic errors of suggested (or baseline) points.

    Attributes:
        errors: (P,) float64 distance of each point to its ground-truth landmark,
            fraction of the bounding-box diagonal.
        seconds_per_suggestion: mean wall time per suggestion (NaN for baselines).
    """

    errors: np.ndarray
    seconds_per_suggestion: float = float("nan")

    @property
    def mean(self) -> float:
        return float(np.mean(self.errors)) if self.errors.size else float("nan")

    @property
    def n(self) -> int:
        return int(self.errors.size)


@dataclass(frozen=True)
class FlagScore:
    """Recall and precision of the top-N flags against the injected swaps."""

    n_top: int
    n_injected: int
    n_found: int
    precision: float
    recall: float


def _targets(engine: SuggestionEngine, truth: DemoTruth, model_ids: Sequence[int],
             annotators: Sequence[str] | None):
    """Per target model: the placed sets of the chosen annotators with a known landmark,
    and the ground-truth points (faces, bary, xyz) they stand for."""
    sets = engine.sets
    row = {int(m): i for i, m in enumerate(sets.model_ids)}
    for mid in model_ids:
        i = row[int(mid)]
        name = sets.model_names[i]
        cols, truth_pts = [], []
        for j in np.flatnonzero(sets.state[i] == PLACED):
            ann = sets.set_annotators[j]
            if annotators is not None and ann not in annotators:
                continue
            lm = truth.landmark_of(ann, int(sets.set_numbers[j]))
            if lm is None or lm not in truth.landmarks[name]:
                continue
            cols.append(int(j))
            truth_pts.append(truth.landmarks[name][lm])
        if cols:
            gt = SurfacePoints.of([p[0] for p in truth_pts], [p[1] for p in truth_pts],
                                  [p[2] for p in truth_pts])
            yield int(mid), cols, gt


def suggestion_errors(engine: SuggestionEngine, truth: DemoTruth, labelled: Sequence[int],
                      targets: Sequence[int], annotators: Sequence[str] | None = None,
                      geodesic_mode: str = "mesh_heat") -> SuggestionErrors:
    """Suggest, on each target model, every point the annotators placed there, from
    their points on the ``labelled`` models only; geodesic error to the ground truth.

    Args:
        labelled: model ids whose placed points form the queries.
        targets: model ids to suggest on (should not overlap ``labelled``).
        annotators: whose sets (None: everyone's).
    """
    import time

    errors, elapsed, count = [], 0.0, 0
    engine.prepare(list(labelled) + list(targets))
    for mid, cols, gt in _targets(engine, truth, targets, annotators):
        set_ids = [int(engine.sets.set_ids[j]) for j in cols]
        t0 = time.perf_counter()
        found = engine.suggest_model(mid, set_ids, sources=labelled)
        elapsed += time.perf_counter() - t0
        count += len(found)
        keep = [k for k, sid in enumerate(set_ids) if sid in found]
        if not keep:
            continue
        sug = SurfacePoints.of([found[set_ids[k]].face for k in keep],
                               [found[set_ids[k]].bary for k in keep],
                               [found[set_ids[k]].xyz for k in keep])
        sub = SurfacePoints(gt.faces[keep], gt.bary[keep], gt.xyz[keep])
        surf = engine.surface(mid)
        errors.append(paired_geodesics(surf, sub, sug, geodesic_mode) / surf.diagonal)
    errs = np.concatenate(errors) if errors else np.zeros(0)
    return SuggestionErrors(errs, elapsed / count if count else float("nan"))


def random_point_errors(engine: SuggestionEngine, truth: DemoTruth, targets: Sequence[int],
                        annotators: Sequence[str] | None = None, seed: int = 0,
                        geodesic_mode: str = "mesh_heat") -> SuggestionErrors:
    """The baseline: a uniformly random surface point (by area) for each point."""
    from core.geometry.sampling import sample_surface

    errors = []
    for mid, cols, gt in _targets(engine, truth, targets, annotators):
        surf = engine.surface(mid)
        rnd = sample_surface(surf.vertices, surf.faces, len(cols),
                             seed=int(np.random.SeedSequence([seed, mid]).generate_state(1)[0]))
        pts = SurfacePoints(rnd.faces, rnd.bary, rnd.points)
        errors.append(paired_geodesics(surf, gt, pts, geodesic_mode) / surf.diagonal)
    return SuggestionErrors(np.concatenate(errors) if errors else np.zeros(0))


def flag_recall_precision(flags: Sequence, truth: DemoTruth, n_top: int) -> FlagScore:
    """Of the first ``n_top`` flags (ranked best first; objects with ``model_name``,
    ``annotator``, ``number``), how many are injected swaps (precision) and how many
    injected swaps they catch (recall)."""
    keys = truth.swap_keys()
    top = list(flags)[:n_top]
    hits = {(f.model_name, f.annotator, int(f.number)) for f in top} & keys
    n_hit_flags = sum((f.model_name, f.annotator, int(f.number)) in keys for f in top)
    return FlagScore(n_top, len(keys), len(hits),
                     n_hit_flags / len(top) if top else float("nan"),
                     len(hits) / len(keys) if keys else float("nan"))
