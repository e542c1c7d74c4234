"""Interchange records between file formats and the project store.

Readers turn a file into :class:`AnnotationBundle` objects (one per category);
writers turn bundles back into files. The store imports and exports bundles
atomically. Everything here is plain data: numpy arrays, tuples and JSON-able dicts.

Coordinates are in the model's normalized frame (the frame of the mesh file for
ShapeNet-style ``model_normalized.obj`` meshes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PointRecord:
    """One keypoint of one annotator on one model.

    Attributes:
        number: the set number (KeypointNet ``semantic_id``, CPNet column); >= 0.
        xyz: position in model units, or None when the point is absent.
        face: mesh face index (KeypointNet ``mesh_info.face_index``) or None.
        bary: barycentric weights on ``face`` (``mesh_info.face_uv``), >= 0, summing
            to 1, or None.
        rgb: uint8 color or None.
        point_index: index into the model's point cloud (``pcd_info.point_index``,
            CPNet's keypoint index) or None.
        absent: True when the annotator marked the part absent on this model.
    """

    number: int
    xyz: tuple[float, float, float] | None
    face: int | None = None
    bary: tuple[float, float, float] | None = None
    rgb: tuple[int, int, int] | None = None
    point_index: int | None = None
    absent: bool = False


@dataclass(frozen=True)
class ModelAnnotation:
    """An annotator's points on one model, in file order (one KeypointNet record).

    Attributes:
        model: model name (ShapeNet model id).
        annotator: annotator name.
        points: the points, in the order the file lists them.
        extra: other record-level fields kept verbatim for re-export (JSON-able),
            e.g. ``{"symmetries": {"reflection": [...], "rotation": [...]}}``.
    """

    model: str
    annotator: str
    points: tuple[PointRecord, ...]
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelEntry:
    """A model of the category.

    Attributes:
        name: model name (unique in the category).
        mesh_path: absolute path of its mesh file, or None when not at hand.
        point_cloud: (N, 3) float32 sampled surface points (KeypointNet pcd, CPNet
            ``point_clouds``), or None.
    """

    name: str
    mesh_path: str | None = None
    point_cloud: np.ndarray | None = None


@dataclass(frozen=True)
class AnnotationBundle:
    """A category's models and annotations as read from (or written to) files.

    Attributes:
        category: category name (e.g. ``chair``).
        shapenet_id: ShapeNet synset id (``03001627``) or None.
        models: the models, in file order.
        annotations: per (model, annotator) point lists.
        set_names: optional names of sets, keyed by ``(annotator, number)``.
        extra: other category-level data kept for re-export (JSON-able), e.g.
            ``{"mean_distance": [[...], ...]}`` from CPNet.
    """

    category: str
    shapenet_id: str | None
    models: tuple[ModelEntry, ...]
    annotations: tuple[ModelAnnotation, ...]
    set_names: dict[tuple[str, int], str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


class FormatError(ValueError):
    """A file could not be read or written; names the file, record and field at fault.

    Attributes:
        path: the file.
        record: index of the record at fault (or None).
        field: dotted field path (e.g. ``keypoints[2].mesh_info.face_uv``) or None.
        problem: what is wrong.
    """

    def __init__(self, path: str, problem: str, record: int | None = None,
                 field: str | None = None) -> None:
        self.path = str(path)
        self.record = record
        self.field = field
        self.problem = problem
        where = [self.path]
        if record is not None:
            where.append(f"record {record}")
        if field:
            where.append(field)
        super().__init__(f"{', '.join(where)}: {problem}")


#: Format names accepted by ``corrstudio import`` / ``export`` and the File menu.
IMPORT_FORMATS = ("keypointnet", "cpnet", "shapenet", "bundle")
EXPORT_FORMATS = ("keypointnet", "cpnet", "pp", "slicer", "bundle")

# ShapeNetCore synset ids of common categories (used to name imported categories).
SHAPENET_SYNSETS: dict[str, str] = {
    "02691156": "airplane", "02747177": "trash_bin", "02773838": "bag", "02801938": "basket",
    "02808440": "bathtub", "02818832": "bed", "02828884": "bench", "02843684": "birdhouse",
    "02871439": "bookshelf", "02876657": "bottle", "02880940": "bowl", "02924116": "bus",
    "02933112": "cabinet", "02942699": "camera", "02946921": "can", "02954340": "cap",
    "02958343": "car", "02992529": "cellphone", "03001627": "chair", "03046257": "clock",
    "03085013": "keyboard", "03207941": "dishwasher", "03211117": "display",
    "03261776": "earphone", "03325088": "faucet", "03337140": "file_cabinet",
    "03467517": "guitar", "03513137": "helmet", "03593526": "jar", "03624134": "knife",
    "03636649": "lamp", "03642806": "laptop", "03691459": "loudspeaker", "03710193": "mailbox",
    "03759954": "microphone", "03761084": "microwave", "03790512": "motorbike",
    "03797390": "mug", "03928116": "piano", "03938244": "pillow", "03948459": "pistol",
    "03991062": "pot", "04004475": "printer", "04074963": "remote", "04090263": "rifle",
    "04099429": "rocket", "04225987": "skateboard", "04256520": "sofa", "04330267": "stove",
    "04379243": "table", "04401088": "telephone", "04460130": "tower", "04468005": "train",
    "04530566": "vessel", "04554684": "washer",
}


def looks_like_synset(text: str) -> bool:
    """True for an 8-digit ShapeNet-style synset id such as ``03001627``."""
    return len(text) == 8 and text.isascii() and text.isdigit()


def category_for_class_id(class_id: str) -> tuple[str, str | None]:
    """(category name, shapenet_id) for a file's class id: the name from
    :data:`SHAPENET_SYNSETS` (else the id itself); the id as ``shapenet_id`` when it looks
    like a synset id (else None)."""
    return SHAPENET_SYNSETS.get(class_id, class_id), (
        class_id if looks_like_synset(class_id) else None
    )


def category_class_id(bundle: AnnotationBundle) -> str:
    """The class id files use for a bundle: its ShapeNet id, else its category name
    (inverse of :func:`category_for_class_id`, so class ids survive round trips)."""
    return bundle.shapenet_id or bundle.category
