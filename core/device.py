"""The one place that chooses the compute device (CUDA when present, else CPU)."""

from __future__ import annotations


def pick_device(name: str = "auto"):
    """``"auto"`` -> CUDA when available, else CPU; ``"cpu"``/``"cuda"``/``"cuda:1"`` as given.

    Raises:
        ValueError: CUDA requested but not available (says so, rather than failing later).
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {name!r} requested but CUDA is not available on this machine")
    return device
