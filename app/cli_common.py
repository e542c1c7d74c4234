"""Pieces the image commands share: the demo project default, and an image's object mask
from ``--mask`` or ``--box`` (GrabCut)."""

from __future__ import annotations

import argparse
from pathlib import Path

INSET = 0.05  # default GrabCut box: the image minus this fraction on every side


def demo_project() -> Path:
    """The demo project's file, built on first use."""
    from core.demo.build_project import ensure_demo_project
    from core.paths import demo_dir, demo_project_file

    ensure_demo_project(demo_dir())
    return demo_project_file()


def add_image_args(parser: argparse.ArgumentParser, project_dest: str) -> None:
    """IMAGE, --category, --project (stored as ``project_dest``) and --mask | --box."""
    parser.add_argument("image", type=Path, help="PNG or JPEG image")
    parser.add_argument("--category", required=True)
    parser.add_argument("--project", dest=project_dest, metavar="P",
                        help="project file or database URL (default: the demo project)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--mask", type=Path, help="silhouette PNG (nonzero or opaque = object)")
    src.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                     help="object box in pixels; the mask is cut out with GrabCut")


def image_mask(args: argparse.Namespace, rgb):
    """The silhouette (H, W) bool: from --mask, from GrabCut in --box, or GrabCut in the
    image minus :data:`INSET` on each side.

    Raises:
        core.masks.MaskError: a mask file of another size than the image, or unreadable.
    """
    from core.masks import MaskError, grabcut_mask, mask_from_png

    h, w = rgb.shape[:2]
    if args.mask is not None:
        mask = mask_from_png(args.mask)
        if mask.shape != (h, w):
            raise MaskError(f"{args.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but "
                            f"{args.image} is {w}x{h} (width x height)")
        return mask
    box = args.box or (w * INSET, h * INSET, w * (1 - INSET), h * (1 - INSET))
    return grabcut_mask(rgb, box)
