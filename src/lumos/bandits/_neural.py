"""NeuralTS: Thompson sampling with a neural network's gradient as the features.

Zhang, Zhou, Liu and Gu, *Neural Thompson Sampling* (ICLR 2021). The network
``f(x; θ)`` scores a (member, arm) pair from its crossed features
``x = m ⊗ a``; its output is the posterior mean of the reward and its
gradient ``g = ∇_θ f(x; θ)`` plays the part LinTS's ``x`` plays in the
variance: ``σ² = gᵀ U⁻¹ g`` with ``U = λI + Σ g gᵀ`` over the played pairs.
Each arm's reward is drawn from ``N(f, ν² σ²)`` and the best draw is played.

``U`` is kept diagonal (the paper's practical approximation), so ``σ²`` is
``Σ g² / U``. For the shipped network — one hidden layer,
``f = w₂ · relu(W₁ x + b₁) + b₂`` — the gradients are in closed form and
never materialised: with ``h = relu(W₁ x + b₁)`` and ``s = w₂ ⊙ 1[h > 0]``,

* ``∂f/∂w₂ = h``, ``∂f/∂b₂ = 1``, ``∂f/∂b₁ = s``, ``∂f/∂W₁ = s xᵀ``, so
* ``σ² = Σ h²/U_w₂ + 1/U_b₂ + Σ s²/U_b₁ + Σᵢ sᵢ² (Σⱼ xⱼ²/U_W₁[i, j])``,

and the last sum is a matrix product of ``s²`` with ``x²`` against ``1/U_W₁``
— which, as ``x² = m² ⊗ a²``, is computed from the member and arm features
without building any ``x``. Scoring ``k`` arms is a few batched matrix
products in NumPy. Any other network (a ``torch.nn.Module`` mapping
``(batch, d)`` to ``(batch,)``) takes the general path: per-pair gradients
from ``torch.func.vmap(torch.func.grad(...))``, which is also the test
oracle for the closed form.

The network is trained with PyTorch (Adam, mean squared error plus ``λ/n``
times the squared distance from its initial weights, the paper's
regulariser) on the pairs seen so far, warm-started from its current weights
after every update; :meth:`NeuralTS.fit` retrains it from scratch.
PyTorch is an optional extra: ``pip install 'lumos[neural]'``.
"""

from __future__ import annotations

import numpy as np

from lumos._checks import check_flag, check_number, renamed, renamed_attribute
from lumos.bandits._linear import (
    DEFAULT_NU,
    Decision,
    _check,
    _crossed,
    _rewards,
    _ts_decision,
    _win_shares,
    _with_intercept,
)
from lumos.errors import LumosUserError


def _torch(what: str = "NeuralTS"):
    """PyTorch, or an error saying how to install it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the machine
        raise LumosUserError(
            f"{what} needs PyTorch; install it with: pip install 'lumos[neural]'",
            code="missing_dependency",
        ) from None
    return torch


class NeuralTS:
    """Neural Thompson sampling over crossed member × arm features.

    Parameters
    ----------
    d_member, d_arm : int
        Sizes of a member's context and of an arm's features; the network reads
        their outer product (see ``fit_intercept``).
    hidden : int, default=100
        Width of the shipped one-hidden-layer ReLU network.
    network : torch.nn.Module, optional
        Any other network from ``(batch, d)`` to ``(batch,)`` or
        ``(batch, 1)``, ``d`` the number of inputs (``(d_member + 1) · d_arm``
        with the intercept); its gradients come from ``torch.func`` (slower).
    nu : float, default=0.25
        Exploration scale: an arm's reward is drawn from ``N(f, ν² σ²)``; the
        default is LinTS's and ``OfferSettings``'s, :data:`DEFAULT_NU`.
    alpha : float, default=1.0
        λ: the prior precision of the diagonal ``U`` and the weight of the
        pull towards the initial weights in training.
    fit_intercept : bool, default=True
        Put a constant 1 in front of every context, as LinTS does, so the
        network sees each arm feature on its own too (each arm's base rate,
        with one-hot arms); the network then reads ``(d_member + 1) · d_arm``
        inputs. Pass ``False`` when the contexts already hold a constant column.
    lr : float, default=0.01
        Adam's learning rate.
    steps : int, default=50
        Mini-batch gradient steps after each :meth:`update` that trains.
    train_every : int, default=1
        Train the network on every ``train_every``-th :meth:`update` only (the
        design matrix and the buffer take every update): cheaper when updates
        come often.
    batch_size : int, default=128
        Pairs per gradient step.
    max_pairs : int, default=100_000
        The most recent played pairs kept for training. The shipped network
        trains on one thread: it is too small to gain from more, and on a busy
        machine their hand-offs made each step many times slower.
    n_propensity : int, default=100
        Further draws per member that estimate the played arm's propensity.
    random_state : int, optional
        Seeds the initial weights, the training batches and every draw (``seed`` is
        its older name).

    Examples
    --------
    >>> policy = NeuralTS(2, 2, hidden=16, nu=0.1, random_state=0)
    >>> arms = np.eye(2)
    >>> _ = policy.update([[1, 0]] * 64, arms, [0, 1] * 32, [1.0, 0.0] * 32)
    >>> int(policy.select([[1, 0]], arms).arms[0])
    0
    """

    def __init__(
        self,
        d_member: int,
        d_arm: int,
        *,
        hidden: int = 100,
        network=None,
        nu: float = DEFAULT_NU,
        alpha: float = 1.0,
        fit_intercept: bool = True,
        lr: float = 0.01,
        steps: int = 50,
        train_every: int = 1,
        batch_size: int = 128,
        max_pairs: int = 100_000,
        n_propensity: int = 100,
        random_state=None,
        seed=None,
    ):
        random_state = renamed(random_state, seed, old="seed", new="random_state", owner="NeuralTS")
        for name, value, low in (
            ("d_member", d_member, 1),
            ("d_arm", d_arm, 1),
            ("hidden", hidden, 1),
            ("steps", steps, 0),
            ("train_every", train_every, 1),
            ("batch_size", batch_size, 1),
            ("max_pairs", max_pairs, 1),
            ("n_propensity", n_propensity, 1),
        ):
            check_number("NeuralTS", name, value, low=low, integer=True)
        check_number("NeuralTS", "nu", nu)
        check_number("NeuralTS", "lr", lr)
        check_number("NeuralTS", "alpha", alpha, strict=True)
        check_flag("NeuralTS", "fit_intercept", fit_intercept)
        torch = _torch()
        self.d_member, self.d_arm = int(d_member), int(d_arm)
        self.fit_intercept = bool(fit_intercept)
        self._dm = self.d_member + self.fit_intercept  # the context the network reads
        self.d = self._dm * self.d_arm
        self.hidden, self.nu, self.alpha, self.lr = int(hidden), float(nu), float(alpha), float(lr)
        self.steps, self.batch_size, self.max_pairs = int(steps), int(batch_size), int(max_pairs)
        self.train_every, self._updates = int(train_every), 0
        self.n_propensity = int(n_propensity)
        self.random_state = random_state
        self.rng = np.random.default_rng(random_state)
        self._generator = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
        self.shipped = network is None
        self.network = self._new_network() if network is None else network
        self.network.to(torch.float32)
        self._initial = {k: v.detach().clone() for k, v in self.network.named_parameters()}
        self.U = {k: np.full(tuple(v.shape), self.alpha) for k, v in self._initial.items()}
        self._optimizer = torch.optim.Adam(self.network.parameters(), lr=self.lr)
        self._forget()
        self._sync()

    seed = renamed_attribute("random_state", "seed", "NeuralTS")

    def _forget(self) -> None:
        """Empty the buffer of played pairs (a ring of at most ``max_pairs``)."""
        self._x = np.empty((0, self.d), dtype=np.float32)
        self._r = np.empty(0, dtype=np.float32)
        self._count = self._head = self.n_updates = 0

    def _remember(self, x: np.ndarray, r: np.ndarray) -> None:
        if not len(x):  # nothing to keep (a saved policy that never learned)
            return
        self.n_updates += len(x)
        x, r = x[-self.max_pairs :], r[-self.max_pairs :]
        cap = len(self._r)
        if self._count + len(x) > cap and cap < self.max_pairs:  # grow; never wrapped yet
            cap = min(self.max_pairs, max(2 * cap, self._count + len(x), 1024))
            grown_x = np.empty((cap, self.d), dtype=np.float32)
            grown_r = np.empty(cap, dtype=np.float32)
            grown_x[: self._count], grown_r[: self._count] = (
                self._x[: self._count],
                self._r[: self._count],
            )
            self._x, self._r = grown_x, grown_r
        at = (self._head + np.arange(len(x))) % cap
        self._x[at], self._r[at] = x, r
        self._head = (self._head + len(x)) % cap
        self._count = min(cap, self._count + len(x))

    def _new_network(self):
        torch = _torch()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.rng.integers(2**31)))
            return torch.nn.Sequential(
                torch.nn.Linear(self.d, self.hidden),
                torch.nn.ReLU(),
                torch.nn.Linear(self.hidden, 1),
            )

    def _sync(self) -> None:
        """Copy the shipped network's weights and ``1/U`` to NumPy for decisions."""
        if not self.shipped:
            return
        p = {k: v.detach().numpy().astype(float) for k, v in self.network.named_parameters()}
        inv = {k: 1.0 / v for k, v in self.U.items()}
        dm, da, h = self._dm, self.d_arm, self.hidden
        self._w1 = p["0.weight"].reshape(h, dm, da)
        self._b1, self._w2, self._b2 = p["0.bias"], p["2.weight"][0], float(p["2.bias"][0])
        self._inv_w1 = inv["0.weight"].reshape(h, dm, da)
        self._inv_b1, self._inv_w2 = inv["0.bias"], inv["2.weight"][0]
        self._inv_b2 = float(inv["2.bias"][0])

    def _inputs(self, contexts, arm_features, mask=None):
        """Checked inputs, the contexts as the network reads them (with the intercept's 1)."""
        contexts, arm_features, mask = _check(
            contexts, arm_features, self.d_member, self.d_arm, mask
        )
        return _with_intercept(contexts, self.fit_intercept), arm_features, mask

    # -- mean and variance ----------------------------------------------------------------------

    def mean_and_variance(self, contexts, arm_features) -> tuple[np.ndarray, np.ndarray]:
        """``(n, k)`` posterior means ``f`` and variances ``gᵀ U⁻¹ g`` of every pair."""
        return self._mean_and_variance(*self._inputs(contexts, arm_features)[:2])

    def _mean_and_variance(self, contexts, arm_features) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`mean_and_variance` of checked contexts that hold the intercept's 1."""
        if not self.shipped:
            return self._general(contexts, arm_features)
        # pre-activations (n, H, k) from m and a without building x = m ⊗ a
        pre = np.einsum("ni,hij->nhj", contexts, self._w1) @ arm_features.T
        pre += self._b1[None, :, None]
        h = np.maximum(pre, 0.0)
        mean = np.einsum("nhk,h->nk", h, self._w2) + self._b2
        s2 = np.where(pre > 0, self._w2[None, :, None] ** 2, 0.0)  # (∂f/∂b₁)²
        x2 = np.einsum("ni,hij->nhj", contexts**2, self._inv_w1) @ (arm_features**2).T
        var = (
            np.einsum("nhk,h->nk", h**2, self._inv_w2)
            + self._inv_b2
            + np.einsum("nhk,h->nk", s2, self._inv_b1)
            + np.einsum("nhk,nhk->nk", s2, x2)
        )
        return mean, var

    def _gradients(self, x: np.ndarray):
        """Per-row ``f`` and gradients by ``torch.func`` (the general path and the oracle)."""
        torch = _torch()
        from torch.func import functional_call, grad, vmap

        params = {k: v.detach() for k, v in self.network.named_parameters()}

        def f(p, row):
            return functional_call(self.network, p, (row[None, :],)).reshape(())

        xt = torch.as_tensor(x, dtype=torch.float32)
        with torch.no_grad():
            means = self.network(xt).reshape(-1)
        grads = vmap(grad(f), in_dims=(None, 0))(params, xt)
        return means.numpy().astype(float), {k: g.numpy().astype(float) for k, g in grads.items()}

    def _general(self, contexts, arm_features):
        n, k = len(contexts), len(arm_features)
        x = (contexts[:, None, :, None] * arm_features[None, :, None, :]).reshape(n * k, self.d)
        means, grads = self._gradients(x)
        var = sum(
            ((g.reshape(n * k, -1) ** 2) / self.U[name].reshape(1, -1)).sum(1)
            for name, g in grads.items()
        )
        return means.reshape(n, k), var.reshape(n, k)

    # -- decisions ------------------------------------------------------------------------------

    def _sampled(self, contexts, arm_features, draws: int) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self._mean_and_variance(contexts, arm_features)
        z = self.rng.standard_normal((len(mean), draws, mean.shape[1]))
        return mean, mean[:, None, :] + self.nu * np.sqrt(var)[:, None, :] * z

    def select(self, contexts, arm_features, *, mask=None) -> Decision:
        """Each member's arm: the best of one reward draw per arm, with its propensity."""
        contexts, arm_features, mask = self._inputs(contexts, arm_features, mask)
        _, scores = self._sampled(contexts, arm_features, 1 + self.n_propensity)
        return _ts_decision(scores, mask)

    def action_probabilities(self, contexts, arm_features, *, mask=None, draws: int = 1000):
        """``(n, k)``: the probability of playing each arm, from ``draws`` reward draws.

        Every member's estimate uses the same ``draws`` standard normals.
        """
        contexts, arm_features, mask = self._inputs(contexts, arm_features, mask)
        mean, var = self._mean_and_variance(contexts, arm_features)
        z = self.rng.standard_normal((draws, mean.shape[1]))  # shared by every member

        def scores(rows):
            return mean[rows, None, :] + self.nu * np.sqrt(var[rows])[:, None, :] * z

        return _win_shares(scores, len(contexts), draws, mask)

    # -- learning -------------------------------------------------------------------------------

    def update(self, contexts, arm_features, arms, rewards) -> NeuralTS:
        """Learn from rewards: fold the played pairs' gradients into ``U``, then train."""
        contexts, arm_features, _ = self._inputs(contexts, arm_features)
        arms, rewards = _rewards(contexts, arm_features, arms, rewards)
        x = _crossed(contexts, arm_features, arms)
        if self.shipped:
            h, s = self._hidden(x)
            self.U["2.weight"] += (h**2).sum(0)[None, :]
            self.U["2.bias"] += len(x)
            self.U["0.bias"] += (s**2).sum(0)
            self.U["0.weight"] += (s**2).T @ x**2
        else:
            _, grads = self._gradients(x)
            for name, g in grads.items():
                self.U[name] += (g**2).sum(0)
        self._remember(x, rewards)
        self._updates += 1
        if self._updates % self.train_every == 0:
            self._train(self.steps)
        self._sync()
        return self

    def _hidden(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pre = x @ self._w1.reshape(self.hidden, self.d).T + self._b1
        return np.maximum(pre, 0.0), np.where(pre > 0, self._w2, 0.0)

    def _train(self, steps: int) -> None:
        torch = _torch()
        n = self._count
        if n == 0 or steps == 0:
            return
        x, r = torch.from_numpy(self._x[:n]), torch.from_numpy(self._r[:n])
        params = dict(self.network.named_parameters())
        threads = torch.get_num_threads()
        if self.shipped:  # too small to gain from threads (see max_pairs); the caller's back after
            torch.set_num_threads(1)
        try:
            for _ in range(steps):
                rows = torch.randint(n, (min(self.batch_size, n),), generator=self._generator)
                self._optimizer.zero_grad()
                loss = torch.mean((self.network(x[rows]).reshape(-1) - r[rows]) ** 2)
                pull = sum(((params[k] - v) ** 2).sum() for k, v in self._initial.items())
                (loss + self.alpha / n * pull).backward()
                self._optimizer.step()
        finally:
            torch.set_num_threads(threads)

    def fit(self, contexts, arm_features, arms, rewards, *, epochs: int = 20) -> NeuralTS:
        """Retrain from scratch on all of these pairs: the scheduled full retrain."""
        torch = _torch()
        contexts, arm_features, _ = _check(contexts, arm_features, self.d_member, self.d_arm)
        arms, rewards = _rewards(contexts, arm_features, arms, rewards)
        with torch.no_grad():
            for name, p in self.network.named_parameters():
                p.copy_(self._initial[name])
                self.U[name].fill(self.alpha)
        self._optimizer = torch.optim.Adam(self.network.parameters(), lr=self.lr)
        self._forget()
        self._sync()
        steps, self.steps = self.steps, 0
        try:
            self.update(contexts, arm_features, arms, rewards)
        finally:
            self.steps = steps
        batches = -(-self._count // self.batch_size)
        self._train(epochs * batches)
        self._sync()
        return self
