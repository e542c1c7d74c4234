"""ShapeNetCore folders -> :class:`AnnotationBundle` (models with meshes, no annotations).

Layout (ShapeNetCore.v2)::

    <root>/<class_id>/<model_id>/models/model_normalized.obj

A root that is itself a class folder (named like a synset id, e.g. ``.../03001627``) is
accepted too: ``<root>/<model_id>/models/model_normalized.obj``. Model folders without
``models/model_normalized.obj`` are skipped; every mesh found is loaded and validated.
"""

from __future__ import annotations

from pathlib import Path

from core.formats.records import (
    AnnotationBundle,
    FormatError,
    ModelEntry,
    category_for_class_id,
    looks_like_synset,
)
from core.geometry.mesh import MeshError, load_mesh

__all__ = ["MESH_RELATIVE_PATH", "scan_shapenet_folder"]

#: Where a model folder keeps its mesh.
MESH_RELATIVE_PATH = Path("models") / "model_normalized.obj"


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError as exc:
        raise FormatError(str(folder), f"cannot list folder ({exc.strerror or exc})") from exc


def _model_meshes(class_dir: Path) -> list[tuple[str, Path]]:
    """(model id, mesh path) of every model folder of ``class_dir`` holding a mesh."""
    return [(d.name, d / MESH_RELATIVE_PATH) for d in _subdirs(class_dir)
            if (d / MESH_RELATIVE_PATH).is_file()]


def _bundle(class_id: str, meshes: list[tuple[str, Path]]) -> AnnotationBundle:
    models = []
    for model_id, mesh_path in meshes:
        try:
            load_mesh(mesh_path)
        except MeshError as exc:
            raise FormatError(str(mesh_path), exc.problem) from exc
        models.append(ModelEntry(name=model_id, mesh_path=str(mesh_path.resolve())))
    category, shapenet_id = category_for_class_id(class_id)
    return AnnotationBundle(category=category, shapenet_id=shapenet_id, models=tuple(models),
                            annotations=())


def scan_shapenet_folder(root: str | Path) -> list[AnnotationBundle]:
    """Find ShapeNet models under ``root`` and validate their meshes.

    Args:
        root: a ShapeNetCore root (class folders inside) or one class folder named like
            a synset id.

    Returns:
        One bundle per class folder holding models, sorted by class id: category name
        from :data:`~core.formats.records.SHAPENET_SYNSETS` (else the folder name),
        models ``ModelEntry(name=model_id, mesh_path=<absolute .obj path>)`` sorted by
        model id, no annotations.

    Raises:
        FormatError: naming the folder when it is missing or holds no models, or naming
            a mesh file that cannot be loaded (NaN coordinates, indices out of range,
            non-triangular faces, no faces ...).
    """
    folder = Path(root)
    if not folder.is_dir():
        raise FormatError(str(folder), "not a folder")
    bundles: list[AnnotationBundle] = []
    if looks_like_synset(folder.name):
        meshes = _model_meshes(folder)
        if meshes:
            bundles.append(_bundle(folder.name, meshes))
    if not bundles:
        for class_dir in _subdirs(folder):
            meshes = _model_meshes(class_dir)
            if meshes:
                bundles.append(_bundle(class_dir.name, meshes))
    if not bundles:
        raise FormatError(str(folder), "no ShapeNet models found (expected "
                          f"<class_id>/<model_id>/{MESH_RELATIVE_PATH.as_posix()})")
    return bundles
