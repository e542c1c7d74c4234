"""Learned 2D stages of single-image reconstruction, trained on synthetic renders.

Per semantic point a heatmap and a visibility, and a viewpoint classifier over 24 azimuth x
12 elevation bins (the 2D-3D-2D paper's KL loss, circular in azimuth). The prediction
contract the reconstruction consumes is in :mod:`core.learned2d.prediction`.
Headless: numpy, torch; no Qt.
"""
