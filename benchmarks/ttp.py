"""To-The-Point solver (core.pose.ttp): time per solve and rotation accuracy.

Problem: the template is an icosphere (subdivision 3, N = 642 vertices), a random basis
(K = 16), 20 random cameras and coefficients, visibility 1 on the half of the sphere facing
the camera and 0.3 elsewhere, Gaussian point noise of 2 % of the 2D extent; 4 alternations,
gamma = 1, float64 on the CPU. Timed per solve (median over ``repeat`` runs of all 20), with
torch's default thread count and with one thread (the ops are tiny; on a 2-core machine
shared with other work, OpenMP threads waiting on a busy core make one thread the faster).

Baseline, in the same run: the same alternation and Eq. 7, with the pose step solved by
``torch.optim.LBFGS`` (strong Wolfe line search, up to 20 iterations per alternation) over
axis-angle, translation and log scale, as the paper does, started from the weighted affine
fit projected to a scaled rotation.
"""

from __future__ import annotations

import math
import statistics

import torch

from benchmarks.table import Row, median_time

N_SUBDIV, K, N_POSES, ALTERNATIONS, GAMMA, NOISE = 3, 16, 20, 4, 1.0, 0.02
F64 = torch.float64
GOAL = "< 5 ms on CPU; paper: 33 ms per iteration on GPU"


def _problems(seed: int = 0):
    """Template (N, 3), basis (K, N, 3) and 20 problems (u, v, R_true)."""
    import trimesh

    gen = torch.Generator().manual_seed(seed)
    T = torch.as_tensor(trimesh.creation.icosphere(subdivisions=N_SUBDIV).vertices, dtype=F64)
    B = 0.05 * torch.randn(K, len(T), 3, generator=gen, dtype=F64)
    q = torch.randn(N_POSES, 4, generator=gen, dtype=F64)
    rotations = [_quat_to_matrix(x / x.norm()) for x in q]
    problems = []
    for R in rotations:
        c = torch.randn(K, generator=gen, dtype=F64)
        X = T + torch.einsum("k,knd->nd", c, B)
        u = 120.0 * (X @ R[:2].T) + torch.tensor([320.0, 240.0], dtype=F64)
        extent = float((u.amax(0) - u.amin(0)).max())
        u = u + NOISE * extent * torch.randn(u.shape, generator=gen, dtype=F64)
        v = torch.where((T @ R[2]) < 0.0, 1.0, 0.3).to(F64)  # camera looks along +z
        problems.append((u, v, R))
    return T, B, problems


def _quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = q
    return torch.stack([torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w),
                                     2 * (x * z + y * w)]),
                        torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z),
                                     2 * (y * z - x * w)]),
                        torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w),
                                     1 - 2 * (x * x + y * y)])])


def _angle_deg(A: torch.Tensor, B: torch.Tensor) -> float:
    chord = float((A - B).norm()) / (2.0 * math.sqrt(2.0))
    return math.degrees(2.0 * math.asin(min(1.0, chord)))


# ----------------------------------------------------------------------------- baseline


def _skew(r: torch.Tensor) -> torch.Tensor:
    z = r.new_zeros(())
    return torch.stack([torch.stack([z, -r[2], r[1]]), torch.stack([r[2], z, -r[0]]),
                        torch.stack([-r[1], r[0], z])])


def _eq7(u, v, T, B, R, s, t, gamma):
    """Eq. 7 with Omega built explicitly: (Omega^T X Omega + gamma I)^-1 Omega^T X Upsilon."""
    Omega = s * torch.einsum("pd,knd->npk", R[:2], B).reshape(-1, B.shape[0])  # (2N, K)
    Upsilon = (u - s * T @ R[:2].T - t).reshape(-1)
    x = v.repeat_interleave(2)
    lhs = Omega.T @ (x[:, None] * Omega) + gamma * torch.eye(B.shape[0], dtype=F64)
    return torch.linalg.solve(lhs, Omega.T @ (x * Upsilon))


def lbfgs_ttp(u, v, T, B, gamma=GAMMA, n_alternations=ALTERNATIONS, max_iter=20):
    """The paper's scheme with torch.optim.LBFGS for Eq. 5; returns (R, s, t, c)."""
    W = v.sum()
    Xc, uc = T - v @ T / W, u - v @ u / W
    A = torch.linalg.solve((Xc * v[:, None]).T @ Xc, (Xc * v[:, None]).T @ uc).T  # (2, 3)
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    P = U @ Vh
    R0 = torch.stack([P[0], P[1], torch.linalg.cross(P[0], P[1])])
    r = torch.zeros(3, dtype=F64, requires_grad=True)
    log_s = S.mean().log().clone().requires_grad_(True)
    t = (v @ u / W - S.mean() * (v @ T / W) @ P.T).clone().requires_grad_(True)
    c = torch.zeros(B.shape[0], dtype=F64)
    opt = torch.optim.LBFGS([r, log_s, t], max_iter=max_iter, line_search_fn="strong_wolfe")
    for _ in range(n_alternations):
        X = T + torch.einsum("k,knd->nd", c, B)

        def closure(X=X):
            opt.zero_grad()
            R = torch.linalg.matrix_exp(_skew(r)) @ R0
            res = u - (log_s.exp() * X @ R[:2].T + t)
            loss = v @ (res * res).sum(1)
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            R = torch.linalg.matrix_exp(_skew(r)) @ R0
            c = _eq7(u, v, T, B, R, log_s.exp(), t, gamma)
    return R, log_s.exp().detach(), t.detach(), c


# ----------------------------------------------------------------------------- rows


def _time_per_solve(fn, problems, T, B, repeat: int) -> float:
    def all_problems():
        for u, v, _ in problems:
            fn(u, v, T, B)

    all_problems()  # warm up
    return median_time(all_problems, repeat) / len(problems)


def run(repeat: int = 3) -> list[Row]:
    from core.pose.ttp import solve_ttp

    T, B, problems = _problems()

    def ttp(u, v, T, B):
        return solve_ttp(u, v, T, B, gamma=GAMMA, n_alternations=ALTERNATIONS)

    threads = torch.get_num_threads()
    times = {}
    for n in sorted({threads, 1}, reverse=True):
        torch.set_num_threads(n)
        try:
            times[n] = (_time_per_solve(ttp, problems, T, B, repeat),
                        _time_per_solve(lbfgs_ttp, problems, T, B, max(1, repeat // 2)))
        finally:
            torch.set_num_threads(threads)
    err = [_angle_deg(ttp(u, v, T, B).R, R) for u, v, R in problems]
    err_lbfgs = [_angle_deg(lbfgs_ttp(u, v, T, B)[0], R) for u, v, R in problems]

    label = (f"TTP solve, N={len(T)}, K={K}, {ALTERNATIONS} alternations, float64, CPU")
    baseline = "same alternation + Eq. 7, pose by torch.optim.LBFGS"
    rows = [Row("ttp", f"{label}, {n} torch thread{'s' if n > 1 else ''}", 1e3 * ours, "ms",
                baseline, 1e3 * theirs, GOAL)
            for n, (ours, theirs) in times.items()]
    rows.append(Row("ttp", f"rotation error, median of {N_POSES} poses, {NOISE:.0%} noise",
                    statistics.median(err), "deg", baseline, statistics.median(err_lbfgs)))
    rows.append(Row("ttp", f"rotation error, max of {N_POSES} poses, {NOISE:.0%} noise",
                    max(err), "deg", baseline, max(err_lbfgs)))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
