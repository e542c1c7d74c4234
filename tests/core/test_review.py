"""Review on the demo project: swap flags find the injected left/right swaps, far flags
are compared, the queue ranks and records flags for reviewers, and the agreement table
groups annotators' sets by landmark with a small spread."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

from core.annotation.agreement import agreement_table
from core.annotation.demo_truth import load_demo_truth
from core.annotation.far_flags import far_flags_from_scores, far_scores
from core.annotation.landmark_groups import group_sets
from core.annotation.review import (
    ReviewQueue,
    category_symmetry_plane,
    far_from_suggestion_flags,
    reason_text,
    swap_flags,
)
from core.annotation.scoring import flag_recall_precision
from core.annotation.suggestions import SuggestionEngine
from core.annotation.surface_distances import SurfacePoints, paired_geodesics
from core.annotation.symmetry import X_PLANE, Z_PLANE, mirror_pairs
from core.store import PermissionDenied, ProjectStore
from core.store.edits import KeypointEditor
from core.store.records import PLACED
from core.store.schema import Role

CATEGORIES = ("airplane", "mug", "chair")


@pytest.fixture(scope="module")
def store(demo_project):
    with ProjectStore.open(demo_project) as s:
        yield s


@pytest.fixture(scope="module")
def engines(store):
    return {c: SuggestionEngine(store, c) for c in CATEGORIES}


@pytest.fixture(scope="module")
def airplane_far_scores(engines):
    return far_scores(engines["airplane"])


@pytest.fixture(scope="module")
def airplane_far(engines, airplane_far_scores):
    return far_flags_from_scores(engines["airplane"].sets, airplane_far_scores)


def test_symmetry_plane_and_mirror_pairs(engines, demo_project):
    expected = {"airplane": X_PLANE, "mug": Z_PLANE, "chair": X_PLANE}
    for category, engine in engines.items():
        plane = category_symmetry_plane(engine)
        assert plane == expected[category], category
        truth = load_demo_truth(demo_project, category)
        sets = engine.sets
        landmark = {int(s): truth.landmark_of(a, int(n)) for s, a, n in
                    zip(sets.set_ids, sets.set_annotators, sets.set_numbers, strict=True)}
        pairs = mirror_pairs(sets, plane)
        assert len(pairs) >= 5
        assert all(truth.mirror.get(landmark[a]) == landmark[b] for a, b in pairs), category


def test_swap_flags_find_the_injected_swaps(engines, demo_project):
    found = injected = hits_in_top = top_total = 0
    for category, engine in engines.items():
        truth = load_demo_truth(demo_project, category)
        flags = swap_flags(engine)
        n_top = 2 * len(truth.swaps)
        score = flag_recall_precision(flags, truth, n_top)
        print(f"\n{category}: {len(flags)} swap flags; top {n_top}: found {score.n_found} of "
              f"{score.n_injected} injected, precision {score.precision:.2f}")
        assert score.recall >= 0.5 and score.precision > 0.5, category
        assert all(f.kind == "swap" and f.score >= 0.05 for f in flags)
        found += score.n_found
        injected += score.n_injected
        top = flags[:n_top]
        top_total += len(top)
        hits_in_top += sum((f.model_name, f.annotator, f.number) in truth.swap_keys()
                           for f in top)
    print(f"all: found {found} of {injected}, precision {hits_in_top / top_total:.2f}")
    assert injected == 10 and found >= 5 and hits_in_top / top_total > 0.5


def test_far_flags_for_comparison(engines, demo_project, airplane_far, airplane_far_scores):
    truth = load_demo_truth(demo_project, "airplane")
    n_top = 2 * len(truth.swaps)
    with_consensus = flag_recall_precision(airplane_far, truth, n_top)
    plain = far_flags_from_scores(engines["airplane"].sets, airplane_far_scores,
                                  consensus=False)
    suggestion_only = flag_recall_precision(plain, truth, n_top)
    print(f"\nairplane far flags, top {n_top}: with consensus found "
          f"{with_consensus.n_found}/{with_consensus.n_injected} precision "
          f"{with_consensus.precision:.2f} ({len(airplane_far)} flags); suggestion only "
          f"found {suggestion_only.n_found}/{suggestion_only.n_injected} precision "
          f"{suggestion_only.precision:.2f} ({len(plain)} flags)")
    assert with_consensus.recall >= 0.5 and with_consensus.precision > 0.5
    assert all(f.kind == "far" for f in plain)
    assert [f.score for f in plain] == sorted((f.score for f in plain), reverse=True)
    # the one-call API gives the same flags on one model
    model = airplane_far[0].model_id
    again = far_from_suggestion_flags(engines["airplane"], model_ids=[model])
    assert [(f.keypoint_id, f.score) for f in again] == \
        [(f.keypoint_id, f.score) for f in airplane_far if f.model_id == model]


def test_review_queue_ranks_and_records_flags(engines, demo_project, airplane_far, tmp_path):
    truth = load_demo_truth(demo_project, "airplane")
    swaps = swap_flags(engines["airplane"])
    queue = ReviewQueue(swaps + airplane_far)
    scores = [f.score for f in queue]
    assert scores == sorted(scores, reverse=True) and len(queue) == len(swaps) + len(airplane_far)
    merged = ReviewQueue(swaps + airplane_far, one_per_point=True)
    assert len({f.keypoint_id for f in merged}) == len(merged)
    assert flag_recall_precision(merged, truth, 2 * len(truth.swaps)).recall >= 0.5
    assert {f.kind for f in queue} <= {"far", "swap"}

    folder = tmp_path / "demo"
    shutil.copytree(demo_project.parent, folder)
    with ProjectStore.open(folder / demo_project.name) as copy:
        copy.ensure_annotator("reviewer", Role.reviewer)
        reviewer = KeypointEditor(copy, "reviewer")
        ids = merged.submit(reviewer, top=4)
        assert len(ids) == 4
        open_flags = reviewer.open_flags()
        assert [kp for _, kp, _ in open_flags] == [f.keypoint_id for f in merged.top(4)]
        assert open_flags[0][2] == reason_text(merged[0])
        assert merged.submit(reviewer, top=4) == []  # already open: not flagged twice
        reviewer.resolve_flag(ids[0])
        assert len(reviewer.open_flags()) == 3
        other = next(f for f in merged if f.annotator != "annotator_00")
        annotator = KeypointEditor(copy, "annotator_00")
        with pytest.raises(PermissionDenied):
            ReviewQueue([other]).submit(annotator)


def test_agreement_groups_landmarks_with_small_spread(store, demo_project):
    category = "mug"  # close landmarks (bottom centre inside and out) and thin fan triangles
    truth = load_demo_truth(demo_project, category)
    sets = store.category_sets(category)
    groups = group_sets(sets)
    majority, members = 0, 0
    where: dict[str, set[int]] = {}
    for g in groups:
        names = [truth.landmark_of(a, int(lbl.split(":")[1]))
                 for a, lbl in zip(g.annotators, g.labels, strict=True)]
        majority += Counter(names).most_common(1)[0][1]
        members += len(names)
        for n in names:
            where.setdefault(n, set()).add(g.index)
    assert members == len(sets.set_ids)
    assert majority / members >= 0.9
    assert sum(len(v) == 1 for v in where.values()) >= 0.9 * len(where)

    rows = agreement_table(store, category, groups=groups)
    swapped = {(s.annotator, s.number) for s in truth.swaps}
    clean = [r for r in rows if r.n_pairs and not any(
        (a, int(lbl.split(":")[1])) in swapped
        for a, lbl in zip(r.annotators, r.labels, strict=True))]
    print("\n" + "\n".join(f"{r.name:28s} {len(r.labels)} sets {r.n_models:2d} models "
                           f"mean {r.mean_spread:.4f} max {r.max_spread:.3f}" for r in rows))
    assert len(clean) >= 10
    assert all(r.mean_spread < 0.05 for r in clean)
    assert max(r.max_spread for r in rows if r not in clean) > 0.1  # a swap shows up


def test_geodesics_between_close_points_on_thin_triangles(store, engines):
    """Two annotators' clicks on the mug's flat bottom (a fan of long thin triangles):
    the heat method alone overestimates; the near-field correction gives the chord."""
    sets = store.category_sets("mug")
    engine = engines["mug"]
    group = next(g for g in group_sets(sets) if g.name == "bottom_center")
    i = 0
    cols = [c for c in group.columns if sets.state[i, c] == PLACED][:2]
    surf = engine.surface(int(sets.model_ids[i]))
    a = SurfacePoints.of(sets.faces[i, cols[:1]], sets.bary[i, cols[:1]], sets.xyz[i, cols[:1]])
    b = SurfacePoints.of(sets.faces[i, cols[1:]], sets.bary[i, cols[1:]], sets.xyz[i, cols[1:]])
    chord = float(np.linalg.norm(a.xyz - b.xyz))
    assert paired_geodesics(surf, a, b)[0] == pytest.approx(chord, rel=1e-9)
