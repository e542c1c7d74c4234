"""``corrstudio evaluate-images``: reconstruction and the 2D-3D-2D cycle on held-out renders."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "evaluate-images", help="evaluate single-image reconstruction on held-out renders",
        description="Render views of the category's held-out models (never seen by the shape "
                    "space or the image networks), reconstruct each one per variant (full; "
                    "viewpoint and/or keypoints from the ground truth; silhouette search "
                    "only) and report PCK@0.1 (image and box), mask IoU and the median "
                    "rotation error after each stage, the 2D baselines, and the cycle "
                    "(keypoints carried to another image through 3D).")
    p.add_argument("--category", required=True)
    p.add_argument("--project", dest="eval_project", metavar="P",
                   help="project file or database URL (default: the demo project)")
    p.add_argument("--views-per-model", type=int, default=4)
    p.add_argument("--size", type=int, default=128, help="render side, pixels (default 128)")
    p.add_argument("--steps", type=int, default=40, help="refinement steps (default 40)")
    p.add_argument("--variants", default=None,
                   help="comma-separated subset of full,gt_viewpoint,gt_keypoints,gt_both,"
                        "search (default: all)")
    p.add_argument("--objective", default="auto", choices=("auto", "fast", "soft"))
    p.add_argument("--shape-iterations", type=int, default=200,
                   help="fit iterations per model if the shape space must be built")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the full report (every image) as JSON")
    p.set_defaults(run=run_evaluate_images)


def run_evaluate_images(args: argparse.Namespace) -> int:
    from core.image_eval.data import EvalInputs, EvaluationDataError, iter_prepare
    from core.image_eval.evaluate import VARIANTS, EvalProgress, EvalReport, iter_evaluate
    from core.reconstruct.errors import ReconstructionError
    from core.store import ProjectStore
    from core.store.errors import ProjectError

    variants = VARIANTS if not args.variants else tuple(
        v.strip() for v in args.variants.split(",") if v.strip())
    if min(args.views_per_model, args.size, args.steps + 1) < 1:
        print("error: --views-per-model and --size must be >= 1, --steps >= 0",
              file=sys.stderr)
        return 2
    target = args.eval_project
    if target is None:
        from app.cli_common import demo_project

        target = str(demo_project())
    try:
        store = ProjectStore.open(target)
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        inputs = None
        for event in iter_prepare(store, target, args.category, args.views_per_model,
                                  args.size, args.seed, args.shape_iterations):
            if isinstance(event, EvalInputs):
                inputs = event
            else:
                print(event.message, flush=True)
        assert inputs is not None
        report = None
        for event in iter_evaluate(inputs.space, inputs.predictor, inputs.views,
                                   variants=variants, steps=args.steps,
                                   objective=args.objective):
            if isinstance(event, EvalProgress):
                print(f"\rimage {event.done}/{event.total}", end="", flush=True)
            elif isinstance(event, EvalReport):
                report = event
        print()
    except (ReconstructionError, EvaluationDataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    assert report is not None
    print(format_report(report, inputs.held_out))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = report.to_dict()
        doc["held_out"] = list(inputs.held_out)
        doc["predictor"] = inputs.predictor_note
        # how the views were rendered: the failure browser renders a chosen one again
        doc["settings"] = {**doc.get("settings", {}), "image_size": args.size,
                           "seed": args.seed, "views_per_model": args.views_per_model,
                           "objective": args.objective}
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"report: {args.json}")
    return 0


def format_report(report, held_out) -> str:
    """The two tables as Markdown."""
    def f(x, digits=3):
        return "-" if x is None or x != x else f"{x:.{digits}f}"

    lines = [f"category {report.category}: {len(report.images)} views of "
             f"{len(held_out)} held-out models ({', '.join(held_out)}), "
             f"{report.seconds:.0f} s", "",
             "| variant | stage | n | PCK@0.1 image | PCK@0.1 box | IoU | median rot. err. |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in report.stage_table():
        lines.append(f"| {r['variant']} | {r['stage']} | {r['n']} | {f(r['pck_image'])} | "
                     f"{f(r['pck_box'])} | {f(r['iou'])} | {f(r['rotation_median'], 1)}° |")
    lines += ["", "| 2D reference / cycle | n | PCK@0.1 image | PCK@0.1 box |",
              "| --- | --- | --- | --- |"]
    for r in report.baseline_table():
        lines.append(f"| {r['name']} | {r['n']} | {f(r['pck_image'])} | {f(r['pck_box'])} |")
    return "\n".join(lines)
