"""``corrstudio reconstruct`` in-process: the files it writes load back, and bad input gives
one clear message and exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from core.cameras import PerspectiveCamera
from core.reconstruct.export import read_reconstruction
from tests.core.test_reconstruct import mug_space


@pytest.fixture(scope="module")
def ready(demo_project, tmp_path_factory):
    return mug_space(demo_project, tmp_path_factory.mktemp("space"))


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """A 96 px render of a held-out mug (mug_001) with its mask, as PNG files."""
    from core.demo import generate_category
    from core.synthetic.renders import Viewpoint, fit_camera, render_view

    model = generate_category("mug", n_models=2).models[1]
    view = render_view(model, fit_camera(Viewpoint(50.0, 25.0), model.vertices, (96, 96)),
                       np.random.default_rng(0))
    folder = tmp_path_factory.mktemp("image")
    Image.fromarray(view.rgb).save(folder / "mug.png")
    Image.fromarray(view.mask.astype(np.uint8) * 255).save(folder / "mug_mask.png")
    return folder / "mug.png", folder / "mug_mask.png"


def test_writes_mesh_camera_and_keypoints_that_load_back(ready, image, demo_project,
                                                         tmp_path, capsys):
    png, mask = image
    out = tmp_path / "out"
    code = main(["reconstruct", str(png), "--category", "mug", "--project", str(demo_project),
                 "--mask", str(mask), "--shape-space", str(ready.path), "--steps", "15",
                 "--objective", "fast", "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "IoU:" in stdout and "time:" in stdout and "refine" in stdout
    assert "no image network checkpoint" in stderr                     # fell back, said so
    space = ready.shape_space
    back = read_reconstruction(out)
    assert back.vertices.shape == space.mean.shape
    np.testing.assert_array_equal(back.faces, space.faces)
    assert isinstance(back.camera, PerspectiveCamera) and back.camera.image_size == (96, 96)
    assert back.labels == space.labels and back.uv.shape == (len(space.labels), 2)
    assert back.visible.any() and np.isfinite(back.uv).all()
    assert back.summary["iou"]["refine"] > 0.8 and back.summary["image"] == str(png)
    for name in ("mesh.ply", "camera.json", "keypoints.json", "summary.json"):
        assert f"wrote {out / name}" in stdout


def test_json_report_and_obj_mesh(ready, image, demo_project, tmp_path, capsys):
    png, mask = image
    code = main(["reconstruct", str(png), "--category", "mug", "--project", str(demo_project),
                 "--mask", str(mask), "--shape-space", str(ready.path), "--steps", "5",
                 "--objective", "fast", "--out", str(tmp_path / "o"), "--mesh-format", "obj",
                 "--no-image-nets", "--json"])
    stdout, _ = capsys.readouterr()
    assert code == 0
    doc = json.loads(stdout)
    assert doc["files"]["mesh"].endswith("mesh.obj") and doc["viewpoint_source"] == "search"
    assert set(doc["seconds"]) >= {"viewpoint", "refine", "total"}
    assert read_reconstruction(tmp_path / "o").faces.shape == ready.shape_space.faces.shape


def test_bad_input_exits_2_with_one_clear_message(ready, image, demo_project, tmp_path,
                                                  capsys):
    from core.demo.build_project import build_demo_project

    png, mask = image
    full = tmp_path / "full.png"
    Image.fromarray(np.full((96, 96), 255, np.uint8)).save(full)
    few = build_demo_project(tmp_path / "few", n_models=3, categories=["mug"])
    base = ["--category", "mug", "--project", str(demo_project)]
    cases = [
        ([str(tmp_path / "nope.png"), *base], "nope.png"),
        ([str(png), *base, "--mask", str(full), "--shape-space", str(ready.path)],
         "touches all four image borders"),
        ([str(png), "--category", "chair", "--project", str(demo_project), "--mask",
          str(mask), "--shape-space", str(ready.path)], "category 'mug', not 'chair'"),
        ([str(png), "--category", "mug", "--project", str(few), "--mask", str(mask)],
         r"has 3 annotated models \(2 for training, 1 held out\); a shape space needs at "
         r"least 3"),
    ]
    import re

    for argv, message in cases:
        code = main(["reconstruct", *argv, "--out", str(tmp_path / "x")])
        _, stderr = capsys.readouterr()
        assert code == 2, argv
        assert re.search(message, stderr), stderr
        assert "Traceback" not in stderr
