"""Batch plumbing shared by the camera dataclasses: index, detach, move."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Self

import torch


class TensorFields:
    """Mixin for frozen dataclasses whose tensor fields share a leading batch dimension."""

    def index(self, i: int) -> Self:
        """Camera ``i`` of the batch, as a batch of one."""
        return self._map(lambda x: x[i:i + 1])

    def detach(self) -> Self:
        return self._map(lambda x: x.detach())

    def to(self, device=None, dtype: torch.dtype | None = None) -> Self:
        return self._map(lambda x: x.to(device=device, dtype=dtype))

    def _map(self, fn) -> Self:
        return replace(self, **{f.name: fn(getattr(self, f.name)) for f in fields(self)
                                if isinstance(getattr(self, f.name), torch.Tensor)})

    def non_finite_field(self) -> str | None:
        """Name of the first tensor field holding NaN or inf, else None."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor) and not bool(torch.isfinite(value).all()):
                return f.name
        return None
