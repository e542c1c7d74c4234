"""Failure-browser rows and the reports they come from (no Qt).

A row is one image under one variant, scored at its *final* stage (``refine``, else the last
stage that ran): PCK@0.1 box- and image-normalised, mask IoU and rotation error (degrees);
a score the report left out (``null`` in JSON: no visible ground-truth point) is NaN.

:func:`load_report` reads the JSON that ``corrstudio evaluate-images --json`` writes
(:meth:`core.image_eval.evaluate.EvalReport.to_dict` plus ``held_out`` and ``predictor``) and
checks its shape; anything else is a :class:`ReportError` that names the file.
:class:`RenderSettings` says how the report's views were rendered, so that one can be
rendered again (:func:`core.image_eval.views.render_eval_view`): the report's own
``settings`` when it has them (the browser's evaluations write them), else the command's
defaults (128 px, seed 0) and the number of views per model found in the report.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.image_eval.evaluate import STAGES

DEFAULT_IMAGE_SIZE = 128  # evaluate-images --size default
DEFAULT_SEED = 0  # evaluate-images --seed default
DEFAULT_STEPS = 40  # evaluate-images --steps default
SCORE_KEYS = ("pck_image", "pck_box", "iou", "rotation_error")


class ReportError(ValueError):
    """A file that is not an evaluation report (missing, not JSON, wrong shape)."""


@dataclass(frozen=True)
class FailureRow:
    """One image under one variant, scored at ``stage`` (its final stage)."""

    index: int
    model: str
    variant: str
    stage: str
    pck_box: float
    pck_image: float
    iou: float
    rotation_error: float
    azimuth: float
    elevation: float
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[int, str]:
        """(view index, variant): unique within a report."""
        return self.index, self.variant


@dataclass(frozen=True)
class RenderSettings:
    """How a report's views were rendered (see the module docstring)."""

    image_size: int = DEFAULT_IMAGE_SIZE
    seed: int = DEFAULT_SEED
    views_per_model: int | None = None


@dataclass(frozen=True)
class FailureReport:
    """A report's category, rows, render settings, refinement steps and objective; ``path``
    the file it was read from (None: evaluated in the browser)."""

    category: str
    rows: tuple[FailureRow, ...]
    render: RenderSettings = field(default_factory=RenderSettings)
    steps: int = DEFAULT_STEPS
    path: Path | None = None
    objective: str = "auto"

    @property
    def variants(self) -> list[str]:
        """The variants of the rows, in first-seen order."""
        return list(dict.fromkeys(r.variant for r in self.rows))


FAILED = "failed"  # the stage of a row whose reconstruction failed (no scores)


def final_stage(stages: dict) -> str | None:
    """``refine`` if it ran, else the last of :data:`~core.image_eval.evaluate.STAGES` that
    did (None: none)."""
    ran = [s for s in STAGES if s in stages]
    return ran[-1] if ran else None


def _num(value) -> float:
    return math.nan if value is None else float(value)


def rows_of_result(result) -> list[FailureRow]:
    """The rows of one :class:`~core.image_eval.evaluate.ImageResult` (one per variant that
    has a stage)."""
    rows = []
    for variant, stages in result.stages.items():
        stage = final_stage(stages)
        s = stages[stage] if stage is not None else None
        rows.append(FailureRow(int(result.index), str(result.model), variant,
                               stage or FAILED, *_scores(asdict(s) if s is not None else None),
                               float(result.azimuth), float(result.elevation),
                               tuple(result.notes)))
    return rows


def _scores(score: dict | None) -> tuple[float, float, float, float]:
    """PCK box, PCK image, IoU, rotation error of a stage's score (NaN: none, e.g. a
    reconstruction that failed)."""
    if score is None:
        return (math.nan,) * 4
    return (_num(score["pck_box"]), _num(score["pck_image"]), _num(score["iou"]),
            _num(score["rotation_error"]))


def _fail(path: Path, why: str) -> ReportError:
    return ReportError(f"{path}: not an evaluate-images report ({why})")


def _is_number(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def rows_of_document(doc, path: Path) -> list[FailureRow]:
    """The rows of a report's JSON document (checked: :class:`ReportError` naming
    ``path`` and what is wrong)."""
    if not isinstance(doc, dict):
        raise _fail(path, "the top level is not an object")
    images = doc.get("images")
    if not isinstance(images, list):
        raise _fail(path, "no 'images' list")
    rows = []
    for k, image in enumerate(images):
        where = f"images[{k}]"
        if not isinstance(image, dict):
            raise _fail(path, f"{where} is not an object")
        for name, ok in (("index", lambda v: isinstance(v, int) and not isinstance(v, bool)),
                         ("model", lambda v: isinstance(v, str)),
                         ("azimuth", lambda v: _is_number(v) and v is not None),
                         ("elevation", lambda v: _is_number(v) and v is not None),
                         ("stages", lambda v: isinstance(v, dict))):
            if not ok(image.get(name)):
                raise _fail(path, f"{where} has no valid {name!r}")
        for variant, stages in image["stages"].items():
            if not isinstance(stages, dict):
                raise _fail(path, f"{where}.stages.{variant} is not an object")
            for stage, score in stages.items():
                if not isinstance(score, dict) or not all(
                        key in score and _is_number(score[key]) for key in SCORE_KEYS):
                    raise _fail(path, f"{where}.stages.{variant}.{stage} lacks "
                                      f"{', '.join(SCORE_KEYS)}")
            stage = final_stage(stages)
            notes = image.get("notes") if isinstance(image.get("notes"), list) else []
            rows.append(FailureRow(image["index"], image["model"], str(variant),
                                   stage or FAILED,
                                   *_scores(stages[stage] if stage is not None else None),
                                   float(image["azimuth"]), float(image["elevation"]),
                                   tuple(str(n) for n in notes)))
    return rows


def render_settings(doc: dict, rows: list[FailureRow]) -> RenderSettings:
    """The report's render settings (see the module docstring)."""
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}

    def integer(name: str, default):
        value = settings.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else default

    per_model = Counter(r.model for r in {(r.index, r.model): r for r in rows}.values())
    seed = settings.get("seed")
    return RenderSettings(
        integer("image_size", DEFAULT_IMAGE_SIZE),
        seed if isinstance(seed, int) and not isinstance(seed, bool) else DEFAULT_SEED,
        integer("views_per_model", max(per_model.values()) if per_model else None))


def load_report(path: str | Path) -> FailureReport:
    """Read an ``evaluate-images --json`` file (see the module docstring).

    Raises:
        ReportError: a missing or unreadable file, not JSON, or not a report (the message
            names the file).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read it ({exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from exc
    rows = rows_of_document(doc, path)
    category = doc.get("category")
    if not isinstance(category, str) or not category:
        raise _fail(path, "no 'category'")
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    steps = settings.get("steps")
    steps = steps if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0 \
        else DEFAULT_STEPS
    objective = settings.get("objective")
    objective = objective if objective in ("auto", "fast", "soft") else "auto"
    return FailureReport(category, tuple(rows), render_settings(doc, rows), steps, path,
                         objective)
