"""The deterministic train / held-out split of a category's models for the image stages.

The shape space, the image networks and ``evaluate-images`` all use it, so held-out models
are never seen in training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HOLDOUT_FRACTION = 0.25


def split_models(names: Sequence[str], holdout: float = HOLDOUT_FRACTION,
                 seed: int = 0) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split model names into (train, held_out), each in the given order.

    A model's side depends only on its name and ``seed`` (a hash), so adding models never
    moves the others; at least one model lands on each side when there are two or more.
    """
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    names = list(dict.fromkeys(names))
    if len(names) < 2 or holdout == 0.0:
        return tuple(names), ()
    n_out = min(len(names) - 1, max(1, round(holdout * len(names))))
    ranked = sorted(names, key=lambda n: hashlib.sha1(f"{seed}:{n}".encode()).hexdigest())
    out = set(ranked[:n_out])
    return (tuple(n for n in names if n not in out), tuple(n for n in names if n in out))
