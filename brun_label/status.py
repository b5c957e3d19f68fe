"""How a project's annotation is going: who did what, how fast, whether agreement holds, what is done.

Pure core (pandas): :func:`project_status` reads the merged annotation table of a project pull,
each platform's table and the counts each platform's server reports, and returns one JSON-able
dict (``brun-label status --json`` prints it; :func:`render_status` is the terminal view).

Definitions (a *response* is one person's answer to one item on one platform, whatever number
of rows it has; LLM-judge rows are never a person's):

* **submitted / drafts / skipped** per person: items with a response of that status (Argilla's
  ``discarded`` counts as skipped); per platform: responses of that status (what the servers
  count: a person's two annotations of one Label Studio task are two), with the per-item sums in
  ``items_by_status``;
* **assigned**: neither platform's community edition assigns items to people (every member is
  offered every item until it has its overlap), so a person's assigned items are those they
  answered plus those still open (fewer submitted responses than the overlap target) that they
  have not answered;
* **throughput**: items submitted (per person, the latest submission counts) whose time
  (``submitted_at``) is in the last hour / day;
* **overlap target**: the project's ``overlap``, else its ``min_annotators`` gate, else 3; the
  **ETA** is the submitted responses still missing for every item to reach it, at the last
  hour's rate (the last day's when the last hour had none; none when neither had any);
* **agreement so far**: Krippendorff's α per question on the submitted human answers, with a
  bootstrap interval (:mod:`brun_label.agreement`);
* **clear consensus**: the export's own rule (:func:`brun_label.exporters.pairs.select_pairs` with
  the project's gates): *exportable now* are the items that would give pairs today, *short of
  votes* those not annotated or with too few annotators.
* **server counts**: what each platform says about itself (Label Studio's project counters,
  Argilla's progress), next to the same counts taken from the pulled table; ``matches`` says
  whether they agree.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> rows = [{"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": a, "value": "c1",
...          "status": st, "platform": "argilla", "submitted_at": "2026-01-01T10:00:00Z"}
...         for a, st in [("ana", "submitted"), ("ben", "draft")]]
>>> s = project_status(make_table(rows), load_rubric("de-escalation"), now="2026-01-01T10:30:00Z", overlap=2)
>>> s["people"]["ana"]["submitted"], s["people"]["ben"]["drafts"], s["throughput"]["last_hour"]
(1, 1, 1)
>>> s["overlap"]["target"], s["overlap"]["remaining_responses"], s["overlap"]["eta_hours"]
(2, 1, 1.0)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from brun_label.model import JUDGE_PREFIX
from brun_label.rubric import Rubric

if TYPE_CHECKING:
    from brun_label.exporters.pairs import Anchors

#: Bootstrap resamples for the agreement intervals (enough for a live view; the report uses more).
N_BOOTSTRAP = 200
#: Item ids listed per group in the JSON (the counts are always complete).
MAX_LISTED = 1000
_STATUS_KEYS = {"submitted": "submitted", "draft": "drafts", "skipped": "skipped", "discarded": "skipped"}


def _now(now: str | datetime | None) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp(datetime.now(UTC))
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _responses(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (platform, item, person, status, time): the people's responses."""
    cols = ["platform", "item_id", "annotator", "status", "submitted_at"]
    if table.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    human = table[~table["annotator"].astype(str).str.startswith(JUDGE_PREFIX)]
    out = human[cols].astype(object).where(human[cols].notna(), None).drop_duplicates()
    return out.reset_index(drop=True)


def _count_by(resp: pd.DataFrame, keys: list[str]) -> dict[Any, dict[str, int]]:
    """{key: {submitted, drafts, skipped}} counting items (one per item and status)."""
    out: dict[Any, dict[str, int]] = {}
    if resp.empty:
        return out
    unique = resp.drop_duplicates([*keys, "item_id", "status"])
    for key, group in unique.groupby(keys, sort=True):
        k = key[0] if isinstance(key, tuple) and len(key) == 1 else key
        mine = {"submitted": 0, "drafts": 0, "skipped": 0}
        for status, n in group["status"].value_counts().items():
            mine[_STATUS_KEYS.get(str(status), str(status))] = mine.get(_STATUS_KEYS.get(str(status), str(status)), 0) + int(n)
        out[k] = mine
    return out


def _agreement(table: pd.DataFrame, rubric: Rubric, seed: int) -> dict[str, dict[str, Any]]:
    from brun_label.agreement.metrics import category_counts, clean, question_alpha_ci, verdict
    from brun_label.agreement.questions import split_questions
    from brun_label.exporters.pairs import counted

    rows, _ = counted(table)
    if rows.empty:
        return {}
    try:
        questions, _notes = split_questions(rows, rubric=rubric)
    except ValueError as exc:
        return {"_error": {"message": str(exc).splitlines()[0]}}
    out: dict[str, dict[str, Any]] = {}
    for name, q in questions.items():
        if not q.annotators:
            continue
        ci = question_alpha_ci(q, n_bootstrap=N_BOOTSTRAP, seed=seed)
        counts = category_counts(q)[0].sum(axis=1)
        out[name] = {"krippendorff_alpha": clean(float(ci.estimate)), "ci95": [clean(float(ci.low)), clean(float(ci.high))],
                     "level": q.level, "n_annotators": len(q.annotators),
                     "n_pairable_units": int((counts >= 2).sum()), "verdict": verdict(float(ci.estimate))}
    return out


def _consensus(table: pd.DataFrame, rubric: Rubric, candidates: pd.DataFrame | None,
               gates: Mapping[str, Any], anchors: Anchors | None = None,
               excluded: Collection[str] = ()) -> dict[str, Any]:
    from brun_label.exporters.pairs import Gates, candidates_frame, select_pairs

    if excluded:  # people below the gold gate count in neither route nor export
        table = table[~table["annotator"].isin(set(excluded))]

    if rubric.zone_question() is None:
        return {"note": f"rubric {rubric.name} has no zone question: the export's consensus does not apply"}
    if candidates is None:
        cand = table.loc[table["candidate_id"].astype(str) != "", ["item_id", "candidate_id"]].drop_duplicates()
        grouped: dict[str, list[str]] = {}
        for item, cid in cand.itertuples(index=False):
            grouped.setdefault(str(item), []).append(str(cid))
        candidates = candidates_frame(sorted(grouped.items()))
    chosen = Gates.from_settings(gates)
    if candidates.empty:
        return {"gates": chosen.as_dict(), "items": 0, "exportable_items": 0, "short_of_votes_items": 0,
                "reasons": {}, "exportable": [], "short_of_votes": []}
    selection = select_pairs(table, candidates, rubric, chosen, anchors=anchors)
    items = selection.items
    exportable = items.loc[items["reason"] == "exported", "item_id"].astype(str).tolist()
    short = items.loc[items["reason"].isin(["not_annotated", "too_few_annotators"]), "item_id"].astype(str).tolist()
    return {"gates": chosen.as_dict(), "items": len(items), "exportable_items": len(exportable),
            "pairs": len(selection.pairs), "short_of_votes_items": len(short),
            "reasons": {str(k): int(v) for k, v in items["reason"].value_counts().items()},
            "exportable": exportable[:MAX_LISTED], "short_of_votes": short[:MAX_LISTED]}


def _server_check(platform: str, server: Mapping[str, int], mine: Mapping[str, int], n_items: int
                  ) -> dict[str, Any]:
    """The server's own counts beside the same counts from the table."""
    if platform == "label-studio":
        pairs = {"tasks": ("task_number", n_items), "annotations": ("total_annotations_number", mine["submitted"]),
                 "skipped": ("skipped_annotations_number", mine["skipped"])}
    elif platform == "argilla":
        pairs = {"records": ("records", n_items), "submitted": ("submitted", mine["submitted"]),
                 "drafts": ("draft", mine["drafts"]), "discarded": ("discarded", mine["skipped"])}
    else:
        return {}
    out: dict[str, Any] = {}
    for label, (key, ours) in pairs.items():
        if key in server:
            out[label] = {"server": int(server[key]), "table": int(ours), "matches": int(server[key]) == int(ours)}
    return out


def project_status(
    table: pd.DataFrame,
    rubric: Rubric,
    *,
    platform_tables: Mapping[str, pd.DataFrame] | None = None,
    server_counts: Mapping[str, Mapping[str, int]] | None = None,
    platform_items: Mapping[str, int] | None = None,
    candidates: pd.DataFrame | None = None,
    overlap: int | None = None,
    gates: Mapping[str, Any] | None = None,
    anchors: Anchors | None = None,
    excluded: Collection[str] = (),
    now: str | datetime | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Return the project's status (see the module docstring for every definition).

    ``table`` is the merged, attributed table; ``platform_tables`` each platform's own table (its
    annotators named as on the platform), ``server_counts`` what each server reports and
    ``platform_items`` how many items each platform holds; ``candidates`` the samples'
    ``(item_id, candidate_id)`` (:func:`brun_label.exporters.pairs.candidates_frame`), else the
    candidates the table names; ``anchors`` the gold items that inform the weighted consensus
    (:func:`brun_label.project_route.gold_anchors`); ``excluded`` the people below the gold gate,
    left out of the consensus as ``route`` and ``export`` leave them out.
    """
    gates = dict(gates or {})
    target = int(overlap or gates.get("min_annotators") or 3)
    stamp = _now(now)
    resp = _responses(table)
    when = pd.to_datetime(resp["submitted_at"], errors="coerce", utc=True) if not resp.empty else pd.Series(dtype=object)
    submitted = resp[resp["status"] == "submitted"] if not resp.empty else resp
    sub_when = when[resp["status"] == "submitted"] if not resp.empty else when
    unit = ["platform", "item_id", "annotator"]  # one person's (latest) submission of an item
    hour = submitted[(sub_when > stamp - timedelta(hours=1)) & (sub_when <= stamp)] if not resp.empty else resp
    day = submitted[(sub_when > stamp - timedelta(days=1)) & (sub_when <= stamp)] if not resp.empty else resp
    hour, day = hour.drop_duplicates(unit), day.drop_duplicates(unit)

    items = sorted(set(table["item_id"].astype(str))) if not table.empty else []
    if candidates is not None and not candidates.empty:
        items = sorted(set(items) | set(candidates["item_id"].astype(str)))
    voters = submitted.drop_duplicates(["item_id", "annotator"]).groupby("item_id").size() if not resp.empty \
        else pd.Series(dtype=int)
    have = np.array([int(voters.get(i, 0)) for i in items], dtype=int)
    remaining = int(np.clip(target - have, 0, None).sum())
    open_items = {i for i, n in zip(items, have, strict=True) if n < target}
    rate = float(len(hour)) if len(hour) else (len(day) / 24.0 if len(day) else 0.0)
    eta = None if remaining == 0 else (round(remaining / rate, 2) if rate > 0 else None)

    people: dict[str, dict[str, Any]] = {}
    for name, counts in _count_by(resp, ["annotator"]).items():
        answered = set(resp.loc[resp["annotator"] == name, "item_id"])
        people[str(name)] = {
            **counts,
            "assigned": len(answered | (open_items - answered)),
            "last_hour": int((hour["annotator"] == name).sum()),
            "last_day": int((day["annotator"] == name).sum()),
            "platforms": sorted({str(p) for p in resp.loc[resp["annotator"] == name, "platform"] if p}),
        }

    platforms: dict[str, Any] = {}
    for platform, ptable in (platform_tables or {}).items():
        presp = _responses(ptable)
        per_person = _count_by(presp, ["annotator"])
        total = {"submitted": 0, "drafts": 0, "skipped": 0}
        for c in per_person.values():
            for k in total:
                total[k] += c[k]
        # the server counts annotations (Label Studio) or responses (Argilla), not items per person
        exact = {"submitted": 0, "drafts": 0, "skipped": 0}
        for status, n in presp["status"].value_counts().items() if not presp.empty else []:
            exact[_STATUS_KEYS.get(str(status), str(status))] += int(n)
        n_items = int((platform_items or {}).get(platform, ptable["item_id"].nunique() if not ptable.empty else 0))
        platforms[platform] = {
            "items": n_items, **exact, "items_by_status": total,
            "people": {str(k): v for k, v in per_person.items()},
            "server": dict((server_counts or {}).get(platform, {})),
            "checks": _server_check(platform, (server_counts or {}).get(platform, {}), exact, n_items),
        }
    return {
        "generated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rubric": rubric.identity,
        "items": len(items),
        "people": dict(sorted(people.items())),
        "platforms": platforms,
        "throughput": {"last_hour": len(hour), "last_day": len(day)},
        "overlap": {"target": target, "items_complete": int((have >= target).sum()), "items_open": len(open_items),
                    "remaining_responses": remaining, "rate_per_hour": round(rate, 2), "eta_hours": eta},
        "agreement": _agreement(table, rubric, seed) if not table.empty else {},
        "consensus": _consensus(table, rubric, candidates, gates, anchors, excluded) if not table.empty or candidates is not None
        else {"items": 0, "exportable_items": 0, "short_of_votes_items": 0, "reasons": {}},
    }


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def status_tables(status: Mapping[str, Any]) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """The status as titled tables of text cells (what the terminal view shows).

    >>> from brun_label.rubrics import load_rubric
    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s1", "question": "preference", "annotator": "ana", "value": "c1"}])
    >>> [title for title, _, _ in status_tables(project_status(t, load_rubric("de-escalation")))]
    ['People', 'Platforms', 'Progress', 'Agreement so far', 'Consensus']
    """
    people: list[tuple[Any, ...]] = [(name, p["assigned"], p["submitted"], p["drafts"], p["skipped"], p["last_hour"], p["last_day"],
               ", ".join(p["platforms"])) for name, p in status["people"].items()]
    plats: list[tuple[Any, ...]] = []
    for name, p in status["platforms"].items():
        checks = p.get("checks") or {}
        agree = "yes" if checks and all(c["matches"] for c in checks.values()) else ("no" if checks else "-")
        said = ", ".join(f"{k} {c['server']}" for k, c in checks.items()) or "-"
        plats.append((name, p["items"], p["submitted"], p["drafts"], p["skipped"], said, agree))
    o = status["overlap"]
    progress: list[tuple[Any, ...]] = [("overlap target", o["target"]), ("items complete", f"{o['items_complete']} of {status['items']}"),
                ("responses missing", o["remaining_responses"]), ("last hour / day",
                                                                    f"{status['throughput']['last_hour']} / "
                                                                    f"{status['throughput']['last_day']}"),
                ("ETA (hours)", _fmt(o["eta_hours"]))]
    agreement: list[tuple[Any, ...]] = [(q, _fmt(a.get("krippendorff_alpha")),
                  "-" if not a.get("ci95") or a["ci95"][0] is None else f"[{_fmt(a['ci95'][0])}, {_fmt(a['ci95'][1])}]",
                  a.get("n_pairable_units", "-"), a.get("verdict", a.get("message", "")))
                 for q, a in status["agreement"].items()]
    c = status["consensus"]
    consensus: list[tuple[Any, ...]] = [("exportable now", c.get("exportable_items", 0)), ("short of votes", c.get("short_of_votes_items", 0))]
    consensus += [(f"  {reason}", n) for reason, n in sorted((c.get("reasons") or {}).items())]
    return [
        ("People", ["person", "assigned", "submitted", "drafts", "skipped", "last hour", "last day", "platforms"],
         people),
        ("Platforms", ["platform", "items", "submitted", "drafts", "skipped", "the server says", "same"], plats),
        ("Progress", ["", ""], progress),
        ("Agreement so far", ["question", "alpha", "95% CI", "units", "verdict"], agreement),
        ("Consensus", ["", "items"], consensus),
    ]
