"""Training the image networks on synthetic renders, as a stream of step records.

:func:`train_image_networks` is a generator, like :func:`core.embedding.trainer.train`: it
renders the training views of the category's *train-split* models
(:func:`core.learned2d.split.split_models`; held-out models are never rendered) and a
validation set (the same models, another random stream), yielding
:class:`ImageDataProgress` per model; then per optimisation step an :class:`ImageStepEvent`
(loss parts), per epoch an :class:`ImageEpochEvent` (validation PCK@0.1 box-normalised,
viewpoint accuracy) and finally one :class:`ImageTrainingDone`. A
:class:`~core.embedding.trainer.CancelToken` stops it between steps (or between models
while rendering). Checkpoints (:mod:`core.learned2d.checkpoint`) are written after every
epoch (``last``) and when validation PCK improves (``best``); both hold the layout
baseline fitted on the training views.

Training crops are jittered (centre shift and scale of the mask-box crop) so that the
network tolerates imperfect masks. Adam with cosine decay of the learning rate.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.embedding.trainer import CancelToken, TrainingDiverged
from core.learned2d.data import (
    DEFAULT_MARGIN,
    CategoryMeshes,
    ImageDataError,
    RenderConfig,
    ViewSet,
    crop_box,
    crop_image,
    render_views,
    viewpoint_coordinates,
)
from core.learned2d.metrics import ViewScores

__all__ = ["CancelToken", "ImageDataProgress", "ImageEpochEvent", "ImageStepEvent",
           "ImageTrainConfig", "ImageTrainingDone", "TrainingDiverged", "train_image_networks"]

VALIDATION_STREAM = 1


@dataclass(frozen=True)
class ImageTrainConfig:
    """Everything that defines a training run (stored in the checkpoint sidecar).

    Attributes:
        epochs, batch_size, lr, weight_decay: optimisation (Adam, cosine decay to 5 %).
        views_per_model, val_views_per_model: renders per training model.
        input_size: network crop side, pixels; width: first-stage channels.
        margin: crop margin (fraction of the mask box's longer side, each side).
        box_jitter: crop centre shift (fraction of the side) and log-scale, uniform +-.
        heat_sigma: heatmap target spread, heatmap cells; viewpoint_sigma: bins.
        occluded_heat_weight: weight of occluded (in-image) points in the heatmap loss
            (0: visible points only).
        heatmap_weight, visibility_weight, viewpoint_weight: loss weights.
        seed: renders, initialisation, batches; split_seed: the train / held-out split.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``.
        threads: torch CPU threads while training (0: leave torch's setting; on a busy
            machine one thread is often the fastest).
        render: how views are rendered.
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    views_per_model: int = 64
    val_views_per_model: int = 8
    input_size: int = 64
    width: int = 32
    margin: float = DEFAULT_MARGIN
    box_jitter: float = 0.05
    heat_sigma: float = 1.0
    viewpoint_sigma: float = 1.0
    occluded_heat_weight: float = 0.0
    heatmap_weight: float = 1.0
    visibility_weight: float = 0.5
    viewpoint_weight: float = 0.5
    seed: int = 0
    split_seed: int = 0
    device: str = "auto"
    threads: int = 0
    render: RenderConfig = field(default_factory=RenderConfig)


@dataclass(frozen=True)
class ImageDataProgress:
    """Rendering progress: ``stage`` ``"train"`` or ``"validation"``, views done / total."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class ImageStepEvent:
    """One optimisation step: the batch's total loss and its parts, learning rate."""

    epoch: int
    step: int
    steps_per_epoch: int
    global_step: int
    loss: float
    heatmap: float
    visibility: float
    viewpoint: float
    lr: float


@dataclass(frozen=True)
class ImageEpochEvent:
    """End of an epoch.

    Attributes:
        train_loss: mean total loss of the epoch's steps.
        validation: scores on the validation renders (:class:`ViewScores`).
        images_per_s: training throughput of the epoch (crops + forward + backward).
        seconds: wall time of the epoch, validation included.
    """

    epoch: int
    epochs: int
    train_loss: float
    validation: ViewScores
    images_per_s: float
    seconds: float


@dataclass(frozen=True)
class ImageTrainingDone:
    """The run ended (all epochs, or cancelled).

    Attributes:
        last_checkpoint, best_checkpoint: weights paths (None when none was written).
        epochs_run: epochs completed.
        best_val_pck: best validation PCK@0.1 (NaN before the first epoch).
        best_validation: scores of the best epoch, or None.
        images_per_s: mean training throughput over the run.
        n_train_views: training renders; train_models: the models rendered.
    """

    last_checkpoint: Path | None
    best_checkpoint: Path | None
    epochs_run: int
    best_val_pck: float
    cancelled: bool
    best_validation: ViewScores | None = None
    images_per_s: float = float("nan")
    n_train_views: int = 0
    train_models: tuple[str, ...] = ()


ImageTrainEvent = ImageDataProgress | ImageStepEvent | ImageEpochEvent | ImageTrainingDone


def train_image_networks(meshes: CategoryMeshes, config: ImageTrainConfig,
                         out_dir: str | Path, cancel: CancelToken | None = None,
                         ) -> Iterator[ImageTrainEvent]:
    """Train the image network of ``meshes.category``; yield events; write checkpoints
    ``best`` and ``last`` to ``out_dir``.

    Raises:
        ImageDataError: no training model, or no view with a visible point.
        ValueError: bad options, or a device that is not available.
        TrainingDiverged: a NaN or infinite loss (the message gives epoch and step).
    """
    import torch

    from core.device import pick_device

    _check(config)
    device = pick_device(config.device)
    threads = torch.get_num_threads()
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    try:
        yield from _train(meshes, config, Path(out_dir), cancel, device)
    finally:
        torch.set_num_threads(threads)


def _train(meshes: CategoryMeshes, config: ImageTrainConfig, out_dir: Path,
           cancel: CancelToken | None, device) -> Iterator[ImageTrainEvent]:
    import torch

    from core.learned2d.checkpoint import save_image_checkpoint
    from core.learned2d.layout_baseline import LayoutBaseline
    from core.learned2d.metrics import evaluate_views
    from core.learned2d.networks import ImageNet2D, NetworkSpec
    from core.learned2d.predictor import ImageNetPredictor

    train_models, _ = meshes.split(config.split_seed)
    if not train_models:
        raise ImageDataError(f"category {meshes.category!r}: no model on the training side "
                             "of the split")
    labels = meshes.labels
    views: dict[str, ViewSet] = {}
    for stage, per_model, stream in (("train", config.views_per_model, 0),
                                     ("validation", config.val_views_per_model,
                                      VALIDATION_STREAM)):
        parts = []
        for i, m in enumerate(train_models):
            if cancel is not None and cancel.cancelled:
                yield ImageTrainingDone(None, None, 0, math.nan, cancelled=True)
                return
            parts.append(render_views([m], labels, per_model, config.render, config.seed,
                                      stream))
            yield ImageDataProgress(stage, (i + 1) * per_model, len(train_models) * per_model)
        views[stage] = ViewSet.concatenate(parts)
    train_views, val_views = views["train"], views["validation"]
    if not train_views.visible.any():
        raise ImageDataError(f"category {meshes.category!r}: no semantic point is visible in "
                             "any training view")
    layout = LayoutBaseline.fit(train_views.box_normalised(), train_views.placed,
                                train_views.visible, train_views.azimuth_bin,
                                train_views.elevation_bin)
    torch.manual_seed(config.seed)
    spec = NetworkSpec(n_points=len(labels), input_size=config.input_size, width=config.width)
    net = ImageNet2D(spec).to(device)
    predictor = ImageNetPredictor(net, meshes.category, labels, spec, config.margin, layout,
                                  device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    steps = max(1, len(train_views) // config.batch_size)
    total_steps = steps * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * k / total_steps)))
    save_kwargs = dict(margin=config.margin, render=asdict(config.render),
                       config=_jsonable(asdict(config)),
                       data_hash=_data_hash(meshes, train_models, config),
                       train_models=[m.name for m in train_models])
    best, best_scores = -math.inf, None
    last_path = best_path = None
    train_time, train_images = 0.0, 0
    global_step = 0
    epoch = -1
    for epoch in range(config.epochs):
        t_epoch = time.perf_counter()
        net.train()
        rng = np.random.default_rng([config.seed, 2, epoch])
        order = rng.permutation(len(train_views))
        losses, epoch_time = [], 0.0
        for step in range(steps):
            if cancel is not None and cancel.cancelled:
                yield _done(last_path, best_path, epoch, best, best_scores, True,
                            train_images, train_time, train_views, train_models)
                return
            t0 = time.perf_counter()
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            batch = _batch(train_views, idx, config, rng, device)
            out = net(batch["input"])
            parts = _losses(out, batch, config)
            total = (config.heatmap_weight * parts[0] + config.visibility_weight * parts[1]
                     + config.viewpoint_weight * parts[2])
            if not torch.isfinite(total):
                raise TrainingDiverged(
                    f"loss {total.item():.4g} (heatmap {parts[0].item():.4g}, visibility "
                    f"{parts[1].item():.4g}, viewpoint {parts[2].item():.4g}) at epoch {epoch}, "
                    f"step {step}: training stopped")
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            scheduler.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            epoch_time += time.perf_counter() - t0
            losses.append(total.item())
            yield ImageStepEvent(epoch, step, steps, global_step, losses[-1],
                                 parts[0].item(), parts[1].item(), parts[2].item(),
                                 optimizer.param_groups[0]["lr"])
            global_step += 1
        n_images = steps * config.batch_size
        train_time += epoch_time
        train_images += n_images
        if cancel is not None and cancel.cancelled:  # don't validate a cancelled epoch
            yield _done(last_path, best_path, epoch, best, best_scores, True,
                        train_images, train_time, train_views, train_models)
            return
        scores = evaluate_views(predictor, val_views)
        rate = n_images / max(epoch_time, 1e-9)
        metrics = {**scores.as_dict(), "train_loss": float(np.mean(losses)),
                   "images_per_s": rate}
        metrics = _jsonable(metrics)
        last_path = save_image_checkpoint(out_dir / "last", net, spec, meshes.category,
                                          labels, layout, epoch=epoch, metrics=metrics,
                                          **save_kwargs)
        pck = scores.pck if math.isfinite(scores.pck) else -1.0
        if pck > best:
            best, best_scores = pck, scores
            best_path = save_image_checkpoint(out_dir / "best", net, spec, meshes.category,
                                              labels, layout, epoch=epoch, metrics=metrics,
                                              **save_kwargs)
        yield ImageEpochEvent(epoch, config.epochs, float(np.mean(losses)), scores, rate,
                              time.perf_counter() - t_epoch)
    yield _done(last_path, best_path, epoch + 1, best, best_scores, False, train_images,
                train_time, train_views, train_models)


def _done(last_path, best_path, epochs_run, best, best_scores, cancelled, images, seconds,
          train_views, train_models) -> ImageTrainingDone:
    return ImageTrainingDone(last_path, best_path, epochs_run,
                             best if best > -math.inf else math.nan, cancelled, best_scores,
                             images / seconds if seconds > 0 else math.nan, len(train_views),
                             tuple(m.name for m in train_models))


def _check(config: ImageTrainConfig) -> None:
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {config.epochs}, "
                         f"{config.batch_size}")
    if config.views_per_model < 1 or config.val_views_per_model < 1:
        raise ValueError("views_per_model and val_views_per_model must be >= 1")
    if config.input_size % 16 or config.input_size < 32:
        raise ValueError(f"input_size must be a multiple of 16 and >= 32, got "
                         f"{config.input_size}")
    if config.render.image_size < 16:
        raise ValueError(f"render size must be >= 16 pixels, got {config.render.image_size}")


def _batch(views: ViewSet, idx: np.ndarray, config: ImageTrainConfig,
           rng: np.random.Generator, device) -> dict:
    """Jittered crops and their targets (heatmap units, visibility, viewpoint)."""
    import torch

    from core.learned2d.networks import to_input, viewpoint_target

    p = config.input_size
    cell = p / (p // 2)
    crops = np.empty((len(idx), p, p, 3), np.uint8)
    xy = np.empty((len(idx), views.uv.shape[1], 2))
    j = config.box_jitter
    for k, i in enumerate(idx):
        jitter = rng.uniform(-j, j, size=3) if j > 0 else None
        box = crop_box(tuple(views.box[i]), config.margin, jitter)
        crops[k] = crop_image(views.rgb[i], box, p)
        xy[k] = box.to_crop(views.uv[i], p) / cell
    visible = views.visible[idx]
    inside = np.isfinite(xy).all(-1) & (xy >= 0).all(-1) & (xy < p // 2).all(-1)
    weight = visible.astype(np.float32)
    if config.occluded_heat_weight > 0:
        occluded = views.placed[idx] & ~visible & inside
        weight += config.occluded_heat_weight * occluded
    az, el = viewpoint_coordinates(views.azimuth[idx], views.elevation[idx])
    t = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
    return {"input": to_input(torch.from_numpy(crops).to(device)),
            "xy": t(xy), "heat_weight": t(weight), "visible": t(visible),
            "known": t(views.known[idx]),
            "viewpoint": viewpoint_target(t(az), t(el), sigma=config.viewpoint_sigma)}


def _losses(out, batch: dict, config: ImageTrainConfig):
    from core.learned2d.networks import heatmap_loss, viewpoint_loss, visibility_loss

    return (heatmap_loss(out.heatmap, batch["xy"], batch["heat_weight"], config.heat_sigma),
            visibility_loss(out.visibility, batch["visible"], batch["known"]),
            viewpoint_loss(out.viewpoint, batch["viewpoint"]))


def _data_hash(meshes: CategoryMeshes, train_models, config: ImageTrainConfig) -> str:
    keep = {m.name for m in train_models}
    sub = CategoryMeshes(meshes.category, meshes.labels,
                         tuple(m for m in meshes.models if m.name in keep),
                         meshes.category_models)
    doc = json.dumps({"meshes": sub.digest(), "render": asdict(config.render),
                      "views": config.views_per_model, "seed": config.seed,
                      "split_seed": config.split_seed}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def _jsonable(d: dict) -> dict:
    """NaN/inf -> None and tuples -> lists, so the sidecar is strict JSON."""
    def fix(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [fix(x) for x in v]
        return v
    return fix(d)
