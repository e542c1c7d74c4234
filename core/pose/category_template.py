"""The mesh and 3D semantic points a category is posed against, chosen from the project.

Until the category shape space exists, the template is one annotated model of the category:
the model on which the chosen annotator placed the most points (ties: the first by name). Its
semantic points are that annotator's placed sets on it, stored as face + barycentric weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.model_scene import load_model_scene
from core.store import ProjectStore
from core.store.records import PLACED


class TemplateError(ValueError):
    """The category has no model or no annotated points to pose against."""


@dataclass(frozen=True)
class CategoryTemplate:
    """A template mesh with its semantic points.

    Attributes:
        category, model, annotator: where it came from.
        vertices: (V, 3) float64, normalized model units (+Y up).
        faces: (F, 3) int64.
        set_numbers: (N,) int64 the annotator's set numbers.
        set_names: N optional set names.
        set_ids: (N,) int64 database ids of the sets.
        point_faces: (N,) int64 face of each semantic point.
        points: (N, 3) float64 positions of the semantic points.
    """

    category: str
    model: str
    annotator: str
    vertices: np.ndarray
    faces: np.ndarray
    set_numbers: np.ndarray
    set_names: tuple[str | None, ...]
    set_ids: np.ndarray
    point_faces: np.ndarray
    points: np.ndarray

    def labels(self) -> list[str]:
        """One printable label per semantic point: ``"3 wing_tip_left"`` or ``"3"``."""
        return [f"{n} {name}" if name else str(n)
                for n, name in zip(self.set_numbers.tolist(), self.set_names, strict=True)]


def load_category_template(store: ProjectStore, category: str,
                           annotator: str | None = None,
                           model: str | None = None) -> CategoryTemplate:
    """Pick and load the template of ``category`` (see the module docstring).

    Raises:
        TemplateError: no models, no placed points (for that annotator), unknown names.
        core.geometry.mesh.MeshError: the template's mesh file is missing or broken.
    """
    sets = store.category_sets(category)
    if len(sets.model_ids) == 0:
        raise TemplateError(f"category {category!r} has no models")
    annotators = np.asarray(sets.set_annotators, dtype=object)
    placed = sets.state == PLACED
    if annotator is None:
        if not placed.any():
            raise TemplateError(f"category {category!r} has no placed keypoints to pose with")
        names = sorted(set(sets.set_annotators))
        counts = [int(placed[:, annotators == a].sum()) for a in names]
        annotator = names[int(np.argmax(counts))]
    cols = np.flatnonzero(annotators == annotator)
    if cols.size == 0:
        raise TemplateError(f"annotator {annotator!r} has no sets in category {category!r}")
    if model is None:
        row = int(np.argmax(placed[:, cols].sum(axis=1)))
    else:
        if model not in sets.model_names:
            raise TemplateError(f"category {category!r} has no model {model!r}")
        row = sets.model_names.index(model)
    cols = cols[placed[row, cols]]
    if cols.size == 0:
        raise TemplateError(f"{annotator!r} placed no points on {category}/"
                            f"{sets.model_names[row]}")
    scene = load_model_scene(store, store.model(category, sets.model_names[row]))
    return CategoryTemplate(
        category=category, model=sets.model_names[row], annotator=annotator,
        vertices=scene.vertices, faces=scene.faces,
        set_numbers=sets.set_numbers[cols].astype(np.int64),
        set_names=tuple(sets.set_names[c] for c in cols), set_ids=sets.set_ids[cols],
        point_faces=sets.faces[row, cols].astype(np.int64), points=sets.xyz[row, cols])
