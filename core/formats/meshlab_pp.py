"""MeshLab PickedPoints (``.pp``) files for one model's points.

Layout written (MeshLab's own)::

    <!DOCTYPE PickedPoints>
    <PickedPoints>
     <DocumentData>
      <DateTime time="hh:mm:ss" date="yyyy-mm-dd"/>
      <User name="<annotator>"/>
      <DataFileName name="<mesh file or model>"/>
      <templateName name=""/>
     </DocumentData>
     <point x="..." y="..." z="..." active="1" name="..."/>
    </PickedPoints>

Coordinates are model units, written with full precision (``repr``). MeshLab has no
"absent" marker: an absent point (or one without xyz) is written inactive
(``active="0"``) at 0, 0, 0, so that the file keeps one entry per set in order.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from core.formats.records import FormatError, ModelAnnotation
from core.formats.validate import write_text_atomic

__all__ = ["read_pp", "write_pp"]


def _coord(value: float, path: str, name: str) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise FormatError(path, f"non-finite coordinate {value!r}", None, f"point {name!r}")
    return repr(number)


def write_pp(annotation: ModelAnnotation, path: str | Path,
             set_names: dict[int, str] | None = None, *, data_file_name: str | None = None,
             when: datetime | None = None) -> None:
    """Write one annotator's points on one model as a MeshLab PickedPoints file.

    Args:
        annotation: the points, written in stored order.
        path: destination ``.pp`` file (overwritten atomically).
        set_names: point names by set number; a set without a name is named by its
            number.
        data_file_name: the mesh file named in ``DataFileName`` (default: the model name).
        when: time stamp of ``DateTime`` (default: now).

    Raises:
        FormatError: naming ``path`` for non-finite coordinates or an unwritable file.
    """
    label = str(path)
    names = set_names or {}
    stamp = when or datetime.now()
    root = ET.Element("PickedPoints")
    doc = ET.SubElement(root, "DocumentData")
    ET.SubElement(doc, "DateTime", time=stamp.strftime("%H:%M:%S"),
                  date=stamp.strftime("%Y-%m-%d"))
    ET.SubElement(doc, "User", name=annotation.annotator)
    ET.SubElement(doc, "DataFileName", name=data_file_name or annotation.model)
    ET.SubElement(doc, "templateName", name="")
    for point in annotation.points:
        name = names.get(point.number, str(point.number))
        present = not point.absent and point.xyz is not None
        xyz = point.xyz if present else (0.0, 0.0, 0.0)
        ET.SubElement(root, "point", x=_coord(xyz[0], label, name), y=_coord(xyz[1], label, name),
                      z=_coord(xyz[2], label, name), active="1" if present else "0", name=name)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    write_text_atomic(path, "<!DOCTYPE PickedPoints>\n" + body + "\n")


def read_pp(path: str | Path) -> list[tuple[str, tuple[float, float, float], bool]]:
    """Read the points of a PickedPoints file.

    Returns:
        (name, (x, y, z), active) per ``<point>``, in file order.

    Raises:
        FormatError: naming the file (and point index) for unreadable XML, a wrong root
            element, or missing / non-numeric attributes.
    """
    label = str(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise FormatError(label, f"cannot parse XML ({exc})") from exc
    if root.tag != "PickedPoints":
        raise FormatError(label, f"root element is <{root.tag}>, not <PickedPoints>")
    out = []
    for i, elem in enumerate(root.iter("point")):
        try:
            xyz = tuple(float(elem.attrib[c]) for c in ("x", "y", "z"))
        except KeyError as exc:
            raise FormatError(label, "missing attribute", i, exc.args[0]) from exc
        except ValueError as exc:
            raise FormatError(label, f"non-numeric coordinate ({exc})", i, "x/y/z") from exc
        active = elem.attrib.get("active", "1") != "0"
        out.append((elem.attrib.get("name", ""), (xyz[0], xyz[1], xyz[2]), active))
    return out
