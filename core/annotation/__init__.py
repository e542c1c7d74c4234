"""Annotation assistance on top of the store and the embedding engine (headless).

- :mod:`core.annotation.model_surface`: a model's mesh in the normalized frame with
  fixed surface samples, nearest-sample lookups and snapping onto the surface.
- :mod:`core.annotation.embedders`: per-point embeddings of the samples: a trained
  checkpoint, or the xyz fallback (positions in the normalized frame).
- :mod:`core.annotation.suggestions`: :class:`SuggestionEngine`: where a set's point most
  likely lies on a model, with a similarity heatmap; bulk suggestions for a whole model.
- :mod:`core.annotation.accept`: accepting suggestions as placed points (one undo step).
- :mod:`core.annotation.surface_distances`: geodesic distances between surface points.
- :mod:`core.annotation.landmark_groups`: grouping sets of different annotators that
  mark the same landmark; per-model consensus points.
- :mod:`core.annotation.symmetry`: the category's symmetry plane and mirror sets.
- :mod:`core.annotation.flags`: the :class:`ReviewFlag` record.
- :mod:`core.annotation.far_flags`: points far from their leave-one-out suggestion.
- :mod:`core.annotation.swap_flags`: points at the mirror image of where they belong.
- :mod:`core.annotation.review`: the ranked :class:`ReviewQueue` (and the flaggers and
  the agreement table, re-exported).
- :mod:`core.annotation.agreement`: inter-annotator agreement per landmark.
- :mod:`core.annotation.demo_truth`, :mod:`core.annotation.scoring`: the demo project's
  ground truth, and scores of suggestions and flags against it.

Nothing here imports Qt; torch is imported only when a checkpoint is used.
"""

from core.annotation.agreement import AgreementRow, agreement_table
from core.annotation.review import (
    ReviewFlag,
    ReviewQueue,
    far_from_suggestion_flags,
    swap_flags,
)
from core.annotation.suggestions import Suggestion, SuggestionEngine

__all__ = [
    "AgreementRow",
    "ReviewFlag",
    "ReviewQueue",
    "Suggestion",
    "SuggestionEngine",
    "agreement_table",
    "far_from_suggestion_flags",
    "swap_flags",
]
