"""Training point embeddings on correspondence sets, as a stream of step records.

:func:`train` is a generator: it yields :class:`StepEvent` after every optimisation
step, :class:`EpochEvent` after every epoch (validation mGE and the preview model's
embeddings) and a final :class:`TrainingDone`. A UI or the CLI consumes the stream;
a :class:`CancelToken` stops it between steps. Training resumes from the ``last``
checkpoint it writes after every epoch. Under ``torchrun`` it trains with
DistributedDataParallel (gloo on CPU, nccl on CUDA); only rank 0 writes checkpoints.

Defaults follow CorresPondenceNet: Adam (lr 1e-3, betas 0.9/0.999), batch of 4 models,
learning rate x0.9 every 10 epochs, lambda = 1, 128-d embeddings, 70/15/15 split by model.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.embedding.types import CategoryData, ShapeSample


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint sidecar)."""

    backbone: str = "pointnet"
    epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    lr_decay: float = 0.9
    lr_decay_every: int = 10
    lam: float = 1.0
    push: str = "geodesic"  # or "margin" (fixed-margin contrastive ablation)
    margin: float = 1.0
    hard_negative_mining: bool = True
    out_dim: int = 128
    seed: int = 0
    split_seed: int = 0
    device: str = "auto"
    preview_model: str | None = None  # default: the first validation model
    backbone_kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepEvent:
    """One optimisation step (losses are this rank's batch values)."""

    epoch: int
    step: int
    steps_per_epoch: int
    global_step: int
    loss: float
    pull: float
    push: float
    lr: float


@dataclass(frozen=True)
class EpochEvent:
    """End of an epoch: mean training loss, validation mGE, preview embeddings.

    Attributes:
        preview_points: (N, 3) float32 samples of the preview model.
        preview_embedding: (N, D) float32 its embeddings.
    """

    epoch: int
    epochs: int
    train_loss: float
    val_mge: float
    preview_name: str
    preview_points: np.ndarray
    preview_embedding: np.ndarray
    seconds: float


@dataclass(frozen=True)
class TrainingDone:
    """The run ended (all epochs, or cancelled); paths of the written checkpoints."""

    last_checkpoint: Path | None
    best_checkpoint: Path | None
    epochs_run: int
    best_val_mge: float
    cancelled: bool
    weights_sha256: str = ""  # of this rank's final weights (ranks of a DDP run agree)
    rank: int = 0


class CancelToken:
    """Thread-safe stop flag checked between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stopped (message gives the step)."""


def train(data: CategoryData, config: TrainConfig, out_dir: str | Path,
          cancel: CancelToken | None = None, resume: bool = False,
          ) -> Iterator[StepEvent | EpochEvent | TrainingDone]:
    """Train ``config.backbone`` on ``data``; yield events; write checkpoints to ``out_dir``.

    Raises:
        core.embedding.dataset.EmbeddingDataError: too few models to split.
        CheckpointError: ``resume`` without a usable ``last`` checkpoint, or one made for
            other data or another backbone.
        TrainingDiverged: NaN/inf loss.
    """
    import torch

    from core.device import pick_device
    from core.embedding.backbones import build_backbone
    from core.embedding.checkpoint import (
        CheckpointError,
        load_trainer_state,
        read_sidecar,
        save_checkpoint,
    )
    from core.embedding.dataset import data_hash, split_models
    from core.embedding.losses import correspondence_loss

    out_dir = Path(out_dir)
    dist = _Distributed.from_env()
    device = pick_device(config.device) if not dist.active or dist.backend == "gloo" \
        else torch.device(f"cuda:{dist.local_rank}")
    train_idx, val_idx, _ = split_models(len(data.samples), config.split_seed)
    torch.manual_seed(config.seed)
    model = build_backbone(config.backbone, out_dim=config.out_dim,
                           **config.backbone_kwargs).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_decay_every,
                                                gamma=config.lr_decay)
    digest = data_hash(data)
    start_epoch, best = 0, math.inf
    if resume:
        last = out_dir / "last"
        doc = read_sidecar(last)
        if doc["data_hash"] != digest:
            raise CheckpointError(f"{last}.json was trained on other data (data hash differs)")
        if doc["backbone"] != config.backbone:
            raise CheckpointError(f"{last}.json is a {doc['backbone']} checkpoint, not "
                                  f"{config.backbone}")
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(out_dir / "last.safetensors")))
        state = load_trainer_state(last)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = int(state["epoch"]) + 1
        best = float(state["best_val_mge"])
    net = dist.wrap(model, device)
    set_distance = torch.as_tensor(data.set_distance, dtype=torch.float32, device=device)
    preview = _preview_index(data.samples, val_idx, config.preview_model)
    per_step = config.batch_size * dist.world_size
    steps = max(1, math.ceil(len(train_idx) / per_step))
    global_step = start_epoch * steps
    last_path = best_path = None
    epoch = start_epoch - 1
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        net.train()
        order = np.random.default_rng([config.seed, epoch]).permutation(train_idx)
        total = 0.0
        for step in range(steps):
            if cancel is not None and cancel.cancelled:
                yield TrainingDone(last_path, best_path, epoch, best, cancelled=True)
                dist.close()
                return
            chunk = np.take(order, range(step * per_step, (step + 1) * per_step), mode="wrap")
            mine = chunk[dist.rank * config.batch_size:(dist.rank + 1) * config.batch_size]
            points, keypoints = _batch(data.samples, mine, device)
            embeddings = net(points)
            terms = correspondence_loss(embeddings, keypoints, set_distance, lam=config.lam,
                                        push=config.push, margin=config.margin,
                                        hard_negative_mining=config.hard_negative_mining)
            if not (torch.isfinite(terms.total) and torch.isfinite(embeddings).all()):
                dist.close()
                raise TrainingDiverged(
                    f"loss {terms.total.item():.4g} / non-finite embeddings at epoch {epoch}, "
                    f"step {step}: training stopped")
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            optimizer.step()
            global_step += 1
            loss, pull, push = (float(t.detach()) for t in (terms.total, terms.pull, terms.push))
            total += loss
            yield StepEvent(epoch, step, steps, global_step, loss, pull, push,
                            scheduler.get_last_lr()[0])
        scheduler.step()
        dist.sync_buffers(model)
        val = evaluate_mge(model, [data.samples[i] for i in val_idx], device).mge
        embedding = embed(model, [data.samples[preview]], device)[0]
        metrics = {"epoch": epoch, "train_loss": total / steps, "val_mge": val}
        if dist.rank == 0:
            state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "epoch": epoch, "best_val_mge": min(best, val)}
            last_path = save_checkpoint(out_dir / "last", model, config, digest, epoch,
                                        metrics, state)
            if val < best:
                best_path = save_checkpoint(out_dir / "best", model, config, digest, epoch,
                                            metrics)
        best = min(best, val)
        yield EpochEvent(epoch, config.epochs, total / steps, val, data.samples[preview].name,
                         data.samples[preview].points, embedding, time.perf_counter() - t0)
    dist.close()
    if dist.rank == 0:
        last_path = out_dir / "last.safetensors" if (out_dir / "last.safetensors").exists() \
            else None
        best_path = out_dir / "best.safetensors" if (out_dir / "best.safetensors").exists() \
            else None
    yield TrainingDone(last_path, best_path, epoch + 1, best, cancelled=False,
                       weights_sha256=weights_digest(model), rank=dist.rank)


def weights_digest(model) -> str:
    """sha256 of a model's parameters and buffers (names and bytes, in order)."""
    import hashlib

    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- evaluation
def embed(model, samples: Sequence[ShapeSample], device=None, batch: int = 4,
          ) -> list[np.ndarray]:
    """Embeddings (N, D) float32 of each sample, in eval mode, without gradients."""
    import torch

    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(samples), batch):
            chunk = samples[i:i + batch]
            pts = torch.as_tensor(np.stack([s.points for s in chunk]), device=device)
            out += [e.cpu().numpy().astype(np.float32) for e in model(pts)]
    model.train(was_training)
    return out


def evaluate_mge(model, samples: Sequence[ShapeSample], device=None):
    """mGE (Algorithm 1) of ``model`` on ``samples``."""
    from core.embedding.metrics import mean_geodesic_error

    return mean_geodesic_error(embed(model, samples, device),
                               np.stack([s.keypoints for s in samples]),
                               [s.geodesics for s in samples])


# ------------------------------------------------------------------- helpers
def _batch(samples: Sequence[ShapeSample], indices, device):
    import torch

    points = torch.as_tensor(np.stack([samples[i].points for i in indices]), device=device)
    keypoints = torch.as_tensor(np.stack([samples[i].keypoints for i in indices]),
                                device=device)
    return points, keypoints


def _preview_index(samples: Sequence[ShapeSample], val_idx: np.ndarray,
                   name: str | None) -> int:
    if name is not None:
        for i, s in enumerate(samples):
            if s.name == name:
                return i
        raise ValueError(f"Preview model {name!r} is not in the training data")
    return int(val_idx[0]) if len(val_idx) else 0


@dataclass
class _Distributed:
    """torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = "gloo"
    active: bool = False

    @classmethod
    def from_env(cls) -> _Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch
        import torch.distributed as tdist

        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if not tdist.is_initialized():
            tdist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        return cls(tdist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")), backend,
                   True)

    def wrap(self, model, device):
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def sync_buffers(self, model) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics) to every rank: DDP keeps
        parameters equal, but each rank's last forward updates its own statistics."""
        if not self.active:
            return
        import torch.distributed as tdist

        for buffer in model.buffers():
            tdist.broadcast(buffer.data, src=0)

    def close(self) -> None:
        if self.active:
            import torch.distributed as tdist

            if tdist.is_initialized():
                tdist.barrier()
                tdist.destroy_process_group()
            self.active = False
