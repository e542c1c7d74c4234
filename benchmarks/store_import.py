"""Import speed: 1,000 models x 10 keypoints through the all-or-nothing bundle import,
against a naive baseline committing one keypoint per transaction (same project, same run)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.table import Row

N_MODELS = 1000
N_POINTS = 10


def _bundle():
    from core.formats.records import AnnotationBundle, ModelAnnotation, ModelEntry, PointRecord

    models = tuple(ModelEntry(f"m{i:04d}") for i in range(N_MODELS))
    anns = tuple(
        ModelAnnotation(m.name, "bench", tuple(
            PointRecord(k, (0.01 * k, 0.02 * i % 1.0, 0.5), k, (0.2, 0.3, 0.5), (10, 20, 30),
                        k * 7) for k in range(N_POINTS)))
        for i, m in enumerate(models))
    return AnnotationBundle("bench", None, models, anns)


def _naive(store) -> None:
    """One model, set and keypoint per transaction: what a per-click import loop does."""
    from core.store import KeypointRecord

    cat = store.add_category("naive")
    ann = store.ensure_annotator("naive")
    sets = store.add_sets(ann, cat, [(k, None) for k in range(N_POINTS)])
    for i in range(N_MODELS):
        [mid] = store.add_models(cat, [dict(name=f"m{i:04d}")])
        for k in range(N_POINTS):
            store.add_keypoints([KeypointRecord(mid, sets[k], k, (0.2, 0.3, 0.5),
                                                (0.01 * k, 0.5, 0.5))])


def run(repeat: int = 1) -> list[Row]:
    from core.store import ProjectStore
    from core.store.bundle_io import import_bundles

    bundle = _bundle()
    with tempfile.TemporaryDirectory() as tmp:
        with ProjectStore.create(Path(tmp) / "fast.corrstudio") as store:
            t0 = time.perf_counter()
            import_bundles(store, [bundle], "bench")
            fast = time.perf_counter() - t0
        with ProjectStore.create(Path(tmp) / "naive.corrstudio") as store:
            t0 = time.perf_counter()
            _naive(store)
            naive = time.perf_counter() - t0
    return [Row("store", f"import {N_MODELS} models x {N_POINTS} keypoints (SQLite)", fast, "s",
                "one row per transaction", naive)]
