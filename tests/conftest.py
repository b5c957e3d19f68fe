"""Test configuration. Fixture plugins live in tests/fixtures/ (one module per server or fake)."""

pytest_plugins = [
    "tests.fixtures.label_studio",
    "tests.fixtures.argilla",
    "tests.fixtures.fake_openai",
]

# Hypothesis' per-example deadline (200 ms) measures the machine, not the code: on a loaded 2-core
# CI box a pandas-backed example can take longer. Speed lives in bench/, never in a test.
from hypothesis import settings  # noqa: E402

settings.register_profile("brun-label", deadline=None)
settings.load_profile("brun-label")
