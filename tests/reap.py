"""Runs a command as a child subreaper and stops what it leaves behind.

    python tests/reap.py COMMAND [ARGS...]

Processes the command starts in sessions of their own (JupyterHub's spawner does that for
single-user servers) are re-parented to this process when their parent exits, instead of to
init. Once the command ends, every process still below this one is sent SIGTERM, then SIGKILL
after 5 s: exactly what this run started, nothing else on the machine. Exits with the command's
status.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children() -> list[int]:
    """Pids whose parent is this process."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            found.append(int(entry))
    return found


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_left_behind() -> int:
    stopped = set()
    deadline = None
    while True:
        reap()
        pids = children()
        if not pids:
            return len(stopped)
        now = time.monotonic()
        if deadline is None:
            deadline = now + 5
        sig = signal.SIGTERM if now < deadline else signal.SIGKILL
        for pid in pids:
            if sig == signal.SIGKILL or pid not in stopped:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            stopped.add(pid)
        time.sleep(0.1)


def main() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("reap.py: cannot become a child subreaper", file=sys.stderr)
        return 2
    child = subprocess.Popen(sys.argv[1:])
    try:
        code = child.wait()
    except KeyboardInterrupt:
        child.terminate()
        code = child.wait()
    left = stop_left_behind()
    if left:
        print(f"reap.py: stopped {left} process(es) the command left behind", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
