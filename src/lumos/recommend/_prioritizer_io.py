"""Saving and loading an Account Prioritizer: a folder of files that cannot run code.

``prioritizer.json`` (settings, products, feature names), ``models/`` (one
XGBoost JSON model each), ``designs/`` (the drafted insights designs, which a
user may edit before loading) and ``report.csv`` (the validation figures).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
import yaml

from lumos.errors import DataValidationError, LumosUserError
from lumos.explain import InsightsDesign, SuggestedDesign
from lumos.features import WindowFeatures
from lumos.models import PropensityModel
from lumos.recommend._prioritizer_features import default_firmographics, default_usage

FORMAT = 1  # version of the saved folder's layout


def save_prioritizer(prioritizer, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a fitted prioritizer's models, designs and settings into ``folder``, atomically."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise LumosUserError(
            f"{folder} is not empty; pass overwrite=True to replace it.", code="exists"
        )
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        (tmp / "models").mkdir(parents=True)
        for name, model in prioritizer.models_.items():
            model.booster_.save_model(tmp / "models" / f"{_file(name)}.json")
        for name, design in prioritizer._drafts.items():
            design.write(tmp / "designs" / _file(name))
        prioritizer.report_.to_csv(tmp / "report.csv")
        settings = {
            "format": FORMAT,
            "as_of": str(prioritizer.as_of_.date()),
            "products": prioritizer.products_,
            "params": {k: v for k, v in prioritizer.get_params().items() if "features" not in k},
            "usage_features": _spec_json(prioritizer.usage_features or default_usage()),
            "firmographic_features": _spec_json(
                prioritizer.firmographic_features or default_firmographics()
            ),
            "models": {
                n: {"features": prioritizer.feature_names_[n], "objective": m.objective}
                for n, m in prioritizer.models_.items()
            },
            "firmographic_names": sorted(prioritizer._firmo_names),
            "rate_metrics": prioritizer.rate_metrics_,
            "purchases": prioritizer.uses_purchases_,
            "skipped": prioritizer.skipped_,
        }
        (tmp / "prioritizer.json").write_text(json.dumps(settings, indent=1))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_prioritizer(cls, folder: str | os.PathLike):
    """An instance of ``cls`` read from a folder :func:`save_prioritizer` wrote."""
    folder = Path(folder)
    path = folder / "prioritizer.json"
    try:
        settings = json.loads(path.read_text())
        if settings.get("format") != FORMAT:
            raise ValueError(f"format {settings.get('format')!r}, expected {FORMAT}")
    except (OSError, ValueError) as exc:
        raise DataValidationError(
            f"{path} is not a saved AccountPrioritizer ({exc}); train one with "
            "`lumos propensity train`.",
            code="bad_model",
            file=str(path),
        ) from None
    prioritizer = cls(
        usage_features=WindowFeatures(**settings["usage_features"]),
        firmographic_features=WindowFeatures(**settings["firmographic_features"]),
        **settings["params"],
    )
    prioritizer.as_of_ = pd.Timestamp(settings["as_of"])
    prioritizer.products_ = settings["products"]
    prioritizer.skipped_ = settings["skipped"]
    prioritizer._firmo_names = set(settings["firmographic_names"])
    prioritizer.rate_metrics_ = settings["rate_metrics"]
    prioritizer.uses_purchases_ = bool(settings.get("purchases", False))  # older folders: none
    prioritizer.models_, prioritizer.designs_ = {}, {}
    prioritizer.feature_names_, prioritizer._drafts = {}, {}
    for name, info in settings["models"].items():
        model = PropensityModel(objective=info["objective"], tolerance=prioritizer.tolerance)
        model.booster_ = xgb.Booster(model_file=str(folder / "models" / f"{_file(name)}.json"))
        model.feature_names_in_ = np.asarray(info["features"], dtype=object)
        prioritizer.models_[name], prioritizer.feature_names_[name] = model, info["features"]
        if name != "all_in":
            where = folder / "designs" / _file(name)
            prioritizer.designs_[name] = InsightsDesign.load(where)
            prioritizer._drafts[name] = SuggestedDesign(
                pd.read_csv(where / "features.csv", keep_default_na=False),
                pd.read_csv(where / "insights.csv", keep_default_na=False),
                yaml.safe_load((where / "templates.yaml").read_text()),
            )
    prioritizer.report_ = pd.read_csv(folder / "report.csv", index_col=0)
    return prioritizer


def insights_design(design: SuggestedDesign) -> InsightsDesign:
    """An InsightsDesign from a SuggestedDesign, through a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return InsightsDesign.load(design.write(Path(tmp) / "design"))


def _file(name: str) -> str:
    return name.replace(":", "-")


def _spec_json(spec: WindowFeatures) -> dict:
    out = dataclasses.asdict(spec)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
