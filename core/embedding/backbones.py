"""Per-point embedding networks (paper Sec. 6 "Benchmark Neural Networks"): PointNet and
DGCNN in their segmentation form, each mapping a point cloud to one ``out_dim`` vector per
point (128 in the paper).

Every backbone takes ``points`` of shape (B, N, 3) float and returns (B, N, out_dim). They
hold no device of their own: move them with ``.to(device)`` (:func:`default_device` picks
CUDA when present). Parameters are initialised by torch's default initialisers, so two
networks built after the same ``torch.manual_seed`` are identical; dropout is left out of
the heads so that train-mode outputs depend only on the inputs and the weights.

This module imports torch at import time; ``import core`` does not import it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

BACKBONES: dict[str, type[nn.Module]] = {}

# Upper bound on the number of entries of one block of pairwise distances in :func:`knn`
# (2**24 float32 entries = 64 MiB); larger problems are split into blocks of query rows.
KNN_BLOCK_ENTRIES = 1 << 24


def register_backbone(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a backbone to :data:`BACKBONES` under ``name``.

    Raises:
        ValueError: ``name`` already names a different class.
    """

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        known = BACKBONES.get(name)
        if known is not None and known is not cls:
            raise ValueError(f"Backbone name {name!r} is already registered to "
                             f"{known.__module__}.{known.__qualname__}")
        BACKBONES[name] = cls
        return cls

    return decorate


def backbone_names() -> tuple[str, ...]:
    """The registered backbone names, sorted."""
    return tuple(sorted(BACKBONES))


def build_backbone(name: str, **kwargs) -> nn.Module:
    """A new backbone ``name`` built with ``kwargs`` (e.g. ``out_dim=128``).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    cls = BACKBONES.get(name)
    if cls is None:
        raise ValueError(f"Unknown backbone {name!r}; known backbones: "
                         f"{', '.join(backbone_names())}")
    return cls(**kwargs)


def default_device() -> torch.device:
    """CUDA when available, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_points(points: torch.Tensor) -> None:
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"points must have shape (B, N, 3), got {tuple(points.shape)}")


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU()]


# ---------------------------------------------------------------------------------------
# PointNet
# ---------------------------------------------------------------------------------------


class TNet(nn.Module):
    """PointNet's alignment network: predicts a (k, k) matrix from a (B, k, N) input.

    Initialised so that it outputs the identity (last layer zero), as the transform is
    added to the identity.
    """

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.features = nn.Sequential(*_conv_bn_relu(k, 64), *_conv_bn_relu(64, 128),
                                      *_conv_bn_relu(128, 1024))
        self.head = nn.Sequential(nn.Linear(1024, 512, bias=False), nn.BatchNorm1d(512),
                                  nn.ReLU(), nn.Linear(512, 256, bias=False),
                                  nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, k * k))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, k, N) -> (B, k, k) transform."""
        g = self.features(x).amax(dim=2)
        eye = torch.eye(self.k, dtype=x.dtype, device=x.device)
        return self.head(g).view(-1, self.k, self.k) + eye


@register_backbone("pointnet")
class PointNetSeg(nn.Module):
    """PointNet, segmentation form, producing one embedding per point.

    Shared per-point MLPs (1x1 convolutions) 3 -> 64 -> 64 give the local feature (64);
    64 -> 128 -> 1024 followed by a max-pool over the points gives the global feature
    (1024); the local feature concatenated with the repeated global one (1088) goes through
    512 -> 256 -> 128 -> ``out_dim``. Hidden layers are Conv1d + BatchNorm + ReLU; the last
    layer is linear (no BatchNorm, no ReLU).

    Args:
        out_dim: embedding size (128 in the paper).
        use_tnet: add the input (3x3) and feature (64x64) T-Nets of the PointNet paper.
            Off by default: the models this app trains on are normalized (centred, unit
            bounding-box diagonal) and aligned within a category, so there is no pose to
            undo, and the T-Nets would double the parameter count. When on,
            :meth:`regularization` gives the feature-transform orthogonality penalty
            ``||I - A A^T||_F^2`` of the last forward pass, to add to the loss. (The
            T-Nets' fully connected BatchNorm needs B >= 2 in train mode.)

    Each per-point output depends only on that point and on the (symmetric) max-pool, so
    permuting the input points permutes the output rows the same way.
    """

    def __init__(self, out_dim: int = 128, use_tnet: bool = False) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.use_tnet = use_tnet
        self.input_tnet = TNet(3) if use_tnet else None
        self.feature_tnet = TNet(64) if use_tnet else None
        self.local = nn.Sequential(*_conv_bn_relu(3, 64), *_conv_bn_relu(64, 64))
        self.global_ = nn.Sequential(*_conv_bn_relu(64, 128), *_conv_bn_relu(128, 1024))
        self.head = nn.Sequential(*_conv_bn_relu(64 + 1024, 512), *_conv_bn_relu(512, 256),
                                  *_conv_bn_relu(256, 128), nn.Conv1d(128, out_dim, 1))
        self._feature_transform: torch.Tensor | None = None

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points: (B, N, 3) float -> (B, N, out_dim) embeddings."""
        _check_points(points)
        x = points.transpose(1, 2)                                   # (B, 3, N)
        if self.input_tnet is not None:
            x = torch.bmm(self.input_tnet(x).transpose(1, 2), x)
        local = self.local(x)                                        # (B, 64, N)
        if self.feature_tnet is not None:
            transform = self.feature_tnet(local)
            self._feature_transform = transform
            local = torch.bmm(transform.transpose(1, 2), local)
        glob = self.global_(local).amax(dim=2, keepdim=True)         # (B, 1024, 1)
        feats = torch.cat([local, glob.expand(-1, -1, local.shape[2])], dim=1)
        return self.head(feats).transpose(1, 2)                      # (B, N, out_dim)

    def regularization(self) -> torch.Tensor:
        """Mean over the batch of ``||I - A A^T||_F^2`` for the feature transform A of the
        last forward pass; 0 without T-Nets (or before any forward pass)."""
        a = self._feature_transform
        if a is None:
            return torch.zeros((), device=self.head[-1].weight.device)
        eye = torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
        return ((eye - torch.bmm(a, a.transpose(1, 2))) ** 2).sum(dim=(1, 2)).mean()


# ---------------------------------------------------------------------------------------
# DGCNN
# ---------------------------------------------------------------------------------------


class PointLinear(nn.Module):
    """A per-point linear layer on (B, N, C) features, optionally followed by BatchNorm
    (statistics per channel over all B*N points, as a 1x1 Conv1d + BatchNorm1d would
    have) and LeakyReLU(0.2)."""

    def __init__(self, c_in: int, c_out: int, norm_act: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(c_in, c_out, bias=not norm_act)
        self.bn = nn.BatchNorm1d(c_out) if norm_act else None
        self.act = nn.LeakyReLU(0.2) if norm_act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., C) -> (..., c_out)."""
        y = self.linear(x)
        if self.bn is None:
            return y
        shape = y.shape
        return self.act(self.bn(y.reshape(-1, shape[-1]))).view(shape)


@torch.no_grad()
def knn(x: torch.Tensor, k: int, block_entries: int = KNN_BLOCK_ENTRIES) -> torch.Tensor:
    """Indices of the ``k`` nearest neighbours of every point, in feature space.

    Args:
        x: (B, N, C) features.
        k: neighbours per point (clipped to N). A point is its own nearest neighbour
            (distance 0), as in the reference DGCNN.
        block_entries: the (B, rows, N) block of squared distances is kept under this many
            entries by processing the query points in blocks of rows; peak extra memory
            is then about ``block_entries`` floats whatever N is (one row at least).
    Returns:
        (B, N, k) int64 indices, nearest first. No gradient flows through the selection.
    """
    b, n, _ = x.shape
    k = min(k, n)
    sq = (x * x).sum(dim=2)                                          # (B, N)
    rows = max(1, min(n, block_entries // max(1, b * n)))
    out = torch.empty(b, n, k, dtype=torch.long, device=x.device)
    xt = x.transpose(1, 2)                                           # (B, C, N)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        # ||q||^2 - 2 q.x + ||x||^2; the ||q||^2 term is constant per row: left out.
        dist = sq[:, None, :] - 2.0 * torch.bmm(x[:, start:stop], xt)   # (B, R, N)
        out[:, start:stop] = dist.topk(k, dim=2, largest=False, sorted=True).indices
    return out


def gather_neighbours(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x: (B, N, C), idx: (B, N, k) -> (B, N, k, C) with ``out[b, i, j] = x[b, idx[b, i,
    j]]``."""
    b, n, c = x.shape
    k = idx.shape[2]
    base = torch.arange(b, device=x.device).view(b, 1, 1) * n
    return x.reshape(b * n, c)[(idx + base).reshape(-1)].view(b, n, k, c)


class EdgeConv(nn.Module):
    """DGCNN edge convolution on a dynamic k-NN graph of the input features.

    For every point i and each of its k nearest neighbours j (in the current feature
    space), the edge feature ``[x_i, x_j - x_i]`` (2C) goes through a shared bias-free
    linear layer, BatchNorm (per channel over all B*N*k edges) and LeakyReLU(0.2); the
    result is the max over the neighbours.

    The linear layer ``W = [W_a | W_b]`` is evaluated without building the (B, N, k, 2C)
    edge tensor: ``W [x_i; x_j - x_i] = (W_a - W_b) x_i + W_b x_j``, so two per-point
    products are computed and only the second is gathered - the same function (see
    :meth:`forward_reference`) with k times fewer multiplications. Features are kept
    channels-last, (B, N, k, C), which is faster on the CPU than (B, C, N, k).
    """

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.c_in = c_in
        self.linear = nn.Linear(2 * c_in, c_out, bias=False)
        self.bn = nn.BatchNorm1d(c_out)
        self.act = nn.LeakyReLU(0.2)

    def _finish(self, edge: torch.Tensor) -> torch.Tensor:
        b, n, k, c = edge.shape
        return self.act(self.bn(edge.reshape(-1, c))).view(b, n, k, c).amax(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, N, C) -> (B, N, c_out)."""
        idx = knn(x, self.k)
        w_a, w_b = self.linear.weight[:, :self.c_in], self.linear.weight[:, self.c_in:]
        centre = x @ (w_a - w_b).T                                   # (B, N, O)
        neigh = x @ w_b.T                                            # (B, N, O)
        return self._finish(centre.unsqueeze(2) + gather_neighbours(neigh, idx))

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The textbook evaluation (explicit (B, N, k, 2C) edge features, then
        ``linear``); equal to :meth:`forward`, kept for tests."""
        idx = knn(x, self.k)
        neighbours = gather_neighbours(x, idx)                       # (B, N, k, C)
        centre = x.unsqueeze(2).expand_as(neighbours)
        edge = torch.cat([centre, neighbours - centre], dim=3)       # (B, N, k, 2C)
        return self._finish(self.linear(edge))


@register_backbone("dgcnn")
class DGCNN(nn.Module):
    """Dynamic Graph CNN, segmentation form, producing one embedding per point.

    Four EdgeConv layers (64, 64, 128, 256 channels), each on a k-NN graph rebuilt in its
    own input feature space (the first on xyz); their outputs are concatenated (512, the
    local feature), lifted to 1024 and max-pooled over the points (global feature); the
    local feature concatenated with the repeated global one (1536) goes through
    256 -> 128 -> ``out_dim``. Hidden layers use BatchNorm + LeakyReLU(0.2); the last layer
    is linear. The reference head's dropout is left out (see the module docstring).
    Features are kept channels-last, (B, N, C), throughout.

    Args:
        out_dim: embedding size (128 in the paper).
        k: neighbours per point in every EdgeConv (20 in the DGCNN paper).

    Memory: the k-NN search works in blocks (:func:`knn`), so the pairwise distances never
    take more than ~64 MiB; the dominant cost is the (B, N, k, C) edge activations kept for
    the backward pass (a peak of about 2 GiB of process memory for a training step with
    B=4, N=2048, k=20, float32).
    """

    def __init__(self, out_dim: int = 128, k: int = 20) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.k = k
        self.edge_convs = nn.ModuleList([EdgeConv(3, 64, k), EdgeConv(64, 64, k),
                                         EdgeConv(64, 128, k), EdgeConv(128, 256, k)])
        self.lift = PointLinear(512, 1024)
        self.head = nn.Sequential(PointLinear(512 + 1024, 256), PointLinear(256, 128),
                                  PointLinear(128, out_dim, norm_act=False))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points: (B, N, 3) float -> (B, N, out_dim) embeddings."""
        _check_points(points)
        x = points
        layers = []
        for conv in self.edge_convs:
            x = conv(x)
            layers.append(x)
        local = torch.cat(layers, dim=2)                             # (B, N, 512)
        glob = self.lift(local).amax(dim=1, keepdim=True)            # (B, 1, 1024)
        feats = torch.cat([local, glob.expand(-1, local.shape[1], -1)], dim=2)
        return self.head(feats)                                      # (B, N, out_dim)
