"""Learned 2D stages of single-image reconstruction, trained on synthetic renders.

Per semantic point a heatmap and a visibility, and a viewpoint classifier over 24 azimuth x
12 elevation bins (the 2D-3D-2D paper's KL loss, circular in azimuth). The prediction
contract the reconstruction consumes is in :mod:`core.learned2d.prediction`.
Headless: numpy, torch; no Qt.

Modules:

- :mod:`core.learned2d.split`: the train / held-out split of a category's models.
- :mod:`core.learned2d.data`: meshes and semantic points from the store, renders with
  ground truth, the mask-box crop shared by training and inference.
- :mod:`core.learned2d.networks`: the CNN (heatmaps, visibility, viewpoint) and its losses.
- :mod:`core.learned2d.trainer`: :func:`~core.learned2d.trainer.train_image_networks`, a
  generator of progress events with a cancel token.
- :mod:`core.learned2d.checkpoint`: safetensors + JSON sidecar; ``load_predictor``.
- :mod:`core.learned2d.predictor`: the trained model as an ``ImagePredictor``.
- :mod:`core.learned2d.layout_baseline`: the mean 2D layout per viewpoint bin (no 3D).
- :mod:`core.learned2d.metrics`: PCK@0.1 and viewpoint accuracy on rendered views.
"""
