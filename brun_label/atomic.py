"""Atomic file writes: a reader sees the previous file or the complete new one, never half a file.

The new content goes to a hidden temporary file beside the target, ``.<name>.<pid>.<random>.tmp``,
which replaces the target only once it is complete and synced. Nothing is left behind:

* on an error or Ctrl-C (``KeyboardInterrupt``) the temporary file is removed;
* on SIGTERM or SIGHUP, a handler (installed while a write is under way, from the main thread,
  when the signal had its default action) removes every temporary file still open, then lets the
  signal end the process as it would have;
* a SIGKILL cannot be caught, so the next write of the same target removes the temporary files
  of writers that are dead (the pid in the name names the writer; a live pid is left alone).

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> with atomic_path(os.path.join(d, "out.txt")) as tmp:
...     _ = open(tmp, "w").write("done")
>>> open(os.path.join(d, "out.txt")).read()
'done'
>>> sorted(os.listdir(d))
['out.txt']
>>> stale_writer("out.txt", ".out.txt.4242.k2j4h1x9.tmp"), stale_writer("out.txt", ".other.4242.a.tmp")
(4242, None)
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

#: Signals whose default action ends the process without running ``finally`` blocks.
_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_lock = threading.Lock()
#: Temporary files of writes under way in this process.
_live: set[str] = set()
#: The handlers this module replaced (signal -> previous handler) while writes are under way.
_saved: dict[int, Any] = {}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def stale_writer(target_name: str, file_name: str) -> int | None:
    """The writer's pid if ``file_name`` is a temporary file of an atomic write of ``target_name``."""
    prefix = f".{target_name}."
    if not (file_name.startswith(prefix) and file_name.endswith(".tmp")):
        return None
    pid, _, rest = file_name[len(prefix):-len(".tmp")].partition(".")
    return int(pid) if pid.isdigit() and rest and "." not in rest else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one that is not ours to signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temporary files that dead writers (SIGKILL, power loss) left beside ``target``."""
    removed: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        pid = stale_writer(target.name, name)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target.parent / name)
            removed.append(target.parent / name)
    return removed


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Remove every temporary file under way, then die of the signal as its default action would."""
    with _lock:
        paths = list(_live)
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)
    previous = _saved.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _register(tmp: str) -> None:
    with _lock:
        _live.add(tmp)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            if sig not in _saved:
                current = signal.getsignal(sig)
                if current in (signal.SIG_DFL, None):
                    _saved[sig] = current
                    signal.signal(sig, _on_signal)


def _unregister(tmp: str) -> None:
    with _lock:
        _live.discard(tmp)
        if _live or threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in list(_saved.items()):
            if signal.getsignal(sig) is _on_signal:
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            del _saved[sig]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    _register(tmp)
    try:
        # mkstemp creates 0600 files; give the result the mode a plain open() would (0666 & ~umask).
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        _unregister(tmp)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
