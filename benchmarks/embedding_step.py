"""Embedding training step: one optimisation step per backbone at the paper's settings
(batch 4, 128-d output, Adam lr 1e-3, lambda 1, hard negative mining), on the CPU for
N = 1024 and N = 2048 points per model (plus the same on CUDA when a GPU is present).

A step is forward + :func:`correspondence_loss` + backward + ``Adam.step`` (and
``zero_grad``). Baseline in the same run: the forward pass alone, in train mode with
autograd on (the forward half of the same step), so the ratio shows what the loss,
backward and optimiser add. Inputs are synthetic: uniform points in the unit cube, 40
correspondence sets of which each model holds about 3 in 4, and random symmetric set
distances with 10 % unknown (NaN). One untimed warm-up step precedes the timing; steps
and forward passes alternate, so load from elsewhere hits both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from benchmarks.table import Row

BATCH = 4
N_SETS = 40
SIZES = (1024, 2048)
BACKBONE_NAMES = ("pointnet", "dgcnn")


def _inputs(torch, n: int, device):
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(BATCH, n, 3, generator=gen) - 0.5
    keypoints = torch.stack([torch.randperm(n, generator=gen)[:N_SETS] for _ in range(BATCH)])
    keypoints[torch.rand(BATCH, N_SETS, generator=gen) < 0.25] = -1
    d = torch.rand(N_SETS, N_SETS, generator=gen) * 0.9 + 0.1
    d = (d + d.T) / 2
    unknown = torch.rand(N_SETS, N_SETS, generator=gen) < 0.1
    d[unknown | unknown.T] = float("nan")
    d.fill_diagonal_(0.0)
    return points.to(device), keypoints.to(device), d.to(device)


def _interleaved_medians(fns: list[Callable[[], object]], repeat: int,
                         sync: Callable[[], None]) -> list[float]:
    """Median wall time of each of ``fns`` over ``repeat`` rounds; every round runs each
    once, so a burst of load from elsewhere hits the measure and its baseline alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times, strict=True):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            out.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _measure(name: str, n: int, device, repeat: int) -> tuple[float, float]:
    """(median step seconds, median forward seconds)."""
    import torch

    from core.embedding.backbones import build_backbone
    from core.embedding.losses import correspondence_loss

    torch.manual_seed(0)
    net = build_backbone(name, out_dim=128).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999))
    points, keypoints, d = _inputs(torch, n, device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        terms = correspondence_loss(net(points), keypoints, d, lam=1.0)
        terms.total.backward()
        opt.step()

    def forward() -> None:
        net(points)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step()                                    # warm-up: allocator, Adam state
    forward()
    step_s, forward_s = _interleaved_medians([step, forward], repeat, sync)
    return step_s, forward_s


def run(repeat: int = 3) -> list[Row]:
    import torch

    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    rows = []
    for device in devices:
        where = (f"cpu, {torch.get_num_threads()} threads" if device.type == "cpu"
                 else torch.cuda.get_device_name(device))
        for name in BACKBONE_NAMES:
            for n in SIZES:
                step_s, forward_s = _measure(name, n, device, repeat)
                rows.append(Row(benchmark="embedding_step",
                                measure=f"{name} train step B={BATCH} N={n} ({where})",
                                value=step_s * 1000.0, unit="ms",
                                baseline="forward only (train mode, autograd on)",
                                baseline_value=forward_s * 1000.0))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
