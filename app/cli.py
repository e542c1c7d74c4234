"""The ``corrstudio`` command.

Without a subcommand it opens the GUI (on the demo project unless ``--project``
is given); subcommands are the headless CLI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corrstudio",
        description="CorrStudio: 3D semantic correspondence annotation and analysis. "
                    "Without a command, opens the main window.")
    parser.add_argument("--project", metavar="P",
                        help="project file (*.corrstudio) or database URL; default: the demo "
                             "project, built on first use")
    parser.add_argument("--select", metavar="CATEGORY/MODEL",
                        help="model to show first, e.g. airplane/airplane_003")
    parser.add_argument("--screenshot", metavar="PNG", type=Path,
                        help="open, load, render, save a PNG of the main window, and quit")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="with --screenshot: give up after this many seconds (default 120)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="build the demo project (airplane, mug, chair)")
    demo.add_argument("--out", type=Path, default=None,
                      help="folder to create (default: the user data folder's demo/)")
    demo.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    demo.add_argument("--models", type=int, default=24, help="models per category (default 24)")
    demo.add_argument("--force", action="store_true", help="replace an existing demo folder")

    from app import (
        embedding_commands,
        evaluate_images_command,
        image_net_commands,
        io_commands,
        pose_commands,
        reconstruct_commands,
    )

    io_commands.add_parsers(sub)
    embedding_commands.add_parsers(sub)
    pose_commands.add_parsers(sub)
    image_net_commands.add_parsers(sub)
    reconstruct_commands.add_parsers(sub)
    evaluate_images_command.add_parsers(sub)

    info = sub.add_parser("info", help="print a project's categories and counts")
    info.add_argument("--project", dest="info_project", metavar="P",
                      help="project file or database URL (default: the demo project)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return _cmd_demo(args)
    if args.command == "info":
        return _cmd_info(args.info_project or args.project)
    if args.command in ("train", "evaluate"):
        from app import embedding_commands

        return (embedding_commands.run_train if args.command == "train"
                else embedding_commands.run_evaluate)(args)
    if args.command in ("pose", "render"):
        from app import pose_commands

        return (pose_commands.run_pose if args.command == "pose"
                else pose_commands.run_render)(args)
    if getattr(args, "run", None) is not None:  # commands that register their own runner
        return int(args.run(args))
    if args.command in ("import", "export"):
        from app import io_commands

        return (io_commands.run_import if args.command == "import"
                else io_commands.run_export)(args)
    from app.gui import run_gui

    return run_gui(project=args.project, select=args.select, screenshot=args.screenshot,
                   timeout=args.timeout)


def _cmd_demo(args: argparse.Namespace) -> int:
    import shutil

    from core.demo.build_project import build_demo_project
    from core.paths import demo_dir

    out = (args.out or demo_dir()).expanduser()
    if out.exists():
        if not args.force:
            print(f"corrstudio demo: {out} already exists (use --force to rebuild it)",
                  file=sys.stderr)
            return 1
        shutil.rmtree(out)
    project = build_demo_project(out, seed=args.seed, n_models=args.models,
                                 progress=lambda s: print(f"[{s.done}/{s.total}] {s.message}",
                                                          flush=True))
    print(project)
    return 0


def _cmd_info(target: str | None) -> int:
    from core.paths import demo_project_file
    from core.store import ProjectError, ProjectStore

    try:
        store = ProjectStore.open(target or demo_project_file())
    except ProjectError as exc:
        print(f"corrstudio info: {exc}", file=sys.stderr)
        return 1
    with store:
        print(f"{store.name}  ({store.target})")
        for c in store.categories():
            print(f"  {c.name:<12} {c.n_models:>4} models {c.n_sets:>4} sets "
                  f"{c.n_keypoints:>6} keypoints")
    return 0
