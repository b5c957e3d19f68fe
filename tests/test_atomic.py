"""Atomic writes: nothing half-written, nothing left behind (errors, SIGTERM, SIGHUP, SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brun_label.atomic import atomic_path, atomic_write_text, remove_stale_temps, stale_writer

#: A writer that starts an atomic write of argv[1], writes half of it, says so, and waits.
WRITER = textwrap.dedent("""
    import sys, time
    from brun_label.atomic import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        with open(tmp, "w") as fh:
            fh.write("half of the new")
            fh.flush()
            print(tmp, flush=True)
            time.sleep(60)
""")


def _writer(target: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists() and tmp.parent == target.parent
    return proc, tmp


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_an_error_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "out.jsonl"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        Path(tmp).write_text("new, but never finished")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_writer_leaves_the_old_file_and_no_temp(tmp_path, sig):
    target = tmp_path / "pairs.jsonl"
    target.write_text("previous\n")
    proc, tmp = _writer(target)
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == -sig  # still dies of the signal, as without the handler
    assert not tmp.exists()
    assert _temps(tmp_path) == []
    assert target.read_text() == "previous\n"


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    target = tmp_path / "table.parquet"
    target.write_text("previous")
    killed, stale = _writer(target)
    killed.kill()
    killed.wait(timeout=20)
    assert stale.exists() and target.read_text() == "previous"  # SIGKILL cannot be cleaned up by the victim
    alive, live_tmp = _writer(target)  # a writer still at work keeps its file
    try:
        atomic_write_text(target, "new")
        assert not stale.exists()
        assert live_tmp.exists()
        assert target.read_text() == "new"
        assert _temps(tmp_path) == [live_tmp.name]
    finally:
        alive.kill()
        alive.wait(timeout=20)
    assert remove_stale_temps(target) == [live_tmp]
    assert _temps(tmp_path) == []


def test_other_targets_temps_are_left_alone(tmp_path):
    dead_pid = _dead_pid()
    other = tmp_path / f".table.parquet.x.{dead_pid}.abcd1234.tmp"  # the temp of target "table.parquet.x"
    other.write_text("")
    foreign = tmp_path / ".table.parquet.notes.tmp"  # not one of ours
    foreign.write_text("")
    atomic_write_text(tmp_path / "table.parquet", "x")
    assert other.exists() and foreign.exists()
    assert remove_stale_temps(tmp_path / "table.parquet.x") == [other]


def test_signal_handlers_are_restored_and_a_custom_one_is_kept(tmp_path):
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    with atomic_path(tmp_path / "a") as tmp:
        Path(tmp).write_text("a")
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def mine(signum, frame):  # an application's own handler
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with atomic_path(tmp_path / "b") as tmp:
            Path(tmp).write_text("b")
            assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    time.sleep(0.05)
    return proc.pid


_names = st.text(alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
                 min_size=1, max_size=30)


@given(_names, st.integers(min_value=1, max_value=2**22), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_",
                                                                 min_size=8, max_size=8))
def test_a_temp_name_names_its_writer(name, pid, rand):
    assert stale_writer(name, f".{name}.{pid}.{rand}.tmp") == pid
    assert stale_writer(name, name) is None
    assert stale_writer(f"{name}.x", f".{name}.{pid}.{rand}.tmp") is None  # another target's temp


@given(_names)
def test_an_atomic_write_leaves_only_the_target(name):
    import tempfile

    if name in (".", ".."):
        return
    with tempfile.TemporaryDirectory() as d:
        atomic_write_text(os.path.join(d, name), "x")
        assert os.listdir(d) == [name]
