"""The agreement report: one self-contained HTML file (inline CSS and SVG, no script, no network).

Pure core: :func:`render_report` turns the dict of :func:`~brun_label.agreement.summary.summarize`
(and, optionally, the samples, for their texts) into an HTML string; the CLI writes it. Sections:

1. α with its 95% bootstrap interval per question, over the reliable / tentative / unreliable
   bands, next to the table of every coefficient;
2. the pairwise Cohen's κ heatmap of each question;
3. each annotator's (and the judge's) distribution of answers per question;
4. the annotators table, drifting annotators highlighted with the reasons;
5. the judge against the annotators: agreement with the consensus beside each annotator's
   leave-one-out agreement, α with and without the judge, and the consensus × judge matrix;
6. the low-agreement units with the prompt, the candidate's reply and every answer;
7. position bias per rater (:mod:`~brun_label.agreement.position_bias`) and the judge's
   calibration curve and Brier score per question (:mod:`~brun_label.agreement.calibration`).

Examples
--------
>>> from brun_label.table import make_table
>>> from brun_label.agreement.summary import summarize
>>> rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "tone", "annotator": a, "value": (u + i) % 2}
...         for u in range(6) for i, a in enumerate(["ann1", "ann2", "judge:j"])]
>>> html = render_report(summarize(make_table(rows)))
>>> html.startswith("<!DOCTYPE html>"), html.count('<svg class="chart'), "http-equiv" in html
(True, 5, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

from brun_label import __version__
from brun_label.agreement.svg import (
    CATEGORICAL,
    bar_chart,
    forest_plot,
    heatmap,
    ordered_palette,
    stacked_bars,
)
from brun_label.model import Sample

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1b1b1b}
h1{font-size:1.6em;margin-bottom:4px} h2{border-bottom:2px solid #0b3d91;padding-bottom:4px;margin-top:36px}
h3{margin:18px 0 6px} .muted{color:#666} table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top} th{background:#f2f4f8}
td.num{text-align:right;font-variant-numeric:tabular-nums} .reliable{background:#e0f1e0}
.tentative{background:#fdf2d0} .unreliable{background:#fbe3e3} .undefined{background:#eee}
tr.flagged td{background:#fff1e6} .chip{display:inline-block;border-radius:10px;padding:1px 8px;margin:1px;
background:#eef3fb;font-size:12px} .chip.judge{background:#f3e8fb} .text{white-space:pre-wrap;
background:#fafafa;border-left:3px solid #ccc;padding:6px 10px;margin:4px 0;font-size:13px;max-width:700px}
.grid{display:flex;flex-wrap:wrap;gap:24px} .notes li{margin:2px 0} details summary{cursor:pointer;color:#0b3d91}
"""


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return escape(str(x))


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "{" + ", ".join(map(str, v)) + "}" if v else "{}"
    return str(v)


def _colors(order: list[str], numeric: bool) -> list[str]:
    if numeric:
        return ordered_palette(len(order))
    return [CATEGORICAL[i % len(CATEGORICAL)] for i in range(len(order))]


def _section_alpha(summary: dict[str, Any]) -> str:
    rows = []
    for name, q in summary["questions"].items():
        ci = q["alpha_ci95"] or [None, None]
        rows.append((name, q["krippendorff_alpha"], ci[0], ci[1]))
    out = ["<h2 id='alpha'>Agreement per question</h2>",
           "<p class='muted'>Krippendorff's α with its 95% bootstrap interval (when computed). Bands: "
           "α ≥ 0.800 reliable, ≥ 0.667 tentative (Krippendorff 2004).</p>", forest_plot(rows)]
    out.append("<table class='metrics'><tr><th>question</th><th>type</th><th>level</th><th>units</th>"
               "<th>annotators</th><th>ratings</th><th>α</th><th>95% CI</th><th>% agree</th><th>Fleiss κ</th>"
               "<th>AC1</th><th>AC2</th><th>verdict</th></tr>")
    for name, q in summary["questions"].items():
        ci = q["alpha_ci95"]
        ci_text = "—" if not ci or ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        level = "sets (MASI)" if q["distance"] == "masi" else q["level"]
        out.append(
            f"<tr><td>{escape(name)}</td><td>{escape(q['type'])}</td><td>{escape(level)} "
            f"<span class='muted'>({escape(q['level_source'])})</span></td><td class='num'>{q['n_units']}</td>"
            f"<td class='num'>{q['n_annotators']}</td><td class='num'>{q['n_ratings']}</td>"
            f"<td class='num {q['verdict']}'>{_f(q['krippendorff_alpha'])}</td><td>{ci_text}</td>"
            f"<td class='num'>{_f(q['percent_agreement'], 2)}</td><td class='num'>{_f(q['fleiss_kappa'])}</td>"
            f"<td class='num'>{_f(q['gwet_ac1'])}</td><td class='num'>{_f(q.get('gwet_ac2'))}</td>"
            f"<td class='{q['verdict']}'>{escape(q['verdict'])}</td></tr>"
        )
    out.append("</table>")
    for name, q in summary["questions"].items():
        if q.get("per_flag"):
            out.append(f"<h3>{escape(name)}: each flag as a yes/no question</h3><table class='flags'>"
                       "<tr><th>flag</th><th>ticked in</th><th>α</th><th>% agree</th><th>AC1</th></tr>")
            for flag, st in q["per_flag"].items():
                out.append(f"<tr><td>{escape(flag)}</td><td class='num'>{_f(st['prevalence'], 2)}</td>"
                           f"<td class='num'>{_f(st['krippendorff_alpha'])}</td>"
                           f"<td class='num'>{_f(st['percent_agreement'], 2)}</td><td class='num'>{_f(st['gwet_ac1'])}</td></tr>")
            out.append("</table>")
    return "".join(out)


def _section_kappa(summary: dict[str, Any]) -> str:
    out = ["<h2 id='kappa'>Pairwise Cohen's κ</h2><p class='muted'>Each pair of annotators on the units "
           "both rated (weights follow the level). Blue: agreement beyond chance; red: worse than chance.</p>"
           "<div class='grid'>"]
    for name, q in summary["questions"].items():
        anns = sorted({a for k in q["cohen_kappa_pairwise"] for a in k.split("|")})
        if len(anns) < 2:
            continue
        mat: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(anns))] for i in range(len(anns))]
        for key, v in q["cohen_kappa_pairwise"].items():
            a, b = key.split("|")
            i, j = anns.index(a), anns.index(b)
            mat[i][j] = mat[j][i] = v
        out.append(f"<div><h3>{escape(name)} <span class='muted'>(κ weights: {escape(q['cohen_weights'])})</span></h3>"
                   f"{heatmap(anns, mat, aria=f'pairwise kappa {name}')}</div>")
    out.append("</div>")
    return "".join(out)


def _section_distributions(summary: dict[str, Any]) -> str:
    out = ["<h2 id='distributions'>How each annotator answers</h2><p class='muted'>Share of each answer per "
           "annotator; for flags, how often each flag was ticked. A bar that looks unlike the others is "
           "an annotator reading the guidelines differently.</p>"]
    for name, q in summary["questions"].items():
        dist = q["distributions"]
        order = list(dist["order"])
        seen = {v for d in (*dist["annotators"].values(), *dist["judges"].values()) for v in d}
        order += sorted(seen - set(order))
        rows = [(a, d) for a, d in dist["annotators"].items()] + [(f"{j} (judge)", d) for j, d in dist["judges"].items()]
        numeric = q["type"] in ("scale", "rating", "numeric") and q["level"] != "nominal"
        out.append(f"<h3>{escape(name)}</h3>{stacked_bars(rows, order, _colors(order, numeric), aria=f'distribution {name}')}")
    return "".join(out)


def _section_annotators(summary: dict[str, Any]) -> str:
    out = ["<h2 id='annotators'>Annotators</h2><p class='muted'>Agreement with the majority of the "
           "<em>other</em> annotators (leave-one-out), mean bias against them (numeric scales), α without "
           "the annotator, and mean κ with the others.</p>",
           "<table class='annotators'><tr><th>annotator</th><th>question</th><th>ratings</th><th>agrees</th>"
           "<th>mean bias</th><th>α without</th><th>mean κ</th><th>why flagged</th></tr>"]
    for ann, entry in summary["annotators"].items():
        for qname, st in entry["questions"].items():
            cls = " class='flagged'" if st["flagged"] else ""
            out.append(f"<tr{cls}><td>{escape(ann)}</td><td>{escape(qname)}</td><td class='num'>{st['n_ratings']}</td>"
                       f"<td class='num'>{_f(st['agreement_with_consensus'], 2)}</td>"
                       f"<td class='num'>{_f(st['mean_bias'], 2)}</td><td class='num'>{_f(st['alpha_without'])}</td>"
                       f"<td class='num'>{_f(st['mean_cohen_kappa'])}</td>"
                       f"<td>{escape('; '.join(st['reasons']))}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _section_judge(summary: dict[str, Any]) -> str:
    out = ["<h2 id='judge'>Judge versus annotators</h2>"]
    if not summary["judge"]:
        out.append("<p class='muted'>No <code>judge:</code> ratings in this table.</p>")
        return "".join(out)
    out.append("<p class='muted'>The LLM judge never votes: it is scored against the consensus of all annotators, "
               "each annotator against the consensus of the others. (Annotators are whoever answered the "
               "rubric: people, or simulated annotators where the table holds them.)</p>")
    for name, j in summary["judge"].items():
        rows: list[tuple[str, float | None, str]] = []
        for ann, entry in summary["annotators"].items():
            st = entry["questions"].get(name)
            if st:
                rows.append((ann, st["agreement_with_consensus"], "#7f9cc9"))
        for jn, js in j["by_judge"].items():
            rows.append((jn, js["agreement_with_consensus"], "#8e44ad"))
        out.append(f"<h3>{escape(name)}</h3><p>α annotators {_f(j['alpha_humans'])} → with the judge as one more "
                   f"rater {_f(j['alpha_with_judge'])}; judge agrees with the consensus on "
                   f"{_f(j['agreement_with_consensus'], 2)} of {j['n_units']} units.</p><div class='grid'>")
        out.append(bar_chart(rows, aria=f"agreement with consensus {name}"))
        for jn, js in j["by_judge"].items():
            conf = js.get("confusion")
            if conf:
                labels = [_value(x) for x in conf["labels"]]
                out.append(f"<div><p class='muted'>rows: annotators' consensus, columns: {escape(jn)} "
                           f"(κ = {_f(js.get('cohen_kappa_vs_consensus'))})</p>"
                           f"{heatmap(labels, conf['consensus_by_judge'], counts=True, aria=f'judge confusion {name}')}</div>")
        out.append("</div>")
    return "".join(out)


def _sample_texts(samples: Mapping[str, Sample] | None, item: str, cand: str) -> str:
    if not samples or item not in samples:
        return ""
    s = samples[item]
    out = [f"<details open><summary>prompt</summary><div class='text'>{escape(s.prompt_text())}</div></details>"]
    shown = [c for c in s.candidates if c.id == cand] if cand else list(s.candidates)
    for c in shown:
        out.append(f"<div class='text'><b>{escape(c.id)}</b>: {escape(c.text)}</div>")
    return "".join(out)


def _section_units(summary: dict[str, Any], samples: Mapping[str, Sample] | None) -> str:
    units = summary["low_agreement_units"]
    n = summary["n_low_agreement_units"]
    out = [f"<h2 id='units'>Units to adjudicate ({n})</h2>"]
    if n > len(units):
        out.append(f"<p class='muted'>The {len(units)} most contested are listed.</p>")
    if not units:
        out.append("<p class='muted'>Every unit has a clear majority.</p>")
        return "".join(out)
    out.append("<table class='units'><tr><th>item / candidate</th><th>question</th><th>why</th>"
               "<th>consensus</th><th>answers</th><th>text</th></tr>")
    for e in units:
        chips = "".join(f"<span class='chip'>{escape(a)}: {escape(_value(v))}</span>" for a, v in e["answers"].items())
        chips += "".join(f"<span class='chip judge'>{escape(a)}: {escape(_value(v))}</span>" for a, v in e["judge"].items())
        out.append(f"<tr><td>{escape(e['item_id'])}<br><span class='muted'>{escape(e['candidate_id'])}</span></td>"
                   f"<td>{escape(e['question'])}</td><td>{escape('; '.join(e['reasons']))}</td>"
                   f"<td>{escape(_value(e['consensus']))} <span class='muted'>({_f(e['support'], 2)})</span></td>"
                   f"<td>{chips}</td><td>{_sample_texts(samples, e['item_id'], e['candidate_id'])}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _extra_sections(summary: dict[str, Any]) -> list[str]:
    """Sections of the optional summary blocks: position bias, the judge's calibration."""
    out = []
    if "position_bias" in summary:
        from brun_label.agreement.position_bias import report_section

        out.append(report_section(summary["position_bias"]))
    if "judge_calibration" in summary:
        from brun_label.agreement.calibration import report_section as calibration_section

        out.append(calibration_section(summary["judge_calibration"]))
    return out


def render_report(
    summary: dict[str, Any], *, samples: Mapping[str, Sample] | None = None, source: str | None = None
) -> str:
    """Return the self-contained HTML report of an agreement summary."""
    notes = list(summary.get("notes", [])) + [
        f"{name}: {n}" for name, q in summary["questions"].items() for n in q.get("notes", [])
    ]
    settings = summary.get("settings", {})
    sub = " · ".join(x for x in (
        f"source: {source}" if source else "",
        f"rubric: {settings.get('rubric')}" if settings.get("rubric") else "",
        f"bootstrap: {settings.get('n_bootstrap')} resamples, seed {settings.get('seed')}" if settings.get("n_bootstrap") else "",
        f"brun-label {__version__}",
    ) if x)
    body = [
        "<h1>Inter-annotator agreement</h1>", f"<p class='muted'>{escape(sub)}</p>",
        "<p><a href='#alpha'>α per question</a> · <a href='#kappa'>pairwise κ</a> · "
        "<a href='#distributions'>distributions</a> · <a href='#annotators'>annotators</a> · "
        "<a href='#judge'>judge</a> · <a href='#units'>units to adjudicate</a> · "
        "<a href='#position'>position bias</a> · <a href='#calibration'>judge calibration</a></p>",
        _section_alpha(summary), _section_kappa(summary), _section_distributions(summary),
        _section_annotators(summary), _section_judge(summary), _section_units(summary, samples),
        *_extra_sections(summary),
    ]
    if notes:
        body.append("<h2 id='notes'>Notes</h2><ul class='notes'>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Agreement report</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
