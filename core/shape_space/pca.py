"""PCA of fitted template shapes: mean shape ``T`` and deformation basis ``B``.

``M`` fitted shapes ``X_m = T0 + D_m`` (N, 3) share the template's topology. With the mean
``T = T0 + mean_m D_m`` and the centred offsets stacked as rows of ``A`` (M, 3N), the thin SVD
``A = U S W^T`` gives the modes. The basis is scaled by each mode's standard deviation over
the training shapes, ``B_k = s_k / sqrt(M - 1) * W_k`` (reshaped to (N, 3)), so that a shape is
``T + sum_k c_k B_k`` (To The Point's Eq. 3 form, ``V = T + B c``) with coefficients of unit
variance over the training set: ``gamma ||c||^2`` in the TTP solver is then the matching
Gaussian prior.

Number of modes. ``M`` centred shapes span at most ``M - 1`` directions, so ``K`` is capped at
``M - 1`` (and at ``3N``), whatever is asked; modes whose singular value is below ``1e-9`` of
the largest (numerically zero: the shapes span fewer directions) are dropped too, as they would
make TTP's Eq. 7 singular. With ``K = M - 1`` the training shapes are reconstructed exactly.
Units: those of the shapes (normalized, bounding-box diagonal 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.shape_space.errors import ShapeSpaceError

__all__ = ["RANK_TOLERANCE", "ShapePCA", "pca_shapes", "reconstruct"]

RANK_TOLERANCE = 1e-9  # modes with s_k < RANK_TOLERANCE * s_0 are dropped


@dataclass(frozen=True)
class ShapePCA:
    """Principal modes of a set of shapes.

    Attributes:
        mean: (N, 3) float64 mean shape ``T``.
        basis: (K, N, 3) float64 ``B``, mode ``k`` scaled by its standard deviation.
        singular_values: (K,) ``s_k`` of the centred (M, 3N) data, units.
        explained_variance: (K,) ``s_k^2 / (M - 1)``, squared units (summed over the 3N
            coordinates).
        explained_ratio: (K,) each mode's share of the total variance (all modes, kept or
            not).
        coefficients: (M, K) the training shapes' coefficients (unit variance per mode).
    """

    mean: np.ndarray
    basis: np.ndarray
    singular_values: np.ndarray
    explained_variance: np.ndarray
    explained_ratio: np.ndarray
    coefficients: np.ndarray


def pca_shapes(shapes: np.ndarray, k: int = 16) -> ShapePCA:
    """PCA of ``shapes`` (M, N, 3), keeping at most ``k`` modes (see the module docstring).

    Raises:
        ShapeSpaceError: fewer than 2 shapes, a bad shape array or ``k < 0``.
    """
    X = np.asarray(shapes, dtype=np.float64)
    if X.ndim != 3 or X.shape[2] != 3:
        raise ShapeSpaceError(f"shapes must be (M, N, 3), got {X.shape}")
    m, n, _ = X.shape
    if m < 2:
        raise ShapeSpaceError(f"PCA needs at least 2 shapes, got {m}")
    if k < 0:
        raise ShapeSpaceError(f"k must be >= 0, got {k}")
    if not np.isfinite(X).all():
        raise ShapeSpaceError("shapes hold NaN or inf")
    mean = X.mean(axis=0)
    A = (X - mean).reshape(m, 3 * n)
    U, sv, Wt = np.linalg.svd(A, full_matrices=False)
    total = float((sv ** 2).sum())
    rank = int((sv > RANK_TOLERANCE * sv[0]).sum()) if sv.size and sv[0] > 0 else 0
    keep = min(k, m - 1, 3 * n, rank)
    sv, U, Wt = sv[:keep], U[:, :keep], Wt[:keep]
    sigma = sv / np.sqrt(m - 1)
    basis = (sigma[:, None] * Wt).reshape(keep, n, 3)
    coefficients = U * np.sqrt(m - 1)
    variance = sigma ** 2
    ratio = (sv ** 2) / total if total > 0 else np.zeros(keep)
    return ShapePCA(mean, basis, sv.copy(), variance, ratio, coefficients)


def reconstruct(mean: np.ndarray, basis: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``T + sum_k c_k B_k``: (N, 3) for coefficients (K,), (M, N, 3) for (M, K)."""
    c = np.asarray(coefficients, dtype=np.float64)
    B = np.asarray(basis, dtype=np.float64)
    if c.shape[-1] != B.shape[0]:
        raise ShapeSpaceError(f"{c.shape[-1]} coefficients for a basis of {B.shape[0]} modes")
    return mean + np.tensordot(c, B, axes=([-1], [0]))
