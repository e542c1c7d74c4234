"""Evaluation of point embeddings against correspondence sets (CorresPondenceNet).

- :func:`set_distance_matrix`: d(Ci, Cj), the paper's Eq. 2 averaged over the models
  holding both sets (what the push loss uses as margin).
- :func:`mean_geodesic_error`: mean Geodesic Error (mGE, the paper's Algorithm 1), as
  our spec defines it; :func:`mean_geodesic_error_reference` is the same with plain
  per-pair loops (the baseline and the test oracle).
- :func:`random_embeddings`, :func:`xyz_embeddings`: the two baselines of the paper's
  Table 2 ("random" and raw coordinates).

Inputs follow :class:`core.embedding.types.ShapeSample`: ``keypoints`` is (M, S) with
the sample index of set s's point on model m, or -1 where absent; ``geodesics[m]`` is
(S, N_m) with the geodesic from set s's point on model m to every sample of model m
(+inf on other components; rows of absent sets are ignored, NaN by convention).

torch is optional and imported lazily (``import core`` stays light); embeddings may be
numpy arrays or torch tensors (any device, detached here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from core.embedding.types import ShapeSample

__all__ = [
    "MGEResult",
    "SetDistances",
    "mean_geodesic_error",
    "mean_geodesic_error_reference",
    "random_embeddings",
    "set_distance_matrix",
    "xyz_embeddings",
]

# Queries per float32 score block in mean_geodesic_error (bounds temporary memory to
# _QUERY_CHUNK * N * 4 bytes).
_QUERY_CHUNK = 4096
# Score columns per block when finding the two smallest scores of a row (one pass over
# the scores for the block minima, then one block per row).
_BLOCK = 64
# Above this squared norm float32 scores could overflow: score in float64 instead.
_FLOAT32_SAFE_NORM2 = 1e30


@dataclass(frozen=True)
class SetDistances:
    """Mean geodesic distance between correspondence sets.

    Attributes:
        mean: (S, S) float64, symmetric: d(Ci, Cj), the mean over the models holding
            both sets *with a finite geodesic between them* of that geodesic; NaN where
            there is no such model; 0 on the diagonal of sets held by some model, NaN on
            the diagonal of sets held by none.
        n_models: (S, S) int64: how many models hold both sets (diagonal: hold the set).
        n_unreachable: (S, S) int64: of those, how many have the two points on different
            components (infinite geodesic), left out of ``mean``.
    """

    mean: np.ndarray
    n_models: np.ndarray
    n_unreachable: np.ndarray


@dataclass(frozen=True)
class MGEResult:
    """mean Geodesic Error of an embedding.

    Attributes:
        mge: mean of ``per_set`` over the sets with a finite value (NaN when none).
        per_set: (S,) float64: mean geodesic error of set s over its finite ordered
            pairs; NaN for sets on fewer than two models (or whose pairs are all
            infinite).
        n_pairs: (S,) int64: ordered (source, target) model pairs evaluated for set s
            (finite and infinite).
        n_infinite: (S,) int64: of those, pairs whose nearest embedding lies on another
            component of the target (infinite error), left out of ``per_set``.
        n_sets_used: number of sets averaged into ``mge``.
    """

    mge: float
    per_set: np.ndarray
    n_pairs: np.ndarray
    n_infinite: np.ndarray
    n_sets_used: int

    @property
    def total_infinite(self) -> int:
        """Infinite-error pairs over all sets."""
        return int(self.n_infinite.sum())


# --- set distances ---------------------------------------------------------------------

def set_distance_matrix(keypoints: np.ndarray,
                        geodesics: Sequence[np.ndarray]) -> SetDistances:
    """d(Ci, Cj) of the paper's Eq. 2, averaged over the models holding both sets.

    On model m holding sets i and j the distance is the geodesic between its two points,
    ``(geodesics[m][i, kp[m, j]] + geodesics[m][j, kp[m, i]]) / 2`` (the two directions
    of a heat-method solve differ slightly; the mean keeps the matrix exactly
    symmetric). Models where it is infinite (points on different components) are
    counted in ``n_unreachable`` and left out of the mean.

    Args:
        keypoints: (M, S) int, -1 where the model has no point of the set.
        geodesics: M arrays (S, N_m).

    Returns:
        :class:`SetDistances`.

    Raises:
        ValueError: for mismatched shapes, out-of-range indices, or a NaN geodesic
            between two present points.
    """
    kp = _check_keypoints(keypoints, len(geodesics))
    n_sets = kp.shape[1]
    total = np.zeros((n_sets, n_sets))
    n_models = np.zeros((n_sets, n_sets), dtype=np.int64)
    n_unreach = np.zeros((n_sets, n_sets), dtype=np.int64)
    for m, geo in enumerate(geodesics):
        g = _check_geodesics(geo, n_sets, None, m)
        sets = np.flatnonzero(kp[m] >= 0)
        if sets.size == 0:
            continue
        idx = kp[m, sets]
        if idx.max() >= g.shape[1]:
            raise ValueError(f"model {m}: keypoint index beyond its {g.shape[1]} samples")
        block = g[np.ix_(sets, idx)]  # (P, P): row set -> column set's point
        if np.isnan(block).any():
            raise ValueError(f"model {m}: NaN geodesic between two of its keypoints")
        block = (block + block.T) / 2.0
        finite = np.isfinite(block)
        cells = np.ix_(sets, sets)
        total[cells] += np.where(finite, block, 0.0)
        n_models[cells] += 1
        n_unreach[cells] += ~finite
    counted = n_models - n_unreach
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counted > 0, total / np.maximum(counted, 1), np.nan)
    diag = np.arange(n_sets)
    mean[diag, diag] = np.where(n_models[diag, diag] > 0, 0.0, np.nan)
    return SetDistances(mean, n_models, n_unreach)


# --- mGE -------------------------------------------------------------------------------

def mean_geodesic_error(embeddings: Sequence[Any], keypoints: np.ndarray,
                        geodesics: Sequence[np.ndarray]) -> MGEResult:
    """mean Geodesic Error (paper Algorithm 1, as our spec defines it).

    For each set s and every ordered pair (src, tgt) of distinct models both holding s:
    p = src's point of s; x = the sample of tgt whose embedding is nearest (L2) to f(p)
    over all of tgt's samples (ties: lowest index); the error is ``geodesics[tgt][s, x]``,
    the geodesic on tgt between its own point of s and x. Errors are averaged per set,
    and the per-set means over the sets present on at least two models.

    Vectorized: per target model, one float32 matrix product scores all source
    keypoints against all its samples (``|f(x)|^2 - 2 f(p).f(x)``); a query whose best
    and second-best scores are closer than a bound on float32 rounding (exact ties
    included) has its near-best samples re-scored exactly in float64, so the result
    equals :func:`mean_geodesic_error_reference` (ties: lowest index).

    Args:
        embeddings: M arrays or tensors (N_m, D).
        keypoints: (M, S) int, -1 where absent.
        geodesics: M arrays (S, N_m).

    Returns:
        :class:`MGEResult`.

    Raises:
        ValueError: for mismatched shapes, non-finite embeddings, or a NaN error.
    """
    import torch

    emb, kp, geos = _validated_inputs(embeddings, keypoints, geodesics)
    n_models, n_sets = kp.shape

    # All keypoint embeddings of all models: the queries.
    q_model, q_set = np.nonzero(kp >= 0)
    if q_model.size == 0:
        return _finish(np.zeros(n_sets), np.zeros(n_sets, np.int64), np.zeros(n_sets, np.int64))
    q_vec64 = np.stack([emb[m][kp[m, s]] for m, s in zip(q_model, q_set, strict=True)])
    q_vec = torch.from_numpy(q_vec64.astype(np.float32))
    q_norm2 = np.einsum("ij,ij->i", q_vec64, q_vec64)

    err_sum = np.zeros(n_sets)
    n_pairs = np.zeros(n_sets, dtype=np.int64)
    n_inf = np.zeros(n_sets, dtype=np.int64)
    holds = kp >= 0
    # One score buffer for all targets: a fresh 10-100 MB tensor per target costs as much
    # in page faults as the matrix product itself.
    widest = max(-(-e.shape[0] // _BLOCK) * _BLOCK for e in emb)
    workspace = torch.empty(min(_QUERY_CHUNK, q_model.size) * widest, dtype=torch.float32)
    for t in range(n_models):
        sel = np.flatnonzero(holds[t, q_set] & (q_model != t))
        if sel.size == 0:
            continue
        best = _nearest_samples(emb[t], q_vec64[sel], q_vec[torch.from_numpy(sel)],
                                q_norm2[sel], workspace)
        sets = q_set[sel]
        errors = geos[t][sets, best].astype(np.float64)
        if np.isnan(errors).any():
            raise ValueError(f"model {t}: NaN geodesic for a set it holds")
        finite = np.isfinite(errors)
        np.add.at(err_sum, sets[finite], errors[finite])
        np.add.at(n_pairs, sets, 1)
        np.add.at(n_inf, sets, ~finite)
    return _finish(err_sum, n_pairs, n_inf)


def mean_geodesic_error_reference(embeddings: Sequence[Any], keypoints: np.ndarray,
                                  geodesics: Sequence[np.ndarray]) -> MGEResult:
    """:func:`mean_geodesic_error` with plain per-pair loops in float64 (the oracle)."""
    emb, kp, geos = _validated_inputs(embeddings, keypoints, geodesics)
    n_models, n_sets = kp.shape
    err_sum = np.zeros(n_sets)
    n_pairs = np.zeros(n_sets, dtype=np.int64)
    n_inf = np.zeros(n_sets, dtype=np.int64)
    for s in range(n_sets):
        for src in range(n_models):
            if kp[src, s] < 0:
                continue
            fp = emb[src][kp[src, s]]
            for tgt in range(n_models):
                if tgt == src or kp[tgt, s] < 0:
                    continue
                x = int(np.argmin(np.linalg.norm(emb[tgt] - fp, axis=1)))
                error = float(geos[tgt][s, x])
                if np.isnan(error):
                    raise ValueError(f"model {tgt}: NaN geodesic for a set it holds")
                n_pairs[s] += 1
                if np.isfinite(error):
                    err_sum[s] += error
                else:
                    n_inf[s] += 1
    return _finish(err_sum, n_pairs, n_inf)


def _nearest_samples(e64: np.ndarray, q64: np.ndarray, q32: Any, q_norm2: np.ndarray,
                     workspace: Any) -> np.ndarray:
    """Index of the row of ``e64`` (N, D) nearest to each query (Q, D) in float64 L2,
    ties to the lowest index, found with float32 scores and certified (see
    :func:`mean_geodesic_error`). ``q32`` is the float32 torch copy of ``q64``;
    ``workspace`` a flat float32 tensor of at least min(Q, _QUERY_CHUNK) * N_pad."""
    import torch

    n, dim = e64.shape
    e_norm2_64 = np.einsum("ij,ij->i", e64, e64)
    if max(e_norm2_64.max(), q_norm2.max()) > _FLOAT32_SAFE_NORM2:
        return np.array([_exact_nearest(e64, np.arange(n), q) for q in q64], dtype=np.int64)
    # Pad the samples to whole blocks with rows scoring +inf (zero vector, infinite norm).
    n_pad = -(-n // _BLOCK) * _BLOCK
    e32 = torch.zeros((n_pad, dim), dtype=torch.float32)
    e32[:n] = torch.from_numpy(e64)
    e_norm2 = torch.full((1, n_pad), float("inf"), dtype=torch.float32)
    e_norm2[0, :n] = torch.from_numpy(e_norm2_64)
    max_norm = float(np.sqrt(e_norm2_64.max()))
    eps32 = float(np.finfo(np.float32).eps)
    best = np.empty(q64.shape[0], dtype=np.int64)
    for start in range(0, q64.shape[0], _QUERY_CHUNK):
        stop = min(start + _QUERY_CHUNK, q64.shape[0])
        out = workspace[:(stop - start) * n_pad].view(stop - start, n_pad)
        # |f(x)|^2 - 2 f(p).f(x): the squared distance less the constant |f(p)|^2.
        torch.addmm(e_norm2, q32[start:stop], e32.T, beta=1.0, alpha=-2.0, out=out)
        first, arg, second = _two_smallest(out)
        first_np = first.double().numpy()
        arg_np = arg.numpy().astype(np.int64)
        gap = second.double().numpy() - first_np
        # A score's float32 error (rounding the inputs, a D-term dot product, the sums)
        # is below (2D + 8) eps (|f(p)| + |f(x)|)^2; two scores can only swap order when
        # their gap is under twice that. Exact ties have gap 0 and are always re-scored.
        tol = 2.0 * (2 * dim + 8) * eps32 * (np.sqrt(q_norm2[start:stop]) + max_norm) ** 2
        unsure = np.flatnonzero(~(gap > tol))
        if unsure.size:
            # Re-score exactly every sample within tol of the best float32 score.
            near = out[torch.from_numpy(unsure)].numpy() <= (first_np[unsure]
                                                              + tol[unsure])[:, None]
            for i, r in enumerate(unsure.tolist()):
                idx = np.flatnonzero(near[i, :n])
                arg_np[r] = _exact_nearest(e64, idx, q64[start + r])
        best[start:stop] = arg_np
    return best


def _two_smallest(scores: Any) -> tuple[Any, Any, Any]:
    """Per row of a (Q, k * _BLOCK) tensor: the smallest value, a column holding it, and
    the second smallest value (equal to the smallest on ties). One pass over the scores
    (block minima), then work on (Q, k) and (Q, _BLOCK) tensors only."""
    import torch

    q, width = scores.shape
    blocks = scores.view(q, width // _BLOCK, _BLOCK)
    rows = torch.arange(q)
    b_first, b_arg, b_second = _min_and_second(blocks.amin(dim=2))
    first, i_arg, i_second = _min_and_second(blocks[rows, b_arg])  # the block of the min
    return first, b_arg * _BLOCK + i_arg, torch.minimum(i_second, b_second)


def _min_and_second(x: Any) -> tuple[Any, Any, Any]:
    """Row minimum, a column holding it, and the second smallest value (+inf for a single
    column) of a small 2-D tensor (modified in place)."""
    first, arg = x.min(dim=1)
    if x.shape[1] == 1:
        return first, arg, _inf_like(first)
    x.scatter_(1, arg.unsqueeze(1), float("inf"))
    return first, arg, x.amin(dim=1)


def _inf_like(t: Any) -> Any:
    import torch

    return torch.full_like(t, float("inf"))


def _exact_nearest(e64: np.ndarray, candidates: np.ndarray, query: np.ndarray) -> int:
    """The candidate row of ``e64`` nearest to ``query`` in float64 L2, computed as the
    reference does (``np.linalg.norm`` of the differences); ties: lowest index.
    ``candidates`` must be sorted."""
    dist = np.linalg.norm(e64[candidates] - query, axis=1)
    return int(candidates[int(np.argmin(dist))])


def _finish(err_sum: np.ndarray, n_pairs: np.ndarray, n_inf: np.ndarray) -> MGEResult:
    finite_pairs = n_pairs - n_inf
    with np.errstate(invalid="ignore", divide="ignore"):
        per_set = np.where(finite_pairs > 0, err_sum / np.maximum(finite_pairs, 1), np.nan)
    used = np.isfinite(per_set)
    mge = float(per_set[used].mean()) if used.any() else float("nan")
    return MGEResult(mge, per_set, n_pairs.astype(np.int64), n_inf.astype(np.int64),
                     int(used.sum()))


# --- baselines -------------------------------------------------------------------------

def random_embeddings(samples: Sequence[ShapeSample], dim: int = 128,
                      seed: int = 0) -> list[np.ndarray]:
    """Standard-normal float32 embeddings (N_m, dim), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((s.points.shape[0], dim), dtype=np.float32) for s in samples]


def xyz_embeddings(samples: Sequence[ShapeSample]) -> list[np.ndarray]:
    """The sample positions themselves as (N_m, 3) float32 embeddings."""
    return [np.array(s.points, dtype=np.float32) for s in samples]


# --- validation ------------------------------------------------------------------------

def _validated_inputs(embeddings: Sequence[Any], keypoints: np.ndarray,
                      geodesics: Sequence[np.ndarray]):
    """Checked (embeddings, keypoints, geodesics) shared by both mGE implementations."""
    emb = _check_embeddings(embeddings)
    kp = _check_keypoints(keypoints, len(emb))
    n_sets = kp.shape[1]
    geos = [_check_geodesics(g, n_sets, e.shape[0], m)
            for m, (g, e) in enumerate(zip(geodesics, emb, strict=True))]
    _check_indices(kp, emb)
    return emb, kp, geos


def _to_numpy(e: Any) -> np.ndarray:
    if hasattr(e, "detach") and hasattr(e, "cpu"):  # a torch tensor; torch not imported
        t = e.detach().cpu()
        if not t.is_floating_point() or t.element_size() < 4:
            t = t.float()
        e = t.numpy()
    return np.asarray(e, dtype=np.float64)


def _check_embeddings(embeddings: Sequence[Any]) -> list[np.ndarray]:
    emb = [_to_numpy(e) for e in embeddings]
    dims = {e.shape[1] if e.ndim == 2 else -1 for e in emb}
    if any(e.ndim != 2 or e.shape[0] == 0 for e in emb) or len(dims) > 1 or -1 in dims:
        raise ValueError("embeddings must be non-empty (N_m, D) arrays with one D")
    for m, e in enumerate(emb):
        if not np.all(np.isfinite(e)):
            raise ValueError(f"model {m}: non-finite embedding values")
    return emb


def _check_keypoints(keypoints: np.ndarray, n_models: int) -> np.ndarray:
    kp = np.asarray(keypoints)
    if kp.ndim != 2 or kp.shape[0] != n_models:
        raise ValueError(f"keypoints must be (M, S) with M = {n_models}, got {kp.shape}")
    if kp.size and not np.issubdtype(kp.dtype, np.integer):
        raise ValueError("keypoints must be integers (-1 where absent)")
    kp = kp.astype(np.int64)
    if kp.size and kp.min() < -1:
        raise ValueError("keypoints must be >= -1")
    return kp


def _check_geodesics(geo: np.ndarray, n_sets: int, n_points: int | None,
                     m: int) -> np.ndarray:
    g = np.asarray(geo)  # not converted: float32 stays float32 (no copy)
    if not np.issubdtype(g.dtype, np.floating):
        g = g.astype(np.float64)
    if g.ndim != 2 or g.shape[0] != n_sets or (n_points is not None and g.shape[1] != n_points):
        want = f"({n_sets}, {'N' if n_points is None else n_points})"
        raise ValueError(f"model {m}: geodesics must be {want}, got {g.shape}")
    return g


def _check_indices(kp: np.ndarray, emb: list[np.ndarray]) -> None:
    for m, e in enumerate(emb):
        if kp.shape[1] and kp[m].max() >= e.shape[0]:
            raise ValueError(f"model {m}: keypoint index beyond its {e.shape[0]} samples")
