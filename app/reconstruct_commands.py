"""``corrstudio reconstruct`` and ``corrstudio evaluate-images`` (filled in by issue 7)."""

from __future__ import annotations


def add_parsers(sub) -> None:
    """Register the subcommands; each sets ``run`` (args -> exit code) as a default."""
