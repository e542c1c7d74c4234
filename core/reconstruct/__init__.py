"""Single-image reconstruction and the 2D-3D-2D keypoint cycle.

Modules: :mod:`~core.reconstruct.pipeline` (image + mask -> shape, camera and projected
semantic points, streamed), :mod:`~core.reconstruct.cycle` (keypoints from one image to
another through the two reconstructions, and their PCK), :mod:`~core.reconstruct.resources`
(a project's shape space and image predictor), :mod:`~core.reconstruct.export` (the files a
reconstruction is written to), :mod:`~core.reconstruct.cameras`,
:mod:`~core.reconstruct.scoring`, :mod:`~core.reconstruct.inputs`,
:mod:`~core.reconstruct.errors`. Headless: numpy, torch, pytorch3d; no Qt.
"""

from core.reconstruct.errors import ReconstructionError

__all__ = ["ReconstructionError"]
