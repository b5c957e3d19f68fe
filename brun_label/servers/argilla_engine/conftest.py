"""pytest: the modules here import argilla_server, which lives only in the server's own venv.

They are exercised end to end by ``tests/servers/test_argilla_server.py`` (a real server), so the
doctest collector must not import them in brun-label's environment.
"""

collect_ignore = ["sql_engine.py", "launch.py"]
