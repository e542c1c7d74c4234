"""Write generated demo categories to disk as a CorrStudio project.

Layout of a demo project folder::

    demo.corrstudio                 SQLite project (categories, models, annotators, sets, keypoints)
    meshes/<category>/<model>.ply   binary PLY meshes, normalized frame
    ground_truth/<category>.json    landmarks per model, annotator conventions, injected mistakes

Meshes and ground-truth files are byte-identical for the same seed. The folder is
built in a temporary sibling and renamed into place at the end, so an
interrupted build never leaves a half-written project behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.demo.types import DemoCategory
from core.paths import DEMO_PROJECT_NAME

# Color (uint8 RGB) stored with each demo keypoint: the demo meshes are untextured,
# so this is the category's flat material color, as KeypointNet stores surface color.
_MATERIAL_RGB = {"airplane": (200, 200, 205), "mug": (225, 215, 190), "chair": (170, 120, 80)}


@dataclass(frozen=True)
class BuildStep:
    """Progress of a demo build: ``done`` of ``total`` categories, with a message."""

    done: int
    total: int
    message: str


def iter_build_demo_project(out_dir: Path, seed: int = 0, n_models: int = 24,
                            categories: Sequence[str] | None = None) -> Iterator[BuildStep]:
    """Build the demo project into ``out_dir`` (must not exist), yielding progress.

    Raises:
        FileExistsError: when ``out_dir`` already exists.
    """
    from core.demo import CATEGORIES, generate_category

    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"Cannot build the demo project: {out_dir} already exists")
    names = tuple(categories or CATEGORIES)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-building-", dir=out_dir.parent))
    try:
        from core.store import ProjectStore

        store = ProjectStore.create(tmp / DEMO_PROJECT_NAME, name="CorrStudio demo")
        try:
            for i, name in enumerate(names):
                yield BuildStep(i, len(names), f"Generating {name} ({n_models} models)")
                category = generate_category(name, seed=seed, n_models=n_models)
                _write_category(store, tmp, category)
            yield BuildStep(len(names), len(names), "Demo project ready")
        finally:
            store.close()
        try:
            tmp.rename(out_dir)
        except OSError:
            if not (out_dir / DEMO_PROJECT_NAME).exists():
                raise
            # another process finished the same build first: keep theirs

    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_demo_project(out_dir: Path, seed: int = 0, n_models: int = 24,
                       categories: Sequence[str] | None = None,
                       progress: Callable[[BuildStep], None] | None = None) -> Path:
    """Build the demo project and return the path of its project file."""
    for step in iter_build_demo_project(out_dir, seed, n_models, categories):
        if progress is not None:
            progress(step)
    return Path(out_dir) / DEMO_PROJECT_NAME


def ensure_demo_project(out_dir: Path, progress: Callable[[BuildStep], None] | None = None,
                        n_models: int = 24) -> Path:
    """The demo project file under ``out_dir``, building it first when missing."""
    project = Path(out_dir) / DEMO_PROJECT_NAME
    if project.exists():
        return project
    return build_demo_project(out_dir, n_models=n_models, progress=progress)


def _write_category(store, root: Path, category: DemoCategory) -> None:
    from core.geometry.ply import write_ply
    from core.store import KeypointRecord

    mesh_dir = root / "meshes" / category.name
    mesh_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in category.models:
        path = mesh_dir / f"{model.model_id}.ply"
        write_ply(path, model.vertices, model.faces)
        rows.append(dict(
            name=model.model_id,
            mesh_path=path.relative_to(root).as_posix(),
            content_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
            n_vertices=int(model.vertices.shape[0]),
            n_faces=int(model.faces.shape[0]),
            transform=[[float(i == j) for j in range(4)] for i in range(4)],
        ))
    cat_id = store.add_category(category.name, category.shapenet_id)
    model_ids = dict(zip((m.model_id for m in category.models),
                         store.add_models(cat_id, rows), strict=True))
    rgb = _MATERIAL_RGB.get(category.name, (128, 128, 128))
    for ann in category.annotators:
        ann_id = store.ensure_annotator(ann.name)
        set_ids = store.add_sets(ann_id, cat_id, sorted(ann.convention.items()))
        store.add_keypoints([
            KeypointRecord(model_id=model_ids[kp.model_id], set_id=set_ids[kp.number],
                           face=kp.point.face, bary=kp.point.bary, xyz=kp.point.xyz, rgb=rgb,
                           author_id=ann_id)
            for kp in ann.keypoints
        ])
    gt_dir = root / "ground_truth"
    gt_dir.mkdir(exist_ok=True)
    (gt_dir / f"{category.name}.json").write_text(
        json.dumps(ground_truth_document(category), indent=1, sort_keys=True) + "\n")


def ground_truth_document(category: DemoCategory) -> dict:
    """The JSON-ready ground truth of a category (deterministic key order)."""

    def point(p) -> dict:
        return {"face": int(p.face), "bary": [float(w) for w in p.bary],
                "xyz": [float(c) for c in p.xyz]}

    return {
        "category": category.name,
        "shapenet_id": category.shapenet_id,
        "landmarks": [{"name": s.name, "mirror": s.mirror, "part": s.part}
                      for s in category.landmarks],
        "models": {
            m.model_id: {
                "landmarks": {k: point(v) for k, v in sorted(m.landmarks.items())},
                "params": {k: (bool(v) if isinstance(v, bool) else float(v))
                           for k, v in sorted(m.params.items())},
            }
            for m in category.models
        },
        "annotators": {
            a.name: {
                "convention": {str(n): lm for n, lm in sorted(a.convention.items())},
                "mistakes": [
                    {"model": kp.model_id, "number": kp.number, "landmark": kp.landmark,
                     "placed_landmark": kp.placed_landmark}
                    for kp in a.keypoints if kp.is_mistake
                ],
            }
            for a in category.annotators
        },
    }
