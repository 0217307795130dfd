"""One writer per results directory: a lock file held for the writer's lifetime.

Two runs appending to one results.jsonl interleave their cells and duplicate some, so
a run (or `machine`, `import`, an interleaved compare) takes OUT/.dlbench.lock first.
The lock is an flock on an open descriptor: the kernel releases it when the holder
exits, however it exits, so a crash never leaves a directory locked. The file also
says who holds it (pid, command, start time), for the refusal to name.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from datetime import datetime

from harness.errors import DlbenchError

LOCK = ".dlbench.lock"


class DirectoryBusy(DlbenchError, RuntimeError):
    """Another live process holds the directory: the message names it, in one line."""


class OutLock:
    def __init__(self, out_dir, command):
        self.out_dir, self.command = out_dir, command
        self.path = os.path.join(out_dir, LOCK)
        self._fd = None

    def acquire(self):
        """Take the lock; returns a warning line when it takes over one a dead process left,
        else None. DirectoryBusy when a live process holds it; OSError when it cannot be made."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise DirectoryBusy(
                    f"{self.out_dir} is in use by {_describe(holder)}; wait for it or choose another --out"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            # a holder that released removes the file: if ours is no longer the one at the
            # path, another process may already lock a new one there, so start again
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        previous = _read_holder(fd)
        me = {
            "pid": os.getpid(),
            "command": self.command,
            "started": datetime.now().isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "argv": sys.argv[1:],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        os.fsync(fd)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            state = "which has exited" if not _alive(previous["pid"]) else "which no longer holds it"
            return f"WARNING: {self.out_dir} was locked by {_describe(previous)}, {state}; taking the lock over"
        return None

    def release(self):
        """Remove the lock file while still holding it (the next taker checks it has the file at
        the path), then let go."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_holder(fd):
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data.decode("utf-8", errors="replace") or "{}")
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(holder):
    """'dlbench run (pid 1234, since 02:14:05)', with the date when not today."""
    if not holder.get("pid"):
        return "another dlbench process (starting up)"
    since = ""
    try:
        started = datetime.fromisoformat(holder["started"])
        since = (
            f", since {started:%H:%M:%S}"
            if started.date() == datetime.now().date()
            else f", since {started:%Y-%m-%d %H:%M:%S}"
        )
    except (KeyError, TypeError, ValueError):
        pass
    host = holder.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"{holder.get('command') or 'dlbench'} (pid {holder['pid']}{where}{since})"


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True
