"""Camera pose and shape estimation from images, silhouettes and 2D-3D correspondences.

Modules (import them directly; this package imports nothing so each stays light):

- :mod:`core.pose.ttp`: the To-The-Point solver (weak-perspective pose + deformation
  coefficients by alternation, TTP Sec. 3.2): ``solve_ttp``, the streaming ``ttp_steps``.
- :mod:`core.pose.viewpoint`: viewpoint initialisation by silhouette IoU over 24 azimuth x 12
  elevation bins.
- :mod:`core.pose.refine`: camera refinement against a mask, streamed step by step (pytorch3d
  soft silhouette, Eq. 1 of the 2D-3D-2D paper, or the CPU-fast points objective).
- :mod:`core.pose.projection`: 3D semantic points + camera -> 2D positions and visibility.
- :mod:`core.pose.pck`: PCK@alpha normalised by the image, the object box, the keypoint box.
- :mod:`core.pose.category_template`: the mesh and semantic points a category is posed with.
- :mod:`core.pose.pipeline`: the whole image -> camera -> projected keypoints run.
"""
