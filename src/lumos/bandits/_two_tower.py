"""A two-tower matching model learned from logged offer conversions.

Each member's features go through a member tower and each arm's (offer's)
features through an arm tower, two small ReLU networks
``Linear(d, hidden) → ReLU → Linear(hidden, dim)``, into one shared
``dim``-dimensional space. A member ``m`` and an arm ``a`` match by the dot
product of their embeddings, and the logged conversion is modelled as

    ``P(converted | m, a) = sigmoid(u(m) · v(a) + b)``

with ``b`` one learned scalar. Unlike a linear model on ``[member, arm]``
features, the dot product learns which members suit which arms — the crossed
effects a linear model cannot see without hand-made crosses — while scoring
stays cheap: embed ``n`` members and ``k`` arms once, then one ``(n, k)``
matrix product (or a nearest-neighbour index over the arm embeddings).

The towers are trained with PyTorch (Adam on binary cross-entropy, shuffled
mini-batches from a seeded ``torch.Generator``, so one seed gives one set of
weights); the learned weights are then kept as NumPy arrays, and scoring,
saving and loading need no PyTorch. PyTorch is an optional extra:
``pip install 'lumos[neural]'``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import expit

from lumos._checks import check_fitted, check_number, renamed, renamed_attribute
from lumos.bandits._neural import _torch
from lumos.bandits._persist import read_npz, write_npz
from lumos.errors import DataValidationError, LumosUserError

FORMAT, VERSION = "lumos.two_tower", 1
_LAYERS = ("w1", "b1", "w2", "b2")


def _features(values, name: str, width: int | None = None) -> np.ndarray:
    """``values`` as a finite float64 ``(rows, width)`` array, or an error naming ``name``."""
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise LumosUserError(
            f"{name} must be a 2-D array of numbers; got {type(values).__name__} that is not "
            "numeric. Encode categorical columns as numbers first.",
            code="bad_value",
        ) from None
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        want = "(rows, features)" if width is None else f"(rows, {width})"
        raise LumosUserError(
            f"{name} must be a non-empty 2-D array {want}; got shape {x.shape}.",
            code="bad_shape",
        )
    if width is not None and x.shape[1] != width:
        raise LumosUserError(
            f"{name} must have {width} columns, as in fit; got shape {x.shape}.",
            code="bad_shape",
        )
    if not np.isfinite(x).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise LumosUserError(
            f"{name} must be finite numbers; got {x[row, col]} at row {row}, column {col}. "
            "Fill or drop missing values.",
            code="bad_value",
        )
    return x


def _indices(values, name: str, n: int | None, rows: int, of: str) -> np.ndarray:
    """``values`` as ``int64`` row indices into ``of`` (``rows`` rows), or an error."""
    idx = np.asarray(values)
    if idx.ndim != 1 or (n is not None and len(idx) != n):
        want = "a 1-D array" if n is None else f"a 1-D array of length {n} (as members)"
        raise LumosUserError(
            f"{name} must be {want} of row indices into {of}; got shape {idx.shape}.",
            code="bad_shape",
        )
    if len(idx) == 0:
        raise LumosUserError(f"{name} is empty; fit needs logged rows.", code="bad_shape")
    if idx.dtype.kind not in "iu":
        raise LumosUserError(
            f"{name} must hold integer row indices into {of}; got dtype {idx.dtype}. "
            "Cast with .astype(int).",
            code="bad_value",
        )
    bad = (idx < 0) | (idx >= rows)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise LumosUserError(
            f"{name} must index rows 0..{rows - 1} of {of}; got {idx[at]} at position {at}.",
            code="bad_value",
        )
    return idx.astype(np.int64)


def _labels(values, n: int) -> np.ndarray:
    y = np.asarray(values)
    if y.shape != (n,):
        raise LumosUserError(
            f"converted must be a 1-D array of length {n} (one per logged row); got shape "
            f"{y.shape}.",
            code="bad_shape",
        )
    try:
        y = y.astype(float)
    except (TypeError, ValueError):
        raise LumosUserError(
            f"converted must hold 0 and 1 only; got dtype {y.dtype}.", code="non_binary_label"
        ) from None
    bad = (y != 0) & (y != 1)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise LumosUserError(
            f"converted must hold 0 and 1 only; got {y[at]} at row {at}.",
            code="non_binary_label",
        )
    return y


def _tower(weights: dict, x: np.ndarray) -> np.ndarray:
    hidden = np.maximum(x @ weights["w1"].T + weights["b1"], 0.0)
    return hidden @ weights["w2"].T + weights["b2"]


class TwoTower:
    """Two-tower matching model: member and arm embeddings whose dot product predicts conversion.

    ``P(converted) = sigmoid(u(member) · v(arm) + b)``, with each tower
    ``Linear(d, hidden) → ReLU → Linear(hidden, dim)``. Features should be on
    comparable scales (standardise them first).

    Parameters
    ----------
    dim : int, default=16
        Size of the shared embedding space.
    hidden : int, default=64
        Width of each tower's hidden layer.
    epochs : int, default=20
        Passes over the logged rows.
    batch_size : int, default=512
        Logged rows per Adam step.
    lr : float, default=0.01
        Adam's learning rate.
    weight_decay : float, default=1e-4
        Adam's L2 penalty on all weights.
    random_state : int, optional
        Seeds the initial weights and the mini-batch order: two fits with the
        same seed and data give identical weights (``seed`` is its older name).

    Attributes
    ----------
    member_tower_, arm_tower_ : dict of str to ndarray
        Each tower's weights ``w1``, ``b1``, ``w2``, ``b2`` (float64).
    bias_ : float
        The learned scalar ``b``.
    n_member_features_, n_arm_features_ : int
        Widths of the member and arm features seen in :meth:`fit`.
    loss_curve_ : ndarray
        Mean training cross-entropy of each epoch.

    Examples
    --------
    >>> members, arms = np.eye(2), np.eye(2)
    >>> logged_member, logged_arm = [0, 0, 1, 1] * 4, [0, 1, 0, 1] * 4
    >>> converted = [1, 0, 0, 1] * 4  # member 0 takes arm 0's offer, member 1 arm 1's
    >>> model = TwoTower(dim=2, hidden=8, epochs=40, batch_size=16, lr=0.05, random_state=0)
    >>> _ = model.fit(members, arms, logged_member, logged_arm, converted)
    >>> model.score(members, arms).argmax(axis=1)
    array([0, 1])
    >>> model.predict_proba(members, arms).shape
    (2, 2)
    """

    def __init__(
        self,
        dim: int = 16,
        hidden: int = 64,
        *,
        epochs: int = 20,
        batch_size: int = 512,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        random_state=None,
        seed=None,
    ):
        self.dim = dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = renamed(
            random_state, seed, old="seed", new="random_state", owner="TwoTower"
        )

    seed = renamed_attribute("random_state", "seed", "TwoTower")

    def _check_params(self) -> None:
        for name, low in (("dim", 1), ("hidden", 1), ("epochs", 1), ("batch_size", 1)):
            check_number("TwoTower", name, getattr(self, name), low=low, integer=True)
        check_number("TwoTower", "lr", self.lr, strict=True)
        check_number("TwoTower", "weight_decay", self.weight_decay)
        seed = self.random_state
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
        ):
            raise LumosUserError(
                f"The 'random_state' parameter of TwoTower must be None or an int >= 0; got "
                f"{seed!r}.",
                code="bad_argument",
            )

    # -- learning -------------------------------------------------------------------------------

    def fit(self, member_features, arm_features, members, arms, converted) -> TwoTower:
        """Learn both towers and the bias from logged (member, arm, converted) rows.

        Parameters
        ----------
        member_features : array-like of shape (n_members, d_member)
            One row of features per member.
        arm_features : array-like of shape (n_arms, d_arm)
            One row of features per arm.
        members, arms : array-like of int, shape (n,)
            Each logged row's member and arm, as row indices into the two tables.
        converted : array-like of shape (n,)
            1 where the member took the arm's offer, else 0.

        Returns
        -------
        TwoTower
            ``self``, fitted.
        """
        self._check_params()
        member_features = _features(member_features, "member_features")
        arm_features = _features(arm_features, "arm_features")
        members = _indices(members, "members", None, len(member_features), "member_features")
        arms = _indices(arms, "arms", len(members), len(arm_features), "arm_features")
        y = _labels(converted, len(members))

        torch = _torch("TwoTower.fit")
        seed = self.random_state
        if seed is None:
            seed = int(np.random.default_rng().integers(2**63))
        init_seed, batch_seed = np.random.SeedSequence(int(seed)).generate_state(2, np.uint64)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init_seed))
            member_tower = self._new_tower(torch, member_features.shape[1])
            arm_tower = self._new_tower(torch, arm_features.shape[1])
        bias = torch.nn.Parameter(torch.zeros(()))
        params = [*member_tower.parameters(), *arm_tower.parameters(), bias]
        optimizer = torch.optim.Adam(params, lr=float(self.lr), weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(int(batch_seed))

        xm = torch.as_tensor(member_features, dtype=torch.float32)
        xa = torch.as_tensor(arm_features, dtype=torch.float32)
        im, ia = torch.from_numpy(members), torch.from_numpy(arms)
        target = torch.as_tensor(y, dtype=torch.float32)
        n, size = len(y), int(self.batch_size)
        losses = np.empty(int(self.epochs))
        for epoch in range(int(self.epochs)):
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for start in range(0, n, size):
                rows = order[start : start + size]
                u, v = member_tower(xm[im[rows]]), arm_tower(xa[ia[rows]])
                logit = (u * v).sum(dim=1) + bias
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, target[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
            losses[epoch] = total / n

        self.member_tower_ = self._weights(member_tower)
        self.arm_tower_ = self._weights(arm_tower)
        self.bias_ = float(bias.detach())
        self.n_member_features_ = member_features.shape[1]
        self.n_arm_features_ = arm_features.shape[1]
        self.loss_curve_ = losses
        return self

    def _new_tower(self, torch, width: int):
        return torch.nn.Sequential(
            torch.nn.Linear(width, int(self.hidden)),
            torch.nn.ReLU(),
            torch.nn.Linear(int(self.hidden), int(self.dim)),
        )

    @staticmethod
    def _weights(tower) -> dict:
        first, second = tower[0], tower[2]
        layers = (first.weight, first.bias, second.weight, second.bias)
        return {
            k: p.detach().numpy().astype(np.float64) for k, p in zip(_LAYERS, layers, strict=True)
        }

    # -- scoring --------------------------------------------------------------------------------

    def _fitted(self) -> None:
        check_fitted(self, "bias_", hint="call fit first (or TwoTower.load a saved one)")

    def member_embeddings(self, member_features) -> np.ndarray:
        """``(n, dim)`` float64: the member tower's embedding of each row."""
        self._fitted()
        x = _features(member_features, "member_features", self.n_member_features_)
        return _tower(self.member_tower_, x)

    def arm_embeddings(self, arm_features) -> np.ndarray:
        """``(k, dim)`` float64: the arm tower's embedding of each row."""
        self._fitted()
        x = _features(arm_features, "arm_features", self.n_arm_features_)
        return _tower(self.arm_tower_, x)

    def score(self, member_features, arm_features) -> np.ndarray:
        """``(n, k)`` match scores: every member embedding dotted with every arm's (no bias)."""
        return self.member_embeddings(member_features) @ self.arm_embeddings(arm_features).T

    def predict_proba(self, member_features, arm_features) -> np.ndarray:
        """``(n, k)``: each member's probability of converting on each arm."""
        return expit(self.score(member_features, arm_features) + self.bias_)

    # -- persistence ----------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write the fitted model to one ``.npz`` file at ``path``, atomically.

        The file holds the weights and a JSON header, and loads with
        ``allow_pickle=False``: it cannot run code.
        """
        self._fitted()
        path = Path(path)
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "params": {
                **{k: int(getattr(self, k)) for k in ("dim", "hidden", "epochs", "batch_size")},
                "lr": float(self.lr),
                "weight_decay": float(self.weight_decay),
            },
            "random_state": None if self.random_state is None else int(self.random_state),
            "bias": self.bias_,
            "n_member_features": self.n_member_features_,
            "n_arm_features": self.n_arm_features_,
        }
        arrays = {f"member/{k}": v for k, v in self.member_tower_.items()}
        arrays.update({f"arm/{k}": v for k, v in self.arm_tower_.items()})
        arrays["loss_curve"] = self.loss_curve_
        return write_npz(path, arrays, meta)

    @classmethod
    def load(cls, path) -> TwoTower:
        """Read a model written by :meth:`save`; scoring it needs no PyTorch."""
        arrays, meta = read_npz(
            path,
            what="two-tower model",
            fmt=FORMAT,
            version=VERSION,
            how="fit a TwoTower and save it",
        )
        try:
            seed = meta["random_state"] if "random_state" in meta else meta["seed"]  # older files
            model = cls(**meta["params"], random_state=seed)
            model.member_tower_ = {k: arrays[f"member/{k}"].astype(float) for k in _LAYERS}
            model.arm_tower_ = {k: arrays[f"arm/{k}"].astype(float) for k in _LAYERS}
            model.loss_curve_ = arrays["loss_curve"].astype(float)
            model.bias_ = float(meta["bias"])
            model.n_member_features_ = int(meta["n_member_features"])
            model.n_arm_features_ = int(meta["n_arm_features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataValidationError(
                f"{str(path)!r} is a damaged two-tower model (missing or bad {exc}); save it "
                "again with TwoTower.save.",
                code="unreadable_file",
                file=str(path),
            ) from None
        return model
