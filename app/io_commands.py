"""``corrstudio import`` and ``corrstudio export``: file formats in and out of a project.

Imports are all-or-nothing (one transaction); errors name the file, record and field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.formats.records import EXPORT_FORMATS, IMPORT_FORMATS


def add_parsers(sub) -> None:
    imp = sub.add_parser("import", help="import annotations or meshes into a project",
                         description="Import files into a project (all or nothing).")
    imp.add_argument("format", choices=IMPORT_FORMATS,
                     help="keypointnet: annotation JSON; cpnet: <class_id>.h5 (mean distances "
                          "read from <class_id>_mean_distance.h5 beside it); shapenet: a "
                          "ShapeNet-style mesh folder; bundle: a native JSON bundle")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument("--project", dest="io_project", required=True, metavar="P",
                     help="project file or database URL")
    imp.add_argument("--create", action="store_true",
                     help="create the project if the file is missing or the database empty")
    imp.add_argument("--annotator", help="annotator name (default: from the file name)")
    imp.add_argument("--category", help="category name (default: from the ShapeNet class id)")

    exp = sub.add_parser("export", help="export a category's annotations",
                         description="Export a category (or, for 'bundle', the whole project).")
    exp.add_argument("format", choices=EXPORT_FORMATS,
                     help="keypointnet: JSON file (one per annotator, <out>_<annotator>.json, "
                          "when several); cpnet: folder for <class_id>.h5 and "
                          "mean distances; pp: MeshLab PickedPoints, slicer: 3D Slicer "
                          ".mrk.json (folders, one file per annotator and model); bundle: "
                          "native JSON of the whole project")
    exp.add_argument("--project", dest="io_project", required=True, metavar="P")
    exp.add_argument("--category", help="category to export (all formats but bundle)")
    exp.add_argument("--annotator", action="append", help="only these annotators (repeatable)")
    exp.add_argument("--out", required=True, type=Path, metavar="PATH")


def run_import(args: argparse.Namespace) -> int:
    from core.formats.records import FormatError
    from core.store import ProjectError
    from core.store.file_io import import_files

    try:
        store = _open(args.io_project, create=args.create)
    except ProjectError as exc:
        return _fail("import", exc)
    with store:
        try:
            result = import_files(store, args.format, args.paths, args.annotator,
                                  args.category)
        except (FormatError, ProjectError, OSError) as exc:
            return _fail("import", exc, "nothing was imported")
    if isinstance(result, int):
        print(f"Imported {result} rows into {store.target}")
    else:
        print(f"Imported into {store.target}: {result.categories} categories, "
              f"{result.models} models, {result.annotators} annotators, {result.sets} sets, "
              f"{result.keypoints} keypoints ({result.meshes_checked} meshes checked)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from core.formats.records import FormatError
    from core.store import ProjectError
    from core.store.file_io import export_files

    try:
        store = _open(args.io_project, create=False)
    except ProjectError as exc:
        return _fail("export", exc)
    with store:
        try:
            written = export_files(store, args.format, args.out, args.category,
                                   args.annotator)
        except (FormatError, ProjectError, KeyError, OSError) as exc:
            return _fail("export", exc)
    for path in written:
        print(path)
    return 0


def _open(target: str, create: bool):
    from core.store import ProjectStore

    return ProjectStore.open_or_create(target) if create else ProjectStore.open(target)


def _fail(verb: str, exc: BaseException, extra: str = "") -> int:
    tail = f" ({extra})" if extra else ""
    print(f"corrstudio {verb}: {exc}{tail}", file=sys.stderr)
    return 1
