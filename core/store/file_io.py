"""Import files into a project and export a category to files, by format name.

One entry point for the CLI (``corrstudio import/export``) and the File menu.
Imports are all-or-nothing; errors are FormatError/ProjectError naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.formats.records import EXPORT_FORMATS, IMPORT_FORMATS
from core.store.bundle_io import ImportSummary
from core.store.project_store import ProjectStore

__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "export_files", "import_files"]


def import_files(store: ProjectStore, fmt: str, paths: Sequence[str | Path],
                 annotator: str | None = None, category: str | None = None,
                 ) -> ImportSummary | int:
    """Import ``paths`` in format ``fmt`` in one transaction.

    Returns the ImportSummary (or, for a native bundle, the number of rows written).
    """
    if fmt not in IMPORT_FORMATS:
        raise ValueError(f"Unknown import format {fmt!r}; choose one of "
                         f"{', '.join(IMPORT_FORMATS)}")
    if fmt == "bundle":
        from core.store.native_bundle import import_native, read_native

        return sum(import_native(store, read_native(p), str(p)) for p in paths)
    from core.store.bundle_io import import_bundles

    bundles, sources = [], []
    for path in paths:
        for bundle in _read(fmt, Path(path), annotator):
            bundles.append(replace(bundle, category=category) if category else bundle)
            sources.append(str(path))
    return import_bundles(store, bundles, ", ".join(sorted(set(sources))))


def export_files(store: ProjectStore, fmt: str, out: str | Path, category: str | None = None,
                 annotators: Sequence[str] | None = None) -> list[Path]:
    """Export ``category`` (the whole project for ``bundle``) to ``out``; returns the
    files written."""
    from core.formats.records import FormatError

    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; choose one of "
                         f"{', '.join(EXPORT_FORMATS)}")
    if fmt == "bundle":
        from core.store.native_bundle import write_native

        write_native(store, out)
        return [out]
    if not category:
        raise FormatError(str(out), "a category is required for this format")
    from core.store.bundle_io import export_bundle, flatten_sets, with_point_clouds

    bundle = export_bundle(store, category, annotators)
    if fmt == "cpnet":  # one point cloud per model, sets as columns
        bundle = with_point_clouds(store, bundle)
        bundle, columns = flatten_sets(bundle, f"cpnet_{category}")
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{category}_sets.json").write_text(json.dumps(
            [{"column": c, "annotator": a, "number": n} for c, (a, n) in enumerate(columns)],
            indent=1) + "\n")
        from core.formats.cpnet import write_cpnet

        return [Path(p) for p in write_cpnet(bundle, out) if p]
    if fmt == "keypointnet":
        return _write_keypointnet(bundle, out)
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


def _write_keypointnet(bundle, out: Path) -> list[Path]:
    """KeypointNet has no 'absent' state (absent points are left out) and one annotator
    per file: several annotators give ``<out>_<annotator>.json`` each."""
    from core.formats.keypointnet import write_keypointnet

    anns = tuple(replace(a, points=tuple(p for p in a.points if not p.absent))
                 for a in bundle.annotations)
    placed = replace(bundle, annotations=tuple(a for a in anns if a.points))
    names = sorted({a.annotator for a in placed.annotations})
    if len(names) <= 1:
        write_keypointnet([placed], out)
        return [out]
    written = []
    for name in names:
        path = out.with_name(f"{out.stem}_{name}{out.suffix or '.json'}")
        write_keypointnet([replace(placed, annotations=tuple(
            a for a in placed.annotations if a.annotator == name))], path)
        written.append(path)
    return written
