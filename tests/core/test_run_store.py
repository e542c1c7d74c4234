"""Saved runs in the project database (core.store.run_store), on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from core.store import ProjectStore
from core.store.errors import NotFound, ProjectError
from core.store.native_bundle import import_native, read_native, write_native
from core.store.run_store import (
    decode_steps,
    delete_run,
    encode_steps,
    list_runs,
    load_run,
    rename_run,
    save_run,
)


@pytest.fixture
def project(db_target):
    store = ProjectStore.create(db_target)
    store.add_category("mug")
    store.add_category("chair")
    yield store
    store.close()


def _steps(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"stage": "refine" if i else "viewpoint", "step": i, "loss": float(1.0 / (i + 1)),
             "iou": None if i == 0 else 0.5 + 0.01 * i, "camera": {"azimuth": 10.0 * i},
             "uv": rng.normal(size=(5, 2)), "visible": rng.random(5) > 0.5,
             "mask": rng.random((8, 6)) > 0.5} for i in range(n)]


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], np.ndarray):
                np.testing.assert_array_equal(x[key], y[key])
                assert x[key].dtype == y[key].dtype
            else:
                assert x[key] == y[key], key


def test_a_run_round_trips_with_every_field(project):
    steps = _steps(12)
    info = save_run(project, "mug", "pose", "first try", steps,
                    params={"steps": 60, "objective": "fast"}, summary={"iou": 0.91},
                    source="synthetic:mug_001:seed=3")
    assert info.n_steps == 12 and info.kind == "pose" and info.category == "mug"
    assert info.params == {"steps": 60, "objective": "fast"} and info.summary == {"iou": 0.91}
    loaded = load_run(project, info.id)
    assert loaded.info == info
    _same(loaded.steps, steps)


def test_listing_filters_and_orders_newest_first(project):
    a = save_run(project, "mug", "pose", "a", _steps(2))
    b = save_run(project, "mug", "reconstruction", "b", _steps(3))
    c = save_run(project, "chair", "pose", "c", _steps(1))
    assert [r.id for r in list_runs(project)] == [c.id, b.id, a.id]
    assert [r.id for r in list_runs(project, category="mug")] == [b.id, a.id]
    assert [r.id for r in list_runs(project, kind="pose")] == [c.id, a.id]
    assert rename_run(project, a.id, "renamed").name == "renamed"
    delete_run(project, b.id)
    assert [r.id for r in list_runs(project, category="mug")] == [a.id]
    with pytest.raises(NotFound):
        load_run(project, b.id)
    with pytest.raises(NotFound):
        delete_run(project, b.id)


def test_bad_runs_are_refused_and_change_nothing(project):
    with pytest.raises(NotFound, match="no-such"):
        save_run(project, "no-such", "pose", "x", _steps(1))
    with pytest.raises(ValueError, match="dtype"):
        save_run(project, "mug", "pose", "x", [{"names": np.array(["a", "b"])}])
    with pytest.raises(ValueError, match="JSON"):
        save_run(project, "mug", "pose", "x", [{"loss": float("nan")}])
    with pytest.raises(ValueError, match="'/'"):
        save_run(project, "mug", "pose", "x", [{"a/b": 1}])
    with pytest.raises(ValueError, match="name"):
        save_run(project, "mug", "pose", "  ", _steps(1))
    with pytest.raises(NotFound, match="image 99"):
        save_run(project, "mug", "pose", "x", _steps(1), image_id=99)
    assert list_runs(project) == []


def test_a_damaged_archive_names_the_run():
    data = bytearray(encode_steps(_steps(3)))
    _same(decode_steps(bytes(data)), _steps(3))
    data[len(data) // 2:len(data) // 2 + 40] = b"\0" * 40
    with pytest.raises(ProjectError, match="saved run 7"):
        decode_steps(bytes(data), "saved run 7")


def test_saved_runs_travel_in_native_bundles(project, tmp_path):
    info = save_run(project, "mug", "pose", "kept", _steps(4))
    bundle = tmp_path / "project.json"
    write_native(project, bundle)
    other = ProjectStore.create(tmp_path / "copy.corrstudio")
    try:
        import_native(other, read_native(bundle))
        [copy] = list_runs(other)
        assert copy.name == "kept" and copy.n_steps == 4
        _same(load_run(other, copy.id).steps, load_run(project, info.id).steps)
    finally:
        other.close()
