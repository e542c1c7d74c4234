"""The pull + geodesic push loss (paper Eq. 1-4) against hand-computed values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from core.embedding.losses import (  # noqa: E402
    LossTerms,
    correspondence_loss,
    hardest_negatives,
    pair_indices,
    safe_distance,
)

NAN = float("nan")

# The worked example. Two models (B=2), four samples each, 2-d embeddings, three sets.
#
#   model 0: sample 0 (0, 0) = set 0   sample 1 (3, 4) = set 1   sample 2 (1, 0) = set 2
#            sample 3 (9, 9) unused
#   model 1: sample 1 (0, 2) = set 0   sample 2 (3, 0) = set 1   set 2 absent (-1)
#            samples 0 (5, 5) and 3 (-7, 1) unused
#
# Keypoints in (model, set) order: P0=(0,0) P1=(3,4) P2=(1,0) | P3=(0,2) P4=(3,0)
# Set distances: d(0,1) = 4, d(0,2) = 1.5, d(1,2) = NaN (unknown).
#
# Positive pairs (same set, different models):
#   P0-P3 (set 0): |(0,0)-(0,2)| = 2
#   P1-P4 (set 1): |(3,4)-(3,0)| = 4             -> n_pos = 2, pull = (2 + 4) / 2 = 3
#
# Negative pairs (different sets), embedding distance e, d, hinge max(0, d - e):
#   P0-P1 sets 0,1  e = 5            d = 4    hinge 0
#   P0-P2 sets 0,2  e = 1            d = 1.5  hinge 0.5
#   P0-P4 sets 0,1  e = 3            d = 4    hinge 1
#   P1-P2 sets 1,2  e = sqrt(20)     d = NaN  skipped
#   P1-P3 sets 1,0  e = sqrt(13)     d = 4    hinge 4 - sqrt(13) = 0.394449
#   P2-P3 sets 2,0  e = sqrt(5)      d = 1.5  hinge 0
#   P2-P4 sets 2,1  e = 2            d = NaN  skipped
#   P3-P4 sets 0,1  e = sqrt(13)     d = 4    hinge 0.394449
#
# No mining: push = (0 + 0.5 + 1 + 0.394449 + 0 + 0.394449) / 6 = 0.381483
# Mining (keep n_pos = 2 smallest e among the 6 known): P0-P2 (1), P2-P3 (sqrt 5 = 2.236)
#   -> push = (0.5 + 0) / 2 = 0.25; total (lam 1) = 3.25. Had the NaN pairs not been
#   skipped before mining, P2-P4 (e = 2) would have been picked instead of P2-P3.
#
# Margin ablation, margin 2.5 (all 8 negatives, d unused), hinge max(0, 2.5 - e):
#   P0-P2 1.5, P2-P3 2.5 - sqrt(5) = 0.263932, P2-P4 0.5, all others 0
#   no mining: push = 2.263932 / 8 = 0.282992
#   mining (2 smallest e: P0-P2 (1), P2-P4 (2)): push = (1.5 + 0.5) / 2 = 1.0

SQRT13 = math.sqrt(13.0)
SQRT5 = math.sqrt(5.0)


def _example(dtype=torch.float32):
    emb = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [1.0, 0.0], [9.0, 9.0]],
                        [[5.0, 5.0], [0.0, 2.0], [3.0, 0.0], [-7.0, 1.0]]], dtype=dtype)
    keypoints = torch.tensor([[0, 1, 2], [1, 2, -1]])
    set_distance = torch.tensor([[0.0, 4.0, 1.5], [4.0, 0.0, NAN], [1.5, NAN, 0.0]],
                                dtype=dtype)
    return emb, keypoints, set_distance


def test_pair_indices_example():
    _, keypoints, _ = _example()
    pairs = pair_indices(keypoints)
    assert pairs.model.tolist() == [0, 0, 0, 1, 1]
    assert pairs.set.tolist() == [0, 1, 2, 0, 1]
    assert pairs.sample.tolist() == [0, 1, 2, 1, 2]
    assert pairs.pos.T.tolist() == [[0, 3], [1, 4]]
    assert pairs.neg.T.tolist() == [[0, 1], [0, 2], [0, 4], [1, 2], [1, 3], [2, 3], [2, 4],
                                    [3, 4]]


def test_pair_indices_same_model_same_set_is_never_a_pair():
    # One model only: no positive pair; every pair of its keypoints is a negative.
    pairs = pair_indices(torch.tensor([[4, -1, 7, 2]]))
    assert pairs.pos.shape == (2, 0)
    assert pairs.neg.T.tolist() == [[0, 1], [0, 2], [1, 2]]


def test_geodesic_push_with_mining_hand_values():
    emb, keypoints, d = _example()
    terms = correspondence_loss(emb, keypoints, d)
    assert isinstance(terms, LossTerms)
    assert terms.n_pos == 2 and terms.n_neg == 2
    assert float(terms.pull) == pytest.approx(3.0)
    assert float(terms.push) == pytest.approx(0.25)
    assert float(terms.total) == pytest.approx(3.25)


def test_geodesic_push_without_mining_hand_values():
    emb, keypoints, d = _example()
    terms = correspondence_loss(emb, keypoints, d, hard_negative_mining=False)
    assert terms.n_pos == 2 and terms.n_neg == 6
    expected = (0.5 + 1.0 + 2 * (4.0 - SQRT13)) / 6
    assert expected == pytest.approx(0.381483, abs=1e-6)
    assert float(terms.push) == pytest.approx(expected, rel=1e-6)
    assert float(terms.total) == pytest.approx(3.0 + expected, rel=1e-6)


def test_margin_push_hand_values():
    emb, keypoints, d = _example()
    mined = correspondence_loss(emb, keypoints, d, push="margin", margin=2.5)
    assert mined.n_neg == 2
    assert float(mined.push) == pytest.approx(1.0)
    full = correspondence_loss(emb, keypoints, None, push="margin", margin=2.5,
                               hard_negative_mining=False)
    assert full.n_neg == 8
    assert float(full.push) == pytest.approx((1.5 + (2.5 - SQRT5) + 0.5) / 8, rel=1e-6)
    assert float(full.pull) == pytest.approx(3.0)
    # margin 1: every mined pair already has e >= 1
    assert float(correspondence_loss(emb, keypoints, None, push="margin").push) == 0.0


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 3.0])
def test_lambda_weights_push(lam):
    emb, keypoints, d = _example()
    terms = correspondence_loss(emb, keypoints, d, lam=lam)
    assert float(terms.total) == pytest.approx(3.0 + lam * 0.25)
    assert float(terms.push) == pytest.approx(0.25)


def test_hardest_negatives_indices():
    dist = torch.tensor([5.0, 1.0, 3.0, 2.0, 1.0, 4.0])
    assert hardest_negatives(dist, 3).tolist() == [1, 4, 3]    # tie 1.0: earlier first
    assert hardest_negatives(dist, 0).tolist() == []
    assert hardest_negatives(dist, 10).tolist() == [1, 4, 3, 2, 5, 0]
    assert hardest_negatives(torch.zeros(0), 4).tolist() == []
    with pytest.raises(ValueError):
        hardest_negatives(dist, -1)


def test_mining_keeps_exactly_the_closest_known_pairs():
    """Mining picks P0-P2 and P2-P3: the 2 closest negatives once the NaN-d pairs
    (P1-P2, P2-P4) are out; moving P2-P3 apart makes P0-P4 (e = 3) take its place."""
    emb, keypoints, d = _example()
    base = correspondence_loss(emb, keypoints, d)
    assert float(base.push) == pytest.approx((0.5 + 0.0) / 2)
    # Move model 1's set-0 point (P3) to (0, -3): P0-P3 positive e = 3 -> pull (3 + 4) / 2;
    # negatives now P0-P2 1, P2-P3 sqrt(10) = 3.162, P0-P4 3, P1-P3 sqrt(58), P3-P4 sqrt(18)
    # -> kept P0-P2 (hinge 0.5) and P0-P4 (hinge 4 - 3 = 1): push 0.75.
    emb2 = emb.clone()
    emb2[1, 1] = torch.tensor([0.0, -3.0])
    terms = correspondence_loss(emb2, keypoints, d)
    assert float(terms.pull) == pytest.approx(3.5)
    assert float(terms.push) == pytest.approx(0.75)


def test_nan_set_distance_pairs_are_skipped():
    emb, keypoints, d = _example()
    # Every d unknown: no candidate negatives at all, push 0, not NaN.
    all_nan = torch.full((3, 3), NAN)
    terms = correspondence_loss(emb, keypoints, all_nan, hard_negative_mining=False)
    assert terms.n_neg == 0 and float(terms.push) == 0.0
    assert float(terms.total) == pytest.approx(3.0)
    # Filling in d(1, 2) = 10 turns P1-P2 (hinge 10 - sqrt 20) and P2-P4 (hinge 8) on.
    d2 = d.clone()
    d2[1, 2] = d2[2, 1] = 10.0
    full = correspondence_loss(emb, keypoints, d2, hard_negative_mining=False)
    assert full.n_neg == 8
    expected = (0.5 + 1.0 + 2 * (4.0 - SQRT13) + (10.0 - math.sqrt(20.0)) + 8.0) / 8
    assert float(full.push) == pytest.approx(expected, rel=1e-6)


def test_infinite_set_distance_is_skipped():
    emb, keypoints, d = _example()
    d2 = d.clone()
    d2[1, 2] = d2[2, 1] = math.inf
    terms = correspondence_loss(emb, keypoints, d2, hard_negative_mining=False)
    assert terms.n_neg == 6
    assert math.isfinite(float(terms.total))


def test_absent_keypoints_are_ignored():
    emb, keypoints, d = _example()
    # The unused samples (0, 3 on model 1; 3 on model 0) can move anywhere: no change.
    emb2 = emb.clone()
    emb2[1, 0] = torch.tensor([0.0, 2.0])      # on top of model 1's set-0 point
    emb2[1, 3] = torch.tensor([1.0, 0.0])      # on top of model 0's set-2 point
    emb2[0, 3] = torch.tensor([100.0, -100.0])
    for mining in (True, False):
        a = correspondence_loss(emb, keypoints, d, hard_negative_mining=mining)
        b = correspondence_loss(emb2, keypoints, d, hard_negative_mining=mining)
        assert float(a.total) == float(b.total)
        assert (a.n_pos, a.n_neg) == (b.n_pos, b.n_neg)
    # A whole absent model adds nothing either.
    emb3 = torch.cat([emb, torch.randn(1, 4, 2)])
    kp3 = torch.cat([keypoints, torch.full((1, 3), -1)])
    terms = correspondence_loss(emb3, kp3, d)
    assert float(terms.total) == pytest.approx(3.25)


def test_no_positive_pairs():
    emb, _, d = _example()
    keypoints = torch.tensor([[0, 1, 2], [-1, -1, -1]])      # one annotated model only
    mined = correspondence_loss(emb, keypoints, d)
    assert (mined.n_pos, mined.n_neg) == (0, 0)               # mining keeps min(0, ...)
    assert float(mined.pull) == 0.0 and float(mined.total) == 0.0
    unmined = correspondence_loss(emb, keypoints, d, hard_negative_mining=False)
    # P0-P1 e 5 d 4 -> 0; P0-P2 e 1 d 1.5 -> 0.5; P1-P2 d NaN skipped
    assert unmined.n_neg == 2 and float(unmined.push) == pytest.approx(0.25)


def test_empty_batch_is_zero_and_backpropagates():
    emb = torch.randn(2, 4, 3, requires_grad=True)
    keypoints = torch.full((2, 3), -1)
    for mining in (True, False):
        terms = correspondence_loss(emb, keypoints, torch.zeros(3, 3),
                                    hard_negative_mining=mining)
        assert (terms.n_pos, terms.n_neg) == (0, 0)
        for value in (terms.total, terms.pull, terms.push):
            assert value.item() == 0.0
        terms.total.backward()
        assert emb.grad is not None and torch.equal(emb.grad, torch.zeros_like(emb))
    # No sets at all.
    terms = correspondence_loss(emb, torch.zeros((2, 0), dtype=torch.long), torch.zeros(0, 0))
    assert terms.total.item() == 0.0


def test_gradient_finite_when_embeddings_coincide():
    emb, keypoints, d = _example()
    emb = emb.clone()
    emb[1, 1] = emb[0, 0]            # positive pair P0-P3 at distance 0
    emb[0, 2] = emb[0, 0]            # negative pair P0-P2 at distance 0
    emb.requires_grad_(True)
    terms = correspondence_loss(emb, keypoints, d)
    assert torch.isfinite(terms.total)
    terms.total.backward()
    assert torch.isfinite(emb.grad).all()
    # The naive sqrt(sum of squares) gives NaN here: the test above can fail.
    x = torch.zeros(2, requires_grad=True)
    ((x - torch.zeros(2)) ** 2).sum().sqrt().backward()
    assert torch.isnan(x.grad).all()


def test_safe_distance_values_and_gradient():
    a = torch.tensor([[3.0, 4.0], [1.0, 1.0]], requires_grad=True)
    b = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    dist = safe_distance(a, b)
    assert dist.tolist() == [5.0, 0.0]
    dist.sum().backward()
    torch.testing.assert_close(a.grad, torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


def test_gradcheck_away_from_kinks():
    emb, keypoints, d = _example(torch.float64)
    emb = (emb + 0.01 * torch.randn(emb.shape, generator=torch.Generator().manual_seed(0),
                                    dtype=torch.float64)).requires_grad_(True)
    for push, mining in itertools.product(("geodesic", "margin"), (True, False)):
        def fn(e, push=push, mining=mining):
            return correspondence_loss(e, keypoints, d, push=push, margin=2.5,
                                       hard_negative_mining=mining).total
        assert torch.autograd.gradcheck(fn, (emb,), eps=1e-6, atol=1e-6)


def test_gradient_direction_pulls_and_pushes():
    emb, keypoints, d = _example()
    emb.requires_grad_(True)
    correspondence_loss(emb, keypoints, d).total.backward()
    # One gradient-descent step must lower the loss.
    with torch.no_grad():
        stepped = emb - 0.05 * emb.grad
    assert float(correspondence_loss(stepped, keypoints, d).total) < 3.25


def test_numpy_set_distance_and_validation():
    emb, keypoints, d = _example()
    terms = correspondence_loss(emb, keypoints, d.numpy().astype(np.float64))
    assert float(terms.total) == pytest.approx(3.25)
    with pytest.raises(ValueError, match="push mode"):
        correspondence_loss(emb, keypoints, d, push="contrastive")
    with pytest.raises(ValueError, match="needs set_distance"):
        correspondence_loss(emb, keypoints, None)
    with pytest.raises(ValueError, match=r"\(S, S\)"):
        correspondence_loss(emb, keypoints, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="out of range"):
        correspondence_loss(emb, torch.tensor([[0, 1, 4], [0, 0, 0]]), d)
    with pytest.raises(ValueError, match=r"\(B=2, S\)"):
        correspondence_loss(emb, torch.tensor([0, 1, 2]), d)
    with pytest.raises(ValueError, match=r"\(B, N, D\)"):
        correspondence_loss(emb[0], keypoints, d)


def _reference(emb, keypoints, d, lam, push, margin, mining):
    """Eq. 1-4 over ORDERED pairs with plain Python loops (mining over ordered pairs too)."""
    pts = [(b, s, int(keypoints[b, s])) for b in range(keypoints.shape[0])
           for s in range(keypoints.shape[1]) if keypoints[b, s] >= 0]

    def e(p, q):
        return float(np.linalg.norm(emb[p[0], p[2]] - emb[q[0], q[2]]))

    pos = [e(p, q) for p, q in itertools.permutations(pts, 2) if p[1] == q[1] and p[0] != q[0]]
    negs = []
    for p, q in itertools.permutations(pts, 2):
        if p[1] == q[1]:
            continue
        target = margin if push == "margin" else float(d[p[1], q[1]])
        if math.isfinite(target):
            negs.append((e(p, q), target))
    if mining:
        negs = sorted(negs, key=lambda x: x[0])[:len(pos)]
    pull = sum(pos) / len(pos) if pos else 0.0
    push_v = sum(max(0.0, t - x) for x, t in negs) / len(negs) if negs else 0.0
    return pull + lam * push_v, pull, push_v


@settings(max_examples=60, deadline=None)
@given(b=st.integers(1, 3), s=st.integers(1, 5), extra=st.integers(0, 3),
       dim=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
       push=st.sampled_from(["geodesic", "margin"]), mining=st.booleans(),
       lam=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_matches_ordered_pair_reference(b, s, extra, dim, seed, push, mining, lam):
    """Random batches (distinct samples per model, so no exact distance ties that would
    let mining choose between equal pairs) against the ordered-pair reference."""
    rng = np.random.default_rng(seed)
    n = s + extra
    emb = rng.normal(size=(b, n, dim))
    keypoints = np.stack([rng.permutation(n)[:s] for _ in range(b)])
    keypoints[rng.random((b, s)) < 0.3] = -1
    d = rng.uniform(0.0, 3.0, size=(s, s))
    d = (d + d.T) / 2
    d[rng.random((s, s)) < 0.2] = np.nan
    d = np.where(np.isnan(d) | np.isnan(d.T), np.nan, d)     # keep it symmetric
    terms = correspondence_loss(torch.tensor(emb), torch.tensor(keypoints), torch.tensor(d),
                                lam=lam, push=push, margin=1.5, hard_negative_mining=mining)
    total, pull, push_v = _reference(emb, keypoints, d, lam, push, 1.5, mining)
    assert float(terms.pull) == pytest.approx(pull, rel=1e-9, abs=1e-12)
    assert float(terms.push) == pytest.approx(push_v, rel=1e-9, abs=1e-12)
    assert float(terms.total) == pytest.approx(total, rel=1e-9, abs=1e-12)
