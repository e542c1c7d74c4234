"""Import mesh files into a project's category (validate, hash, normalize transform)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.store import ProjectStore


@dataclass
class MeshImportReport:
    """Outcome of a mesh import: imported model names and (file, problem) failures."""

    imported: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MeshImportStep:
    """Progress: ``done`` of ``total`` files checked."""

    done: int
    total: int
    path: str


def iter_import_meshes(store: ProjectStore, category: str, paths: Sequence[str | Path],
                       report: MeshImportReport) -> Iterator[MeshImportStep]:
    """Validate each file, then add every readable one to ``category`` (created when new)
    in one transaction. Unreadable files are listed in ``report.failed`` with the
    problem; nothing is written for them. Yields progress per file."""
    from core.geometry.mesh import MeshError, load_mesh, normalize

    rows = []
    existing = set()
    if category in {c.name for c in store.categories()}:
        existing = {m.name for m in store.models(category)}
    for i, raw in enumerate(paths):
        path = Path(raw).expanduser().resolve()
        yield MeshImportStep(i, len(paths), str(path))
        try:
            mesh = load_mesh(path)
        except MeshError as exc:
            report.failed.append((str(path), str(exc)))
            continue
        name = _unique_name(path, existing)
        existing.add(name)
        _, transform = normalize(mesh.vertices)
        rows.append(dict(name=name, mesh_path=str(path),
                         content_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
                         n_vertices=int(mesh.vertices.shape[0]), n_faces=int(mesh.faces.shape[0]),
                         transform=[[float(v) for v in row] for row in transform]))
    if rows:
        cats = {c.name: c.id for c in store.categories()}
        cat_id = cats.get(category) or store.add_category(category)
        store.add_models(cat_id, rows)
        report.imported.extend(r["name"] for r in rows)
    yield MeshImportStep(len(paths), len(paths), "")


def import_meshes(store: ProjectStore, category: str,
                  paths: Sequence[str | Path]) -> MeshImportReport:
    """Blocking form of :func:`iter_import_meshes`."""
    report = MeshImportReport()
    for _ in iter_import_meshes(store, category, paths, report):
        pass
    return report


def _unique_name(path: Path, taken: set[str]) -> str:
    base = path.stem if path.stem != "model_normalized" else path.parent.parent.name
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name
