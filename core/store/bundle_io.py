"""Import and export of :class:`~core.formats.records.AnnotationBundle` objects.

Imports are all-or-nothing: everything is validated and written in one
transaction; on any error the database is unchanged. Keypoints keep xyz, face
index, weights, point-cloud index and their order in the source record, so
exporting what was imported gives the same file back.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.formats.records import (
    AnnotationBundle,
    FormatError,
    ModelAnnotation,
    ModelEntry,
    PointRecord,
)
from core.store.project_store import ProjectStore
from core.store.schema import (
    AnnotationRecord,
    Annotator,
    Category,
    CorrespondenceSet,
    Keypoint,
    Model,
    ModelPointCloud,
    PointState,
    Role,
)

_GRAY = (128, 128, 128)


@dataclass(frozen=True)
class ImportSummary:
    """What an import added."""

    categories: int
    models: int
    annotators: int
    sets: int
    keypoints: int
    meshes_checked: int


def import_bundles(store: ProjectStore, bundles: Sequence[AnnotationBundle],
                   source: str = "") -> ImportSummary:
    """Write bundles into the project in one transaction (all or nothing).

    Models are matched by name within their category (new ones are added; a mesh
    path fills in a model that had none). Keypoints of models whose mesh is at hand
    are checked against it. Raises FormatError naming ``source`` and the item at
    fault (e.g. a point that already exists, or one that does not lie on its face).
    """
    counts = defaultdict(int)

    def op(s: Session) -> ImportSummary:
        for bundle in bundles:
            _import_one(s, store, bundle, source, counts)
        return ImportSummary(counts["categories"], counts["models"], counts["annotators"],
                             counts["sets"], counts["keypoints"], counts["meshes_checked"])

    return store.write(op)


def _import_one(s: Session, store: ProjectStore, bundle: AnnotationBundle, source: str,
                counts: dict) -> None:
    cat = s.scalars(select(Category).where(Category.name == bundle.category)).first()
    if cat is None:
        cat = Category(name=bundle.category, shapenet_id=bundle.shapenet_id,
                       extra=dict(bundle.extra) or None)
        s.add(cat)
        s.flush()
        counts["categories"] += 1
    else:
        cat.shapenet_id = cat.shapenet_id or bundle.shapenet_id
        if bundle.extra:
            cat.extra = {**(cat.extra or {}), **bundle.extra}

    models = {m.name: m for m in s.scalars(select(Model).where(Model.category_id == cat.id))}
    linked: dict[str, str] = {}
    for entry in bundle.models:
        model = models.get(entry.name)
        if model is None:
            model = Model(category_id=cat.id, name=entry.name)
            s.add(model)
            models[entry.name] = model
            counts["models"] += 1
        if entry.mesh_path and not model.mesh_path:
            _link_mesh(model, entry.mesh_path)
            linked[entry.name] = entry.mesh_path
    s.flush()
    for entry in bundle.models:
        if entry.point_cloud is not None:
            _store_point_cloud(s, models[entry.name].id, entry.point_cloud)

    annotators = {a.name: a for a in s.scalars(select(Annotator))}
    sets = {(r.annotator_id, r.number): r for r in s.scalars(
        select(CorrespondenceSet).where(CorrespondenceSet.category_id == cat.id))}
    taken = set(s.execute(select(Keypoint.model_id, Keypoint.set_id).join(
        Model, Model.id == Keypoint.model_id).where(Model.category_id == cat.id)).all())
    rows, records = [], []
    for index, ann in enumerate(bundle.annotations):
        model = models.get(ann.model)
        if model is None:
            raise FormatError(source, f"annotation of unknown model {ann.model!r}", index)
        annotator = annotators.get(ann.annotator)
        if annotator is None:
            annotator = Annotator(name=ann.annotator, role=Role.annotator)
            s.add(annotator)
            s.flush()
            annotators[ann.annotator] = annotator
            counts["annotators"] += 1
        seen = set()
        for order, point in enumerate(ann.points):
            key = (annotator.id, point.number)
            if key not in sets:
                row = CorrespondenceSet(annotator_id=annotator.id, category_id=cat.id,
                                        number=point.number,
                                        name=bundle.set_names.get((ann.annotator, point.number)))
                s.add(row)
                s.flush()
                sets[key] = row
                counts["sets"] += 1
            set_id = sets[key].id
            if (model.id, set_id) in taken or set_id in seen:
                raise FormatError(source, f"model {ann.model!r} already has a point of "
                                  f"{ann.annotator}'s set {point.number}", index,
                                  f"points[{order}]")
            seen.add(set_id)
            rows.append(_keypoint_row(model.id, set_id, annotator.id, point, order))
        if ann.extra:
            records.append(dict(model_id=model.id, annotator_id=annotator.id,
                                extra=dict(ann.extra)))
    _check_linked_meshes(store, bundle, models, linked, source, counts)
    if rows:
        s.execute(insert(Keypoint.__table__), rows)
        counts["keypoints"] += len(rows)
    for rec in records:
        s.execute(delete(AnnotationRecord).where(
            AnnotationRecord.model_id == rec["model_id"],
            AnnotationRecord.annotator_id == rec["annotator_id"]))
    if records:
        s.execute(insert(AnnotationRecord.__table__), records)


def _keypoint_row(model_id: int, set_id: int, author_id: int, p: PointRecord,
                  order: int) -> dict:
    placed = not p.absent and p.xyz is not None
    bary = p.bary if placed and p.bary is not None else (None, None, None)
    xyz = p.xyz if placed else (None, None, None)
    rgb = p.rgb or _GRAY
    return dict(model_id=model_id, set_id=set_id, author_id=author_id,
                state=(PointState.placed if placed else PointState.absent).value,
                face_index=p.face if placed else None, w0=bary[0], w1=bary[1], w2=bary[2],
                x=xyz[0], y=xyz[1], z=xyz[2], r=rgb[0], g=rgb[1], b=rgb[2],
                point_index=p.point_index, source_order=order, version=1)


def _link_mesh(model: Model, mesh_path: str) -> None:
    path = Path(mesh_path)
    model.mesh_path = str(path)
    model.content_hash = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() \
        else None


def _store_point_cloud(s: Session, model_id: int, points: np.ndarray) -> None:
    pts = np.ascontiguousarray(points, dtype="<f4").reshape(-1, 3)
    s.execute(delete(ModelPointCloud).where(ModelPointCloud.model_id == model_id))
    s.add(ModelPointCloud(model_id=model_id, n_points=int(pts.shape[0]), points=pts.tobytes()))


def _check_linked_meshes(store: ProjectStore, bundle: AnnotationBundle, models: dict,
                         linked: dict[str, str], source: str, counts: dict) -> None:
    """Check keypoints against meshes at hand: the bundle's own annotations on any
    model with a mesh, and existing keypoints of models linked by this import."""
    from core.formats.keypointnet import check_against_mesh
    from core.geometry.mesh import MeshError, load_mesh

    wanted = defaultdict(list)
    for ann in bundle.annotations:
        model = models.get(ann.model)
        if model is not None and model.mesh_path:
            wanted[ann.model].append(ann)
    for name in linked:
        wanted[name].extend(_existing_annotations(store, models[name].id))
    for name, anns in wanted.items():
        path = store.resolve(models[name].mesh_path)
        try:
            mesh = load_mesh(path)
        except MeshError as exc:
            raise FormatError(source, f"mesh of model {name!r} cannot be read: {exc}") from exc
        problems = [p for ann in anns if any(pt.face is not None for pt in ann.points)
                    for p in check_against_mesh(ann, mesh.vertices, mesh.faces, str(path))]
        if problems:
            raise FormatError(source, f"keypoints of model {name!r} do not lie on its mesh: "
                              + "; ".join(problems[:5]))
        counts["meshes_checked"] += 1


def _existing_annotations(store: ProjectStore, model_id: int) -> list[ModelAnnotation]:
    with store.session() as s:
        rows = s.execute(
            select(Annotator.name, CorrespondenceSet.number, Keypoint.face_index, Keypoint.w0,
                   Keypoint.w1, Keypoint.w2, Keypoint.x, Keypoint.y, Keypoint.z)
            .join(CorrespondenceSet, CorrespondenceSet.id == Keypoint.set_id)
            .join(Annotator, Annotator.id == CorrespondenceSet.annotator_id)
            .where(Keypoint.model_id == model_id, Keypoint.state == PointState.placed,
                   Keypoint.face_index.is_not(None))).all()
    by_annotator = defaultdict(list)
    for name, number, face, w0, w1, w2, x, y, z in rows:
        by_annotator[name].append(PointRecord(number, (x, y, z), face, (w0, w1, w2)))
    return [ModelAnnotation(str(model_id), name, tuple(points))
            for name, points in by_annotator.items()]


# ----------------------------------------------------------------------- export
def export_bundle(store: ProjectStore, category: str,
                  annotators: Sequence[str] | None = None) -> AnnotationBundle:
    """A category's models, point clouds and annotations as a bundle (points in their
    original record order, then by set number; absent points included)."""
    with store.session() as s:
        cat = s.scalars(select(Category).where(Category.name == category)).first()
        if cat is None:
            from core.store.errors import NotFound

            raise NotFound(f"No category {category!r} in project {store.target}")
        models = s.execute(select(Model.id, Model.name, Model.mesh_path)
                           .where(Model.category_id == cat.id).order_by(Model.id)).all()
        clouds = {mid: np.frombuffer(pts, dtype="<f4").reshape(n, 3).copy()
                  for mid, n, pts in s.execute(
                      select(ModelPointCloud.model_id, ModelPointCloud.n_points,
                             ModelPointCloud.points)
                      .join(Model, Model.id == ModelPointCloud.model_id)
                      .where(Model.category_id == cat.id)).all()}
        kp = Keypoint.__table__
        stmt = (select(Annotator.name, kp.c.model_id, CorrespondenceSet.number, kp.c.state,
                       kp.c.face_index, kp.c.w0, kp.c.w1, kp.c.w2, kp.c.x, kp.c.y, kp.c.z,
                       kp.c.r, kp.c.g, kp.c.b, kp.c.point_index, kp.c.source_order)
                .join(CorrespondenceSet, CorrespondenceSet.id == kp.c.set_id)
                .join(Annotator, Annotator.id == CorrespondenceSet.annotator_id)
                .where(CorrespondenceSet.category_id == cat.id))
        if annotators:
            stmt = stmt.where(Annotator.name.in_(list(annotators)))
        rows = s.execute(stmt).all()
        extras = {(name, mid): extra for name, mid, extra in s.execute(
            select(Annotator.name, AnnotationRecord.model_id, AnnotationRecord.extra)
            .join(Annotator, Annotator.id == AnnotationRecord.annotator_id)
            .join(Model, Model.id == AnnotationRecord.model_id)
            .where(Model.category_id == cat.id)).all()}
        set_names = {(a, n): name for a, n, name in s.execute(
            select(Annotator.name, CorrespondenceSet.number, CorrespondenceSet.name)
            .join(Annotator, Annotator.id == CorrespondenceSet.annotator_id)
            .where(CorrespondenceSet.category_id == cat.id,
                   CorrespondenceSet.name.is_not(None))).all()}
        shapenet_id, cat_extra = cat.shapenet_id, dict(cat.extra or {})
    name_of = {mid: name for mid, name, _ in models}
    grouped = defaultdict(list)
    for r in rows:
        grouped[(r[0], r[1])].append(r)
    annotations = []
    order = {mid: i for i, (mid, _, _) in enumerate(models)}
    for (annotator, mid), items in sorted(grouped.items(), key=lambda kv: (order[kv[0][1]],
                                                                          kv[0][0])):
        items.sort(key=lambda r: (r[15] is None, r[15] if r[15] is not None else 0, r[2]))
        points = tuple(_point_record(r) for r in items)
        annotations.append(ModelAnnotation(name_of[mid], annotator, points,
                                           dict(extras.get((annotator, mid), {}))))
    entries = tuple(ModelEntry(name, str(store.resolve(path)) if path else None,
                               clouds.get(mid)) for mid, name, path in models)
    return AnnotationBundle(category, shapenet_id, entries, tuple(annotations), set_names,
                            cat_extra)


def _point_record(r) -> PointRecord:
    placed = r[3] == PointState.placed.value
    return PointRecord(
        number=int(r[2]),
        xyz=(r[8], r[9], r[10]) if placed else None,
        face=r[4] if placed else None,
        bary=(r[5], r[6], r[7]) if placed and r[5] is not None else None,
        rgb=(r[11], r[12], r[13]),
        point_index=r[14],
        absent=not placed)


def with_point_clouds(store: ProjectStore, bundle: AnnotationBundle, n_points: int = 2048,
                      seed: int = 0) -> AnnotationBundle:
    """Give every model without a stored point cloud one sampled from its mesh (in the
    normalized frame, ``n_points`` area-weighted samples, seeded), with the bundle's
    placed keypoints inserted; their ``point_index`` is set accordingly.

    Raises FormatError naming the model when it has neither a point cloud nor a mesh.
    """
    from dataclasses import replace

    from core.geometry.mesh import MeshError, apply_transform, load_mesh
    from core.geometry.sampling import insert_keypoints, sample_surface

    transforms = {m.name: m.transform for m in store.models(bundle.category)}
    by_model = defaultdict(list)
    for i, ann in enumerate(bundle.annotations):
        by_model[ann.model].append(i)
    annotations = list(bundle.annotations)
    entries = []
    for entry in bundle.models:
        if entry.point_cloud is not None:
            entries.append(entry)
            continue
        if not entry.mesh_path:
            raise FormatError(bundle.category, f"model {entry.name!r} has neither a point "
                              "cloud nor a mesh to sample one from")
        try:
            mesh = load_mesh(entry.mesh_path)
        except MeshError as exc:
            raise FormatError(entry.mesh_path, str(exc)) from exc
        vertices = mesh.vertices
        if transforms.get(entry.name) is not None:
            vertices = apply_transform(np.asarray(transforms[entry.name]), vertices)
        sample = sample_surface(vertices, mesh.faces, n_points, seed)
        slots = [(i, j) for i in by_model[entry.name]
                 for j, p in enumerate(annotations[i].points) if not p.absent and p.xyz]
        if slots:
            xyz = np.array([annotations[i].points[j].xyz for i, j in slots])
            sample, index = insert_keypoints(sample, xyz)
            for (i, j), k in zip(slots, index.tolist(), strict=True):
                points = list(annotations[i].points)
                points[j] = replace(points[j], point_index=int(k))
                annotations[i] = replace(annotations[i], points=tuple(points))
        entries.append(replace(entry, point_cloud=sample.points.astype(np.float32)))
    return replace(bundle, models=tuple(entries), annotations=tuple(annotations))


def flatten_sets(bundle: AnnotationBundle, annotator: str) -> tuple[AnnotationBundle,
                                                                     list[tuple[str, int]]]:
    """Merge every annotator's sets into one numbering (for single-annotator formats such
    as CPNet, whose columns are sets): set (annotator, number) becomes column ``c`` in
    the order of sorted (annotator, number). Returns the new bundle and the columns."""
    from dataclasses import replace

    columns = sorted({(a.annotator, p.number) for a in bundle.annotations for p in a.points})
    column_of = {key: c for c, key in enumerate(columns)}
    merged = defaultdict(list)
    for ann in bundle.annotations:
        merged[ann.model] += [replace(p, number=column_of[(ann.annotator, p.number)])
                              for p in ann.points]
    annotations = tuple(ModelAnnotation(m.name, annotator, tuple(merged[m.name]))
                        for m in bundle.models if merged.get(m.name))
    names = {(annotator, c): bundle.set_names.get(key, f"{key[0]}:{key[1]}")
             for key, c in column_of.items()}
    # per-column extras of an earlier import no longer match the new columns
    extra = {k: v for k, v in bundle.extra.items() if k not in ("n_sets", "mean_distance")}
    return replace(bundle, annotations=annotations, set_names=names, extra=extra), columns
