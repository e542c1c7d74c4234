"""From a project's category to training data: sampled points with the annotated
keypoints inserted, per-model geodesics from every keypoint, and the set distances.

Models without any placed keypoint are skipped with a warning (they teach nothing);
sets held by a single model are kept for training but cannot enter mGE.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.embedding.types import CategoryData, ShapeSample
from core.store import ProjectStore
from core.store.records import PLACED

GEODESIC_MODES = ("auto", "mesh_heat", "cloud_heat", "knn")


class EmbeddingDataError(ValueError):
    """The category cannot be turned into training data (message names what is wrong)."""


def load_category_data(store: ProjectStore, category: str, n_points: int = 2048,
                       seed: int = 0, geodesic_mode: str = "auto",
                       cache_dir: Path | None = None,
                       progress: Callable[[int, int, str], None] | None = None,
                       ) -> CategoryData:
    """Sample every annotated model of ``category`` and compute its geodesics.

    Args:
        n_points: samples per model (keypoints included).
        seed: sampling seed (model i uses ``[seed, i]``).
        geodesic_mode: "auto" (mesh heat method on single-component watertight meshes,
            point-cloud heat method otherwise), "mesh_heat", "cloud_heat" or "knn".
        cache_dir: geodesic cache folder (None: the user cache folder).
        progress: called as ``progress(done, total, model_name)``.
    Raises:
        EmbeddingDataError: empty category, no annotated model, unknown mode.
        core.geometry.mesh.MeshError: a model's mesh is missing or broken (names the file).
    """
    from core.embedding.metrics import set_distance_matrix
    from core.geometry.geodesics import default_cache_dir, geodesics_from_sources
    from core.geometry.mesh import MeshError, apply_transform, load_mesh, validate_mesh
    from core.geometry.sampling import insert_keypoints, sample_surface

    if geodesic_mode not in GEODESIC_MODES:
        raise EmbeddingDataError(f"Unknown geodesic mode {geodesic_mode!r}; choose one of "
                                 f"{', '.join(GEODESIC_MODES)}")
    try:
        sets = store.category_sets(category)
    except KeyError as exc:
        raise EmbeddingDataError(str(exc)) from exc
    if len(sets.model_names) == 0:
        raise EmbeddingDataError(f"Category {category!r} has no models")
    if len(sets.set_ids) == 0:
        raise EmbeddingDataError(f"Category {category!r} has no correspondence sets")
    infos = {m.name: m for m in store.models(category)}
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    samples, modes = [], set()
    total = len(sets.model_names)
    for i, name in enumerate(sets.model_names):
        if progress is not None:
            progress(i, total, name)
        placed = np.flatnonzero(sets.state[i] == PLACED)
        if placed.size == 0:
            warnings.warn(f"Skipping model {category}/{name}: it has no placed keypoints",
                          stacklevel=2)
            continue
        info = infos[name]
        if info.mesh_file is None:
            raise MeshError(f"Model {category}/{name} has no mesh file linked")
        mesh = load_mesh(info.mesh_file)
        vertices = mesh.vertices
        if info.transform is not None:
            vertices = apply_transform(np.asarray(info.transform), vertices)
        mode = geodesic_mode
        if mode == "auto":
            report = validate_mesh(vertices, mesh.faces, str(info.mesh_file))
            mode = "mesh_heat" if report.n_components == 1 and report.watertight \
                else "cloud_heat"
        modes.add(mode)
        sample = sample_surface(vertices, mesh.faces, n_points,
                                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
        faces = sets.faces[i, placed]
        sample, index = insert_keypoints(sample, sets.xyz[i, placed],
                                         np.where(faces >= 0, faces, -1), sets.bary[i, placed])
        keypoints = np.full(len(sets.set_ids), -1, dtype=np.int64)
        keypoints[placed] = index
        geo = np.full((len(sets.set_ids), n_points), np.nan, dtype=np.float32)
        geo[placed] = geodesics_from_sources(vertices, mesh.faces, sample, index, mode=mode,
                                             cache_dir=cache_dir)
        samples.append(ShapeSample(name, sample.points.astype(np.float32), keypoints, geo))
    if not samples:
        raise EmbeddingDataError(f"Category {category!r} has no model with placed keypoints")
    if progress is not None:
        progress(total, total, "")
    distances = set_distance_matrix(np.stack([s.keypoints for s in samples]),
                                    [s.geodesics for s in samples])
    if distances.n_unreachable.any():
        warnings.warn(f"{int(distances.n_unreachable.sum())} set pairs of {category!r} lie on "
                      "disconnected parts of some model: those models are left out of their "
                      "set distance", stacklevel=2)
    matrix = distances.mean
    labels = tuple(f"{a}:{n}" for a, n in zip(sets.set_annotators, sets.set_numbers.tolist(),
                                              strict=True))
    return CategoryData(category, labels, tuple(samples),
                        np.asarray(matrix, dtype=np.float32), "+".join(sorted(modes)))


def data_hash(data: CategoryData) -> str:
    """sha256 of everything training reads (points, keypoints, set distances, labels)."""
    h = hashlib.sha256()
    h.update(data.category.encode())
    h.update("\n".join(data.set_labels).encode())
    for s in data.samples:
        h.update(s.name.encode())
        h.update(np.ascontiguousarray(s.points).tobytes())
        h.update(np.ascontiguousarray(s.keypoints).tobytes())
    h.update(np.nan_to_num(data.set_distance, nan=-1.0).tobytes())
    return h.hexdigest()


def split_models(n_models: int, seed: int = 0,
                 fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded split of model indices into train/validation/test (by model).

    Validation and test get at least 2 models each when there are at least 6 models
    (mGE needs two models holding a set).
    """
    if n_models < 3:
        raise EmbeddingDataError(f"{n_models} annotated model(s): at least 3 are needed "
                                 "for a train/validation/test split (6 for a useful mGE)")
    order = np.random.default_rng(seed).permutation(n_models)
    n_val = max(round(fractions[1] * n_models), 2 if n_models >= 6 else 1)
    n_test = max(round(fractions[2] * n_models), 2 if n_models >= 6 else 1)
    n_train = n_models - n_val - n_test
    return (np.sort(order[:n_train]), np.sort(order[n_train:n_train + n_val]),
            np.sort(order[n_train + n_val:]))
