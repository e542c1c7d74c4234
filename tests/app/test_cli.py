"""The ``corrstudio`` command as a user runs it: real processes, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.screens import count_palette_pixels, fraction_not_color, load_rgb, region_of_color

MESH_BG = "#1e2227"  # ui.mesh_view.BACKGROUND (kept literal: no Qt import here)
IMAGE_BG = "#2b2f36"  # ui.image_view background


def corrstudio(*args: str, env: dict | None = None, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def needs_display():
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display: run through packaging/test.sh (Xvfb)")


def test_help_lists_gui_options_and_commands():
    out = corrstudio("--help")
    assert out.returncode == 0
    for word in ("--project", "--select", "--screenshot", "demo"):
        assert word in out.stdout


def test_demo_command_builds_a_project_and_info_reads_it(tmp_path):
    out_dir = tmp_path / "d"
    out = corrstudio("demo", "--out", str(out_dir), "--models", "2")
    assert out.returncode == 0, out.stderr
    assert (out_dir / "demo.corrstudio").is_file()
    assert len(list((out_dir / "meshes").glob("*/*.ply"))) == 6
    info = corrstudio("info", "--project", str(out_dir / "demo.corrstudio"))
    assert info.returncode == 0, info.stderr
    assert "airplane" in info.stdout and "2 models" in info.stdout
    again = corrstudio("demo", "--out", str(out_dir), "--models", "2")
    assert again.returncode == 1 and "already exists" in again.stderr


def _check_screenshot(png: Path) -> None:
    img = load_rgb(png)
    mesh_box = region_of_color(img, MESH_BG)
    assert mesh_box is not None, "no 3D view in the screenshot"
    assert fraction_not_color(img, mesh_box, MESH_BG) > 0.03, "3D view is empty"
    from ui.palette import SET_PALETTE  # noqa: PLC0415 (numpy only, no Qt)

    assert count_palette_pixels(img, mesh_box, SET_PALETTE) > 20, "no keypoints drawn"
    assert region_of_color(img, IMAGE_BG) is not None, "no image view in the screenshot"


def test_screenshot_of_demo_model(demo_project, artifacts_dir):
    needs_display()
    png = artifacts_dir / "cli_screenshot_airplane.png"
    png.unlink(missing_ok=True)
    out = corrstudio("--project", str(demo_project), "--select", "airplane/airplane_003",
                     "--screenshot", str(png))
    assert out.returncode == 0, out.stderr
    _check_screenshot(png)


def test_screenshot_without_project_builds_demo_on_first_use(tmp_path, artifacts_dir):
    needs_display()
    data = tmp_path / "data"
    png = artifacts_dir / "cli_screenshot_first_use.png"
    png.unlink(missing_ok=True)
    out = corrstudio("--select", "chair/chair_001", "--screenshot", str(png),
                     env={"CORRSTUDIO_DATA_DIR": str(data)})
    assert out.returncode == 0, out.stderr
    assert (data / "demo" / "demo.corrstudio").is_file()
    _check_screenshot(png)


def test_screenshot_with_corrupt_project_fails_clearly(tmp_path):
    needs_display()
    bad = tmp_path / "corrupt.corrstudio"
    bad.write_bytes(b"\x00" * 4096)
    out = corrstudio("--project", str(bad), "--screenshot", str(tmp_path / "x.png"))
    assert out.returncode == 2
    assert "corrupt.corrstudio" in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_screenshot_with_unknown_model_fails_clearly(demo_project, tmp_path):
    needs_display()
    out = corrstudio("--project", str(demo_project), "--select", "mug/no_such_mug",
                     "--screenshot", str(tmp_path / "x.png"))
    assert out.returncode == 2
    assert "no_such_mug" in out.stderr
