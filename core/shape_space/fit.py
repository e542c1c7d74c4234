"""Deform the template onto one model: per-vertex offsets optimised with pytorch3d losses.

The template's vertices ``T0`` (N, 3) get offsets ``d`` (N, 3); the deformed template
``V = T0 + d`` keeps the template's faces. Adam minimises, with the weights of
:class:`FitConfig`::

    w_chamfer   chamfer_distance(sample(V), sample(target))   pytorch3d, squared units
    w_edge      mean_e (|e(V)| - |e(T0)|)^2                   edge lengths kept, squared units
    w_laplacian mean_i |(L d)_i|^2                            smooth offsets, squared units
    w_normal    mesh_normal_consistency(V)                    pytorch3d, 1 - cos, unitless
    w_keypoint  mean_s |P_s(V) - y_s|^2                       semantic points, squared units

- chamfer: ``pytorch3d.loss.chamfer_distance`` between ``n_samples`` points drawn afresh
  every iteration from both meshes with ``pytorch3d.ops.sample_points_from_meshes`` (on CPU
  the same quantity with scipy's k-d tree for the neighbours, see ``FitConfig.chamfer``);
- edge: pytorch3d's ``mesh_edge_loss`` pulls every edge to one target length, which would
  even out (and so distort) a template whose triangles differ in size; here each edge keeps
  its own length on the template (``Meshes.edges_packed``);
- Laplacian: ``L`` is pytorch3d's uniform Laplacian of the template (``laplacian_packed``,
  the operator of ``mesh_laplacian_smoothing(method="uniform")``), applied to the *offsets*:
  smoothing the shape itself would shrink the template's own detail (rims, creases) towards
  its mean curvature flow, while a smooth offset field is the deformation prior (the role
  ARAP plays in To The Point, Sec. 3.4);
- normal consistency: ``pytorch3d.loss.mesh_normal_consistency`` of the deformed mesh (its
  computation, with the template's edge / face incidence cached: pytorch3d rebuilds it on
  every call), with a small default weight (it also penalises the template's own creases);
- keypoints: the template's semantic points ``P_s(V)`` (face + barycentric weights on the
  deformed template) pulled to the model's placed points ``y_s`` of the same sets; points
  missing or absent on the model are skipped.

Optimiser: Adam, learning rate ``lr`` (normalized units per step) with a cosine decay to
``lr * lr_final`` so the sampling noise of the chamfer term dies out at the end. Each
iteration is streamed as a :class:`FitStep`; the last event is the :class:`FittedShape`,
measured with the exact point-to-surface chamfer of :mod:`core.shape_space.metrics` (the
sampled loss has a noise floor). Units: normalized model units (bounding-box diagonal 1).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.shape_space.errors import ShapeSpaceError

CHAMFER_MODES = ("auto", "pytorch3d", "kdtree")

__all__ = ["CHAMFER_MODES", "Cancel", "FitConfig", "FitStep", "FittedShape", "fit_template",
           "fitted_shape"]


class Cancel(Protocol):
    """Anything with a ``cancelled`` flag, e.g. :class:`core.embedding.trainer.CancelToken`."""

    @property
    def cancelled(self) -> bool: ...


@dataclass(frozen=True)
class FitConfig:
    """How a template is fitted to a model (see the module docstring for the terms).

    Attributes:
        iterations: Adam steps.
        lr: initial learning rate, normalized units per step; ``lr_final``: the fraction of
            it the cosine schedule ends at.
        n_samples: points sampled from each mesh per iteration for the chamfer term.
        w_chamfer, w_edge, w_laplacian, w_normal, w_keypoint: loss weights.
        eval_samples: points sampled per direction for the reported chamfer distance.
        seed: seeds the sampling (the fit is deterministic on a given device).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
        chamfer: how the chamfer term finds nearest neighbours: ``"pytorch3d"``
            (``chamfer_distance``, brute-force ``knn_points``), ``"kdtree"`` (scipy k-d
            tree, same value and gradient, about 20x faster on CPU at 4000 points), or
            ``"auto"``: pytorch3d on CUDA, the k-d tree on CPU.
    """

    iterations: int = 200
    lr: float = 0.005
    lr_final: float = 0.02
    n_samples: int = 4000
    w_chamfer: float = 1.0
    w_edge: float = 1.0
    w_laplacian: float = 1.0
    w_normal: float = 1e-4
    w_keypoint: float = 0.2
    eval_samples: int = 5000
    seed: int = 0
    device: str = "auto"
    chamfer: str = "auto"


@dataclass(frozen=True)
class FitStep:
    """One Adam step: the weighted total and the unweighted terms (before the step).

    ``chamfer``, ``edge``, ``laplacian`` and ``keypoint`` are in squared normalized units,
    ``normal`` is unitless; ``keypoint`` is NaN when the model has no semantic point.
    """

    iteration: int
    iterations: int
    loss: float
    chamfer: float
    edge: float
    laplacian: float
    normal: float
    keypoint: float
    lr: float


@dataclass(frozen=True)
class FittedShape:
    """The template deformed onto a model.

    Attributes:
        vertices: (N, 3) float64 deformed template vertices, normalized units.
        chamfer: exact symmetric point-to-surface chamfer to the model (sum of both
            directions' mean squared distance), squared normalized units.
        rms: RMS point-to-surface distance over both directions, normalized units.
        keypoint_error: mean over the model's placed semantic points of the distance
            between the fitted template's point and the model's, normalized units (NaN
            when there is none).
        n_keypoints: how many semantic points that mean is over.
        iterations: Adam steps run (fewer than asked when cancelled).
        seconds: wall time of the fit (optimisation and measurement).
        cancelled: the fit stopped early on request.
    """

    vertices: np.ndarray
    chamfer: float
    rms: float
    keypoint_error: float
    n_keypoints: int
    iterations: int
    seconds: float
    cancelled: bool = False


def fit_template(template_vertices: np.ndarray, template_faces: np.ndarray,
                 target_vertices: np.ndarray, target_faces: np.ndarray,
                 point_faces: np.ndarray | None = None, point_bary: np.ndarray | None = None,
                 target_points: np.ndarray | None = None, config: FitConfig | None = None,
                 cancel: Cancel | None = None) -> Iterator[FitStep | FittedShape]:
    """Fit the template to a target mesh; yields a :class:`FitStep` per iteration, then the
    :class:`FittedShape`.

    Args:
        template_vertices: (N, 3) and template_faces (F, 3): the template.
        target_vertices: (V, 3) and target_faces (G, 3): the model, same frame and units.
        point_faces: (S,) template faces of the semantic points; point_bary (S, 3) weights.
        target_points: (S, 3) the model's points of the same sets, NaN rows where the set is
            not placed on the model (those are skipped).
        cancel: checked before every iteration; when set, the fit stops and the shape so far
            is measured and returned with ``cancelled=True``.

    Raises:
        ShapeSpaceError: mismatched or malformed arrays, or a non-finite loss.
    """
    cfg = config or FitConfig()
    if cfg.iterations < 0 or cfg.n_samples < 1 or cfg.chamfer not in CHAMFER_MODES:
        raise ShapeSpaceError(f"bad fit config: {cfg}")
    T0, F = _mesh_arrays(template_vertices, template_faces, "template")
    Vt, Ft = _mesh_arrays(target_vertices, target_faces, "target")
    kp = _keypoints(point_faces, point_bary, target_points, len(F))
    return _fit(T0, F, Vt, Ft, kp, cfg, cancel)


def fitted_shape(*args, **kwargs) -> FittedShape:
    """:func:`fit_template` run to the end; returns its :class:`FittedShape`."""
    last = None
    for event in fit_template(*args, **kwargs):
        last = event
    assert isinstance(last, FittedShape)
    return last


# ----------------------------------------------------------------------------- internals


def _mesh_arrays(vertices, faces, what: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 3:
        raise ShapeSpaceError(f"{what} vertices must be (N, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0 or not np.issubdtype(f.dtype, np.integer):
        raise ShapeSpaceError(f"{what} faces must be (F, 3) integers, got {f.shape} {f.dtype}")
    if f.min() < 0 or f.max() >= len(v):
        raise ShapeSpaceError(f"{what} faces index vertices outside 0..{len(v) - 1}")
    if not np.isfinite(v).all():
        raise ShapeSpaceError(f"{what} vertices hold NaN or inf")
    return v, f.astype(np.int64)


def _keypoints(point_faces, point_bary, target_points,
               n_faces: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(faces (S',), bary (S', 3), targets (S', 3)) of the placed points, or None."""
    if point_faces is None or target_points is None:
        return None
    pf = np.asarray(point_faces, dtype=np.int64).reshape(-1)
    pb = np.asarray(point_bary, dtype=np.float64).reshape(-1, 3)
    y = np.asarray(target_points, dtype=np.float64).reshape(-1, 3)
    if not len(pf) == len(pb) == len(y):
        raise ShapeSpaceError(f"{len(pf)} point faces, {len(pb)} barycentric rows and "
                              f"{len(y)} target points do not match")
    if len(pf) and (pf.min() < 0 or pf.max() >= n_faces):
        raise ShapeSpaceError(f"semantic point faces outside 0..{n_faces - 1}")
    ok = np.isfinite(y).all(axis=1)
    if not ok.any():
        return None
    return pf[ok], pb[ok], y[ok]


def _fit(T0: np.ndarray, F: np.ndarray, Vt: np.ndarray, Ft: np.ndarray,
         kp: tuple[np.ndarray, np.ndarray, np.ndarray] | None, cfg: FitConfig,
         cancel: Cancel | None) -> Iterator[FitStep | FittedShape]:
    import torch
    from pytorch3d.loss import chamfer_distance
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    from core.device import pick_device

    t_start = time.perf_counter()
    device = pick_device(cfg.device)
    f32 = torch.float32
    base = torch.as_tensor(T0, dtype=f32, device=device)
    faces = torch.as_tensor(F, device=device)
    template = Meshes([base], [faces])
    target = Meshes([torch.as_tensor(Vt, dtype=f32, device=device)],
                    [torch.as_tensor(Ft, device=device)])
    edges = template.edges_packed()                                   # (E, 2)
    rest = (base[edges[:, 0]] - base[edges[:, 1]]).norm(dim=1)        # (E,)
    with warnings.catch_warnings():  # pytorch3d builds it with a sparse-invariants warning
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        lap = template.laplacian_packed()                             # (N, N) sparse
    normal_consistency = _NormalConsistency(template)
    if kp is not None:
        kp_corners = faces[torch.as_tensor(kp[0], device=device)]      # (S, 3)
        kp_bary = torch.as_tensor(kp[1], dtype=f32, device=device)    # (S, 3)
        kp_target = torch.as_tensor(kp[2], dtype=f32, device=device)  # (S, 3)
    offsets = torch.zeros_like(base, requires_grad=True)
    opt = torch.optim.Adam([offsets], lr=cfg.lr)
    nan = float("nan")
    done = 0
    cancelled = False
    rng = _Rng(cfg.seed, device)
    use_tree = cfg.chamfer == "kdtree" or (cfg.chamfer == "auto" and device.type == "cpu")
    for it in range(cfg.iterations):
        if cancel is not None and cancel.cancelled:
            cancelled = True
            break
        lr = _cosine_lr(cfg, it)
        for group in opt.param_groups:
            group["lr"] = lr
        V = base + offsets
        mesh = template.update_padded(V[None])
        with rng.active():
            p_src = sample_points_from_meshes(mesh, cfg.n_samples)
            p_trg = sample_points_from_meshes(target, cfg.n_samples)
        cham = _chamfer(p_src[0], p_trg[0]) if use_tree else chamfer_distance(p_src, p_trg)[0]
        edge = ((V[edges[:, 0]] - V[edges[:, 1]]).norm(dim=1) - rest).pow(2).mean()
        smooth = torch.sparse.mm(lap, offsets).pow(2).sum(dim=1).mean()
        normal = normal_consistency(V)
        loss = (cfg.w_chamfer * cham + cfg.w_edge * edge + cfg.w_laplacian * smooth
                + cfg.w_normal * normal)
        key = None
        if kp is not None:
            P = torch.einsum("sc,scd->sd", kp_bary, V[kp_corners])
            key = (P - kp_target).pow(2).sum(dim=1).mean()
            loss = loss + cfg.w_keypoint * key
        if not bool(torch.isfinite(loss)):
            raise ShapeSpaceError(f"the fit diverged at iteration {it} (loss {loss.item()})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = it + 1
        yield FitStep(it, cfg.iterations, *(float(x.detach()) for x in (loss, cham, edge, smooth,
                                                                        normal)),
                      float(key.detach()) if key is not None else nan, lr)
    vertices = (base + offsets).detach().to("cpu", torch.float64).numpy()
    yield _measure(vertices, F, Vt, Ft, kp, cfg, done, t_start, cancelled)


class _NormalConsistency:
    """``pytorch3d.loss.mesh_normal_consistency`` for one mesh whose topology never changes.

    The same quantity: for every pair of faces sharing an edge ``(v0, v1)``, with opposite
    vertices ``a`` and ``b``, ``1 - cos(n0, n1)`` where ``n0 = (v1 - v0) x (a - v0)`` and
    ``n1 = -(v1 - v0) x (b - v0)``, averaged over the pairs. The pairs are worked out once from
    the template (with pytorch3d's own pairing kernel) instead of on every call: pytorch3d
    rebuilds the edge / face incidence for each new ``Meshes``, a quarter of an iteration's
    time at 2.4k vertices on CPU.
    """

    def __init__(self, template) -> None:
        import torch
        from pytorch3d import _C

        faces = template.faces_packed()
        edges = template.edges_packed()
        n_faces = faces.shape[0]
        with torch.no_grad():
            edge_idx = template.faces_packed_to_edges_packed().reshape(n_faces * 3)
            vert_idx = faces.view(1, n_faces, 3).expand(3, n_faces, 3).transpose(0, 1)
            vert_idx = vert_idx.reshape(3 * n_faces, 3)
            edge_idx, order = edge_idx.sort()
            vert_idx = vert_idx[order]
            edge_num = edge_idx.bincount(minlength=edges.shape[0])
            pairs = _C.mesh_normal_consistency_find_verts(edge_num.cpu()).to(faces.device)
            v0, v1 = edges[edge_idx, 0], edges[edge_idx, 1]
            opposite = vert_idx.sum(dim=1) - v0 - v1     # the face's vertex off the edge
            self.v0, self.v1 = v0[pairs[:, 0]], v1[pairs[:, 0]]
            self.a, self.b = opposite[pairs[:, 0]], opposite[pairs[:, 1]]

    def __call__(self, V):
        """The loss (scalar tensor) for vertices ``V`` (N, 3)."""
        import torch

        if self.v0.numel() == 0:
            return V.new_zeros(())
        v0 = V[self.v0]
        e = V[self.v1] - v0
        n0 = e.cross(V[self.a] - v0, dim=1)
        n1 = -e.cross(V[self.b] - v0, dim=1)
        return (1.0 - torch.cosine_similarity(n0, n1, dim=1)).mean()


class _Rng:
    """A private random stream for pytorch3d's sampling (which draws from torch's global
    generator): seeded once, swapped in around each use, so the fit is reproducible and the
    caller's global random state is left alone."""

    def __init__(self, seed: int, device) -> None:
        import torch

        self._cuda = device if device.type == "cuda" else None
        with torch.random.fork_rng(devices=[self._cuda] if self._cuda else []):
            torch.manual_seed(seed)
            self._state = self._get()

    def _get(self):
        import torch

        return (torch.get_rng_state(),
                torch.cuda.get_rng_state(self._cuda) if self._cuda else None)

    @contextmanager
    def active(self) -> Iterator[None]:
        import torch

        with torch.random.fork_rng(devices=[self._cuda] if self._cuda else []):
            torch.set_rng_state(self._state[0])
            if self._cuda:
                torch.cuda.set_rng_state(self._state[1], self._cuda)
            yield
            self._state = self._get()


def _chamfer(a, b):
    """pytorch3d's ``chamfer_distance`` of two clouds (n, 3) and (m, 3) (mean squared
    nearest-neighbour distance each way, summed), with the neighbours found by a scipy k-d
    tree instead of pytorch3d's brute-force CPU ``knn_points``. The neighbour choice carries
    no gradient in either, so value and gradient are the same."""
    import torch
    from scipy.spatial import cKDTree

    a_np, b_np = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    ia = torch.as_tensor(cKDTree(b_np).query(a_np)[1], device=a.device)
    ib = torch.as_tensor(cKDTree(a_np).query(b_np)[1], device=a.device)
    return (a - b[ia]).pow(2).sum(dim=1).mean() + (b - a[ib]).pow(2).sum(dim=1).mean()


def _cosine_lr(cfg: FitConfig, it: int) -> float:
    """Learning rate of iteration ``it``: cosine from ``lr`` to ``lr * lr_final``."""
    if cfg.iterations <= 1:
        return cfg.lr
    t = it / (cfg.iterations - 1)
    return cfg.lr * (cfg.lr_final + (1.0 - cfg.lr_final) * 0.5 * (1.0 + math.cos(math.pi * t)))


def _measure(vertices: np.ndarray, F: np.ndarray, Vt: np.ndarray, Ft: np.ndarray,
             kp: tuple[np.ndarray, np.ndarray, np.ndarray] | None, cfg: FitConfig,
             iterations: int, t_start: float, cancelled: bool) -> FittedShape:
    from core.shape_space.metrics import surface_chamfer

    cham = surface_chamfer(vertices, F, Vt, Ft, n=cfg.eval_samples, seed=cfg.seed)
    if kp is None:
        kp_err, n_kp = float("nan"), 0
    else:
        P = np.einsum("sc,scd->sd", kp[1], vertices[F[kp[0]]])
        kp_err, n_kp = float(np.linalg.norm(P - kp[2], axis=1).mean()), len(P)
    return FittedShape(vertices=vertices, chamfer=cham.chamfer, rms=cham.rms,
                       keypoint_error=kp_err, n_keypoints=n_kp, iterations=iterations,
                       seconds=time.perf_counter() - t_start, cancelled=cancelled)
