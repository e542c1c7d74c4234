"""3D Slicer markups JSON (``.mrk.json``, schema v1.0.3) for one model's points.

One ``Fiducial`` markup with a control point per stored point, in stored order. Positions
are model units written verbatim, declared as ``coordinateSystem: "LPS"`` (the system
Slicer assumes for mesh files it loads, so the points land on the mesh) and
``coordinateUnits: "mm"`` (the schema allows only mm or um; ShapeNet's normalized units
are simply read as mm).

An absent point (or one without xyz) gets ``positionStatus: "missing"`` and position
0, 0, 0. Slicer reads and writes "missing" (``vtkMRMLMarkupsNode::PositionMissing``,
"skipped" points) although the v1.0.3 schema's enum lists only undefined / preview /
defined.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.formats.records import FormatError, ModelAnnotation
from core.formats.validate import (
    as_dict,
    as_finite_triple,
    as_list,
    as_text,
    load_json_file,
    require_key,
    write_text_atomic,
)

__all__ = ["SCHEMA_URL", "read_mrk_json", "write_mrk_json"]

SCHEMA_URL = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/"
              "Markups/Resources/Schema/markups-schema-v1.0.3.json#")
_ORIENTATION = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0]
_DISPLAY = {
    "visibility": True,
    "opacity": 1.0,
    "color": [0.4, 1.0, 1.0],
    "selectedColor": [1.0, 0.5, 0.5],
    "activeColor": [0.4, 1.0, 0.0],
    "propertiesLabelVisibility": False,
    "pointLabelsVisibility": True,
    "textScale": 3.0,
    "glyphType": "Sphere3D",
    "glyphScale": 3.0,
    "glyphSize": 5.0,
    "useGlyphScale": True,
}
_STATUSES = ("undefined", "preview", "defined", "missing")


def write_mrk_json(annotation: ModelAnnotation, path: str | Path,
                   set_names: dict[int, str] | None = None) -> None:
    """Write one annotator's points on one model as a Slicer markups JSON file.

    Args:
        annotation: the points, written in stored order (ids "1", "2", ...).
        path: destination file, conventionally ``*.mrk.json`` (overwritten atomically).
        set_names: control point labels by set number (default: the set number);
            every description is ``"set <number>"``.

    Raises:
        FormatError: naming ``path`` for non-finite coordinates or an unwritable file.
    """
    label = str(path)
    names = set_names or {}
    points = []
    for i, point in enumerate(annotation.points, start=1):
        present = not point.absent and point.xyz is not None
        position = [float(v) for v in point.xyz] if present else [0.0, 0.0, 0.0]
        if not all(math.isfinite(v) for v in position):
            raise FormatError(label, f"non-finite coordinate {position}", None,
                              f"controlPoints[{i - 1}]")
        points.append({
            "id": str(i),
            "label": names.get(point.number, str(point.number)),
            "description": f"set {point.number}",
            "associatedNodeID": "",
            "position": position,
            "orientation": list(_ORIENTATION),
            "selected": True,
            "locked": False,
            "visibility": True,
            "positionStatus": "defined" if present else "missing",
        })
    document = {
        "@schema": SCHEMA_URL,
        "markups": [{
            "type": "Fiducial",
            "name": annotation.model,
            "coordinateSystem": "LPS",
            "coordinateUnits": "mm",
            "locked": False,
            "labelFormat": "%N-%d",
            "controlPoints": points,
            "measurements": [],
            "display": dict(_DISPLAY),
        }],
    }
    write_text_atomic(path, json.dumps(document, indent=4, allow_nan=False) + "\n")


def read_mrk_json(path: str | Path) -> list[tuple[str, tuple[float, float, float], str]]:
    """Read the control points of the first markup of a Slicer markups JSON file.

    Returns:
        (label, position (model units), positionStatus) per control point, in file order.

    Raises:
        FormatError: naming the file, control point index and field for invalid JSON,
            missing keys, wrong types, non-finite positions or unknown statuses.
    """
    label = str(path)
    doc = as_dict(load_json_file(path), label, None, None)
    markups = as_list(require_key(doc, "markups", label, None), label, None, "markups")
    if not markups:
        raise FormatError(label, "no markups", None, "markups")
    markup = as_dict(markups[0], label, None, "markups[0]")
    raw_points = as_list(require_key(markup, "controlPoints", label, None, "markups[0]"),
                         label, None, "markups[0].controlPoints")
    out = []
    for i, raw in enumerate(raw_points):
        cp: dict[str, Any] = as_dict(raw, label, i, "controlPoints")
        text = as_text(cp.get("label", ""), label, i, "label", allow_empty=True)
        position = as_finite_triple(require_key(cp, "position", label, i), label, i, "position")
        status = as_text(cp.get("positionStatus", "defined"), label, i, "positionStatus")
        if status not in _STATUSES:
            raise FormatError(label, f"unknown status {status!r}", i, "positionStatus")
        out.append((text, position, status))
    return out
