"""CorrStudio application: entry points, CLI and the wiring of ``ui`` and ``core``."""
