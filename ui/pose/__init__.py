"""Live pose runs: the Pose dock (source image, Run/Pause/Step/Stop, linked 2D/3D views,
loss plot, timeline). See :mod:`ui.pose.pose_dock`.

Modules, one job each:

- :mod:`ui.pose.records`: plain per-step records (numpy), made from the engine's events in
  the worker thread;
- :mod:`ui.pose.run_control`: pause / step / stop gate and the thread-safe run log;
- :mod:`ui.pose.run_worker`: the worker thread and the throttled ``step_ready`` signal;
- :mod:`ui.pose.sources`: the image to pose (synthetic demo view, project image, file);
- :mod:`ui.pose.overlay_2d`: mask, silhouette, points, ground truth and error lines drawn
  over an :class:`ui.image_view.ImageView`;
- :mod:`ui.pose.scene_3d`: template mesh, its points and the camera frustum with the image;
- :mod:`ui.pose.loss_plot`: loss and IoU against the timeline index (pyqtgraph);
- :mod:`ui.pose.timeline`: the slider that scrubs every kept step;
- :mod:`ui.pose.pose_view`: the panel wiring them; :mod:`ui.pose.pose_dock`: the dock and
  its Run menu.
"""
