"""The demo project's ground truth, for scoring suggestions and review flags.

Reads ``ground_truth/<category>.json`` as written by
:func:`core.demo.build_project.ground_truth_document`: every model's landmark points,
each synthetic annotator's numbering (set number -> landmark name) and the mistakes
injected (points where the annotator clicked the mirror landmark: a left/right swap, or
front/back for the mug).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DemoTruth", "InjectedSwap", "load_demo_truth"]


@dataclass(frozen=True)
class InjectedSwap:
    """A point placed on the mirror landmark: on ``model`` (name), set ``number`` of
    ``annotator`` should be ``landmark`` but was placed on ``placed_landmark``."""

    model: str
    annotator: str
    number: int
    landmark: str
    placed_landmark: str


@dataclass(frozen=True, eq=False)
class DemoTruth:
    """A demo category's ground truth.

    Attributes:
        category: category name.
        mirror: landmark -> its mirror landmark (landmarks off the symmetry plane).
        conventions: annotator -> {set number: landmark}.
        landmarks: model name -> {landmark: (face, (3,) bary, (3,) xyz)}.
        swaps: the injected mirror mistakes.
    """

    category: str
    mirror: dict[str, str]
    conventions: dict[str, dict[int, str]]
    landmarks: dict[str, dict[str, tuple[int, np.ndarray, np.ndarray]]]
    swaps: tuple[InjectedSwap, ...]

    def landmark_of(self, annotator: str, number: int) -> str | None:
        """The landmark an annotator's set number stands for (None: not a demo set)."""
        return self.conventions.get(annotator, {}).get(int(number))

    def swap_keys(self) -> set[tuple[str, str, int]]:
        """{(model name, annotator, number)} of the injected swaps."""
        return {(s.model, s.annotator, s.number) for s in self.swaps}


def load_demo_truth(project_file: str | Path, category: str) -> DemoTruth:
    """The ground truth next to a demo project file (``<folder>/ground_truth/``).

    Raises:
        FileNotFoundError: not a demo project (no ground-truth file for the category).
    """
    path = Path(project_file).parent / "ground_truth" / f"{category}.json"
    doc = json.loads(path.read_text())
    mirror = {lm["name"]: lm["mirror"] for lm in doc["landmarks"] if lm["mirror"]}
    conventions = {a: {int(n): lm for n, lm in v["convention"].items()}
                   for a, v in doc["annotators"].items()}
    landmarks = {
        model: {name: (int(p["face"]), np.asarray(p["bary"], dtype=np.float64),
                       np.asarray(p["xyz"], dtype=np.float64))
                for name, p in v["landmarks"].items()}
        for model, v in doc["models"].items()
    }
    swaps = tuple(InjectedSwap(m["model"], a, int(m["number"]), m["landmark"],
                               m["placed_landmark"])
                  for a, v in sorted(doc["annotators"].items()) for m in v["mistakes"])
    return DemoTruth(doc["category"], mirror, conventions, landmarks, swaps)
