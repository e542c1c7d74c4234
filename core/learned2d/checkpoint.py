"""Checkpoints of the image networks: safetensors weights and a JSON sidecar.

A checkpoint named ``P`` (``.../best.safetensors``) is two files, each written atomically::

    best.safetensors   network weights ("net.*") and the layout baseline ("layout.*")
    best.json          {"format", "category", "labels", "n_azimuth", "n_elevation",
                        "elevation_range", "input_size", "heatmap_size", "margin", "network",
                        "render", "config", "data_hash", "epoch", "metrics", "train_models"}

Loading never unpickles anything. Every problem (missing or corrupt file, another format,
category or label list, weights that do not fit) raises :class:`ImageCheckpointError`,
whose message names the file and the mismatch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from core.learned2d.data import ELEVATION_RANGE
from core.learned2d.layout_baseline import LayoutBaseline
from core.learned2d.networks import NetworkSpec

FORMAT = "corrstudio-image-nets-checkpoint/1"


class ImageCheckpointError(ValueError):
    """An image-network checkpoint is missing, corrupt or does not fit (names the file)."""


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, sidecar) paths of a checkpoint given with or without a suffix."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def save_image_checkpoint(path: str | Path, network, spec: NetworkSpec, category: str,
                          labels: Sequence[str], layout: LayoutBaseline | None, *,
                          margin: float, render: dict, config: dict, data_hash: str,
                          epoch: int, metrics: dict,
                          train_models: Sequence[str] = ()) -> Path:
    """Write weights (+ layout) and the sidecar; returns the weights path."""
    from safetensors.torch import save_file

    weights, sidecar = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.detach().cpu().contiguous()
               for k, v in network.state_dict().items()}
    if layout is not None:
        tensors.update(layout.to_tensors())
    _atomic(weights, lambda tmp: save_file(tensors, str(tmp)))
    doc = {"format": FORMAT, "category": category, "labels": list(labels),
           "n_azimuth": spec.n_azimuth, "n_elevation": spec.n_elevation,
           "elevation_range": list(ELEVATION_RANGE), "input_size": spec.input_size,
           "heatmap_size": spec.heatmap_size, "margin": margin, "network": asdict(spec),
           "render": render, "config": config, "data_hash": data_hash, "epoch": epoch,
           "metrics": metrics, "train_models": list(train_models)}
    _atomic(sidecar, lambda tmp: tmp.write_text(json.dumps(doc, indent=1, sort_keys=True)))
    return weights


def read_image_sidecar(path: str | Path) -> dict:
    """The checkpoint's sidecar. Raises :class:`ImageCheckpointError` naming the file."""
    _, sidecar = checkpoint_paths(path)
    try:
        doc = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImageCheckpointError(f"image-network checkpoint sidecar not found: "
                                   f"{sidecar}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageCheckpointError(f"{sidecar}: not a readable checkpoint sidecar "
                                   f"({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise ImageCheckpointError(f"{sidecar}: not a CorrStudio image-network checkpoint "
                                   f"(format {found!r}, expected {FORMAT!r})")
    missing = [k for k in ("category", "labels", "network", "margin") if k not in doc]
    if missing:
        raise ImageCheckpointError(f"{sidecar}: sidecar lacks {', '.join(missing)}")
    return doc


def load_predictor(path: str | Path, expect_category: str | None = None,
                   expect_labels: Sequence[str] | None = None, device=None):
    """The :class:`~core.learned2d.predictor.ImageNetPredictor` of a checkpoint.

    Args:
        path: ``X.safetensors``, ``X.json`` or ``X``.
        expect_category: refuse a checkpoint of another category.
        expect_labels: refuse a checkpoint with other semantic point labels (order counts).
        device: torch device (default: the CPU).

    Raises:
        ImageCheckpointError: missing/corrupt files, a mismatch, or weights that do not fit.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from core.learned2d.networks import ImageNet2D
    from core.learned2d.predictor import ImageNetPredictor

    weights, sidecar = checkpoint_paths(path)
    doc = read_image_sidecar(path)
    if expect_category is not None and doc["category"] != expect_category:
        raise ImageCheckpointError(f"{sidecar}: trained for category {doc['category']!r}, "
                                   f"not {expect_category!r}")
    labels = tuple(str(x) for x in doc["labels"])
    if expect_labels is not None and labels != tuple(expect_labels):
        raise ImageCheckpointError(f"{sidecar}: semantic points differ: "
                                   f"{_label_diff(labels, tuple(expect_labels))}")
    try:
        spec = NetworkSpec(**doc["network"])
    except TypeError as exc:
        raise ImageCheckpointError(f"{sidecar}: bad network description ({exc})") from exc
    if spec.n_points != len(labels):
        raise ImageCheckpointError(f"{sidecar}: {len(labels)} labels but a network of "
                                   f"{spec.n_points} points")
    try:
        tensors = load_file(str(weights))
    except FileNotFoundError as exc:
        raise ImageCheckpointError(f"image-network weights not found: {weights}") from exc
    except (SafetensorError, OSError, ValueError) as exc:
        raise ImageCheckpointError(f"{weights}: corrupt checkpoint ({exc})") from exc
    try:
        network = ImageNet2D(spec)
        network.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    except (RuntimeError, ValueError) as exc:
        raise ImageCheckpointError(f"{weights}: weights do not fit the network in "
                                   f"{sidecar.name} ({str(exc).splitlines()[0]})") from exc
    layout = None
    if any(k.startswith("layout.") for k in tensors):
        try:
            layout = LayoutBaseline.from_tensors(tensors)
        except (KeyError, ValueError) as exc:
            raise ImageCheckpointError(f"{weights}: bad layout baseline ({exc})") from exc
        if layout.n_points != spec.n_points:
            raise ImageCheckpointError(f"{weights}: layout baseline of {layout.n_points} "
                                       f"points, network of {spec.n_points}")
    return ImageNetPredictor(network, doc["category"], labels, spec, float(doc["margin"]),
                             layout, device=device or "cpu")


def _label_diff(found: tuple[str, ...], expected: tuple[str, ...]) -> str:
    if len(found) != len(expected):
        return f"the checkpoint has {len(found)} labels, {len(expected)} expected"
    i = next(i for i, (a, b) in enumerate(zip(found, expected, strict=True)) if a != b)
    return f"label {i} is {found[i]!r} in the checkpoint, {expected[i]!r} expected"


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
