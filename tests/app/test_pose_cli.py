"""``corrstudio render`` and ``corrstudio pose`` end to end on the demo project."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from tests.app.test_embedding_cli import cs


def test_render_then_pose_recovers_the_silhouette(demo_project, tmp_path):
    out = cs("render", "--category", "airplane", "--out", str(tmp_path / "r"), "--views", "1",
             "--models", "2", "--size", "128", "--seed", "0", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    image = tmp_path / "r" / "airplane_001_view0.png"
    truth = json.loads((tmp_path / "r" / "airplane_001_view0.json").read_text())
    assert Image.open(image).size == (128, 128)
    assert truth["camera"]["type"] == "perspective" and len(truth["keypoints"]) > 10
    # Posed against the same model (the demo project holds it), the silhouette must fit.
    out = cs("pose", str(image), "--category", "airplane", "--project", str(demo_project),
             "--mask", str(tmp_path / "r" / "airplane_001_view0_mask.png"),
             "--template", "airplane_001", "--hypotheses", "2", "--steps", "40",
             "--json", str(tmp_path / "pose.json"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "camera: azimuth" in out.stdout and "IoU:" in out.stdout
    result = json.loads((tmp_path / "pose.json").read_text())
    assert result["iou"] >= 0.85, result["iou"]
    assert result["camera"]["image_size"] == [128, 128]
    states = {k["state"] for k in result["keypoints"]}
    assert "visible" in states and states <= {"visible", "occluded", "outside"}
    xy = np.array([[k["x"], k["y"]] for k in result["keypoints"]])
    assert np.isfinite(xy).all()
    # the printed table lists every projected point
    assert out.stdout.count("\n  ") >= len(result["keypoints"])


def test_pose_reports_bad_input(demo_project, tmp_path):
    missing = cs("pose", str(tmp_path / "nope.png"), "--category", "airplane", "--project",
                 str(demo_project), tmp_path=tmp_path)
    assert missing.returncode == 1 and "nope.png" in missing.stderr
    img = tmp_path / "img.png"
    Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(img)
    small = np.zeros((30, 30), np.uint8)
    small[5:20, 5:20] = 255
    Image.fromarray(small).save(tmp_path / "m.png")
    wrong = cs("pose", str(img), "--category", "airplane", "--project", str(demo_project),
               "--mask", str(tmp_path / "m.png"), tmp_path=tmp_path)
    assert wrong.returncode == 1 and "m.png" in wrong.stderr and "30x30" in wrong.stderr
    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 20:40] = 255
    Image.fromarray(mask).save(tmp_path / "ok.png")
    unknown = cs("pose", str(img), "--category", "boat", "--project", str(demo_project),
                 "--mask", str(tmp_path / "ok.png"), tmp_path=tmp_path)
    assert unknown.returncode == 1 and "boat" in unknown.stderr
