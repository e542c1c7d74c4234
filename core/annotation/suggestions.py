"""Placement suggestions: where a correspondence set's point most likely lies on a model.

For a target model and a set, the *query* is the mean embedding of that set's points on
the models already labelled (every other model where the set is placed, or the
``sources`` given); the suggestion is the target's surface sample whose embedding is
nearest to the query, refined to sub-sample precision and snapped onto the mesh (face +
barycentric weights). A per-vertex similarity heatmap in [0, 1] comes with it.

Embeddings come from a trained checkpoint (:mod:`core.embedding`) when one is given;
without one the engine uses the xyz fallback (:class:`core.annotation.embedders.XyzEmbedder`):
the query is the mean *position* of the set's points in the normalized frame and the
suggestion is the closest surface point to it. :attr:`SuggestionEngine.method` says
which is in use.

Costs: each model is sampled and embedded once (cached by model id; one forward pass of
the network); a suggestion is then a (N x D) distance computation and one closest-point
query (a few ms). :meth:`SuggestionEngine.refresh` re-reads the placed points after
edits; the embeddings stay cached. Not thread-safe: use an engine from one thread.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from core.annotation.embedders import PointEmbedder, make_embedder
from core.annotation.model_surface import ModelSurface, load_model_surface
from core.store import CategorySets, ProjectStore
from core.store.records import MISSING, PLACED

__all__ = ["METRICS", "Suggestion", "SuggestionEngine"]

METRICS = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class Suggestion:
    """A suggested point of a set on a model.

    Attributes:
        model_id, set_id: where and for which set.
        face: face index on the model's mesh.
        bary: barycentric weights on ``face`` (>= 0, sum 1).
        xyz: the position, normalized model units.
        score: confidence in [0, 1]: ``1 - d_best / median(d)`` over the model's samples
            (d = embedding distance to the query); 1 = an exact match, 0 = no closer than
            a typical point of the surface.
        heatmap: (V,) float32 similarity of every mesh vertex in [0, 1] (1 = the best
            match; from the nearest sample), or None when not requested.
        n_sources: how many labelled models the query was averaged over.
        method: the embedding used (e.g. ``"xyz"`` or ``"pointnet (best.safetensors)"``).
    """

    model_id: int
    set_id: int
    face: int
    bary: tuple[float, float, float]
    xyz: tuple[float, float, float]
    score: float
    heatmap: np.ndarray | None
    n_sources: int
    method: str


class SuggestionEngine:
    """Suggestions for one category of a project.

    Args:
        store: the open project.
        category: category name.
        checkpoint: an embedding checkpoint path, an embedding network in memory, or
            None for the xyz fallback.
        device: where a network runs (``"auto"``: CUDA when present).
        n_points: surface samples per model (the points that are embedded).
        seed: sampling seed (combined with each model id).
        metric: ``"euclidean"`` (what the embedding loss and mGE use; the default) or
            ``"cosine"``. The xyz fallback always uses euclidean distances.
        refine_k: samples around the best one averaged (weighted by similarity) before
            snapping onto the surface (1: the best sample itself).
    """

    def __init__(self, store: ProjectStore, category: str, checkpoint=None,
                 device: str = "auto", n_points: int = 2048, seed: int = 0,
                 metric: str = "euclidean", refine_k: int = 8) -> None:
        if metric not in METRICS:
            raise ValueError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        self.store = store
        self.category = category
        self.embedder: PointEmbedder = make_embedder(checkpoint, device)
        self.n_points = int(n_points)
        self.seed = int(seed)
        self.metric = "euclidean" if self.embedder.exact_positions else metric
        self.refine_k = max(1, int(refine_k))
        self._infos = {m.id: m for m in store.models(category)}
        self._surfaces: dict[int, ModelSurface] = {}
        self._embeddings: dict[int, np.ndarray] = {}
        self._norms: dict[int, np.ndarray] = {}
        self._at_points: dict[int, np.ndarray] = {}
        self.refresh()

    # ------------------------------------------------------------------ state
    @property
    def method(self) -> str:
        """Which embedding is used: ``"xyz"`` (fallback) or the network's label."""
        return self.embedder.name

    @property
    def sets(self) -> CategorySets:
        """The category's sets as last read (see :meth:`refresh`)."""
        return self._sets

    def refresh(self) -> None:
        """Re-read the placed points from the store (call after edits)."""
        self._sets = self.store.category_sets(self.category)
        self._row = {int(m): i for i, m in enumerate(self._sets.model_ids)}
        self._col = {int(s): j for j, s in enumerate(self._sets.set_ids)}
        self._at_points.clear()

    def surface(self, model_id: int) -> ModelSurface:
        """The model's mesh and samples (loaded once)."""
        model_id = int(model_id)
        if model_id not in self._surfaces:
            if model_id not in self._infos:
                raise KeyError(f"No model {model_id} in category {self.category!r}")
            self._surfaces[model_id] = load_model_surface(self.store, self._infos[model_id],
                                                          self.n_points, self.seed)
        return self._surfaces[model_id]

    def embedding(self, model_id: int) -> np.ndarray:
        """(N, D) float32 embeddings of the model's samples (computed once)."""
        model_id = int(model_id)
        if model_id not in self._embeddings:
            emb = np.asarray(self.embedder(self.surface(model_id).sample.points),
                             dtype=np.float32)
            self._embeddings[model_id] = emb
            self._norms[model_id] = np.linalg.norm(emb.astype(np.float64), axis=1)
        return self._embeddings[model_id]

    def prepare(self, model_ids: Iterable[int] | None = None) -> None:
        """Load and embed models ahead of time (default: every model of the category)."""
        for mid in (self._infos if model_ids is None else model_ids):
            self.embedding(mid)

    # ---------------------------------------------------------------- queries
    def point_embeddings(self, model_id: int) -> np.ndarray:
        """(S, D) float64 embedding at each set's placed point on the model (NaN rows for
        sets not placed there): the position itself for the xyz fallback, else the
        inverse-distance mean of the 4 nearest samples' embeddings."""
        model_id = int(model_id)
        if model_id not in self._at_points:
            i = self._row[model_id]
            placed = np.flatnonzero((self._sets.state[i] == PLACED)
                                    & np.isfinite(self._sets.xyz[i]).all(axis=1))
            xyz = self._sets.xyz[i, placed]
            if self.embedder.exact_positions:
                values = xyz
            else:
                emb = self.embedding(model_id).astype(np.float64)
                dist, idx = self.surface(model_id).nearest_samples(xyz, k=4)
                w = 1.0 / (np.asarray(dist).reshape(len(placed), -1) + 1e-6)
                w /= w.sum(axis=1, keepdims=True)
                values = np.einsum("pk,pkd->pd", w, emb[np.asarray(idx).reshape(len(placed), -1)])
            out = np.full((len(self._sets.set_ids), values.shape[1]), np.nan)
            out[placed] = values
            self._at_points[model_id] = out
        return self._at_points[model_id]

    def query(self, set_id: int, exclude_model: int | None = None,
              sources: Collection[int] | None = None) -> tuple[np.ndarray | None, int]:
        """(D,) mean embedding of the set's placed points on the source models and how
        many models it averages (None, 0 when no source model holds the set).

        Args:
            exclude_model: a model left out (the target).
            sources: model ids allowed as sources (None: every model).
        """
        j = self._col[int(set_id)]
        rows = self._source_rows(j, exclude_model, sources)
        if rows.size == 0:
            return None, 0
        stack = np.stack([self.point_embeddings(int(self._sets.model_ids[r]))[j] for r in rows])
        return stack.mean(axis=0), int(rows.size)

    # ------------------------------------------------------------ suggestions
    def suggest(self, model_id: int, set_id: int, sources: Collection[int] | None = None,
                heatmap: bool = True) -> Suggestion | None:
        """Where ``set_id``'s point most likely lies on ``model_id`` (None when no source
        model holds the set). The target model is never its own source."""
        found = self.suggest_model(model_id, [set_id], sources, heatmap)
        return found.get(int(set_id))

    def suggest_model(self, model_id: int, set_ids: Iterable[int] | None = None,
                      sources: Collection[int] | None = None,
                      heatmap: bool = False) -> dict[int, Suggestion]:
        """Suggestions for several sets on one model (for a bulk accept).

        Args:
            set_ids: the sets (default: every set still missing on the model).
            sources: model ids allowed as sources (None: every other model).
            heatmap: compute the per-vertex heatmaps too.
        Returns:
            set id -> suggestion, for the sets some source model holds.
        """
        model_id = int(model_id)
        if set_ids is None:
            i = self._row[model_id]
            set_ids = self._sets.set_ids[self._sets.state[i] == MISSING].tolist()
        wanted, queries, counts = [], [], []
        for sid in set_ids:
            q, n = self.query(int(sid), exclude_model=model_id, sources=sources)
            if q is not None:
                wanted.append(int(sid))
                queries.append(q)
                counts.append(n)
        if not wanted:
            return {}
        surf = self.surface(model_id)
        dist = self._distances(model_id, np.stack(queries))            # (K, N)
        best = np.argmin(dist, axis=1)
        median = np.median(dist, axis=1)
        score = np.clip(1.0 - dist[np.arange(len(wanted)), best] / np.maximum(median, 1e-12),
                        0.0, 1.0)
        sims = [_similarity(row) for row in dist]
        if self.embedder.exact_positions:
            targets = np.stack(queries)
        else:
            targets = np.stack([self._refined(surf, b, s) for b, s in zip(best, sims,
                                                                           strict=True)])
        snapped = surf.snap(targets)
        out = {}
        for k, sid in enumerate(wanted):
            out[sid] = Suggestion(
                model_id, sid, int(snapped.face[k]), _tuple3(snapped.bary[k]),
                _tuple3(snapped.xyz[k]), float(score[k]),
                sims[k][surf.vertex_sample] if heatmap else None, counts[k], self.method)
        return out

    # ---------------------------------------------------------------- helpers
    def _source_rows(self, col: int, exclude_model: int | None,
                     sources: Collection[int] | None) -> np.ndarray:
        ok = (self._sets.state[:, col] == PLACED) & np.isfinite(self._sets.xyz[:, col]).all(axis=1)
        if exclude_model is not None and int(exclude_model) in self._row:
            ok[self._row[int(exclude_model)]] = False
        if sources is not None:
            allowed = np.zeros_like(ok)
            allowed[[self._row[int(m)] for m in sources if int(m) in self._row]] = True
            ok &= allowed
        return np.flatnonzero(ok)

    def _distances(self, model_id: int, queries: np.ndarray) -> np.ndarray:
        """(K, N) float64 distances from K queries to the model's sample embeddings."""
        if self.embedder.exact_positions:
            pts = self.surface(model_id).sample.points
            return np.linalg.norm(queries[:, None, :] - pts[None], axis=2)
        emb = self.embedding(model_id).astype(np.float64)
        norms = self._norms[model_id]
        dots = queries @ emb.T
        qn = np.linalg.norm(queries, axis=1)
        if self.metric == "cosine":
            return 1.0 - dots / np.maximum(qn[:, None] * norms[None], 1e-12)
        return np.sqrt(np.maximum(qn[:, None] ** 2 + norms[None] ** 2 - 2.0 * dots, 0.0))

    def _refined(self, surf: ModelSurface, best: int, sim: np.ndarray) -> np.ndarray:
        """Similarity-weighted mean position of the ``refine_k`` samples nearest (in 3D)
        to the best sample: sub-sample precision before snapping."""
        if self.refine_k == 1:
            return surf.sample.points[best]
        _, idx = surf.nearest_samples(surf.sample.points[best], k=self.refine_k)
        idx = np.asarray(idx).reshape(-1)
        w = sim[idx].astype(np.float64) + 1e-12
        return (w[:, None] * surf.sample.points[idx]).sum(axis=0) / w.sum()


def _similarity(distance: np.ndarray) -> np.ndarray:
    from core.embedding.transfer import similarity_from_distance

    return similarity_from_distance(distance)


def _tuple3(values: np.ndarray) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2])
