"""``corrstudio train-image-nets``: the learned 2D stages from the command line."""

from __future__ import annotations


def add_parsers(sub) -> None:
    """Register the subcommands; each sets ``run`` (args -> exit code) as a default."""
