"""Errors raised by the project store. Messages name the file or URL at fault."""


class ProjectError(RuntimeError):
    """A project could not be opened, created or read (message names the file and problem)."""
