"""Acceptance tests of the generated demo categories (core.demo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from core.demo import (
    CATEGORIES,
    DemoCategory,
    build_construction,
    generate_category,
    landmark_specs,
)
from core.demo.parts import to_arrays
from core.geometry import (
    apply_transform,
    normalize,
    read_ply,
    surface_point_xyz,
    validate_mesh,
    write_ply,
)

N_MODELS = 24
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def categories() -> dict[str, DemoCategory]:
    return {name: generate_category(name, seed=0, n_models=N_MODELS) for name in CATEGORIES}


@pytest.fixture(params=CATEGORIES)
def category(request, categories) -> DemoCategory:
    return categories[request.param]


# --- meshes ----------------------------------------------------------------------------


def test_category_metadata(category):
    assert category.name in CATEGORIES
    assert category.shapenet_id == {"airplane": "02691156", "mug": "03797390",
                                    "chair": "03001627"}[category.name]  # fmt: skip
    assert len(category.models) == N_MODELS
    ids = [m.model_id for m in category.models]
    assert ids == [f"{category.name}_{i:03d}" for i in range(N_MODELS)]


def test_models_are_clean_normalized_meshes(category):
    for model in category.models:
        v, f = model.vertices, model.faces
        assert v.dtype == np.float64 and v.ndim == 2 and v.shape[1] == 3
        assert f.dtype == np.int64 and f.ndim == 2 and f.shape[1] == 3
        report = validate_mesh(v, f, model.model_id)
        assert report.watertight, (model.model_id, report.problems)
        assert report.is_manifold, (model.model_id, report.problems)
        assert report.n_components == 1, (model.model_id, report.problems)
        assert not report.has_nan
        assert report.ok, (model.model_id, report.problems)  # also: no degenerate faces
        assert 2_000 <= len(f) <= 20_000, (model.model_id, len(f))
        lo, hi = v.min(axis=0), v.max(axis=0)
        np.testing.assert_allclose((lo + hi) / 2.0, 0.0, atol=1e-6)
        assert np.linalg.norm(hi - lo) == pytest.approx(1.0, abs=1e-6)
        # Outward (counter-clockwise) winding: positive signed volume.
        tm = trimesh.Trimesh(v, f, process=False)
        assert tm.is_watertight and tm.volume > 0.0


def test_intra_class_variation(category):
    extents = np.array([m.vertices.max(axis=0) - m.vertices.min(axis=0) for m in category.models])
    spread = extents.max(axis=0) - extents.min(axis=0)
    assert spread.max() > 0.05, spread
    face_counts = {len(m.faces) for m in category.models}
    assert len(face_counts) > N_MODELS // 3
    # No two models share a shape.
    keys = {np.round(e, 6).tobytes() for e in extents}
    assert len(keys) == N_MODELS


# --- landmarks -------------------------------------------------------------------------


def test_landmark_specs_are_consistent(category):
    specs = landmark_specs(category.name)
    assert specs == category.landmarks
    assert 12 <= len(specs) <= 20
    by_name = {s.name: s for s in specs}
    assert len(by_name) == len(specs)
    for s in specs:
        if s.mirror is not None:
            partner = by_name[s.mirror]
            assert partner.mirror == s.name and partner.part == s.part
            assert s.mirror != s.name


def test_landmarks_are_exact_surface_points(category):
    order = [s.name for s in category.landmarks]
    for model in category.models:
        assert list(model.landmarks) == [n for n in order if n in model.landmarks]
        for name, sp in model.landmarks.items():
            assert 0 <= sp.face < len(model.faces)
            assert min(sp.bary) >= 0.0, (model.model_id, name)
            assert sum(sp.bary) == pytest.approx(1.0, abs=1e-9)
            xyz = surface_point_xyz(model.vertices, model.faces, sp.face, sp.bary)
            np.testing.assert_allclose(sp.xyz, xyz, atol=1e-12)


def test_optional_parts_vary_and_required_landmarks_exist(category):
    parts: dict[str | None, list[str]] = {}
    for s in category.landmarks:
        parts.setdefault(s.part, []).append(s.name)
    assert len(parts) >= 2, "every category has at least one optional part"
    for model in category.models:
        assert all(n in model.landmarks for n in parts[None]), model.model_id
    for part, names in parts.items():
        if part is None:
            continue
        present = [all(n in m.landmarks for n in names) for m in category.models]
        absent = [not any(n in m.landmarks for n in names) for m in category.models]
        assert all(p or a for p, a in zip(present, absent, strict=True)), part
        assert any(present) and any(absent), part


def test_landmarks_follow_the_frame(category):
    """+X is left, +Z front, +Y up (see core.demo.types)."""
    for model in category.models:
        lm = {n: np.array(p.xyz) for n, p in model.landmarks.items()}
        for name, p in lm.items():
            if name.endswith("_left"):
                assert p[0] > 0.01, (model.model_id, name)
            if name.endswith("_right"):
                assert p[0] < -0.01, (model.model_id, name)
        if category.name == "airplane":
            assert lm["nose_tip"][2] == pytest.approx(model.vertices[:, 2].max())
            assert lm["fin_top"][1] > lm["fuselage_bottom_center"][1]
        elif category.name == "mug":
            assert lm["rim_front"][2] > 0.01 and lm["rim_back"][2] < -0.01
            assert lm["handle_outer_middle"][0] > lm["rim_left"][0] > 0.0
            assert lm["bottom_center"][1] == pytest.approx(model.vertices[:, 1].min())
        else:
            floor = model.vertices[:, 1].min()
            for side in ("front_left", "front_right", "back_left", "back_right"):
                assert lm[f"leg_bottom_{side}"][1] == pytest.approx(floor)
            assert lm["seat_corner_front_left"][2] > lm["seat_corner_back_left"][2]
            assert lm["back_top_center"][1] > lm["seat_center"][1]


@pytest.mark.parametrize("name", CATEGORIES)
def test_landmarks_are_on_the_outer_surface(name, categories):
    """Construction points lie on the final union (not buried inside another part).

    Recomputed independently with trimesh's brute-force closest point.
    """
    for index in range(6):
        construction = build_construction(name, 0, index)
        vertices, faces = to_arrays(construction.solid)
        normalized, matrix = normalize(vertices)
        names = list(construction.points)
        pts = apply_transform(matrix, np.array([construction.points[n] for n in names]))
        tri = normalized[faces]
        for n, p in zip(names, pts, strict=True):
            closest = trimesh.triangles.closest_point(tri, np.repeat(p[None], len(tri), axis=0))
            distance = np.linalg.norm(closest - p, axis=1).min()
            assert distance < 1e-3, (name, index, n, distance)
        model = categories[name].models[index]
        np.testing.assert_array_equal(model.vertices, normalized)
        assert model.params["landmark_snap_max"] < 1e-3
    for model in categories[name].models:
        assert model.params["landmark_snap_max"] < 1e-3, model.model_id


# --- annotators ------------------------------------------------------------------------


def test_annotators(category):
    specs = {s.name: s for s in category.landmarks}
    models = {m.model_id: m for m in category.models}
    assert len(category.annotators) >= 6
    names = [a.name for a in category.annotators]
    assert names == [f"annotator_{k:02d}" for k in range(len(names))]
    with_mistakes = 0
    for ann in category.annotators:
        conv = ann.convention
        assert 8 <= len(conv) <= min(16, len(specs))
        assert all(0 <= n <= 15 for n in conv)
        assert len(set(conv.values())) == len(conv), "convention must be injective"
        assert set(conv.values()) <= set(specs)
        keys = [(kp.model_id, kp.number) for kp in ann.keypoints]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        possible = sum(lm in m.landmarks for m in category.models for lm in conv.values())
        assert 0.85 * possible <= len(ann.keypoints) < possible, "about 5% skipped"
        mistakes = 0
        for kp in ann.keypoints:
            model = models[kp.model_id]
            assert conv[kp.number] == kp.landmark
            assert kp.landmark in model.landmarks
            if kp.is_mistake:
                mistakes += 1
                assert kp.placed_landmark == specs[kp.landmark].mirror
            p = kp.point
            assert min(p.bary) >= 0.0 and sum(p.bary) == pytest.approx(1.0, abs=1e-9)
            xyz = surface_point_xyz(model.vertices, model.faces, p.face, p.bary)
            np.testing.assert_allclose(p.xyz, xyz, atol=1e-12)
            target = np.array(model.landmarks[kp.placed_landmark].xyz)
            assert np.linalg.norm(np.array(p.xyz) - target) <= 0.03
        assert mistakes <= 0.02 * len(ann.keypoints), (ann.name, mistakes)
        with_mistakes += mistakes > 0
    assert with_mistakes >= 2, "at least two annotators per category make mistakes"


def test_annotator_noise_is_visible_but_small(category):
    models = {m.model_id: m for m in category.models}
    offsets = [
        np.linalg.norm(
            np.array(kp.point.xyz) - models[kp.model_id].landmarks[kp.placed_landmark].xyz
        )
        for ann in category.annotators
        for kp in ann.keypoints
    ]
    assert 0.002 < float(np.median(offsets)) < 0.015


# --- determinism -----------------------------------------------------------------------


@pytest.mark.parametrize("name", CATEGORIES)
def test_generation_is_deterministic(name, categories, tmp_path):
    first, again = categories[name], generate_category(name, seed=0, n_models=N_MODELS)
    for a, b in zip(first.models, again.models, strict=True):
        assert a.vertices.tobytes() == b.vertices.tobytes()
        assert a.faces.tobytes() == b.faces.tobytes()
        assert a.landmarks == b.landmarks
        assert a.params == b.params
    assert first.annotators == again.annotators
    model = first.models[0]
    write_ply(tmp_path / "a.ply", model.vertices, model.faces)
    write_ply(tmp_path / "b.ply", again.models[0].vertices, again.models[0].faces)
    assert (tmp_path / "a.ply").read_bytes() == (tmp_path / "b.ply").read_bytes()
    back = read_ply(tmp_path / "a.ply")
    np.testing.assert_array_equal(back.faces, model.faces)
    np.testing.assert_allclose(back.vertices, model.vertices, atol=1e-6)


@pytest.mark.parametrize("name", CATEGORIES)
def test_different_seed_gives_different_shapes(name, categories):
    other = generate_category(name, seed=1, n_models=3)
    for a, b in zip(categories[name].models[:3], other.models, strict=True):
        assert a.vertices.shape != b.vertices.shape or not np.array_equal(a.vertices, b.vertices)
        assert a.params != b.params


def test_invalid_arguments():
    with pytest.raises(ValueError, match="unknown demo category"):
        generate_category("teapot")
    with pytest.raises(ValueError, match="seed"):
        generate_category("mug", seed=-1)
    with pytest.raises(ValueError, match="n_models"):
        generate_category("mug", n_models=0)
    with pytest.raises(ValueError):
        landmark_specs("teapot")


def test_engine_imports_no_torch_or_qt():
    code = (
        "import sys, core.demo, core.geometry\n"
        "bad = [m for m in ('torch', 'PySide6', 'vtk', 'pyvista') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env=env)
