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
*Pair*
    every (good, bad) combination of candidates of the same item whose explicit preference votes
    (when present) do not contradict it: the votes for the rejected candidate, ``tie`` or
    ``both_bad`` must be at most ``1 - min_share`` of the item's preference votes.
*KTO rows*
    every good candidate (``label`` true) unless ``both_bad`` votes contradict it, and every bad
    candidate (``label`` false) unless votes for it contradict it; this is where ``both bad``
    items and ties go.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brun_label.model import JUDGE_PREFIX
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

    >>> Gates()
    Gates(min_annotators=3, min_share=0.8, max_flag_share=0.0)
    >>> try:
    ...     Gates(min_share=0.5)
    ... except GateConfigError as exc:
    ...     print(exc)
    min_share: must be above 0.5 and at most 1, got 0.5
    """

    min_annotators: int = 3
    min_share: float = 0.8
    max_flag_share: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.min_annotators, bool) or not isinstance(self.min_annotators, int) or self.min_annotators < 1:
            raise GateConfigError("min_annotators", f"must be an integer >= 1, got {self.min_annotators!r}")
        # Above one half, "good" and "bad" by consensus can never both hold for one candidate.
        if not 0.5 < self.min_share <= 1.0:
            raise GateConfigError("min_share", f"must be above 0.5 and at most 1, got {self.min_share!r}")
        if not 0.0 <= self.max_flag_share < 1.0:
            raise GateConfigError("max_flag_share", f"must be in [0, 1), got {self.max_flag_share!r}")

    def as_dict(self) -> dict[str, Any]:
        """Return the gates as a JSON-able dict."""
        return {
            "min_annotators": self.min_annotators,
            "min_share": self.min_share,
            "max_flag_share": self.max_flag_share,
        }


@dataclass
class Selection:
    """What :func:`select_pairs` found.

    ``pairs``: one row per exported pair (``item_id``, ``chosen_id``, ``rejected_id``,
    ``n_annotators``, ``agreement``, ``margin``, ``n_preference_votes``, ``preference_share``), in
    sample order. ``kto``: one row per candidate with a clear verdict (``item_id``,
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
    judge = table["annotator"].astype(str).str.startswith(JUDGE_PREFIX).to_numpy()
    keep = submitted & ~judge
    ignored = {"not_submitted": int((~submitted).sum()), "judge": int((submitted & judge).sum())}
    return table.loc[keep], ignored


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


def _last(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.drop_duplicates(keys, keep="last")


def annotator_verdicts(rows: pd.DataFrame, rubric: Rubric) -> tuple[pd.DataFrame, int]:
    """Return one row per (item, candidate, annotator) with ``good``, ``bad``, ``flagged`` (0/1).

    ``rows`` are counted rows. Also returns how many zone votes had a value that is not an option.
    """
    zq = rubric.zone_question()
    if zq is None:
        raise GateConfigError("rubric", f"rubric {rubric.name!r} has no zone question (a scale with a target)")
    flag_names = [q.name for q in rubric.flag_questions()]
    is_cand = rows["candidate_id"] != ""
    zone = rows.loc[is_cand & (rows["question"] == zq.name), [*_KEYS, "value"]]
    zone = _last(zone, _KEYS)
    valid = zone["value"].isin(zq.values())
    n_invalid = int((~valid).sum())
    zone = zone.loc[valid]
    in_zone = (zone["value"] == zq.target).to_numpy()
    zone_part = pd.DataFrame({
        "item_id": zone["item_id"].to_numpy(),
        "candidate_id": zone["candidate_id"].to_numpy(),
        "annotator": zone["annotator"].to_numpy(),
        "in_zone": in_zone.astype(np.int8),
        "out_zone": (~in_zone).astype(np.int8),
        "flagged": np.zeros(len(zone), dtype=np.int8),
    })
    parts = [zone_part]
    if flag_names:
        flags = rows.loc[is_cand & rows["question"].isin(flag_names), [*_KEYS, "question", "value"]]
        flags = _last(flags, [*_KEYS, "question"])
        n = np.fromiter((_n_flags(v) for v in flags["value"].to_numpy()), dtype=np.int64, count=len(flags))
        parts.append(pd.DataFrame({
            "item_id": flags["item_id"].to_numpy(),
            "candidate_id": flags["candidate_id"].to_numpy(),
            "annotator": flags["annotator"].to_numpy(),
            "in_zone": np.zeros(len(flags), dtype=np.int8),
            "out_zone": np.zeros(len(flags), dtype=np.int8),
            "flagged": (n > 0).astype(np.int8),
        }))
    votes = pd.concat(parts, ignore_index=True) if len(parts) > 1 else zone_part
    per = votes.groupby(_KEYS, sort=False, observed=True)[["in_zone", "out_zone", "flagged"]].max()
    flagged = per["flagged"].to_numpy()
    out = pd.DataFrame({
        "good": ((per["in_zone"].to_numpy() == 1) & (flagged == 0)).astype(np.int8),
        "bad": ((per["out_zone"].to_numpy() == 1) | (flagged == 1)).astype(np.int8),
        "flagged": flagged.astype(np.int8),
    }, index=per.index).reset_index()
    return out, n_invalid


def candidate_verdicts(per_annotator: pd.DataFrame, candidates: pd.DataFrame, gates: Gates) -> pd.DataFrame:
    """Return every sample candidate with ``n``, ``n_good``, ``n_bad``, ``n_flagged`` and ``verdict``.

    Candidates nobody voted on get ``n == 0`` (verdict ``thin``).
    """
    agg = per_annotator.groupby(["item_id", "candidate_id"], sort=False, observed=True).agg(
        n=("good", "size"), n_good=("good", "sum"), n_bad=("bad", "sum"), n_flagged=("flagged", "sum")
    ).reset_index()
    out = candidates.merge(agg, on=["item_id", "candidate_id"], how="left", sort=False)
    for col in ("n", "n_good", "n_bad", "n_flagged"):
        out[col] = out[col].fillna(0).astype(np.int64)
    n = out["n"].to_numpy().astype(float)
    enough = n >= gates.min_annotators
    good = (
        enough
        & (out["n_good"].to_numpy() >= gates.min_share * n - _EPS)
        & (out["n_flagged"].to_numpy() <= gates.max_flag_share * n + _EPS)
    )
    bad = enough & ~good & (out["n_bad"].to_numpy() >= gates.min_share * n - _EPS)
    out["verdict"] = np.select([good, bad, ~enough], ["good", "bad", "thin"], default="split")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["good_share"] = np.where(n > 0, out["n_good"].to_numpy() / np.maximum(n, 1), 0.0)
        out["bad_share"] = np.where(n > 0, out["n_bad"].to_numpy() / np.maximum(n, 1), 0.0)
    return out


def preference_votes(rows: pd.DataFrame, rubric: Rubric) -> tuple[pd.DataFrame, pd.Series]:
    """Return ``(votes, totals)``: counted preference votes per ``(item_id, value)`` and per item.

    ``votes`` has columns ``item_id``, ``value``, ``votes``; ``totals`` maps item ids to the number
    of annotators who gave a preference. Empty when the rubric has no preference question.
    """
    pq = rubric.preference_question()
    if pq is None:
        return pd.DataFrame({"item_id": [], "value": [], "votes": []}), pd.Series(dtype=np.int64)
    pref = rows.loc[rows["question"] == pq.name, ["item_id", "annotator", "value"]]
    pref = _last(pref, ["item_id", "annotator"])
    pref = pref.loc[pref["value"].notna()]
    values = pref["value"].astype(str)
    votes = (
        pd.DataFrame({"item_id": pref["item_id"].to_numpy(), "value": values.to_numpy()})
        .groupby(["item_id", "value"], sort=False).size().rename("votes").reset_index()
    )
    totals = votes.groupby("item_id", sort=False)["votes"].sum()
    return votes, totals


def _lookup_votes(frame: pd.DataFrame, votes: pd.DataFrame, value_col: str | None, const: str | None) -> np.ndarray:
    """Votes per row of ``frame`` for the value in ``frame[value_col]`` (or the constant ``const``)."""
    if votes.empty or frame.empty:
        return np.zeros(len(frame), dtype=np.int64)
    keys = pd.DataFrame({
        "item_id": frame["item_id"].to_numpy(),
        "value": frame[value_col].to_numpy() if value_col is not None else const,
    })
    merged = keys.merge(votes, on=["item_id", "value"], how="left", sort=False)
    return np.asarray(merged["votes"].fillna(0).to_numpy(), dtype=np.int64)


def select_pairs(
    table: pd.DataFrame,
    candidates: pd.DataFrame,
    rubric: Rubric,
    gates: Gates | None = None,
) -> Selection:
    """Select the pairs, KTO rows and item reasons (see the module docstring for the rules).

    ``candidates`` is :func:`candidates_frame` of the samples: only these items and candidates can
    be exported, in this order; table rows about other items or candidates are counted in
    ``counts["unknown_items"]`` / ``counts["unknown_candidates"]`` and otherwise ignored.
    """
    gates = gates or Gates()
    rows, ignored = counted(table)
    per_ann, n_invalid = annotator_verdicts(rows, rubric)
    cands = candidates.reset_index(drop=True)
    cand_pos = pd.Series(np.arange(len(cands)), index=pd.MultiIndex.from_frame(cands[["item_id", "candidate_id"]]))
    verdicts = candidate_verdicts(per_ann, cands, gates)
    verdicts["pos"] = np.arange(len(verdicts))

    known_items = pd.Index(cands["item_id"].unique())
    table_items = pd.Index(rows["item_id"].unique())
    unknown_items = int((~table_items.isin(known_items)).sum())
    voted = per_ann[["item_id", "candidate_id"]].drop_duplicates()
    voted = voted.loc[voted["item_id"].isin(known_items)]
    unknown_cands = int((~pd.MultiIndex.from_frame(voted).isin(cand_pos.index)).sum())

    votes, totals = preference_votes(rows, rubric)
    slack = 1.0 - gates.min_share

    # Pairs: every (good, bad) combination within an item.
    good = verdicts.loc[verdicts["verdict"] == "good"]
    bad = verdicts.loc[verdicts["verdict"] == "bad"]
    cols = ["item_id", "candidate_id", "n", "good_share", "bad_share", "pos"]
    pairs = good[cols].merge(bad[cols], on="item_id", suffixes=("_c", "_r"), sort=False)
    n_pref = pairs["item_id"].map(totals).fillna(0).to_numpy().astype(np.int64)
    contra = (
        _lookup_votes(pairs, votes, "candidate_id_r", None)
        + _lookup_votes(pairs, votes, None, TIE)
        + _lookup_votes(pairs, votes, None, BOTH_BAD)
    )
    for_chosen = _lookup_votes(pairs, votes, "candidate_id_c", None)
    ok = contra <= slack * n_pref + _EPS
    pairs_all = pd.DataFrame({
        "item_id": pairs["item_id"].to_numpy(),
        "chosen_id": pairs["candidate_id_c"].to_numpy(),
        "rejected_id": pairs["candidate_id_r"].to_numpy(),
        "n_annotators": np.minimum(pairs["n_c"].to_numpy(), pairs["n_r"].to_numpy()).astype(np.int64),
        "agreement": np.minimum(pairs["good_share_c"].to_numpy(), pairs["bad_share_r"].to_numpy()),
        "margin": pairs["good_share_c"].to_numpy() - pairs["good_share_r"].to_numpy(),
        "n_preference_votes": n_pref,
        "preference_share": np.where(n_pref > 0, for_chosen / np.maximum(n_pref, 1), np.nan),
        "_pos": pairs["pos_c"].to_numpy() * (len(cands) + 1) + pairs["pos_r"].to_numpy(),
        "_ok": ok,
    })
    pairs_all = pairs_all.sort_values("_pos", kind="stable")
    selected = pairs_all.loc[pairs_all["_ok"]].drop(columns=["_pos", "_ok"]).reset_index(drop=True)

    # KTO rows: every candidate with a clear verdict that the preference votes do not contradict.
    clear = verdicts.loc[verdicts["verdict"].isin(["good", "bad"])]
    is_good = (clear["verdict"] == "good").to_numpy()
    k_pref = clear["item_id"].map(totals).fillna(0).to_numpy().astype(np.int64)
    k_contra = np.where(
        is_good,
        _lookup_votes(clear, votes, None, BOTH_BAD),
        _lookup_votes(clear, votes, "candidate_id", None),
    )
    k_ok = k_contra <= slack * k_pref + _EPS
    kto = pd.DataFrame({
        "item_id": clear["item_id"].to_numpy(),
        "candidate_id": clear["candidate_id"].to_numpy(),
        "label": is_good,
        "n_annotators": clear["n"].to_numpy().astype(np.int64),
        "agreement": np.where(is_good, clear["good_share"].to_numpy(), clear["bad_share"].to_numpy()),
    }).loc[k_ok].reset_index(drop=True)

    # One reason per item.
    v = verdicts["verdict"]
    per_item = pd.DataFrame({
        "item_id": verdicts["item_id"].to_numpy(),
        "cands": 1,
        "good": (v == "good").to_numpy().astype(np.int64),
        "bad": (v == "bad").to_numpy().astype(np.int64),
        "thin": (v == "thin").to_numpy().astype(np.int64),
        "zero": (verdicts["n"] == 0).to_numpy().astype(np.int64),
    }).groupby("item_id", sort=False).sum()
    n_pairs = pairs_all.groupby("item_id", sort=False).size()
    n_ok = pairs_all.loc[pairs_all["_ok"]].groupby("item_id", sort=False).size()
    p_all = n_pairs.reindex(per_item.index, fill_value=0).to_numpy()
    p_ok = n_ok.reindex(per_item.index, fill_value=0).to_numpy()
    c = per_item["cands"].to_numpy()
    reason = np.select(
        [
            p_ok > 0,
            p_all > 0,
            per_item["zero"].to_numpy() == c,
            per_item["bad"].to_numpy() == c,
            per_item["good"].to_numpy() == c,
            per_item["thin"].to_numpy() > 0,
        ],
        list(REASONS[:6]),
        default="split",
    )
    items = pd.DataFrame({"item_id": per_item.index.to_numpy(), "reason": reason})

    counts: dict[str, Any] = {
        "rows": len(table),
        "counted_rows": len(rows),
        "ignored_rows": ignored,
        "invalid_votes": n_invalid,
        "items": len(items),
        "candidates": len(verdicts),
        "verdicts": {k: int((v == k).sum()) for k in VERDICTS},
        "pairs": len(selected),
        "pairs_contradicted": int((~pairs_all["_ok"]).sum()),
        "kto_rows": len(kto),
        "unknown_items": unknown_items,
        "unknown_candidates": unknown_cands,
    }
    return Selection(pairs=selected, kto=kto, items=items, candidates=verdicts.drop(columns=["pos"]), counts=counts)
