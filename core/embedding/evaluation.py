"""mGE tables: a trained checkpoint beside the random and xyz baselines, computed in
the same run on the same test models (shaped like CorresPondenceNet's Table 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.embedding.types import CategoryData

RANDOM, XYZ = "Random", "XYZ"


def evaluate_category(data: CategoryData, checkpoint: str | Path | None = None,
                      baselines: bool = True, device: str = "auto") -> dict:
    """mGE of each method on the category's test split.

    Returns ``{method: {"mge", "n_sets", "n_test_models", "n_unreachable"}}``; the trained
    method is named after its backbone. The split comes from the checkpoint's config (so
    evaluation never sees training models), seed 0 without a checkpoint.
    """
    from core.embedding.dataset import split_models
    from core.embedding.metrics import mean_geodesic_error, random_embeddings, xyz_embeddings

    split_seed, model, name = 0, None, None
    if checkpoint is not None:
        from core.device import pick_device
        from core.embedding.checkpoint import load_model

        model, doc = load_model(checkpoint, device=pick_device(device))
        split_seed = int(doc["config"].get("split_seed", 0))
        name = doc["backbone"]
    _, _, test_idx = split_models(len(data.samples), split_seed)
    test = [data.samples[i] for i in test_idx]
    keypoints = np.stack([s.keypoints for s in test])
    geodesics = [s.geodesics for s in test]
    methods = {}
    if model is not None:
        from core.embedding.trainer import embed

        methods[name] = embed(model, test)
    if baselines:
        methods[RANDOM] = random_embeddings(test, dim=128, seed=0)
        methods[XYZ] = xyz_embeddings(test)
    out = {}
    for method, embeddings in methods.items():
        result = mean_geodesic_error(embeddings, keypoints, geodesics)
        out[method] = {"mge": float(result.mge), "n_sets": int(result.n_sets_used),
                       "n_test_models": len(test),
                       "n_unreachable": int(getattr(result, "n_unreachable", 0))}
    return out


def format_table(results: dict[str, dict]) -> str:
    """Rows = methods, columns = categories + Average (mGE, lower is better)."""
    categories = list(results)
    methods = []
    for per_cat in results.values():
        methods += [m for m in per_cat if m not in methods]
    header = ["mGE"] + categories + ["Average"]
    lines = [header]
    for method in methods:
        values = [results[c].get(method, {}).get("mge") for c in categories]
        known = [v for v in values if v is not None and np.isfinite(v)]
        avg = sum(known) / len(known) if known else float("nan")
        lines.append([method] + [f"{v:.3f}" if v is not None else "-" for v in values]
                     + [f"{avg:.3f}"])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     for row in lines)
