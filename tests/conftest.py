"""Test configuration. Fixture plugins live in tests/fixtures/ (one module per server or fake)."""

pytest_plugins = [
    "tests.fixtures.label_studio",
    "tests.fixtures.argilla",
    "tests.fixtures.fake_openai",
]
