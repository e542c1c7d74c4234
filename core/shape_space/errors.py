"""The one error type of the shape-space engine."""

from __future__ import annotations


class ShapeSpaceError(ValueError):
    """Input a shape space cannot be built from, or a shape-space file that cannot be used.

    The message names the category, model or file and the problem (too few annotated
    models, no semantic points, a missing or corrupt file, arrays that do not fit).
    """
