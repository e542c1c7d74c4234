"""Synthetic renders of category models: shaded image, mask, camera and 2D keypoints.

Each view draws the mesh with a z-buffer at pixel centres (:func:`core.raster.fast_mask.
face_buffer`, or pytorch3d's hard rasterizer on request), so the object's pixels are exactly
the hard mask of the camera. Faces are shaded flat (one colour) or Lambert with per-face
normals and a directional light from near the camera, over a random background (colour
gradient, smooth noise texture or flat colour). Keypoints are the model's landmarks projected
by the same camera, with visibility from :func:`core.pose.projection.project_keypoints`.

Everything random comes from the ``numpy.random.Generator`` passed in (or from the seed of
:func:`render_dataset`), so a seed gives identical images.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from core.cameras import PerspectiveCamera
from core.pose.projection import project_keypoints
from core.raster.fast_mask import face_buffer
from core.raster.interface import FastRasterizer, Pytorch3dRasterizer, project

BACKGROUNDS = ("noise", "gradient", "flat")
SHADINGS = ("lambert", "flat")

# COCO keypoint flags.
ABSENT, OCCLUDED, VISIBLE = 0, 1, 2


@dataclass(frozen=True)
class Viewpoint:
    """A camera direction around a model, independent of its size.

    Attributes:
        azimuth, elevation, roll: degrees (see :mod:`core.cameras.rotations`).
        distance_scale: >= 1, multiplies the distance at which the model's bounding sphere
            just fits the field of view (1 = fills the frame).
        fov: vertical field of view, degrees.
    """

    azimuth: float
    elevation: float
    roll: float = 0.0
    distance_scale: float = 1.1
    fov: float = 30.0


@dataclass(frozen=True)
class SyntheticKeypoints:
    """The landmarks of one view.

    Attributes:
        names: landmark names, N (the category's full list when known).
        uv: (N, 2) float64 pixels; NaN for landmarks the model lacks.
        visible: (N,) bool, in the image and not hidden.
        flags: (N,) int8 COCO flags: 2 visible, 1 in the image but occluded, 0 absent from
            the model, outside the image or behind the camera.
        xyz: (N, 3) float64 world positions; NaN where absent.
        faces: (N,) int64 face of each landmark; -1 where absent.
    """

    names: tuple[str, ...]
    uv: np.ndarray
    visible: np.ndarray
    flags: np.ndarray
    xyz: np.ndarray
    faces: np.ndarray


@dataclass(frozen=True)
class SyntheticView:
    """One render.

    Attributes:
        rgb: (H, W, 3) uint8 image.
        mask: (H, W) bool object mask (the hard mask of ``camera``).
        camera: the ground-truth :class:`PerspectiveCamera` (batch of one, float64).
        camera_dict: ``camera.to_dict()``.
        keypoints: :class:`SyntheticKeypoints`.
        model_id: the model's id ("" when rendering bare arrays).
        face: (H, W) int64 face index per pixel, -1 for background.
    """

    rgb: np.ndarray
    mask: np.ndarray
    camera: PerspectiveCamera
    camera_dict: dict
    keypoints: SyntheticKeypoints
    model_id: str = ""
    face: np.ndarray | None = field(default=None, repr=False)


# -- viewpoints ----------------------------------------------------------------------------
def sample_viewpoints(n: int, rng: np.random.Generator,
                      azimuth_range: tuple[float, float] = (-180.0, 180.0),
                      elevation_range: tuple[float, float] = (-10.0, 45.0),
                      distance_range: tuple[float, float] = (1.05, 1.35),
                      roll_jitter: float = 10.0,
                      fov_range: tuple[float, float] = (25.0, 40.0)) -> list[Viewpoint]:
    """``n`` random viewpoints: azimuth and elevation uniform in their ranges (degrees),
    ``distance_scale`` uniform in ``distance_range``, roll uniform in +-``roll_jitter``
    degrees, field of view uniform in ``fov_range`` degrees."""
    az = rng.uniform(*azimuth_range, size=n)
    el = rng.uniform(*elevation_range, size=n)
    dist = rng.uniform(*distance_range, size=n)
    roll = rng.uniform(-roll_jitter, roll_jitter, size=n) if roll_jitter > 0 else np.zeros(n)
    fov = rng.uniform(*fov_range, size=n)
    return [Viewpoint(float(a), float(e), float(r), float(d), float(f))
            for a, e, r, d, f in zip(az, el, roll, dist, fov, strict=True)]


def bounding_sphere(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (3,) (the bounding-box centre) and radius of a sphere holding ``vertices``."""
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    centre = (v.min(axis=0) + v.max(axis=0)) / 2.0
    return centre, float(np.sqrt(((v - centre) ** 2).sum(axis=1).max()))


def fit_camera(viewpoint: Viewpoint, vertices: np.ndarray,
               image_size: tuple[int, int]) -> PerspectiveCamera:
    """Perspective camera (float64, batch of one) looking at the model's bounding-sphere
    centre from ``viewpoint``, far enough for the whole sphere to stay inside the image.

    The sphere fits when its angular radius ``asin(r / d)`` is at most the smaller half
    field of view (vertical, or horizontal for portrait images), whatever the roll.
    """
    h, w = int(image_size[0]), int(image_size[1])
    centre, radius = bounding_sphere(vertices)
    half_v = math.radians(viewpoint.fov) / 2.0
    half_h = math.atan(math.tan(half_v) * w / h)
    half = min(half_v, half_h)
    distance = viewpoint.distance_scale * max(radius, 1e-9) / math.sin(half)
    return PerspectiveCamera.create(
        azimuth=viewpoint.azimuth, elevation=viewpoint.elevation, distance=distance,
        roll=viewpoint.roll, fov=viewpoint.fov, target=centre, image_size=(h, w),
        dtype=torch.float64)


# -- image content -------------------------------------------------------------------------
def make_background(kind: str, image_size: tuple[int, int],
                    rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 background: ``"gradient"`` (two random colours along a random
    direction), ``"noise"`` (smooth random colour texture plus fine grain) or ``"flat"``."""
    h, w = int(image_size[0]), int(image_size[1])
    if kind == "flat":
        return np.broadcast_to(rng.integers(0, 256, size=3).astype(np.uint8), (h, w, 3)).copy()
    if kind == "gradient":
        c0, c1 = rng.uniform(0, 255, size=(2, 3))
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        t = (xx - w / 2) * math.cos(angle) + (yy - h / 2) * math.sin(angle)
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
        img = c0 + t[..., None] * (c1 - c0)
        return np.clip(img, 0, 255).astype(np.uint8)
    if kind == "noise":
        cells = int(rng.integers(3, 9))
        coarse = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        grain = rng.normal(0, 12, size=(h, w, 3)).astype(np.float32)
        return np.clip(smooth + grain, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown background {kind!r}; expected one of {BACKGROUNDS}")


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit outward normals (F, 3) of counter-clockwise faces."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def shade_faces(vertices: np.ndarray, faces: np.ndarray, camera: PerspectiveCamera,
                base_color: np.ndarray, shading: str, rng: np.random.Generator,
                ambient: float = 0.3) -> np.ndarray:
    """Colour (F, 3) float of each face: ``base_color`` (3,) 0..255 times a Lambert term
    ``ambient + (1 - ambient) * max(n . l, 0)`` with a light from near the camera
    (``"lambert"``), or the plain colour (``"flat"``)."""
    if shading == "flat":
        return np.broadcast_to(base_color, (len(faces), 3)).astype(np.float64)
    if shading != "lambert":
        raise ValueError(f"unknown shading {shading!r}; expected one of {SHADINGS}")
    centre = camera.center()[0].numpy()
    target = camera.target[0].numpy()
    light = centre - target
    light = light / np.linalg.norm(light) + rng.normal(0, 0.35, size=3)
    light /= np.linalg.norm(light)
    lambert = np.clip(face_normals(vertices, faces) @ light, 0.0, 1.0)
    return base_color[None, :] * (ambient + (1.0 - ambient) * lambert)[:, None]


# -- rendering -----------------------------------------------------------------------------
def _model_arrays(model):
    """vertices (V, 3), faces (F, 3), landmarks dict, model id, category landmark names."""
    if isinstance(model, tuple):
        vertices, faces, landmarks = model
        model_id = ""
    else:
        vertices, faces, landmarks = model.vertices, model.faces, model.landmarks
        model_id = getattr(model, "model_id", "")
    return (np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64),
            dict(landmarks or {}), model_id)


def _category_names(model_id: str) -> tuple[str, ...] | None:
    from core.demo.registry import CATEGORIES, landmark_specs

    category = model_id.rsplit("_", 1)[0]
    if category in CATEGORIES:
        return tuple(s.name for s in landmark_specs(category))
    return None


def _keypoints(camera, vertices, faces, landmarks: dict, names: Sequence[str],
               rasterizer) -> SyntheticKeypoints:
    n = len(names)
    xyz = np.full((n, 3), np.nan)
    face = np.full(n, -1, dtype=np.int64)
    for i, name in enumerate(names):
        point = landmarks.get(name)
        if point is not None:
            xyz[i] = point.xyz
            face[i] = point.face
    present = face >= 0
    uv = np.full((n, 2), np.nan)
    visible = np.zeros(n, dtype=bool)
    flags = np.zeros(n, dtype=np.int8)
    if present.any():
        proj = project_keypoints(camera, vertices, faces, xyz[present],
                                 point_faces=face[present], rasterizer=rasterizer)
        uv[present] = proj.uv
        visible[present] = proj.visible
        flags[present] = np.where(proj.visible, VISIBLE,
                                  np.where(proj.in_image, OCCLUDED, ABSENT))
    return SyntheticKeypoints(tuple(names), uv, visible, flags, xyz, face)


def render_view(model, camera: PerspectiveCamera, rng: np.random.Generator,
                background: str = "noise", shading: str = "lambert",
                base_color: Sequence[float] | None = None,
                landmark_names: Sequence[str] | None = None,
                rasterizer: str = "fast") -> SyntheticView:
    """Render one view of ``model`` seen by ``camera`` (its ``image_size`` sets the size).

    Args:
        model: a :class:`core.demo.DemoModel` (or any object with ``vertices`` (V, 3),
            ``faces`` (F, 3), ``landmarks`` name -> :class:`~core.demo.SurfacePoint``), or a
            tuple ``(vertices, faces, landmarks)``.
        camera: perspective camera, batch of one.
        rng: all randomness (background, colour, light).
        background: one of :data:`BACKGROUNDS` or ``"random"``.
        shading: ``"lambert"`` or ``"flat"``.
        base_color: (3,) RGB 0..255 (default: random, away from black and white).
        landmark_names: keypoint order; default: the demo category's full list when the
            model id names one (absent landmarks then get flag 0), else the model's own.
        rasterizer: ``"fast"`` (numpy z-buffer and ray casting) or ``"pytorch3d"`` (its hard
            rasterizer and z-buffer, on CPU).

    Returns:
        :class:`SyntheticView`.
    """
    vertices, faces, landmarks, model_id = _model_arrays(model)
    h, w = camera.image_size
    if background == "random":
        background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    bg = make_background(background, (h, w), rng)
    color = (np.asarray(base_color, dtype=np.float64) if base_color is not None
             else rng.uniform(60, 230, size=3))
    colors = shade_faces(vertices, faces, camera, color, shading, rng)
    uv, depth = project(camera, vertices)
    if rasterizer == "fast":
        backend = FastRasterizer()
        face, _ = face_buffer(uv, depth, faces, (h, w), perspective=True)
    elif rasterizer == "pytorch3d":
        from core.raster.pytorch3d_hard import rasterize_hard

        backend = Pytorch3dRasterizer()
        face = rasterize_hard(uv, depth, faces, (h, w),
                              perspective_correct=True).pix_to_face.numpy()
    else:
        raise ValueError(f"unknown rasterizer {rasterizer!r}; expected 'fast' or 'pytorch3d'")
    mask = face >= 0
    rgb = bg.copy()
    rgb[mask] = np.clip(np.rint(colors[face[mask]]), 0, 255).astype(np.uint8)
    names = (tuple(landmark_names) if landmark_names is not None
             else _category_names(model_id) or tuple(landmarks))
    keypoints = _keypoints(camera, vertices, faces, landmarks, names, backend)
    return SyntheticView(rgb=rgb, mask=mask, camera=camera, camera_dict=camera.to_dict(),
                         keypoints=keypoints, model_id=model_id, face=face)


def render_dataset(category: str, n_per_model: int, image_size: tuple[int, int] = (128, 128),
                   seed: int = 0, n_models: int = 4, background: str = "random",
                   shading: str = "lambert", **viewpoint_kwargs) -> Iterator[SyntheticView]:
    """Renders of the demo ``category`` (``n_models`` models from
    :func:`core.demo.generate_category` with ``seed``), ``n_per_model`` views each, in
    model order. Model ``i`` draws from ``default_rng([seed, c, i])`` (``c`` the category's
    index in :data:`core.demo.CATEGORIES`), so the same arguments give identical views.
    ``viewpoint_kwargs`` go to :func:`sample_viewpoints`."""
    from core.demo import CATEGORIES, generate_category

    cat = generate_category(category, seed=seed, n_models=n_models)
    names = tuple(s.name for s in cat.landmarks)
    for i, model in enumerate(cat.models):
        rng = np.random.default_rng([seed, CATEGORIES.index(category), i])
        color = rng.uniform(60, 230, size=3)
        for vp in sample_viewpoints(n_per_model, rng, **viewpoint_kwargs):
            camera = fit_camera(vp, model.vertices, image_size)
            yield render_view(model, camera, rng, background=background, shading=shading,
                              base_color=color, landmark_names=names)
