"""``corrstudio import`` / ``export`` end to end, as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from core.store import ProjectStore
from core.store.native_bundle import export_native
from tests.conftest import REPO


def cs(*args: str):
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_keypointnet_round_trip_of_the_real_sample(keypointnet_sample, tmp_path):
    src = keypointnet_sample / "chair_88382b87.json"
    project = tmp_path / "p.corrstudio"
    out = cs("import", "keypointnet", str(src), "--project", str(project), "--create")
    assert out.returncode == 0, out.stderr
    assert "10 keypoints" in out.stdout
    out = cs("export", "keypointnet", "--project", str(project), "--category", "chair",
             "--out", str(tmp_path / "back.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "back.json").read_text()) == json.loads(src.read_text())


def test_linking_the_mesh_checks_the_keypoints(keypointnet_sample, tmp_path):
    record = json.loads((keypointnet_sample / "chair_88382b87.json").read_text())[0]
    folder = tmp_path / "ShapeNet" / record["class_id"] / record["model_id"] / "models"
    folder.mkdir(parents=True)
    shutil.copy(keypointnet_sample / "model_normalized.obj", folder)
    project = tmp_path / "p.corrstudio"
    assert cs("import", "keypointnet", str(keypointnet_sample / "chair_88382b87.json"),
              "--project", str(project), "--create").returncode == 0
    out = cs("import", "shapenet", str(tmp_path / "ShapeNet"), "--project", str(project))
    assert out.returncode == 0, out.stderr
    assert "1 meshes checked" in out.stdout
    with ProjectStore.open(project) as store:
        [model] = store.models("chair")
        assert model.mesh_file and model.mesh_file.name == "model_normalized.obj"

    # a mesh the keypoints do not lie on is refused, and nothing changes
    other = tmp_path / "p2.corrstudio"
    assert cs("import", "keypointnet", str(keypointnet_sample / "chair_88382b87.json"),
              "--project", str(other), "--create").returncode == 0
    (folder / "model_normalized.obj").write_text(
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    with ProjectStore.open(other) as store:
        before = export_native(store)
    out = cs("import", "shapenet", str(tmp_path / "ShapeNet"), "--project", str(other))
    assert out.returncode == 1
    assert "do not lie on its mesh" in out.stderr or "out of range" in out.stderr
    assert "nothing was imported" in out.stderr
    with ProjectStore.open(other) as store:
        assert export_native(store) == before


def test_demo_exports_to_every_format_and_back(demo_project, tmp_path):
    project = str(demo_project)
    for fmt, out in [("pp", tmp_path / "pp"), ("slicer", tmp_path / "slicer"),
                     ("cpnet", tmp_path / "cpnet"), ("keypointnet", tmp_path / "mug.json"),
                     ("bundle", tmp_path / "all.json")]:
        args = ["export", fmt, "--project", project, "--out", str(out)]
        if fmt != "bundle":
            args += ["--category", "mug"]
        result = cs(*args)
        assert result.returncode == 0, (fmt, result.stderr)
    pp_files = sorted((tmp_path / "pp").glob("*/*.pp"))
    mrk_files = sorted((tmp_path / "slicer").glob("*/*.mrk.json"))
    assert len(pp_files) == len(mrk_files) > 24  # one per (annotator, model) with points
    from core.formats.meshlab_pp import read_pp
    from core.formats.slicer_markups import read_mrk_json

    assert read_pp(pp_files[0]) and read_mrk_json(mrk_files[0])

    # the native bundle restores the whole project
    copy = tmp_path / "copy.corrstudio"
    assert cs("import", "bundle", str(tmp_path / "all.json"), "--project", str(copy),
              "--create").returncode == 0
    with ProjectStore.open(demo_project) as a, ProjectStore.open(copy) as b:
        assert export_native(a)["tables"] == export_native(b)["tables"]

    # KeypointNet holds one annotator per file: the demo's 8 give 8 files, which import
    # back into a fresh project with the same points
    files = sorted(tmp_path.glob("mug_annotator_*.json"))
    assert len(files) >= 6
    kpn = tmp_path / "kpn.corrstudio"
    for path in files:
        result = cs("import", "keypointnet", str(path), "--project", str(kpn), "--create",
                    "--category", "mug", "--annotator", path.stem.removeprefix("mug_"))
        assert result.returncode == 0, result.stderr
    with ProjectStore.open(kpn) as store, ProjectStore.open(demo_project) as demo:
        got, want = store.category_sets("mug"), demo.category_sets("mug")
        assert got.set_annotators == want.set_annotators
        assert np.array_equal(got.state == 1, want.state == 1)
        assert np.allclose(got.xyz[got.state == 1], want.xyz[want.state == 1])


def test_cpnet_export_then_import(demo_project, tmp_path):
    out = cs("export", "cpnet", "--project", str(demo_project), "--category", "chair",
             "--out", str(tmp_path / "cp"))
    assert out.returncode == 0, out.stderr
    h5 = sorted((tmp_path / "cp").glob("*.h5"))
    main = [p for p in h5 if not p.stem.endswith("_mean_distance")]
    result = cs("import", "cpnet", str(main[0]), "--project", str(tmp_path / "c.corrstudio"),
                "--create")
    assert result.returncode == 0, result.stderr
    import h5py
    import numpy as np

    with h5py.File(main[0]) as f:
        clouds, keypoints = f["point_clouds"][()], f["keypoints"][()]
    assert clouds.shape == (24, 2048, 3) and keypoints.shape[0] == 24
    # every exported keypoint index points at that model's annotated position
    with ProjectStore.open(demo_project) as store:
        sets = store.category_sets("chair")
    placed = int((sets.state == 1).sum())
    assert int((keypoints >= 0).sum()) == placed
    row = sets.model_names.index("chair_000")
    col = int(np.flatnonzero(sets.state[row] == 1)[0])
    assert np.allclose(clouds[row, keypoints[row, col]], sets.xyz[row, col], atol=1e-6)


def test_bad_files_give_clear_errors(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('[{"class_id": "03001627", "model_id": "x", "keypoints": [{"xyz": [0, 0]')
    out = cs("import", "keypointnet", str(bad), "--project", str(tmp_path / "p.corrstudio"),
             "--create")
    assert out.returncode == 1 and "broken.json" in out.stderr
    out = cs("export", "keypointnet", "--project", str(tmp_path / "missing.corrstudio"),
             "--category", "x", "--out", str(tmp_path / "o.json"))
    assert out.returncode == 1 and "missing.corrstudio" in out.stderr
