"""The correspondence loss of CorresPondenceNet (paper Sec. 5.2): pull (Eq. 1) plus the
geodesic-consistency push (Eq. 3), weighted as in Eq. 4, with hard negative mining.

Terms, for a batch of B models:

- every annotated (model b, set s), i.e. ``keypoints[b, s] >= 0``, is one keypoint p with
  embedding ``f(p) = embeddings[b, keypoints[b, s]]``; absent sets (-1) contribute nothing;
- positive pair: two keypoints of the same set on different models of the batch;
- negative pair: two keypoints of different sets, on any models of the batch (the same
  model included);
- pairs are unordered (each counted once). Eq. 1 and Eq. 3 sum over ordered pairs, which
  counts every pair twice in the sum and in ``N_pos`` / ``N_neg``: the means are the same,
  and hard negative mining keeps the same pairs (each twice), so the loss is identical.

This module imports torch at import time; ``import core`` does not import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

PUSH_MODES = ("geodesic", "margin")


@dataclass(frozen=True)
class LossTerms:
    """One evaluation of :func:`correspondence_loss`.

    Attributes:
        total: ``pull + lam * push`` (0-d tensor, differentiable).
        pull: Eq. 1, mean embedding distance over positive pairs (0 without any).
        push: Eq. 3, mean hinge over the negative pairs used (0 without any).
        n_pos: number of positive pairs (unordered).
        n_neg: number of negative pairs averaged in ``push``: after hard negative mining
            ``min(n_pos, candidates)``, otherwise all candidates (negatives whose set
            distance is unknown are never candidates in "geodesic" mode).
    """

    total: torch.Tensor
    pull: torch.Tensor
    push: torch.Tensor
    n_pos: int
    n_neg: int


class KeypointPairs(NamedTuple):
    """The keypoints of a batch and the pairs they form (see :func:`pair_indices`).

    Attributes:
        model: (P,) int64 model (batch row) of each keypoint.
        set: (P,) int64 set of each keypoint.
        sample: (P,) int64 sample (point) index of each keypoint on its model.
        pos: (2, n_pos) int64 keypoint indices of the positive pairs, first < second.
        neg: (2, n_neg) int64 keypoint indices of the negative pairs, first < second.
    """

    model: torch.Tensor
    set: torch.Tensor
    sample: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor


def pair_indices(keypoints: torch.Tensor) -> KeypointPairs:
    """List the annotated keypoints of a batch and their positive and negative pairs.

    Args:
        keypoints: (B, S) int64, the sample index of set s on model b, -1 when absent.
    Returns:
        :class:`KeypointPairs`. Keypoints are numbered in (model, set) row-major order and
        pairs ``(i, j)`` with ``i < j`` come in lexicographic order.
    """
    if keypoints.dim() != 2:
        raise ValueError(f"keypoints must have shape (B, S), got {tuple(keypoints.shape)}")
    keypoints = keypoints.long()
    model, set_ = torch.nonzero(keypoints >= 0, as_tuple=True)
    sample = keypoints[model, set_]
    p = model.shape[0]
    i, j = torch.triu_indices(p, p, offset=1, device=keypoints.device)
    same_set = set_[i] == set_[j]
    positive = same_set & (model[i] != model[j])
    negative = ~same_set
    return KeypointPairs(model, set_, sample,
                         torch.stack([i[positive], j[positive]]),
                         torch.stack([i[negative], j[negative]]))


def hardest_negatives(distances: torch.Tensor, n_keep: int) -> torch.Tensor:
    """Indices of the ``n_keep`` smallest ``distances`` (all of them if fewer).

    Hard negative mining (paper Sec. 5.2): of the negative pairs, keep only those with the
    smallest embedding distance. Ties keep the earlier pair (stable sort), so the choice is
    deterministic. No gradient flows through the selection.

    Args:
        distances: (n,) embedding distances of the candidate negative pairs.
        n_keep: how many to keep (>= 0).
    Returns:
        (min(n_keep, n),) int64 indices into ``distances``, smallest distance first.
    """
    if n_keep < 0:
        raise ValueError(f"n_keep must be >= 0, got {n_keep}")
    n_keep = min(n_keep, distances.shape[0])
    order = torch.sort(distances.detach(), stable=True).indices
    return order[:n_keep]


def safe_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance ``||a - b||_2`` with a finite gradient everywhere.

    Where the rows coincide the value is exactly 0 and the gradient is 0 (the plain
    ``torch.linalg.norm`` gives NaN there). Elsewhere it is the exact distance and gradient.
    """
    sq = ((a - b) ** 2).sum(dim=-1)
    positive = sq > 0
    safe_sq = torch.where(positive, sq, torch.ones_like(sq))
    return torch.where(positive, torch.sqrt(safe_sq), torch.zeros_like(sq))


def _mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of ``values``; 0 when empty (``mean`` would give NaN). The empty sum keeps the
    autograd graph, so ``backward()`` still works and yields zero gradients."""
    return values.sum() if values.numel() == 0 else values.mean()


def correspondence_loss(embeddings: torch.Tensor, keypoints: torch.Tensor,
                        set_distance: torch.Tensor | np.ndarray | None,
                        lam: float = 1.0, push: str = "geodesic", margin: float = 1.0,
                        hard_negative_mining: bool = True) -> LossTerms:
    """Pull + lambda * push over the annotated keypoints of a batch (paper Eq. 1-4).

    Args:
        embeddings: (B, N, D) per-point embeddings.
        keypoints: (B, S) int64, the sample index of set s on model b, -1 when absent.
        set_distance: (S, S) set distances d(Ci, Cj) (paper Eq. 2), NaN where unknown;
            expected symmetric (pair (p, q) uses ``set_distance[set(p), set(q)]`` with p
            before q in (model, set) order). May be None for ``push="margin"``.
        lam: weight of the push term (Eq. 4; 1 in the paper).
        push: "geodesic": Eq. 3, hinge ``max(0, d(Ci, Cj) - ||f(p) - f(q)||)``; negative
            pairs whose d is not finite (NaN: no model holds both sets; inf: never on one
            connected component) are skipped. "margin": the fixed-margin contrastive
            ablation ``max(0, margin - ||f(p) - f(q)||)`` over every negative pair (d is
            not used).
        margin: the margin of ``push="margin"``.
        hard_negative_mining: keep only the candidate negatives with the smallest embedding
            distance, as many as there are positive pairs (all candidates when fewer); with
            no positive pair this keeps no negative, so the push is 0 - the paper matches
            the positive count and we do not substitute a different rule. Off: the mean
            over all candidates (``N_neg`` of Eq. 3).
    Returns:
        :class:`LossTerms`. Empty cases (no keypoint, no pair) give 0 terms, never NaN, and
        ``total`` always supports ``backward()``.
    Raises:
        ValueError: bad shapes, keypoint index out of range, unknown ``push`` mode, or a
            missing ``set_distance`` in "geodesic" mode.
    """
    if push not in PUSH_MODES:
        raise ValueError(f"Unknown push mode {push!r}; choose one of {', '.join(PUSH_MODES)}")
    if embeddings.dim() != 3:
        raise ValueError(f"embeddings must have shape (B, N, D), got "
                         f"{tuple(embeddings.shape)}")
    b, n, _ = embeddings.shape
    keypoints = torch.as_tensor(keypoints, device=embeddings.device).long()
    if keypoints.dim() != 2 or keypoints.shape[0] != b:
        raise ValueError(f"keypoints must have shape (B={b}, S), got "
                         f"{tuple(keypoints.shape)}")
    s = keypoints.shape[1]
    if keypoints.numel() and int(keypoints.max()) >= n:
        raise ValueError(f"keypoint sample index {int(keypoints.max())} out of range for "
                         f"{n} points per model")
    d_table = None
    if push == "geodesic":
        if set_distance is None:
            raise ValueError('push="geodesic" needs set_distance')
        d_table = torch.as_tensor(set_distance, dtype=embeddings.dtype,
                                  device=embeddings.device)
        if tuple(d_table.shape) != (s, s):
            raise ValueError(f"set_distance must have shape (S, S) = ({s}, {s}), got "
                             f"{tuple(d_table.shape)}")

    pairs = pair_indices(keypoints)
    feats = embeddings[pairs.model, pairs.sample]                    # (P, D)

    pos_dist = safe_distance(feats[pairs.pos[0]], feats[pairs.pos[1]])
    pull = _mean(pos_dist)

    neg = pairs.neg
    if d_table is not None:
        target = d_table[pairs.set[neg[0]], pairs.set[neg[1]]]
        known = torch.isfinite(target)
        neg, target = neg[:, known], target[known]
    neg_dist = safe_distance(feats[neg[0]], feats[neg[1]])
    if d_table is None:
        target = torch.full_like(neg_dist, float(margin))
    if hard_negative_mining:
        keep = hardest_negatives(neg_dist, pos_dist.shape[0])
        neg_dist, target = neg_dist[keep], target[keep]
    push_term = _mean(torch.relu(target - neg_dist))

    return LossTerms(total=pull + lam * push_term, pull=pull, push=push_term,
                     n_pos=int(pos_dist.shape[0]), n_neg=int(neg_dist.shape[0]))
