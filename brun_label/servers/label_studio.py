"""A local Label Studio 1.23.2 server: its own virtual environment, SQLite, 127.0.0.1, no telemetry.

Adapter (processes, files). ``brun-label serve label-studio`` calls :meth:`LabelStudioServer.start`;
the test suite does the same with a *template*: a data dir that has already been migrated, copied
per test session, which turns the ≈ 22 s first start into a ≈ 3 s one (see ``shared/SERVERS.md``).

Traps handled here:

* the API token given at first start works only if legacy tokens are enabled when the organisation
  is created, so the first start always enables them, and the credentials live *inside* the data dir
  (``brun-label-credentials.json``, mode 0600) so a copied template keeps working tokens;
* Label Studio silently moves to the next port when the asked one is busy: the port is checked
  first (``--port`` honoured, the previous port kept, else one line), and the real port, read from
  its log (``Starting development server at …``), must be the one asked;
* every outbound call (version check on PyPI, Sentry, analytics) is switched off;
* nothing it writes is readable by other users: umask 077, and a settings module
  (:data:`SETTINGS_MODULE`) that sets Django's ``FILE_UPLOAD_PERMISSIONS`` (default 0644, applied
  to every export and upload whatever the umask) to 0600;
* deleting an export snapshot deletes its file (a flag that is off by default in the community
  edition), so ``pull`` leaves nothing behind.

Examples
--------
>>> creds = new_credentials()
>>> creds["username"], len(creds["api_key"]), len(creds["password"]) >= 16
('admin@brun-label.local', 40, True)
>>> port_from_log("Starting development server at http://127.0.0.1:8091/\\nQuit the server")
8091
>>> port_from_log("Performing system checks...") is None
True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from brun_label.errors import BackendError
from brun_label.servers.base import (
    PRIVATE_UMASK,
    LocalServer,
    PortBusyError,
    ServerInfo,
    ensure_venv,
    home,
    make_private,
    open_private,
    private_dir,
    wait_http,
)

VERSION = "1.23.2"
VENV_NAME = f"label-studio-{VERSION}"
REQUIREMENTS = [f"label-studio=={VERSION}"]
CREDENTIALS_FILE = "brun-label-credentials.json"
USERNAME = "admin@brun-label.local"
#: Seconds to wait for a start; a fresh data dir runs its migrations first (≈ 22 s measured).
START_TIMEOUT = 240.0

_PORT_LINE = re.compile(r"Starting development server at https?://[^:/\s]+:(\d+)")

#: Outbound calls off (PyPI version check, Sentry with PII, analytics).
QUIET_ENV = {
    "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
}
#: Label Studio's feature flag that makes ``DELETE /api/projects/{id}/exports/{pk}`` remove the file.
EXPORT_DELETE_FLAG = "ff_back_dev_4664_remove_storage_file_on_export_delete_29032023_short"
#: A settings module written into the state dir: Label Studio's own settings, private uploads.
SETTINGS_MODULE = "brun_label_ls_settings"
#: Its text runs Label Studio's own settings module in this module's namespace (a star import
#: would not do: those settings read ``django.conf.settings`` while they are being imported, which
#: must then find the names defined so far), then makes uploaded and exported files private.
SETTINGS_TEXT = '''"""Written by brun-label: Label Studio's settings, exports and uploads readable by their owner only."""
import importlib.util as _util

_spec = _util.find_spec("label_studio.core.settings.label_studio")
with open(_spec.origin) as _fh:
    exec(compile(_fh.read(), _spec.origin, "exec"))

FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Deleting an export snapshot deletes its file: 1.23.2 pins that flag off among its "stale" flags,
# which win over the environment. Load that plain dict module (under both names the server
# imports it by) before the feature-flag package does, with the flag on.
import os as _os
import sys as _sys

_path = _os.path.join(_os.path.dirname(_os.path.dirname(_spec.origin)), "feature_flags", "stale_feature_flags.py")
_stale = _util.spec_from_file_location("core.feature_flags.stale_feature_flags", _path)
_module = _util.module_from_spec(_stale)
_stale.loader.exec_module(_module)
_module.STALE_FEATURE_FLAGS["__FLAG__"] = True
_sys.modules["core.feature_flags.stale_feature_flags"] = _module
_sys.modules["label_studio.core.feature_flags.stale_feature_flags"] = _module
'''.replace("__FLAG__", EXPORT_DELETE_FLAG)


def new_credentials() -> dict[str, str]:
    """Return a fresh admin login and legacy API token (random)."""
    return {
        "username": USERNAME,
        "password": secrets.token_urlsafe(18),
        "api_key": secrets.token_hex(20),
    }


def port_from_log(text: str) -> int | None:
    """Return the port Label Studio says it listens on, or None if it has not said yet."""
    match = _PORT_LINE.search(text)
    return int(match.group(1)) if match else None


def load_credentials(data_dir: Path) -> dict[str, str] | None:
    """Return the credentials stored in ``data_dir`` (None when there are none)."""
    try:
        raw = json.loads((data_dir / CREDENTIALS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("username", "password", "api_key")):
        return None
    return {k: raw[k] for k in ("username", "password", "api_key")}


def save_credentials(data_dir: Path, creds: dict[str, str]) -> None:
    """Write the credentials into ``data_dir`` (mode 0600)."""
    private_dir(data_dir)
    path = data_dir / CREDENTIALS_FILE
    tmp = path.with_suffix(".tmp")
    with os.fdopen(open_private(tmp), "w") as fh:
        json.dump(creds, fh)
    tmp.replace(path)


class LabelStudioServer(LocalServer):
    """Label Studio on 127.0.0.1 from its own virtual environment, data in ``state_dir/data``.

    ``template``: an already-migrated data dir (see :func:`ensure_template`) copied into place when
    the data dir does not exist yet.
    """

    name = "label-studio"
    default_port = 8080

    def __init__(self, state_dir: Path | None = None, template: Path | None = None) -> None:
        super().__init__(state_dir)
        self.template = template

    @property
    def data_dir(self) -> Path:
        """Label Studio's data dir (SQLite database, uploads, its ``.env`` with the secret key)."""
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.state_dir / "label-studio.log"

    @property
    def credentials_path(self) -> Path:
        """The admin login and API token (mode 0600, inside the data dir)."""
        return self.data_dir / CREDENTIALS_FILE

    def healthy(self, info: ServerInfo) -> bool:
        """Whether the server answers ``/health`` and accepts the recorded token."""
        try:
            req = urllib.request.Request(
                info.url + "/api/current-user/whoami",
                headers={"Authorization": f"Token {info.api_key}"},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, *, port: int | None = None) -> ServerInfo:
        """Start Label Studio (idempotent) and return how to reach it.

        ``port`` None: the port of the previous start, else 8080; N: exactly N; 0: any free port.
        A port that is kept and busy fails with :class:`PortBusyError` rather than moving.
        """
        running = self.status()
        if running is not None:
            return running
        python = ensure_venv(VENV_NAME, REQUIREMENTS)
        executable = python.parent / "label-studio"
        if not self.data_dir.exists() and self.template is not None:
            shutil.copytree(self.template, self.data_dir, symlinks=True)
        private_dir(self.data_dir)
        make_private(self.state_dir)  # also repairs state written before (or a template copied) world-readable
        with os.fdopen(open_private(self.state_dir / f"{SETTINGS_MODULE}.py"), "w") as fh:
            fh.write(SETTINGS_TEXT)
        creds = load_credentials(self.data_dir)
        if creds is None:
            if (self.data_dir / "label_studio.sqlite3").exists():
                raise BackendError(
                    f"{self.data_dir} holds a Label Studio database but no {CREDENTIALS_FILE}: "
                    "move it away (or delete it) to start a fresh local server"
                )
            creds = new_credentials()
            save_credentials(self.data_dir, creds)
        wanted = self.port_for(port)
        env = {
            **os.environ,
            **QUIET_ENV,
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
            "LABEL_STUDIO_USERNAME": creds["username"],
            "LABEL_STUDIO_PASSWORD": creds["password"],
            "LABEL_STUDIO_USER_TOKEN": creds["api_key"],
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "PYTHONUNBUFFERED": "1",
            EXPORT_DELETE_FLAG: "true",
        }
        # The SDK in the tool's own environment reads these at import; the server must not.
        for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
            env.pop(var, None)
        env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
        env["PYTHONPATH"] = os.pathsep.join([str(self.state_dir), *filter(None, [os.environ.get("PYTHONPATH")])])
        cmd = [
            str(executable), "start", "--no-browser", "--internal-host", "127.0.0.1",
            "--port", str(wanted), "--data-dir", str(self.data_dir), "--enable-legacy-api-token",
        ]
        with os.fdopen(open_private(self.log_file), "wb") as log:
            # Its own session (process group), so that stop() can end the server and its children.
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=str(self.state_dir), start_new_session=True, umask=PRIVATE_UMASK,
            )
        try:
            real_port = self._wait_for_port(proc)
            if real_port != wanted:  # taken between the check and the server's own check
                raise PortBusyError(f"label-studio: port {wanted} on 127.0.0.1 became busy while starting "
                                    f"(Label Studio chose {real_port}); pick another with --port")
            url = f"http://127.0.0.1:{real_port}"
            info = ServerInfo(
                name=self.name, url=url, username=creds["username"], password=creds["password"],
                api_key=creds["api_key"], pid=proc.pid, data_dir=str(self.data_dir),
                log_file=str(self.log_file),
                env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": creds["api_key"]},
            )
            info.save(self.info_path)
            wait_http(url + "/health", timeout=60)
            if not self.healthy(info):
                raise BackendError(
                    f"Label Studio at {url} refuses the stored API token (was {self.data_dir} "
                    "created without legacy tokens?)"
                )
        except BaseException:
            self._kill(proc)
            raise
        return info

    def _wait_for_port(self, proc: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log_file.read_text(errors="replace")
            port = port_from_log(text)
            if port is not None:
                return port
            if proc.poll() is not None:
                tail = [ln for ln in text.strip().splitlines() if ln.strip()][-1:] or ["(empty log)"]
                raise BackendError(
                    f"Label Studio exited with code {proc.returncode} while starting: {tail[0]} "
                    f"(log: {self.log_file})"
                )
            time.sleep(0.2)
        raise BackendError(f"Label Studio did not start in {START_TIMEOUT:.0f} s (log: {self.log_file})")

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_private(path, append=True), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_template() -> Path:
    """Return a migrated Label Studio data dir (with its admin and token), built once per version.

    It lives under ``home()/templates/label-studio-<version>``; copy it, never start a server on
    it directly. A file lock makes concurrent callers (parallel test sessions) build it once.
    """
    root = private_dir(home() / "templates") / VENV_NAME
    data = root / "data"
    done = root / ".complete"
    if done.exists():
        make_private(root.parent)  # a template (or its lock) made by an older version was world-readable
        return data
    with _locked(root.parent / f"{VENV_NAME}.lock"):
        if done.exists():
            make_private(root.parent)
            return data
        if root.exists():
            shutil.rmtree(root)
        server = LabelStudioServer(root / "build")
        try:
            server.start(port=0)
        finally:
            server.stop()
        # Leave out the build's log and server.json: only the data dir is the template.
        (root / "build" / "data").rename(data)
        shutil.rmtree(root / "build")
        done.write_text(VERSION)
    return data
