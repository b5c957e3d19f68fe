"""Bradley–Terry with ties (Davidson 1970): a preference model where "tie" is an answer.

Pure core (NumPy and SciPy's L-BFGS). Each candidate e has a strength ``π_e = exp(θ_e)`` and
there is one tie parameter ν shared by all comparisons. When an annotator picks the best of the
candidates ``S`` of an item (``k = |S|``, two in a pairwise preference):

* P(e is picked) = π_e / D,
* P(no candidate is picked: a tie) = ν · (Π_{e∈S} π_e)^{1/k} / D,
* D = Σ_{e∈S} π_e + ν · (Π_{e∈S} π_e)^{1/k},

which for k = 2 is exactly Davidson's (1970) model, P(i ≻ j) = π_i / (π_i + π_j + ν√(π_i π_j)),
and for larger k its top-choice (Davidson–Luce) form. Plain Bradley–Terry has no room for a
tie; here a tie is evidence that the candidates are close, and how readily annotators call ties
is learned once (ν) from every item. A Gaussian prior on θ (``prior`` is its precision) keeps
unanimous items finite and shrinks sparse ones towards "equally good".

No library dependency: choix, the maintained Luce-model package, has no tie outcome, and the
model is one vectorised log-likelihood with its gradient for SciPy's optimiser.

Fitting maximises the log posterior with L-BFGS on an analytic gradient, vectorised over all
comparisons (padded to the largest candidate set).

Examples
--------
Two candidates, 6 wins, 2 losses and 2 ties: the maximum-likelihood fit reproduces the counts,
θ₁ − θ₂ = log(6/2) and ν = 2 / √(6·2).

>>> options = [["a", "b"]] * 10
>>> choices = ["a"] * 6 + ["b"] * 2 + [None] * 2
>>> bt = BradleyTerryTies(prior=0.0).fit(options, choices)
>>> round(float(bt.strengths_["a"] - bt.strengths_["b"]), 4), round(bt.tie_, 4), round(2 / 12 ** 0.5, 4)
(1.0986, 0.5774, 0.5774)
>>> bt.predict_proba([["a", "b"]]).round(2).tolist()
[[0.6, 0.2, 0.2]]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

_LOG_NU_BOUNDS = (-20.0, 10.0)


class BradleyTerryTies:
    """Davidson's Bradley–Terry model with ties, for choosing the best of two or more candidates.

    Parameters
    ----------
    prior : float
        Precision of the zero-mean Gaussian prior on log-strengths (0: maximum likelihood).
    max_iter : int
        Maximum L-BFGS iterations.

    Attributes
    ----------
    strengths_ : pandas.Series
        Log-strength θ of each candidate.
    tie_ : float
        The tie parameter ν (0 when nobody ever called a tie).
    entities_ : list
        The candidates, in the order of ``strengths_``.
    """

    def __init__(self, *, prior: float = 0.5, max_iter: int = 500) -> None:
        if prior < 0:
            raise ValueError("prior must be non-negative")
        self.prior = prior
        self.max_iter = max_iter

    def _encode(
        self, options: Sequence[Sequence[Hashable]], index: dict[Hashable, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        width = max((len(o) for o in options), default=0)
        idx = np.zeros((len(options), max(width, 1)), dtype=np.intp)
        mask = np.zeros(idx.shape, dtype=bool)
        for n, opts in enumerate(options):
            if len(opts) < 2:
                raise ValueError(f"comparison {n} has fewer than two candidates")
            if len(set(opts)) != len(opts):
                raise ValueError(f"comparison {n} lists a candidate twice")
            for k, e in enumerate(opts):
                if e not in index:
                    raise ValueError(f"unknown candidate {e!r}")
                idx[n, k] = index[e]
                mask[n, k] = True
        return idx, mask

    def fit(
        self, options: Sequence[Sequence[Hashable]], choices: Sequence[Hashable | None]
    ) -> BradleyTerryTies:
        """Fit on comparisons: ``options[n]`` the candidates shown, ``choices[n]`` the one picked
        (``None`` for a tie)."""
        if len(options) != len(choices):
            raise ValueError(f"{len(options)} option lists but {len(choices)} choices")
        if not options:
            raise ValueError("no comparisons to fit")
        entities: list[Hashable] = []
        index: dict[Hashable, int] = {}
        for opts in options:
            for e in opts:
                if e not in index:
                    index[e] = len(entities)
                    entities.append(e)
        idx, mask = self._encode(options, index)
        chosen = np.full(len(options), -1, dtype=np.intp)
        for n, (opts, pick) in enumerate(zip(options, choices, strict=True)):
            if pick is not None:
                if pick not in opts:
                    raise ValueError(f"comparison {n}: choice {pick!r} is not one of its candidates")
                chosen[n] = list(opts).index(pick)
        n_ent = len(entities)
        k = mask.sum(axis=1).astype(np.float64)
        tie = chosen < 0
        rows = np.arange(len(options))
        won = np.zeros(idx.shape)
        won[rows[~tie], chosen[~tie]] = 1.0
        flat_idx = idx[mask]

        def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
            theta, log_nu = params[:n_ent], params[n_ent]
            th = np.where(mask, theta[idx], 0.0)
            s = np.where(mask, np.exp(th), 0.0)
            mean_th = th.sum(axis=1) / k
            t = np.exp(log_nu + mean_th)
            d = s.sum(axis=1) + t
            ll = float((won * th).sum() + (log_nu + mean_th)[tie].sum() - np.log(d).sum())
            ll -= 0.5 * self.prior * float(theta @ theta)
            # d log L / d θ at each (comparison, slot), then summed per candidate.
            g_slot = won + (tie / k)[:, None] - (s + (t / k)[:, None]) / d[:, None]
            grad_theta = np.bincount(flat_idx, weights=g_slot[mask], minlength=n_ent) - self.prior * theta
            grad_nu = float(tie.sum() - (t / d).sum())
            return -ll, -np.concatenate([grad_theta, [grad_nu]])

        x0 = np.zeros(n_ent + 1)
        x0[n_ent] = np.log(max(tie.mean(), 1e-3))
        bounds = [(None, None)] * n_ent + [_LOG_NU_BOUNDS]
        res = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": self.max_iter, "gtol": 1e-9, "ftol": 1e-13})
        self.entities_ = entities
        self._index = index
        self.strengths_ = pd.Series(res.x[:n_ent], index=pd.Index(entities, tupleize_cols=False), name="theta")
        self.tie_ = 0.0 if not tie.any() else float(np.exp(res.x[n_ent]))
        self._theta = res.x[:n_ent]
        self.converged_ = bool(res.success)
        self._objective = objective
        return self

    def predict_proba(self, options: Sequence[Sequence[Hashable]]) -> np.ndarray:
        """Return comparisons × (k_max + 1) probabilities: each slot's candidate, then the tie.

        Slots beyond a comparison's own candidates are 0.
        """
        idx, mask = self._encode(options, self._index)
        k = mask.sum(axis=1).astype(np.float64)
        th = np.where(mask, self._theta[idx], 0.0)
        s = np.where(mask, np.exp(th), 0.0)
        t = self.tie_ * np.exp(th.sum(axis=1) / k)
        d = s.sum(axis=1) + t
        return np.concatenate([s, t[:, None]], axis=1) / d[:, None]
