"""What the run comparison shows, without Qt: saved runs loaded for comparison, their final
numbers, and which step of each run the shared slider shows.

:func:`load_compared` reads the runs from the store and rebuilds their records, template
and source image (:func:`ui.pose.saved_runs.records_from_steps`); it runs off the GUI
thread and raises :class:`CompareError` naming the run that is missing or malformed.

The shared slider (:func:`shown_indices`): runs of the same length move step by step
together; otherwise the slider walks the longer run and the other shows the step at the
same fraction of its run (first with first, last with last).

Final numbers (:func:`run_numbers`): the steps kept; the final loss (the last finite loss:
the run's ``done`` step carries the chosen refinement's best loss); the final IoU (the last
step's) and the best IoU of any step; the rotation error (degrees, geodesic angle between
the last step's camera rotation and the true one) when the run's image has a true camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.pose.category_template import CategoryTemplate
from ui.pose.records import StepRecord
from ui.pose.saved_runs import records_from_steps
from ui.pose.sources import PoseSource

PARAM_ORDER = ("source", "arg", "seed", "k", "steps", "objective")
PARAM_LABELS = {"source": "source", "arg": "image", "seed": "view #", "k": "hypotheses",
                "steps": "steps", "objective": "objective"}


class CompareError(Exception):
    """A run that cannot be compared (the message says which and why)."""


@dataclass(frozen=True, eq=False)
class ComparedRun:
    """A saved run ready to show: its :class:`~core.store.run_store.RunInfo`, records,
    template and source image."""

    info: object  # RunInfo
    records: list[StepRecord]
    template: CategoryTemplate
    source: PoseSource

    @property
    def name(self) -> str:
        return str(self.info.name)

    @property
    def kind(self) -> str:
        return str(self.info.kind)

    @property
    def category(self) -> str:
        return str(self.info.category)

    @property
    def params(self) -> dict:
        return dict(self.info.params or {})


def load_compared(store, run_ids) -> list[ComparedRun]:
    """Worker thread: the runs ``run_ids``, in that order (see the module docstring)."""
    from core.store.errors import NotFound
    from core.store.run_store import load_run

    if store is None:
        raise CompareError("no project is open")
    runs = []
    for run_id in run_ids:
        try:
            data = load_run(store, int(run_id))
        except NotFound:
            raise CompareError(f"saved run {run_id} is not in the project (deleted?)") \
                from None
        except Exception as exc:
            raise CompareError(f"saved run {run_id} cannot be read: {exc}") from exc
        try:
            records, template, source = records_from_steps(data.steps, data.info.category)
        except Exception as exc:  # SavedRunError, and anything a broken archive raises
            raise CompareError(f"saved run {run_id} ({data.info.name!r}) cannot be shown: "
                               f"{exc}") from exc
        runs.append(ComparedRun(data.info, records, template, source))
    return runs


def params_text(params: dict) -> str:
    """The run's settings in one line ("source synthetic · view # 3 · hypotheses 1 …")."""
    keys = [k for k in PARAM_ORDER if params.get(k) is not None] + \
        sorted(k for k in params if k not in PARAM_ORDER and k != "kind"
               and params[k] is not None)
    return " · ".join(f"{PARAM_LABELS.get(k, k)} {params[k]}" for k in keys) or "no settings"


# ----------------------------------------------------------------- the slider
def slider_steps(lengths: list[int]) -> int:
    """How many positions the shared slider has (the longest run's steps)."""
    return max([int(n) for n in lengths] + [1])


def same_length(lengths: list[int]) -> bool:
    return len({int(n) for n in lengths}) <= 1


def shown_indices(lengths: list[int], position: int) -> list[int]:
    """The step of each run shown at slider ``position`` (see the module docstring)."""
    top = slider_steps(lengths) - 1
    position = min(max(int(position), 0), top)
    out = []
    for n in lengths:
        if n <= 0:
            out.append(-1)
        elif same_length(lengths) or top == 0:
            out.append(min(position, n - 1))
        else:
            out.append(int(math.floor(position / top * (n - 1) + 0.5)))
    return out


# ------------------------------------------------------------- final numbers
@dataclass(frozen=True)
class RunNumbers:
    """A run's final numbers (see the module docstring); NaN / None when unknown."""

    steps: int
    final_loss: float
    final_iou: float
    best_iou: float
    rotation_error: float | None  # degrees; None without a true camera


def rotation_error_deg(rotation: np.ndarray, truth: np.ndarray) -> float:
    """Geodesic angle (degrees) between two (3, 3) rotations."""
    rel = np.asarray(rotation, float).T @ np.asarray(truth, float)
    cos = (np.trace(rel) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def run_numbers(records: list[StepRecord], source: PoseSource | None) -> RunNumbers:
    """The final numbers of ``records`` (a run on ``source``)."""
    if not records:
        return RunNumbers(0, math.nan, math.nan, math.nan, None)
    losses = [r.loss for r in records if math.isfinite(r.loss)]
    ious = [r.iou for r in records if math.isfinite(r.iou)]
    truth = None if source is None or source.truth is None else source.truth.geometry
    rot = None if truth is None else rotation_error_deg(records[-1].geometry.rotation,
                                                        truth.rotation)
    return RunNumbers(len(records), losses[-1] if losses else math.nan, records[-1].iou,
                      max(ious) if ious else math.nan, rot)
