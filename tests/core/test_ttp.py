"""To-The-Point solver (core.pose.ttp): recovery, Eq. 7, weights, gradients, streaming, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.pose.ttp import TTPError, TTPResult, TTPStep, shape_coefficients, solve_ttp, ttp_steps

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    """The solver's ops are tiny: extra OpenMP threads only wait (badly so on a busy CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_rotations(n: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 3, 3) rotations, uniform on SO(3) (normalised Gaussian quaternions)."""
    q = torch.randn(n, 4, generator=gen, dtype=F64)
    w, x, y, z = (q / q.norm(dim=1, keepdim=True)).unbind(1)
    rows = [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]
    return torch.stack(rows, dim=1).view(n, 3, 3)


def angle_deg(A: torch.Tensor, B: torch.Tensor) -> float:
    """Geodesic angle between two rotations, degrees (chordal formula: exact near zero)."""
    chord = float((A.to(F64) - B.to(F64)).norm()) / (2.0 * math.sqrt(2.0))
    return math.degrees(2.0 * math.asin(min(1.0, chord)))


class Scene:
    """A template (N, 3), a basis (K, N, 3) and ``count`` random cameras and coefficients."""

    def __init__(self, seed: int, n: int = 80, k: int = 6, count: int = 1) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.T = torch.randn(n, 3, generator=gen, dtype=F64) * torch.tensor([1.0, 0.7, 0.45],
                                                                           dtype=F64)
        self.B = 0.05 * torch.randn(k, n, 3, generator=gen, dtype=F64)
        self.R = random_rotations(count, gen)
        self.s = 80.0 + 80.0 * torch.rand(count, generator=gen, dtype=F64)
        self.t = 200.0 + 60.0 * torch.randn(count, 2, generator=gen, dtype=F64)
        self.c = torch.randn(count, k, generator=gen, dtype=F64)
        X = self.T + torch.einsum("bk,knd->bnd", self.c, self.B)
        self.u = self.s[:, None, None] * (X @ self.R[:, :2].transpose(1, 2)) + self.t[:, None]
        self.v = torch.ones(n, dtype=F64)
        self.gen = gen


# ----------------------------------------------------------------------------- recovery


def test_noise_free_recovers_pose_and_exact_coefficients():
    scene = Scene(seed=0, count=5)
    for i in range(5):
        res = solve_ttp(scene.u[i], scene.v, scene.T, scene.B, gamma=0.0, n_alternations=15)
        assert isinstance(res, TTPResult) and res.n_alternations == 15
        assert angle_deg(res.R, scene.R[i]) < 0.5
        assert angle_deg(res.R, scene.R[i]) < 1e-4  # in fact exact
        torch.testing.assert_close(res.c, scene.c[i], atol=1e-6, rtol=0)
        torch.testing.assert_close(res.s, scene.s[i], atol=0, rtol=1e-7)
        torch.testing.assert_close(res.t, scene.t[i], atol=1e-5, rtol=0)
        assert float(res.rms) < 1e-6
        torch.testing.assert_close(res.project(), scene.u[i], atol=1e-5, rtol=0)
        assert torch.linalg.det(res.R).item() == pytest.approx(1.0, abs=1e-12)


def test_rigid_template_and_spread_scale_noise_free():
    scene = Scene(seed=1, count=3)
    for i in range(3):
        u = scene.s[i] * (scene.T @ scene.R[i, :2].T) + scene.t[i]
        for scale in ("fit", "spread"):
            res = solve_ttp(u, scene.v, scene.T, None, n_alternations=2, scale=scale)
            assert angle_deg(res.R, scene.R[i]) < 1e-6
            torch.testing.assert_close(res.s, scene.s[i], atol=0, rtol=1e-9)
            assert res.c.shape == (0,)


def test_planar_template_recovers_one_of_the_two_mirror_poses():
    """A flat shape under weak perspective has two exact poses (the depth flip)."""
    gen = torch.Generator().manual_seed(2)
    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 5, dtype=F64),
                                      torch.linspace(-0.6, 0.6, 4, dtype=F64), indexing="ij"), -1)
    T = torch.cat([grid.reshape(-1, 2), torch.zeros(20, 1, dtype=F64)], 1) @ random_rotations(
        1, gen)[0].T
    normal = torch.linalg.eigh((T - T.mean(0)).T @ (T - T.mean(0)))[1][:, 0]
    mirror = torch.eye(3, dtype=F64) - 2.0 * torch.outer(normal, normal)
    flip = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=F64))
    for R in random_rotations(20, gen):
        u = 60.0 * (T @ R[:2].T) + 5.0
        res = solve_ttp(u, torch.ones(20, dtype=F64), T, n_alternations=2)
        err = min(angle_deg(res.R, R), angle_deg(res.R, flip @ R @ mirror))
        assert err < 1e-6
        assert float(res.rms) < 1e-8


def test_three_points_fit_exactly():
    gen = torch.Generator().manual_seed(3)
    for R in random_rotations(20, gen):
        T = torch.randn(3, 3, generator=gen, dtype=F64)
        u = 50.0 * (T @ R[:2].T) + 7.0
        res = solve_ttp(u, torch.ones(3, dtype=F64), T, n_alternations=2)
        assert float(res.rms) < 1e-8


def test_two_percent_noise_median_rotation_error_under_5_degrees():
    count = 200
    scene = Scene(seed=4, n=100, k=8, count=count)
    extent = (scene.u.amax(1) - scene.u.amin(1)).amax(1)  # (count,) pixels
    noise = 0.02 * extent[:, None, None] * torch.randn(scene.u.shape, generator=scene.gen,
                                                        dtype=F64)
    u = scene.u + noise
    errors = np.array([angle_deg(solve_ttp(u[i], scene.v, scene.T, scene.B, gamma=0.0).R,
                                 scene.R[i]) for i in range(count)])
    assert np.median(errors) < 5.0
    assert np.percentile(errors, 95) < 10.0


def test_float32_inputs_give_float32_results():
    scene = Scene(seed=5, count=1)
    res = solve_ttp(scene.u[0].float(), scene.v.float(), scene.T.float(), scene.B.float(),
                    n_alternations=15)
    assert res.R.dtype == res.c.dtype == res.s.dtype == torch.float32
    assert angle_deg(res.R, scene.R[0]) < 0.01
    torch.testing.assert_close(res.c.double(), scene.c[0], atol=1e-3, rtol=0)


# ----------------------------------------------------------------------------- Eq. 7


def test_eq7_matches_brute_force_least_squares():
    gen = torch.Generator().manual_seed(6)
    n, k = 30, 5
    T = torch.randn(n, 3, generator=gen, dtype=F64)
    B = torch.randn(k, n, 3, generator=gen, dtype=F64)
    u = 100.0 * torch.randn(n, 2, generator=gen, dtype=F64)
    v = torch.rand(n, generator=gen, dtype=F64)
    v[::4] = 0.0
    R = random_rotations(1, gen)[0]
    s, t = 37.5, torch.tensor([3.0, -8.0], dtype=F64)
    for gamma in (0.0, 250.0):
        c = shape_coefficients(u, v, T, B, R, s, t, gamma).numpy()
        # Stacked system: rows sqrt(v_i) * (s R[:2] B_i) c = sqrt(v_i) * (u_i - s R[:2] T_i - t)
        Rn, Bn, Tn, un, vn = (x.numpy() for x in (R, B, T, u, v))
        Omega = np.concatenate([s * Rn[:2] @ Bn[:, i, :].T for i in range(n)])  # (2N, K)
        Upsilon = np.concatenate([un[i] - s * Rn[:2] @ Tn[i] - t.numpy() for i in range(n)])
        w = np.sqrt(np.repeat(vn, 2))
        lhs = np.vstack([w[:, None] * Omega, math.sqrt(gamma) * np.eye(k)])
        rhs = np.concatenate([w * Upsilon, np.zeros(k)])
        expected = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        np.testing.assert_allclose(c, expected, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- weights


def test_zero_weight_points_are_ignored_even_as_garbage():
    scene = Scene(seed=7, count=1)
    gen = scene.gen
    u = scene.u[0] + torch.randn(scene.u[0].shape, generator=gen, dtype=F64)
    v = torch.rand(len(u), generator=gen, dtype=F64) * 0.8 + 0.2
    drop = torch.zeros(len(u), dtype=torch.bool)
    drop[::3] = True
    v_dropped = torch.where(drop, 0.0, v)
    ref = solve_ttp(u[~drop], v[~drop], scene.T[~drop], scene.B[:, ~drop], gamma=2.0)

    garbage_u = u.clone()
    garbage_u[drop] = torch.randn(int(drop.sum()), 2, generator=gen, dtype=F64) * 1e6
    garbage_u[0] = torch.tensor([math.nan, math.inf])
    garbage_T, garbage_B = scene.T.clone(), scene.B.clone()
    garbage_T[drop] = 1e4 * torch.randn(int(drop.sum()), 3, generator=gen, dtype=F64)
    garbage_B[:, drop] = -7e3
    res = solve_ttp(garbage_u, v_dropped, garbage_T, garbage_B, gamma=2.0)
    for name in ("R", "s", "t", "c", "loss"):
        torch.testing.assert_close(getattr(res, name), getattr(ref, name), atol=1e-8,
                                   rtol=1e-8)
    torch.testing.assert_close(res.shape[~drop], ref.shape, atol=1e-9, rtol=0)
    assert angle_deg(res.R, scene.R[0]) < 2.0


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_gradients_are_finite_and_match_finite_differences(noise):
    scene = Scene(seed=8, n=40, k=4, count=1)
    gen = scene.gen
    u0 = scene.u[0] + noise * torch.randn(scene.u[0].shape, generator=gen, dtype=F64)
    v = 0.5 + 0.5 * torch.rand(40, generator=gen, dtype=F64)
    u = u0.clone().requires_grad_(True)
    res = solve_ttp(u, v, scene.T, scene.B, gamma=0.5, n_alternations=12)
    wc = torch.arange(1.0, 5.0, dtype=F64)
    wR = torch.arange(9.0, dtype=F64).view(3, 3)
    grad_c = torch.autograd.grad(res.c @ wc, u, retain_graph=True)[0]
    grad_R = torch.autograd.grad((res.R * wR).sum(), u)[0]
    assert torch.isfinite(grad_c).all() and torch.isfinite(grad_R).all()
    assert float(grad_c.abs().max()) > 1e-6 and float(grad_R.abs().max()) > 1e-6

    direction = torch.randn(u0.shape, generator=gen, dtype=F64)
    eps = 1e-6
    plus = solve_ttp(u0 + eps * direction, v, scene.T, scene.B, gamma=0.5, n_alternations=12)
    minus = solve_ttp(u0 - eps * direction, v, scene.T, scene.B, gamma=0.5, n_alternations=12)
    fd_c = float((plus.c - minus.c) @ wc) / (2 * eps)
    fd_R = float(((plus.R - minus.R) * wR).sum()) / (2 * eps)
    assert float((grad_c * direction).sum()) == pytest.approx(fd_c, rel=1e-4, abs=1e-8)
    assert float((grad_R * direction).sum()) == pytest.approx(fd_R, rel=1e-4, abs=1e-8)


def test_gradients_reach_template_basis_and_gamma():
    scene = Scene(seed=9, n=40, k=4, count=1)
    T = scene.T.clone().requires_grad_(True)
    B = scene.B.clone().requires_grad_(True)
    gamma = torch.tensor(0.3, dtype=F64, requires_grad=True)
    res = solve_ttp(scene.u[0], scene.v, T, B, gamma)
    (res.loss + res.c.sum() + res.R[0, 2]).backward()
    for p in (T, B, gamma):
        assert p.grad is not None and torch.isfinite(p.grad).all()


# ----------------------------------------------------------------------------- streaming


def test_steps_stream_with_non_increasing_loss():
    scene = Scene(seed=10, count=1)
    u = scene.u[0] + 3.0 * torch.randn(scene.u[0].shape, generator=scene.gen, dtype=F64)
    steps = list(ttp_steps(u, scene.v, scene.T, scene.B, gamma=1.0, n_alternations=6))
    assert [s.index for s in steps] == list(range(6))
    assert all(isinstance(s, TTPStep) for s in steps)
    losses = [float(s.loss) for s in steps]
    for before, after in zip(losses, losses[1:], strict=False):
        assert after <= before * (1 + 1e-9)
    assert losses[-1] < losses[0]
    last = steps[-1]
    assert last.R.shape == (3, 3) and last.s.shape == () and last.t.shape == (2,)
    assert last.c.shape == (6,) and last.shape.shape == (80, 3)
    residual = u - last.project()
    data = float(scene.v @ (residual**2).sum(1))
    assert float(last.loss) == pytest.approx(data + 1.0 * float(last.c @ last.c), rel=1e-12)
    assert float(last.rms) == pytest.approx(math.sqrt(data / 80), rel=1e-12)
    res = solve_ttp(u, scene.v, scene.T, scene.B, gamma=1.0, n_alternations=6)
    torch.testing.assert_close(res.R, last.R, atol=0, rtol=0)
    plain = res.to_numpy()
    assert isinstance(plain["R"], np.ndarray) and plain["R"].shape == (3, 3)
    assert isinstance(plain["s"], float) and plain["n_alternations"] == 6


def test_results_are_normal_tensors_usable_with_autograd_later():
    scene = Scene(seed=11, count=1)
    res = solve_ttp(scene.u[0], scene.v, scene.T, scene.B)
    assert not res.R.is_inference() and not res.R.requires_grad
    w = torch.ones(3, 3, dtype=F64, requires_grad=True)
    (res.R * w).sum().backward()
    assert w.grad is not None


# ----------------------------------------------------------------------------- bad input


def _good():
    scene = Scene(seed=12, n=10, k=2, count=1)
    return {"u": scene.u[0], "v": scene.v.clone(), "T": scene.T, "B": scene.B}


def _with(**changes):
    args = _good()
    args.update(changes)
    return args


def _nan_at(x, index):
    x = x.clone()
    x[index] = math.nan
    return x


def _cases():
    g = _good()
    v2 = torch.zeros(10, dtype=F64)
    v2[:2] = 1.0
    line = torch.linspace(0, 1, 10, dtype=F64)[:, None] * torch.tensor([1.0, 2.0, 3.0],
                                                                      dtype=F64)
    inf_T = g["T"].clone()
    inf_T[3, 1] = math.inf
    return [
        ("two points", _with(v=v2), "only 2 point"),
        ("zero weights", _with(v=torch.zeros(10, dtype=F64)), "all weights v are zero"),
        ("collinear", _with(T=line), "collinear"),
        ("coincident", _with(T=torch.ones(10, 3, dtype=F64)), "coincide"),
        ("coincident 2D", _with(u=torch.full((10, 2), 4.0, dtype=F64)), "2D points u"),
        ("nan u", _with(u=_nan_at(g["u"], 4)), "u holds NaN or inf at 1 point"),
        ("inf T", _with(T=inf_T), "T \\(template\\) holds NaN or inf"),
        ("nan B", _with(B=_nan_at(g["B"], 0)), "B \\(basis\\) holds NaN or inf"),
        ("nan v", _with(v=_nan_at(g["v"], 2)), "v holds NaN or inf"),
        ("v > 1", _with(v=g["v"] * 2), "v must lie in \\[0, 1\\]"),
        ("u shape", _with(u=g["u"][:, :1]), "u must be \\(N, 2\\)"),
        ("v shape", _with(v=g["v"][:9]), "v must be \\(N,\\)"),
        ("T shape", _with(T=g["T"][:9]), "T must be \\(N, 3\\)"),
        ("B shape", _with(B=g["B"][:, :9]), "B must be \\(K, N, 3\\)"),
        ("B rank", _with(B=torch.randn(30, 10, 3, dtype=F64)), "use gamma > 0"),
    ]


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in _cases()],
                         ids=[c[0] for c in _cases()])
def test_bad_input_raises_ttp_error(args, message):
    with pytest.raises(TTPError, match=message):
        solve_ttp(**args)
    with pytest.raises(TTPError, match=message):  # at the call, before any step is drawn
        ttp_steps(**args)


def test_singular_eq7_raises_at_the_first_step():
    args = _with(B=torch.zeros(2, 10, 3, dtype=F64))
    with pytest.raises(TTPError, match="Eq. 7 is singular"):
        solve_ttp(**args)
    steps = ttp_steps(**args)
    with pytest.raises(TTPError, match="Eq. 7 is singular"):
        next(steps)
    assert solve_ttp(**args, gamma=1.0).c.abs().max() == 0.0  # with a ridge: c = 0


def test_bad_parameters_raise_ttp_error():
    g = _good()
    with pytest.raises(TTPError, match="gamma"):
        solve_ttp(**g, gamma=-1.0)
    with pytest.raises(TTPError, match="gamma"):
        solve_ttp(**g, gamma=math.nan)
    with pytest.raises(TTPError, match="scale"):
        solve_ttp(**g, scale="median")
    with pytest.raises(TTPError, match="n_alternations"):
        solve_ttp(**g, n_alternations=0)
    with pytest.raises(TTPError, match="pose_iterations"):
        solve_ttp(**g, pose_iterations=0)
    assert issubclass(TTPError, ValueError)
