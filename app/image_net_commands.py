"""``corrstudio train-image-nets``: the learned 2D stages from the command line."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from app.cli_common import demo_project


def add_parsers(sub) -> None:
    """Register the subcommands; each sets ``run`` (args -> exit code) as a default."""
    tr = sub.add_parser(
        "train-image-nets",
        help="train the keypoint heatmap / visibility / viewpoint network of a category",
        description="Render the category's training-split models (held-out models are never "
                    "seen), train a small CNN that predicts per semantic point a heatmap and "
                    "a visibility, and a viewpoint over 24 azimuth x 12 elevation bins (KL "
                    "loss, circular in azimuth). Writes OUT/best and OUT/last checkpoints "
                    "(safetensors + JSON), with the mean-layout 2D baseline inside.")
    tr.add_argument("--category", required=True)
    tr.add_argument("--project", dest="image_project", metavar="P",
                    help="project file or database URL (default: the demo project)")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--views-per-model", type=int, default=64,
                    help="training renders per model (default 64)")
    tr.add_argument("--val-views-per-model", type=int, default=8,
                    help="validation renders per training model (default 8)")
    tr.add_argument("--size", type=int, default=128, help="render side, pixels (default 128)")
    tr.add_argument("--input-size", type=int, default=64,
                    help="network crop side, pixels, a multiple of 16 (default 64)")
    tr.add_argument("--width", type=int, default=32, help="channels of the first stage")
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    tr.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (default: torch's choice)")
    tr.add_argument("--out", type=Path, default=None,
                    help="folder for checkpoints (default: the project's artifacts folder, "
                         "<category>/image_nets)")
    tr.set_defaults(run=run_train_image_nets)


def run_train_image_nets(args: argparse.Namespace) -> int:
    """Train; progress on stderr, the summary on stdout; 2 on a clear error."""
    from core.embedding.trainer import TrainingDiverged
    from core.learned2d.data import ImageDataError, RenderConfig, load_category_meshes
    from core.learned2d.trainer import (
        ImageDataProgress,
        ImageEpochEvent,
        ImageStepEvent,
        ImageTrainConfig,
        ImageTrainingDone,
        train_image_networks,
    )
    from core.paths import artifacts_dir
    from core.store import ProjectError, ProjectStore

    try:
        project = args.image_project or getattr(args, "project", None) or demo_project()
        out = args.out or artifacts_dir(project, args.category) / "image_nets"
        config = ImageTrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                  views_per_model=args.views_per_model,
                                  val_views_per_model=args.val_views_per_model,
                                  input_size=args.input_size, width=args.width,
                                  seed=args.seed, device=args.device, threads=args.threads,
                                  render=RenderConfig(image_size=args.size))
        with ProjectStore.open(project) as store:
            meshes = load_category_meshes(store, args.category)
        train_names, held_out = meshes.split(config.split_seed)
        print(f"{args.category}: {len(meshes.labels)} semantic points, "
              f"{len(train_names)} training models ({len(held_out)} held out)",
              file=sys.stderr, flush=True)
        done = None
        for event in train_image_networks(meshes, config, out):
            if isinstance(event, ImageDataProgress):
                _bar(f"rendering {event.stage} views", event.done, event.total)
            elif isinstance(event, ImageStepEvent):
                _bar(f"epoch {event.epoch + 1}/{config.epochs}", event.step + 1,
                     event.steps_per_epoch, f"loss {event.loss:.3f}")
            elif isinstance(event, ImageEpochEvent):
                v = event.validation
                print(f"\repoch {event.epoch + 1}/{event.epochs}: train loss "
                      f"{event.train_loss:.3f}, validation PCK@0.1 {v.pck:.3f} (layout "
                      f"baseline {v.pck_layout:.3f}), viewpoint {v.viewpoint_top1:.3f} "
                      f"(within one bin {v.viewpoint_within1:.3f}), "
                      f"{event.images_per_s:.0f} images/s ({event.seconds:.1f} s)",
                      file=sys.stderr, flush=True)
            elif isinstance(event, ImageTrainingDone):
                done = event
    except (ProjectError, ImageDataError, TrainingDiverged, ValueError, OSError) as exc:
        print(f"\ncorrstudio train-image-nets: {exc}", file=sys.stderr)
        return 2
    print(format_summary(done))
    return 0


def format_summary(done) -> str:
    """The final lines: best validation scores, throughput and the checkpoint."""
    best = done.best_validation
    lines = [f"epochs: {done.epochs_run}{' (cancelled)' if done.cancelled else ''}, "
             f"{done.n_train_views} training views of {len(done.train_models)} models, "
             f"{_num(done.images_per_s, '.0f')} images/s"]
    if best is not None:
        lines.append(f"best validation PCK@0.1: {best.pck:.3f} (layout baseline at the "
                     f"predicted viewpoint {_num(best.pck_layout)}, at the true viewpoint "
                     f"{_num(best.pck_layout_true_bin)})")
        lines.append(f"viewpoint accuracy: {best.viewpoint_top1:.3f} top-1, "
                     f"{best.viewpoint_within1:.3f} within one bin")
    lines.append(f"checkpoint: {done.best_checkpoint}")
    return "\n".join(lines)


def _num(x: float, fmt: str = ".3f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, fmt)


def _bar(label: str, done: int, total: int, tail: str = "") -> None:
    if not sys.stderr.isatty() and (done < total or tail):
        return  # a log gets one line per finished bar; step bars only on a terminal
    width = 30
    filled = int(width * done / max(total, 1))
    end = "\n" if done >= total and not tail else ""
    print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {tail}",
          end=end, file=sys.stderr, flush=True)
