"""CorrStudio engine: geometry, demo data, storage and (later) learning.

This package never imports Qt, VTK or the ``ui``/``app`` packages, so it runs
headless, from the CLI and in tests. Heavy dependencies (torch, pytorch3d) are
imported lazily inside the functions that need them.
"""

__version__ = "0.1.0"
