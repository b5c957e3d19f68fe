"""``brun-label serve argilla``: the real argilla-server 2.8.0 on SQLite, without Elasticsearch.

This is the **local/test** server: argilla-server runs from its own virtual environment
(``argilla-server==2.8.0`` pins ``typer<0.10``, which needs ``click<8.2``) with the SQL search
engine in :mod:`brun_label.servers.argilla_engine` registered through argilla-server's own engine
registry (``ARGILLA_SEARCH_ENGINE=brun-sql``), an in-process fake Redis (or a real one, given
``redis_url`` / ``$BRUN_LABEL_ARGILLA_REDIS_URL``) and an rq worker thread. Annotators get the
stock server's view (their own responses, their pending queue, their progress). For production,
point brun-label at any Argilla deployment (``ARGILLA_API_URL`` / ``ARGILLA_API_KEY``).

On first start the database is migrated and an owner user (``owner``, random password and API
key, kept in ``server.json`` with mode 0600) is created in the workspace ``default``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

from brun_label.errors import BackendError
from brun_label.servers.argilla_engine import LAUNCHER
from brun_label.servers.base import (
    PRIVATE_UMASK,
    LocalServer,
    ServerInfo,
    ensure_venv,
    make_private,
    open_private,
    private_dir,
    wait_http,
)

VENV_NAME = "argilla-server-2.8.0"
#: Installed in ONE pip command: adding the click pin later leaves a huggingface_hub that needs a newer click.
REQUIREMENTS = ["argilla-server==2.8.0", "click<8.2", "fakeredis>=2.20"]
OWNER = "owner"
WORKSPACE = "default"
ENGINE = "brun-sql"
START_TIMEOUT = 120.0


def _tail(path: Path, n: int = 1) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return " | ".join(lines[-n:]) or "(empty log)"


class ArgillaServer(LocalServer):
    """A local argilla-server on 127.0.0.1 (see the module docstring)."""

    name = "argilla"
    default_port = 6900

    def __init__(self, state_dir: Path | None = None, *, redis_url: str | None = None) -> None:
        super().__init__(state_dir)
        self.redis_url = redis_url or os.environ.get("BRUN_LABEL_ARGILLA_REDIS_URL") or None

    @property
    def data_dir(self) -> Path:
        """Where the SQLite database and argilla-server's home live."""
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        """The server's log (stdout and stderr)."""
        return self.state_dir / "argilla.log"

    def healthy(self, info: ServerInfo) -> bool:
        """Whether ``GET /api/v1/me`` answers 200 with the owner's key."""
        try:
            wait_http(f"{info.url}/api/v1/me", timeout=2, headers={"X-Argilla-Api-Key": info.api_key})
        except BackendError:
            return False
        return True

    def _credentials(self) -> tuple[str, str]:
        """The owner's password and API key: the recorded ones (the database holds them), or new."""
        old = ServerInfo.load(self.info_path)
        if old is not None and (self.data_dir / "argilla.db").exists():
            return old.password, old.api_key
        return secrets.token_urlsafe(12), "brun." + secrets.token_urlsafe(24)

    def server_env(self, password: str, api_key: str) -> dict[str, str]:
        """The environment of the server process (inherited ``ARGILLA_*`` settings are dropped)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "BRUN_ARGILLA_"))}
        db = self.data_dir / "argilla.db"
        env.update(
            ARGILLA_HOME_PATH=str(self.data_dir),
            ARGILLA_DATABASE_URL=f"sqlite+aiosqlite:///{db}?check_same_thread=False",
            ARGILLA_SEARCH_ENGINE=ENGINE,
            ARGILLA_ENABLE_SHARE_YOUR_PROGRESS="false",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_OFFLINE="1",
            BRUN_ARGILLA_OWNER_USERNAME=OWNER,
            BRUN_ARGILLA_OWNER_PASSWORD=password,
            BRUN_ARGILLA_OWNER_API_KEY=api_key,
            BRUN_ARGILLA_WORKSPACE=WORKSPACE,
        )
        if self.redis_url:
            env["ARGILLA_REDIS_URL"] = self.redis_url
        return env

    def start(self, *, port: int | None = None, timeout: float = START_TIMEOUT) -> ServerInfo:
        """Start the server (creating its environment on first use); return how to reach it."""
        running = self.status()
        if running is not None:
            return running
        python = ensure_venv(VENV_NAME, REQUIREMENTS)
        chosen = self.port_for(port)
        private_dir(self.data_dir)
        make_private(self.state_dir)  # also repairs state an older version left world-readable
        password, api_key = self._credentials()
        cmd = [str(python), str(LAUNCHER), "--host", "127.0.0.1", "--port", str(chosen), "--worker"]
        if not self.redis_url:
            cmd.append("--fake-redis")
        with os.fdopen(open_private(self.log_file, append=True), "ab") as log:
            # umask 077: the database (API keys in plain text), its -journal/-wal files and
            # argilla-server's home are born readable by their owner only.
            proc = subprocess.Popen(
                cmd,
                env=self.server_env(password, api_key),
                cwd=str(self.state_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                umask=PRIVATE_UMASK,
            )
        url = f"http://127.0.0.1:{chosen}"
        info = ServerInfo(
            name=self.name,
            url=url,
            username=OWNER,
            password=password,
            api_key=api_key,
            pid=proc.pid,
            data_dir=str(self.data_dir),
            log_file=str(self.log_file),
            env={"ARGILLA_API_URL": url, "ARGILLA_API_KEY": api_key},
        )
        info.save(self.info_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BackendError(f"argilla-server exited with code {proc.returncode}: {_tail(self.log_file)} "
                                   f"(log: {self.log_file})")
            if self.healthy(info):
                return info
            time.sleep(0.3)
        self.stop()
        raise BackendError(f"argilla-server did not answer within {timeout:.0f} s (log: {self.log_file})")

