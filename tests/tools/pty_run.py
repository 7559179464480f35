"""Runs a command under a pseudo-terminal, as a person at a terminal would,
and writes everything it printed (progress lines with their carriage
returns included) to OUT; exits with the command's exit status.

usage: pty_run.py OUT COMMAND [ARG...]"""
import os
import pty
import sys

out_path, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
captured = bytearray()
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:  # EIO once the child is gone
        break
    if not data:
        break
    captured += data
_, status = os.waitpid(pid, 0)
with open(out_path, "wb") as f:
    f.write(captured)
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8)
