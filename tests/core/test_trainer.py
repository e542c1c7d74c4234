"""Training on the demo categories: it learns (mGE well under random), streams events,
cancels, resumes, writes safe checkpoints, stops on divergence, and runs under torchrun."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from core.embedding.checkpoint import CheckpointError, load_model, read_sidecar
from core.embedding.dataset import load_category_data
from core.embedding.evaluation import RANDOM, evaluate_category
from core.embedding.trainer import (
    CancelToken,
    EpochEvent,
    StepEvent,
    TrainConfig,
    TrainingDiverged,
    TrainingDone,
    train,
)
from core.store import ProjectStore
from tests.conftest import REPO

N_POINTS = 512
FAST = TrainConfig(backbone="pointnet", epochs=2, seed=0)


@pytest.fixture(scope="module")
def category_data(demo_project, tmp_path_factory):
    cache = tmp_path_factory.mktemp("geo-cache")
    out = {}
    with ProjectStore.open(demo_project) as store:
        for name in ("airplane", "mug", "chair"):
            out[name] = load_category_data(store, name, n_points=N_POINTS, cache_dir=cache)
    return out


def _run(data, config, out_dir, **kw):
    return list(train(data, config, out_dir, **kw))


@pytest.mark.slow
@pytest.mark.parametrize("category", ["airplane", "mug", "chair"])
def test_pointnet_reaches_half_the_random_mge(category_data, category, tmp_path):
    data = category_data[category]
    config = dataclasses.replace(FAST, epochs=12)
    events = _run(data, config, tmp_path)
    done = events[-1]
    assert isinstance(done, TrainingDone) and not done.cancelled
    table = evaluate_category(data, done.best_checkpoint, baselines=True, device="cpu")
    trained, random = table["pointnet"]["mge"], table[RANDOM]["mge"]
    assert trained <= 0.5 * random, table
    assert table["pointnet"]["n_sets"] > 10


def test_events_stream_and_checkpoints(category_data, tmp_path):
    data = category_data["mug"]
    events = _run(data, FAST, tmp_path)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [0, 1]
    assert steps and steps[-1].global_step == len(steps)
    assert all(np.isfinite(e.loss) and e.loss >= 0 for e in steps)
    assert epochs[0].preview_embedding.shape == (N_POINTS, 128)
    assert epochs[0].preview_points.shape == (N_POINTS, 3)
    assert 0 <= epochs[-1].val_mge < 1
    sidecar = read_sidecar(tmp_path / "last.safetensors")
    assert sidecar["backbone"] == "pointnet" and sidecar["epoch"] == 1
    assert sidecar["config"]["batch_size"] == 4 and len(sidecar["data_hash"]) == 64
    model, _ = load_model(tmp_path / "best.safetensors", expect_backbone="pointnet")
    assert sum(p.numel() for p in model.parameters()) > 100_000


def test_cancel_stops_between_steps(category_data, tmp_path):
    token = CancelToken()
    seen = []
    for event in train(category_data["mug"], dataclasses.replace(FAST, epochs=5), tmp_path,
                       cancel=token):
        seen.append(event)
        if isinstance(event, StepEvent) and event.global_step == 3:
            token.cancel()
    assert isinstance(seen[-1], TrainingDone) and seen[-1].cancelled
    assert sum(isinstance(e, StepEvent) for e in seen) == 3


def test_resume_continues_from_the_last_epoch(category_data, tmp_path):
    data = category_data["mug"]
    _run(data, FAST, tmp_path)
    more = _run(data, dataclasses.replace(FAST, epochs=4), tmp_path, resume=True)
    assert [e.epoch for e in more if isinstance(e, EpochEvent)] == [2, 3]
    assert read_sidecar(tmp_path / "last")["epoch"] == 3
    with pytest.raises(CheckpointError, match="other data"):
        _run(category_data["chair"], dataclasses.replace(FAST, epochs=5), tmp_path,
             resume=True)
    with pytest.raises(CheckpointError, match="not dgcnn"):
        _run(data, dataclasses.replace(FAST, backbone="dgcnn", epochs=5), tmp_path,
             resume=True)


def test_bad_checkpoints_are_named(category_data, tmp_path):
    _run(category_data["mug"], dataclasses.replace(FAST, epochs=1), tmp_path)
    weights = tmp_path / "last.safetensors"
    with pytest.raises(CheckpointError, match="a pointnet checkpoint, not dgcnn"):
        load_model(weights, expect_backbone="dgcnn")
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="last.safetensors.*corrupt"):
        load_model(weights)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nothing.safetensors")


def test_divergence_stops_training(category_data, tmp_path):
    data = category_data["mug"]
    broken = dataclasses.replace(data.samples[0],
                                 points=np.full_like(data.samples[0].points, np.nan))
    data = dataclasses.replace(data, samples=(broken,) * len(data.samples))
    with pytest.raises(TrainingDiverged, match="epoch 0"):
        _run(data, FAST, tmp_path)


@pytest.mark.slow
def test_two_process_ddp_trains_and_ranks_agree(demo_project, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "CORRSTUDIO_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", "-m", "app", "train", "--project", str(demo_project), "--category", "mug",
           "--points", "256", "--epochs", "2", "--device", "cpu", "--out", str(tmp_path / "o")]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d+) weights sha256 ([0-9a-f]{64})", out.stdout))
    assert set(digests) == {"0", "1"}, out.stdout
    assert digests["0"] == digests["1"]
    assert read_sidecar(tmp_path / "o" / "last")["epoch"] == 1
