"""Training data of the learned 2D stages: synthetic renders of a category's meshes.

Meshes and semantic points come from the project store: the labels are those of
:func:`core.shape_space.template.semantic_targets` with its defaults (one annotator, the one
with the most placed points), so they equal the shape space's labels. A view is a
:func:`core.synthetic.renders.render_view` of one model (random viewpoint, background,
colour and light) with the model's placed semantic points projected; visibility comes from
ray casting against the mesh. A point the annotator marked *absent* on that model is "known
invisible"; a point simply not placed (missing) is unknown and does not count in any loss.

The crop shared by training and inference is the square around the object's mask box,
:data:`DEFAULT_MARGIN` of the box's longer side added on each side, resampled to the
network's input size. Crop pixels follow the image convention (pixel ``i`` covers
``[i, i+1)``); a crop of side ``side`` image pixels starting at ``(x0, y0)`` maps a crop
position ``c`` to the image position ``(x0, y0) + c * side / size``.

Everything random comes from ``numpy.random.default_rng([seed, stream, crc32(model)])``, so a
seed gives identical views, and a model's views do not depend on which other models are
rendered. Angles are degrees, positions pixels.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.learned2d.split import split_models
from core.pose.viewpoint import azimuth_bin, elevation_bin

DEFAULT_MARGIN = 0.1
N_AZIMUTH, N_ELEVATION = 24, 12
ELEVATION_RANGE = (-90.0, 90.0)  # the viewpoint bins' range (core.pose.viewpoint)


class ImageDataError(ValueError):
    """The category cannot give training views (no models, no points, unreadable mesh)."""


# ----------------------------------------------------------------------------- crops


@dataclass(frozen=True)
class CropBox:
    """A square crop of an image: image pixels ``[x0, x0 + side) x [y0, y0 + side)``."""

    x0: float
    y0: float
    side: float

    def to_crop(self, uv: np.ndarray, size: int) -> np.ndarray:
        """Image positions (..., 2) -> positions in the ``size`` x ``size`` crop, pixels."""
        return (np.asarray(uv, dtype=np.float64) - [self.x0, self.y0]) * (size / self.side)

    def to_image(self, uv: np.ndarray, size: int) -> np.ndarray:
        """Crop positions (..., 2) -> image positions, pixels."""
        return np.asarray(uv, dtype=np.float64) * (self.side / size) + [self.x0, self.y0]


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` pixel-edge box of a non-empty (H, W) mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ImageDataError("the mask is empty: no object to crop")
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def crop_box(box: tuple[float, float, float, float], margin: float = DEFAULT_MARGIN,
             jitter: np.ndarray | None = None) -> CropBox:
    """The square crop around ``box`` ``(x0, y0, x1, y1)``: side ``(1 + 2 margin)`` times
    the box's longer side, same centre.

    Args:
        jitter: optional (3,) ``(dx, dy, ds)``: centre shift as fractions of the side and
            a log-scale factor (training augmentation).
    """
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, 1.0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    if jitter is not None:
        cx, cy = cx + jitter[0] * side, cy + jitter[1] * side
        side *= math.exp(float(jitter[2]))
    return CropBox(cx - side / 2.0, cy - side / 2.0, side)


def image_crop_box(mask: np.ndarray | None, image_size: tuple[int, int],
                   margin: float = DEFAULT_MARGIN) -> CropBox:
    """The crop of an image: around the mask's box, or around the whole image (no margin)
    when ``mask`` is None."""
    if mask is None:
        h, w = int(image_size[0]), int(image_size[1])
        return crop_box((0.0, 0.0, float(w), float(h)), margin=0.0)
    return crop_box(mask_box(np.asarray(mask, dtype=bool)), margin)


def crop_image(rgb: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """(size, size, 3) uint8 resampling of ``rgb`` (H, W, 3) over ``box`` (bilinear);
    outside the image the edge pixels repeat, so an image padded with its own edge pixels
    gives the same crop. Downscaled crops are low-pass filtered first (Gaussian, sigma
    ``0.5 * (scale - 1)`` image pixels) against aliasing."""
    import cv2

    scale = box.side / size  # image pixels per crop pixel
    pad = int(math.ceil(3 * scale)) + 2
    ox, oy = int(math.floor(box.x0)) - pad, int(math.floor(box.y0)) - pad
    n = int(math.ceil(box.side)) + 2 * pad + 1
    h, w = rgb.shape[:2]
    rows = np.clip(np.arange(oy, oy + n), 0, h - 1)
    cols = np.clip(np.arange(ox, ox + n), 0, w - 1)
    src = np.ascontiguousarray(np.asarray(rgb)[rows][:, cols])  # edge pixels repeated
    if scale > 1.5:
        src = cv2.GaussianBlur(src, (0, 0), 0.5 * (scale - 1.0),
                               borderType=cv2.BORDER_REPLICATE)
    # crop pixel j (centre j + 0.5) samples image position x0 + (j + 0.5) * scale, that is
    # source index x0 + (j + 0.5) * scale - 0.5 (cv2 puts pixel centres at integers)
    matrix = np.array([[scale, 0.0, (box.x0 - ox) + 0.5 * scale - 0.5],
                       [0.0, scale, (box.y0 - oy) + 0.5 * scale - 0.5]])
    return cv2.warpAffine(src, matrix, (size, size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


# ----------------------------------------------------------------------------- meshes


@dataclass(frozen=True)
class SurfacePoint:
    """A semantic point on a mesh: ``xyz`` (3,) normalized units, ``face`` index."""

    xyz: np.ndarray
    face: int


@dataclass(frozen=True)
class ModelMesh:
    """One model with its semantic points.

    Attributes:
        name: model name.
        vertices: (V, 3) float64, normalized units; faces: (F, 3) int64.
        points: label -> :class:`SurfacePoint` of the placed points.
        absent: labels marked absent on this model (known not to exist).
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    points: dict[str, SurfacePoint]
    absent: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CategoryMeshes:
    """A category's meshes for the image stages.

    Attributes:
        category: category name.
        labels: S semantic point labels (the shape space's order).
        models: the loaded models.
        category_models: every model name of the category (the split is over these).
    """

    category: str
    labels: tuple[str, ...]
    models: tuple[ModelMesh, ...]
    category_models: tuple[str, ...]

    def split(self, seed: int = 0) -> tuple[tuple[ModelMesh, ...], tuple[ModelMesh, ...]]:
        """(train, held_out) loaded models by :func:`core.learned2d.split.split_models`
        over all the category's models."""
        train, _ = split_models(self.category_models, seed=seed)
        keep = set(train)
        return (tuple(m for m in self.models if m.name in keep),
                tuple(m for m in self.models if m.name not in keep))

    def digest(self) -> str:
        """sha256 of labels, names, meshes and points (identifies the training data)."""
        h = hashlib.sha256(repr((self.category, self.labels)).encode())
        for m in self.models:
            h.update(m.name.encode())
            h.update(np.ascontiguousarray(m.vertices, dtype=np.float64).tobytes())
            h.update(np.ascontiguousarray(m.faces, dtype=np.int64).tobytes())
            for label in sorted(m.points):
                h.update(label.encode())
                h.update(np.asarray(m.points[label].xyz, dtype=np.float64).tobytes())
            h.update(repr(sorted(m.absent)).encode())
        return h.hexdigest()


def load_category_meshes(store, category: str, models: Sequence[str] | None = None,
                         mode: str = "annotator",
                         annotator: str | None = None) -> CategoryMeshes:
    """Meshes and semantic points of ``category`` (all models, or the named ones).

    Raises:
        ImageDataError: unknown category or model, no placed point, an unreadable mesh
            (the message names the model).
    """
    from core.geometry.mesh import MeshError
    from core.geometry.surface import closest_points
    from core.model_scene import load_model_scene
    from core.shape_space.errors import ShapeSpaceError
    from core.shape_space.template import semantic_targets
    from core.store import ProjectError
    from core.store.records import ABSENT

    try:
        sets = store.category_sets(category)
        targets = semantic_targets(sets, mode=mode, annotator=annotator)
    except (ProjectError, KeyError, ShapeSpaceError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise ImageDataError(f"category {category!r}: {msg}") from exc
    names = tuple(targets.model_names)
    if not names:
        raise ImageDataError(f"category {category!r} has no models")
    wanted = names if models is None else tuple(models)
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ImageDataError(f"category {category!r} has no model {unknown[0]!r}")
    column = {f"{a}:{int(n)}": c for c, (a, n) in
              enumerate(zip(sets.set_annotators, sets.set_numbers, strict=True))}
    loaded = []
    for name in wanted:
        row = names.index(name)
        try:
            scene = load_model_scene(store, store.model(category, name))
        except (MeshError, KeyError) as exc:
            raise ImageDataError(f"model {category}/{name}: {exc}") from exc
        placed = np.flatnonzero(targets.placed[row])
        faces = np.array([sets.faces[row, column[targets.labels[s]]]
                          if targets.labels[s] in column else -1 for s in placed], np.int64)
        if (faces < 0).any():  # consensus points: snap to the mesh
            snap = closest_points(scene.vertices, scene.faces, targets.xyz[row, placed])
            faces = np.where(faces < 0, snap.face, faces)
        points = {targets.labels[s]: SurfacePoint(targets.xyz[row, s].copy(), int(f))
                  for s, f in zip(placed, faces, strict=True)}
        absent = frozenset(label for label in targets.labels if label in column
                           and sets.state[row, column[label]] == ABSENT)
        loaded.append(ModelMesh(name, scene.vertices, scene.faces, points, absent))
    return CategoryMeshes(category, tuple(targets.labels), tuple(loaded), names)


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True)
class RenderConfig:
    """How views are rendered (stored in checkpoints).

    Attributes:
        image_size: square render side, pixels.
        azimuth_range, elevation_range, distance_range, fov_range: viewpoint sampling
            (degrees; distance as a multiple of the fitting distance).
        roll_jitter: roll uniform in +- this, degrees.
    """

    image_size: int = 128
    azimuth_range: tuple[float, float] = (-180.0, 180.0)
    elevation_range: tuple[float, float] = (-10.0, 45.0)
    distance_range: tuple[float, float] = (1.05, 1.35)
    fov_range: tuple[float, float] = (25.0, 40.0)
    roll_jitter: float = 10.0


@dataclass(frozen=True)
class ViewSet:
    """N rendered views with their ground truth (S semantic points).

    Attributes:
        rgb: (N, H, W, 3) uint8 renders.
        box: (N, 4) float64 mask boxes ``(x0, y0, x1, y1)``, pixel edges.
        uv: (N, S, 2) float64 projected points, image pixels; NaN where not placed.
        visible: (N, S) bool, placed, in the image and not hidden (ray cast).
        placed: (N, S) bool, the point is placed on the view's model.
        known: (N, S) bool, visibility is known (placed, or marked absent).
        azimuth, elevation: (N,) float64 camera angles, degrees.
        azimuth_bin, elevation_bin: (N,) int64 viewpoint bins (:mod:`core.pose.viewpoint`).
        model: (N,) int64 index into ``model_names``.
        model_names: the rendered models.
        masks: (N, H, W) bool silhouettes, or None (kept only when asked: evaluation).
        cameras: N ground-truth cameras (``PerspectiveCamera.to_dict()``), or () (ditto).
    """

    rgb: np.ndarray
    box: np.ndarray
    uv: np.ndarray
    visible: np.ndarray
    placed: np.ndarray
    known: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    azimuth_bin: np.ndarray
    elevation_bin: np.ndarray
    model: np.ndarray
    model_names: tuple[str, ...] = field(default=())
    masks: np.ndarray | None = None
    cameras: tuple[dict, ...] = ()

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    @classmethod
    def concatenate(cls, parts: Sequence[ViewSet]) -> ViewSet:
        """One set of the views of ``parts`` (model indices renumbered)."""
        if not parts:
            raise ValueError("no view sets to concatenate")
        names: tuple[str, ...] = ()
        models = []
        for part in parts:
            models.append(part.model + len(names))
            names += part.model_names
        arrays = {k: np.concatenate([getattr(p, k) for p in parts])
                  for k in ("rgb", "box", "uv", "visible", "placed", "known", "azimuth",
                            "elevation", "azimuth_bin", "elevation_bin")}
        return cls(**arrays, model=np.concatenate(models), model_names=names)

    def box_normalised(self) -> np.ndarray:
        """(N, S, 2) points relative to the mask box: 0 at ``(x0, y0)``, 1 at ``(x1, y1)``."""
        lo = self.box[:, None, :2]
        return (self.uv - lo) / np.maximum(self.box[:, None, 2:] - lo, 1.0)


def model_rng(seed: int, stream: int, name: str) -> np.random.Generator:
    """The generator of one model's views in one stream (0 training, 1 validation...)."""
    return np.random.default_rng([seed, stream, zlib.crc32(name.encode("utf-8"))])


def render_views(models: Sequence[ModelMesh], labels: Sequence[str], views_per_model: int,
                 config: RenderConfig = RenderConfig(), seed: int = 0, stream: int = 0,
                 progress: Callable[[int, int], None] | None = None,
                 cancel=None, keep_masks: bool = False) -> ViewSet:
    """Render ``views_per_model`` views of each model (deterministic per seed and stream).

    Args:
        progress: called with (views done, total) after each model.
        cancel: anything with a ``cancelled`` attribute; stops early (fewer views).
        keep_masks: also keep each view's mask and ground-truth camera (evaluation).
    """
    from core.synthetic.renders import Viewpoint, fit_camera, render_view, sample_viewpoints

    labels = tuple(labels)
    size = (config.image_size, config.image_size)
    total = len(models) * views_per_model
    parts: dict[str, list] = {k: [] for k in ("rgb", "box", "uv", "visible", "placed", "known",
                                              "az", "el", "model", "mask", "camera")}
    for i, m in enumerate(models):
        if cancel is not None and cancel.cancelled:
            break
        rng = model_rng(seed, stream, m.name)
        placed = np.array([label in m.points for label in labels])
        known = placed | np.array([label in m.absent for label in labels])
        for vp in sample_viewpoints(views_per_model, rng, config.azimuth_range,
                                    config.elevation_range, config.distance_range,
                                    config.roll_jitter, config.fov_range):
            view = None
            for _ in range(4):  # a view with an empty mask (never seen so far): try another
                camera = fit_camera(vp, m.vertices, size)
                view = render_view((m.vertices, m.faces, m.points), camera, rng,
                                   background="random", landmark_names=labels)
                if view.mask.any():
                    break
                vp = Viewpoint(vp.azimuth + 7.0, vp.elevation, vp.roll, vp.distance_scale,
                               vp.fov)
            if not view.mask.any():
                continue
            parts["rgb"].append(view.rgb)
            parts["box"].append(mask_box(view.mask))
            parts["uv"].append(view.keypoints.uv)
            parts["visible"].append(view.keypoints.visible)
            parts["placed"].append(placed)
            parts["known"].append(known)
            parts["az"].append(vp.azimuth)
            parts["el"].append(vp.elevation)
            parts["model"].append(i)
            if keep_masks:
                parts["mask"].append(view.mask)
                parts["camera"].append(view.camera_dict)
        if progress is not None:
            progress((i + 1) * views_per_model, total)
    s = len(labels)
    n = len(parts["rgb"])
    az = np.asarray(parts["az"], dtype=np.float64)
    el = np.asarray(parts["el"], dtype=np.float64)
    return ViewSet(
        rgb=np.stack(parts["rgb"]) if n else np.zeros((0, *size, 3), np.uint8),
        box=np.asarray(parts["box"], dtype=np.float64).reshape(n, 4),
        uv=np.asarray(parts["uv"], dtype=np.float64).reshape(n, s, 2),
        visible=np.asarray(parts["visible"], dtype=bool).reshape(n, s),
        placed=np.asarray(parts["placed"], dtype=bool).reshape(n, s),
        known=np.asarray(parts["known"], dtype=bool).reshape(n, s),
        azimuth=az, elevation=el,
        azimuth_bin=np.array([azimuth_bin(a, N_AZIMUTH) for a in az], dtype=np.int64),
        elevation_bin=np.array([elevation_bin(e, N_ELEVATION, ELEVATION_RANGE) for e in el],
                               dtype=np.int64),
        model=np.asarray(parts["model"], dtype=np.int64),
        model_names=tuple(m.name for m in models),
        masks=(np.stack(parts["mask"]) if n else np.zeros((0, *size), bool)) if keep_masks
        else None,
        cameras=tuple(parts["camera"]))


def viewpoint_coordinates(azimuth: np.ndarray, elevation: np.ndarray,
                          n_azimuth: int = N_AZIMUTH, n_elevation: int = N_ELEVATION,
                          elevation_range: tuple[float, float] = ELEVATION_RANGE
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Continuous bin coordinates of angles (degrees): azimuth bin ``k``'s centre is ``k``
    (in ``[0, n_azimuth)``, circular), elevation bin ``j``'s centre is ``j``."""
    az = np.mod(np.asarray(azimuth, dtype=np.float64) / (360.0 / n_azimuth), n_azimuth)
    lo, hi = elevation_range
    el = (np.asarray(elevation, dtype=np.float64) - lo) / ((hi - lo) / n_elevation) - 0.5
    return az, el
