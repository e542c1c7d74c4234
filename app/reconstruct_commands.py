"""``corrstudio reconstruct``: shape, camera and semantic points of one image."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli_common import add_image_args


def add_parsers(sub) -> None:
    """Register the subcommands; each sets ``run`` (args -> exit code) as a default."""
    rec = sub.add_parser(
        "reconstruct", help="reconstruct the object of an image: mesh, camera, keypoints",
        description="Single-image reconstruction with the category's shape space: viewpoint "
                    "(the image networks' classifier, or the silhouette search), To The Point "
                    "on the predicted 2D points when image networks exist, then the camera and "
                    "the shape coefficients refined against the silhouette (a fast points "
                    "objective on the CPU, pytorch3d's soft silhouette on CUDA). Writes "
                    "mesh.ply, camera.json, keypoints.json and summary.json into --out. The "
                    "shape space is built from the category's training models on first use "
                    "and kept in the project's artifacts folder.")
    add_image_args(rec, "rec_project")
    rec.add_argument("--out", type=Path, default=None,
                     help="output folder (default: the project's artifacts folder, "
                          "<category>/reconstructions/<image name>)")
    rec.add_argument("--objective", choices=("auto", "fast", "soft"), default="auto")
    rec.add_argument("--steps", type=int, default=40, help="refinement steps (default 40)")
    rec.add_argument("--shape-space", type=Path, metavar="PATH",
                     help="shape space file (default: the project's, built when missing)")
    rec.add_argument("--build-iterations", type=int, default=100,
                     help="fit iterations per model when the shape space is built "
                          "(default 100)")
    nets = rec.add_mutually_exclusive_group()
    nets.add_argument("--image-nets", type=Path, metavar="PATH",
                      help="image network checkpoint or folder (default: the project's)")
    nets.add_argument("--no-image-nets", action="store_true",
                      help="ignore image networks: viewpoint search on the silhouette")
    rec.add_argument("--mesh-format", choices=("ply", "obj"), default="ply")
    rec.add_argument("--json", action="store_true",
                     help="print the summary as JSON on stdout instead of the text report")
    rec.set_defaults(run=run_reconstruct)


def run_reconstruct(args: argparse.Namespace) -> int:
    """Reconstruct; progress on stderr, the report on stdout; 2 on a clear error."""
    from app.cli_common import demo_project, image_mask
    from core.cameras import CameraError
    from core.geometry.mesh import MeshError
    from core.images import ImageError, load_image_rgb
    from core.masks import MaskError
    from core.reconstruct import ReconstructionError
    from core.reconstruct.export import write_reconstruction
    from core.store import ProjectError

    try:
        if args.steps < 0 or args.build_iterations < 1:
            raise ReconstructionError("need --steps >= 0 and --build-iterations >= 1")
        project = args.rec_project or getattr(args, "project", None) or demo_project()
        rgb = load_image_rgb(args.image)
        mask = image_mask(args, rgb)
        space = _shape_space(args, project)
        predictor = _predictor(args, project, space)
        result = _reconstruct(args, rgb, mask, space, predictor)
        out = args.out or _default_out(project, args.category, args.image)
        files = write_reconstruction(result, out, args.mesh_format,
                                     extra={"image": str(args.image),
                                            "mask": str(args.mask) if args.mask else None})
    except (ReconstructionError, ImageError, MaskError, ProjectError, MeshError, CameraError,
            OSError) as exc:
        print(f"\ncorrstudio reconstruct: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**result.to_dict(), "files": {k: str(v) for k, v in
                                                         vars(files).items()}}, indent=1))
    else:
        print(format_report(result, files))
    return 0


def _shape_space(args, project):
    """Load the shape space (``--shape-space`` or the project's), building it if missing."""
    from core.reconstruct import ReconstructionError
    from core.reconstruct.resources import ShapeSpaceReady, iter_shape_space
    from core.shape_space import BuildStarted, ModelFitted, ShapeSpaceError, load_shape_space
    from core.store import ProjectStore

    if args.shape_space is not None:
        try:
            return load_shape_space(args.shape_space, expect_category=args.category)
        except ShapeSpaceError as exc:
            raise ReconstructionError(str(exc)) from exc
    with ProjectStore.open(project) as store:
        for event in iter_shape_space(store, project, args.category,
                                      iterations=args.build_iterations):
            if isinstance(event, BuildStarted):
                print(f"building the {args.category} shape space from {len(event.models)} "
                      f"training models (first use; {args.build_iterations} iterations each)",
                      file=sys.stderr, flush=True)
            elif isinstance(event, ModelFitted):
                _progress(f"fitted {event.index + 1}/{event.n_models}: {event.model}")
            elif isinstance(event, ShapeSpaceReady):
                if event.built:
                    _progress("")
                    print(f"shape space saved: {event.path}", file=sys.stderr)
                return event.shape_space
    raise ReconstructionError("no shape space")  # unreachable


def _predictor(args, project, space):
    from core.reconstruct.resources import find_predictor

    if args.no_image_nets:
        return None
    lookup = find_predictor(project, args.category, space.labels, args.image_nets)
    print(lookup.note, file=sys.stderr)
    return lookup.predictor


def _reconstruct(args, rgb, mask, space, predictor):
    from core.reconstruct.pipeline import iter_reconstruct

    result = None
    for event in iter_reconstruct(rgb, mask, space, predictor, objective=args.objective,
                                  steps=args.steps):
        if event.stage == "done":
            result = event.data
        elif event.iou is not None:
            _progress(f"{event.stage} {event.step}: IoU {event.iou:.3f}")
    _progress("")
    return result


def _default_out(project, category: str, image: Path) -> Path:
    from core.paths import artifacts_dir

    return artifacts_dir(project, category) / "reconstructions" / image.stem


def format_report(result, files) -> str:
    """Per-stage IoU and times, the camera, the sources and the files, as plain text."""
    cam = result.camera.to_dict()
    lines = [
        f"category: {result.category}; viewpoint from the {result.viewpoint_source}, "
        f"refinement started from the {result.initial} pose ({result.objective} objective)",
        "IoU:  " + ", ".join(f"{k} {v:.3f}" for k, v in result.iou.items()),
        "time: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.seconds.items()),
        f"camera: azimuth {cam['azimuth']:.1f} deg, elevation {cam['elevation']:.1f} deg, "
        f"roll {cam['roll']:.1f} deg, distance {cam['distance']:.3f}, fov {cam['fov']:.1f} deg",
        f"keypoints: {int(result.visible.sum())} of {len(result.labels)} visible",
    ]
    lines += [f"note: {n}" for n in result.notes]
    lines += [f"wrote {p}" for p in (files.mesh, files.camera, files.keypoints, files.summary)]
    return "\n".join(lines)


def _progress(text: str) -> None:
    """One self-overwriting progress line, on a terminal only (logs stay clean)."""
    if sys.stderr.isatty():
        print(f"\r{text:<60}", end="" if text else "\r", file=sys.stderr, flush=True)
