"""Root pytest configuration: keep doctest collection away from entry-point modules."""

collect_ignore = ["brun_label/__main__.py", "bench", ".brun-label", ".venv"]
