"""Mug category (ShapeNet 03797390): hollow cup, a handle on +X, optional second handle.

Construction frame (before normalization): the cup stands on y = 0 with its axis along
+Y and height 1; the handle is on the +X side, +Z is the front.

- Body: (outer cone frustum ∪ handles) − cavity; the cavity is a frustum parallel to
  the outer wall (constant wall thickness) starting above a solid base, so the rim is a
  flat annulus.
- Handle: a torus (elliptic tube) in the plane z = 0, stretched vertically, centred
  outside the wall so more than half of it sticks out; the part inside the wall and the
  cavity is absorbed by the union and cut by the cavity.
- Optional second handle (part ``"second_handle"``): the mirror image on -X.

Symmetry used for landmark mirrors: the handle plane z = 0 (front <-> back). Points on
that plane (handles, left/right rim and base points, centres) have no mirror.
"""

from __future__ import annotations

import manifold3d as m3
import numpy as np

from core.demo import parts
from core.demo.construction import Construction
from core.demo.types import LandmarkSpec

__all__ = ["SHAPENET_ID", "SPECS", "build"]

SHAPENET_ID = "03797390"

SPECS: tuple[LandmarkSpec, ...] = (
    LandmarkSpec("rim_front", "rim_back"),
    LandmarkSpec("rim_back", "rim_front"),
    LandmarkSpec("rim_left"),
    LandmarkSpec("rim_right"),
    LandmarkSpec("wall_middle_front", "wall_middle_back"),
    LandmarkSpec("wall_middle_back", "wall_middle_front"),
    LandmarkSpec("base_front", "base_back"),
    LandmarkSpec("base_back", "base_front"),
    LandmarkSpec("base_left"),
    LandmarkSpec("base_right"),
    LandmarkSpec("bottom_center"),
    LandmarkSpec("inner_bottom_center"),
    LandmarkSpec("handle_top"),
    LandmarkSpec("handle_bottom"),
    LandmarkSpec("handle_outer_middle"),
    LandmarkSpec("handle_inner_middle"),
    LandmarkSpec("second_handle_top", part="second_handle"),
    LandmarkSpec("second_handle_bottom", part="second_handle"),
    LandmarkSpec("second_handle_outer_middle", part="second_handle"),
)

BODY_SEGMENTS = 128  # divisible by 4: front/back/left/right of each circle are vertices
HANDLE_SEGMENTS = 72  # revolve steps; divisible by 4 (top, bottom, outer middle)
TUBE_SEGMENTS = 20  # tube cross-section; even (outer and inner side are vertices)


def build(rng: np.random.Generator, optional: bool | None = None) -> Construction:
    """Draw one mug.

    Args:
        rng: the model's random generator.
        optional: True forces the second handle, False leaves it out, None draws.
    """
    height = 1.0
    r_bottom = rng.uniform(0.3, 0.45)
    r_top = r_bottom * rng.uniform(0.95, 1.2)
    wall = r_bottom * rng.uniform(0.06, 0.1)
    base = rng.uniform(0.05, 0.09)

    def r_out(y: float) -> float:
        return r_bottom + (r_top - r_bottom) * y / height

    outer = parts.cylinder_y((0.0, 0.0, 0.0), height, r_bottom, r_top, BODY_SEGMENTS)
    top = height + 0.1
    cavity = parts.cylinder_y(
        (0.0, base, 0.0), top - base, r_out(base) - wall, r_out(top) - wall, BODY_SEGMENTS
    )

    # Handle: torus of centre-line radius R and tube radius a, stretched by sy in Y.
    big_r = rng.uniform(0.18, 0.28)
    tube = big_r * rng.uniform(0.15, 0.25)
    flat = rng.uniform(0.6, 1.0)
    stretch = rng.uniform(1.0, 1.4)
    centre_y = rng.uniform(0.45, 0.6)
    reach = big_r + tube
    stretch = min(stretch, (0.93 * height - centre_y) / reach, (centre_y - 0.1) / reach)
    y_top, y_bottom = centre_y + stretch * reach, centre_y - stretch * reach
    centre_x = max(r_out(y_top), r_out(y_bottom)) + rng.uniform(0.12, 0.4) * big_r
    section = m3.CrossSection.circle(tube, TUBE_SEGMENTS).scale((1.0, flat)).translate((big_r, 0.0))
    torus = m3.Manifold.revolve(section, HANDLE_SEGMENTS)
    placement = parts.translation((centre_x, centre_y, 0.0)) @ np.diag([1.0, stretch, 1.0, 1.0])
    handle = parts.transform(torus, placement)

    draw = bool(rng.random() < 0.4)
    second = {True: True, False: False, None: draw}[optional]
    handles = [handle, handle.mirror((1.0, 0.0, 0.0))] if second else [handle]
    solid = parts.difference(parts.union([outer, *handles]), [cavity])

    r_mid = r_out(0.5 * height)
    rim = 0.5 * (r_out(height) + r_out(height) - wall)
    points = {
        "rim_front": np.array([0.0, height, rim]),
        "rim_back": np.array([0.0, height, -rim]),
        "rim_left": np.array([rim, height, 0.0]),
        "rim_right": np.array([-rim, height, 0.0]),
        "wall_middle_front": np.array([0.0, 0.5 * height, r_mid]),
        "wall_middle_back": np.array([0.0, 0.5 * height, -r_mid]),
        "base_front": np.array([0.0, 0.0, r_bottom]),
        "base_back": np.array([0.0, 0.0, -r_bottom]),
        "base_left": np.array([r_bottom, 0.0, 0.0]),
        "base_right": np.array([-r_bottom, 0.0, 0.0]),
        "bottom_center": np.array([0.0, 0.0, 0.0]),
        "inner_bottom_center": np.array([0.0, base, 0.0]),
        "handle_top": np.array([centre_x, y_top, 0.0]),
        "handle_bottom": np.array([centre_x, y_bottom, 0.0]),
        "handle_outer_middle": np.array([centre_x + reach, centre_y, 0.0]),
        "handle_inner_middle": np.array([centre_x + big_r - tube, centre_y, 0.0]),
    }
    if second:
        for name in ("top", "bottom", "outer_middle"):
            p = points[f"handle_{name}"]
            points[f"second_handle_{name}"] = np.array([-p[0], p[1], p[2]])
    params: dict[str, float | bool] = {
        "height": height,
        "radius_bottom": float(r_bottom),
        "radius_top": float(r_top),
        "wall_thickness": float(wall),
        "base_thickness": float(base),
        "handle_radius": float(big_r),
        "handle_tube_radius": float(tube),
        "handle_stretch": float(stretch),
        "handle_height": float(centre_y),
        "has_second_handle": second,
    }
    return Construction(solid, points, params)
