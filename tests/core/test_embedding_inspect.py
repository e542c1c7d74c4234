"""PCA colours of embeddings and point-to-models similarity maps (core.embedding.inspect)."""

from __future__ import annotations

import numpy as np
import pytest

from core.annotation.embedders import XyzEmbedder
from core.annotation.model_surface import load_model_surface
from core.embedding.inspect import pca_rgb, similarity_maps
from core.store import ProjectStore


def _clusters(rng, n_per=60, d=16, k=4):
    """``k`` well separated clusters in d dimensions; labels (N,)."""
    centres = rng.normal(size=(k, d)) * 5.0
    x = np.concatenate([c + 0.1 * rng.normal(size=(n_per, d)) for c in centres])
    return x, np.repeat(np.arange(k), n_per)


def test_pca_colours_separate_clusters_and_stay_in_range():
    x, labels = _clusters(np.random.default_rng(0))
    colors = pca_rgb(x)
    assert colors.rgb.shape == (x.shape[0], 3)
    assert colors.rgb.min() >= 0.0 and colors.rgb.max() <= 1.0
    means = np.stack([colors.rgb[labels == k].mean(axis=0) for k in range(4)])
    spread = max(colors.rgb[labels == k].std(axis=0).max() for k in range(4))
    gaps = [np.linalg.norm(means[i] - means[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(gaps) > 5 * spread  # each cluster its own colour
    assert colors.explained.sum() > 0.99  # 4 clusters span 3 directions


def test_pca_colours_keep_their_signs_across_epochs():
    """The next epoch's embedding (slightly changed, and negated: SVD may flip any
    component) keeps the colours when the previous basis is given."""
    rng = np.random.default_rng(1)
    x, _ = _clusters(rng)
    first = pca_rgb(x)
    later = -x + 0.01 * rng.normal(size=x.shape)
    free = pca_rgb(later)
    aligned = pca_rgb(later, previous=-first.basis)
    assert np.abs(aligned.rgb - first.rgb).max() < 0.05
    # without the previous basis the same data may come out in other colours, with it not:
    assert np.all(np.sign(np.sum(aligned.basis * -first.basis, axis=1)) > 0)
    assert free.rgb.shape == first.rgb.shape


def test_pca_colours_reject_bad_embeddings():
    with pytest.raises(ValueError, match="NaN"):
        pca_rgb(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        pca_rgb(np.zeros(5))
    low = pca_rgb(np.array([[0.0], [1.0], [2.0]]))  # one dimension: G and B stay grey
    assert np.allclose(low.rgb[:, 1:], 0.5) and low.rgb[0, 0] < low.rgb[2, 0]


def test_similarity_map_finds_the_same_landmark_on_other_models(demo_project):
    """With the positions embedding on the aligned demo mugs, a handle point picked on one
    mug is best matched near the same annotated set's point on the others, and the
    similarity peaks there."""
    store = ProjectStore.open(demo_project)
    try:
        infos = store.models("mug")[:4]
        surfaces = [load_model_surface(store, i, n_points=1024) for i in infos]
        sets = store.category_sets("mug")
        rows = [sets.model_names.index(i.name) for i in infos]
        placed = np.all([sets.state[r] == 1 for r in rows], axis=0)
        col = int(np.flatnonzero(placed)[0])
        xyz = sets.xyz[rows[0], col]
        maps = similarity_maps(XyzEmbedder(), surfaces[0], xyz, surfaces[1:])
        assert [m.name for m in maps] == [i.name for i in infos[1:]]
        for m, surface, r in zip(maps, surfaces[1:], rows[1:], strict=True):
            truth = sets.xyz[r, col]
            assert np.linalg.norm(m.best_xyz - truth) < 0.2 * surface.diagonal
            assert m.vertex_similarity.shape == (surface.vertices.shape[0],)
            top = surface.vertices[np.argmax(m.vertex_similarity)]
            far = np.linalg.norm(surface.vertices - truth, axis=1) > 0.5 * surface.diagonal
            assert np.linalg.norm(top - truth) < 0.2 * surface.diagonal
            assert m.vertex_similarity[far].max() < 0.5
    finally:
        store.close()
