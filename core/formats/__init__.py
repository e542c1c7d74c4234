"""Annotation file formats <-> interchange records (:mod:`core.formats.records`).

Readers validate everything before returning and raise only
:class:`~core.formats.records.FormatError` (naming file, record and field) on bad input.

- :mod:`core.formats.keypointnet`: KeypointNet annotation JSON (read, write, mesh check).
- :mod:`core.formats.cpnet`: CorresPondenceNet HDF5 (read, write, mean distances).
- :mod:`core.formats.shapenet`: ShapeNetCore folders -> models with meshes.
- :mod:`core.formats.meshlab_pp`: MeshLab PickedPoints export.
- :mod:`core.formats.slicer_markups`: 3D Slicer markups JSON export.
- :mod:`core.formats.validate`: shared validation helpers.
"""

from core.formats.cpnet import keypoint_matrix, read_cpnet, write_cpnet
from core.formats.keypointnet import check_against_mesh, read_keypointnet, write_keypointnet
from core.formats.meshlab_pp import read_pp, write_pp
from core.formats.records import (
    SHAPENET_SYNSETS,
    AnnotationBundle,
    FormatError,
    ModelAnnotation,
    ModelEntry,
    PointRecord,
    category_class_id,
    category_for_class_id,
)
from core.formats.shapenet import scan_shapenet_folder
from core.formats.slicer_markups import read_mrk_json, write_mrk_json

__all__ = [
    "SHAPENET_SYNSETS",
    "AnnotationBundle",
    "FormatError",
    "ModelAnnotation",
    "ModelEntry",
    "PointRecord",
    "category_class_id",
    "category_for_class_id",
    "check_against_mesh",
    "keypoint_matrix",
    "read_cpnet",
    "read_keypointnet",
    "read_mrk_json",
    "read_pp",
    "scan_shapenet_folder",
    "write_cpnet",
    "write_keypointnet",
    "write_mrk_json",
    "write_pp",
]
