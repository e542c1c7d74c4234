"""Suggestions and review flags on the demo project (built in a temporary folder).

Per demo category (24 models sorted by name; 8 synthetic annotators):

- suggestion accuracy after labelling 3 models: every point the annotators placed on the
  8 held-out models (16..23) is suggested from the same annotator's points on models
  0..2; the value is the mean geodesic error to the ground-truth landmark, a fraction of
  the bounding-box diagonal. Methods: a PointNet trained in this run (30 epochs, 512
  points per model, models 0..15 only; the best-validation-mGE checkpoint, as the app
  would use) against the xyz fallback, and the xyz fallback against a random surface
  point;
- swap flags: recall and precision of the top N = 2 x (injected left/right swaps) flags;
- far flags, for comparison: the same for "far from the suggestion" alone and with the
  other annotators' consensus, with the xyz and the PointNet suggestions;
- time per suggestion (with the per-vertex heatmap), median of ``20 * repeat`` calls on
  embedded models; goal 10 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.table import Row

CATEGORIES = ("airplane", "mug", "chair")
EPOCHS = 30
TRAIN_POINTS = 512
N_LABELLED = 3
HELD_OUT = slice(16, 24)


def _train(store, category: str, folder: Path) -> tuple[Path, int, float]:
    """Best checkpoint of a PointNet trained on models 0..15; its epoch; seconds."""
    from core.embedding.checkpoint import read_sidecar
    from core.embedding.dataset import load_category_data
    from core.embedding.metrics import set_distance_matrix
    from core.embedding.trainer import TrainConfig, TrainingDone, train
    from core.embedding.types import CategoryData

    t0 = time.perf_counter()
    data = load_category_data(store, category, n_points=TRAIN_POINTS, cache_dir=folder / "geo")
    seen = data.samples[:HELD_OUT.start]
    dist = set_distance_matrix(np.stack([s.keypoints for s in seen]),
                               [s.geodesics for s in seen])
    subset = CategoryData(data.category, data.set_labels, tuple(seen),
                          np.asarray(dist.mean, dtype=np.float32), data.geodesic_mode)
    done = [e for e in train(subset, TrainConfig(epochs=EPOCHS), folder / category)
            if isinstance(e, TrainingDone)][0]
    return (done.best_checkpoint, int(read_sidecar(done.best_checkpoint)["epoch"]),
            time.perf_counter() - t0)


def _time_per_suggestion(engine, repeat: int) -> float:
    ids = engine.sets.model_ids.tolist()
    set_ids = engine.sets.set_ids.tolist()
    engine.prepare(ids)
    engine.suggest(ids[HELD_OUT.start], set_ids[0])  # warm-up
    times = []
    for k in range(20 * repeat):
        t0 = time.perf_counter()
        engine.suggest(ids[HELD_OUT][k % 8], set_ids[k % len(set_ids)], heatmap=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _flag_rows(name: str, flags, truth) -> list[Row]:
    from core.annotation.scoring import flag_recall_precision

    n_top = 2 * len(truth.swaps)
    score = flag_recall_precision(flags, truth, n_top)
    return [Row("suggestions", f"{name}: top {n_top}, recall", score.recall, "",
                goal=">= 0.5"),
            Row("suggestions", f"{name}: top {n_top}, precision", score.precision, "",
                goal="> 0.5")]


def _category_rows(store, project: Path, category: str, folder: Path,
                   repeat: int) -> list[Row]:
    from core.annotation.demo_truth import load_demo_truth
    from core.annotation.review import far_from_suggestion_flags, swap_flags
    from core.annotation.scoring import random_point_errors, suggestion_errors
    from core.annotation.suggestions import SuggestionEngine

    truth = load_demo_truth(project, category)
    checkpoint, best_epoch, train_s = _train(store, category, folder)
    engines = {"xyz": SuggestionEngine(store, category),
               "pointnet": SuggestionEngine(store, category, checkpoint=checkpoint)}
    ids = engines["xyz"].sets.model_ids.tolist()
    labelled, targets = ids[:N_LABELLED], ids[HELD_OUT]
    err = {k: suggestion_errors(e, truth, labelled, targets) for k, e in engines.items()}
    rnd = random_point_errors(engines["xyz"], truth, targets)
    n = err["xyz"].n
    rows = [
        Row("suggestions", f"{category}: suggestion error, pointnet {EPOCHS} ep. (best epoch "
            f"{best_epoch}, trained in {train_s:.0f} s), {n} points", err["pointnet"].mean,
            "diag", "xyz fallback", err["xyz"].mean),
        Row("suggestions", f"{category}: suggestion error, xyz fallback, {n} points",
            err["xyz"].mean, "diag", "random surface point", rnd.mean),
    ]
    rows += _flag_rows(f"{category}: swap flags", swap_flags(engines["xyz"]), truth)
    for key, engine in engines.items():
        for consensus in (False, True):
            label = "with consensus" if consensus else "suggestion only"
            flags = far_from_suggestion_flags(engine, consensus=consensus)
            rows += _flag_rows(f"{category}: far flags ({key}, {label})", flags, truth)
    for key, engine in engines.items():
        rows.append(Row("suggestions", f"{category}: time per suggestion + heatmap ({key})",
                        _time_per_suggestion(engine, repeat) * 1e3, "ms", goal="< 10 ms"))
    return rows


def run(repeat: int = 3) -> list[Row]:
    from core.demo.build_project import build_demo_project
    from core.store import ProjectStore

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = build_demo_project(Path(tmp) / "demo")
        with ProjectStore.open(project) as store:
            for category in CATEGORIES:
                rows += _category_rows(store, project, category, Path(tmp), repeat)
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
