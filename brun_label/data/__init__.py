"""Sample data shipped with brun-label, for the demo, the docs and the tests.

Each file is JSON Lines, one object per line:

``de-escalation.jsonl``, ``project-architect.jsonl``, ``socratic-mentor.jsonl``, ``deal-closer.jsonl``
    Samples in the sample format (``brun-label schema``) for the rubric pack of the same name:
    a scenario with three or four contrasting candidate replies, each written for a persona and
    an emotional arc. The replies are hand-written examples (``source: hand-written``, no
    ``model``): no model wrote them. About half carry judge scores (``judge``) in the place an
    LLM judge's would go, hand-written too (``judge_source: hand-written``, ``judge_model:
    hand-written``), plausible but not always right, so that judge-versus-annotator agreement
    has something to find.
``scenarios-de-escalation.jsonl``
    Scenarios without candidates (``id``, ``category``, ``prompt``, ``metadata``), the input of
    ``brun-label draft``.

Use :func:`sample_path` to get a real file path (the package may be installed from a wheel):

Examples
--------
>>> names()
['de-escalation', 'deal-closer', 'project-architect', 'scenarios-de-escalation', 'socratic-mentor']
>>> sample_path("de-escalation").name
'de-escalation.jsonl'
>>> from brun_label.importers.samples import read_samples
>>> samples = read_samples(sample_path("de-escalation"))
>>> len(samples), samples[0].id, samples[0].category
(24, 'deesc-001', 'customer_complaint')
>>> sample_path("nope")
Traceback (most recent call last):
...
brun_label.errors.InputError: no bundled sample file named 'nope' (known: de-escalation, deal-closer, project-architect, scenarios-de-escalation, socratic-mentor)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from brun_label.errors import InputError

_PACKAGE = "brun_label.data"
_SUFFIX = ".jsonl"


def names() -> list[str]:
    """Return the names of the bundled sample files, sorted, without the ``.jsonl`` suffix."""
    return sorted(
        p.name[: -len(_SUFFIX)] for p in resources.files(_PACKAGE).iterdir() if p.name.endswith(_SUFFIX)
    )


def sample_path(name: str) -> Path:
    """Return the path of the bundled file ``name`` (with or without the ``.jsonl`` suffix).

    Raises :class:`~brun_label.errors.InputError` (exit 2 in the CLI) for an unknown name.
    """
    stem = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
    known = names()
    if stem not in known:
        raise InputError(f"no bundled sample file named {name!r} (known: {', '.join(known)})")
    # The package data is installed as plain files (setuptools package-data, never zipped), so the
    # traversable is a real path; Path() makes that explicit for callers that open it themselves.
    return Path(str(resources.files(_PACKAGE).joinpath(stem + _SUFFIX)))
