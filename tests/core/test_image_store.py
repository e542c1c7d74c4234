"""Images in a project, on SQLite and PostgreSQL: import PNG/JPEG, duplicates and bad files,
masks, cameras, 2D keypoints with states and versions, cascades, migration from 0002."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from core.images import ImageError
from core.masks import MaskError
from core.store import ProjectStore, migrate
from core.store.engine import make_engine
from core.store.errors import ConflictError, NotFound, PermissionDenied, ProjectError
from core.store.image_store import (
    DuplicateImage,
    add_image,
    delete_image,
    delete_image_keypoint,
    get_camera,
    get_image,
    get_mask,
    image_data,
    image_info,
    image_keypoints,
    list_images,
    set_camera,
    set_image_keypoint,
    set_mask,
    set_mask_from_png,
)
from core.store.schema import ImagePointState
from tests.core.test_store_migrations import _fill_revision_0001, _table

W, H = 37, 23  # deliberately not square, so swapped axes show


def _rgb(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png(path, rgb: np.ndarray):
    Image.fromarray(rgb).save(path, format="PNG")
    return path


@pytest.fixture
def project(db_target):
    store = ProjectStore.create(db_target)
    chair = store.add_category("chair")
    car = store.add_category("car")
    alice = store.add_annotator("alice")
    store.add_annotator("bob")
    store.add_annotator("adam", "admin")
    sets = store.add_sets(alice, chair, [(0, "seat"), (1, "leg"), (2, "back")])
    car_set = store.add_sets(alice, car, [(0, "wheel")])[0]
    yield store, dict(chair=chair, car=car), sets, car_set
    store.close()


def _count(store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


# ------------------------------------------------------------------------------ import
def test_import_png_and_jpeg(project, tmp_path):
    store, cats, _sets, _ = project
    rgb = _rgb(1)
    png = _png(tmp_path / "front.png", rgb)
    info = add_image(store, "chair", png)
    assert (info.name, info.category, info.format) == ("front.png", "chair", "PNG")
    assert (info.width, info.height) == (W, H)
    assert info.sha256 == hashlib.sha256(png.read_bytes()).hexdigest()
    assert info.source_path == str(png.resolve())
    assert not info.has_mask and not info.has_camera
    assert info.created_at.tzinfo is not None  # aware UTC on SQLite and PostgreSQL
    assert np.array_equal(get_image(store, info.id), rgb)  # lossless, axes as given
    assert image_data(store, info.id) == png.read_bytes()

    jpg = tmp_path / "side.jpg"
    Image.fromarray(_rgb(2, 40, 64)).save(jpg, format="JPEG", quality=90)
    jinfo = add_image(store, cats["chair"], jpg, name="side view")
    assert (jinfo.format, jinfo.width, jinfo.height, jinfo.name) == ("JPEG", 64, 40, "side view")
    with Image.open(jpg) as img:
        decoded = np.asarray(img.convert("RGB"))
    assert np.array_equal(get_image(store, jinfo.id), decoded)

    # gray and RGBA PNGs come back as (H, W, 3) RGB
    gray = tmp_path / "gray.png"
    Image.fromarray(np.arange(12 * 9, dtype=np.uint8).reshape(9, 12), "L").save(gray)
    g = get_image(store, add_image(store, "chair", gray).id)
    assert g.shape == (9, 12, 3) and g[2, 5].tolist() == [29, 29, 29]

    assert [i.name for i in list_images(store, "chair")] == ["front.png", "gray.png",
                                                             "side view"]
    assert list_images(store, "car") == []
    assert image_info(store, info.id) == info


def test_the_project_keeps_the_image_without_the_file(project, tmp_path):
    store, *_ = project
    rgb = _rgb(3)
    png = _png(tmp_path / "gone.png", rgb)
    image_id = add_image(store, "chair", png).id
    png.unlink()
    assert np.array_equal(get_image(store, image_id), rgb)


def test_duplicates_and_name_clashes_are_refused(project, tmp_path):
    store, *_ = project
    first = _png(tmp_path / "a.png", _rgb(4))
    info = add_image(store, "chair", first)
    copy = tmp_path / "copy_of_a.png"
    copy.write_bytes(first.read_bytes())
    with pytest.raises(DuplicateImage, match=r"copy_of_a\.png.*'chair'.*'a\.png'") as err:
        add_image(store, "chair", copy)
    assert err.value.existing == info
    # the same picture in another category is another image
    assert add_image(store, "car", copy).sha256 == info.sha256
    # a different picture with a taken name
    other = _png(tmp_path / "b.png", _rgb(5))
    with pytest.raises(ProjectError, match="already has an image named 'a.png'"):
        add_image(store, "chair", other, name="a.png")
    assert [i.id for i in list_images(store, "chair")] == [info.id]
    with pytest.raises(NotFound, match="No category 'plane'"):
        add_image(store, "plane", other)


def test_huge_broken_missing_and_unsupported_files(project, tmp_path):
    store, *_ = project
    kept = add_image(store, "chair", _png(tmp_path / "kept.png", _rgb(6)))
    big = _png(tmp_path / "big.png", _rgb(7, 20, 30))  # 600 pixels
    with pytest.raises(ImageError, match=r"big\.png.*30 x 20.*limit is 500 pixels"):
        add_image(store, "chair", big, max_pixels=500)
    assert add_image(store, "chair", big, max_pixels=600).width == 30

    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x00\x01not an image" * 50)
    with pytest.raises(ImageError, match=r"garbage\.png.*not an image"):
        add_image(store, "chair", garbage)

    full = _png(tmp_path / "full.png", _rgb(8, 64, 64)).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(ImageError, match=r"cut\.png.*(broken|truncated)"):
        add_image(store, "chair", cut)

    jpg = tmp_path / "whole.jpg"
    Image.fromarray(_rgb(9, 64, 64)).save(jpg, format="JPEG")
    cut_jpg = tmp_path / "cut.jpg"
    cut_jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg.*(broken|truncated)"):
        add_image(store, "chair", cut_jpg)

    with pytest.raises(ImageError, match=r"not found.*missing\.png"):
        add_image(store, "chair", tmp_path / "missing.png")
    with pytest.raises(ImageError, match="not found"):
        add_image(store, "chair", tmp_path)  # a folder

    bmp = tmp_path / "pic.bmp"
    Image.fromarray(_rgb(10)).save(bmp, format="BMP")
    with pytest.raises(ImageError, match=r"pic\.bmp.*BMP.*not supported"):
        add_image(store, "chair", bmp)

    # nothing was written by the failures, nothing saved before was lost
    assert [i.name for i in list_images(store, "chair")] == ["big.png", "kept.png"]
    assert np.array_equal(get_image(store, kept.id), _rgb(6))


# ------------------------------------------------------------------------------- masks
def test_masks_round_trip_and_bad_masks_change_nothing(project, tmp_path):
    store, *_ = project
    image_id = add_image(store, "chair", _png(tmp_path / "m.png", _rgb(11))).id
    assert get_mask(store, image_id) is None
    mask = np.zeros((H, W), bool)
    mask[5:18, 9:30] = True
    mask[0, 0] = True
    set_mask(store, image_id, mask)
    got = get_mask(store, image_id)
    assert got.dtype == bool and np.array_equal(got, mask)
    assert image_info(store, image_id).has_mask

    with pytest.raises(MaskError, match=rf"{H} x {W} pixels but image 'm.png' is {W} x {H}"):
        set_mask(store, image_id, mask.T)  # transposed: another size
    with pytest.raises(MaskError, match="empty"):
        set_mask(store, image_id, np.zeros((H, W), bool))
    with pytest.raises(MaskError, match="2-D"):
        set_mask(store, image_id, mask[..., None])
    with pytest.raises(NotFound):
        set_mask(store, 9999, mask)
    assert np.array_equal(get_mask(store, image_id), mask)  # the saved mask survived

    set_mask(store, image_id, None)
    assert get_mask(store, image_id) is None and not image_info(store, image_id).has_mask


def test_mask_from_png_file(project, tmp_path):
    store, *_ = project
    image_id = add_image(store, "chair", _png(tmp_path / "p.png", _rgb(12))).id
    truth = np.zeros((H, W), bool)
    truth[3:20, 4:33] = True
    rgba = np.full((H, W, 4), 255, np.uint8)
    rgba[..., 3] = np.where(truth, 255, 0)  # alpha cut-out, white everywhere
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cutout.png")
    assert np.array_equal(set_mask_from_png(store, image_id, tmp_path / "cutout.png"), truth)
    assert np.array_equal(get_mask(store, image_id), truth)

    Image.fromarray(np.ones((H + 1, W), np.uint8) * 255, "L").save(tmp_path / "tall.png")
    with pytest.raises(MaskError, match=rf"tall\.png is {W} x {H + 1} pixels.*{W} x {H}"):
        set_mask_from_png(store, image_id, tmp_path / "tall.png")
    Image.fromarray(np.zeros((H, W), np.uint8), "L").save(tmp_path / "black.png")
    with pytest.raises(MaskError, match=r"black\.png.*empty"):
        set_mask_from_png(store, image_id, tmp_path / "black.png")
    assert np.array_equal(get_mask(store, image_id), truth)


# ------------------------------------------------------------------------------ camera
def test_camera_round_trip(project, tmp_path):
    store, *_ = project
    image_id = add_image(store, "chair", _png(tmp_path / "c.png", _rgb(13))).id
    assert get_camera(store, image_id) is None
    cam = {"model": "pinhole", "K": [[500.0, 0, 18.5], [0, 500.0, 11.5], [0, 0, 1]],
           "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "t": [0, 0, 2.5], "note": "ground truth"}
    set_camera(store, image_id, cam)
    assert get_camera(store, image_id) == cam and image_info(store, image_id).has_camera
    with pytest.raises(ValueError, match="JSON"):
        set_camera(store, image_id, {"f": float("nan")})
    with pytest.raises(ValueError, match="dict"):
        set_camera(store, image_id, [1, 2, 3])
    assert get_camera(store, image_id) == cam
    set_camera(store, image_id, None)
    assert get_camera(store, image_id) is None
    with pytest.raises(NotFound):
        get_camera(store, 9999)


# --------------------------------------------------------------------------- keypoints
def test_keypoint_states_round_trip_with_versions(project, tmp_path):
    store, _cats, sets, _ = project
    image_id = add_image(store, "chair", _png(tmp_path / "k.png", _rgb(14))).id
    v = set_image_keypoint(store, image_id, sets[0], 0.5, 22.5, "visible")
    o = set_image_keypoint(store, image_id, sets[1], -4.0, 30.25, ImagePointState.occluded)
    a = set_image_keypoint(store, image_id, sets[2], None, None, "absent")
    got = image_keypoints(store, image_id)
    assert [(p.set_id, p.x, p.y, p.state, p.version) for p in got] == [
        (sets[0], 0.5, 22.5, "visible", 1), (sets[1], -4.0, 30.25, "occluded", 1),
        (sets[2], None, None, "absent", 1)]
    assert got == [v, o, a]
    assert [ImagePointState(p.state).coco_v for p in got] == [2, 1, 0]

    with pytest.raises(ConflictError, match="already has a point") as err:
        set_image_keypoint(store, image_id, sets[0], 3.0, 4.0)
    assert err.value.current == v
    moved = set_image_keypoint(store, image_id, sets[0], 3.0, 4.0, expected_version=1)
    assert (moved.x, moved.y, moved.version, moved.id) == (3.0, 4.0, 2, v.id)
    with pytest.raises(ConflictError, match="now version 2"):
        set_image_keypoint(store, image_id, sets[0], 5.0, 5.0, expected_version=1)
    gone = set_image_keypoint(store, image_id, sets[0], None, None, "absent",
                              expected_version=2)
    assert (gone.state, gone.x, gone.version) == ("absent", None, 3)

    deleted = delete_image_keypoint(store, o.id, 1)
    assert deleted == o
    with pytest.raises(ConflictError, match="no longer exists"):
        delete_image_keypoint(store, o.id, 1)
    with pytest.raises(ConflictError, match="no point any more"):
        set_image_keypoint(store, image_id, sets[1], 1.0, 1.0, expected_version=1)
    assert [p.set_id for p in image_keypoints(store, image_id)] == [sets[0], sets[2]]


def test_bad_keypoints_are_refused(project, tmp_path):
    store, _cats, sets, car_set = project
    image_id = add_image(store, "chair", _png(tmp_path / "b.png", _rgb(15))).id
    with pytest.raises(ValueError, match=rf"inside image 'b.png'.*x <= {W}"):
        set_image_keypoint(store, image_id, sets[0], W + 0.01, 1.0)
    with pytest.raises(ValueError, match="inside"):
        set_image_keypoint(store, image_id, sets[0], 1.0, -0.5)
    with pytest.raises(ValueError, match="finite"):
        set_image_keypoint(store, image_id, sets[0], float("nan"), 1.0)
    with pytest.raises(ValueError, match="finite"):
        set_image_keypoint(store, image_id, sets[0], None, 1.0, "occluded")
    with pytest.raises(ValueError, match="no position"):
        set_image_keypoint(store, image_id, sets[0], 1.0, 1.0, "absent")
    with pytest.raises(ValueError, match="visible, occluded or absent"):
        set_image_keypoint(store, image_id, sets[0], 1.0, 1.0, "hidden")
    with pytest.raises(ValueError, match="category 'car', image 'b.png' to 'chair'"):
        set_image_keypoint(store, image_id, car_set, 1.0, 1.0)
    with pytest.raises(NotFound):
        set_image_keypoint(store, 9999, sets[0], 1.0, 1.0)
    with pytest.raises(NotFound):
        set_image_keypoint(store, image_id, 9999, 1.0, 1.0)
    assert image_keypoints(store, image_id) == []
    # corners and edges are inside (pixel edges run from 0 to W and H)
    assert set_image_keypoint(store, image_id, sets[0], float(W), float(H)).x == W


def test_keypoint_permissions_match_3d_keypoints(project, tmp_path):
    store, _cats, sets, _ = project
    image_id = add_image(store, "chair", _png(tmp_path / "perm.png", _rgb(16))).id
    mine = set_image_keypoint(store, image_id, sets[0], 2.0, 2.0, annotator="alice")
    with store.session() as s:
        alice_id = s.execute(text("SELECT id FROM annotator WHERE name = 'alice'")).scalar_one()
        adam_id = s.execute(text("SELECT id FROM annotator WHERE name = 'adam'")).scalar_one()
    assert mine.annotator_id == alice_id
    with pytest.raises(PermissionDenied, match="bob .*cannot change set 1 of alice"):
        set_image_keypoint(store, image_id, sets[1], 2.0, 2.0, annotator="bob")
    with pytest.raises(PermissionDenied):
        delete_image_keypoint(store, mine.id, 1, annotator="bob")
    with pytest.raises(NotFound, match="carol"):
        set_image_keypoint(store, image_id, sets[1], 2.0, 2.0, annotator="carol")
    by_admin = set_image_keypoint(store, image_id, sets[0], 3.0, 3.0, annotator="adam",
                                  expected_version=1)
    assert (by_admin.annotator_id, by_admin.version) == (adam_id, 2)
    assert image_keypoints(store, image_id) == [by_admin]


# ----------------------------------------------------------------------------- cascades
def test_deletes_cascade(project, tmp_path):
    store, cats, sets, _ = project
    one = add_image(store, "chair", _png(tmp_path / "one.png", _rgb(17))).id
    two = add_image(store, "chair", _png(tmp_path / "two.png", _rgb(18))).id
    car = add_image(store, "car", _png(tmp_path / "car.png", _rgb(19))).id
    set_mask(store, one, np.ones((H, W), bool))
    for image_id in (one, two):
        for sid in sets.values():
            set_image_keypoint(store, image_id, sid, 1.0, 1.0)
    assert _count(store, "image_keypoint") == 6

    delete_image(store, one)
    assert _count(store, "image_keypoint") == 3
    assert [p.image_id for p in image_keypoints(store, two)] == [two] * 3
    with pytest.raises(NotFound):
        get_image(store, one)
    with pytest.raises(NotFound):
        delete_image(store, one)

    with store.engine.begin() as conn:  # a deleted set takes its 2D points along
        conn.execute(text("DELETE FROM correspondence_set WHERE id = :i"), {"i": sets[1]})
    assert [p.set_id for p in image_keypoints(store, two)] == [sets[0], sets[2]]
    with store.engine.begin() as conn:  # a deleted category takes its images along
        conn.execute(text("DELETE FROM category WHERE id = :i"), {"i": cats["chair"]})
    assert _count(store, "image_keypoint") == 0
    assert [i.id for i in list_images(store, "car")] == [car]
    assert _count(store, "image") == 1


def test_native_bundle_carries_images(project, tmp_path):
    from core.store.native_bundle import export_native, import_native

    store, _cats, sets, _ = project
    rgb = _rgb(21)
    image_id = add_image(store, "chair", _png(tmp_path / "n.png", rgb)).id
    mask = np.zeros((H, W), bool)
    mask[2:9, 3:7] = True
    set_mask(store, image_id, mask)
    set_camera(store, image_id, {"f": 2.0})
    point = set_image_keypoint(store, image_id, sets[1], 7.25, 8.5, "occluded")
    with ProjectStore.create(tmp_path / "copy.corrstudio") as copy:
        import_native(copy, export_native(store))
        assert list_images(copy, "chair") == list_images(store, "chair")
        assert np.array_equal(get_image(copy, image_id), rgb)
        assert np.array_equal(get_mask(copy, image_id), mask)
        assert get_camera(copy, image_id) == {"f": 2.0}
        (got,) = image_keypoints(copy, image_id)
        assert (got.x, got.y, got.state, got.version) == (point.x, point.y, "occluded", 1)


# ---------------------------------------------------------------------------- migration
def test_upgrade_from_revision_0002_adds_images(db_target, tmp_path):
    engine = make_engine(db_target)
    migrate.upgrade(engine, "0002")
    assert migrate.current_revision(engine) == "0002"
    _fill_revision_0001(engine)
    old = ("project", "category", "annotator", "model", "template", "correspondence_set",
           "keypoint")
    before = {t: _table(engine, t) for t in old}
    engine.dispose()

    with ProjectStore.open(db_target) as store:  # opening upgrades to head
        assert migrate.current_revision(store.engine) == migrate.head_revision() == "0004"
        assert {t: _table(store.engine, t) for t in old} == before
        image_id = add_image(store, 1, _png(tmp_path / "old.png", _rgb(20))).id
        point = set_image_keypoint(store, image_id, 1, 4.0, 5.0, annotator="alice")
        assert image_keypoints(store, image_id) == [point]

        migrate.downgrade(store.engine, "0002")  # and back: the image tables go
        with store.engine.connect() as conn:
            names = set(store.engine.dialect.get_table_names(conn))
        assert "image" not in names and "image_keypoint" not in names
        assert {t: _table(store.engine, t) for t in old} == before
        migrate.upgrade(store.engine)
        assert list_images(store, 1) == []
