"""Files that run INSIDE the argilla-server virtual environment, not in brun-label's own.

``sql_engine.py`` is a search engine for argilla-server 2.8 that answers from the server's own
database (SQLite) instead of Elasticsearch/OpenSearch; ``launch.py`` registers it, optionally
starts an in-process fake Redis and an rq worker thread, and runs uvicorn. Neither imports
brun_label: :class:`brun_label.servers.argilla.ArgillaServer` runs ``launch.py`` by path with the
server environment's python. They are the *local/test* engine; production users point brun-label
at any Argilla deployment (with Elasticsearch or OpenSearch).
"""

from pathlib import Path

#: The folder holding ``launch.py`` and ``sql_engine.py`` (run by path in the server venv).
ENGINE_DIR = Path(__file__).resolve().parent
LAUNCHER = ENGINE_DIR / "launch.py"
