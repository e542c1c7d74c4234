"""Synthetic annotators: own numbering, skipped points, click noise and left/right swaps.

Each annotator of a category:

- picks a subset of the category's landmarks (8..min(16, n_landmarks) of them) and
  numbers it by its own convention: a random injective map into 0..15;
- on each model, places every chosen landmark the model has, skipping about 5% at
  random;
- clicks near the landmark: the landmark is displaced in the tangent plane of its face by
  a Gaussian offset of 0.5-1% of the bounding-box diagonal (capped at 1.45%), then
  snapped back to the surface, so every placed point is within 2.9% of the diagonal of
  the landmark it was meant for;
- some annotators (at least two per category, when the category has mirrored landmarks)
  make left/right mistakes: on 1-2% of their points whose landmark has a mirror (at least
  one, never more than 2% of all their points) they click the mirror landmark instead.

All randomness comes from the generator passed in, so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.demo.types import DemoAnnotator, DemoKeypoint, DemoModel, LandmarkSpec, SurfacePoint
from core.geometry.surface import closest_points, face_normals

__all__ = ["MAX_MISTAKE_RATE", "MAX_NOISE", "make_annotators"]

MAX_NUMBERS = 16
MAX_NOISE = 0.0145  # largest tangential offset, fraction of the diagonal
MAX_MISTAKE_RATE = 0.02


@dataclass
class _Plan:
    name: str
    convention: dict[int, str]
    sigma: float
    skip: float
    mistakes: bool
    placements: list[tuple[int, int, str, str]]  # (model index, number, landmark, placed)


def _pick_subset(
    rng: np.random.Generator, specs: tuple[LandmarkSpec, ...], need_mirrors: bool
) -> list[str]:
    names = [s.name for s in specs]
    size = int(rng.integers(8, min(MAX_NUMBERS, len(names)) + 1))
    chosen = [names[i] for i in sorted(rng.choice(len(names), size=size, replace=False))]
    if need_mirrors:
        mirrored = [s.name for s in specs if s.mirror is not None and s.part is None]
        if mirrored and not any(n in mirrored for n in chosen):
            # Swap one pick for a mirrored landmark so swap mistakes are possible.
            chosen[int(rng.integers(len(chosen)))] = mirrored[int(rng.integers(len(mirrored)))]
    return chosen


def _plan(
    rng: np.random.Generator,
    name: str,
    specs: tuple[LandmarkSpec, ...],
    models: tuple[DemoModel, ...],
    mistakes: bool,
) -> _Plan:
    chosen = _pick_subset(rng, specs, mistakes)
    numbers = rng.choice(MAX_NUMBERS, size=len(chosen), replace=False)
    convention = {int(n): lm for n, lm in sorted(zip(numbers, chosen, strict=True))}
    sigma = float(rng.uniform(0.005, 0.01))
    skip = float(rng.uniform(0.03, 0.07))
    placements = []
    for mi, model in enumerate(models):
        for number, landmark in convention.items():
            if landmark in model.landmarks and rng.random() >= skip:
                placements.append((mi, number, landmark, landmark))
    plan = _Plan(name, convention, sigma, skip, mistakes, placements)
    if mistakes:
        _add_mistakes(rng, plan, specs, models)
    return plan


def _add_mistakes(
    rng: np.random.Generator,
    plan: _Plan,
    specs: tuple[LandmarkSpec, ...],
    models: tuple[DemoModel, ...],
) -> None:
    mirror = {s.name: s.mirror for s in specs if s.mirror is not None}
    eligible = [
        k
        for k, (mi, _, lm, _) in enumerate(plan.placements)
        if lm in mirror and mirror[lm] in models[mi].landmarks
    ]
    cap = int(np.floor(MAX_MISTAKE_RATE * len(plan.placements)))
    wanted = int(np.floor(rng.uniform(0.01, 0.02) * len(eligible)))
    count = min(cap, len(eligible), max(1, wanted))
    for k in sorted(rng.choice(len(eligible), size=count, replace=False)) if count else []:
        mi, number, lm, _ = plan.placements[eligible[k]]
        plan.placements[eligible[k]] = (mi, number, lm, mirror[lm])


def _tangent_offsets(rng: np.random.Generator, normals: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian offsets (N, 3) in the planes with the given unit normals (N, 3)."""
    raw = rng.normal(size=normals.shape)
    raw -= np.einsum("ij,ij->i", raw, normals)[:, None] * normals
    step = rng.normal(size=(normals.shape[0], 2)) * sigma / np.sqrt(2.0)
    length = np.minimum(np.linalg.norm(step, axis=1), MAX_NOISE)
    norm = np.linalg.norm(raw, axis=1)
    unit = raw / np.where(norm > 0, norm, 1.0)[:, None]
    return unit * length[:, None]


def make_annotators(
    rng: np.random.Generator,
    specs: tuple[LandmarkSpec, ...],
    models: tuple[DemoModel, ...],
    n_annotators: int = 8,
    n_mistaken: int = 2,
) -> tuple[DemoAnnotator, ...]:
    """Simulate annotators of one category.

    Args:
        rng: the category's annotation generator.
        specs: the category's landmarks.
        models: the generated models (normalized, landmarks snapped).
        n_annotators: how many (named ``annotator_00`` ...).
        n_mistaken: how many of them make left/right mistakes.

    Returns:
        The annotators, each with keypoints sorted by (model_id, number).
    """
    mistaken = set(rng.choice(n_annotators, size=min(n_mistaken, n_annotators), replace=False))
    plans = [
        _plan(rng, f"annotator_{k:02d}", specs, models, k in mistaken) for k in range(n_annotators)
    ]
    # Noise and snapping, one batched closest-point query per model.
    points: dict[tuple[int, int], SurfacePoint] = {}
    for mi, model in enumerate(models):
        jobs = [
            (pi, k)
            for pi, plan in enumerate(plans)
            for k, pl in enumerate(plan.placements)
            if pl[0] == mi
        ]
        if not jobs:
            continue
        targets = [model.landmarks[plans[pi].placements[k][3]] for pi, k in jobs]
        centre = np.array([t.xyz for t in targets])
        normals = face_normals(model.vertices, model.faces[[t.face for t in targets]])
        offsets = np.concatenate(
            [
                _tangent_offsets(rng, normals[i : i + 1], plans[pi].sigma)
                for i, (pi, _) in enumerate(jobs)
            ]
        )
        snapped = closest_points(model.vertices, model.faces, centre + offsets)
        for (pi, k), sp in zip(jobs, snapped.to_surface_points(), strict=True):
            points[(pi, k)] = sp
    annotators = []
    for pi, plan in enumerate(plans):
        keypoints = [
            DemoKeypoint(models[mi].model_id, number, points[(pi, k)], lm, placed)
            for k, (mi, number, lm, placed) in enumerate(plan.placements)
        ]
        keypoints.sort(key=lambda kp: (kp.model_id, kp.number))
        annotators.append(DemoAnnotator(plan.name, plan.convention, tuple(keypoints)))
    return tuple(annotators)
