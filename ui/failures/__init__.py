"""The failure-case browser (issue 8): evaluated images with PCK, IoU and rotation error in
a sortable table; choosing one shows it in the Pose dock's linked views with its run.

- :mod:`ui.failures.report`: rows and ``evaluate-images --json`` reports (no Qt);
- :mod:`ui.failures.table_model`: the table model and its sorting / variant-filter proxy;
- :mod:`ui.failures.eval_job` / :mod:`ui.failures.eval_worker`: the browser's own
  evaluation of a category, off the GUI thread, keeping each image's run;
- :mod:`ui.failures.live_prepare` / :mod:`ui.failures.pose_link`: a chosen image in the Pose
  dock (its run replayed, or the image rendered again and reconstructed live);
- :mod:`ui.failures.failure_panel`, :mod:`ui.failures.failure_dock`: the panel, the dock
  and :func:`install_failure_browser`.
"""

from ui.failures.failure_dock import FailureDock, install_failure_browser

__all__ = ["FailureDock", "install_failure_browser"]
