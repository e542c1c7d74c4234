"""The learned 2D stages (core.learned2d): renders, losses, training, checkpoints, predictor.

Bounds stated here: a soft-argmax peak of a Gaussian heatmap is recovered to 0.05 cells; a
crop maps image pixels to crop pixels and back to 1e-9 px; a network trained for ten short
epochs on 6 small demo mugs (32 px crops; seeds 0 and 2 tried: best validation PCK@0.1
0.23-0.29 against 0.08-0.09 for the viewpoint-blind mean layout, 0.21-0.25 against
0.04-0.06 on new renders) beats that baseline by 0.1 and its own first epoch, and its mean
loss falls by 20 % or more (40 % seen). CPU only, one torch thread, about 20-30 s in all.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from core.embedding.trainer import CancelToken, TrainingDiverged
from core.learned2d.checkpoint import (
    ImageCheckpointError,
    load_predictor,
    read_image_sidecar,
    save_image_checkpoint,
)
from core.learned2d.data import (
    CropBox,
    ViewSet,
    crop_box,
    crop_image,
    image_crop_box,
    load_category_meshes,
    render_views,
)
from core.learned2d.layout_baseline import LayoutBaseline
from core.learned2d.metrics import evaluate_views
from core.learned2d.networks import (
    NetOutput,
    NetworkSpec,
    gaussian_heatmaps,
    heatmap_loss,
    viewpoint_loss,
    viewpoint_target,
)
from core.learned2d.prediction import ImagePredictor
from core.learned2d.predictor import ImageNetPredictor, heatmap_peaks
from core.learned2d.split import split_models
from core.learned2d.trainer import (
    ImageDataProgress,
    ImageEpochEvent,
    ImageStepEvent,
    ImageTrainConfig,
    ImageTrainingDone,
    train_image_networks,
)
from core.shape_space.template import semantic_targets
from core.store import ProjectStore

CATEGORY = "mug"
SMALL = dict(batch_size=16, input_size=32, width=16, device="cpu", threads=1,
             val_views_per_model=4)


@pytest.fixture(scope="module")
def mug_project(tmp_path_factory):
    """A demo project of 8 mugs only (the split keeps 6 for training)."""
    from core.demo.build_project import build_demo_project

    return build_demo_project(tmp_path_factory.mktemp("l2d") / "demo", n_models=8,
                              categories=[CATEGORY])


@pytest.fixture(scope="module")
def meshes(mug_project):
    with ProjectStore.open(mug_project) as store:
        return load_category_meshes(store, CATEGORY)


@pytest.fixture(scope="module")
def render64():
    from core.learned2d.data import RenderConfig

    return RenderConfig(image_size=64)


@pytest.fixture(scope="module")
def trained(meshes, render64, tmp_path_factory):
    """Ten short epochs on 6 mugs x 24 views: (config, events, output folder)."""
    config = ImageTrainConfig(epochs=10, views_per_model=24, render=render64, **SMALL)
    out = tmp_path_factory.mktemp("nets")
    events = list(train_image_networks(meshes, config, out))
    return config, events, out


# ----------------------------------------------------------------------------- losses


def test_viewpoint_target_is_circular_in_azimuth_and_cut_in_elevation():
    t = viewpoint_target(torch.tensor([0.0, 23.5]), torch.tensor([5.0, 0.0]), sigma=1.0)
    assert t.shape == (2, 24, 12)
    assert torch.allclose(t.sum(dim=(1, 2)), torch.ones(2))
    a = t[0]
    assert a[23, 5] == pytest.approx(a[1, 5].item(), rel=1e-6)  # bin 23 neighbours bin 0
    assert a[0, 5] > a[1, 5] > a[2, 5] > a[12, 5]
    b = t[1]  # halfway between bins 23 and 0, at the lowest elevation bin
    assert b[23, 0] == pytest.approx(b[0, 0].item(), rel=1e-6)
    assert b[22, 0] == pytest.approx(b[1, 0].item(), rel=1e-6)
    assert b[:, 0].sum() > b[:, 1].sum()  # nothing wraps to the other end of elevation
    assert b[:, 11].sum() < 1e-6
    one_hot = viewpoint_target(torch.tensor([23.0]), torch.tensor([3.0]), sigma=0.0)[0]
    assert one_hot[23, 3] == 1.0 and one_hot.sum() == 1.0
    # the KL loss is 0 at the target and smaller one bin across the seam than far away
    target = viewpoint_target(torch.tensor([0.0]), torch.tensor([5.0]))
    assert viewpoint_loss(torch.log(target), target).item() == pytest.approx(0.0, abs=1e-5)
    near = torch.log(viewpoint_target(torch.tensor([23.0]), torch.tensor([5.0])))
    far = torch.log(viewpoint_target(torch.tensor([12.0]), torch.tensor([5.0])))
    assert viewpoint_loss(near, target) < viewpoint_loss(far, target)


def test_heatmap_loss_and_subpixel_peaks():
    xy = torch.tensor([[[3.3, 7.8], [10.5, 2.25]]])  # (B=1, S=2, 2) heatmap units
    logits = torch.log(gaussian_heatmaps(xy, (16, 16), sigma=1.0).clamp_min(1e-30))
    assert heatmap_loss(logits, xy, torch.ones(1, 2)).item() == pytest.approx(0.0, abs=1e-4)
    shifted = heatmap_loss(torch.roll(logits, 3, dims=-1), xy, torch.ones(1, 2))
    assert shifted.item() > 1.0
    # a point that does not count (weight 0, or NaN target) changes nothing
    nan_xy = xy.clone()
    nan_xy[0, 1] = float("nan")
    assert heatmap_loss(torch.roll(logits, 3, dims=-1), nan_xy, torch.tensor([[0.0, 1.0]])) \
        .item() == 0.0
    peak, conf = heatmap_peaks(logits, radius=2)
    assert torch.allclose(peak, xy, atol=0.05)
    assert ((conf > 0.9) & (conf <= 1.0)).all()


# ----------------------------------------------------------------------------- crops


def test_crop_maps_image_pixels_to_crop_pixels_and_back():
    img = np.zeros((90, 140, 3), np.uint8)
    img[40, 100] = 255  # pixel centre (100.5, 40.5)
    box = CropBox(x0=84.0, y0=30.0, side=32.0)  # scale 1: pixel-exact
    crop = crop_image(img, box, 32)
    assert np.argwhere(crop[..., 0] == 255).tolist() == [[10, 16]]
    assert np.allclose(box.to_crop([[100.5, 40.5]], 32), [[16.5, 10.5]])
    pts = np.array([[1.25, 2.5], [130.0, 88.0]])
    big = CropBox(-10.0, 5.0, 200.0)
    assert np.allclose(big.to_image(big.to_crop(pts, 64), 64), pts, atol=1e-9)
    # the crop of a mask: the box's longer side plus 10 % each side, same centre
    mask = np.zeros((90, 140), bool)
    mask[20:50, 60:120] = True  # box x 60..120 (60 wide), y 20..50 (30 tall)
    c = image_crop_box(mask, mask.shape)
    assert (c.side, c.x0 + c.side / 2, c.y0 + c.side / 2) == pytest.approx((72.0, 90.0, 35.0))
    whole = image_crop_box(None, (90, 140))
    assert (whole.x0, whole.y0, whole.side) == pytest.approx((0.0, -25.0, 140.0))


class _PeakNet(torch.nn.Module):
    """A stub network whose heatmap peaks at fixed cells (for the pixel mapping test)."""

    def __init__(self, spec: NetworkSpec, cells: list[tuple[int, int]]) -> None:
        super().__init__()
        self.spec, self.cells = spec, cells
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, h = x.shape[0], self.spec.heatmap_size
        heat = torch.full((b, len(self.cells), h, h), -50.0)
        for s, (cx, cy) in enumerate(self.cells):
            heat[:, s, cy, cx] = 0.0
        return NetOutput(heat, torch.zeros(b, len(self.cells)),
                         torch.zeros(b, self.spec.n_azimuth, self.spec.n_elevation))


def test_predictions_are_in_image_pixels_for_a_non_square_offset_crop():
    spec = NetworkSpec(n_points=2, input_size=32)
    predictor = ImageNetPredictor(_PeakNet(spec, [(0, 0), (10, 4)]), "mug", ("a", "b"), spec)
    assert isinstance(predictor, ImagePredictor)
    rgb = np.zeros((120, 200, 3), np.uint8)
    mask = np.zeros((120, 200), bool)
    mask[70:100, 130:190] = True  # box x 130..190, y 70..100: side 60 * 1.2 = 72
    pred = predictor.predict(rgb, mask)
    # crop: x0 = 160 - 36 = 124, y0 = 85 - 36 = 49, 72 image px over 16 cells = 4.5 px/cell
    expected = np.array([[124 + 0.5 * 4.5, 49 + 0.5 * 4.5], [124 + 10.5 * 4.5, 49 + 4.5 * 4.5]])
    assert np.allclose(pred.uv, expected, atol=1e-6)
    assert pred.labels == ("a", "b") and pred.viewpoint_probs.shape == (24, 12)
    assert np.allclose(pred.viewpoint_probs.sum(), 1.0) and np.allclose(pred.visibility, 0.5)
    assert np.allclose(pred.confidence, 1.0)


# ----------------------------------------------------------------------------- data


def test_labels_split_and_deterministic_views(mug_project, meshes, render64):
    with ProjectStore.open(mug_project) as store:
        targets = semantic_targets(store.category_sets(CATEGORY))
    assert meshes.labels == targets.labels  # the shape space's labels and order
    train, held = meshes.split()
    assert [m.name for m in train] == list(split_models(targets.model_names)[0])
    assert held and not {m.name for m in train} & {m.name for m in held}
    a = render_views(train[:2], meshes.labels, 3, render64, seed=4)
    b = ViewSet.concatenate([render_views([m], meshes.labels, 3, render64, seed=4)
                             for m in train[:2]])
    c = render_views(train[:2], meshes.labels, 3, render64, seed=4, stream=1)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.model, b.model)
    assert not np.array_equal(a.rgb, c.rgb)
    assert a.rgb.shape == (6, 64, 64, 3) and a.uv.shape == (6, len(meshes.labels), 2)
    assert (a.visible <= a.placed).all() and (a.placed <= a.known).all()
    # ground truth agrees with the image: visible points lie in (or next to) the mask box,
    # and the bins are those of core.pose.viewpoint
    uv = a.uv[a.visible]
    boxes = np.repeat(a.box[:, None], a.uv.shape[1], axis=1)[a.visible]
    assert ((uv >= boxes[:, :2] - 1) & (uv <= boxes[:, 2:] + 1)).all()
    from core.pose.viewpoint import azimuth_bin, elevation_bin

    assert a.azimuth_bin.tolist() == [azimuth_bin(x) for x in a.azimuth]
    assert a.elevation_bin.tolist() == [elevation_bin(x) for x in a.elevation]


def test_layout_baseline_places_the_bin_layout_in_the_mask_box():
    uv = np.array([[[0.25, 0.5]], [[0.75, 0.5]], [[0.1, 0.1]]])  # (N=3, S=1, 2) box units
    layout = LayoutBaseline.fit(uv, np.ones((3, 1), bool), np.array([[True], [False], [True]]),
                                np.array([23, 23, 3]), np.array([5, 5, 5]))
    mask = np.zeros((50, 80), bool)
    mask[10:30, 20:60] = True  # box 40 x 20 at (20, 10)
    xy, vis = layout.keypoints(mask, 23, 5)
    assert np.allclose(xy, [[20 + 0.5 * 40, 10 + 0.5 * 20]]) and vis.tolist() == [True]
    # bin 0 is empty: its nearest populated bin is 23 (one step across the seam), not 3
    assert np.allclose(layout.keypoints(mask, 0, 6)[0], xy)
    assert np.allclose(layout.keypoints(mask, 4, 5)[0], [[24.0, 12.0]])
    restored = LayoutBaseline.from_tensors(layout.to_tensors())
    assert np.array_equal(restored.count, layout.count)


# ----------------------------------------------------------------------------- training


def test_training_streams_events_lowers_the_loss_and_beats_the_trivial_baseline(trained):
    config, events, out = trained
    kinds = [type(e) for e in events]
    assert kinds[0] is ImageDataProgress and kinds[-1] is ImageTrainingDone
    assert kinds.count(ImageEpochEvent) == config.epochs
    steps = [e for e in events if isinstance(e, ImageStepEvent)]
    first = np.mean([e.loss for e in steps if e.epoch == 0])
    last = np.mean([e.loss for e in steps if e.epoch == config.epochs - 1])
    assert last < 0.8 * first, (first, last)
    assert all(math.isfinite(e.heatmap + e.visibility + e.viewpoint) for e in steps)
    epochs = [e for e in events if isinstance(e, ImageEpochEvent)]
    done = events[-1]
    assert not done.cancelled and done.epochs_run == config.epochs
    best = done.best_validation
    assert best.pck == max(e.validation.pck for e in epochs) == done.best_val_pck
    assert best.pck > epochs[0].validation.pck
    assert best.pck > best.pck_mean_layout + 0.1, best
    assert done.images_per_s > 0 and done.n_train_views == 6 * 24
    assert done.best_checkpoint == out / "best.safetensors" and done.last_checkpoint.exists()


def test_trained_predictor_beats_the_trivial_baseline_on_held_in_renders(trained, meshes,
                                                                        render64):
    _, events, out = trained
    predictor = load_predictor(out / "best.safetensors", expect_category=CATEGORY,
                               expect_labels=meshes.labels)
    train, _ = meshes.split()
    views = render_views(train, meshes.labels, 4, render64, seed=7)  # unseen views
    scores = evaluate_views(predictor, views)
    assert scores.pck > scores.pck_mean_layout + 0.1, scores
    # a non-square, offset image: the same view pasted into a larger canvas moves the
    # predictions by the offset (edge padding keeps the crop's pixels the same)
    i = int(np.argmax(views.visible.sum(axis=1)))
    rgb, box = views.rgb[i], views.box[i]
    mask = np.zeros(rgb.shape[:2], bool)
    x0, y0, x1, y1 = box.astype(int)
    mask[y0:y1, x0:x1] = True
    dy, dx = 17, 45
    canvas = np.pad(rgb, ((dy, 100 - 64 - dy), (dx, 150 - 64 - dx), (0, 0)), mode="edge")
    big_mask = np.pad(mask, ((dy, 100 - 64 - dy), (dx, 150 - 64 - dx)))
    small, large = predictor.predict(rgb, mask), predictor.predict(canvas, big_mask)
    assert canvas.shape == (100, 150, 3)
    assert np.allclose(large.uv, small.uv + [dx, dy], atol=0.05)
    assert np.allclose(large.viewpoint_probs, small.viewpoint_probs, atol=1e-3)


def test_checkpoint_round_trip_gives_identical_predictions(trained, meshes, render64, tmp_path):
    config, events, out = trained
    done = events[-1]
    predictor = load_predictor(done.best_checkpoint)
    doc = read_image_sidecar(done.best_checkpoint)
    assert doc["category"] == CATEGORY and tuple(doc["labels"]) == meshes.labels
    assert (doc["n_azimuth"], doc["n_elevation"], doc["input_size"]) == (24, 12, 32)
    assert doc["train_models"] == list(done.train_models) and len(doc["data_hash"]) == 64
    copy = save_image_checkpoint(tmp_path / "copy", predictor.network, predictor.spec,
                                 CATEGORY, predictor.labels, predictor.layout,
                                 margin=predictor.margin, render=doc["render"],
                                 config=doc["config"], data_hash=doc["data_hash"],
                                 epoch=doc["epoch"], metrics=doc["metrics"])
    again = load_predictor(copy)
    train, _ = meshes.split()
    views = render_views(train[:2], meshes.labels, 2, render64, seed=11)
    masks = [np.ones(v.shape[:2], bool) for v in views.rgb]
    for a, b in zip(predictor.predict_batch(list(views.rgb), masks),
                    again.predict_batch(list(views.rgb), masks), strict=True):
        assert np.array_equal(a.uv, b.uv) and np.array_equal(a.visibility, b.visibility)
        assert np.array_equal(a.viewpoint_probs, b.viewpoint_probs)
    # the best epoch's validation scores are reproduced from the files alone
    val = ViewSet.concatenate([render_views([m], meshes.labels, config.val_views_per_model,
                                            render64, config.seed, stream=1) for m in train])
    assert evaluate_views(predictor, val).pck == pytest.approx(done.best_val_pck, abs=1e-12)


def test_mismatched_or_broken_checkpoints_raise_one_clear_error(trained, meshes, tmp_path):
    _, _, out = trained
    for name in ("best.safetensors", "best.json"):
        shutil.copy(out / name, tmp_path / name)
    ckpt = tmp_path / "best.safetensors"
    with pytest.raises(ImageCheckpointError, match=r"best\.json.*'mug', not 'chair'"):
        load_predictor(ckpt, expect_category="chair")
    with pytest.raises(ImageCheckpointError, match=r"label 0 is"):
        load_predictor(ckpt, expect_labels=tuple(reversed(meshes.labels)))
    with pytest.raises(ImageCheckpointError, match=r"has \d+ labels, \d+ expected"):
        load_predictor(ckpt, expect_labels=meshes.labels[:-1])
    doc = json.loads((tmp_path / "best.json").read_text())
    grown = {**doc, "labels": [*doc["labels"], "extra"],
             "network": {**doc["network"], "n_points": len(doc["labels"]) + 1}}
    (tmp_path / "grown.json").write_text(json.dumps(grown))
    shutil.copy(ckpt, tmp_path / "grown.safetensors")
    with pytest.raises(ImageCheckpointError, match=r"grown\.safetensors: weights do not fit"):
        load_predictor(tmp_path / "grown.safetensors")
    (tmp_path / "other.json").write_text(json.dumps({**doc, "format": "something/9"}))
    with pytest.raises(ImageCheckpointError, match=r"other\.json: not a CorrStudio image"):
        load_predictor(tmp_path / "other.json")
    (tmp_path / "junk.json").write_text(json.dumps(doc))
    (tmp_path / "junk.safetensors").write_bytes(b"\x00junk" * 10)
    with pytest.raises(ImageCheckpointError, match=r"junk\.safetensors: corrupt"):
        load_predictor(tmp_path / "junk.safetensors")
    (tmp_path / "half.json").write_text(json.dumps(doc)[:40])
    with pytest.raises(ImageCheckpointError, match=r"half\.json: not a readable"):
        load_predictor(tmp_path / "half")
    with pytest.raises(ImageCheckpointError, match=r"nothing\.json"):
        load_predictor(tmp_path / "nothing.safetensors")
    (tmp_path / "noweights.json").write_text(json.dumps(doc))
    with pytest.raises(ImageCheckpointError, match=r"noweights\.safetensors"):
        load_predictor(tmp_path / "noweights.json")


def test_cancel_stops_training_and_nan_loss_is_reported(meshes, render64, tmp_path,
                                                       monkeypatch):
    config = ImageTrainConfig(epochs=50, views_per_model=4, render=render64, **SMALL)
    cancel = CancelToken()
    events = []
    for event in train_image_networks(meshes, config, tmp_path / "c", cancel):
        events.append(event)
        if isinstance(event, ImageStepEvent):
            cancel.cancel()
    assert isinstance(events[-1], ImageTrainingDone) and events[-1].cancelled
    assert sum(isinstance(e, ImageStepEvent) for e in events) == 1
    assert not any(isinstance(e, ImageEpochEvent) for e in events)

    import core.learned2d.networks as networks

    monkeypatch.setattr(networks, "heatmap_loss", lambda *a, **k: torch.tensor(float("nan")))
    with pytest.raises(TrainingDiverged, match=r"epoch 0, step 0"):
        for _ in train_image_networks(meshes, config, tmp_path / "d"):
            pass
    with pytest.raises(ValueError, match="input_size"):
        next(train_image_networks(meshes, ImageTrainConfig(input_size=40), tmp_path / "e"))


def test_crop_box_jitter_moves_and_scales_the_crop():
    base = crop_box((10.0, 20.0, 50.0, 40.0))
    moved = crop_box((10.0, 20.0, 50.0, 40.0), jitter=np.array([0.1, -0.1, math.log(1.5)]))
    assert moved.side == pytest.approx(1.5 * base.side)
    assert moved.x0 + moved.side / 2 == pytest.approx(30.0 + 0.1 * base.side)
    assert moved.y0 + moved.side / 2 == pytest.approx(30.0 - 0.1 * base.side)
