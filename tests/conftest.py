"""Test configuration. Fixture plugins live in tests/fixtures/ (one module per server or fake)."""

import importlib.util

# Each fixtures module is owned by the feature that needs it; list it here once it exists.
_PLUGINS = [
    "tests.fixtures.label_studio",
    "tests.fixtures.argilla",
    "tests.fixtures.fake_openai",
]
pytest_plugins = [p for p in _PLUGINS if importlib.util.find_spec(p) is not None]
