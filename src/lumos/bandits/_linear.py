"""Linear policies over crossed member × arm features: LinTS and ε-greedy.

A decision scores every arm for every member in a batch. The features of a
(member, arm) pair are the outer product of the member's context ``m``
(``d_m``) and the arm's features ``a`` (``d_a``), flattened to
``d = d_m · d_a``, so ``x·θ = mᵀ Θ a`` with ``Θ`` the weights reshaped
``d_m × d_a``: scoring ``k`` arms for ``n`` members is one ``einsum`` and
never builds the ``n × k × d`` feature tensor.

By default (``fit_intercept=True``) the context gets a constant 1 in front,
so ``m = (1, context)`` and every arm feature has its own intercept — with
one-hot arms, every arm its own base rate. Without it, a context of zeros
scores every arm 0, and on centred features each arm's base rate must be
explained by features whose average is 0: the arms' argmax regions become
cones through the average member, which is how a ridge model without an
intercept loses to one with (on scikit-learn's iris, whose middle class sits
around the average, it nearly halves LinTS's regret). A caller whose
contexts already hold a constant column (``OfferModel``'s do) passes
``fit_intercept=False``.

Both keep a Bayesian linear regression (ridge) of the reward: precision
``A = λI + Σ x xᵀ``, ``b = Σ r x``, mean ``μ = A⁻¹ b``. LinTS draws
``θ ~ N(μ, ν² A⁻¹)`` per member and plays the best arm under its draw;
ε-greedy plays the best arm under ``μ`` with probability ``1 − ε`` and a
uniform arm otherwise. Each decision carries its propensity — the
probability the policy had of playing that arm — for off-policy evaluation:
exact for ε-greedy, a Monte Carlo estimate over ``n_propensity`` further
draws for LinTS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from lumos._checks import check_flag, check_number, renamed
from lumos.errors import LumosUserError

DEFAULT_NU = 0.25
"""The default exploration scale ν of every Thompson policy and of ``OfferSettings``.

Chosen on classification sets turned into Bernoulli bandits
(``benchmarks/_defaults_bandits.py``), none of them the offers benchmark's.
"""


DEFAULT_EPSILON = 0.05
"""The default exploration share of ``EpsilonGreedy`` and of ``OfferSettings``.

One uniform arm in twenty: on the classification sets of
``benchmarks/_defaults_bandits.py`` it gives ε-greedy less regret than one in
ten on every set (the uniform arm is wrong ``(k − 1)/k`` of the time, a cost
that never shrinks), while the greedy arm still learns from the rewards.
"""


def _with_intercept(contexts: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """``contexts`` with a constant 1 in front when ``fit_intercept``, else as they are."""
    if not fit_intercept:
        return contexts
    return np.hstack([np.ones((len(contexts), 1)), contexts])


@dataclass(frozen=True)
class Decision:
    """A batch of decisions: per member the arm played, its propensity, every arm's score."""

    arms: np.ndarray
    propensities: np.ndarray
    scores: np.ndarray


def _check(contexts, arm_features, d_m: int, d_a: int, mask=None):
    contexts = np.asarray(contexts, dtype=float)
    arm_features = np.asarray(arm_features, dtype=float)
    if contexts.ndim != 2 or contexts.shape[1] != d_m:
        raise LumosUserError(
            f"contexts must be (members, {d_m}); got shape {contexts.shape}.", code="bad_shape"
        )
    if arm_features.ndim != 2 or arm_features.shape[1] != d_a:
        raise LumosUserError(
            f"arm_features must be (arms, {d_a}); got shape {arm_features.shape}.",
            code="bad_shape",
        )
    if not (np.isfinite(contexts).all() and np.isfinite(arm_features).all()):
        raise LumosUserError(
            "contexts and arm_features must be finite numbers; fill or drop missing values.",
            code="bad_value",
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(contexts), len(arm_features)):
            raise LumosUserError(
                f"mask must be (members, arms) = {(len(contexts), len(arm_features))}; got "
                f"{mask.shape}.",
                code="bad_shape",
            )
        if not mask.any(axis=1).all():
            row = int(np.flatnonzero(~mask.any(axis=1))[0])
            raise LumosUserError(
                f"mask leaves member row {row} no arm; allow at least one (e.g. 'no offer').",
                code="bad_value",
            )
    return contexts, arm_features, mask


class LinearPolicy:
    """What LinTS and ε-greedy share: the ridge posterior and its updates.

    Parameters
    ----------
    d_member, d_arm : int
        Sizes of a member's context and of an arm's features.
    alpha : float or "auto", default=1.0
        The prior precision λ (ridge penalty). ``"auto"`` (LinTS's default) is
        the size of the context the model reads (``d_member``, plus 1 for the
        intercept); the number chosen is kept in ``alpha``.
    fit_intercept : bool, default=True
        Put a constant 1 in front of every context, so each arm feature (each
        arm, with one-hot arms) has its own intercept; pass ``False`` when the
        contexts already hold a constant column.
    random_state : int, optional
        Seeds every random draw: the same seed and inputs give the same decisions
        (``seed`` is its older name).
    """

    def __init__(
        self,
        d_member: int,
        d_arm: int,
        *,
        alpha: float | str = 1.0,
        fit_intercept: bool = True,
        random_state=None,
        seed=None,
    ):
        owner = type(self).__name__
        random_state = renamed(random_state, seed, old="seed", new="random_state", owner=owner)
        check_number(owner, "d_member", d_member, low=1, integer=True)
        check_number(owner, "d_arm", d_arm, low=1, integer=True)
        if isinstance(alpha, str) and alpha != "auto":
            raise LumosUserError(
                f"The 'alpha' parameter of {owner} must be a float > 0 or 'auto'. Got {alpha!r}.",
                code="bad_argument",
            )
        if not isinstance(alpha, str):
            check_number(owner, "alpha", alpha, strict=True)
        check_flag(owner, "fit_intercept", fit_intercept)
        self.d_member, self.d_arm = int(d_member), int(d_arm)
        self.fit_intercept = bool(fit_intercept)
        self._dm = self.d_member + self.fit_intercept  # the context the model reads
        self.d = self._dm * self.d_arm
        self.alpha = float(self._dm if alpha == "auto" else alpha)
        self.precision = self.alpha * np.eye(self.d)
        self.b = np.zeros(self.d)
        self.n_updates = 0
        self.rng = np.random.default_rng(random_state)
        self._solve()

    def _inputs(self, contexts, arm_features, mask=None):
        """Checked inputs, the contexts as the model reads them (with the intercept's 1)."""
        contexts, arm_features, mask = _check(
            contexts, arm_features, self.d_member, self.d_arm, mask
        )
        return _with_intercept(contexts, self.fit_intercept), arm_features, mask

    def _solve(self) -> None:
        # A = L Lᵀ, then A⁻¹ from L (LAPACK's potri): a third of the work of inverting L and
        # multiplying, which is most of an update when d = d_m · d_a is in the hundreds
        chol, info = lapack.dpotrf(self.precision, lower=True, clean=True)
        if info == 0:
            inverse, info = lapack.dpotri(chol, lower=True)
        if info != 0:
            raise LumosUserError(
                f"the posterior precision of {type(self).__name__} is not positive definite "
                "(contexts or rewards too large to hold in floats); rescale them.",
                code="bad_value",
            )
        inverse = np.tril(inverse) + np.tril(inverse, -1).T  # potri fills one triangle
        self.mean = inverse @ self.b
        self._chol, self._root = chol, None  # L⁻ᵀ, made when draws of θ first need it
        # A⁻¹ as (d_m, d_a · d_m · d_a): a member's slice of it is one product
        dm, da = self._dm, self.d_arm
        self._cov = inverse.reshape(dm, da * dm * da)
        # float32 for draws: reading A⁻¹ is most of a decision, and draws need no more
        self._cov32 = self._cov.astype(np.float32)

    def _scores(self, contexts, arm_features, weights) -> np.ndarray:
        """``(n, k)`` scores; ``weights`` is ``(d,)`` or one row per member ``(n, d)``."""
        w = weights.reshape(*weights.shape[:-1], self._dm, self.d_arm)
        if w.ndim == 2:
            return contexts @ w @ arm_features.T
        return np.einsum("nm,nma->na", contexts, w) @ arm_features.T

    def _member_cov(self, contexts: np.ndarray, *, single: bool = False) -> np.ndarray:
        """``(n, d_a, d_a)``: the covariance of ``Θᵀ m`` under ``A⁻¹``, for each member ``m``.

        ``single``: from the float32 copy of ``A⁻¹`` (for draws).
        """
        n, dm, da = len(contexts), self._dm, self.d_arm
        if single:
            half = (contexts.astype(np.float32) @ self._cov32).reshape(n, da, dm, da)
        else:
            half = (contexts @ self._cov).reshape(n, da, dm, da)
        return np.einsum("najb,nj->nab", half, contexts)

    def _draws(self, n: int, scale: float) -> np.ndarray:
        """``n`` draws of θ from ``N(μ, scale² A⁻¹)``: ``μ + scale · L⁻ᵀ z``."""
        if self._root is None:  # float32: draws need no more, and it halves their cost
            eye = np.eye(self.d)
            self._root = linalg.solve_triangular(self._chol, eye, lower=True).T.astype(np.float32)
        z = self.rng.standard_normal((self.d, n), dtype=np.float32)
        return (self.mean[:, None] + scale * (self._root @ z)).T

    def mean_and_variance(self, contexts, arm_features) -> tuple[np.ndarray, np.ndarray]:
        """``(n, k)`` posterior means ``x·μ`` and variances ``xᵀ A⁻¹ x`` of every pair.

        ``x = m ⊗ a``; LinTS draws a pair's score from ``N(x·μ, ν² xᵀ A⁻¹ x)``.
        """
        contexts, arm_features, _ = self._inputs(contexts, arm_features)
        mean = self._scores(contexts, arm_features, self.mean)
        cov = self._member_cov(contexts)
        var = np.einsum("ka,nab,kb->nk", arm_features, cov, arm_features)
        return mean, np.maximum(var, 0.0)

    def update(self, contexts, arm_features, arms, rewards) -> LinearPolicy:
        """Learn from rewards: member ``i`` played ``arm_features[arms[i]]``, got ``rewards[i]``."""
        contexts, arm_features, _ = self._inputs(contexts, arm_features)
        arms, rewards = _rewards(contexts, arm_features, arms, rewards)
        x = _crossed(contexts, arm_features, arms)
        self.precision += x.T @ x
        self.b += x.T @ rewards
        self.n_updates += len(arms)
        self._solve()
        return self

    def fit(self, contexts, arm_features, arms, rewards) -> LinearPolicy:
        """Start again from the prior and learn from all of these rewards: a full retrain."""
        self.precision = self.alpha * np.eye(self.d)
        self.b = np.zeros(self.d)
        self.n_updates = 0
        return self.update(contexts, arm_features, arms, rewards)


def _rewards(contexts, arm_features, arms, rewards) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``arms`` (ints indexing ``arm_features``) and ``rewards``, one per context."""
    arms = np.asarray(arms)
    rewards = np.asarray(rewards, dtype=float)
    if arms.shape != (len(contexts),) or rewards.shape != (len(contexts),):
        raise LumosUserError(
            f"arms and rewards must be ({len(contexts)},) like contexts; got {arms.shape} "
            f"and {rewards.shape}.",
            code="bad_shape",
        )
    if len(arms) and not np.issubdtype(arms.dtype, np.integer):
        raise LumosUserError(
            f"arms must be integer indices into arm_features; got dtype {arms.dtype}.",
            code="bad_value",
        )
    if len(arms) and (arms.min() < 0 or arms.max() >= len(arm_features)):
        raise LumosUserError(
            f"arms must index arm_features (0..{len(arm_features) - 1}); got "
            f"{arms.min()}..{arms.max()}.",
            code="bad_value",
        )
    if not np.isfinite(rewards).all():
        raise LumosUserError("rewards must be finite numbers.", code="bad_value")
    return arms, rewards


def _crossed(contexts: np.ndarray, arm_features: np.ndarray, arms: np.ndarray) -> np.ndarray:
    """The played pairs' crossed features ``m ⊗ a``, one row each."""
    return (contexts[:, :, None] * arm_features[arms][:, None, :]).reshape(len(arms), -1)


def _ts_decision(scores: np.ndarray, mask) -> Decision:
    """Decisions from ``(n, 1 + s, k)`` draws: the first plays, the rest give the propensity."""
    if mask is not None:
        scores = np.where(mask[:, None, :], scores, -np.inf)
    wins = scores.argmax(axis=2)  # (n, 1 + s)
    arms = wins[:, 0]
    s = scores.shape[1] - 1
    p = ((wins[:, 1:] == arms[:, None]).sum(axis=1) + 1) / (s + 1)  # never 0
    return Decision(arms, p, scores[:, 0, :])


def _win_shares(draw, n: int, draws: int, mask, chunk: int = 200_000) -> np.ndarray:
    """``(n, k)``: the share of ``draws`` each arm wins; ``draw(rows)`` gives ``(rows, draws, k)``.

    Members go in chunks of about ``chunk`` draws, so memory stays bounded.
    """
    out = []
    step = max(1, chunk // draws)
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        scores = draw(rows)
        if mask is not None:
            scores = np.where(mask[rows][:, None, :], scores, -np.inf)
        m, _, k = scores.shape
        wins = scores.argmax(axis=2) + k * np.arange(m)[:, None]
        out.append(np.bincount(wins.ravel(), minlength=m * k).reshape(m, k) / draws)
    return np.concatenate(out) if out else np.zeros((0, 0))


class EpsilonGreedy(LinearPolicy):
    """The best arm under the posterior mean, or a uniform one with probability ``epsilon``.

    Parameters
    ----------
    epsilon : float, default=0.05
        The share of uniform arms; the default, :data:`DEFAULT_EPSILON`, is
        ``OfferSettings``' too.

    Other parameters are :class:`LinearPolicy`'s.

    Examples
    --------
    >>> policy = EpsilonGreedy(2, 2, epsilon=0.1, random_state=0)
    >>> arms = np.eye(2)
    >>> _ = policy.update([[1, 0]] * 20, arms, [1] * 20, [1.0] * 20)
    >>> d = policy.select([[1, 0]], arms)
    >>> int(d.arms[0]), round(float(d.propensities[0]), 6)
    (1, 0.95)
    """

    def __init__(
        self,
        d_member,
        d_arm,
        *,
        epsilon: float = DEFAULT_EPSILON,
        alpha: float | str = 1.0,
        fit_intercept: bool = True,
        random_state=None,
        seed=None,
    ):
        random_state = renamed(
            random_state, seed, old="seed", new="random_state", owner="EpsilonGreedy"
        )
        check_number("EpsilonGreedy", "epsilon", epsilon, high=1)
        super().__init__(
            d_member, d_arm, alpha=alpha, fit_intercept=fit_intercept, random_state=random_state
        )
        self.epsilon = float(epsilon)

    def _greedy(self, contexts, arm_features, mask):
        """Scores under the mean, the allowed arms, and each member's best allowed arm."""
        contexts, arm_features, mask = self._inputs(contexts, arm_features, mask)
        scores = self._scores(contexts, arm_features, self.mean)
        allowed = np.ones(scores.shape, dtype=bool) if mask is None else mask
        return scores, allowed, np.where(allowed, scores, -np.inf).argmax(axis=1)

    def select(self, contexts, arm_features, *, mask=None) -> Decision:
        scores, allowed, best = self._greedy(contexts, arm_features, mask)
        n = len(scores)
        count = allowed.sum(axis=1)
        explore = self.rng.random(n) < self.epsilon
        # a uniform allowed arm: the j-th allowed one, j uniform
        j = (self.rng.random(n) * count).astype(int)
        uniform = np.argmax(np.cumsum(allowed, axis=1) > j[:, None], axis=1)
        arms = np.where(explore, uniform, best)
        p = self.epsilon / count + (1 - self.epsilon) * (arms == best)
        return Decision(arms, p, scores)

    def action_probabilities(self, contexts, arm_features, *, mask=None) -> np.ndarray:
        """``(n, k)``: the exact probability of playing each arm."""
        _, allowed, best = self._greedy(contexts, arm_features, mask)
        n = len(best)
        p = np.where(allowed, self.epsilon / allowed.sum(axis=1, keepdims=True), 0.0)
        p[np.arange(n), best] += 1 - self.epsilon
        return p


class LinTS(LinearPolicy):
    """Linear Thompson sampling: each member's arm is the best under one posterior draw.

    Parameters
    ----------
    nu : float, default=0.25
        The exploration scale: draws come from ``N(μ, ν² A⁻¹)``. The default,
        :data:`DEFAULT_NU`, is shared by every Thompson policy and by
        ``OfferSettings``: ν stands for the noise scale of the reward, and 0.25
        suits conversion-like Bernoulli rewards (whose standard deviation is at
        most 0.5, and about 0.2–0.3 at rates of 5–10 %); a larger ν explores
        far longer than such rewards need.
    n_propensity : int, default=100
        Further draws per member that estimate the played arm's propensity.
    alpha : float or "auto", default="auto"
        The prior precision λ. ``"auto"`` is the size of the context the model
        reads (``d_member``, plus 1 for the intercept): on standardized
        contexts a score's prior spread is then about ν whatever the number of
        features. With λ = 1 it grows as the square root of that number — at
        64 features a prior belief in scores of ±2 on a 0–1 reward, which the
        draws spend the first rounds exploring (on scikit-learn's digits turned
        into a bandit, ``"auto"`` cut LinTS's regret by 40 %). ε-greedy keeps
        λ = 1: it does not draw, and a stronger prior only slows its learning.

    Other parameters are :class:`LinearPolicy`'s.

    Examples
    --------
    >>> policy = LinTS(2, 2, nu=0.1, random_state=0)
    >>> arms = np.eye(2)
    >>> _ = policy.update([[1, 0]] * 50, arms, [0] * 50, [1.0] * 50)
    >>> d = policy.select([[1, 0]], arms)
    >>> int(d.arms[0]), bool(d.propensities[0] > 0.9)
    (0, True)
    """

    def __init__(
        self,
        d_member,
        d_arm,
        *,
        nu: float = DEFAULT_NU,
        n_propensity: int = 100,
        alpha: float | str = "auto",
        fit_intercept: bool = True,
        random_state=None,
        seed=None,
    ):
        random_state = renamed(random_state, seed, old="seed", new="random_state", owner="LinTS")
        check_number("LinTS", "nu", nu)
        check_number("LinTS", "n_propensity", n_propensity, low=1, integer=True)
        super().__init__(
            d_member, d_arm, alpha=alpha, fit_intercept=fit_intercept, random_state=random_state
        )
        self.nu, self.n_propensity = float(nu), n_propensity

    def select(self, contexts, arm_features, *, mask=None) -> Decision:
        contexts, arm_features, mask = self._inputs(contexts, arm_features, mask)
        return _ts_decision(self._draw_scores(contexts, arm_features, 1 + self.n_propensity), mask)

    def _draw_scores(self, contexts, arm_features, draws: int) -> np.ndarray:
        """``(n, draws, k)`` arm scores, each draw from member ``i``'s own posterior.

        A member's scores depend on θ only through ``w = Θᵀ m`` (``d_a``
        numbers), which is Gaussian with mean ``Mᵀ m`` and covariance
        ``ν² (m ⊗ I)ᵀ A⁻¹ (m ⊗ I)``. Drawing ``w`` needs ``d_a`` normals a draw
        instead of ``d_m · d_a`` — exact, and the normals were most of a decision.
        """
        n, dm, da = len(contexts), self._dm, self.d_arm
        mean = contexts @ self.mean.reshape(dm, da)  # (n, d_a)
        cov = self._member_cov(contexts, single=True)
        # a relative jitter above float32's rounding keeps the factorisation possible
        jitter = 1e-6 * (np.trace(cov, axis1=1, axis2=2) / da + 1e-30)
        root = np.linalg.cholesky(cov + jitter[:, None, None] * np.eye(da))
        z = self.rng.standard_normal((n, da, draws))
        w = mean[:, None, :] + self.nu * (root @ z).transpose(0, 2, 1)  # (n, draws, d_a)
        return w @ arm_features.T

    def action_probabilities(self, contexts, arm_features, *, mask=None, draws: int = 1000):
        """``(n, k)``: the probability of playing each arm, from ``draws`` posterior draws.

        Every member's estimate uses the same ``draws`` draws of θ.
        """
        contexts, arm_features, mask = self._inputs(contexts, arm_features, mask)
        # the same draws for every member: each estimate is unbiased, and n times cheaper
        theta = self._draws(draws, self.nu).reshape(draws, self._dm, self.d_arm)
        by_member = theta.transpose(1, 0, 2).reshape(self._dm, draws * self.d_arm)

        def scores(rows):  # two matrix products
            per_draw = (contexts[rows] @ by_member).reshape(-1, draws, self.d_arm)
            return per_draw @ arm_features.T

        return _win_shares(scores, len(contexts), draws, mask)
