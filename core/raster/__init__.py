"""Rasterization of projected meshes: silhouettes (hard and soft) and point visibility.

Two paths behind one interface (:mod:`core.raster.interface`):

- a CPU-fast path for what must stay interactive without a GPU: hard masks by filling the
  projected triangles (:mod:`core.raster.fast_mask`), visibility by ray casting;
- pytorch3d: the exact soft silhouette of the papers (default on CUDA).

All functions take vertices already projected to pixels (see :mod:`core.cameras` for the pixel
convention), so they work for perspective and weak-perspective cameras alike.
"""
