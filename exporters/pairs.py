"""Pure, vectorised pair selection: the (chosen, rejected) pairs the annotators clearly agree on.

Pure core: pandas only, no files, no network. The input is the long annotation table
(:mod:`brun_label.table`) and the list of ``(item_id, candidate_id)`` of the samples; the output is
a :class:`Selection` with the pairs, the unpaired KTO rows, and the reason each item was or was
not exported. Votes are grouped with ``groupby`` (never a Python loop per row), so a million rows
take a few seconds.

Definitions
-----------
*Counted vote*
    a row with ``status == "submitted"`` whose annotator does not start with ``judge:`` (LLM judges
    never vote). When one annotator has several counted rows for the same item, candidate and
    question, the last one counts. Values that are not options of the question are ignored
    (and counted in ``Selection.counts["invalid_votes"]``).
*An annotator's verdict on a candidate*
    **good** when they put it in the zone (the zone question's ``target``) and ticked no flag in
    any flag question; **bad** when they put it out of the zone or ticked at least one flag;
    **flagged** when they ticked at least one flag. A missing flags answer means "no flag" (flags
    are optional). The *voters* of a candidate are the annotators who answered its zone or flag
    questions.
*Clear consensus* (``n`` voters, :class:`Gates`)
    a candidate is **good** when ``n >= min_annotators`` (default 3), at least ``min_share``
    (default 0.8) of the voters judged it good, and at most ``max_flag_share`` (default 0: any
    flag is a veto, because a liability in the chosen reply is what the export must never
    teach) flagged it; it is **bad** when ``n >= min_annotators`` and at least ``min_share``
    judged it bad; **thin** when ``n < min_annotators``; **split** otherwise. With 3 or 4
    annotators the default share means unanimity; with 5 or more, one dissenter is tolerated.
*Reliability-weighted consensus* (``Gates(consensus="dawid-skene")``)
    instead of counting votes, a binary Dawid–Skene model learns every annotator's two error rates
    (good called bad, bad called good) from all the candidates of the table and gives each
    candidate the probability that it is good (:mod:`brun_label.agreement.verdicts`). A candidate
    is **good** when ``n >= min_annotators`` and that probability is at least ``min_posterior``
    (default 0.99), **bad** when its complement is, **thin** below ``min_annotators``, **split**
    otherwise; ``min_share`` and ``max_flag_share`` do not apply (a flag makes the annotator's
    verdict bad and is weighed like the zone). The preference votes below are weighed too, each
    by the log-odds of its voter's reliability, and a pair (or KTO row) is contradicted when the
    votes against it weigh half or more of the item's votes (the optimal weighted majority).
    This is what lets adaptive overlap decide with two careful annotators, and keeps a careless
    one's dissent from blocking a pair the careful ones agree on (``bench/bench_quality_loop.py``).
*What a preference vote says about a pair* (chosen ``c``, rejected ``r``)
    The preference question asks which candidate is best (:func:`brun_label.rubric.preference_options`).
    A vote **for a candidate** ``x`` says ``x`` is at least as good as every other candidate: it
    contradicts the pair only when ``x`` is ``r`` (a vote for ``c`` or for a third candidate
    does not). **both_bad** ("Both bad", "All bad") says no candidate is good: it contradicts
    every pair of the item. **tie** says that no single candidate is best: two or more share the
    best place ("Tie: equally good" with two candidates, "Tie between the best" with more). The
    vote does not name them; they are the candidates the same voter judged good (their own
    verdicts above). The tie contradicts the pair only when ``r`` is one of them: a tie between
    the good ones never contradicts good > bad. When the voter judged fewer than two candidates
    good, the tie says nothing about which candidates it joins and counts against every pair of
    the item. With two candidates a tie therefore always contradicts the pair.
*Pair*
    a (good, bad) combination of candidates of the same item whose contradicting preference
    votes (above) are at most ``1 - min_share`` of the item's preference votes (with the default
    share and 3-4 preference votes: none); an item without preference votes contradicts nothing.
*Pairing strategy* (:class:`Pairing`)
    ``all`` (the default) keeps every such pair; ``best-worst`` keeps one per item: the clearest
    chosen against the clearest rejected. Pairs of an item are ranked by the chosen candidate's
    good share (high first), then the preference votes for it (many first), then the rejected
    one's bad share (high first), then the votes that put the rejected one among the best (votes
    for it and ties that include it; few first), then sample order; ``best-worst`` keeps the first, and
    ``max_per_prompt`` keeps at most that many from the top of the ranking (of either strategy).
    The kept pairs stay in sample order. ``all`` is the default because every pair it keeps is
    backed by its own clear consensus; ``best-worst`` (or a cap) keeps items with many
    candidates from weighing more than the others in training.
*KTO rows*
    every good candidate (``label`` true) unless ``both_bad`` votes contradict it, and every bad
    candidate (``label`` false) unless votes for it, or ties that include it, contradict it; this
    is where ``both bad`` items and ties go.

Each item gets one ``reason``: ``exported``, ``preference_contradicts`` (pairs existed but the
preference votes disagreed), ``not_annotated``, ``both_bad`` (every candidate bad), ``tie``
(every candidate good), ``too_few_annotators`` or ``split``.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> rows = []
>>> for ann in ("ann1", "ann2", "ann3"):
...     rows += [{"item_id": "s1", "candidate_id": "good", "question": "tone_zone",
...               "annotator": ann, "value": 0},
...              {"item_id": "s1", "candidate_id": "bad", "question": "tone_zone",
...               "annotator": ann, "value": -2},
...              {"item_id": "s1", "question": "preference", "annotator": ann, "value": "good"}]
>>> rows.append({"item_id": "s1", "candidate_id": "bad", "question": "tone_zone",
...              "annotator": "judge:gpt", "value": 0})
>>> sel = select_pairs(make_table(rows), candidates_frame([("s1", ["good", "bad"])]),
...                    load_rubric("de-escalation"))
>>> sel.pairs[["item_id", "chosen_id", "rejected_id", "n_annotators", "agreement", "margin"]].values.tolist()
[['s1', 'good', 'bad', 3, 1.0, 1.0]]
>>> sel.items["reason"].tolist(), sel.kto["label"].tolist()
(['exported'], [True, False])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.verdicts import verdict_posteriors
from brun_label.model import CONSENSUS, JUDGE_PREFIX
from brun_label.rubric import BOTH_BAD, TIE, Rubric

#: Item reasons, in the order they are checked.
REASONS = (
    "exported",
    "preference_contradicts",
    "not_annotated",
    "both_bad",
    "tie",
    "too_few_annotators",
    "split",
)
#: Candidate verdicts.
VERDICTS = ("good", "bad", "thin", "split")
#: Pairing strategies (``--pairs``), the default first.
PAIRINGS = ("all", "best-worst")
#: Tolerance when comparing vote counts with shares (``0.8 * 5`` is not exactly 4.0 in floats).
_EPS = 1e-9
_KEYS = ["item_id", "candidate_id", "annotator"]


class GateConfigError(ValueError):
    """A gate setting is out of range; ``field`` names the option."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Gates:
    """The consensus gates of the export (see the module docstring for what they mean).

    ``consensus`` says how a candidate's verdict is reached: ``share`` (the default) counts
    votes, every annotator alike; ``dawid-skene`` weighs them by each annotator's reliability
    learned from the whole table (*Reliability-weighted consensus* in the module docstring), and
    then ``min_posterior`` is the probability a verdict needs.

    >>> Gates()
    Gates(min_annotators=3, min_share=0.8, max_flag_share=0.0, consensus='share', min_posterior=0.99)
    >>> try:
    ...     Gates(min_share=0.5)
    ... except GateConfigError as exc:
    ...     print(exc)
    min_share: must be above 0.5 and at most 1, got 0.5
    >>> try:
    ...     Gates(consensus="majority")
    ... except GateConfigError as exc:
    ...     print(exc)
    consensus: must be share or dawid-skene, got 'majority'
    """

    min_annotators: int = 3
    min_share: float = 0.8
    max_flag_share: float = 0.0
    consensus: str = "share"
    min_posterior: float = 0.99

    def __post_init__(self) -> None:
        if isinstance(self.min_annotators, bool) or not isinstance(self.min_annotators, int) or self.min_annotators < 1:
            raise GateConfigError("min_annotators", f"must be an integer >= 1, got {self.min_annotators!r}")
        # Above one half, "good" and "bad" by consensus can never both hold for one candidate.
        if not 0.5 < self.min_share <= 1.0:
            raise GateConfigError("min_share", f"must be above 0.5 and at most 1, got {self.min_share!r}")
        if not 0.0 <= self.max_flag_share < 1.0:
            raise GateConfigError("max_flag_share", f"must be in [0, 1), got {self.max_flag_share!r}")
        if self.consensus not in CONSENSUS:
            raise GateConfigError("consensus", f"must be {' or '.join(CONSENSUS)}, got {self.consensus!r}")
        if not 0.5 < self.min_posterior < 1.0:
            raise GateConfigError("min_posterior", f"must be above 0.5 and below 1, got {self.min_posterior!r}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Gates:
        """Build gates from a project's or a command's settings (unknown keys are ignored).

        >>> Gates.from_settings({"min_annotators": 2.0, "consensus": "dawid-skene", "min_alpha": 0.6})
        Gates(min_annotators=2, min_share=0.8, max_flag_share=0.0, consensus='dawid-skene', min_posterior=0.99)
        """
        kwargs: dict[str, Any] = {}
        if settings.get("min_annotators") is not None:
            kwargs["min_annotators"] = int(settings["min_annotators"])
        for key in ("min_share", "max_flag_share", "min_posterior"):
            if settings.get(key) is not None:
                kwargs[key] = float(settings[key])
        if settings.get("consensus") is not None:
            kwargs["consensus"] = str(settings["consensus"])
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Return the gates as a JSON-able dict (``min_posterior`` only with ``dawid-skene``)."""
        out: dict[str, Any] = {
            "min_annotators": self.min_annotators,
            "min_share": self.min_share,
            "max_flag_share": self.max_flag_share,
            "consensus": self.consensus,
        }
        if self.consensus == "dawid-skene":
            out["min_posterior"] = self.min_posterior
        return out


@dataclass(frozen=True)
class Pairing:
    """Which of an item's pairs to keep (see *Pairing strategy* in the module docstring).

    >>> Pairing()
    Pairing(strategy='all', max_per_prompt=None)
    >>> Pairing("best-worst").as_dict()
    {'strategy': 'best-worst', 'max_per_prompt': None}
    >>> try:
    ...     Pairing(max_per_prompt=0)
    ... except GateConfigError as exc:
    ...     print(exc)
    max_per_prompt: must be an integer >= 1 (or none), got 0
    """

    strategy: str = "all"
    max_per_prompt: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in PAIRINGS:
            raise GateConfigError("pairs", f"must be {' or '.join(PAIRINGS)}, got {self.strategy!r}")
        cap = self.max_per_prompt
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise GateConfigError("max_per_prompt", f"must be an integer >= 1 (or none), got {cap!r}")

    def per_item(self) -> int | None:
        """Return how many pairs an item keeps at most (None: all)."""
        if self.strategy == "best-worst":
            return 1
        return self.max_per_prompt

    def as_dict(self) -> dict[str, Any]:
        """Return the pairing as a JSON-able dict."""
        return {"strategy": self.strategy, "max_per_prompt": self.max_per_prompt}


@dataclass
class Selection:
    """What :func:`select_pairs` found.

    ``pairs``: one row per exported pair (``item_id``, ``chosen_id``, ``rejected_id``,
    ``n_annotators``, ``agreement``, ``margin``, ``n_preference_votes``, ``preference_share``,
    ``n_contradicting``: the preference votes that contradict the pair), in sample order. ``kto``: one row per candidate with a clear verdict (``item_id``,
    ``candidate_id``, ``label``, ``n_annotators``, ``agreement``). ``items``: ``item_id`` and
    ``reason`` for every sample. ``candidates``: the vote counts and ``verdict`` of every
    candidate. ``counts``: the totals for the summary.
    """

    pairs: pd.DataFrame
    kto: pd.DataFrame
    items: pd.DataFrame
    candidates: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)

    def reasons(self) -> dict[str, int]:
        """Return ``{reason: number of items}`` for the items that were not exported."""
        vc = self.items["reason"].value_counts()
        return {r: int(vc[r]) for r in REASONS if r != "exported" and r in vc.index}


def candidates_frame(items: Iterable[tuple[str, Sequence[str]]]) -> pd.DataFrame:
    """Build the ``(item_id, candidate_id)`` frame of the samples, in their order.

    >>> candidates_frame([("s1", ["a", "b"]), ("s2", ["c", "d"])]).values.tolist()
    [['s1', 'a'], ['s1', 'b'], ['s2', 'c'], ['s2', 'd']]
    """
    item_ids: list[str] = []
    cand_ids: list[str] = []
    for item_id, cands in items:
        for cid in cands:
            item_ids.append(item_id)
            cand_ids.append(cid)
    return pd.DataFrame({"item_id": item_ids, "candidate_id": cand_ids}, dtype=object)


def counted(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the counted rows (submitted, not a judge) and how many rows were left out, by why.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s", "question": "q", "annotator": a, "value": 1, "status": st}
    ...                 for a, st in [("ann1", "submitted"), ("judge:x", "submitted"), ("ann2", "draft")]])
    >>> rows, ignored = counted(t)
    >>> rows["annotator"].tolist(), ignored
    (['ann1'], {'not_submitted': 1, 'judge': 1})
    """
    submitted = (table["status"] == "submitted").to_numpy()
    # Few distinct annotators: test the prefix once per name, not once per row.
    codes, names = pd.factorize(table["annotator"])
    is_judge = np.fromiter((str(a).startswith(JUDGE_PREFIX) for a in names), dtype=bool, count=len(names))
    judge = is_judge[codes] if len(names) else np.zeros(len(table), dtype=bool)
    keep = submitted & ~judge
    ignored = {"not_submitted": int((~submitted).sum()), "judge": int((submitted & judge).sum())}
    return (table if keep.all() else table.loc[keep]), ignored


#: Kinds of annotators behind an export, as the dataset card names them.
ANNOTATOR_KINDS = ("people", "simulated", "judges")


def annotator_kinds(
    table: pd.DataFrame, simulated: Sequence[str] = (), items: Iterable[str] | None = None
) -> dict[str, Any]:
    """Return who is behind the rows of ``items`` (all items when None), by kind.

    ``people`` and ``simulated`` count the annotators of the counted rows (:func:`counted`);
    an annotator is *simulated* when its name matches one of the ``simulated`` glob patterns
    (``fnmatch``, case-sensitive), a person otherwise: nothing is guessed from a name's look.
    ``judges`` lists the ``judge:`` annotators (never votes, compared with people only), and
    ``unmatched_patterns`` the patterns that matched no annotator at all.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s1", "candidate_id": "a", "question": "tone_zone", "annotator": a, "value": 0}
    ...                 for a in ("ana", "sim-bot-1", "sim-bot-2", "judge:gpt-4o")])
    >>> annotator_kinds(t, ["sim-*", "robo-*"])
    {'people': 1, 'simulated': 2, 'judges': ['judge:gpt-4o'], 'unmatched_patterns': ['robo-*']}
    """
    if items is not None:
        table = table[table["item_id"].isin(list(items))]
    rows, _ = counted(table)
    voters = [str(a) for a in pd.unique(rows["annotator"])]
    everyone = [str(a) for a in pd.unique(table["annotator"])]
    is_sim = {a: any(fnmatchcase(a, p) for p in simulated) for a in voters}
    return {
        "people": sum(not v for v in is_sim.values()),
        "simulated": sum(is_sim.values()),
        "judges": sorted(a for a in everyone if a.startswith(JUDGE_PREFIX)),
        "unmatched_patterns": [p for p in simulated if not any(fnmatchcase(a, p) for a in everyone)],
    }


def _n_flags(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return 0 if value.strip() in ("", "[]") else 1
    if isinstance(value, float):
        return 0  # NaN: no answer
    try:
        return len(value)
    except TypeError:
        return 1


def _keep_last(keys: np.ndarray) -> np.ndarray:
    """Boolean mask keeping the last occurrence of each key (the annotator's last answer)."""
    return np.asarray(~pd.Series(keys).duplicated(keep="last").to_numpy(), dtype=bool) if len(keys) else np.zeros(0, bool)


def _positions(index: pd.Index, values: Any) -> np.ndarray:
    """``index.get_indexer(values)`` as int64 (-1 when absent); accepts arrays as well as Index."""
    getter: Any = index.get_indexer  # the stubs accept only Index; arrays avoid a 1M-row copy
    return np.asarray(getter(values), dtype=np.int64)


def _shares(part: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.where(n > 0, part / np.maximum(n, 1), 0.0)


@dataclass
class _Codes:
    """Integer codes of the counted rows, so every grouping is a bincount or an int64 hash."""

    item: np.ndarray  # index into the sample items, -1 when unknown
    cand: np.ndarray  # index into the candidates frame, -1 when unknown or an item question
    ann: np.ndarray  # annotator code
    n_ann: int
    cand_key_of_value: Any  # maps a value (a candidate id) of a row's item to a candidate index


def _codes(rows: pd.DataFrame, cands: pd.DataFrame, item_index: pd.Index) -> _Codes:
    item = _positions(item_index, rows["item_id"].to_numpy())
    # Key every (item, candidate) pair by (item index, candidate-id code over frame and rows).
    all_codes, cand_uniques = pd.factorize(
        np.concatenate([cands["candidate_id"].to_numpy(dtype=object), rows["candidate_id"].to_numpy(dtype=object)])
    )
    uniq = pd.Index(cand_uniques)
    frame_item = _positions(item_index, cands["item_id"].to_numpy())
    frame_cand = np.asarray(all_codes[: len(cands)], dtype=np.int64)
    width = len(uniq) + 1
    frame_keys = pd.Index(frame_item * width + frame_cand)
    row_keys = item * width + np.asarray(all_codes[len(cands):], dtype=np.int64)
    cand = _positions(frame_keys, row_keys)
    cand[item < 0] = -1
    ann_codes, ann_uniques = pd.factorize(rows["annotator"])

    def cand_key_of_value(row_item: np.ndarray, values: pd.Series) -> np.ndarray:
        vcodes = _positions(uniq, values.astype(str).to_numpy())
        out = _positions(frame_keys, row_item * width + vcodes)
        out[(vcodes < 0) | (row_item < 0)] = -1
        return out

    return _Codes(item, cand, np.asarray(ann_codes, dtype=np.int64), len(ann_uniques), cand_key_of_value)


def _ties_including(
    t_item: np.ndarray,
    t_ann: np.ndarray,
    v_item: np.ndarray,
    v_ann: np.ndarray,
    v_cand: np.ndarray,
    v_good: np.ndarray,
    n_ann: int,
    cand_item: np.ndarray,
    n_items: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Per candidate, the tie votes that include it among the best (their summed ``weights``).

    ``t_item``/``t_ann``: the tie votes (one per voter and item), ``weights`` theirs (1 each when
    None). ``v_*``: one entry per (candidate, annotator) verdict. A tie joins the candidates its
    voter judged good when there are two or more; otherwise it joins every candidate of the item.

    >>> zero = np.array([0])
    >>> # item 0 has candidates 0, 1, 2; annotator 0 judged 0 and 1 good, 2 bad, and voted tie
    >>> _ties_including(zero, zero, np.array([0, 0, 0]), np.array([0, 0, 0]), np.array([0, 1, 2]),
    ...                 np.array([True, True, False]), 1, np.array([0, 0, 0]), 1).tolist()
    [1.0, 1.0, 0.0]
    >>> # the same voter judged only candidate 0 good: the tie could be about any candidate
    >>> _ties_including(zero, zero, np.array([0, 0, 0]), np.array([0, 0, 0]), np.array([0, 1, 2]),
    ...                 np.array([True, False, False]), 1, np.array([0, 0, 0]), 1, weights=np.array([0.5])).tolist()
    [0.5, 0.5, 0.5]
    """
    n_c = len(cand_item)
    out = np.zeros(n_c, dtype=np.float64)
    if not len(t_item):
        return out
    w = np.ones(len(t_item)) if weights is None else np.asarray(weights, dtype=np.float64)
    tie_keys = pd.Index(t_item * n_ann + t_ann)
    # For each (candidate, annotator) verdict that is good, which tie vote (if any) it belongs to.
    where = _positions(tie_keys, (v_item * n_ann + v_ann)[v_good])
    mine = where >= 0
    n_good = np.bincount(where[mine], minlength=len(tie_keys))
    known = n_good >= 2
    in_known = mine.copy()
    in_known[mine] = known[where[mine]]
    out += np.bincount(v_cand[v_good][in_known], weights=w[where[in_known]], minlength=n_c)
    unknown_per_item = np.bincount(t_item[~known], weights=w[~known], minlength=n_items)
    out += unknown_per_item[cand_item]
    return out


@dataclass(frozen=True)
class Anchors:
    """Gold items for the weighted consensus: their annotation rows and their candidates' known verdicts.

    ``rows`` are the gold items' annotation rows (the same columns as the table); ``known`` has
    ``item_id``, ``candidate_id`` and ``good`` (True: in the zone and unflagged; False: out of the
    zone or flagged) for every gold candidate whose verdict the gold answers settle
    (:func:`brun_label.agreement.gold.known_verdicts`). With ``consensus="dawid-skene"`` the model
    learns each annotator's error rates from the gold items too, their verdicts held at the known
    ones; gold items never become pairs, KTO rows or item reasons. The counted consensus ignores them.
    """

    rows: pd.DataFrame
    known: pd.DataFrame


def _with_anchors(table: pd.DataFrame, candidates: pd.DataFrame,
                  anchors: Anchors) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The table and candidates with the gold items appended, and the known verdicts (-1, 0, 1) per candidate."""
    known = anchors.known[["item_id", "candidate_id", "good"]]
    both = set(known["item_id"].astype(str)) & set(candidates["item_id"].astype(str))
    if both:
        raise ValueError(f"gold item {sorted(both)[0]!r} is also a sample to export: gold never becomes a pair")
    cands = pd.concat([candidates[["item_id", "candidate_id"]].astype(object),
                       known[["item_id", "candidate_id"]].astype(object)], ignore_index=True)
    verdict = np.full(len(cands), -1, dtype=np.int64)
    verdict[len(candidates):] = known["good"].astype(bool).to_numpy().astype(np.int64)
    rows = anchors.rows[anchors.rows["item_id"].isin(set(known["item_id"]))]
    return pd.concat([table, rows], ignore_index=True), cands, verdict


@dataclass(frozen=True)
class _Tally:
    """Preference votes per candidate (``votes_for``, ``tie_with``) and per item (``both_bad``, ``n_pref``)."""

    votes_for: np.ndarray
    tie_with: np.ndarray
    both_bad: np.ndarray
    n_pref: np.ndarray

    @classmethod
    def empty(cls, n_c: int, n_i: int) -> _Tally:
        return cls(np.zeros(n_c, np.int64), np.zeros(n_c, np.int64), np.zeros(n_i, np.int64), np.zeros(n_i, np.int64))

    def as_counts(self) -> _Tally:
        """The same tallies as integers (unit weights)."""
        return _Tally(*(np.rint(a).astype(np.int64) for a in (self.votes_for, self.tie_with, self.both_bad, self.n_pref)))


def select_pairs(
    table: pd.DataFrame,
    candidates: pd.DataFrame,
    rubric: Rubric,
    gates: Gates | None = None,
    pairing: Pairing | None = None,
    anchors: Anchors | None = None,
) -> Selection:
    """Select the pairs, KTO rows and item reasons (see the module docstring for the rules).

    ``candidates`` is :func:`candidates_frame` of the samples: only these items and candidates can
    be exported, in this order; table rows about other items or candidates are counted in
    ``counts["unknown_items"]`` / ``counts["unknown_candidates"]`` and otherwise ignored.
    ``anchors`` (gold items, :class:`Anchors`) inform the ``dawid-skene`` consensus only.
    """
    gates = gates or Gates()
    pairing = pairing or Pairing()
    n_table_rows = len(table)
    n_real_c = len(candidates)
    known_verdict: np.ndarray | None = None
    if anchors is not None and gates.consensus == "dawid-skene" and len(anchors.known):
        # appended after the samples: items and candidates below n_real_* are the samples'
        table, candidates, known_verdict = _with_anchors(table, candidates, anchors)
    zq = rubric.zone_question()
    if zq is None:
        raise GateConfigError("rubric", f"rubric {rubric.name!r} has no zone question (a scale with a target)")
    flag_names = [q.name for q in rubric.flag_questions()]
    pq = rubric.preference_question()

    rows, ignored = counted(table)
    cands = candidates.reset_index(drop=True)
    n_c = len(cands)
    item_index = pd.Index(pd.unique(cands["item_id"]))
    n_i = len(item_index)
    cand_item = _positions(item_index, cands["item_id"].to_numpy())
    codes = _codes(rows, cands, item_index)
    question = rows["question"].to_numpy()
    is_cand_q = (rows["candidate_id"] != "").to_numpy()

    # 1. Zone votes: one per (candidate, annotator), the last one; values outside the options ignored.
    zmask = is_cand_q & (question == zq.name)
    zvals = rows["value"].to_numpy()[zmask]
    zser = pd.Series(zvals, dtype=object)
    valid = zser.isin(zq.values()).to_numpy()
    n_invalid = int((~valid & zser.notna().to_numpy()).sum())  # a blank answer is missing, not invalid
    z_cand = codes.cand[zmask][valid]
    z_ann = codes.ann[zmask][valid]
    z_in = np.asarray(zvals[valid] == zq.target, dtype=bool)
    # 2. Flag answers: the last one per (candidate, annotator, flag question).
    fmask = (
        is_cand_q & np.isin(question, flag_names) & rows["value"].notna().to_numpy()
        if flag_names else np.zeros(len(rows), bool)
    )
    f_cand = codes.cand[fmask]
    f_ann = codes.ann[fmask]
    f_q = pd.Index(flag_names).get_indexer(pd.Index(question[fmask])) if flag_names else np.zeros(0, np.int64)
    fvals = rows["value"].to_numpy()[fmask]
    f_flag = np.fromiter((_n_flags(v) > 0 for v in fvals), dtype=bool, count=len(fvals))

    # Unknown items and candidates (counted, never exported).
    unknown_items = int(pd.unique(rows["item_id"].to_numpy()[codes.item < 0]).size)
    about_cand = zmask | fmask
    unknown = about_cand & (codes.item >= 0) & (codes.cand < 0)
    unknown_cands = len(rows.loc[unknown, ["item_id", "candidate_id"]].drop_duplicates())

    # 3. One verdict per (candidate, annotator) of the known candidates.
    z_ok = z_cand >= 0
    z_key = z_cand[z_ok] * codes.n_ann + z_ann[z_ok]
    z_last = _keep_last(z_key)
    z_key, z_in = z_key[z_last], z_in[z_ok][z_last]
    f_ok = f_cand >= 0
    f_key = f_cand[f_ok] * codes.n_ann + f_ann[f_ok]
    f_last = _keep_last(f_key * max(len(flag_names), 1) + np.asarray(f_q, dtype=np.int64)[f_ok])
    f_key, f_flag = f_key[f_last], f_flag[f_ok][f_last]
    voters = pd.DataFrame({
        "key": np.concatenate([z_key, f_key]),
        "in_zone": np.concatenate([z_in, np.zeros(len(f_key), bool)]),
        "out_zone": np.concatenate([~z_in, np.zeros(len(f_key), bool)]),
        "flagged": np.concatenate([np.zeros(len(z_key), bool), f_flag]),
    }).groupby("key", sort=False).max()
    v_cand = np.asarray(voters.index.to_numpy() // codes.n_ann, dtype=np.int64)
    v_flag = voters["flagged"].to_numpy()
    v_good = voters["in_zone"].to_numpy() & ~v_flag
    v_bad = voters["out_zone"].to_numpy() | v_flag

    # 4. Per candidate: counts and the consensus verdict.
    n = np.bincount(v_cand, minlength=n_c).astype(np.int64)
    n_good = np.bincount(v_cand, weights=v_good, minlength=n_c).astype(np.int64)
    n_bad = np.bincount(v_cand, weights=v_bad, minlength=n_c).astype(np.int64)
    n_flagged = np.bincount(v_cand, weights=v_flag, minlength=n_c).astype(np.int64)
    nf = n.astype(float)
    enough = n >= gates.min_annotators
    v_ann = np.asarray(voters.index.to_numpy() % codes.n_ann, dtype=np.int64)
    weights = np.ones(codes.n_ann)
    p_good = np.full(n_c, np.nan)
    if gates.consensus == "dawid-skene":
        # Reliability-weighted consensus: the flag is part of the verdict (bad = out of zone or
        # flagged), weighed like the zone; max_flag_share and min_share do not apply.
        p_good, weights = verdict_posteriors(v_cand, v_ann, v_good, n_candidates=n_c, n_annotators=codes.n_ann,
                                             known=known_verdict)
        known = ~np.isnan(p_good)
        good = enough & known & (np.nan_to_num(p_good) >= gates.min_posterior - _EPS)
        bad = enough & known & ~good & (1.0 - np.nan_to_num(p_good, nan=1.0) >= gates.min_posterior - _EPS)
    else:
        good = enough & (n_good >= gates.min_share * nf - _EPS) & (n_flagged <= gates.max_flag_share * nf + _EPS)
        bad = enough & ~good & (n_bad >= gates.min_share * nf - _EPS)
    verdict = np.select([good, bad, ~enough], ["good", "bad", "thin"], default="split")
    good_share, bad_share = _shares(n_good, n), _shares(n_bad, n)
    verdicts = pd.DataFrame({
        "item_id": cands["item_id"].to_numpy(), "candidate_id": cands["candidate_id"].to_numpy(),
        "n": n, "n_good": n_good, "n_bad": n_bad, "n_flagged": n_flagged, "verdict": verdict,
        "good_share": good_share, "bad_share": bad_share, "p_good": p_good,
    })

    # 5. Preference votes per item: for each candidate, for tie, for both_bad, in total; and per
    #    candidate the ties that include it (see "What a preference vote says about a pair").
    #    Counted once as votes (reported) and once weighed (decisive: the same with share).
    tally = _Tally.empty(n_c, n_i)
    weighed = tally
    if pq is not None:
        pmask = (question == pq.name) & (codes.item >= 0)
        p_item, p_ann = codes.item[pmask], codes.ann[pmask]
        pvals = rows["value"][pmask]
        p_last = _keep_last(p_item * codes.n_ann + p_ann) & pvals.notna().to_numpy()
        # keep_last must see every answer (a later blank replaces an earlier vote), so filter after.
        p_item, p_ann, pvals = p_item[p_last], p_ann[p_last], pvals[p_last].astype(str)
        p_cand = codes.cand_key_of_value(p_item, pvals)
        is_tie = (pvals == TIE).to_numpy()
        is_both_bad = (pvals == BOTH_BAD).to_numpy()
        ties = (p_item[is_tie], p_ann[is_tie], cand_item[v_cand], v_ann, v_cand, v_good, codes.n_ann, cand_item, n_i)

        def tally_of(w: np.ndarray) -> _Tally:
            wp = w[p_ann]
            return _Tally(
                votes_for=np.bincount(p_cand[p_cand >= 0], weights=wp[p_cand >= 0], minlength=n_c),
                tie_with=_ties_including(*ties, weights=wp[is_tie]),
                both_bad=np.bincount(p_item, weights=wp * is_both_bad, minlength=n_i),
                n_pref=np.bincount(p_item, weights=wp, minlength=n_i),
            )

        tally = tally_of(np.ones(codes.n_ann)).as_counts()
        weighed = tally if gates.consensus == "share" else tally_of(weights)
    votes_for, both_bad, n_pref = tally.votes_for, tally.both_bad, tally.n_pref
    slack = 1.0 - gates.min_share
    # Votes that put a candidate among the best: a vote for it, or a tie that includes it.
    among_best = tally.votes_for + tally.tie_with
    w_among_best = weighed.votes_for + weighed.tie_with

    def not_contradicted(against: np.ndarray, total: np.ndarray) -> np.ndarray:
        if gates.consensus == "share":
            return np.asarray(against <= slack * total + _EPS, dtype=bool)
        # the weighted majority: contradicted when the votes against weigh half or more
        return np.asarray((against <= _EPS) | (against < 0.5 * total - _EPS), dtype=bool)

    # 6. Pairs: every (good, bad) combination within an item that the votes do not contradict,
    #    ranked within the item (clearest first), cut by the pairing strategy, in sample order.
    gpos = np.flatnonzero(good)
    bpos = np.flatnonzero(bad)
    pairs = pd.DataFrame({"item": cand_item[gpos], "c": gpos}).merge(
        pd.DataFrame({"item": cand_item[bpos], "r": bpos}), on="item", sort=False
    ).sort_values(["c", "r"], kind="stable")
    pi, pc, pr = pairs["item"].to_numpy(), pairs["c"].to_numpy(), pairs["r"].to_numpy()
    contra = among_best[pr] + both_bad[pi]
    ok = not_contradicted(w_among_best[pr] + weighed.both_bad[pi], weighed.n_pref[pi])
    sel = np.flatnonzero(ok)
    cap = pairing.per_item()
    n_capped = 0
    if cap is not None and len(sel):
        # Within an item the rank needs no position key: c and r are already in sample order.
        ranked = np.lexsort((
            pr[sel], pc[sel], among_best[pr[sel]], -bad_share[pr[sel]], -votes_for[pc[sel]],
            -good_share[pc[sel]], pi[sel],
        ))
        order = sel[ranked]
        rank = pd.Series(pi[order]).groupby(pi[order], sort=False).cumcount().to_numpy()
        kept = np.sort(order[rank < cap])
        n_capped = len(sel) - len(kept)
        sel = kept
    selected = pd.DataFrame({
        "item_id": cands["item_id"].to_numpy()[pc[sel]],
        "chosen_id": cands["candidate_id"].to_numpy()[pc[sel]],
        "rejected_id": cands["candidate_id"].to_numpy()[pr[sel]],
        "n_annotators": np.minimum(n[pc[sel]], n[pr[sel]]),
        "agreement": np.minimum(good_share[pc[sel]], bad_share[pr[sel]]),
        "margin": good_share[pc[sel]] - good_share[pr[sel]],
        "n_preference_votes": n_pref[pi[sel]],
        "preference_share": np.where(
            n_pref[pi[sel]] > 0, votes_for[pc[sel]] / np.maximum(n_pref[pi[sel]], 1), np.nan
        ),
        "n_contradicting": contra[sel],
    })

    # 7. KTO rows: every candidate with a clear verdict that the preference votes do not contradict.
    clear = np.flatnonzero(good | bad)
    is_good = good[clear]
    k_contra = np.where(is_good, weighed.both_bad[cand_item[clear]], w_among_best[clear])
    k_ok = not_contradicted(k_contra, weighed.n_pref[cand_item[clear]])
    kc = clear[k_ok]
    kto = pd.DataFrame({
        "item_id": cands["item_id"].to_numpy()[kc],
        "candidate_id": cands["candidate_id"].to_numpy()[kc],
        "label": good[kc],
        "n_annotators": n[kc],
        "agreement": np.where(good[kc], good_share[kc], bad_share[kc]),
    })

    # 8. One reason per item.
    def per_item(mask: np.ndarray) -> np.ndarray:
        return np.bincount(cand_item, weights=mask, minlength=n_i)

    c_all = per_item(np.ones(n_c, bool))
    p_all = np.bincount(pi, minlength=n_i)
    p_ok = np.bincount(pi[sel], minlength=n_i)
    reason = np.select(
        [
            p_ok > 0,
            p_all > 0,
            per_item(n == 0) == c_all,
            per_item(bad) == c_all,
            per_item(good) == c_all,
            per_item(~enough) > 0,
        ],
        list(REASONS[:6]),
        default="split",
    )
    items = pd.DataFrame({"item_id": item_index.to_numpy(), "reason": reason})

    # Gold anchors only informed the model: every output is the samples' alone (pairs, KTO rows
    # and reasons are per item, so leaving the gold items out afterwards changes nothing else).
    n_real_i = int(pd.unique(cands["item_id"].to_numpy()[:n_real_c]).size)
    real_pair = pi < n_real_i
    if known_verdict is not None:
        selected = selected[pc[sel] < n_real_c].reset_index(drop=True)
        kto = kto[kc < n_real_c].reset_index(drop=True)
        items = items.iloc[:n_real_i].reset_index(drop=True)
        verdicts = verdicts.iloc[:n_real_c].reset_index(drop=True)
    counts: dict[str, Any] = {
        "rows": n_table_rows,
        "counted_rows": len(rows),
        "ignored_rows": ignored,
        "invalid_votes": n_invalid,
        "items": n_real_i,
        "candidates": n_real_c,
        "verdicts": {k: int((verdict[:n_real_c] == k).sum()) for k in VERDICTS},
        "pairs": len(selected),
        "pairs_contradicted": int((~ok & real_pair).sum()),
        "pairs_eligible": int((ok & real_pair).sum()),
        "pairs_capped": n_capped,
        "kto_rows": len(kto),
        "unknown_items": unknown_items,
        "unknown_candidates": unknown_cands,
    }
    if known_verdict is not None:
        counts["gold_anchor_items"] = n_i - n_real_i
        counts["gold_anchor_rows"] = len(table) - n_table_rows
    return Selection(pairs=selected, kto=kto, items=items, candidates=verdicts, counts=counts)
