"""``corrstudio import`` and ``corrstudio export``: file formats in and out of a project.

Imports are all-or-nothing (one transaction); errors name the file, record and field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

IMPORT_FORMATS = ("keypointnet", "cpnet", "shapenet", "bundle")
EXPORT_FORMATS = ("keypointnet", "cpnet", "pp", "slicer", "bundle")


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

    try:
        store = _open(args.io_project, create=args.create)
    except ProjectError as exc:
        return _fail("import", exc)
    with store:
        try:
            if args.format == "bundle":
                from core.store.native_bundle import import_native, read_native

                total = sum(import_native(store, read_native(p), str(p)) for p in args.paths)
                print(f"Imported {total} rows into {store.target}")
                return 0
            bundles = []
            for path in args.paths:
                bundles += [(_rename(b, args.category), str(path))
                            for b in _read(args.format, path, args.annotator)]
            from core.store.bundle_io import import_bundles

            sources = ", ".join(sorted({src for _, src in bundles}))
            summary = import_bundles(store, [b for b, _ in bundles], sources)
        except (FormatError, ProjectError, OSError) as exc:
            return _fail("import", exc, "nothing was imported")
    print(f"Imported into {store.target}: {summary.categories} categories, {summary.models} "
          f"models, {summary.annotators} annotators, {summary.sets} sets, {summary.keypoints} "
          f"keypoints ({summary.meshes_checked} meshes checked)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from core.formats.records import FormatError
    from core.store import ProjectError

    try:
        store = _open(args.io_project, create=False)
    except ProjectError as exc:
        return _fail("export", exc)
    with store:
        try:
            if args.format == "bundle":
                from core.store.native_bundle import write_native

                write_native(store, args.out)
                print(args.out)
                return 0
            if not args.category:
                raise FormatError(str(args.out), "--category is required for this format")
            from core.store.bundle_io import export_bundle

            bundle = export_bundle(store, args.category, args.annotator)
            if args.format == "cpnet":  # one point cloud per model, sets as columns
                from core.store.bundle_io import flatten_sets, with_point_clouds

                bundle = with_point_clouds(store, bundle)
                bundle, columns = flatten_sets(bundle, f"cpnet_{args.category}")
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"{args.category}_sets.json").write_text(json.dumps(
                    [{"column": c, "annotator": a, "number": n}
                     for c, (a, n) in enumerate(columns)], indent=1) + "\n")
            written = _write(args.format, bundle, args.out)
        except (FormatError, ProjectError, KeyError, OSError) as exc:
            return _fail("export", exc)
    for path in written:
        print(path)
    return 0


# ----------------------------------------------------------------------- helpers
def _open(target: str, create: bool):
    from core.store import ProjectStore

    return ProjectStore.open_or_create(target) if create else ProjectStore.open(target)


def _read(fmt: str, path: Path, annotator: str | None):
    if fmt == "keypointnet":
        from core.formats.keypointnet import read_keypointnet

        return read_keypointnet(path, annotator)
    if fmt == "cpnet":
        from core.formats.cpnet import read_cpnet

        distances = path.with_name(f"{path.stem}_mean_distance.h5")
        return [read_cpnet(path, distances if distances.is_file() else None, annotator)]
    from core.formats.shapenet import scan_shapenet_folder

    return scan_shapenet_folder(path)


def _rename(bundle, category: str | None):
    from dataclasses import replace

    return replace(bundle, category=category) if category else bundle


def _write(fmt: str, bundle, out: Path) -> list[Path]:
    if fmt == "keypointnet":
        from core.formats.keypointnet import write_keypointnet

        placed = _without_absent(bundle)
        names = sorted({a.annotator for a in placed.annotations})
        if len(names) <= 1:
            write_keypointnet([placed], out)
            return [out]
        from dataclasses import replace

        written = []  # KeypointNet holds one annotator per file: one file each
        for name in names:
            path = out.with_name(f"{out.stem}_{name}{out.suffix or '.json'}")
            write_keypointnet([replace(placed, annotations=tuple(
                a for a in placed.annotations if a.annotator == name))], path)
            written.append(path)
        return written
    if fmt == "cpnet":
        from core.formats.cpnet import write_cpnet

        return [Path(p) for p in write_cpnet(bundle, out) if p]
    written = []
    for ann in bundle.annotations:
        names = {n: name for (a, n), name in bundle.set_names.items() if a == ann.annotator}
        folder = out / ann.annotator
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "pp":
            from core.formats.meshlab_pp import write_pp

            path = folder / f"{ann.model}.pp"
            write_pp(ann, path, names)
        else:
            from core.formats.slicer_markups import write_mrk_json

            path = folder / f"{ann.model}.mrk.json"
            write_mrk_json(ann, path, names)
        written.append(path)
    return written


def _without_absent(bundle):
    """KeypointNet has no 'absent' state: absent points are left out."""
    from dataclasses import replace

    anns = tuple(replace(a, points=tuple(p for p in a.points if not p.absent))
                 for a in bundle.annotations)
    return replace(bundle, annotations=tuple(a for a in anns if a.points))


def _fail(verb: str, exc: BaseException, extra: str = "") -> int:
    tail = f" ({extra})" if extra else ""
    print(f"corrstudio {verb}: {exc}{tail}", file=sys.stderr)
    return 1
