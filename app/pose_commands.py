"""``corrstudio pose`` and ``corrstudio render``: camera and keypoints of an image, and
synthetic images to try it on."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli_common import add_image_args, demo_project, image_mask


def add_parsers(sub) -> None:
    pose = sub.add_parser(
        "pose", help="estimate the camera of an image and project the category's points",
        description="Viewpoint search (24 azimuth x 12 elevation bins), silhouette refinement "
                    "(pytorch3d soft silhouette on CUDA, the fast points objective on CPU) and "
                    "projection of the category template's semantic points with visibility.")
    add_image_args(pose, "pose_project")
    pose.add_argument("--objective", choices=("auto", "fast", "soft"), default="auto")
    pose.add_argument("--steps", type=int, default=60, help="refinement steps per hypothesis")
    pose.add_argument("--hypotheses", type=int, default=3, help="viewpoints refined")
    pose.add_argument("--annotator", help="whose points to project (default: the one with "
                                          "the most points)")
    pose.add_argument("--template", dest="template_model", metavar="MODEL",
                      help="template model (default: the most annotated one)")
    pose.add_argument("--json", type=Path, help="also write the result as JSON")

    render = sub.add_parser(
        "render", help="write synthetic renders of a demo category (image, mask, camera)",
        description="Shaded renders of generated demo models from random viewpoints, each "
                    "with its mask PNG and a JSON of the ground-truth camera and keypoints.")
    render.add_argument("--category", required=True, help="airplane, mug or chair")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--views", type=int, default=2, help="views per model")
    render.add_argument("--models", type=int, default=2)
    render.add_argument("--size", type=int, default=256, help="image side, pixels")
    render.add_argument("--seed", type=int, default=0)


def run_pose(args: argparse.Namespace) -> int:
    from core.cameras import CameraError
    from core.geometry.mesh import MeshError
    from core.images import ImageError, load_image_rgb
    from core.masks import MaskError
    from core.pose.category_template import TemplateError, load_category_template
    from core.pose.errors import PoseError
    from core.pose.pipeline import iter_estimate_pose
    from core.store import ProjectError, ProjectStore

    try:
        rgb = load_image_rgb(args.image)
        mask = image_mask(args, rgb)
        with ProjectStore.open(args.pose_project or demo_project()) as store:
            template = load_category_template(store, args.category, args.annotator,
                                              args.template_model)
        estimate = None
        for event in iter_estimate_pose(mask, template, k=args.hypotheses, steps=args.steps,
                                        objective=args.objective):
            if event.stage == "viewpoint" and hasattr(event.data, "total"):
                _progress(f"viewpoints {event.data.done}/{event.data.total}")
            elif event.stage == "refine":
                _progress(f"refine hypothesis {event.hypothesis + 1}: step "
                          f"{event.data.step}/{args.steps}, IoU {event.data.iou:.3f}")
            elif event.stage == "done":
                estimate = event.data
        if sys.stderr.isatty():
            print("", file=sys.stderr)
    except (ImageError, MaskError, ProjectError, TemplateError, MeshError, PoseError,
            CameraError, OSError) as exc:
        print(f"\ncorrstudio pose: {exc}", file=sys.stderr)
        return 1
    print(format_estimate(estimate, template))
    if args.json:
        args.json.write_text(json.dumps(estimate.to_dict(), indent=1) + "\n")
    return 0


def format_estimate(estimate, template) -> str:
    """The camera, IoU and the projected keypoints as a plain-text report."""
    cam = estimate.camera.to_dict()
    hyp = estimate.hypotheses[estimate.chosen]
    lines = [
        f"template: {template.category}/{template.model} (points of {template.annotator})",
        f"camera: azimuth {cam['azimuth']:.1f} deg, elevation {cam['elevation']:.1f} deg, "
        f"roll {cam['roll']:.1f} deg, distance {cam['distance']:.3f}, fov {cam['fov']:.1f} deg",
        f"        principal point ({cam['principal'][0]:.1f}, {cam['principal'][1]:.1f}) px, "
        f"target ({', '.join(f'{v:.3f}' for v in cam['target'])}), image "
        f"{cam['image_size'][1]}x{cam['image_size'][0]}",
        f"IoU: {estimate.iou:.3f} (viewpoint bin az {hyp.azimuth:.0f} / el {hyp.elevation:.0f}: "
        f"{hyp.iou:.3f}; objective {estimate.objective})",
        "time: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in estimate.seconds.items()),
        "keypoints:",
        f"  {'set':<24} {'x':>8} {'y':>8}  state",
    ]
    for row in estimate.to_dict()["keypoints"]:
        lines.append(f"  {row['label']:<24} {row['x']:8.1f} {row['y']:8.1f}  {row['state']}")
    return "\n".join(lines)


def run_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from core.demo import CATEGORIES
    from core.synthetic.renders import render_dataset

    if args.category not in CATEGORIES:
        print(f"corrstudio render: unknown demo category {args.category!r}; choose from "
              f"{', '.join(CATEGORIES)}", file=sys.stderr)
        return 1
    if args.size < 16 or args.views < 1 or args.models < 1:
        print("corrstudio render: need --size >= 16, --views >= 1, --models >= 1",
              file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for view in render_dataset(args.category, args.views, (args.size, args.size),
                               seed=args.seed, n_models=args.models):
        i = counts[view.model_id] = counts.get(view.model_id, -1) + 1
        stem = args.out / f"{view.model_id}_view{i}"
        Image.fromarray(view.rgb).save(stem.with_suffix(".png"))
        Image.fromarray(view.mask.astype("uint8") * 255).save(f"{stem}_mask.png")
        kp = view.keypoints
        doc = {"model": view.model_id, "camera": view.camera_dict,
               "keypoints": [{"name": n, "x": None if not kp.flags[j] else float(kp.uv[j, 0]),
                              "y": None if not kp.flags[j] else float(kp.uv[j, 1]),
                              "v": int(kp.flags[j])} for j, n in enumerate(kp.names)]}
        Path(f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(stem.with_suffix(".png"))
    return 0


def _progress(text: str) -> None:
    """One self-overwriting progress line, on a terminal only (logs stay clean)."""
    if sys.stderr.isatty():
        print(f"\r{text:<60}", end="", file=sys.stderr, flush=True)
