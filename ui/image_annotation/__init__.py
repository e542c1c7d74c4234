"""2D keypoint annotation on project images, in the Image dock.

- :mod:`ui.image_annotation.records`: the drawn point and one edit's before/after;
- :mod:`ui.image_annotation.lookups`: store reads/writes (worker-thread safe) and the undo
  reverter;
- :mod:`ui.image_annotation.controller`: place, move, state, delete, committed through
  pending edits with undo steps on the project's undo stack;
- :mod:`ui.image_annotation.markers`: the drawn points over the image view (drag, click,
  right-click);
- :mod:`ui.image_annotation.legend`: the caption listing absent points;
- :mod:`ui.image_annotation.image_list`: the category's project images;
- :mod:`ui.image_annotation.install`: menus, shortcuts and :func:`install_image_annotation`.
"""

from ui.image_annotation.install import ImageAnnotationUi, install_image_annotation

__all__ = ["ImageAnnotationUi", "install_image_annotation"]
