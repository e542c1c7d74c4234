"""The demo project on disk: byte-identical files for a seed, database consistent with
the generator, atomic build."""

from __future__ import annotations

import hashlib
import json

import pytest

from core.demo import generate_category
from core.demo.build_project import build_demo_project, ensure_demo_project
from core.store import ProjectStore


def _digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and (p.parent.name == "ground_truth" or p.suffix == ".ply")}


def test_same_seed_gives_byte_identical_meshes_and_ground_truth(tmp_path):
    a = build_demo_project(tmp_path / "a", seed=3, n_models=2).parent
    b = build_demo_project(tmp_path / "b", seed=3, n_models=2).parent
    c = build_demo_project(tmp_path / "c", seed=4, n_models=2).parent
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert len(da) == 3 * 2 + 3  # 6 meshes + 3 ground-truth files
    assert da == db
    assert da.keys() == dc.keys() and da != dc


def test_database_matches_generated_annotations(demo_project):
    generated = generate_category("mug", seed=0, n_models=24)
    with ProjectStore.open(demo_project) as store:
        [mug] = [c for c in store.categories() if c.name == "mug"]
        assert mug.n_models == 24
        assert mug.n_keypoints == sum(len(a.keypoints) for a in generated.annotators)
        assert mug.n_sets == sum(len(a.convention) for a in generated.annotators)
        model = store.model("mug", "mug_004")
        kp = store.keypoints_of_model(model.id)
        expected = sorted((a.name, k.number, k.point.xyz) for a in generated.annotators
                          for k in a.keypoints if k.model_id == "mug_004")
        got = sorted(zip(kp.annotators, kp.numbers.tolist(), map(tuple, kp.xyz.tolist()),
                         strict=True))
        assert [(n, num) for n, num, _ in got] == [(n, num) for n, num, _ in expected]
        for (_, _, xyz_got), (_, _, xyz_exp) in zip(got, expected, strict=True):
            assert xyz_got == pytest.approx(xyz_exp, abs=1e-12)


def test_ground_truth_records_the_injected_swaps(demo_project):
    gt = json.loads((demo_project.parent / "ground_truth" / "chair.json").read_text())
    mistakes = [m for a in gt["annotators"].values() for m in a["mistakes"]]
    assert mistakes, "the demo must contain left/right swaps to score QA features against"
    mirrors = {lm["name"]: lm["mirror"] for lm in gt["landmarks"]}
    assert all(mirrors[m["landmark"]] == m["placed_landmark"] for m in mistakes)


def test_existing_folder_is_never_overwritten(tmp_path):
    target = tmp_path / "demo"
    target.mkdir()
    (target / "mine.txt").write_text("user data")
    with pytest.raises(FileExistsError):
        build_demo_project(target, n_models=1)
    assert (target / "mine.txt").read_text() == "user data"


def test_ensure_builds_once_then_reuses(tmp_path):
    project = ensure_demo_project(tmp_path / "demo", n_models=1)
    stamp = project.stat().st_mtime_ns
    assert ensure_demo_project(tmp_path / "demo", n_models=1) == project
    assert project.stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo-building-")]
