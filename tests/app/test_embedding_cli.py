"""``corrstudio train`` / ``evaluate`` end to end on the demo project."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from core.store import ProjectStore
from tests.conftest import REPO


def cs(*args: str, tmp_path=None):
    env = {**os.environ}
    if tmp_path is not None:
        env["CORRSTUDIO_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=env)


def test_train_then_evaluate_prints_a_table_2(demo_project, tmp_path):
    out = cs("train", "--project", str(demo_project), "--category", "chair", "--points", "256",
             "--epochs", "2", "--out", str(tmp_path / "ckpt"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "validation mGE" in out.stderr and (tmp_path / "ckpt" / "best.safetensors").exists()
    out = cs("evaluate", "--project", str(demo_project), "--category", "chair", "--points",
             "256", "--checkpoint", str(tmp_path / "ckpt" / "best.safetensors"), "--baselines",
             "--json", str(tmp_path / "table.json"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].split() == ["mGE", "chair", "Average"]
    assert [line.split()[0] for line in lines[1:]] == ["pointnet", "Random", "XYZ"]
    table = json.loads((tmp_path / "table.json").read_text())
    assert set(table["chair"]) == {"pointnet", "Random", "XYZ"}
    assert 0 < table["chair"]["XYZ"]["mge"] < table["chair"]["Random"]["mge"]


def test_clear_errors_for_bad_input(demo_project, tmp_path):
    empty = tmp_path / "empty.corrstudio"
    with ProjectStore.create(empty) as store:
        store.add_category("lamp")
    out = cs("train", "--project", str(empty), "--category", "lamp", "--epochs", "1",
             "--out", str(tmp_path / "o"), tmp_path=tmp_path)
    assert out.returncode == 1 and "'lamp' has no models" in out.stderr
    out = cs("train", "--project", str(demo_project), "--category", "sofa", "--epochs", "1",
             "--out", str(tmp_path / "o"), tmp_path=tmp_path)
    assert out.returncode == 1 and "sofa" in out.stderr
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"junk")
    out = cs("evaluate", "--project", str(demo_project), "--category", "mug", "--points", "256",
             "--checkpoint", str(bad), tmp_path=tmp_path)
    assert out.returncode == 1 and "bad.json" in out.stderr  # the sidecar is missing
