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
- :mod:`ui.pose.link_state`: what the linked views share (shown step, hovered / selected
  semantic point, picked surface point); :mod:`ui.pose.linking`: pointer events of both
  views -> that state (ray casting an image click onto the posed mesh);
  :mod:`ui.pose.scene_pick`: hover and click in the 3D view; :mod:`ui.pose.link_marks`: the
  rings, halos and probe markers each view draws for that state;
- :mod:`ui.pose.export`: the PNG figure of both views and the run's PNG sequence / GIF;
  :mod:`ui.pose.export_actions`: the panel's Export figure… / Export run… actions;
- :mod:`ui.pose.recon_prepare` / :mod:`ui.pose.recon_records`: reconstruction runs (shape
  space and predictor loaded in the worker; events -> records carrying the step's shape);
- :mod:`ui.pose.saved_runs`: records <-> plain steps for the project's run store;
  :mod:`ui.pose.run_library`: the Save run… / Runs… actions (save, replay, delete);
- :mod:`ui.pose.pose_view`: the panel wiring them; :mod:`ui.pose.pose_dock`: the dock and
  its Run menu.
"""
