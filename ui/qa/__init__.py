"""Annotation assistance and review in the main window (issue 5).

- :mod:`ui.qa.suggestions`: where the current set's point most likely lies on the shown
  model (a ghost marker and a similarity heatmap); Enter accepts it, Ctrl+Shift+Enter
  accepts every missing point of the annotator on the model as one undo step;
- :mod:`ui.qa.review_panel`: the review queue (far and swap checks, open flags; reviewers
  flag and resolve);
- :mod:`ui.qa.agreement_panel`: inter-annotator agreement per landmark;
- :mod:`ui.qa.checkpoints`: which embedding checkpoint a category's suggestions use;
- :mod:`ui.qa.install`: :func:`install_qa` puts all of it on a main window.

The heavy work (embeddings, geodesic distances) runs off the GUI thread.
"""

from ui.qa.install import QaUi, install_qa

__all__ = ["QaUi", "install_qa"]
