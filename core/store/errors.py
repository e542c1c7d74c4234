"""Errors raised by the project store. Messages name the file or URL at fault."""


class ProjectError(RuntimeError):
    """A project could not be opened, created or read (message names the file and problem)."""


class StoreUnavailable(ProjectError):
    """The database stayed locked or unreachable; nothing was written."""


class PermissionDenied(ProjectError):
    """The acting annotator's role does not allow this change (message says why)."""


class ConflictError(ProjectError):
    """The edited row changed since it was read (optimistic concurrency): reload, retry.

    Attributes:
        current: the row's current state (a ``KeypointState``) or None when deleted.
    """

    def __init__(self, message: str, current=None) -> None:
        super().__init__(message)
        self.current = current


class NotFound(ProjectError, KeyError):
    """A named or numbered item does not exist in the project."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
