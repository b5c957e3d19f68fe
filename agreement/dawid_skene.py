"""Dawid–Skene: a probabilistic consensus that learns how reliable each annotator is.

Pure core, vectorised EM (Dawid & Skene 1979). Each unit has an unknown true class; each
annotator has a confusion matrix ``errors_[a, j, l]`` = P(annotator a says l | true class j);
classes have priors. EM alternates

* E-step: P(true = j | unit's answers) ∝ prior_j · Π_answers errors[a, j, l];
* M-step: priors and confusion matrices re-estimated from those posteriors (with additive
  ``smoothing`` so an annotator who never used a label does not get probability 0 for it);

starting from the majority-vote shares, until the posteriors move less than ``tol``. Unlike a
majority vote, an annotator who agrees with the others gets more weight, one who labels at
random gets less, and one who systematically swaps two labels gets corrected.

Why not crowd-kit itself: it pulls in ``transformers`` (and its text aggregators), too much for a
runtime dependency; it is the test oracle instead, matched iteration by iteration.

The interface follows crowd-kit (``fit``, ``fit_predict``, ``fit_predict_proba``; learned
attributes end with ``_``) on a long table with columns ``unit``, ``annotator``, ``value``.

Examples
--------
>>> import pandas as pd
>>> rows = [("u1", "a", "x"), ("u1", "b", "x"), ("u1", "c", "y"),
...         ("u2", "a", "y"), ("u2", "b", "y"), ("u2", "c", "y"),
...         ("u3", "a", "x"), ("u3", "b", "y"), ("u3", "c", "y")]
>>> data = pd.DataFrame(rows, columns=["unit", "annotator", "value"])
>>> ds = DawidSkene(n_iter=50).fit(data)
>>> ds.labels_.to_dict()
{'u1': 'x', 'u2': 'y', 'u3': 'y'}
>>> ds.probas_.shape
(3, 2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REQUIRED = ("unit", "annotator", "value")
_EPS = 1e-10


class DawidSkene:
    """Dawid–Skene EM aggregation of categorical answers.

    Parameters
    ----------
    n_iter : int
        Maximum EM iterations.
    tol : float
        Stop when no posterior moves by more than this.
    smoothing : float
        Pseudo-count added to every confusion-matrix cell and prior. With 0 this is exactly
        crowd-kit's ``DawidSkene`` (which clips at 1e-10 instead); the tests check it iteration by iteration.

    Attributes
    ----------
    labels_ : pandas.Series
        The most probable class of each unit (ties: the first class in sorted order).
    probas_ : pandas.DataFrame
        Units × classes posterior probabilities.
    priors_ : pandas.Series
        Class priors.
    errors_ : numpy.ndarray
        Annotators × true class × answered class confusion matrices (rows sum to 1).
    annotators_ : list
        The annotators, in the order of ``errors_``.
    n_iter_ : int
        EM iterations run.
    """

    def __init__(self, *, n_iter: int = 100, tol: float = 1e-6, smoothing: float = 0.01) -> None:
        if n_iter < 1:
            raise ValueError("n_iter must be at least 1")
        if tol <= 0 or smoothing < 0:
            raise ValueError("tol must be positive and smoothing non-negative")
        self.n_iter = n_iter
        self.tol = tol
        self.smoothing = smoothing

    def fit(self, data: pd.DataFrame, known: pd.Series | None = None) -> DawidSkene:
        """Fit on a long table with columns ``unit``, ``annotator``, ``value`` (one answer a row).

        ``known`` (optional) maps units to their true class: *anchors* such as gold items. Their
        posteriors are held at that class through EM, so the annotators' confusion matrices are
        learned from the anchors as well as from agreement (semi-supervised Dawid–Skene). A known
        class must be one of the answered values; known units nobody answered are ignored.

        >>> rows = [("g", "a", "x"), ("g", "b", "y"), ("u", "a", "x"), ("u", "b", "y")]
        >>> data = pd.DataFrame(rows, columns=["unit", "annotator", "value"])
        >>> ds = DawidSkene().fit(data, known=pd.Series({"g": "x"}))
        >>> ds.labels_.to_dict()  # a was right on the gold unit, b wrong: trust a on u
        {'g': 'x', 'u': 'x'}
        """
        missing = [c for c in REQUIRED if c not in data.columns]
        if missing:
            raise ValueError(f"data needs columns {', '.join(REQUIRED)}; missing {', '.join(missing)}")
        data = data[data["value"].notna()]
        if data.empty:
            raise ValueError("data has no answers")
        u_idx, units = pd.factorize(data["unit"], sort=True)
        a_idx, annotators = pd.factorize(data["annotator"], sort=True)
        l_idx, classes = pd.factorize(data["value"], sort=True)
        n_u, n_a, n_k = len(units), len(annotators), len(classes)
        anchor_rows, anchor_cls = self._anchors(known, pd.Index(units), pd.Index(classes))
        # Majority-vote shares as the starting posteriors.
        post: np.ndarray = np.zeros((n_u, n_k))
        np.add.at(post, (u_idx, l_idx), 1.0)
        post /= post.sum(axis=1, keepdims=True)
        post[anchor_rows] = np.eye(n_k)[anchor_cls]
        slot = a_idx * n_k + l_idx
        it = 0
        while it < self.n_iter:
            it += 1
            priors = post.mean(axis=0) + self.smoothing
            priors /= priors.sum()
            # errors[a, j, l] = Σ_{answers of a with label l} post[u, j] (+ smoothing)
            errors: np.ndarray = np.empty((n_a * n_k, n_k))
            weights = post[u_idx]
            for j in range(n_k):
                errors[:, j] = np.bincount(slot, weights=weights[:, j], minlength=n_a * n_k)
            errors = errors.reshape(n_a, n_k, n_k).transpose(0, 2, 1) + self.smoothing
            np.clip(errors, _EPS, None, out=errors)  # as crowd-kit: no log(0) without smoothing
            errors /= errors.sum(axis=2, keepdims=True)
            log_err = np.log(errors)
            per_answer = log_err[a_idx, :, l_idx]  # answers × true class
            log_post: np.ndarray = np.empty((n_u, n_k))
            for j in range(n_k):
                log_post[:, j] = np.bincount(u_idx, weights=per_answer[:, j], minlength=n_u)
            log_post += np.log(np.clip(priors, _EPS, None))
            log_post -= log_post.max(axis=1, keepdims=True)
            new = np.exp(log_post)
            new /= new.sum(axis=1, keepdims=True)
            new[anchor_rows] = np.eye(n_k)[anchor_cls]
            delta = float(np.abs(new - post).max())
            post = new
            if delta < self.tol:
                break
        self.n_iter_ = it
        self.priors_ = pd.Series(priors, index=list(classes), name="prior")
        self.errors_ = errors
        self.annotators_ = list(annotators)
        self.probas_ = pd.DataFrame(post, index=list(units), columns=list(classes))
        self.labels_ = pd.Series(
            [classes[i] for i in post.argmax(axis=1)], index=list(units), name="value"
        )
        return self

    @staticmethod
    def _anchors(known: pd.Series | None, units: pd.Index, classes: pd.Index) -> tuple[np.ndarray, np.ndarray]:
        """Row and class positions of the known units that were answered."""
        if known is None or known.empty:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rows = np.asarray(units.get_indexer(known.index), dtype=np.int64)
        cls = np.asarray(classes.get_indexer(pd.Index(known.to_numpy())), dtype=np.int64)
        answered = rows >= 0
        bad = answered & (cls < 0)
        if bad.any():
            unit = known.index[np.flatnonzero(bad)[0]]
            raise ValueError(f"known class {known[unit]!r} of unit {unit!r} is not an answered value")
        return rows[answered], cls[answered]

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        """Fit and return the most probable class of each unit."""
        return self.fit(data).labels_

    def fit_predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        """Fit and return the units × classes posterior probabilities."""
        return self.fit(data).probas_
