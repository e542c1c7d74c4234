"""Annotation edits on SQLite and PostgreSQL: permissions, conflicts, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from core.store import ProjectStore
from core.store.edits import KeypointEditor
from core.store.errors import ConflictError, NotFound, PermissionDenied

P1 = dict(face=2, bary=(0.2, 0.3, 0.5), xyz=(0.1, 0.2, 0.3))
P2 = dict(face=7, bary=(1.0, 0.0, 0.0), xyz=(0.4, 0.5, 0.6))


@pytest.fixture
def project(db_target):
    store = ProjectStore.create(db_target)
    cat = store.add_category("chair")
    ids = {name: store.add_annotator(name, role) for name, role in
           [("alice", "annotator"), ("bob", "annotator"), ("rita", "reviewer"),
            ("adam", "admin")]}
    m1, m2 = store.add_models(cat, [dict(name="m1"), dict(name="m2")])
    sets = store.add_sets(ids["alice"], cat, [(0, "seat"), (1, "leg")])
    yield store, cat, (m1, m2), sets, db_target
    store.close()


def _snapshot(store) -> list[tuple]:
    """Keypoint rows without the bookkeeping columns (version, timestamps)."""
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, model_id, set_id, state, face_index, w0, w1, w2, x, y, z, r, g, b, "
            "author_id FROM keypoint ORDER BY id")).all()
    return [tuple(r) for r in rows]


def test_place_move_absent_delete_with_versions(project):
    store, _cat, (m1, _m2), sets, _ = project
    alice = KeypointEditor(store, "alice")
    placed = alice.place(m1, sets[0], **P1)
    assert placed.before is None and placed.after.version == 1
    assert placed.after.xyz == P1["xyz"] and placed.after.face == 2
    with pytest.raises(ConflictError, match="already has a point"):
        alice.place(m1, sets[0], **P2)
    moved = alice.move(placed.after.id, 1, **P2)
    assert moved.after.version == 2 and moved.after.bary == (1.0, 0.0, 0.0)
    with pytest.raises(ConflictError, match="version 2"):
        alice.move(placed.after.id, 1, **P1)  # stale
    absent = alice.mark_absent(m1, sets[0], expected_version=2)
    assert absent.after.state == "absent" and absent.after.xyz is None
    assert len(store.keypoints_of_model(m1)) == 0
    gone = alice.delete(absent.after.id, absent.after.version)
    assert gone.after is None and _snapshot(store) == []


def test_bad_points_are_refused_before_writing(project):
    store, _cat, (m1, _m2), sets, _ = project
    alice = KeypointEditor(store, "alice")
    with pytest.raises(ValueError, match="barycentric"):
        alice.place(m1, sets[0], face=1, bary=(0.5, 0.6, 0.1), xyz=(0, 0, 0))
    with pytest.raises(ValueError, match="finite"):
        alice.place(m1, sets[0], face=1, bary=(1, 0, 0), xyz=(0, float("nan"), 0))
    with pytest.raises(NotFound):
        alice.place(999, sets[0], **P1)
    assert _snapshot(store) == []


def test_undo_redo_restores_exact_state(project):
    store, _cat, (m1, m2), sets, _ = project
    alice = KeypointEditor(store, "alice")
    history = [alice.place(m1, sets[0], **P1)]
    states = [_snapshot(store)]
    history.append(alice.move(history[0].after.id, 1, **P2))
    states.append(_snapshot(store))
    history.append(alice.mark_absent(m2, sets[1]))
    states.append(_snapshot(store))
    history.append(alice.delete(history[1].after.id, history[1].after.version))
    states.append(_snapshot(store))
    redo = []
    for i in range(len(history) - 1, -1, -1):  # undo everything
        redo.append(alice.revert(history[i]))
        assert _snapshot(store) == (states[i - 1] if i else [])
    for j, inverse in enumerate(reversed(redo)):  # redo everything
        alice.revert(inverse)
        assert _snapshot(store) == states[j]


def test_bulk_revert_is_one_step(project):
    store, _cat, (m1, m2), sets, _ = project
    alice = KeypointEditor(store, "alice")
    changes = [alice.place(m, s, **P1) for m in (m1, m2) for s in sets.values()]
    assert len(_snapshot(store)) == 4
    inverse = alice.revert_many(changes)
    assert _snapshot(store) == []
    alice.revert_many(inverse)
    assert len(_snapshot(store)) == 4


def test_undo_refuses_to_clobber_a_newer_edit(project):
    store, _cat, (m1, _m2), sets, _ = project
    alice = KeypointEditor(store, "alice")
    first = alice.place(m1, sets[0], **P1)
    alice.move(first.after.id, 1, **P2)
    with pytest.raises(ConflictError, match="changed since"):
        alice.revert(first)


def test_permissions(project):
    store, _cat, (m1, _m2), sets, _ = project
    alice, bob = KeypointEditor(store, "alice"), KeypointEditor(store, "bob")
    rita, adam = KeypointEditor(store, "rita"), KeypointEditor(store, "adam")
    kp = alice.place(m1, sets[0], **P1).after
    with pytest.raises(PermissionDenied, match="bob .annotator. cannot change set 0 of alice"):
        bob.move(kp.id, kp.version, **P2)
    with pytest.raises(PermissionDenied):
        bob.place(m1, sets[1], **P1)
    with pytest.raises(PermissionDenied):
        bob.rename_set(sets[0], "mine now")
    with pytest.raises(PermissionDenied):
        rita.move(kp.id, kp.version, **P2)  # reviewers flag, they do not move
    with pytest.raises(PermissionDenied):
        bob.flag(kp.id, "looks wrong")  # annotators flag only their own points
    flag_id = rita.flag(kp.id, "left/right swapped?")
    assert alice.open_flags() == [(flag_id, kp.id, "left/right swapped?")]
    with pytest.raises(PermissionDenied, match="only reviewers and admins"):
        alice.resolve_flag(flag_id)
    rita.resolve_flag(flag_id)
    assert alice.open_flags() == []
    moved = adam.move(kp.id, kp.version, **P2)  # admins change anything
    assert moved.after.author_id is not None and moved.after.version == 2
    assert alice.rename_set(sets[0], "seat front") == "seat"


def test_templates_are_per_annotator(project):
    store, cat, (m1, m2), _sets, _ = project
    alice, bob = KeypointEditor(store, "alice"), KeypointEditor(store, "bob")
    assert alice.set_template(cat, 1, m1) is None
    assert alice.set_template(cat, 1, m2) == m1
    bob.set_template(cat, 1, m1)
    assert alice.templates(cat) == {1: m2} and bob.templates(cat) == {1: m1}
    with pytest.raises(ValueError, match="1-6"):
        alice.set_template(cat, 7, m1)
    assert alice.clear_template(cat, 1) == m2 and alice.templates(cat) == {}


def test_two_sessions_editing_the_same_point_one_wins(project):
    store, _cat, (m1, _m2), sets, target = project
    kp = KeypointEditor(store, "alice").place(m1, sets[0], **P1).after
    with ProjectStore.open(target) as laptop, ProjectStore.open(target) as desktop:
        first = KeypointEditor(laptop, "alice")
        second = KeypointEditor(desktop, "alice")
        won = first.move(kp.id, kp.version, **P2)
        with pytest.raises(ConflictError) as lost:
            second.move(kp.id, kp.version, face=9, bary=(0, 1, 0), xyz=(1.0, 1.0, 1.0))
        assert lost.value.current.version == won.after.version == 2
    final = store.keypoints_of_model(m1)
    assert final.xyz.tolist() == [list(P2["xyz"])]


def test_unknown_annotator(project):
    store, *_ = project
    with pytest.raises(NotFound, match="No annotator 'zoe'"):
        KeypointEditor(store, "zoe")


def test_category_sets_arrays_and_progress(project):
    store, cat, (m1, m2), sets, _ = project
    alice = KeypointEditor(store, "alice")
    alice.place(m1, sets[0], **P1)
    alice.place(m2, sets[1], **P2)
    alice.mark_absent(m2, sets[0])
    bob_sets = store.add_sets(store.ensure_annotator("bob"), cat, [(5, None)])
    KeypointEditor(store, "bob").place(m1, bob_sets[5], **P2)
    cs = store.category_sets("chair")
    assert cs.model_names == ("m1", "m2")
    assert list(zip(cs.set_annotators, cs.set_numbers.tolist(), strict=True)) == [
        ("alice", 0), ("alice", 1), ("bob", 5)]
    assert cs.state.tolist() == [[1, 0, 1], [2, 1, 0]]
    assert cs.xyz[0, 0].tolist() == list(P1["xyz"]) and cs.faces[1, 1] == P2["face"]
    assert np.isnan(cs.xyz[1, 0]).all() and cs.faces[1, 0] == -1
    assert cs.bary[1, 1].tolist() == list(P2["bary"])
    assert cs.progress() == (3, 1, 2)
    assert cs.progress("alice") == (2, 1, 1)
    assert cs.set_names[:2] == ("seat", "leg")
