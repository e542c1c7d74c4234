"""Chair category (ShapeNet 03001627): seat, four legs, backrest, optional armrests.

Construction frame (before normalization): floor at y = 0, +Y up, +Z the chair's front,
+X its left (the frame of :mod:`core.demo.types`), units of about one chair height.

- Seat: a slab with rounded vertical corners (hull of four short vertical cylinders).
- Legs: round (tapered cylinders) or square (tapered boxes), possibly splayed outwards;
  their tops reach half-way into the seat.
- Backrest: a slab with rounded top corners, reaching down into the back of the seat,
  tilted backwards; narrower than the seat so the seat's back corners stay visible.
- Optional armrests (part ``"armrests"``): a bar on each side on two posts standing in
  the seat, clear of the backrest.

The finished solid is subdivided (flat, no smoothing) to an even edge length so that it
has a few thousand faces like the other categories. Landmark mirrors swap left (+X)
and right (-X) across the symmetry plane x = 0.
"""

from __future__ import annotations

import manifold3d as m3
import numpy as np

from core.demo import parts
from core.demo.construction import Construction
from core.demo.types import LandmarkSpec

__all__ = ["SHAPENET_ID", "SPECS", "build"]

SHAPENET_ID = "03001627"

SPECS: tuple[LandmarkSpec, ...] = (
    LandmarkSpec("seat_corner_front_left", "seat_corner_front_right"),
    LandmarkSpec("seat_corner_front_right", "seat_corner_front_left"),
    LandmarkSpec("seat_corner_back_left", "seat_corner_back_right"),
    LandmarkSpec("seat_corner_back_right", "seat_corner_back_left"),
    LandmarkSpec("seat_center"),
    LandmarkSpec("seat_front_center"),
    LandmarkSpec("leg_bottom_front_left", "leg_bottom_front_right"),
    LandmarkSpec("leg_bottom_front_right", "leg_bottom_front_left"),
    LandmarkSpec("leg_bottom_back_left", "leg_bottom_back_right"),
    LandmarkSpec("leg_bottom_back_right", "leg_bottom_back_left"),
    LandmarkSpec("back_top_left", "back_top_right"),
    LandmarkSpec("back_top_right", "back_top_left"),
    LandmarkSpec("back_top_center"),
    LandmarkSpec("armrest_front_left", "armrest_front_right", part="armrests"),
    LandmarkSpec("armrest_front_right", "armrest_front_left", part="armrests"),
    LandmarkSpec("armrest_back_left", "armrest_back_right", part="armrests"),
    LandmarkSpec("armrest_back_right", "armrest_back_left", part="armrests"),
)

CORNER_SEGMENTS = 32  # divisible by 8: the 45-degree corner points are vertices
LEG_SEGMENTS = 48
TARGET_FACES = 5000  # approximate face count after subdivision

_SIDES = {
    "front_left": (1.0, 1.0),
    "front_right": (-1.0, 1.0),
    "back_left": (1.0, -1.0),
    "back_right": (-1.0, -1.0),
}
_C45 = float(np.cos(np.pi / 4.0))


def _corner_circles(centres: np.ndarray, radius: float, y0: float, y1: float) -> np.ndarray:
    """Points of horizontal circles around (x, z) ``centres`` (N, 2) at heights y0, y1."""
    rings = []
    for x, z in centres:
        for y in (y0, y1):
            rings.append(parts.circle_points((x, y, z), radius, CORNER_SEGMENTS, (0, 2)))
    return np.concatenate(rings)


def _leg(
    top: np.ndarray, bottom: np.ndarray, width: float, taper: float, round_: bool
) -> m3.Manifold:
    """Leg between top centre and bottom centre (both (3,), bottom on the floor)."""
    if round_:
        pts = [
            parts.circle_points(top, width / 2.0, LEG_SEGMENTS, (0, 2)),
            parts.circle_points(bottom, taper * width / 2.0, LEG_SEGMENTS, (0, 2)),
        ]
    else:
        sq = np.array([[1, 0, 1], [1, 0, -1], [-1, 0, 1], [-1, 0, -1]], dtype=np.float64)
        pts = [top + sq * width / 2.0, bottom + sq * taper * width / 2.0]
    return parts.hull(np.concatenate(pts))


def _subdivide(solid: m3.Manifold) -> m3.Manifold:
    """Flat subdivision to an even edge length, aiming at about TARGET_FACES faces."""
    edge = float(np.sqrt(solid.surface_area() / (TARGET_FACES * 0.433)))
    refined = solid
    for _ in range(6):
        refined = solid.refine_to_length(edge)
        n = refined.num_tri()
        if 0.6 * TARGET_FACES <= n <= 1.6 * TARGET_FACES:
            break
        edge *= float(np.sqrt(n / TARGET_FACES))
    return refined


def build(rng: np.random.Generator, optional: bool | None = None) -> Construction:
    """Draw one chair.

    Args:
        rng: the model's random generator.
        optional: True forces armrests, False leaves them out, None draws.
    """
    width = rng.uniform(0.42, 0.56)
    depth = rng.uniform(0.40, 0.52)
    seat_h = rng.uniform(0.42, 0.50)
    seat_t = rng.uniform(0.03, 0.07)
    corner_r = rng.uniform(0.01, 0.04)
    draw = bool(rng.random() < 0.45)
    arms = {True: True, False: False, None: draw}[optional]
    points: dict[str, np.ndarray] = {}

    # Seat.
    cx, cz = width / 2.0 - corner_r, depth / 2.0 - corner_r
    centres = np.array([[cx, cz], [-cx, cz], [cx, -cz], [-cx, -cz]])
    solids = [parts.hull(_corner_circles(centres, corner_r, seat_h - seat_t, seat_h))]
    for side, (sx, sz) in _SIDES.items():
        points[f"seat_corner_{side}"] = np.array(
            [sx * (cx + corner_r * _C45), seat_h, sz * (cz + corner_r * _C45)]
        )
    points["seat_center"] = np.array([0.0, seat_h, 0.0])
    points["seat_front_center"] = np.array([0.0, seat_h, depth / 2.0])

    # Legs.
    round_legs = bool(rng.random() < 0.5)
    leg_w = rng.uniform(0.025, 0.045)
    inset = rng.uniform(0.015, 0.04)
    splay = rng.uniform(0.0, 0.04) if rng.random() < 0.5 else 0.0
    taper = rng.uniform(0.7, 1.0)
    lx, lz = width / 2.0 - inset - leg_w / 2.0, depth / 2.0 - inset - leg_w / 2.0
    for side, (sx, sz) in _SIDES.items():
        top = np.array([sx * lx, seat_h - seat_t / 2.0, sz * lz])
        bottom = np.array([sx * (lx + splay), 0.0, sz * (lz + splay)])
        solids.append(_leg(top, bottom, leg_w, taper, round_legs))
        points[f"leg_bottom_{side}"] = bottom

    # Armrest sizes are drawn first: the backrest must fit between the bars.
    arm_w = rng.uniform(0.03, 0.05)
    arm_h = rng.uniform(0.18, 0.26)
    arm_t = rng.uniform(0.02, 0.035)
    post_w = rng.uniform(0.025, 0.035)
    arm_back = -depth / 2.0 + rng.uniform(0.06, 0.1)
    arm_front = depth / 2.0 + rng.uniform(-0.02, 0.03)
    post_front = depth / 2.0 - rng.uniform(0.05, 0.08)

    # Backrest, built upright around the origin, then tilted and placed.
    back_w = width * rng.uniform(0.7, 0.92)
    if arms:
        back_w = min(back_w, width - 2.0 * arm_w - 0.04)
    back_t = rng.uniform(0.025, 0.05)
    back_h = rng.uniform(0.35, 0.55)
    back_r = rng.uniform(0.01, 0.06)
    tilt = rng.uniform(0.0, 18.0)
    bx, by = back_w / 2.0 - back_r, back_h - back_r
    local = [
        parts.circle_points((x, by, z), back_r, CORNER_SEGMENTS, (0, 1))
        for x in (bx, -bx)
        for z in (-back_t / 2.0, back_t / 2.0)
    ]
    local.append(
        parts.box_points(
            (-back_w / 2.0, -0.5 * seat_t, -back_t / 2.0), (back_w / 2.0, 0.0, back_t / 2.0)
        )
    )
    z0 = -depth / 2.0 + back_t / 2.0 + rng.uniform(0.005, 0.03)
    place = parts.translation((0.0, seat_h, z0)) @ parts.rotation_x(-tilt)
    solids.append(parts.hull(parts.apply(place, np.concatenate(local))))
    local_marks = {
        "back_top_left": (bx + back_r * _C45, by + back_r * _C45, back_t / 2.0),
        "back_top_right": (-bx - back_r * _C45, by + back_r * _C45, back_t / 2.0),
        "back_top_center": (0.0, back_h, 0.0),
    }
    for name, p in local_marks.items():
        points[name] = parts.apply(place, np.array(p))

    # Armrests: bar on a front and a back post, each standing in the seat.
    if arms:
        for side, sx in (("left", 1.0), ("right", -1.0)):
            x0, x1 = sorted((sx * (width / 2.0 - arm_w), sx * width / 2.0))
            bar_top = seat_h + arm_h
            solids.append(parts.box((x0, bar_top - arm_t, arm_back), (x1, bar_top, arm_front)))
            xc = 0.5 * (x0 + x1)
            for zc in (post_front, arm_back + post_w / 2.0 + 0.005):
                solids.append(
                    parts.box(
                        (xc - post_w / 2.0, seat_h - seat_t / 2.0, zc - post_w / 2.0),
                        (xc + post_w / 2.0, bar_top - arm_t / 2.0, zc + post_w / 2.0),
                    )
                )
            points[f"armrest_front_{side}"] = np.array([xc, bar_top, arm_front - 0.01])
            points[f"armrest_back_{side}"] = np.array([xc, bar_top, arm_back + 0.01])

    solid = _subdivide(parts.union(solids))
    params: dict[str, float | bool] = {
        "seat_width": float(width),
        "seat_depth": float(depth),
        "seat_height": float(seat_h),
        "seat_thickness": float(seat_t),
        "leg_width": float(leg_w),
        "leg_splay": float(splay),
        "round_legs": round_legs,
        "back_width": float(back_w),
        "back_height": float(back_h),
        "back_tilt_deg": float(tilt),
        "has_armrests": arms,
    }
    return Construction(solid, points, params)
