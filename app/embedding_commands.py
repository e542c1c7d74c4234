"""``corrstudio train`` and ``corrstudio evaluate``: embeddings from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_parsers(sub) -> None:
    tr = sub.add_parser("train", help="train point embeddings on a category's sets",
                        description="Train a PointNet/DGCNN embedding with the pull + geodesic "
                                    "push loss (CorresPondenceNet). Runs under torchrun too.")
    _data_args(tr)
    tr.add_argument("--backbone", default="pointnet", help="pointnet or dgcnn")
    tr.add_argument("--epochs", type=int, default=50)
    tr.add_argument("--batch-size", type=int, default=4)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--lam", type=float, default=1.0, help="weight of the push term")
    tr.add_argument("--push", choices=("geodesic", "margin"), default="geodesic",
                    help="geodesic-consistency push (default) or fixed-margin ablation")
    tr.add_argument("--margin", type=float, default=1.0, help="margin of --push margin")
    tr.add_argument("--no-mining", action="store_true", help="push all negatives")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    tr.add_argument("--out", type=Path, required=True, help="folder for checkpoints")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/last")

    ev = sub.add_parser("evaluate", help="mean geodesic error (mGE) of a checkpoint",
                        description="mGE (CorresPondenceNet Algorithm 1) on the test split.")
    _data_args(ev)
    ev.add_argument("--checkpoint", type=Path, help="a .safetensors checkpoint")
    ev.add_argument("--baselines", action="store_true", help="add random and xyz embeddings")
    ev.add_argument("--json", type=Path, help="also write the table as JSON")
    ev.add_argument("--device", default="auto")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", dest="emb_project", metavar="P",
                   help="project file or database URL (default: the demo project)")
    p.add_argument("--category", action="append", required=True,
                   help="category (repeat for several with evaluate)")
    p.add_argument("--points", type=int, default=2048, help="samples per model")
    p.add_argument("--geodesic", default="auto",
                   choices=("auto", "mesh_heat", "cloud_heat", "knn"))


def run_train(args: argparse.Namespace) -> int:
    from core.embedding.checkpoint import CheckpointError
    from core.embedding.dataset import EmbeddingDataError
    from core.embedding.trainer import (
        EpochEvent,
        StepEvent,
        TrainConfig,
        TrainingDiverged,
        TrainingDone,
        train,
    )
    from core.geometry.mesh import MeshError
    from core.store import ProjectError

    rank0 = int(os.environ.get("RANK", "0")) == 0
    if len(args.category) != 1:
        return _fail("train", "train takes one --category")
    try:
        data = _load(args, args.category[0], quiet=not rank0)
        config = TrainConfig(backbone=args.backbone, epochs=args.epochs,
                             batch_size=args.batch_size, lr=args.lr, lam=args.lam,
                             push=args.push, margin=args.margin,
                             hard_negative_mining=not args.no_mining, seed=args.seed,
                             device=args.device)
        for event in train(data, config, args.out, resume=args.resume):
            if isinstance(event, TrainingDone) and "WORLD_SIZE" in os.environ:
                sys.stdout.write(f"rank {event.rank} weights sha256 {event.weights_sha256}\n")
                sys.stdout.flush()  # one write per line: ranks share stdout
            if not rank0:
                continue
            if isinstance(event, StepEvent):
                _bar(f"epoch {event.epoch + 1}/{config.epochs}", event.step + 1,
                     event.steps_per_epoch, f"loss {event.loss:.4f}")
            elif isinstance(event, EpochEvent):
                print(f"\repoch {event.epoch + 1}/{event.epochs}: train loss "
                      f"{event.train_loss:.4f}, validation mGE {event.val_mge:.4f} "
                      f"({event.seconds:.1f} s)", file=sys.stderr, flush=True)
            elif isinstance(event, TrainingDone):
                print(f"best validation mGE {event.best_val_mge:.4f}; checkpoint "
                      f"{event.best_checkpoint}")
    except (ProjectError, EmbeddingDataError, MeshError, CheckpointError, TrainingDiverged,
            ValueError) as exc:
        return _fail("train", exc)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from core.embedding.checkpoint import CheckpointError
    from core.embedding.dataset import EmbeddingDataError
    from core.embedding.evaluation import evaluate_category, format_table
    from core.geometry.mesh import MeshError
    from core.store import ProjectError

    if args.checkpoint is None and not args.baselines:
        return _fail("evaluate", "give --checkpoint, --baselines, or both")
    results = {}
    try:
        for category in args.category:
            data = _load(args, category, quiet=False)
            results[category] = evaluate_category(data, args.checkpoint, args.baselines,
                                                  device=args.device)
    except (ProjectError, EmbeddingDataError, MeshError, CheckpointError, ValueError) as exc:
        return _fail("evaluate", exc)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


def _load(args, category: str, quiet: bool):
    from core.embedding.dataset import load_category_data
    from core.paths import demo_project_file
    from core.store import ProjectStore

    target = args.emb_project or demo_project_file()
    with ProjectStore.open(target) as store:
        return load_category_data(
            store, category, n_points=args.points, geodesic_mode=args.geodesic,
            progress=None if quiet else lambda d, t, _n: _bar(f"{category}: geodesics", d, t))


def _bar(label: str, done: int, total: int, tail: str = "") -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    end = "\n" if done >= total and not tail else ""
    print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {tail}",
          end=end, file=sys.stderr, flush=True)


def _fail(verb: str, exc) -> int:
    print(f"\ncorrstudio {verb}: {exc}", file=sys.stderr)
    return 1
