"""The files a reconstruction is written to, and reading them back.

A folder ``DIR`` holds::

    mesh.ply (or mesh.obj)  the reconstructed mesh, world units (the template's topology)
    camera.json             PerspectiveCamera.to_dict(): degrees, world units, pixels
    keypoints.json          labels, names, uv (pixels, x right, y down), visible, in_image,
                            image_size
    summary.json            Reconstruction.to_dict(): IoU and seconds per stage, sources,
                            coefficients, notes, plus the image it came from
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cameras import PerspectiveCamera
from core.reconstruct.errors import ReconstructionError
from core.reconstruct.records import Reconstruction

MESH_FORMATS = ("ply", "obj")


@dataclass(frozen=True)
class ExportedFiles:
    """Paths of one written reconstruction."""

    mesh: Path
    camera: Path
    keypoints: Path
    summary: Path


def write_reconstruction(result: Reconstruction, out: str | Path, mesh_format: str = "ply",
                         extra: dict | None = None) -> ExportedFiles:
    """Write ``result`` into the folder ``out`` (created); ``extra`` is merged into the
    summary (e.g. the source image). Raises :class:`ReconstructionError` for an unknown
    ``mesh_format``; OSError when the folder cannot be written."""
    if mesh_format not in MESH_FORMATS:
        raise ReconstructionError(f"mesh format must be one of {MESH_FORMATS}, got "
                                  f"{mesh_format!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = ExportedFiles(out / f"mesh.{mesh_format}", out / "camera.json",
                          out / "keypoints.json", out / "summary.json")
    if mesh_format == "ply":
        from core.geometry.ply import write_ply

        write_ply(files.mesh, result.vertices, result.faces)
    else:
        _write_obj(files.mesh, result.vertices, result.faces)
    files.camera.write_text(json.dumps(result.camera.to_dict(), indent=1) + "\n")
    files.keypoints.write_text(json.dumps(result.keypoints_dict(), indent=1) + "\n")
    files.summary.write_text(json.dumps({**result.to_dict(), **(extra or {})}, indent=1)
                             + "\n")
    return files


def _write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in np.asarray(vertices, np.float64)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces, np.int64)]
    path.write_text("\n".join(lines) + "\n")


@dataclass(frozen=True)
class LoadedReconstruction:
    """What :func:`read_reconstruction` reads: vertices (V, 3), faces (F, 3), the camera,
    labels (S), uv (S, 2) pixels, visible (S,) bool and the summary dict."""

    vertices: np.ndarray
    faces: np.ndarray
    camera: PerspectiveCamera
    labels: tuple[str, ...]
    uv: np.ndarray
    visible: np.ndarray
    summary: dict


def read_reconstruction(folder: str | Path) -> LoadedReconstruction:
    """Read a folder written by :func:`write_reconstruction`.

    Raises:
        ReconstructionError: a missing or unreadable file (named).
    """
    from core.cameras import CameraError
    from core.geometry.mesh import MeshError, load_mesh

    folder = Path(folder)
    mesh = next((folder / f"mesh.{f}" for f in MESH_FORMATS if (folder / f"mesh.{f}").exists()),
                None)
    if mesh is None:
        raise ReconstructionError(f"{folder}: no mesh.ply or mesh.obj")
    try:
        tri = load_mesh(mesh)
        camera = PerspectiveCamera.from_dict(_json(folder / "camera.json"))
    except (MeshError, CameraError) as exc:
        raise ReconstructionError(f"{folder}: {exc}") from exc
    kp = _json(folder / "keypoints.json")
    try:
        uv = np.asarray(kp["uv"], dtype=np.float64).reshape(-1, 2)
        visible = np.asarray(kp["visible"], dtype=bool)
        labels = tuple(kp["labels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ReconstructionError(f"{folder / 'keypoints.json'}: bad keypoints ({exc})") \
            from exc
    return LoadedReconstruction(np.asarray(tri.vertices), np.asarray(tri.faces), camera,
                                labels, uv, visible, _json(folder / "summary.json"))


def _json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ReconstructionError(f"{path}: not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReconstructionError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise ReconstructionError(f"{path}: expected a JSON object")
    return doc
