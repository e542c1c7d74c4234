"""The image a pose run works on, with its mask and (when known) ground truth.

Three kinds of source, each loaded off the GUI thread by a plain function:

- :func:`synthetic_source`: a held-out synthetic view of the category's template mesh (a
  random viewpoint from :func:`core.synthetic.renders.sample_viewpoints`, seeded), rendered
  with :func:`core.synthetic.renders.render_view`. Its mask is the render's, and its ground
  truth is exact: the camera and the template's semantic points projected by it.
- :func:`project_image_source`: an image stored in the project (``core.store.image_store``),
  its stored mask (GrabCut in an inset box when it has none), and ground truth from its 2D
  keypoints (matched to the template's sets by set id) or else its stored camera.
- :func:`file_source`: an image file (the image view's), mask by GrabCut; no ground truth.
  A missing or unreadable file raises :class:`core.images.ImageError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.pose.category_template import CategoryTemplate
from core.pose.projection import project_keypoints
from core.raster.interface import FastRasterizer

# imported with the window, not on the first run: imports in a worker thread (cv2 here)
# hold the GIL while their libraries load and stall the GUI thread
from core.synthetic.renders import fit_camera, render_view, sample_viewpoints
from ui.pose.records import CameraGeometry, camera_geometry

SYNTHETIC_SIZE = (240, 320)  # (height, width) of synthetic demo images
GRABCUT_INSET = 0.05  # GrabCut box: the image minus this fraction on every side


@dataclass(frozen=True)
class GroundTruth:
    """Known answer for a source image.

    Attributes:
        uv: (N, 2) true pixel positions of the template's N points (NaN where unknown).
        known: (N,) bool, a true position exists.
        visible: (N,) bool, visible in the image (False when unknown).
        geometry: the true camera, when known.
    """

    uv: np.ndarray
    known: np.ndarray
    visible: np.ndarray
    geometry: CameraGeometry | None


@dataclass(frozen=True)
class PoseSource:
    """An image to pose: ``rgb`` (H, W, 3) uint8, ``mask`` (H, W) bool, where the mask came
    from (``"render"``, ``"stored"``, ``"grabcut"``) and optional ground truth."""

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    mask_origin: str
    truth: GroundTruth | None = None


def _truth_from_camera(camera, template: CategoryTemplate) -> GroundTruth:
    kp = project_keypoints(camera, template.vertices, template.faces, template.points,
                           template.point_faces, rasterizer=FastRasterizer())
    known = np.asarray(kp.in_image, dtype=bool)
    uv = np.where(known[:, None], kp.uv, np.nan)
    return GroundTruth(uv=uv, known=known, visible=np.asarray(kp.visible, dtype=bool),
                       geometry=camera_geometry(camera))


def synthetic_source(template: CategoryTemplate, seed: int = 0,
                     image_size: tuple[int, int] = SYNTHETIC_SIZE) -> PoseSource:
    """A seeded random view of the template mesh (see the module docstring)."""
    rng = np.random.default_rng([int(seed), 20_240_817])
    viewpoint = sample_viewpoints(1, rng)[0]
    camera = fit_camera(viewpoint, template.vertices, image_size)
    view = render_view((template.vertices, template.faces, {}), camera, rng,
                       landmark_names=())  # (truth below, from the template's points)
    name = (f"synthetic {template.category}/{template.model} (seed {seed}: az "
            f"{viewpoint.azimuth:.0f}, el {viewpoint.elevation:.0f})")
    return PoseSource(name, view.rgb, view.mask, "render",
                      _truth_from_camera(view.camera, template))


def grabcut(rgb: np.ndarray) -> np.ndarray:
    """The object's mask by GrabCut in the image minus :data:`GRABCUT_INSET` per side."""
    from core.masks import grabcut_mask

    h, w = rgb.shape[:2]
    box = (w * GRABCUT_INSET, h * GRABCUT_INSET, w * (1 - GRABCUT_INSET),
           h * (1 - GRABCUT_INSET))
    return grabcut_mask(rgb, box)


def project_image_source(store, image_id: int, template: CategoryTemplate) -> PoseSource:
    """A project image with its mask and ground truth (see the module docstring).

    Raises:
        core.store.NotFound, core.images.ImageError: no such image, undecodable data.
    """
    from core.cameras import PerspectiveCamera, camera_from_dict
    from core.store.image_store import (
        get_camera,
        get_image,
        get_mask,
        image_info,
        image_keypoints,
    )

    info = image_info(store, image_id)
    rgb = get_image(store, image_id)
    mask = get_mask(store, image_id)
    origin = "stored"
    if mask is None:
        mask, origin = grabcut(rgb), "grabcut"
    truth = None
    points = {p.set_id: p for p in image_keypoints(store, image_id)}
    if any(int(s) in points for s in template.set_ids):
        n = len(template.set_ids)
        uv, known, visible = np.full((n, 2), np.nan), np.zeros(n, bool), np.zeros(n, bool)
        for i, set_id in enumerate(template.set_ids.tolist()):
            p = points.get(int(set_id))
            if p is not None and p.x is not None and p.y is not None:
                uv[i], known[i], visible[i] = (p.x, p.y), True, p.state == "visible"
        truth = GroundTruth(uv, known, visible, None)
    camera_dict = get_camera(store, image_id)
    if camera_dict is not None:
        camera = camera_from_dict(camera_dict)
        if isinstance(camera, PerspectiveCamera) and tuple(camera.image_size) == rgb.shape[:2]:
            from_camera = _truth_from_camera(camera, template)
            truth = from_camera if truth is None else GroundTruth(
                truth.uv, truth.known, truth.visible, from_camera.geometry)
    return PoseSource(f"project image {info.name}", rgb, mask, origin, truth)


def file_source(path: str | Path) -> PoseSource:
    """An image file, masked by GrabCut. Raises ImageError (missing/broken file, naming it)
    or MaskError (GrabCut found nothing)."""
    from core.images import load_image_rgb

    rgb = load_image_rgb(path)
    return PoseSource(f"file {Path(path).name}", rgb, grabcut(rgb), "grabcut")
