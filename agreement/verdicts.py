"""Good/bad verdicts weighed by each annotator's reliability: Dawid–Skene posteriors and vote weights.

Pure core (NumPy, pandas). The export's ``dawid-skene`` consensus (:class:`brun_label.exporters.pairs.Gates`)
asks, for every candidate, *how likely is it that this reply is truly good* (in the zone and
unflagged), given every annotator's verdict and how reliable each annotator has shown to be over
the whole table. A binary Dawid–Skene model (:mod:`brun_label.agreement.dawid_skene`) learns each
annotator's two error rates (calling a bad reply good, calling a good reply bad) from all the
candidates at once, so two careful annotators who agree can settle a candidate that a careless
and a careful one cannot, and a careless annotator's dissent does not block a pair that careful
ones agree on. Nothing but the annotations goes in: no truth, no gold answer.

The same reliability weighs the annotators' preference votes: a voter's weight is the log-odds of
their balanced accuracy, ``log(p / (1 - p))`` with ``p`` the mean of their two hit rates, floored
at 0. These are the weights of the optimal weighted majority rule for independent voters of known
competence (Nitzan & Paroush 1982); a voter no better than chance gets weight 0.

With one class only in the whole table (every verdict good, or every verdict bad), error rates
cannot be learned: every voted candidate gets that class with probability 1 and every annotator
weight 1 (plain counting), which is what a unanimous table says.

Examples
--------
Three careful annotators agree on 40 candidates (half good, half bad); a fourth answers the
opposite half of the time. A candidate the fourth calls bad against one careful "good" stays
unsettled, while two careful "good"s settle it:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> truth = np.arange(40) % 2 == 0
>>> cand, ann, good = [], [], []
>>> for c in range(40):
...     for a in range(4):
...         said = truth[c] if a < 3 or rng.random() < 0.5 else not truth[c]
...         cand.append(c); ann.append(a); good.append(bool(said))
>>> cand += [40, 40, 41, 41]; ann += [0, 3, 0, 1]; good += [True, False, True, True]
>>> p, w = verdict_posteriors(np.array(cand), np.array(ann), np.array(good), n_candidates=42, n_annotators=4)
>>> bool(p[40] < 0.99), bool(p[41] > 0.99)
(True, True)
>>> bool(w[3] < w[0])
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brun_label.agreement.dawid_skene import DawidSkene

#: Laplace smoothing of the confusion counts: small tables do not yield error rates of 0 (and
#: posteriors of exactly 1) from a handful of agreeing answers.
SMOOTHING = 1.0


def verdict_posteriors(
    cand: np.ndarray,
    ann: np.ndarray,
    good: np.ndarray,
    *,
    n_candidates: int,
    n_annotators: int,
    smoothing: float = SMOOTHING,
    known: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return P(good) per candidate and a preference-vote weight per annotator.

    Parameters
    ----------
    cand, ann : numpy.ndarray
        Integer codes (candidate in ``[0, n_candidates)``, annotator in ``[0, n_annotators)``) of
        one verdict each; at most one verdict per (candidate, annotator).
    good : numpy.ndarray
        The verdicts: True for good (in the zone, no flag), False for bad.
    n_candidates, n_annotators : int
        Sizes of the outputs.
    smoothing : float
        Dawid–Skene's pseudo-count (see :data:`SMOOTHING`).
    known : numpy.ndarray, optional
        ``n_candidates`` ints: 1 (truly good) or 0 (truly bad) for gold candidates, -1 otherwise.
        Gold candidates are *anchors*: their posterior is held at the known verdict, so error
        rates are learned from them as well (``DawidSkene.fit(known=...)``).

    Returns
    -------
    p_good : numpy.ndarray
        ``n_candidates`` floats; NaN for a candidate without verdicts.
    weights : numpy.ndarray
        ``n_annotators`` non-negative floats; annotators without verdicts get the mean weight of
        the others (1 when there are none).

    Raises
    ------
    ValueError
        When the arrays differ in length or a code is out of range.

    >>> p, w = verdict_posteriors(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([True, True, True]),
    ...                           n_candidates=3, n_annotators=2)
    >>> p.tolist(), w.tolist()
    ([1.0, 1.0, nan], [1.0, 1.0])
    """
    cand, ann = np.asarray(cand, dtype=np.int64), np.asarray(ann, dtype=np.int64)
    good = np.asarray(good, dtype=bool)
    if not len(cand) == len(ann) == len(good):
        raise ValueError(f"cand, ann and good differ in length: {len(cand)}, {len(ann)}, {len(good)}")
    if len(cand) and (cand.min() < 0 or cand.max() >= n_candidates or ann.min() < 0 or ann.max() >= n_annotators):
        raise ValueError("a candidate or annotator code is out of range")
    p_good = np.full(n_candidates, np.nan)
    weights = np.ones(n_annotators)
    if not len(cand):
        return p_good, weights
    voted = np.bincount(cand, minlength=n_candidates) > 0
    if good.all() or not good.any():
        p_good[voted] = 1.0 if good.all() else 0.0
        return p_good, weights
    anchors = None
    if known is not None:
        known = np.asarray(known, dtype=np.int64)
        if len(known) != n_candidates:
            raise ValueError(f"known has {len(known)} entries for {n_candidates} candidates")
        at = np.flatnonzero((known >= 0) & voted)
        anchors = pd.Series(known[at] == 1, index=at)
    ds = DawidSkene(smoothing=smoothing).fit(pd.DataFrame({"unit": cand, "annotator": ann, "value": good}),
                                             known=anchors)
    units = np.asarray(ds.probas_.index, dtype=np.int64)
    p_good[units] = ds.probas_[True].to_numpy()
    classes = list(ds.probas_.columns)
    i_bad, i_good = classes.index(False), classes.index(True)
    hit = (ds.errors_[:, i_good, i_good] + ds.errors_[:, i_bad, i_bad]) / 2
    hit = np.clip(hit, 1e-6, 1 - 1e-6)
    known = np.asarray(ds.annotators_, dtype=np.int64)
    weights[:] = np.nan
    weights[known] = np.maximum(0.0, np.log(hit / (1 - hit)))
    weights[np.isnan(weights)] = float(np.nanmean(weights)) if np.isfinite(weights).any() else 1.0
    return p_good, weights
