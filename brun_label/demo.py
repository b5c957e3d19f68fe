"""The whole loop on the bundled default: the README's main job (``brun-label demo``).

1. validate the bundled sample files and render every rubric pack (files in ``out/rubrics/``);
2. start local Label Studio and Argilla servers (reused when already up);
3. push the bundled de-escalation samples to both, with the tone-zone and liability rubric;
4. (``simulate=True``) three clearly labelled *simulated* annotators answer through the servers'
   real APIs: ``sim-careful-ana`` and ``sim-careless-cy`` in Label Studio, ``sim-careful-ben`` in
   Argilla, so every item has three annotators across two platforms;
5. pull both platforms back into one table, print the agreement summary, write the HTML report;
6. export the consensus DPO pairs (TRL format) with their dataset card, which says the annotators
   were simulated (not people).

Every step is idempotent: a second run reuses the servers, pushes nothing new, skips answers
already given and rewrites the same files. The servers stay up for people to annotate for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label.backends.base import PullOptions, PushOptions
from brun_label.data import names as data_names
from brun_label.data import sample_path
from brun_label.errors import ValidationFailed
from brun_label.importers.samples import read_samples, validate_samples
from brun_label.render_argilla import render_argilla
from brun_label.render_label_studio import render_label_studio
from brun_label.rubrics import load_rubric, pack_names
from brun_label.servers.base import PortBusyError, ServerInfo, get_server
from brun_label.simulate import (
    DEMO_ANNOTATORS,
    SIMULATED_PATTERN,
    Expectation,
    SimulatedAnnotator,
    simulate_answers,
)

RUBRIC = "de-escalation"
PROJECT = "brun-label demo: de-escalation"
DATASET = "brun-label-demo-de-escalation"
#: Which platform each simulated annotator works in.
PLATFORM_OF = {"sim-careful-ana": "label-studio", "sim-careful-ben": "argilla", "sim-careless-cy": "label-studio"}
SIM_EMAIL_DOMAIN = "simulated.brun-label.local"
SIM_PASSWORD = "simulated-annotator-1"

Log = Callable[[str], None]


@dataclass
class DemoResult:
    """What the demo did and where everything is."""

    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    servers: dict[str, ServerInfo] = field(default_factory=dict)
    pushed: dict[str, dict[str, Any]] = field(default_factory=dict)
    submitted: dict[str, int] = field(default_factory=dict)
    agreement: dict[str, Any] | None = None
    export: dict[str, Any] | None = None


def validate_bundled(log: Log) -> dict[str, int]:
    """Validate every bundled file; return ``{name: samples}`` (scenario files have no candidates)."""
    counts = {}
    for name in data_names():
        if name.startswith("scenarios-"):
            continue
        report = validate_samples(sample_path(name))
        if report.problems:
            raise ValidationFailed(report.problems)
        counts[name] = report.n_valid
        log(f"  {name}.jsonl: {report.n_valid} valid samples")
    return counts


def render_packs(out_dir: Path, log: Log) -> dict[str, Path]:
    """Render every rubric pack for both platforms into ``out_dir/rubrics``; print a summary."""
    from brun_label.atomic import atomic_write_text

    files = {}
    for name in pack_names():
        rubric = load_rubric(name)
        xml_path = out_dir / "rubrics" / f"{name}.label-studio.xml"
        json_path = out_dir / "rubrics" / f"{name}.argilla.json"
        xml = render_label_studio(rubric, n_candidates=2)
        settings = render_argilla(rubric, n_candidates=2)
        atomic_write_text(xml_path, xml)
        atomic_write_text(json_path, json.dumps(settings, indent=2) + "\n")
        files[f"rubric {name} (Label Studio)"] = xml_path
        files[f"rubric {name} (Argilla)"] = json_path
        qs = ", ".join(f"{q.name} [{q.type}, {q.level}]" for q in rubric.questions)
        log(f"  {name} v{rubric.version}: {qs}")
        log(f"    Label Studio: {xml.count('<Choices') + xml.count('<Rating') + xml.count('<TextArea')} controls"
            f" for 2 candidates -> {xml_path}")
        log(f"    Argilla: {len(settings['fields'])} fields, {len(settings['questions'])} questions -> {json_path}")
    return files


def persona_expectations(rubric_name: str) -> dict[str, Expectation]:
    """What each persona of the rubric's persona pack is expected to get (zone value, flags)."""
    from brun_label.importers.personas import load_personas

    rubric = load_rubric(rubric_name)
    pack = load_personas(rubric_name, rubric)
    return {p.name: (int(p.zone) if isinstance(p.zone, int) else None, tuple(p.flags)) for p in pack.personas}


def _backend(name: str, server: ServerInfo) -> Any:
    from brun_label.backends.base import get_backend

    url_key = "LABEL_STUDIO_URL" if name == "label-studio" else "ARGILLA_API_URL"
    key_key = "LABEL_STUDIO_API_KEY" if name == "label-studio" else "ARGILLA_API_KEY"
    return get_backend(name, url=server.env[url_key], api_key=server.env[key_key])


def simulate(
    backends: dict[str, Any], samples: list[Any], annotators: tuple[SimulatedAnnotator, ...], log: Log
) -> dict[str, int]:
    """Have the simulated annotators answer through each platform's API; return answers per annotator."""
    from brun_label.backends import argilla_annotators, label_studio_annotators

    rubric = load_rubric(RUBRIC)
    rows = simulate_answers(samples, rubric, annotators, expectations=persona_expectations(RUBRIC))
    submitted = {}
    for ann in annotators:
        mine = [r for r in rows if r["annotator"] == ann.name]
        platform = PLATFORM_OF[ann.name]
        if platform == "label-studio":
            email = f"{ann.name}@{SIM_EMAIL_DOMAIN}"
            n = label_studio_annotators.submit_answers(backends[platform], rubric, PROJECT, email, mine)
        else:
            key = argilla_annotators.ensure_annotator(backends[platform], ann.name, SIM_PASSWORD)
            n = argilla_annotators.submit_answers(backends[platform], rubric, DATASET, ann.name, key, mine)
        submitted[ann.name] = n
        log(f"  {ann.name} (simulated, {'careless' if ann.careless else 'careful'}) in {platform}: "
            f"{n} item(s) answered now")
    return submitted


def run_demo(
    out_dir: Path,
    *,
    simulate_annotators: bool = True,
    servers: dict[str, ServerInfo] | None = None,
    log: Log = print,
) -> DemoResult:
    """Run the demo; see the module docstring. Raises brun-label errors on failure.

    ``servers`` (``{"label-studio": info, "argilla": info}``) uses running servers instead of
    starting the local ones (the end-to-end test passes its own).
    """
    out_dir = Path(out_dir)
    result = DemoResult(out_dir=out_dir)
    log("[1/6] bundled samples")
    validate_bundled(log)
    log("[2/6] rubric packs")
    result.files.update(render_packs(out_dir, log))

    log("[3/6] local servers (reused when already up)")
    for name in ("label-studio", "argilla"):
        if servers is not None:
            info = servers[name]
        else:
            server = get_server(name)
            try:
                info = server.status() or server.start()
            except PortBusyError as exc:  # `serve` keeps its port; the demo says so and takes a free one
                log(f"  {exc}: starting on a free port instead")
                info = server.start(port=0)
        result.servers[name] = info
        # Never the password itself: CI logs keep what the demo prints.
        where = f"password in {get_server(name).credentials_path}" if servers is None else "password: the server's own"
        log(f"  {name}: {info.url}  (log in as {info.username}; {where})")

    log(f"[4/6] push {RUBRIC} samples")
    samples = read_samples(sample_path(RUBRIC))
    rubric = load_rubric(RUBRIC)
    backends = {name: _backend(name, info) for name, info in result.servers.items()}
    for name, target in (("label-studio", PROJECT), ("argilla", DATASET)):
        pushed = backends[name].push(samples, rubric, PushOptions(target=target, annotators_per_item=3))
        result.pushed[name] = pushed.to_dict()
        log(f"  {name} {target!r}: added {pushed.n_added}, {pushed.n_existing} already there"
            + (f"  -> {pushed.url}" if pushed.url else ""))

    if not simulate_annotators:
        log("Simulation skipped: annotate in the UIs above, then run `brun-label pull`.")
        return result

    log("[5/6] simulated annotators answer through the servers' APIs (names start with sim-)")
    result.submitted = simulate(backends, samples, DEMO_ANNOTATORS, log)

    log("[6/6] pull, agreement, report, export")
    tables = []
    for name, target in (("label-studio", PROJECT), ("argilla", DATASET)):
        # The judge's scores went to both platforms: take them from one. Usernames, so that a
        # person working on both platforms is one annotator.
        pulled = backends[name].pull(rubric, PullOptions(target=target, include_judge=name == "label-studio",
                                                         annotator_names="username"))
        for problem in pulled.invalid:
            log(f"  invalid answer in {name} (not used): {problem}")
        tables.append(pulled.table)
        log(f"  pulled {len(pulled.table)} rows from {name}")
    table = pd.concat(tables, ignore_index=True)
    table = table.sort_values(["item_id", "candidate_id", "question", "annotator", "platform"], kind="stable")
    table = table.reset_index(drop=True)
    from brun_label.exporters.tables import write_annotations

    ann_path = out_dir / "annotations.parquet"
    write_annotations(table, ann_path)
    result.files["annotations (both platforms)"] = ann_path

    from brun_label.agreement.report import render_report
    from brun_label.agreement.summary import summarize
    from brun_label.atomic import atomic_write_text

    summary = summarize(table, rubric=rubric, n_bootstrap=1000, seed=0)
    result.agreement = summary
    json_path = out_dir / "agreement.json"
    atomic_write_text(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    report_path = out_dir / "agreement-report.html"
    atomic_write_text(report_path, render_report(summary, samples={s.id: s for s in samples}, source=str(ann_path)))
    result.files["agreement summary (JSON)"] = json_path
    result.files["agreement report (HTML)"] = report_path

    from brun_label.exporters.dpo import ExportOptions, export_dpo

    pairs_path = out_dir / "pairs.jsonl"
    # The answers are simulated: the dataset card must say so, never "human".
    options = ExportOptions(fmt="trl", simulated_annotators=(SIMULATED_PATTERN,))
    result.export = export_dpo(table, samples, rubric, pairs_path, options)
    result.files["DPO pairs (TRL)"] = pairs_path
    card = out_dir / "README.md"
    if card.exists():
        result.files["dataset card"] = card
    return result
