"""Checkpoints that are safe to load: weights in safetensors, trainer state loadable with
``torch.load(weights_only=True)``, and a JSON sidecar (config, data hash, metrics).

A checkpoint named ``P`` (``.../best.safetensors``) is three files::

    best.safetensors   model weights
    best.json          {"format", "backbone", "out_dim", "config", "data_hash", "epoch", "metrics"}
    best.state.pt      optimizer / scheduler / epoch / RNG state (resuming only)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

FORMAT = "corrstudio-embedding-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or does not fit (message names the file)."""


def checkpoint_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """(weights, sidecar, state) paths for a checkpoint path with or without suffix."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    if base.suffix == ".state":
        base = base.with_suffix("")
    return (base.with_suffix(".safetensors"), base.with_suffix(".json"),
            base.with_suffix(".state.pt"))


def save_checkpoint(path: str | Path, model, config, data_hash: str, epoch: int,
                    metrics: dict, trainer_state: dict | None = None) -> Path:
    """Write weights, sidecar and (optionally) trainer state atomically; returns the
    weights path."""
    import torch
    from safetensors.torch import save_file

    weights, sidecar, state = checkpoint_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic(weights, lambda tmp: save_file(tensors, str(tmp)))
    doc = {"format": FORMAT, "backbone": config.backbone, "out_dim": config.out_dim,
           "config": asdict(config), "data_hash": data_hash, "epoch": epoch,
           "metrics": metrics}
    _atomic(sidecar, lambda tmp: tmp.write_text(json.dumps(doc, indent=1, sort_keys=True)))
    if trainer_state is not None:
        _atomic(state, lambda tmp: torch.save(trainer_state, tmp))
    return weights


def read_sidecar(path: str | Path) -> dict:
    """The checkpoint's JSON sidecar. Raises CheckpointError naming the file."""
    _, sidecar, _ = checkpoint_paths(path)
    try:
        doc = json.loads(sidecar.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"Checkpoint sidecar not found: {sidecar}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{sidecar}: not a readable checkpoint sidecar ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{sidecar}: not a CorrStudio embedding checkpoint")
    return doc


def load_model(path: str | Path, expect_backbone: str | None = None, device=None):
    """Build the backbone named in the sidecar and load its weights.

    Raises:
        CheckpointError: missing/corrupt files, or a backbone other than ``expect_backbone``,
            or weights that do not fit the backbone.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from core.embedding.backbones import build_backbone

    weights, _, _ = checkpoint_paths(path)
    doc = read_sidecar(path)
    if expect_backbone is not None and doc["backbone"] != expect_backbone:
        raise CheckpointError(f"{weights}: a {doc['backbone']} checkpoint, not "
                              f"{expect_backbone}")
    try:
        tensors = load_file(str(weights))
    except FileNotFoundError as exc:
        raise CheckpointError(f"Checkpoint weights not found: {weights}") from exc
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt checkpoint ({exc})") from exc
    try:
        kwargs = dict(doc.get("config", {}).get("backbone_kwargs") or {})
        model = build_backbone(doc["backbone"], out_dim=int(doc["out_dim"]), **kwargs)
        model.load_state_dict(tensors)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{weights}: weights do not fit a {doc['backbone']} "
                              f"backbone ({str(exc).splitlines()[0]})") from exc
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, doc


def load_trainer_state(path: str | Path) -> dict:
    """Optimizer/scheduler/epoch state for resuming (``weights_only=True``)."""
    import torch

    _, _, state = checkpoint_paths(path)
    try:
        return torch.load(state, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"Trainer state not found: {state} (cannot resume)") from exc
    except Exception as exc:  # pickle/zip errors of a corrupt file
        raise CheckpointError(f"{state}: corrupt trainer state ({exc})") from exc


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
