"""``corrstudio train-image-nets`` on a small demo project (in-process, CPU, one thread)."""

from __future__ import annotations

import pytest

from app.cli import main
from core.learned2d.checkpoint import load_predictor
from core.paths import artifacts_dir

TINY = ["--epochs", "1", "--views-per-model", "4", "--val-views-per-model", "2", "--size",
        "64", "--input-size", "32", "--width", "8", "--batch-size", "8", "--threads", "1",
        "--device", "cpu"]


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    from core.demo.build_project import build_demo_project

    return build_demo_project(tmp_path_factory.mktemp("cli") / "demo", n_models=5,
                              categories=["mug"])


def test_trains_into_the_artifacts_folder_and_prints_a_summary(small_project, capsys):
    assert main(["train-image-nets", "--category", "mug", "--project", str(small_project),
                 *TINY]) == 0
    out, err = capsys.readouterr()
    assert "training models" in err and "epoch 1/1: train loss" in err
    assert "validation PCK@0.1" in err and "images/s" in err
    best = artifacts_dir(small_project, "mug") / "image_nets" / "best.safetensors"
    assert f"checkpoint: {best}" in out and "best validation PCK@0.1:" in out
    assert "viewpoint accuracy:" in out
    predictor = load_predictor(best, expect_category="mug")
    assert predictor.spec.input_size == 32 and predictor.layout is not None


def test_clear_errors_exit_2_without_a_traceback(small_project, tmp_path, capsys):
    cases = [
        (["--category", "boat", "--project", str(small_project)], "boat"),
        (["--category", "mug", "--project", str(tmp_path / "missing.corrstudio")],
         "missing.corrstudio"),
        (["--category", "mug", "--project", str(small_project), "--input-size", "40"],
         "input_size must be a multiple of 16"),
    ]
    for extra, needle in cases:
        args = ["train-image-nets", *TINY, *extra, "--out", str(tmp_path / "o")]
        assert main(args) == 2, extra
        _, err = capsys.readouterr()
        assert needle in err and "Traceback" not in err
