"""Evaluation of single-image reconstruction on held-out synthetic renders: per stage,
with stages replaced by ground truth, beside 2D baselines, and the 2D-3D-2D cycle
(:mod:`core.image_eval.evaluate`; the data in :mod:`core.image_eval.data`)."""
