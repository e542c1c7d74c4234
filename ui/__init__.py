"""CorrStudio's Qt widgets (PySide6, pyvistaqt). Talks to ``core`` only through
its public functions and plain records; never imported by ``core``."""
