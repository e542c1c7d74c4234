"""Transfer API: best match and per-vertex similarity."""

from __future__ import annotations

import numpy as np
import pytest

from core.embedding.transfer import query_embedding, similarity_from_distance, transfer_point


def test_best_match_is_the_nearest_embedding_and_scores_one():
    rng = np.random.default_rng(0)
    points_b = rng.normal(size=(200, 3))
    emb_b = rng.normal(size=(200, 8)).astype(np.float32)
    query = emb_b[37] + 0.001
    faces = np.arange(200)
    bary = np.tile([0.2, 0.3, 0.5], (200, 1))
    vertices = points_b[[37, 5, 6]] + 1e-6
    r = transfer_point(query, emb_b, points_b, faces, bary, vertices)
    assert r.sample_index == 37 and r.face == 37
    np.testing.assert_allclose(r.xyz, points_b[37])
    assert r.sample_similarity[37] == pytest.approx(1.0)
    assert r.sample_similarity.min() >= 0 and r.sample_similarity.max() <= 1
    assert r.vertex_similarity.tolist()[0] == pytest.approx(1.0)
    assert r.vertex_similarity[1] == r.sample_similarity[5]


def test_similarity_falls_with_distance():
    s = similarity_from_distance(np.array([0.5, 0.6, 1.0, 3.0, 0.5]))
    assert s[0] == s[4] == 1.0 and s[1] > s[2] > s[3]


def test_query_embedding_takes_the_nearest_sample():
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    emb = np.eye(3)
    assert query_embedding(emb, pts, np.array([0.9, 0.1, 0])).tolist() == [0, 1, 0]


def test_dimension_mismatch_is_refused():
    with pytest.raises(ValueError, match="dimensions"):
        transfer_point(np.zeros(4), np.zeros((5, 3)), np.zeros((5, 3)))
