"""The one error type of single-image reconstruction."""

from __future__ import annotations


class ReconstructionError(ValueError):
    """Input a reconstruction cannot use, or a resource it cannot find or trust.

    The message names the problem: an empty mask, a mask touching every image border, a
    mask of another size than the image (both sizes), NaN or inf in the image or mask, an
    image predictor made for another category or other semantic points, too few annotated
    models for a shape space (how many there are and how many are needed).
    """
