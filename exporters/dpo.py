"""Consensus-gated preference export: annotations + samples -> a training file, a sidecar and a card.

Adapter around the pure core: :mod:`~brun_label.exporters.pairs` selects the pairs,
:mod:`~brun_label.exporters.formats` shapes them, :mod:`~brun_label.exporters.splits` splits them,
:mod:`~brun_label.exporters.card` writes the dataset card and
:mod:`~brun_label.exporters.writers` writes every file atomically.

Defaults (all overridable, see :class:`ExportOptions` and :class:`~brun_label.exporters.pairs.Gates`):

* ``min_annotators = 3``, ``min_share = 0.8`` (unanimity with 3 or 4 annotators, one dissenter
  tolerated from 5), ``max_flag_share = 0`` (any flag vetoes a chosen reply);
* ``min_alpha = 0.667`` (Krippendorff's lower bound for tentative conclusions): when the
  dataset-level α of a *gated* question (the zone question, the flag questions and the preference
  question: the ones that decide the pairs) is below it, the export stops with
  :class:`~brun_label.errors.GateError` (exit 3) unless ``force``. α is computed over the counted
  rows by :mod:`brun_label.agreement` (:func:`compute_agreement`: the same number
  :func:`~brun_label.agreement.summary.summarize` reports); an α that cannot be computed (no
  variation, fewer than two annotators) does not block;
* an export with no example at all is a gate failure too (exit 3): an empty training file is never
  what the user wanted;
* ``pairing = Pairing()``: every clear pair of an item (``--pairs all``), no cap per prompt
  (:class:`~brun_label.exporters.pairs.Pairing`; ``--pairs best-worst`` keeps the clearest pair of
  each prompt, ``--max-pairs-per-prompt N`` at most N).

Files: ``output`` (or ``<stem>.train<ext>`` and ``<stem>.test<ext>`` with ``test_size``); for JSONL
formats a ``<file>.provenance.jsonl`` sidecar unless provenance is inline; and ``README.md`` next to
the output (inside the folder for ``hf``). An existing ``README.md`` that brun-label did not write is
never overwritten: the card goes to ``<stem>.README.md`` instead.

Examples
--------
>>> import os, tempfile
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> samples = [sample_from_dict({"id": "s1", "prompt": "Refund me now!", "category": "billing",
...     "candidates": [{"id": "a", "text": "I hear you; here is what I can do."},
...                    {"id": "b", "text": "Not our problem."}]})]
>>> rows = [{"item_id": "s1", "candidate_id": c, "question": "tone_zone", "annotator": ann, "value": v}
...         for ann in ("ann1", "ann2", "ann3") for c, v in (("a", 0), ("b", 2))]
>>> out = os.path.join(tempfile.mkdtemp(), "pairs.jsonl")
>>> summary = export_dpo(make_table(rows), samples, load_rubric("de-escalation"), out,
...                      ExportOptions(min_alpha=None))
>>> summary["examples"], open(out).read()
({'train': 1}, '{"prompt": "Refund me now!", "chosen": "I hear you; here is what I can do.", "rejected": "Not our problem."}\\n')
>>> sorted(os.listdir(os.path.dirname(out)))
['README.md', 'pairs.jsonl', 'pairs.jsonl.provenance.jsonl']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label import __version__
from brun_label.atomic import atomic_write_text
from brun_label.errors import GateError, InputError
from brun_label.exporters.adjudicated import ADJUDICATOR_PREFIX, select_with_adjudication
from brun_label.exporters.card import CARD_MARKER, render_card
from brun_label.exporters.formats import (
    FORMATS,
    INLINE_OK,
    JSONL_FORMATS,
    KTO_PROVENANCE,
    PAIR_PROVENANCE,
    kto_record,
    pair_record,
    reply_provenance,
)
from brun_label.exporters.pairs import (
    Anchors,
    GateConfigError,
    Gates,
    Pairing,
    Selection,
    annotator_kinds,
    candidates_frame,
    counted,
)
from brun_label.exporters.splits import split_test_mask
from brun_label.exporters.writers import write_hf, write_jsonl, write_parquet
from brun_label.model import JUDGE_PREFIX, Sample
from brun_label.rubric import Rubric

#: Default ``--min-alpha``: Krippendorff's lower bound for drawing tentative conclusions.
DEFAULT_MIN_ALPHA = 0.667
PROVENANCE_MODES = ("sidecar", "inline")


@dataclass(frozen=True)
class ExportOptions:
    """How to export. ``card``: ``"auto"`` (README.md next to the output), a path, or None (no card).

    ``min_alpha=None`` turns the agreement gate off (and skips computing α).
    ``simulated_annotators``: glob patterns of the annotators that are simulated, not people
    (the card names the kinds of annotators behind the data; nothing is guessed from names).
    """

    fmt: str = "trl"
    gates: Gates = field(default_factory=Gates)
    pairing: Pairing = field(default_factory=Pairing)
    simulated_annotators: tuple[str, ...] = ()
    min_alpha: float | None = DEFAULT_MIN_ALPHA
    force: bool = False
    test_size: float | None = None
    seed: int = 0
    provenance: str = "sidecar"
    card: str | None = "auto"
    excluded_annotators: Mapping[str, str] = field(default_factory=dict)
    """People left out of the export, with the reason (e.g. below the gold accuracy gate); the card lists them."""
    pseudonyms: Mapping[str, str] | None = None
    """Name -> pseudonym for every name the outputs would carry (``--pseudonymize``)."""
    anchors: Anchors | None = None
    """Gold items that inform the ``dawid-skene`` consensus (:class:`.pairs.Anchors`); never exported."""

    def check(self) -> None:
        """Raise :class:`InputError` naming the option that is out of range."""
        if self.fmt not in FORMATS:
            raise InputError(f"unknown format {self.fmt!r} (use {', '.join(FORMATS)})", field="--format")
        if self.provenance not in PROVENANCE_MODES:
            raise InputError(f"must be sidecar or inline, got {self.provenance!r}", field="--provenance")
        if self.provenance == "inline" and self.fmt not in INLINE_OK:
            raise InputError(
                f"the {self.fmt} format allows no extra keys: use --provenance sidecar"
                if self.fmt == "openai" else f"the {self.fmt} format always has provenance columns",
                field="--provenance",
            )
        if self.test_size is not None and not 0.0 < self.test_size < 1.0:
            raise InputError(f"must be between 0 and 1 (exclusive), got {self.test_size}", field="--test-size")
        for pattern in self.simulated_annotators:
            if not isinstance(pattern, str) or not pattern.strip():
                raise InputError(f"must be a non-empty name or pattern, got {pattern!r}", field="--simulated-annotators")
        if self.min_alpha is not None and not -1.0 <= self.min_alpha <= 1.0:
            raise InputError(f"must be between -1 and 1, got {self.min_alpha}", field="--min-alpha")


def judge_shown_summary(table: pd.DataFrame) -> str | None:
    """Whether annotators saw the LLM judge's answers, from the table's judge rows.

    The pulled table is the source (``judge_shown`` on ``judge:`` rows, what push recorded on
    the project or records): ``yes``/``no`` when every judge row agrees, ``mixed`` when they
    differ, None when nothing is recorded (no judge rows, or a table pulled before the column).

    >>> t = pd.DataFrame({"annotator": ["ann1", "judge:m", "judge:m"], "judge_shown": [None, "no", "no"]})
    >>> judge_shown_summary(t), judge_shown_summary(t.assign(judge_shown=[None, "no", "yes"]))
    ('no', 'mixed')
    >>> judge_shown_summary(t.drop(columns="judge_shown")) is None
    True
    """
    if "judge_shown" not in table.columns or not len(table):
        return None
    judged = table["annotator"].astype(str).str.startswith(JUDGE_PREFIX)
    values = {str(v).strip().lower() for v in table.loc[judged, "judge_shown"] if isinstance(v, str | bool)}
    values = {"yes" if v in ("yes", "true") else "no" if v in ("no", "false") else v for v in values}
    if not values:
        return None
    return values.pop() if len(values) == 1 else "mixed"


def gated_questions(rubric: Rubric) -> list[str]:
    """Return the questions whose α gates the export: the ones that decide the pairs.

    >>> from brun_label.rubrics import load_rubric
    >>> gated_questions(load_rubric("de-escalation"))
    ['tone_zone', 'liability_flags', 'preference']
    """
    names: list[str] = []
    zq = rubric.zone_question()
    if zq is not None:
        names.append(zq.name)
    names += [q.name for q in rubric.flag_questions()]
    pq = rubric.preference_question()
    if pq is not None:
        names.append(pq.name)
    return names


def _belongs(key: str, question: str) -> bool:
    """Whether a summary key is about ``question`` (itself, or a per-flag key like ``flags:x``)."""
    if key == question:
        return True
    return key.startswith(question) and not (key[len(question)].isalnum() or key[len(question)] == "_")


def agreement_gate(
    agreement: Mapping[str, Mapping[str, Any]], rubric: Rubric, min_alpha: float | None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Return ``({question: {krippendorff_alpha, gated, passed}}, blocking questions)``.

    ``agreement`` is the ``"questions"`` part of :func:`brun_label.agreement.summary.summarize`.

    >>> from brun_label.rubrics import load_rubric
    >>> per_q, blocked = agreement_gate({"tone_zone": {"krippendorff_alpha": 0.42},
    ...     "liability_flags": {"krippendorff_alpha": None}, "rationale": {"krippendorff_alpha": 0.1}},
    ...     load_rubric("de-escalation"), 0.667)
    >>> blocked, per_q["rationale"]
    (['tone_zone'], {'krippendorff_alpha': 0.1, 'gated': False, 'passed': True})
    """
    gated = gated_questions(rubric)
    out: dict[str, dict[str, Any]] = {}
    blocked: list[str] = []
    for key, info in agreement.items():
        alpha = info.get("krippendorff_alpha")
        alpha = None if alpha is None or alpha != alpha else float(alpha)  # NaN -> None
        is_gated = any(_belongs(key, q) for q in gated)
        passed = not (is_gated and min_alpha is not None and alpha is not None and alpha < min_alpha)
        out[key] = {"krippendorff_alpha": alpha, "gated": is_gated, "passed": passed}
        if not passed:
            blocked.append(key)
    return out, blocked


def compute_agreement(rows: pd.DataFrame, rubric: Rubric) -> dict[str, dict[str, Any]]:
    """Return ``{question: {"krippendorff_alpha", "level", "verdict"}}`` for the counted rows.

    The numbers are the ones :func:`brun_label.agreement.summary.summarize` reports (same
    ``split_questions`` and ``question_alpha``), without the rest of the summary (annotator drift,
    judge comparison, adjudication lists), which the export does not need and which costs most of
    the time on a million rows. A value that is not an option of its question is bad input.

    >>> from brun_label.rubrics import load_rubric
    >>> from brun_label.table import make_table
    >>> rows = make_table([{"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone",
    ...     "annotator": a, "value": v} for a, vs in {"ann1": [0, 1, 2], "ann2": [0, 1, 1]}.items()
    ...     for u, v in enumerate(vs)])
    >>> agreement = compute_agreement(rows, load_rubric("de-escalation"))
    >>> round(agreement["tone_zone"]["krippendorff_alpha"], 3), agreement["tone_zone"]["level"]
    (0.778, 'ordinal')
    """
    from brun_label.agreement.metrics import clean, question_alpha, verdict
    from brun_label.agreement.questions import split_questions

    try:
        questions, _ = split_questions(rows, rubric=rubric)
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[0], field="annotations") from None
    out: dict[str, dict[str, Any]] = {}
    for name, q in questions.items():
        if not q.annotators:
            continue
        alpha = float(question_alpha(q))
        out[name] = {"krippendorff_alpha": clean(alpha), "level": q.level, "verdict": verdict(alpha)}
    return out


@dataclass
class _Examples:
    records: list[dict[str, Any]]
    provenance: list[dict[str, Any]]
    groups: list[str]
    categories: list[str]


def _adjudicator(row: Any, pseudonyms: Mapping[str, str] | None) -> str | None:
    name = getattr(row, "adjudicated_by", None)
    if not isinstance(name, str) or not name:
        return None
    return pseudonyms.get(name, name) if pseudonyms is not None else name


def build_examples(selection: Selection, samples: Mapping[str, Sample], rubric: Rubric, fmt: str,
                   pseudonyms: Mapping[str, str] | None = None) -> _Examples:
    """Turn the selection into records of ``fmt`` with their provenance, scenario and category."""
    ex = _Examples([], [], [], [])
    base = {"rubric": rubric.name, "rubric_version": rubric.version}
    if fmt == "kto":
        for row in selection.kto.itertuples(index=False):
            s = samples[str(row.item_id)]
            cand = s.candidate(str(row.candidate_id))
            ex.records.append(kto_record(s, cand, bool(row.label)))
            ex.provenance.append(dict(zip(KTO_PROVENANCE, (
                s.id, str(row.candidate_id), bool(row.label), s.category, int(row.n_annotators),
                round(float(row.agreement), 6), base["rubric"], base["rubric_version"], *reply_provenance(cand),
            ), strict=True)))
            ex.groups.append(_scenario(s))
            ex.categories.append(s.category)
        return ex
    for row in selection.pairs.itertuples(index=False):
        s = samples[str(row.item_id)]
        chosen, rejected = s.candidate(str(row.chosen_id)), s.candidate(str(row.rejected_id))
        ex.records.append(pair_record(fmt, s, chosen, rejected))
        share = float(row.preference_share)
        ex.provenance.append(dict(zip(PAIR_PROVENANCE, (
            s.id, str(row.chosen_id), str(row.rejected_id), s.category, int(row.n_annotators),
            round(float(row.agreement), 6), round(float(row.margin), 6), int(row.n_preference_votes),
            None if share != share else round(share, 6), base["rubric"], base["rubric_version"],
            *reply_provenance(chosen), *reply_provenance(rejected),
            _adjudicator(row, pseudonyms),
        ), strict=True)))
        ex.groups.append(_scenario(s))
        ex.categories.append(s.category)
    return ex


def sources_summary(selection: Selection, samples: Mapping[str, Sample], fmt: str) -> dict[str, Any]:
    """Return who wrote the exported replies, and the judge scores of their samples.

    ``{"replies": {"model": n, "hand-written": n, "not_recorded": n, "models": [...]},
    "judge_scores": {... same, "judges": [...]}}``, counting each exported reply once and each
    judged candidate or item of the exported samples once.

    >>> from brun_label.model import sample_from_dict
    >>> s = sample_from_dict({"id": "s1", "prompt": "p", "candidates": [
    ...     {"id": "a", "text": "x", "source": "model", "model": "m1"},
    ...     {"id": "b", "text": "y", "source": "hand-written", "judge": {"tone_zone": 1},
    ...      "judge_source": "hand-written", "judge_model": "hand-written"}]})
    >>> sel = Selection(pairs=pd.DataFrame({"item_id": ["s1"], "chosen_id": ["a"], "rejected_id": ["b"]}),
    ...                 kto=pd.DataFrame(), items=pd.DataFrame(), candidates=pd.DataFrame())
    >>> sources_summary(sel, {"s1": s}, "trl")["replies"]
    {'model': 1, 'hand-written': 1, 'not_recorded': 0, 'models': ['m1']}
    >>> sources_summary(sel, {"s1": s}, "trl")["judge_scores"]
    {'model': 0, 'hand-written': 1, 'not_recorded': 0, 'judges': []}
    """
    if fmt == "kto":
        used = set(zip(selection.kto["item_id"].astype(str), selection.kto["candidate_id"].astype(str), strict=True))
    else:
        p = selection.pairs
        used = set(zip(p["item_id"].astype(str), p["chosen_id"].astype(str), strict=True))
        used |= set(zip(p["item_id"].astype(str), p["rejected_id"].astype(str), strict=True))
    replies: Counter[str] = Counter()
    scores: Counter[str] = Counter()
    models: set[str] = set()
    judges: set[str] = set()

    def judged(source: str | None, model: str | None) -> None:
        scores[source or "not_recorded"] += 1
        if source != "hand-written" and model:
            judges.add(model)

    for item_id in sorted({i for i, _ in used}):
        s = samples[item_id]
        for c in s.candidates:
            if (item_id, c.id) in used:
                source, model = reply_provenance(c)
                replies[source or "not_recorded"] += 1
                if model:
                    models.add(model)
            if c.judge is not None:
                judged(c.judge_source, c.judge_model)
        if s.judge is not None:
            judged(s.judge_source, s.judge_model)
    kinds = ("model", "hand-written", "not_recorded")
    return {
        "replies": {**{k: replies[k] for k in kinds}, "models": sorted(models)},
        "judge_scores": {**{k: scores[k] for k in kinds}, "judges": sorted(judges)},
    }


def _scenario(sample: Sample) -> str:
    scenario = sample.metadata.get("scenario") if sample.metadata else None
    return str(scenario) if scenario not in (None, "") else sample.id


def _split_paths(output: Path, splits: Sequence[str]) -> dict[str, Path]:
    if list(splits) == ["train"]:
        return {"train": output}
    return {name: output.with_name(f"{output.stem}.{name}{output.suffix}") for name in splits}


def _card_path(output: Path, card: str | None) -> Path | None:
    if card is None:
        return None
    if card != "auto":
        return Path(card)
    readme = output.parent / "README.md"
    if readme.exists():
        try:
            ours = CARD_MARKER in readme.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ours = False
        if not ours:
            return output.parent / f"{output.stem}.README.md"
    return readme


def export_dpo(
    table: pd.DataFrame,
    samples: Sequence[Sample],
    rubric: Rubric,
    output: str | Path,
    options: ExportOptions | None = None,
    *,
    agreement: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Export the pairs (or KTO rows) the annotators clearly agree on; return the summary.

    ``table`` is the long annotation table (as :func:`~brun_label.importers.annotations.read_annotations`
    returns it). ``agreement`` (``{question: {"krippendorff_alpha": ...}}``) skips computing α when
    given. Raises :class:`GateError` when α blocks the export or nothing passes the gates, and
    :class:`InputError` for bad options or annotations that match no sample.
    """
    opts = options or ExportOptions()
    opts.check()
    out_path = Path(output)
    if opts.fmt == "hf" and out_path.exists() and not out_path.is_dir():
        raise InputError("exists and is not a folder (--format hf saves a dataset folder)", path=str(out_path))
    if opts.fmt != "hf" and out_path.is_dir():
        raise InputError("is a folder; give a file name", path=str(out_path))

    by_id = {s.id: s for s in samples}
    if opts.excluded_annotators:
        table = table[~table["annotator"].isin(set(opts.excluded_annotators))]
    # adjudicators decide, they do not vote: their rows never enter the agreement
    rows, _ = counted(table[~table["annotator"].astype(str).str.startswith(ADJUDICATOR_PREFIX)])

    # 1. The agreement gate.
    per_q: dict[str, dict[str, Any]] = {}
    blocked: list[str] = []
    if opts.min_alpha is not None:
        raw = agreement if agreement is not None else compute_agreement(rows, rubric)
        per_q, blocked = agreement_gate(raw, rubric, opts.min_alpha)
        if blocked and not opts.force:
            detail = ", ".join(f"{q} α={per_q[q]['krippendorff_alpha']:.3f}" for q in blocked)
            raise GateError(
                f"agreement too low to export: {detail} < --min-alpha {opts.min_alpha} "
                "(clarify the guidelines and re-annotate, or pass --force)"
            )

    # 2. Pair selection (pure, vectorised).
    try:
        selection = select_with_adjudication(
            table, candidates_frame((s.id, [c.id for c in s.candidates]) for s in samples), rubric, opts.gates,
            opts.pairing, opts.anchors,
        )
    except GateConfigError as exc:
        raise InputError(exc.message, field=exc.field) from None
    reasons = selection.reasons()
    n_items = len(selection.items)
    if reasons.get("not_annotated", 0) == n_items and selection.counts["unknown_items"]:
        raise InputError(
            f"none of the {selection.counts['unknown_items']} annotated items is a sample id of the samples "
            "file (wrong --samples?)"
        )

    # 3. Records, split, files.
    ex = build_examples(selection, by_id, rubric, opts.fmt, opts.pseudonyms)
    if not ex.records:
        why = ", ".join(f"{r} {n}" for r, n in reasons.items()) or "no annotated item"
        raise GateError(f"nothing to export: no {'example' if opts.fmt == 'kto' else 'pair'} passed the gates ({why})")
    if opts.test_size is not None:
        test = split_test_mask(ex.groups, ex.categories, test_size=opts.test_size, seed=opts.seed)
        parts = {"train": [i for i, t in enumerate(test) if not t], "test": [i for i, t in enumerate(test) if t]}
    else:
        parts = {"train": list(range(len(ex.records)))}
    inline = opts.provenance == "inline" or opts.fmt in ("parquet", "hf")
    prov_names = KTO_PROVENANCE if opts.fmt == "kto" else PAIR_PROVENANCE

    def shaped(i: int) -> dict[str, Any]:
        if not inline:
            return ex.records[i]
        extra = {k: v for k, v in ex.provenance[i].items() if k not in ex.records[i]}
        return {**ex.records[i], **extra}

    summary: dict[str, Any] = {
        "format": opts.fmt,
        "output": str(out_path),
        "brun_label_version": __version__,
        "rubric": {"name": rubric.name, "version": rubric.version, "title": rubric.title},
        "gates": {
            **opts.gates.as_dict(),
            "min_alpha": opts.min_alpha,
            "alpha_questions": gated_questions(rubric) if opts.min_alpha is not None else [],
            "force": opts.force,
        },
        "agreement": per_q,
        "alpha_blocked": blocked,
        "annotations": {
            k: selection.counts[k]
            for k in ("rows", "counted_rows", "ignored_rows", "invalid_votes", "unknown_items", "unknown_candidates")
        },
        "annotators": annotator_kinds(
            table, opts.simulated_annotators,
            pd.unique((selection.kto if opts.fmt == "kto" else selection.pairs)["item_id"]),
        ),
        "judge_shown": judge_shown_summary(table),
        "excluded_annotators": {
            (opts.pseudonyms or {}).get(name, name): why for name, why in opts.excluded_annotators.items()},
        "adjudicated": {"items": int(selection.counts.get("adjudicated_items", 0)),
                        "pairs": int(selection.counts.get("adjudicated_pairs", 0))},
        "pseudonymized": opts.pseudonyms is not None,
        "sources": sources_summary(selection, by_id, opts.fmt),
        "samples": len(samples),
        "items": {"total": n_items, "exported": n_items - sum(reasons.values()), "excluded": reasons},
        "candidates": selection.counts["verdicts"],
        "pairs": selection.counts["pairs"],
        "pairs_contradicted": selection.counts["pairs_contradicted"],
        "pairing": {
            **opts.pairing.as_dict(),
            "eligible": selection.counts["pairs_eligible"],
            "dropped": selection.counts["pairs_capped"],
            "prompts_with_several": int((selection.pairs["item_id"].value_counts() > 1).sum()),
        },
        "kto_rows": selection.counts["kto_rows"],
        "examples": {name: len(idx) for name, idx in parts.items()},
        "categories": dict(sorted(Counter(ex.categories).items())),
        "split": (
            {"test_size": opts.test_size, "seed": opts.seed, "by": "scenario", "stratified_by": "category",
             "scenarios": {name: len({ex.groups[i] for i in idx}) for name, idx in parts.items()}}
            if opts.test_size is not None else None
        ),
        "provenance": "columns" if opts.fmt in ("parquet", "hf") else opts.provenance,
        "files": {},
    }
    files: dict[str, str] = summary["files"]
    card_path = _card_path(out_path, opts.card) if opts.fmt != "hf" else None

    if opts.fmt == "hf":
        columns = ["prompt", "chosen", "rejected", *prov_names]
        files["dataset"] = str(out_path)
        if opts.card is not None:
            files["card"] = str(out_path / "README.md") if opts.card == "auto" else opts.card
        extra = {"README.md": render_card(summary)} if opts.card == "auto" else {}
        write_hf(out_path, {name: [shaped(i) for i in idx] for name, idx in parts.items()}, columns, extra)
        if opts.card not in (None, "auto"):
            atomic_write_text(opts.card, render_card(summary))
        return summary

    paths = _split_paths(out_path, list(parts))
    for name, path in paths.items():
        files[name] = str(path)
        if opts.fmt in JSONL_FORMATS and not inline:
            files[f"{name}_provenance"] = f"{path}.provenance.jsonl"
    if card_path is not None:
        files["card"] = str(card_path)
    for name, idx in parts.items():
        path = paths[name]
        if opts.fmt == "parquet":
            write_parquet(path, [shaped(i) for i in idx], ["prompt", "chosen", "rejected", *prov_names])
        else:
            write_jsonl(path, (shaped(i) for i in idx))
            if not inline:
                write_jsonl(f"{path}.provenance.jsonl", (ex.provenance[i] for i in idx))
    if card_path is not None:
        atomic_write_text(card_path, render_card(summary))
    return summary
