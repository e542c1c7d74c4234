"""Airplane category (ShapeNet 02691156): fuselage, swept wings, tail, optional engines.

Construction frame (before normalization): fuselage of length 1 along Z, nose at
z = +0.5, +Y up, +X the airplane's left (the frame of :mod:`core.demo.types`).

- Fuselage: a loft through elliptic rings; rounded nose (elliptic profile, slight droop),
  straight mid-body, tapered and upswept tail cone ending in a blunt tip.
- Main wings, horizontal stabilizers: convex hulls of two homothetic NACA 00xx sections
  (root inside the fuselage, tip outboard), with sweep, taper and dihedral; the section
  between them is the linear interpolation, so leading and trailing edges are straight
  mesh edges.
- Vertical fin: the same, in the symmetry plane.
- Optional engines (part ``"engines"``): two nacelles under the wings on pylons;
  optionally two more outboard (part ``"outer_engines"``).

Landmark mirrors swap left (+X) and right (-X) across the symmetry plane x = 0.
"""

from __future__ import annotations

import manifold3d as m3
import numpy as np

from core.demo import parts
from core.demo.construction import Construction
from core.demo.types import LandmarkSpec

__all__ = ["SHAPENET_ID", "SPECS", "build"]

SHAPENET_ID = "02691156"

SPECS: tuple[LandmarkSpec, ...] = (
    LandmarkSpec("nose_tip"),
    LandmarkSpec("cockpit_top"),
    LandmarkSpec("fuselage_bottom_center"),
    LandmarkSpec("tail_end"),
    LandmarkSpec("wing_tip_left", "wing_tip_right"),
    LandmarkSpec("wing_tip_right", "wing_tip_left"),
    LandmarkSpec("wing_root_front_left", "wing_root_front_right"),
    LandmarkSpec("wing_root_front_right", "wing_root_front_left"),
    LandmarkSpec("wing_root_rear_left", "wing_root_rear_right"),
    LandmarkSpec("wing_root_rear_right", "wing_root_rear_left"),
    LandmarkSpec("stabilizer_tip_left", "stabilizer_tip_right"),
    LandmarkSpec("stabilizer_tip_right", "stabilizer_tip_left"),
    LandmarkSpec("fin_top"),
    LandmarkSpec("fin_root_front"),
    LandmarkSpec("engine_front_left", "engine_front_right", part="engines"),
    LandmarkSpec("engine_front_right", "engine_front_left", part="engines"),
    LandmarkSpec("engine_outer_front_left", "engine_outer_front_right", part="outer_engines"),
    LandmarkSpec("engine_outer_front_right", "engine_outer_front_left", part="outer_engines"),
)

RING_SEGMENTS = 48  # divisible by 4: top and bottom of each ring are vertices
AIRFOIL_SIDE = 20  # points per airfoil side
NACELLE_SEGMENTS = 32

_MIRROR_X = np.diag([-1.0, 1.0, 1.0])


class _Fuselage:
    """Analytic fuselage profile: centreline height and radius along the length."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.radius = rng.uniform(0.045, 0.07)
        self.height_ratio = rng.uniform(0.95, 1.2)
        self.nose_len = rng.uniform(0.10, 0.18)
        self.tail_len = rng.uniform(0.22, 0.32)
        self.tail_end_ratio = rng.uniform(0.12, 0.25)
        self.upsweep = (
            rng.uniform(0.5, 0.9) * self.height_ratio * self.radius * (1.0 - self.tail_end_ratio)
        )
        self.droop = self.radius * rng.uniform(0.0, 0.3)

    def profile(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(centre y, half-width) at distances ``u`` (0..1) behind the nose tip."""
        u = np.asarray(u, dtype=np.float64)
        nl, tl, r = self.nose_len, self.tail_len, self.radius
        s_nose = np.clip(u / nl, 0.0, 1.0)
        t_tail = np.clip((u - (1.0 - tl)) / tl, 0.0, 1.0)
        radius = r * np.sqrt(np.clip(1.0 - (1.0 - s_nose) ** 2, 0.0, 1.0))
        radius = radius * (1.0 - (1.0 - self.tail_end_ratio) * t_tail**1.5)
        centre = -self.droop * (1.0 - s_nose) ** 2 + self.upsweep * t_tail**2
        return centre, radius

    def top(self, z: np.ndarray) -> np.ndarray:
        """Height of the fuselage top at coordinates ``z``."""
        centre, radius = self.profile(0.5 - np.asarray(z))
        return centre + self.height_ratio * radius

    def stations(self) -> np.ndarray:
        """Ring positions u (behind the nose), including u = nose_len and u = 0.5."""
        nl, tl = self.nose_len, self.tail_len
        t = np.linspace(0.0, 1.0, 11)[1:]
        nose = nl * (1.0 - np.cos(t * np.pi / 2.0))
        body = np.linspace(nl, 1.0 - tl, 12)[1:]
        tail = (1.0 - tl) + tl * np.linspace(0.0, 0.97, 13)[1:]
        return np.unique(np.concatenate([nose, body, [0.5], tail]))

    def solid(self) -> tuple[m3.Manifold, dict[str, np.ndarray]]:
        us = self.stations()
        centre, radius = self.profile(us)
        theta = 2.0 * np.pi * np.arange(RING_SEGMENTS) / RING_SEGMENTS
        rings = np.empty((len(us), RING_SEGMENTS, 3))
        rings[:, :, 0] = radius[:, None] * np.cos(theta)[None]
        rings[:, :, 1] = centre[:, None] + self.height_ratio * radius[:, None] * np.sin(theta)
        rings[:, :, 2] = (0.5 - us)[:, None]
        c0, _ = self.profile(np.array([0.0]))
        c1, _ = self.profile(np.array([1.0]))
        nose = np.array([0.0, c0[0], 0.5])
        tail = np.array([0.0, c1[0], -0.5])
        top_idx, bottom_idx = RING_SEGMENTS // 4, 3 * RING_SEGMENTS // 4
        points = {
            "nose_tip": nose,
            "tail_end": tail,
            "cockpit_top": rings[int(np.argmin(np.abs(us - self.nose_len))), top_idx],
            "fuselage_bottom_center": rings[int(np.argmin(np.abs(us - 0.5))), bottom_idx],
        }
        return parts.loft(rings, nose, tail), points


class _Surface:
    """A straight tapered lifting surface between two homothetic airfoil sections.

    ``span`` runs along ``span_dir`` from the root (0); the leading edge at span s is
    ``le0 + s * span_dir + s * (tan(dihedral) * lift_dir - tan(sweep) * z)`` and the
    chord runs towards -Z; the airfoil's thickness is along ``thick_dir``.
    """

    def __init__(
        self,
        le0: tuple[float, float, float],
        span: float,
        chord: float,
        taper: float,
        sweep_deg: float,
        dihedral_deg: float,
        thickness: float,
        span_dir: tuple[float, float, float],
        thick_dir: tuple[float, float, float],
    ) -> None:
        self.le0 = np.asarray(le0, dtype=np.float64)
        self.span, self.chord, self.taper = span, chord, taper
        self.tan_sweep = np.tan(np.radians(sweep_deg))
        self.tan_dihedral = np.tan(np.radians(dihedral_deg))
        self.thickness = thickness
        self.span_dir = np.asarray(span_dir, dtype=np.float64)
        self.thick_dir = np.asarray(thick_dir, dtype=np.float64)

    def leading_edge(self, s: float) -> np.ndarray:
        lift = self.thick_dir
        return (
            self.le0
            + s * self.span_dir
            + s * self.tan_dihedral * lift
            + np.array([0.0, 0.0, -s * self.tan_sweep])
        )

    def chord_at(self, s: float) -> float:
        return self.chord * (1.0 - (1.0 - self.taper) * s / self.span)

    def section(self, s: float) -> np.ndarray:
        foil = parts.naca_section(AIRFOIL_SIDE, self.thickness)
        c = self.chord_at(s)
        le = self.leading_edge(s)
        return le[None] + c * (
            foil[:, 0:1] * np.array([0.0, 0.0, -1.0])[None] + foil[:, 1:2] * self.thick_dir[None]
        )

    def mid_chord(self, s: float) -> np.ndarray:
        return self.leading_edge(s) + np.array([0.0, 0.0, -0.5 * self.chord_at(s)])

    def trailing_edge(self, s: float) -> np.ndarray:
        return self.leading_edge(s) + np.array([0.0, 0.0, -self.chord_at(s)])

    def solid(self, s_root: float) -> m3.Manifold:
        return parts.hull(np.concatenate([self.section(s_root), self.section(self.span)]))


def _mirrored(point: np.ndarray) -> np.ndarray:
    return _MIRROR_X @ point


def _nacelle(
    x: float, wing: _Surface, rng: np.random.Generator, radius: float, length: float
) -> tuple[list[m3.Manifold], np.ndarray]:
    """Nacelle + pylon under the left wing at span x; returns (solids, front centre)."""
    c = wing.chord_at(x)
    le = wing.leading_edge(x)
    wing_bottom = le[1] - 0.5 * wing.thickness * c
    y = wing_bottom - radius - rng.uniform(0.2, 0.6) * radius
    z_front = le[2] + rng.uniform(0.3, 0.5) * length
    ring_front = parts.circle_points((x, y, z_front), radius, NACELLE_SEGMENTS, (0, 1))
    ring_back = parts.circle_points(
        (x, y, z_front - length), 0.85 * radius, NACELLE_SEGMENTS, (0, 1)
    )
    nacelle = parts.hull(np.concatenate([ring_front, ring_back]))
    half = 0.25 * radius
    z_hi = wing.leading_edge(x + half)[2] - 0.05 * c
    z_lo = z_hi - 0.45 * min(c, length)
    pylon = parts.box((x - half, y, z_lo), (x + half, le[1], z_hi))
    return [nacelle, pylon], np.array([x, y, z_front])


def build(rng: np.random.Generator, optional: bool | None = None) -> Construction:
    """Draw one airplane.

    Args:
        rng: the model's random generator.
        optional: True forces all optional parts (four engines), False none, None draws.
    """
    fus = _Fuselage(rng)
    r, hr = fus.radius, fus.height_ratio
    fuselage, points = fus.solid()
    solids = [fuselage]

    # Main wings: low-to-mid mounted, root section inside the fuselage.
    wing = _Surface(
        le0=(0.0, -rng.uniform(0.1, 0.35) * hr * r, rng.uniform(-0.02, 0.12)),
        span=rng.uniform(0.38, 0.55),
        chord=rng.uniform(0.16, 0.24),
        taper=rng.uniform(0.25, 0.45),
        sweep_deg=rng.uniform(12.0, 35.0),
        dihedral_deg=rng.uniform(1.0, 7.0),
        thickness=rng.uniform(0.09, 0.14),
        span_dir=(1.0, 0.0, 0.0),
        thick_dir=(0.0, 1.0, 0.0),
    )
    left = wing.solid(-0.5 * r)
    solids += [left, left.mirror((1.0, 0.0, 0.0))]
    x_root = 1.25 * r
    points["wing_tip_left"] = wing.mid_chord(wing.span)
    points["wing_root_front_left"] = wing.leading_edge(x_root)
    points["wing_root_rear_left"] = wing.trailing_edge(x_root)

    # Horizontal stabilizers: trailing edge at the root just ahead of the tail tip.
    chord_h = rng.uniform(0.07, 0.12)
    z_root_te = -0.5 + 0.02 + rng.uniform(0.0, 0.03)
    centre_h, radius_h = fus.profile(np.array([1.0 - (z_root_te + 0.5) - 0.5 * chord_h]))
    stab = _Surface(
        le0=(0.0, centre_h[0] + rng.uniform(-0.3, 0.3) * hr * radius_h[0], z_root_te + chord_h),
        span=rng.uniform(0.12, 0.2),
        chord=chord_h,
        taper=rng.uniform(0.4, 0.7),
        sweep_deg=rng.uniform(20.0, 40.0),
        dihedral_deg=rng.uniform(0.0, 8.0),
        thickness=0.1,
        span_dir=(1.0, 0.0, 0.0),
        thick_dir=(0.0, 1.0, 0.0),
    )
    left_h = stab.solid(-0.3 * radius_h[0])
    solids += [left_h, left_h.mirror((1.0, 0.0, 0.0))]
    points["stabilizer_tip_left"] = stab.mid_chord(stab.span)

    # Vertical fin in the symmetry plane, rising from below the fuselage centreline.
    chord_f = rng.uniform(0.12, 0.2)
    z_fin_te = -0.5 + 0.015 + rng.uniform(0.0, 0.02)
    centre_f, radius_f = fus.profile(np.array([1.0 - (z_fin_te + 0.5) - 0.5 * chord_f]))
    root_y = centre_f[0] - 0.3 * hr * radius_f[0]
    fin = _Surface(
        le0=(0.0, root_y, z_fin_te + chord_f),
        span=rng.uniform(0.12, 0.2) + (centre_f[0] - root_y),
        chord=chord_f,
        taper=rng.uniform(0.35, 0.7),
        sweep_deg=rng.uniform(30.0, 50.0),
        dihedral_deg=0.0,
        thickness=rng.uniform(0.08, 0.12),
        span_dir=(0.0, 1.0, 0.0),
        thick_dir=(1.0, 0.0, 0.0),
    )
    # A swept-back trailing edge may reach behind the tail tip: keep the tip exposed.
    tail_y = points["tail_end"][1] + 2.0 * hr * r * fus.tail_end_ratio
    heights = np.linspace(0.0, fin.span, 200)
    te = np.array([fin.trailing_edge(s) for s in heights])
    low = te[te[:, 1] <= tail_y]
    if len(low):
        fin.le0 = fin.le0 + np.array([0.0, 0.0, max(0.0, z_fin_te - low[:, 2].min())])
    solids.append(fin.solid(0.0))
    points["fin_top"] = fin.mid_chord(fin.span)
    grid = np.linspace(0.0, fin.span, 400)
    les = np.array([fin.leading_edge(s) for s in grid])
    clear = les[:, 1] - fus.top(les[:, 2])
    points["fin_root_front"] = les[int(np.argmax(clear >= 0.012))]

    # Engines: 0, 2 or 4 nacelles under the wings.
    draw = rng.choice([0, 2, 4], p=[0.35, 0.45, 0.2])
    n_engines = {True: 4, False: 0, None: int(draw)}[optional]
    radius_e = rng.uniform(0.022, 0.035)
    length_e = rng.uniform(0.1, 0.16)
    x_inner = max(rng.uniform(0.28, 0.38) * wing.span, r + 1.8 * radius_e + 0.02)
    x_outer = min(
        max(rng.uniform(0.55, 0.7) * wing.span, x_inner + 3.0 * radius_e), 0.85 * wing.span
    )
    for name, x, needed in (("engine_front", x_inner, 2), ("engine_outer_front", x_outer, 4)):
        if n_engines < needed:
            continue
        pieces, front = _nacelle(x, wing, rng, radius_e, length_e)
        for piece in pieces:
            solids += [piece, piece.mirror((1.0, 0.0, 0.0))]
        points[f"{name}_left"] = front

    for key in [k for k in points if k.endswith("_left")]:
        points[key[: -len("_left")] + "_right"] = _mirrored(points[key])

    params: dict[str, float | bool] = {
        "fuselage_radius": float(r),
        "fuselage_height_ratio": float(hr),
        "nose_length": float(fus.nose_len),
        "tail_length": float(fus.tail_len),
        "wing_span": float(2.0 * wing.span),
        "wing_chord": float(wing.chord),
        "wing_taper": float(wing.taper),
        "wing_sweep_deg": float(np.degrees(np.arctan(wing.tan_sweep))),
        "wing_dihedral_deg": float(np.degrees(np.arctan(wing.tan_dihedral))),
        "wing_thickness": float(wing.thickness),
        "stabilizer_span": float(2.0 * stab.span),
        "fin_height": float(fin.span),
        "has_engines": n_engines > 0,
        "n_engines": float(n_engines),
    }
    return Construction(parts.union(solids), points, params)
