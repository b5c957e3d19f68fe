"""Local servers for users and tests: each in its own virtual environment, on 127.0.0.1.

Label Studio and argilla-server pin dependencies that cannot live beside the tool's own (see
``shared/SERVERS.md``), so each gets a virtual environment under :func:`home` created on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from brun_label.atomic import pid_alive
from brun_label.errors import BackendError

#: The umask of every server process: what it creates (databases, SQLite -wal/-journal files,
#: logs, exports, uploads) is readable by its owner only.
PRIVATE_UMASK = 0o077


def home() -> Path:
    """Return brun-label's state directory (``$BRUN_LABEL_HOME``, default ``~/.cache/brun-label``).

    Created with mode 0700 (it holds the servers' databases and keys).
    """
    base = os.environ.get("BRUN_LABEL_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "brun-label"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def make_private(root: Path) -> None:
    """Take group and other permissions off ``root`` and everything under it (symlinks untouched).

    Directories become 0700-like and files 0600-like (owner bits are kept), which also repairs
    state written by an older version or copied from a world-readable template.

    >>> import tempfile, stat
    >>> d = Path(tempfile.mkdtemp()); f = d / "db.sqlite3"; _ = f.write_text("k"); f.chmod(0o644)
    >>> make_private(d)
    >>> oct(stat.S_IMODE(d.stat().st_mode)), oct(stat.S_IMODE(f.stat().st_mode))
    ('0o700', '0o600')
    """
    def fix(path: str) -> None:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)

    fix(str(root))
    for parent, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            fix(os.path.join(parent, name))


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed and make it mode 0700; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def open_private(path: Path, *, append: bool = False) -> int:
    """Open ``path`` for writing as mode 0600 (also when it existed with a wider mode); return the fd."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd


@dataclass
class ServerInfo:
    """A running local server: where it is and how to log in."""

    name: str
    url: str
    username: str
    password: str
    api_key: str
    pid: int
    data_dir: str
    log_file: str
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables a user exports to talk to it (the SDKs' own names)."""

    def save(self, path: Path) -> None:
        """Write this record as JSON (mode 0600: it holds a key)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with os.fdopen(open_private(tmp), "w") as fh:
            fh.write(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ServerInfo | None:
        """Read a record written by :meth:`save` (None when absent or unreadable)."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def ensure_venv(name: str, requirements: list[str], *, log: bool = True) -> Path:
    """Create (once) a virtual environment ``home()/venvs/name`` with ``requirements``; return its python.

    A marker file records the requirements, so a change of pins rebuilds the environment.
    """
    venv = home() / "venvs" / name
    python = venv / "bin" / "python"
    marker = venv / ".brun-label-requirements"
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    if log:
        print(f"brun-label: creating the {name} environment in {venv} (first use only)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise BackendError(f"could not install {name} ({' '.join(requirements)}): {tail[0]}")
    marker.write_text(wanted)
    return python


class PortBusyError(BackendError):
    """The port a server must keep (``--port N``, or the one it had before) is taken."""


def port_free(port: int) -> bool:
    """Whether a server can listen on ``port`` at 127.0.0.1 now.

    Nothing may answer there, and a bind with ``SO_REUSEADDR`` (as the servers bind) must work:
    connections of a crashed server left in TIME_WAIT do not make the port busy.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """Return ``preferred`` if it is free on 127.0.0.1, else any free port."""
    if preferred and port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", 0))
        except OSError:
            raise BackendError("no free TCP port on 127.0.0.1") from None
        return int(sock.getsockname()[1])


def choose_port(name: str, asked: int | None, recorded: int | None, default: int) -> int:
    """The port a local server starts on: kept, never moved silently.

    ``asked`` 0 means any free port; ``asked`` N means exactly N; None means the port the server
    had before (``recorded``), else its ``default``. A port that must be kept and is busy raises
    :class:`PortBusyError` (one line) instead of moving elsewhere.
    """
    if asked == 0:
        return free_port(None)
    wanted = asked or recorded or default
    if not port_free(wanted):
        how = "asked for with --port" if asked else ("it had before" if recorded else "its default")
        raise PortBusyError(f"{name}: port {wanted} on 127.0.0.1 ({how}) is busy; stop what uses it or "
                            "pick another with --port (0 = any free port)")
    return wanted


def wait_http(url: str, *, timeout: float, ok_codes: tuple[int, ...] = (200,), headers: dict[str, str] | None = None) -> None:
    """Poll ``url`` until it answers one of ``ok_codes`` or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=5) as resp:
                if resp.status in ok_codes:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            if exc.code in ok_codes:
                return
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise BackendError(f"server at {url} did not become ready in {timeout:.0f} s ({last})")


class LocalServer:
    """A local annotation server managed by brun-label (subclasses: Label Studio, Argilla).

    State lives in ``state_dir`` (default ``home()/servers/<name>``): ``server.json`` (a
    :class:`ServerInfo`), the data dir and the log. Nothing there is readable by other users: the
    directory is 0700, its files 0600, and the server process runs with umask 077
    (:data:`PRIVATE_UMASK`), so its databases, journals, exports and uploads are born private.
    ``start`` is idempotent: when the recorded server is alive and healthy it is returned as is.
    """

    name = "server"
    default_port = 8000

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir else home() / "servers" / self.name
        private_dir(self.state_dir)

    @property
    def credentials_path(self) -> Path:
        """The file that holds the login and API key (mode 0600): printed instead of the password."""
        return self.info_path

    @property
    def info_path(self) -> Path:
        """Where the running server's :class:`ServerInfo` is recorded."""
        return self.state_dir / "server.json"

    def start(self, *, port: int | None = None) -> ServerInfo:
        """Start the server (creating its environment on first use) and return how to reach it."""
        raise NotImplementedError

    def recorded_port(self) -> int | None:
        """The port the last start of this server used (None when it never started)."""
        info = ServerInfo.load(self.info_path)
        try:
            return int(info.url.rsplit(":", 1)[1].split("/")[0]) if info is not None else None
        except (IndexError, ValueError):
            return None

    def port_for(self, asked: int | None) -> int:
        """The port to start on (:func:`choose_port`: ``--port`` honoured, the previous one kept)."""
        return choose_port(self.name, asked, self.recorded_port(), self.default_port)

    def healthy(self, info: ServerInfo) -> bool:
        """Whether the recorded server answers."""
        raise NotImplementedError

    def status(self) -> ServerInfo | None:
        """Return the running server's info, or None when it is not running."""
        info = ServerInfo.load(self.info_path)
        if info is None or not pid_alive(info.pid):
            return None
        return info if self.healthy(info) else None

    def stop(self) -> bool:
        """Stop the server (its whole process group); return whether one was running."""
        import signal

        info = ServerInfo.load(self.info_path)
        if info is None or not pid_alive(info.pid):
            return False
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(info.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pid_alive(info.pid):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(info.pid, os.WNOHANG)
                time.sleep(0.1)
            if not pid_alive(info.pid):
                break
        return True


#: name -> "module:class" of the local servers `brun-label serve` knows.
SERVERS = {
    "label-studio": "brun_label.servers.label_studio:LabelStudioServer",
    "argilla": "brun_label.servers.argilla:ArgillaServer",
}


def get_server(name: str, state_dir: Path | None = None) -> LocalServer:
    """Return the :class:`LocalServer` registered under ``name``."""
    import importlib

    module, cls = SERVERS[name].split(":")
    server: LocalServer = getattr(importlib.import_module(module), cls)(state_dir)
    return server
