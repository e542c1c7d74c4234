"""Learned 2D stages (core.learned2d): training throughput and inference time on the CPU.

Problem: a demo project of 6 mugs (seed 0); the training split keeps 4 or 5 of them; 48
renders per model at 128 x 128 pixels; the network at its defaults (64 px crops, width 32,
batch 32, Adam). One epoch per measurement, with torch's default thread count and with one
thread (on a machine shared with other work, OpenMP threads waiting on a busy core make one
thread the faster).

Measures and baselines, in the same run:
- training throughput (crops + forward + backward + Adam step), images/s, against the rate
  at which the same run rendered its training views (fast rasterizer, ray-cast visibility):
  above 1x, rendering each view once and reusing it over epochs is what keeps the CPU
  training, not the renderer, the bottleneck;
- inference per 128 px image (crop, network, heatmap peaks, back to image pixels), median
  over ``10 * repeat`` calls, against the layout baseline of the checkpoint (no network)
  and against the silhouette IoU search over the same 24 x 12 viewpoint bins
  (:func:`core.pose.viewpoint.search_viewpoints`, fast rasterizer, the mug's own mesh and
  its true silhouette),
  which the network's viewpoint head replaces as an initialisation.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.table import Row, median_time

CATEGORY = "mug"
N_MODELS = 6
VIEWS = 48


def _train(meshes, out: Path, threads: int) -> tuple[float, float, int]:
    """(training images/s, rendering views/s, training views) of a one-epoch run."""
    from core.learned2d.data import RenderConfig
    from core.learned2d.trainer import (
        ImageDataProgress,
        ImageTrainConfig,
        ImageTrainingDone,
        train_image_networks,
    )

    config = ImageTrainConfig(epochs=1, views_per_model=VIEWS, val_views_per_model=2,
                              device="cpu", threads=threads,
                              render=RenderConfig(image_size=128))
    t0 = time.perf_counter()
    render_s, n_views, rate = float("nan"), 0, float("nan")
    for event in train_image_networks(meshes, config, out):
        if isinstance(event, ImageDataProgress) and event.stage == "train" \
                and event.done == event.total:
            render_s, n_views = time.perf_counter() - t0, event.total
        elif isinstance(event, ImageTrainingDone):
            rate = event.images_per_s
    return rate, n_views / render_s, n_views


def run(repeat: int = 3) -> list[Row]:
    import numpy as np
    import torch

    from core.demo.build_project import build_demo_project
    from core.learned2d.checkpoint import load_predictor
    from core.learned2d.data import load_category_meshes
    from core.pose.viewpoint import search_viewpoints
    from core.store import ProjectStore
    from core.synthetic.renders import Viewpoint, fit_camera, render_view

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = build_demo_project(root / "demo", n_models=N_MODELS, categories=[CATEGORY])
        with ProjectStore.open(project) as store:
            meshes = load_category_meshes(store, CATEGORY)
        threads = torch.get_num_threads()
        baseline = "rendering the training views (128 px, fast rasterizer, ray-cast visibility)"
        for n in sorted({threads, 1}, reverse=True):
            rate, render_rate, n_views = _train(meshes, root / f"nets{n}", n)
            rows.append(Row("image_nets", f"training throughput, 64 px crops, batch 32, width "
                            f"32, {n_views} views, CPU, {n} torch thread{'s' if n > 1 else ''}",
                            rate, "images/s", baseline, render_rate))
        predictor = load_predictor(root / f"nets{threads}" / "best.safetensors")
        model = meshes.split()[0][0]
        camera = fit_camera(Viewpoint(azimuth=30.0, elevation=20.0), model.vertices, (128, 128))
        view = render_view((model.vertices, model.faces, model.points), camera,
                           np.random.default_rng(9), landmark_names=meshes.labels)
        rgb, mask = view.rgb, view.mask
        pred = predictor.predict(rgb, mask)
        a, e, _ = pred.top_viewpoints(1)[0]
        n_calls = 10 * repeat
        network_s = median_time(lambda: predictor.predict(rgb, mask), n_calls)
        layout_s = median_time(lambda: predictor.layout.keypoints(mask, a, e), n_calls)
        search_s = median_time(
            lambda: search_viewpoints(mask, model.vertices, model.faces, k=1), max(1, repeat))
    label = "inference per 128 px image (crop + network + peaks), CPU"
    rows.append(Row("image_nets", label, 1e3 * network_s, "ms",
                    "layout baseline of the predicted bin (no network)", 1e3 * layout_s))
    rows.append(Row("image_nets", f"viewpoint per image: {label}", 1e3 * network_s, "ms",
                    "silhouette IoU search over 24 x 12 bins (core.pose.viewpoint)",
                    1e3 * search_s))
    return rows


if __name__ == "__main__":
    from benchmarks.table import format_table

    print(format_table(run()))
