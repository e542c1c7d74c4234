"""Extra marks drawn in the 3D view: the suggestion's ghost marker and the review highlight.

Both are unpickable actors added by name to the view's plotter (a click goes through them
to the mesh); :meth:`ui.mesh_view.MeshView.show_scene` removes them with everything else.
Nothing here renders: callers render once after all their changes.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from ui.mesh_view import MeshView

GHOST = "qaSuggestionGhost"  # translucent sphere at the suggestion
GHOST_RING = "qaSuggestionRing"  # a ring around it, lying on the surface
HIGHLIGHT = "qaReviewHighlight"  # a point chosen in the review queue: white dot + ring
GHOST_OPACITY = 0.55


def face_normal(view: MeshView, face: int) -> np.ndarray:
    """Unit normal of a face of the drawn scene ((0, 1, 0) when degenerate)."""
    scene = view.scene
    if scene is None:
        return np.array([0.0, 1.0, 0.0])
    a, b, c = scene.vertices[scene.faces[int(face)]]
    n = np.cross(b - a, c - a)
    length = float(np.linalg.norm(n))
    return n / length if length > 1e-12 else np.array([0.0, 1.0, 0.0])


def draw_ghost(view: MeshView, xyz, face: int, rgb) -> None:
    """The suggestion: a translucent sphere in the set colour and a ring on the surface
    (set colour, dark rim: visible on the heatmap and on the plain mesh alike)."""
    p, r = view.plotter, view.marker_radius
    xyz = np.asarray(xyz, dtype=np.float64)
    normal = face_normal(view, face)
    color = np.asarray(rgb, dtype=np.float64) / 255.0
    p.add_mesh(pv.Sphere(radius=1.5 * r, center=xyz, theta_resolution=16, phi_resolution=16),
               color=color, opacity=GHOST_OPACITY, name=GHOST, pickable=False, render=False,
               reset_camera=False, lighting=True)
    centre = xyz + 0.3 * r * normal
    ring = pv.Disc(center=centre, inner=2.2 * r, outer=3.2 * r, normal=normal, c_res=48)
    ring.point_data["rgb"] = np.tile(np.round(color * 255).astype(np.uint8), (ring.n_points, 1))
    rim = pv.Disc(center=centre, inner=3.2 * r, outer=3.8 * r, normal=normal, c_res=48)
    rim.point_data["rgb"] = np.full((rim.n_points, 3), 25, dtype=np.uint8)
    p.add_mesh(ring.merge(rim), scalars="rgb", rgb=True, name=GHOST_RING, pickable=False,
               render=False, reset_camera=False, lighting=False)


def draw_highlight(view: MeshView, xyz, face: int | None) -> None:
    """A point under review: a white sphere (another annotator's points are not drawn)
    and a white ring around it."""
    p, r = view.plotter, view.marker_radius
    xyz = np.asarray(xyz, dtype=np.float64)
    normal = face_normal(view, face) if face is not None and face >= 0 else \
        np.array([0.0, 1.0, 0.0])
    ring = pv.Disc(center=xyz + 0.3 * r * normal, inner=2.6 * r, outer=3.4 * r, normal=normal,
                   c_res=48)
    dot = pv.Sphere(radius=1.1 * r, center=xyz, theta_resolution=12, phi_resolution=12)
    p.add_mesh(ring.merge(dot), color="white", name=HIGHLIGHT, pickable=False, render=False,
               reset_camera=False, lighting=False)


def centre_on(view: MeshView, xyz) -> None:
    """Pan the camera (same direction and distance) so ``xyz`` is in the middle."""
    cam = view.plotter.camera
    xyz = np.asarray(xyz, dtype=np.float64)
    shift = xyz - np.asarray(cam.focal_point, dtype=np.float64)
    cam.position = tuple(np.asarray(cam.position, dtype=np.float64) + shift)
    cam.focal_point = tuple(xyz)
    view.plotter.renderer.ResetCameraClippingRange()


def remove(view: MeshView, *names: str) -> bool:
    """Remove drawn marks by name; True when something was removed."""
    removed = False
    for name in names:
        if name in view.plotter.actors:
            view.plotter.remove_actor(name, render=False)
            removed = True
    return removed


def has(view: MeshView, name: str) -> bool:
    return name in view.plotter.actors
