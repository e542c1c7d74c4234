"""Set distances (paper Eq. 2) and mean Geodesic Error (paper Algorithm 1): hand-made
toys with hand-computed answers, exact embeddings give 0, and the vectorized mGE equals
the per-pair reference loop on random inputs (absent sets, single-model sets, ties,
infinite geodesics)."""

from __future__ import annotations

import numpy as np
import pytest

from core.embedding.metrics import (
    MGEResult,
    mean_geodesic_error,
    mean_geodesic_error_reference,
    random_embeddings,
    set_distance_matrix,
    xyz_embeddings,
)
from core.embedding.types import ShapeSample

INF, NAN = np.inf, np.nan

# --- set distances ---------------------------------------------------------------------

# Three models, six sets. Model 0: 4 samples; model 1: 4 samples; model 2: 3 samples,
# its sample 2 on another component than samples 0 and 1. Set 4 is held by no model,
# set 5 only by model 1.
_D0 = np.array([[0, 1, 2, 3], [1, 0, 1.5, 2], [2, 1.5, 0, 1], [3, 2, 1, 0]], dtype=float)
_D1 = np.array([[0, 4, 2, 1], [4, 0, 3, 5], [2, 3, 0, 2.5], [1, 5, 2.5, 0]], dtype=float)
SET_KP = np.array([
    [0, 1, 2, -1, -1, -1],
    [2, -1, 0, 1, -1, 3],
    [0, 1, -1, 2, -1, -1],
])
_NAN4, _NAN3 = [NAN] * 4, [NAN] * 3
SET_GEO = [
    np.array([_D0[0], _D0[1], _D0[2], _NAN4, _NAN4, _NAN4]),
    np.array([_D1[2], _NAN4, _D1[0], _D1[1], _NAN4, _D1[3]]),
    # set 0 -> set 1 is 5.0 one way and 5.2 the other (heat-method asymmetry)
    np.array([[0, 5.0, INF], [5.2, 0, INF], _NAN3, [INF, INF, 0], _NAN3, _NAN3]),
]


def test_set_distances_on_a_hand_made_toy():
    sd = set_distance_matrix(SET_KP, SET_GEO)
    n = NAN
    expected = np.array([
        # 0     1      2    3    4  5
        [0.0, 3.05, 2.0, 3.0, n, 2.5],  # (0,1): (1 + 5.1) / 2; (0,3): model 2 unreachable
        [3.05, 0.0, 1.5, n, n, n],      # (1,3): only model 2 holds both, unreachable
        [2.0, 1.5, 0.0, 4.0, n, 1.0],
        [3.0, n, 4.0, 0.0, n, 5.0],
        [n, n, n, n, n, n],             # held by nobody: NaN even on the diagonal
        [2.5, n, 1.0, 5.0, n, 0.0],     # (1,5): no model holds both
    ])
    np.testing.assert_allclose(sd.mean, expected, rtol=0, atol=1e-12)
    assert sd.mean.dtype == np.float64
    np.testing.assert_array_equal(sd.mean, sd.mean.T)
    np.testing.assert_array_equal(sd.n_models, [
        [3, 2, 2, 2, 0, 1],
        [2, 2, 1, 1, 0, 0],
        [2, 1, 2, 1, 0, 1],
        [2, 1, 1, 2, 0, 1],
        [0, 0, 0, 0, 0, 0],
        [1, 0, 1, 1, 0, 1],
    ])
    unreachable = np.zeros((6, 6), dtype=int)
    unreachable[0, 3] = unreachable[3, 0] = unreachable[1, 3] = unreachable[3, 1] = 1
    np.testing.assert_array_equal(sd.n_unreachable, unreachable)


def test_set_distances_reject_nan_between_present_points():
    geo = [g.copy() for g in SET_GEO]
    geo[0][0, 1] = NAN
    with pytest.raises(ValueError, match="NaN"):
        set_distance_matrix(SET_KP, geo)
    with pytest.raises(ValueError):
        set_distance_matrix(SET_KP[:2], SET_GEO)


def test_set_distances_agree_with_the_knn_module():
    """Geodesics from the knn mode give core.geometry.knn_geodesic's CPNet means."""
    from core.geometry.knn_geodesic import knn_graph_geodesics, mean_keypoint_geodesics

    rng = np.random.default_rng(3)
    clouds = [rng.normal(size=(80, 3)) for _ in range(4)]
    kp = np.where(rng.random((4, 5)) < 0.7, rng.integers(0, 80, (4, 5)), -1)
    geos = []
    for cloud, row in zip(clouds, kp, strict=True):
        g = np.full((5, 80), NAN)
        present = np.flatnonzero(row >= 0)
        g[present] = knn_graph_geodesics(cloud, row[present])
        geos.append(g)
    np.testing.assert_allclose(set_distance_matrix(kp, geos).mean,
                               mean_keypoint_geodesics(clouds, kp), rtol=1e-12)


# --- mGE on hand-made toys -------------------------------------------------------------

def test_mge_on_a_hand_made_toy():
    # 1-D embeddings so that every nearest neighbour can be found by eye.
    emb = [
        np.array([[0.0], [1.0], [2.6], [3.5]]),   # A: set 0 at sample 0, set 1 at sample 3
        np.array([[0.1], [2.9], [1.4], [5.0]]),   # B: set 0 at sample 2, set 1 at sample 1
        np.array([[10.0], [0.2], [3.2], [7.0]]),  # C: set 0 at sample 1, set 2 at sample 3
    ]
    kp = np.array([[0, 3, -1, -1], [2, 1, -1, -1], [1, -1, 3, -1]])
    n4 = [NAN] * 4
    geo = [
        np.array([[0, 1, 2, 3], [3, 2, 1, 0], n4, n4], dtype=float),
        np.array([[0.5, 0.7, 0, 0.9], [0.3, 0, 0.7, 0.4], n4, n4]),
        np.array([[0.6, 0, 0.8, 1.1], n4, [1, 1, 1, 0], n4]),
    ]
    # Set 0, the six ordered pairs:
    #   A->B: f=0.0, nearest on B is sample 0 (0.1): error geo_B[0, 0] = 0.5
    #   A->C: f=0.0, nearest on C is sample 1 (0.2): 0
    #   B->A: f=1.4, nearest on A is sample 1 (1.0): geo_A[0, 1] = 1
    #   B->C: f=1.4, nearest on C is sample 1 (0.2): 0
    #   C->A: f=0.2, nearest on A is sample 0 (0.0): 0
    #   C->B: f=0.2, nearest on B is sample 0 (0.1): 0.5
    #   mean 2 / 6
    # Set 1, two pairs:
    #   A->B: f=3.5, nearest on B is sample 1 (2.9): 0
    #   B->A: f=2.9, nearest on A is sample 2 (2.6): geo_A[1, 2] = 1
    #   mean 1 / 2
    # Set 2 is on C only, set 3 nowhere: not used. mGE = (1/3 + 1/2) / 2 = 5/12.
    for fn in (mean_geodesic_error, mean_geodesic_error_reference):
        r = fn(emb, kp, geo)
        assert isinstance(r, MGEResult)
        assert r.mge == pytest.approx(5 / 12, abs=1e-15)
        np.testing.assert_allclose(r.per_set, [1 / 3, 1 / 2, NAN, NAN], atol=1e-15)
        np.testing.assert_array_equal(r.n_pairs, [6, 2, 0, 0])
        np.testing.assert_array_equal(r.n_infinite, [0, 0, 0, 0])
        assert r.n_sets_used == 2 and r.total_infinite == 0


def test_infinite_errors_are_counted_and_left_out():
    emb = [np.array([[5.0], [0.0]]), np.array([[5.0], [0.0]])]
    kp = np.array([[0], [1]])
    geo = [np.array([[0.0, 2.0]]),      # X: set 0 at sample 0
           np.array([[INF, 0.0]])]      # Y: set 0 at sample 1; sample 0 elsewhere
    # X->Y: f=5 -> Y sample 0: infinite.  Y->X: f=0 -> X sample 1: 2.
    for fn in (mean_geodesic_error, mean_geodesic_error_reference):
        r = fn(emb, kp, geo)
        assert r.mge == 2.0 and r.per_set[0] == 2.0
        assert r.n_pairs[0] == 2 and r.n_infinite[0] == 1 and r.total_infinite == 1
    geo[0] = np.array([[0.0, INF]])  # now both pairs are infinite: the set is not used
    for fn in (mean_geodesic_error, mean_geodesic_error_reference):
        r = fn(emb, kp, geo)
        assert np.isnan(r.mge) and np.isnan(r.per_set[0]) and r.n_sets_used == 0
        assert r.n_infinite[0] == 2


def _random_problem(rng, n_models, n_sets, n_points, dim, p_present=0.7, p_inf=0.0):
    kp = np.full((n_models, n_sets), -1, dtype=np.int64)
    emb, geo = [], []
    for m in range(n_models):
        n = int(rng.integers(1, n_points + 1))
        present = np.flatnonzero(rng.random(n_sets) < p_present)[:n]
        kp[m, present] = rng.choice(n, size=present.size, replace=False)
        g = np.full((n_sets, n), NAN)
        g[present] = np.where(rng.random((present.size, n)) < p_inf, INF,
                              rng.random((present.size, n)) * 3)
        g[present, kp[m, present]] = 0.0
        geo.append(g)
        emb.append(rng.normal(size=(n, dim)))
    return emb, kp, geo


def _assert_same(a: MGEResult, b: MGEResult) -> None:
    np.testing.assert_array_equal(a.n_pairs, b.n_pairs)
    np.testing.assert_array_equal(a.n_infinite, b.n_infinite)
    np.testing.assert_allclose(a.per_set, b.per_set, rtol=1e-12, atol=0)
    assert a.n_sets_used == b.n_sets_used
    assert (np.isnan(a.mge) and np.isnan(b.mge)) or a.mge == pytest.approx(b.mge, rel=1e-12)


def test_exact_embeddings_give_zero():
    """One-hot of the set at each keypoint sample, every other sample far away."""
    rng = np.random.default_rng(0)
    n_sets = 6
    emb, kp, geo = _random_problem(rng, n_models=5, n_sets=n_sets, n_points=40,
                                   dim=n_sets + 1)
    for m, e in enumerate(emb):
        e[:] = 0.0
        e[:, n_sets] = 10.0
        for s in np.flatnonzero(kp[m] >= 0):
            e[kp[m, s]] = np.eye(n_sets + 1)[s]
    r = mean_geodesic_error(emb, kp, geo)
    on_two = (kp >= 0).sum(0) >= 2
    assert r.mge == 0.0 and r.n_sets_used == on_two.sum() > 0
    np.testing.assert_array_equal(r.per_set[on_two], 0.0)
    assert np.isnan(r.per_set[~on_two]).all()
    # Swapping two sets' embeddings on one model makes the error positive.
    m = int(np.argmax((kp >= 0).sum(1)))
    a, b = np.flatnonzero(kp[m] >= 0)[:2]
    emb[m][[kp[m, a], kp[m, b]]] = emb[m][[kp[m, b], kp[m, a]]]
    r2 = mean_geodesic_error(emb, kp, geo)
    assert r2.mge > 0
    _assert_same(r2, mean_geodesic_error_reference(emb, kp, geo))


@pytest.mark.parametrize("seed", range(12))
def test_vectorized_equals_reference_on_random_problems(seed):
    rng = np.random.default_rng(seed)
    emb, kp, geo = _random_problem(
        rng, n_models=int(rng.integers(2, 7)), n_sets=int(rng.integers(1, 8)),
        n_points=int(rng.integers(1, 60)), dim=int(rng.integers(1, 17)),
        p_present=float(rng.uniform(0.2, 1.0)), p_inf=0.1 if seed % 3 == 0 else 0.0)
    if seed % 4 == 1:  # coarse integer embeddings: many exact ties (lowest index wins)
        emb = [np.round(e) for e in emb]
    if seed % 4 == 2:
        emb = [e.astype(np.float32) for e in emb]
    _assert_same(mean_geodesic_error(emb, kp, geo), mean_geodesic_error_reference(emb, kp, geo))


def test_vectorized_equals_reference_at_scale():
    rng = np.random.default_rng(42)
    emb, kp, geo = _random_problem(rng, n_models=16, n_sets=12, n_points=512, dim=32,
                                   p_present=0.85, p_inf=0.01)
    emb = [e.astype(np.float32) for e in emb]
    _assert_same(mean_geodesic_error(emb, kp, geo), mean_geodesic_error_reference(emb, kp, geo))


def test_near_ties_below_float32_resolution_are_resolved_exactly():
    # Target rows 0 and 1 differ by 1e-9 (equal in float32); the query equals row 1.
    # Rows 2 and 3 are identical: the lower index wins.
    big = 1000.0
    target = np.array([[big + 1e-9, 0.0], [big, 0.0], [0.0, 5.0], [0.0, 5.0]])
    source = np.array([[big, 0.0], [0.0, 5.0], [7.0, 7.0], [9.0, 9.0]])
    kp = np.array([[0, 1], [1, 2]])  # source: set 0 at 0, set 1 at 1; target: at 1 and 2
    geo = [np.array([[0.0, 1, 1, 1], [1, 0.0, 1, 1]]),
           np.array([[4.0, 0.0, 6.0, 6.0], [9.0, 9.0, 0.0, 3.0]])]
    r = mean_geodesic_error([source, target], kp, geo)
    # source->target: set 0 picks row 1 (error 0, not row 0's 4); set 1 picks row 2 (0,
    # not row 3's 3). target->source: set 0 (f = [1000, 0]) picks row 0 (0); set 1 (f =
    # [0, 5]) picks row 1 (0).
    np.testing.assert_array_equal(r.per_set, [0.0, 0.0])
    _assert_same(r, mean_geodesic_error_reference([source, target], kp, geo))


@pytest.mark.parametrize(("offset", "scale"), [(1000.0, 1e-5), (10.0, 1e-3), (10.0, 1e-2)])
def test_differences_float32_cannot_see_are_resolved_exactly(offset, scale):
    """Embeddings clustered around one far point: the float32 scores are mostly rounding
    noise (all equal for the first case; different but in the wrong order for others)."""
    rng = np.random.default_rng(11)
    emb, kp, geo = _random_problem(rng, n_models=5, n_sets=6, n_points=200, dim=4)
    emb = [offset + scale * e for e in emb]
    _assert_same(mean_geodesic_error(emb, kp, geo), mean_geodesic_error_reference(emb, kp, geo))


def test_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    emb, kp, geo = _random_problem(rng, n_models=4, n_sets=5, n_points=30, dim=8)
    tensors = [torch.from_numpy(e).float().requires_grad_(True) for e in emb]
    _assert_same(mean_geodesic_error(tensors, kp, geo),
                 mean_geodesic_error_reference([t.detach().numpy() for t in tensors], kp, geo))


def test_rejects_bad_input():
    emb = [np.zeros((3, 2)), np.zeros((3, 2))]
    geo = [np.zeros((1, 3)), np.zeros((1, 3))]
    with pytest.raises(ValueError):
        mean_geodesic_error(emb, np.array([[0], [5]]), geo)  # index beyond the samples
    with pytest.raises(ValueError):
        mean_geodesic_error(emb, np.array([[0]]), geo)  # one keypoint row for two models
    with pytest.raises(ValueError):
        mean_geodesic_error([np.zeros((3, 2)), np.zeros((3, 4))], np.array([[0], [1]]), geo)
    with pytest.raises(ValueError, match="non-finite"):
        mean_geodesic_error([np.full((3, 2), np.nan), np.zeros((3, 2))],
                            np.array([[0], [1]]), geo)
    with pytest.raises(ValueError, match="NaN"):
        mean_geodesic_error(emb, np.array([[0], [1]]), [np.zeros((1, 3)),
                                                        np.full((1, 3), np.nan)])


# --- baselines -------------------------------------------------------------------------

def _samples():
    rng = np.random.default_rng(1)
    return [ShapeSample(f"m{i}", rng.random((n, 3)).astype(np.float32),
                        np.array([0, 1]), np.zeros((2, n), np.float32))
            for i, n in enumerate((20, 30))]


def test_baseline_embeddings():
    samples = _samples()
    a, b = random_embeddings(samples, dim=16, seed=3), random_embeddings(samples, dim=16, seed=3)
    assert [e.shape for e in a] == [(20, 16), (30, 16)] and a[0].dtype == np.float32
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], random_embeddings(samples, dim=16, seed=4)[0])
    xyz = xyz_embeddings(samples)
    assert all(np.array_equal(e, s.points) for e, s in zip(xyz, samples, strict=True))
    xyz[0][0, 0] = 99.0  # a copy, not a view
    assert samples[0].points[0, 0] != 99.0
