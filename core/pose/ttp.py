"""To-The-Point (TTP) solver: weak-perspective pose and shape coefficients from 2D points.

The TTP paper's Sec. 3.2. Model (Eq. 3), per point ``i`` of ``N``::

    u_hat_i = s * (R @ (T_i + sum_k c_k B_k,i))[:2] + t

- ``R`` (3, 3): world-to-camera rotation, OpenCV camera frame (x right, y down, z forward);
- ``s``: scale in pixels per world unit (the paper's ``C = [[s, 0, 0], [0, s, 0]]``);
- ``t`` (2,): translation in pixels. The paper writes ``C (R V + t)`` with a 3D ``t``; only
  its first two components are seen, so we store the already scaled ``C t`` (pixels);
- ``c`` (K,): coefficients of the basis ``B`` (K, N, 3) added to the template ``T`` (N, 3)
  (world units); image points ``u`` (N, 2) are pixels, x right, y down.

Loss (Eq. 4): ``sum_i v_i ||u_i - u_hat_i||^2 + gamma ||c||^2`` with weights (visibilities)
``v`` in [0, 1]. Each alternation (Eqs. 5-6) first fits the pose with ``c`` fixed, then ``c``
in closed form with the pose fixed (Eq. 7, ``torch.linalg.solve``, no explicit inverse).
``c`` starts at zero.

Pose step (Eq. 5). For a fixed rotation and scale the best ``t`` is closed form (weighted
means), so it is eliminated exactly and the rest depends on the points only through weighted
second moments (3x3 and 2x3): each iteration costs the same whatever ``N``. The first
alternation starts from a closed-form guess: the weighted least-squares affine fit
``u ~ A X + b`` projected to a scaled rotation by SVD (third row by cross product, det +1),
plus the guesses the weak-perspective depth ambiguity allows (the depth flip
``diag(1, 1, -1) R (I - 2 n n^T)``, ``n`` the shape's flattest direction, and the two
solutions of a planar fit of the two main directions, exact for flat shapes); a few
Levenberg-Marquardt steps run from each, batched, and the lowest loss wins. Then
Levenberg-Marquardt (Gauss-Newton with a damped, safeguarded step) on the axis-angle
``r`` of a left increment ``R <- exp([r]x) R`` (and on ``log s`` with ``scale="fit"``);
later alternations start from the previous estimate.

Scale: ``scale="fit"`` (default) optimises ``s`` jointly with ``R`` and ``t``; the loss does
not increase from one alternation to the next (up to rounding: a step that changes the pose
loss by less than 1e-12 of the 2D points' weighted scatter is kept, so gradients still flow
through converged iterations), and it is the mode the accuracy figures in
``tests/core/test_ttp.py`` hold for (noise-free: rotation < 0.5 degree and exact ``c``;
2 % point noise: median rotation error over 200 poses < 5 degrees). ``scale="spread"`` is the
paper's choice: ``s`` = weighted standard deviation of ``u`` / that of the projection of the
current shape under the current rotation, recomputed every alternation. It is exact without
noise; with noise it is biased up (measured at 2 % noise: ``s`` 0.7 % too large, rotation
error about as with ``"fit"``) and the loss may rise slightly between alternations.

Each step's loss is Eq. 4 at the new ``c`` with the pose (``R``, ``s``, ``t``) of its own pose
step, as in the paper's alternation; the next pose step refits ``t`` for that ``c``.

Differentiable end to end: autograd runs through the unrolled iterations and the solves;
only the choice of the starting guess is made without gradients. When no input requires a
gradient (or grad mode is off) the work runs in inference mode, about 20 % faster; results
are normal tensors either way. Everything runs in float64; results come back in the inputs'
floating dtype (float32 stays float32) on the device of ``u``.

Points with ``v = 0`` are ignored entirely: their ``u`` may hold anything, even NaN or inf,
and their (finite) ``T`` and ``B`` rows do not matter. ``T``, ``B``, ``v`` and ``gamma`` must
be finite. Bad input raises :class:`TTPError`; no result holds NaN.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

__all__ = ["TTPError", "TTPResult", "TTPStep", "shape_coefficients", "solve_ttp", "ttp_steps"]

Scale = Literal["fit", "spread"]

_F64 = torch.float64
_LM_LAMBDA0 = 1e-3  # initial Levenberg-Marquardt damping, relative to the mean curvature
_MIN_ANGLE_SQ = 1e-12  # below this squared angle (rad^2) Rodrigues' a, b are their limits


class TTPError(ValueError):
    """Input the TTP solver cannot use (shapes, values, degenerate geometry)."""


@dataclass(frozen=True)
class _TTPState:
    """Pose and shape; tensors in the inputs' dtype and device.

    ``R`` (3, 3) world-to-camera rotation; ``s`` () pixels per world unit; ``t`` (2,) pixels;
    ``c`` (K,) basis coefficients; ``shape`` (N, 3) ``T + B c`` in world units; ``loss`` ()
    Eq. 4 in pixels^2 (plus ``gamma ||c||^2``); ``rms`` () weighted RMS reprojection error
    ``sqrt(sum v_i ||u_i - u_hat_i||^2 / sum v_i)`` in pixels (detached, for display).
    """

    R: Tensor
    s: Tensor
    t: Tensor
    c: Tensor
    shape: Tensor
    loss: Tensor
    rms: Tensor

    def project(self, points: Tensor | None = None) -> Tensor:
        """Pixels (M, 2) of ``points`` (M, 3) world units; default: ``shape`` (N, 2)."""
        X = self.shape if points is None else points.to(self.R)
        return self.s * (X @ self.R[:2].T) + self.t

    def to_numpy(self) -> dict[str, Any]:
        """Plain data for GUIs: numpy arrays (float64) and Python numbers, detached."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                arr = value.detach().to("cpu", _F64).numpy()
                out[name] = float(arr) if arr.ndim == 0 else np.array(arr)
            else:
                out[name] = value
        return out


@dataclass(frozen=True)
class TTPStep(_TTPState):
    """The state after alternation ``index`` (0-based): pose step, then Eq. 7."""

    index: int


@dataclass(frozen=True)
class TTPResult(_TTPState):
    """The final state after ``n_alternations`` alternations."""

    n_alternations: int


@dataclass(frozen=True)
class _Problem:
    """Validated inputs in float64; ``u`` is zeroed where ``v = 0``."""

    u: Tensor  # (N, 2)
    v: Tensor  # (N,)
    T: Tensor  # (N, 3)
    B: Tensor  # (K, N, 3)
    gamma: Tensor  # ()
    ridge: Tensor  # (K, K) gamma * I
    W: Tensor  # () sum of weights
    u_mean: Tensor  # (2,) weighted mean of u
    uv: Tensor  # (N, 2) v * (u - u_mean)
    Suu: Tensor  # () sum v ||u - u_mean||^2
    v2: Tensor  # (2N,) v repeated per coordinate: the diagonal of Eq. 7's X
    axes: tuple[Tensor, Tensor]  # eigenvalues (3,) ascending, eigenvectors (3, 3) of T's moment
    out_dtype: torch.dtype


@dataclass
class _Pose:
    """Batched pose iterate: ``R`` (b, 3, 3), ``log_s`` (b,), and cached quantities."""

    R: Tensor
    log_s: Tensor
    FM: Tensor  # (b, 21) rotated second moment through _consts' KM
    FC: Tensor  # (b, 5) rotated cross moment through _consts' KC
    loss: Tensor  # (b,) pose loss (no gamma term)


# ----------------------------------------------------------------------------- public API


def ttp_steps(u: Tensor, v: Tensor, T: Tensor, B: Tensor | None = None,
              gamma: float | Tensor = 0.0, n_alternations: int = 4, *, scale: Scale = "fit",
              pose_iterations: int = 1) -> Iterator[TTPStep]:
    """Run the TTP alternation, yielding one :class:`TTPStep` per alternation.

    The inputs are checked when this is called, before the first step is asked for.

    Args:
        u: (N, 2) image points, pixels (x right, y down).
        v: (N,) weights (visibilities) in [0, 1].
        T: (N, 3) template, world units.
        B: (K, N, 3) deformation basis, world units per unit coefficient; ``None`` or K = 0
            for a rigid template.
        gamma: Eq. 4's ridge weight on ``c`` (>= 0; pixels^2 per unit coefficient^2).
        n_alternations: pose + coefficient alternations (>= 1).
        scale: ``"fit"`` (default, optimised) or ``"spread"`` (the paper's std ratio).
        pose_iterations: Levenberg-Marquardt steps per pose step (>= 1); the first
            alternation runs 3 more, on each starting guess. One is enough later: each
            starts from the previous pose, and the alternation, not the pose step, limits
            the convergence.

    Raises:
        TTPError: bad shapes or values, fewer than 3 points with ``v > 0``, zero weights,
            non-finite values at used points, collinear or coincident 3D points, coincident
            2D points, or an unsolvable Eq. 7 (use ``gamma > 0``).
    """
    fast = not _grad_wanted(u, v, T, B, gamma)
    with _fast_mode(fast):
        prob = _prepare(u, v, T, B, gamma, n_alternations, scale, pose_iterations)
    return _alternate(prob, n_alternations, scale == "fit", pose_iterations, fast)


def solve_ttp(u: Tensor, v: Tensor, T: Tensor, B: Tensor | None = None,
              gamma: float | Tensor = 0.0, n_alternations: int = 4, *, scale: Scale = "fit",
              pose_iterations: int = 1) -> TTPResult:
    """Run the TTP alternation to the end; arguments and errors as :func:`ttp_steps`.

    Returns the state after the last alternation as a :class:`TTPResult`.
    """
    last: TTPStep | None = None
    for step in ttp_steps(u, v, T, B, gamma, n_alternations, scale=scale,
                          pose_iterations=pose_iterations):
        last = step
    assert last is not None  # n_alternations >= 1 is checked
    state = {k: val for k, val in vars(last).items() if k != "index"}
    return TTPResult(**state, n_alternations=n_alternations)


def shape_coefficients(u: Tensor, v: Tensor, T: Tensor, B: Tensor, R: Tensor, s: Tensor | float,
                       t: Tensor, gamma: float | Tensor = 0.0) -> Tensor:
    """Eq. 7 alone: the coefficients ``c`` (K,) minimising Eq. 4 for a fixed pose.

    ``R`` (3, 3), ``s`` pixels per world unit, ``t`` (2,) pixels; the other arguments and the
    errors are those of :func:`ttp_steps`. Returned in the inputs' floating dtype.
    """
    prob = _prepare(u, v, T, B, gamma, 1, "fit", 1)
    R, s, t = (_as_tensor(x, name).to(prob.u) for x, name in ((R, "R"), (s, "s"), (t, "t")))
    if R.shape != (3, 3) or s.numel() != 1 or t.shape != (2,):
        raise TTPError(f"R must be (3, 3), s a number and t (2,), got {tuple(R.shape)}, "
                       f"{tuple(s.shape)}, {tuple(t.shape)}")
    return _coefficients(prob, R, s.reshape(()), t).to(prob.out_dtype)


def _grad_wanted(*inputs: Any) -> bool:
    return torch.is_grad_enabled() and any(
        isinstance(x, Tensor) and x.requires_grad for x in inputs)


def _fast_mode(fast: bool) -> AbstractContextManager[Any]:
    """Inference mode when no gradient is wanted (about 20 % faster), else nothing."""
    return torch.inference_mode() if fast else nullcontext()


def _alternate(prob: _Problem, n_alternations: int, fit_scale: bool, pose_iterations: int,
               fast: bool) -> Iterator[TTPStep]:
    """Eqs. 5-7 alternated ``n_alternations`` times from ``c = 0``. With ``fast``, each step
    is computed in inference mode and handed out as normal tensors (cloned outside it)."""
    X = prob.T
    pose: _Pose | None = None
    for index in range(n_alternations):
        with _fast_mode(fast):
            M, C, X_mean = _moments(prob, X)
            if pose is None:
                pose = _initial_pose(prob, M, C, fit_scale)
                pose = _best(_lm(prob, M, C, pose, pose_iterations + 3, fit_scale))
            else:
                pose = _refresh(prob, M, C, pose, fit_scale)
                pose = _lm(prob, M, C, pose, pose_iterations, fit_scale)
            if not fit_scale:
                pose = _refresh(prob, M, C, pose, fit_scale)
            R, s = pose.R[0], pose.log_s[0].exp()
            t = prob.u_mean - s * (R[:2] @ X_mean)
            c = _coefficients(prob, R, s, t)
            X = _shape(prob, c)
            step = _step(prob, index, R, s, t, c, X)
        if fast:
            step = replace(step, **{k: x.clone() for k, x in vars(step).items()
                                    if isinstance(x, Tensor)})
        yield step


# ----------------------------------------------------------------------------- validation


def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TTPError(f"{name} is not numeric: {exc}") from exc


def _check_shapes(u: Tensor, v: Tensor, T: Tensor, B: Tensor) -> None:
    if u.ndim != 2 or u.shape[1] != 2:
        raise TTPError(f"u must be (N, 2) image points, got shape {tuple(u.shape)}")
    n = u.shape[0]
    if v.shape != (n,):
        raise TTPError(f"v must be (N,) = ({n},) weights, got shape {tuple(v.shape)}")
    if T.shape != (n, 3):
        raise TTPError(f"T must be (N, 3) = ({n}, 3) template points, got {tuple(T.shape)}")
    if B.ndim != 3 or B.shape[1:] != (n, 3):
        raise TTPError(f"B must be (K, N, 3) = (K, {n}, 3), got shape {tuple(B.shape)}")
    for name, x in (("u", u), ("v", v), ("T", T), ("B", B)):
        if x.is_complex() or x.dtype == torch.bool:
            raise TTPError(f"{name} must be real numbers, got {x.dtype}")


def _check_values(u: Tensor, v: Tensor, T: Tensor, B: Tensor, gamma: Tensor) -> Tensor:
    """Checks values; returns the mask (N,) of used points (v > 0). One fused test first,
    the itemised diagnosis only when it fails."""
    used = v > 0
    u_ok = torch.isfinite(u).all(dim=1) | ~used
    ok = (torch.isfinite(v).all() & (v >= 0).all() & (v <= 1).all() & u_ok.all()
          & torch.isfinite(T).all() & torch.isfinite(B).all()
          & (gamma.numel() == 1) & torch.isfinite(gamma).all() & (gamma >= 0).all())
    n_used = int(used.sum())
    if not bool(ok):
        _diagnose(u_ok, v, T, B, gamma)
    if n_used == 0:
        raise TTPError("all weights v are zero: no point to fit")
    if n_used < 3:
        raise TTPError(f"only {n_used} point(s) have v > 0; the pose needs at least 3")
    n_coef = B.shape[0]
    if n_coef > 2 * n_used and float(gamma.detach()) == 0:
        raise TTPError(f"B has K = {n_coef} coefficients but only {n_used} points with v > 0 "
                       f"({2 * n_used} equations); use gamma > 0")
    return used


def _diagnose(u_ok: Tensor, v: Tensor, T: Tensor, B: Tensor, gamma: Tensor) -> None:
    """Raises the :class:`TTPError` naming what :func:`_check_values`' fused test caught."""
    if not bool(torch.isfinite(v).all()):
        raise TTPError("v holds NaN or inf")
    if bool((v < 0).any()) or bool((v > 1).any()):
        raise TTPError("v must lie in [0, 1]")
    if not bool(u_ok.all()):
        bad = int((~u_ok).sum())
        raise TTPError(f"u holds NaN or inf at {bad} point(s) with v > 0")
    if not bool(torch.isfinite(T).all()):
        raise TTPError("T (template) holds NaN or inf")
    if not bool(torch.isfinite(B).all()):
        raise TTPError("B (basis) holds NaN or inf")
    raise TTPError(f"gamma must be a finite number >= 0, got {gamma.tolist()}")


def _template_axes(v: Tensor, T: Tensor, W: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (3,) ascending and eigenvectors (3, 3) of the template's weighted second
    moment (detached); rejects coincident or collinear 3D points (those with v > 0)."""
    v, T = v.detach(), T.detach()
    Tc = T - v @ T / W.detach()
    lam, V = torch.linalg.eigh((Tc * v[:, None]).T @ Tc)
    size = v @ (T * T).sum(1)
    _, lam1, lam2, size = (float(x) for x in torch.stack([*lam, size]))
    if lam2 <= 1e-24 * max(size, 1e-300):
        raise TTPError("the 3D points with v > 0 coincide: the pose is undetermined")
    if lam1 <= 1e-12 * lam2:
        raise TTPError("the 3D points with v > 0 are collinear: the rotation about their "
                       "line is undetermined")
    return lam, V


def _prepare(u: Any, v: Any, T: Any, B: Any, gamma: Any, n_alternations: int, scale: str,
             pose_iterations: int) -> _Problem:
    if scale not in ("fit", "spread"):
        raise TTPError(f"scale must be 'fit' or 'spread', got {scale!r}")
    if int(n_alternations) != n_alternations or n_alternations < 1:
        raise TTPError(f"n_alternations must be an integer >= 1, got {n_alternations}")
    if int(pose_iterations) != pose_iterations or pose_iterations < 1:
        raise TTPError(f"pose_iterations must be an integer >= 1, got {pose_iterations}")
    u, v, T = _as_tensor(u, "u"), _as_tensor(v, "v"), _as_tensor(T, "T")
    B = T.new_zeros((0, *T.shape)) if B is None else _as_tensor(B, "B")
    gamma_t = _as_tensor(gamma, "gamma")
    _check_shapes(u, v, T, B)
    out_dtype = torch.promote_types(torch.promote_types(u.dtype, T.dtype), B.dtype)
    if not out_dtype.is_floating_point:
        out_dtype = _F64
    device = u.device
    u, v, T, B, gamma_t = (x.to(device, _F64) for x in (u, v, T, B, gamma_t))
    used = _check_values(u, v, T, B, gamma_t)
    u = torch.where(used[:, None], u, torch.zeros((), dtype=_F64, device=device))
    W = v.sum()
    u_mean = v @ u / W
    uv = (u - u_mean) * v[:, None]
    Suu = (uv * (u - u_mean)).sum()
    if float(Suu.detach()) <= 1e-24 * max(float((v @ (u * u).sum(1)).detach()), 1e-300):
        raise TTPError("the 2D points u with v > 0 coincide: the scale is zero")
    axes = _template_axes(v, T, W)
    ridge = gamma_t.reshape(()) * torch.eye(B.shape[0], dtype=_F64, device=device)
    return _Problem(u, v, T, B, gamma_t.reshape(()), ridge, W, u_mean, uv, Suu,
                    v.repeat_interleave(2), axes, out_dtype)


# ----------------------------------------------------------------------------- pose step


@lru_cache(maxsize=8)
def _consts(device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Constant maps of the pose step (float64 on ``device``).

    With ``Y = R X`` (centred shape) and ``m = s Y[:2]``, the Jacobian of ``m`` w.r.t. the
    increment ``(r, log s)`` is ``s E Y`` with ``E`` (2, 4, 3). Normal equations and the
    loss are linear in the rotated moments ``M_Y = R M R^T`` and ``C_Y = C R^T``:
    ``M_Y.flatten() @ KM`` gives ``H / s^2`` (16), the model part of the gradient (4) and
    ``tr(P M P^T)`` (1); ``C_Y.flatten() @ KC`` gives the data part of the gradient (4) and
    ``tr(P C^T)`` (1). Also returns the skew map (3, 9) and the identity (3, 3).
    Made as normal tensors even inside inference mode (they are cached for all calls).
    """
    with torch.inference_mode(False):
        return _make_consts(device)


def _make_consts(device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    E = torch.zeros(2, 4, 3, dtype=_F64)
    E[0, 1, 2], E[0, 2, 1], E[0, 3, 0] = 1.0, -1.0, 1.0  # d(s Y_x): (0, Yz, -Yy, Yx)
    E[1, 0, 2], E[1, 2, 0], E[1, 3, 1] = -1.0, 1.0, 1.0  # d(s Y_y): (-Yz, 0, Yx, Yy)
    LH = torch.einsum("pqk,prl->klqr", E, E).reshape(9, 16)
    LM = torch.zeros(3, 3, 4, dtype=_F64)
    for p in range(2):
        LM[:, p, :] = E[p].T
    trace = torch.zeros(9, 1, dtype=_F64)
    trace[0, 0] = trace[4, 0] = 1.0
    KM = torch.cat([LH, LM.reshape(9, 4), trace], dim=1)  # (9, 21)
    LC = E.permute(0, 2, 1).reshape(6, 4)
    trace_c = torch.zeros(6, 1, dtype=_F64)
    trace_c[0, 0] = trace_c[4, 0] = 1.0
    KC = torch.cat([LC, trace_c], dim=1)  # (6, 5)
    skew = torch.zeros(3, 3, 3, dtype=_F64)
    skew[0, 2, 1], skew[0, 1, 2] = 1.0, -1.0
    skew[1, 0, 2], skew[1, 2, 0] = 1.0, -1.0
    skew[2, 1, 0], skew[2, 0, 1] = 1.0, -1.0
    return (KM.to(device), KC.to(device), skew.reshape(3, 9).to(device),
            torch.eye(3, dtype=_F64, device=device))


def _moments(prob: _Problem, X: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Weighted moments of the shape ``X`` (N, 3): ``M`` (3, 3) = sum v X~ X~^T,
    ``C`` (2, 3) = sum v u~ X~^T (centred), and the weighted mean of ``X`` (3,)."""
    X_mean = prob.v @ X / prob.W
    Xc = X - X_mean
    M = (Xc * prob.v[:, None]).T @ Xc
    C = prob.uv.T @ Xc
    return M, C, X_mean


def _rodrigues(r: Tensor) -> Tensor:
    """exp([r]x) (b, 3, 3) of axis-angle vectors ``r`` (b, 3), radians; safe at zero."""
    _, _, skew, eye = _consts(r.device)
    th2 = (r * r).sum(-1).clamp_min(_MIN_ANGLE_SQ)
    th = th2.sqrt()
    a = (th.sin() / th)[:, None, None]
    b = ((1.0 - th.cos()) / th2)[:, None, None]
    K = (r @ skew).view(-1, 3, 3)
    return eye + a * K + b * (K @ K)


def _rotated(prob: _Problem, M: Tensor, C: Tensor, R: Tensor,
             log_s: Tensor) -> _Pose:
    """Pose-step quantities at rotations ``R`` (b, 3, 3) and scales ``exp(log_s)`` (b,)."""
    KM, KC, _, _ = _consts(R.device)
    Rt = R.transpose(1, 2)
    FM = (R @ M @ Rt).reshape(-1, 9) @ KM
    FC = (C @ Rt).reshape(-1, 6) @ KC
    return _rescaled(prob, _Pose(R, log_s, FM, FC, FM[:, 20]), log_s)


def _rescaled(prob: _Problem, pose: _Pose, log_s: Tensor) -> _Pose:
    """``pose`` with scales ``exp(log_s)`` (b,) and its pose loss (no gamma term)."""
    s = log_s.exp()
    loss = prob.Suu - 2.0 * s * pose.FC[:, 4] + s * s * pose.FM[:, 20]
    return _Pose(pose.R, log_s, pose.FM, pose.FC, loss)


def _spread_log_scale(prob: _Problem, pose: _Pose) -> Tensor:
    """log of (weighted std of u) / (weighted std of the projected shape), (b,)."""
    return 0.5 * (prob.Suu.log() - pose.FM[:, 20].log())


def _refresh(prob: _Problem, M: Tensor, C: Tensor, pose: _Pose, fit_scale: bool) -> _Pose:
    """Re-evaluates ``pose`` for new moments (and resets a spread scale)."""
    pose = _rotated(prob, M, C, pose.R, pose.log_s)
    return pose if fit_scale else _rescaled(prob, pose, _spread_log_scale(prob, pose))


def _initial_pose(prob: _Problem, M: Tensor, C: Tensor, fit_scale: bool) -> _Pose:
    """Closed-form starting poses (batch of 4), detached: the affine fit's scaled rotation,
    its depth flip, and the two planar solutions; scale fitted in closed form or spread.
    ``M`` and ``C`` are the template's moments (first alternation, ``c = 0``).
    """
    lam, V = prob.axes
    with torch.no_grad():
        Md, Cd = M.detach(), C.detach()
        _, _, _, eye = _consts(M.device)
        n = V[:, 0]
        A = torch.linalg.solve(Md + 1e-12 * lam[2] * eye, Cd.T).T  # (2, 3): u~ ~ A X~
        U, _, Wh = torch.linalg.svd(A, full_matrices=False)
        affine = _complete(U @ Wh)
        flipped = affine @ (eye - 2.0 * torch.outer(n, n))
        flipped[2] = -flipped[2]  # diag(1, 1, -1) @ affine @ (I - 2 n n^T): same image
        V2 = V[:, [2, 1]]
        Bp = (Cd @ V2) / lam[[2, 1]]  # (2, 2) planar affine fit on the two main directions
        U2, S2, _ = torch.linalg.svd(Bp)
        w = (1.0 - (S2[1] / S2[0]) ** 2).clamp_min(0.0).sqrt() * U2[:, 1]
        P = Bp @ V2.T / S2[0]
        R = torch.stack([affine, flipped, _complete(P + torch.outer(w, n)),
                         _complete(P - torch.outer(w, n))])
    pose = _rotated(prob, M, C, R, torch.zeros(4, dtype=_F64, device=M.device))
    spread = _spread_log_scale(prob, pose)
    if fit_scale:  # the closed-form best scale per rotation (the spread where that is <= 0)
        best = pose.FC[:, 4] / pose.FM[:, 20]
        log_s = torch.where(best > 0, best.clamp_min(1e-300).log(), spread).detach()
    else:
        log_s = spread
    return _rescaled(prob, pose, log_s)


def _complete(P: Tensor) -> Tensor:
    """Rotation (3, 3) with first rows ``P`` (2, 3) (orthonormal): third row ``p1 x p2``."""
    return torch.stack([P[0], P[1], torch.linalg.cross(P[0], P[1])])


def _lm(prob: _Problem, M: Tensor, C: Tensor, pose: _Pose, iterations: int,
        fit_scale: bool) -> _Pose:
    """Levenberg-Marquardt on the left axis-angle increment (and ``log s``) of a batch of
    poses. A step is kept where it does not raise the pose loss (beyond rounding), and then
    the damping drops; else the pose stays and the damping grows."""
    n = 4 if fit_scale else 3
    lam = torch.full_like(pose.log_s, _LM_LAMBDA0).detach()[:, None, None]
    # Levenberg damping scaled by the mean curvature tr(H) / (4 s^2) = tr(M) / 2
    unit = (0.5 * torch.diagonal(M.detach()).sum()) * torch.eye(n, dtype=_F64, device=M.device)
    for _ in range(iterations):
        H = pose.FM[:, :16].view(-1, 4, 4)  # H / s^2
        if not fit_scale:
            H = H[:, :3, :3]
        g = pose.FC[:, :n] / pose.log_s.exp()[:, None] - pose.FM[:, 16:16 + n]  # g / s^2
        step = torch.linalg.solve(H + lam * unit, g)
        R = _rodrigues(step[:, :3]) @ pose.R
        log_s = pose.log_s + step[:, 3] if fit_scale else pose.log_s
        trial = _rotated(prob, M, C, R, log_s)
        keep = trial.loss <= pose.loss + 1e-12 * prob.Suu  # rounding: keep gradients flowing
        k3 = keep[:, None, None]
        pose = _Pose(torch.where(k3, trial.R, pose.R),
                     torch.where(keep, trial.log_s, pose.log_s),
                     torch.where(keep[:, None], trial.FM, pose.FM),
                     torch.where(keep[:, None], trial.FC, pose.FC),
                     torch.where(keep, trial.loss, pose.loss))
        lam = (lam * torch.where(k3, 0.2, 10.0)).clamp(1e-12, 1e12)
    return pose


def _best(pose: _Pose) -> _Pose:
    """The lowest-loss member of a batch of poses (the choice itself carries no gradient)."""
    i = pose.loss.detach().argmin().view(1)
    return _Pose(pose.R.index_select(0, i), pose.log_s.index_select(0, i),
                 pose.FM.index_select(0, i), pose.FC.index_select(0, i),
                 pose.loss.index_select(0, i))


# ----------------------------------------------------------------------------- shape step


def _coefficients(prob: _Problem, R: Tensor, s: Tensor, t: Tensor) -> Tensor:
    """Eq. 7: ``c = (Omega^T X Omega + gamma I)^-1 Omega^T X Upsilon`` via a solve, (K,).

    ``Omega`` (2N, K) stacks ``Omega_i = s R[:2] B_i`` (2, K) per point, ``X = diag(v)``
    per coordinate (2N, 2N) and ``Upsilon_i = u_i - s R[:2] T_i - t`` (pixels).
    """
    K, N = prob.B.shape[:2]
    if K == 0:
        return prob.B.new_zeros(0)
    P = R[:2]
    OmegaT = s * (prob.B @ P.T).reshape(K, 2 * N)  # Omega^T; column 2 i + p: point i, axis p
    Upsilon = (prob.u - s * (prob.T @ P.T) - t).reshape(2 * N)
    OmegaT_X = OmegaT * prob.v2
    try:
        return torch.linalg.solve(OmegaT_X @ OmegaT.T + prob.ridge, OmegaT_X @ Upsilon)
    except RuntimeError as exc:  # torch.linalg.LinAlgError: exactly singular
        raise TTPError("Eq. 7 is singular: the basis B is rank deficient at the points with "
                       "v > 0; use gamma > 0") from exc


def _shape(prob: _Problem, c: Tensor) -> Tensor:
    """``T + sum_k c_k B_k`` (N, 3), world units."""
    if c.numel() == 0:
        return prob.T
    return prob.T + (c @ prob.B.reshape(c.numel(), -1)).view_as(prob.T)


def _step(prob: _Problem, index: int, R: Tensor, s: Tensor, t: Tensor, c: Tensor,
          X: Tensor) -> TTPStep:
    """Eq. 4 at the new state, checked finite, as a :class:`TTPStep` in the output dtype."""
    residual = prob.u - (s * (X @ R[:2].T) + t)
    data = prob.v @ (residual * residual).sum(1)
    loss = data + prob.gamma * (c @ c)
    if not bool(torch.isfinite(loss)):  # NaN or inf in R, s, t or c would show here
        raise TTPError("the solution is not finite (ill-conditioned input; try gamma > 0)")
    rms = (data / prob.W).sqrt().detach()
    dt = prob.out_dtype
    return TTPStep(R=R.to(dt), s=s.to(dt), t=t.to(dt), c=c.to(dt), shape=X.to(dt),
                   loss=loss.to(dt), rms=rms.to(dt), index=index)
