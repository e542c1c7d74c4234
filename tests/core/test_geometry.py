"""Tests of core.geometry: loading, validation, normalization, closest points, PLY."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from core.geometry import (
    MeshError,
    TriMesh,
    apply_transform,
    closest_points,
    closest_surface_points,
    load_mesh,
    normalize,
    read_ply,
    surface_point_xyz,
    validate_mesh,
    write_ply,
)

SAMPLE_DIR = Path(__file__).parents[2].parent / "shared/data/keypointnet-sample"


def cube(offset=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    return np.asarray(box.vertices) + np.asarray(offset), np.asarray(box.faces, dtype=np.int64)


def write_obj(path: Path, vertices, faces) -> Path:
    lines = [f"v {x} {y} {z}" for x, y, z in vertices]
    lines += ["f " + " ".join(str(i + 1) for i in face) for face in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- validate_mesh -------------------------------------------------------------------


def test_validate_cube_is_clean():
    v, f = cube()
    report = validate_mesh(v, f, "cube")
    assert report.watertight and report.is_manifold
    assert report.n_components == 1
    assert not report.has_nan and report.n_degenerate_faces == 0
    assert report.problems == [] and report.ok


def test_validate_cube_with_hole():
    v, f = cube()
    report = validate_mesh(v, f[1:], "holed")
    assert not report.watertight and not report.is_manifold
    assert report.n_boundary_edges == 3
    assert any("boundary" in p for p in report.problems)


def test_validate_two_cubes_two_components():
    v1, f1 = cube()
    v2, f2 = cube((3.0, 0.0, 0.0))
    report = validate_mesh(np.vstack([v1, v2]), np.vstack([f1, f2 + len(v1)]), "pair")
    assert report.n_components == 2
    assert report.watertight
    assert any("2 connected components" in p for p in report.problems)


def test_validate_flipped_face_and_nan_and_degenerate():
    v, f = cube()
    flipped = f.copy()
    flipped[0] = flipped[0, ::-1]
    report = validate_mesh(v, flipped, "flipped")
    assert report.is_manifold and not report.watertight
    v_nan = v.copy()
    v_nan[0, 0] = np.nan
    assert validate_mesh(v_nan, f, "nan").has_nan
    degenerate = np.vstack([f, [[0, 0, 1]]])
    assert validate_mesh(v, degenerate, "degenerate").n_degenerate_faces == 1
    bad = validate_mesh(v, f + 100, "range")
    assert any("out of range" in p for p in bad.problems)


# --- load_mesh -----------------------------------------------------------------------


def test_load_obj_keeps_order(tmp_path):
    v, f = cube()
    mesh = load_mesh(write_obj(tmp_path / "cube.obj", v, f))
    np.testing.assert_array_equal(mesh.faces, f)
    np.testing.assert_allclose(mesh.vertices, v)
    assert mesh.n_vertices == 8 and mesh.n_faces == 12
    assert mesh.bbox_diagonal == pytest.approx(np.sqrt(3.0))


def test_load_off_ply_stl(tmp_path):
    v, f = cube()
    off = tmp_path / "cube.off"
    off.write_text(
        "OFF\n8 12 0\n"
        + "".join(f"{x} {y} {z}\n" for x, y, z in v)
        + "".join(f"3 {a} {b} {c}\n" for a, b, c in f)
    )
    np.testing.assert_array_equal(load_mesh(off).faces, f)
    ply = tmp_path / "cube.ply"
    write_ply(ply, v, f)
    np.testing.assert_array_equal(load_mesh(ply).faces, f)
    stl = tmp_path / "cube.stl"
    trimesh.Trimesh(v, f).export(stl)
    mesh = load_mesh(stl)
    assert mesh.n_faces == 12 and mesh.n_vertices == 8
    assert validate_mesh(mesh.vertices, mesh.faces, str(stl)).watertight


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("garbage.obj", b"\xff\xfe\x00\x01garbage\x80\x81", "no vertices"),
        ("badnum.obj", b"v 0 zero 0\n", "cannot read"),
        ("garbage.ply", b"\x00\x01\x02 not a ply", "not a PLY"),
        ("garbage.stl", b"\x00\x01\x02\x03", ""),
        ("nan.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
        ("range.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "out of range"),
        ("quad.obj", b"v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n", "non-triangular"),
        ("empty.obj", b"v 0 0 0\nv 1 0 0\n", "no faces"),
    ],
)
def test_load_errors_name_the_file(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MeshError) as info:
        load_mesh(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_load_missing_file_names_it(tmp_path):
    path = tmp_path / "nowhere" / "missing.obj"
    with pytest.raises(MeshError, match="file not found") as info:
        load_mesh(path)
    assert str(path) in str(info.value)


def test_mesh_error_forms():
    err = MeshError("/data/a.obj", "no faces")
    assert str(err) == "/data/a.obj: no faces"
    assert (err.source, err.problem) == ("/data/a.obj", "no faces")
    assert isinstance(err, ValueError)
    plain = MeshError("Model chair/x has no mesh file linked")
    assert str(plain) == "Model chair/x has no mesh file linked" and plain.source is None


# --- normalize -----------------------------------------------------------------------


def test_normalize_round_trip():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(50, 3)) * [3.0, 1.0, 0.2] + [10.0, -4.0, 2.0]
    out, transform = normalize(v)
    lo, hi = out.min(axis=0), out.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2.0, 0.0, atol=1e-12)
    assert np.linalg.norm(hi - lo) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(apply_transform(transform, v), out, atol=1e-12)
    back = apply_transform(np.linalg.inv(transform), out)
    np.testing.assert_allclose(back, v, atol=1e-9)
    assert transform.shape == (4, 4) and transform.dtype == np.float64


def test_normalize_rejects_degenerate():
    with pytest.raises(ValueError):
        normalize(np.ones((4, 3)))
    with pytest.raises(ValueError):
        normalize(np.zeros((0, 3)))


# --- closest points ------------------------------------------------------------------


def test_closest_points_on_plane():
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    sp = closest_surface_points(v, f, np.array([[0.3, 0.2, 0.5], [2.0, 0.5, -1.0]]))
    np.testing.assert_allclose(sp[0].xyz, (0.3, 0.2, 0.0), atol=1e-12)
    np.testing.assert_allclose(sp[1].xyz, (1.0, 0.5, 0.0), atol=1e-12)
    for p in sp:
        assert min(p.bary) >= 0.0 and sum(p.bary) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(surface_point_xyz(v, f, p.face, p.bary), p.xyz, atol=1e-15)


def test_closest_points_on_cube():
    v, f = cube()
    queries = np.array([[2.0, 2.0, 2.0], [0.0, 0.0, 0.9], [0.1, 0.0, 0.0], [0.7, 0.1, -0.2]])
    res = closest_points(v, f, queries)
    expected = np.array([[0.5, 0.5, 0.5], [0.0, 0.0, 0.5], [0.5, 0.0, 0.0], [0.5, 0.1, -0.2]])
    np.testing.assert_allclose(res.xyz, expected, atol=1e-12)
    np.testing.assert_allclose(res.distance, [np.sqrt(3 * 1.5**2), 0.4, 0.4, 0.2], atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(*[st.floats(-2.0, 2.0)] * 3), min_size=1, max_size=20))
def test_closest_points_match_brute_force(queries):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    q = np.asarray(queries, dtype=float)
    res = closest_points(v, f, q)
    tri = v[f]
    for k, point in enumerate(q):
        best = trimesh.triangles.closest_point(tri, np.repeat(point[None], len(tri), axis=0))
        assert res.distance[k] == pytest.approx(
            np.linalg.norm(best - point, axis=1).min(), abs=1e-9
        )
    assert np.all(res.bary >= 0.0)
    np.testing.assert_allclose(res.bary.sum(axis=1), 1.0, atol=1e-12)
    manual = np.einsum("pk,pkj->pj", res.bary, v[f[res.face]])
    np.testing.assert_allclose(res.xyz, manual, atol=1e-15)


# --- PLY -----------------------------------------------------------------------------


def test_ply_round_trip_and_bytes(tmp_path):
    v, f = cube((0.25, -1.0, 3.0))
    a, b = tmp_path / "a.ply", tmp_path / "b.ply"
    write_ply(a, v, f)
    write_ply(b, v.copy(), f.copy())
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
    mesh = read_ply(a)
    assert isinstance(mesh, TriMesh)
    np.testing.assert_array_equal(mesh.faces, f)
    np.testing.assert_array_equal(mesh.vertices, v.astype(np.float32).astype(np.float64))
    # trimesh reads what we write.
    other = trimesh.load(a, process=False)
    np.testing.assert_array_equal(np.asarray(other.faces), f)


def test_read_ply_ascii_big_endian_and_quads(tmp_path):
    v, f = cube()
    ascii_path = tmp_path / "ascii.ply"
    header = (
        "ply\nformat ascii 1.0\ncomment made by hand\nelement vertex 8\n"
        "property double x\nproperty double y\nproperty double z\nproperty uchar red\n"
        "element face 12\nproperty list uchar int vertex_index\nend_header\n"
    )
    body = "".join(f"{x} {y} {z} 7\n" for x, y, z in v) + "".join(
        f"3 {a} {b} {c}\n" for a, b, c in f
    )
    ascii_path.write_text(header + body)
    mesh = read_ply(ascii_path)
    np.testing.assert_allclose(mesh.vertices, v)
    np.testing.assert_array_equal(mesh.faces, f)

    big = tmp_path / "big.ply"
    rows = np.zeros(12, dtype=[("n", "u1"), ("i", ">i4", (3,))])
    rows["n"], rows["i"] = 3, f
    big.write_bytes(
        b"ply\nformat binary_big_endian 1.0\nelement vertex 8\nproperty float x\n"
        b"property float y\nproperty float z\nelement face 12\n"
        b"property list uchar int vertex_indices\nend_header\n"
        + v.astype(">f4").tobytes()
        + rows.tobytes()
    )
    np.testing.assert_array_equal(read_ply(big).faces, f)

    quads = tmp_path / "quad.ply"
    quads.write_text(header.replace("element face 12", "element face 1") + body[: body.find("3 ")]
                     + "4 0 1 2 3\n")  # fmt: skip
    with pytest.raises(MeshError, match="non-triangular") as info:
        read_ply(quads)
    assert str(quads) in str(info.value)

    truncated = tmp_path / "truncated.ply"
    truncated.write_bytes(big.read_bytes()[:-20])
    with pytest.raises(MeshError, match="truncated") as info:
        read_ply(truncated)
    assert str(truncated) in str(info.value)
    with pytest.raises(MeshError, match="file not found"):
        read_ply(tmp_path / "missing.ply")


# --- a real ShapeNet mesh --------------------------------------------------------------


@pytest.mark.skipif(
    not SAMPLE_DIR.is_dir(), reason=f"KeypointNet sample not present at {SAMPLE_DIR}"
)
def test_keypointnet_sample_is_a_typical_cad_mesh():
    path = SAMPLE_DIR / "model_normalized.obj"
    mesh = load_mesh(path)
    assert (mesh.n_vertices, mesh.n_faces) == (814, 3304)
    report = validate_mesh(mesh.vertices, mesh.faces, str(path))
    assert report.n_components > 1
    assert not report.watertight
    assert report.problems
    # Keypoints are stored as face index + barycentric weights of this exact face order.
    import json

    record = json.loads((SAMPLE_DIR / "chair_88382b87.json").read_text())[0]
    for kp in record["keypoints"]:
        info = kp["mesh_info"]
        xyz = surface_point_xyz(mesh.vertices, mesh.faces, info["face_index"], info["face_uv"])
        np.testing.assert_allclose(xyz, kp["xyz"], atol=1e-4)


def test_too_large_mesh_is_refused_with_the_limit(tmp_path):
    v, f = cube()
    path = write_obj(tmp_path / "big.obj", v, f)
    assert load_mesh(path, max_faces=12).n_faces == 12
    with pytest.raises(MeshError, match=r"big\.obj.*too large: 12 faces \(the limit is 11\)"):
        load_mesh(path, max_faces=11)
