"""brun-label: turn LLM-drafted training samples into human-verified preference data.

The package is split into a pure core (data model, rubrics, agreement, consensus and pair
selection: no network, no files) and adapters (Label Studio, Argilla, OpenAI, file formats).
"""

__version__ = "0.1.0"
