"""Embedding backbones: shapes, gradients, registry, equivariance, k-NN graph."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from core.embedding import backbones  # noqa: E402
from core.embedding.backbones import (  # noqa: E402
    BACKBONES,
    DGCNN,
    EdgeConv,
    PointNetSeg,
    backbone_names,
    build_backbone,
    gather_neighbours,
    knn,
    register_backbone,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _points(b: int, n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 3, generator=gen) - 0.5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_output_shape(name, device):
    torch.manual_seed(0)
    net = build_backbone(name, out_dim=128).to(device)
    out = net(_points(2, 256).to(device))
    assert out.shape == (2, 256, 128)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_out_dim_is_honoured(name):
    net = build_backbone(name, out_dim=7)
    assert net(_points(2, 64)).shape == (2, 64, 7)


@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    net = build_backbone(name)
    points = _points(2, 256).requires_grad_(True)
    out = net(points)
    # A weighting that is not permutation-symmetric, so that gradients are not trivially 0.
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    for pname, param in net.named_parameters():
        assert param.grad is not None, pname
        assert torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, pname
    assert points.grad is not None and points.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_deterministic_given_seed(name):
    points = _points(2, 128)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        outs.append(build_backbone(name)(points))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    torch.manual_seed(124)
    assert not torch.allclose(build_backbone(name)(points), outs[0])


def test_registry_lists_and_builds():
    assert backbone_names() == ("dgcnn", "pointnet")
    assert BACKBONES["pointnet"] is PointNetSeg and BACKBONES["dgcnn"] is DGCNN
    assert isinstance(build_backbone("dgcnn", k=8), DGCNN)
    assert build_backbone("dgcnn", k=8).k == 8


def test_registry_unknown_name_lists_known():
    with pytest.raises(ValueError, match="Unknown backbone 'pointnet2'.*dgcnn, pointnet"):
        build_backbone("pointnet2")


def test_registry_refuses_duplicate_name_and_accepts_reregistration():
    with pytest.raises(ValueError, match="already registered"):
        @register_backbone("pointnet")
        class Other(torch.nn.Module):
            pass
    assert BACKBONES["pointnet"] is PointNetSeg
    assert register_backbone("pointnet")(PointNetSeg) is PointNetSeg   # same class: fine


def test_registry_add_and_remove(monkeypatch):
    monkeypatch.setattr(backbones, "BACKBONES", dict(BACKBONES))

    @backbones.register_backbone("toy")
    class Toy(torch.nn.Module):
        def __init__(self, out_dim: int = 4) -> None:
            super().__init__()
            self.out_dim = out_dim

    assert "toy" in backbones.backbone_names()
    assert backbones.build_backbone("toy", out_dim=3).out_dim == 3
    assert "toy" not in BACKBONES


@pytest.mark.parametrize("bad", [(2, 16), (2, 16, 2), (16, 3)])
@pytest.mark.parametrize("name", ["pointnet", "dgcnn"])
def test_bad_input_shape(name, bad):
    with pytest.raises(ValueError, match=r"\(B, N, 3\)"):
        build_backbone(name)(torch.zeros(bad))


def test_pointnet_permutation_equivariant():
    torch.manual_seed(0)
    net = PointNetSeg()
    points = _points(2, 256)
    net.train()
    net(points)           # move the BatchNorm running statistics away from their init
    net.eval()
    perm = torch.randperm(256, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out = net(points)
        out_perm = net(points[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm], rtol=1e-5, atol=1e-5)
    # Sanity: the output is not a constant (the check above would be vacuous).
    assert out.std(dim=1).min() > 0


def test_dgcnn_permutation_equivariant():
    torch.manual_seed(0)
    net = DGCNN(k=10).eval()
    points = _points(1, 200, seed=3)
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        out = net(points)
        out_perm = net(points[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm], rtol=1e-4, atol=1e-4)


def test_pointnet_tnets_start_as_identity():
    torch.manual_seed(0)
    net = PointNetSeg(use_tnet=True)
    out = net(_points(2, 64))
    assert out.shape == (2, 64, 128)
    transform = net._feature_transform.detach()
    torch.testing.assert_close(transform, torch.eye(64).expand(2, 64, 64))
    assert net.regularization().item() == pytest.approx(0.0, abs=1e-10)
    assert float(PointNetSeg().regularization()) == 0.0


def _knn_brute(x: torch.Tensor, k: int) -> list[list[list[int]]]:
    """Reference: sort every point's neighbours by exact distance in Python."""
    b, n, c = x.shape
    out = []
    for bi in range(b):
        rows = []
        for i in range(n):
            d = [(sum((float(x[bi, i, ch]) - float(x[bi, j, ch])) ** 2 for ch in range(c)), j)
                 for j in range(n)]
            rows.append([j for _, j in sorted(d)[:k]])
        out.append(rows)
    return out


def test_knn_hand_example():
    # Points on a line at 0, 1, 3, 7 (distinct gaps, so no ties).
    x = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]]])
    idx = knn(x, 3)
    assert idx.tolist() == [[[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 2, 1]]]


@pytest.mark.parametrize("block_entries", [1, 7 * 13, 1 << 24])
def test_knn_matches_brute_force(block_entries):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 13, 5, generator=gen)
    idx = knn(x, 4, block_entries=block_entries)
    assert idx.shape == (2, 13, 4)
    assert idx.tolist() == _knn_brute(x, 4)


def test_knn_clips_k_to_n():
    x = torch.randn(1, 5, 3)
    idx = knn(x, 20)
    assert idx.shape == (1, 5, 5)
    assert all(sorted(row) == list(range(5)) for row in idx[0].tolist())


def test_gather_neighbours():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    idx = torch.tensor([[[1, 2], [0, 0], [3, 1], [2, 3]], [[3, 0], [1, 1], [0, 2], [2, 2]]])
    out = gather_neighbours(x, idx)
    assert out.shape == (2, 4, 2, 3)
    for b, i, j, c in itertools.product(range(2), range(4), range(2), range(3)):
        assert out[b, i, j, c] == x[b, idx[b, i, j], c]


@pytest.mark.parametrize("train", [True, False])
def test_edgeconv_fast_path_equals_textbook(train):
    torch.manual_seed(0)
    conv = EdgeConv(16, 32, k=6).train(train)
    x = torch.randn(2, 50, 16, requires_grad=True)
    fast = conv(x)
    ref = conv.forward_reference(x)
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-5)
    assert fast.shape == (2, 50, 32)
    (g_fast,) = torch.autograd.grad(fast.sum(), conv.linear.weight)
    (g_ref,) = torch.autograd.grad(ref.sum(), conv.linear.weight)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-3, atol=1e-4)


def _layer_shapes(net: torch.nn.Module) -> list[tuple[int, int]]:
    """(in, out) of every Conv1d / Linear, in registration order."""
    shapes = []
    for module in net.modules():
        if isinstance(module, torch.nn.Conv1d):
            shapes.append((module.in_channels, module.out_channels))
        elif isinstance(module, torch.nn.Linear):
            shapes.append((module.in_features, module.out_features))
    return shapes


def test_architectures_match_the_spec():
    assert _layer_shapes(PointNetSeg(out_dim=32)) == [
        (3, 64), (64, 64), (64, 128), (128, 1024),
        (64 + 1024, 512), (512, 256), (256, 128), (128, 32)]
    assert _layer_shapes(DGCNN(out_dim=32)) == [
        (6, 64), (128, 64), (128, 128), (256, 256),    # EdgeConv: [x_i, x_j - x_i]
        (512, 1024), (512 + 1024, 256), (256, 128), (128, 32)]
    # The output layers are linear: no BatchNorm or activation after them.
    assert isinstance(PointNetSeg().head[-1], torch.nn.Conv1d)
    assert DGCNN().head[-1].bn is None


def test_pointnet_global_feature_is_a_max_pool():
    """In eval mode, duplicating a point changes nothing for the other points under a max
    (it would under a mean)."""
    torch.manual_seed(0)
    net = PointNetSeg().eval()
    points = _points(1, 64, seed=2)
    with torch.no_grad():
        out = net(points)
        out_dup = net(torch.cat([points, points[:, :1].expand(-1, 20, -1)], dim=1))
    torch.testing.assert_close(out_dup[:, :64], out, rtol=1e-5, atol=1e-5)
