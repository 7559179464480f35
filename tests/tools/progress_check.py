"""Reads what a command printed on a terminal (pty_run.py's capture) and
checks its progress lines: each names its operation and phase; a bar's
position never passes its total and its percentage never goes back within a
phase; every bar of a phase has the same total, and for the reading phase
of a restore that total is the archive file's size (argument 3, bytes);
the phases seen, in order, must include those given (argument 4, comma-
separated). Prints "ok" or what is wrong.

usage: progress_check.py CAPTURE LABEL ARCHIVE-BYTES|- PHASE,PHASE..."""
import re
import sys

units = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def fmt(n):
    """The way the program prints a size (zb_format_bytes)."""
    if n < 1024:
        return "%d B" % n
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024.0
        if n < 1024 or unit == "GiB":
            return "%.1f %s" % (n, unit)


capture, label, archive_bytes, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
text = open(capture, "rb").read().decode("utf-8", "replace").replace("\x1b[K", "")
lines = [l.strip("\n") for l in re.split(r"[\r\n]", text) if l.startswith(label + ": ")]
problems, phases, last = [], [], {}
bar = re.compile(r"^(?P<phase>[^\[]+?) \[[#.]{24}\] +(?P<pct>\d+)% (?P<done>[\d.]+ \w+) of (?P<total>[\d.]+ \w+), ")
for line in lines:
    rest = line[len(label) + 2:]
    m = bar.match(rest)
    phase = m.group("phase") if m else re.split(r",? [\d.]+(?:s|m\d|h\d)| [\d.]+ (?:B|KiB|MiB|GiB)", rest)[0]
    if not phases or phases[-1] != phase:
        phases.append(phase)
    if not m:
        continue
    pct, done, total = int(m.group("pct")), m.group("done"), m.group("total")
    size = lambda s: float(s.split()[0]) * units[s.split()[1]]
    if size(done) > size(total) * 1.001 or pct > 100:
        problems.append("position past the total: %r" % line)
    if phase in last and (pct < last[phase][0] or total != last[phase][1]):
        problems.append("the bar went back or changed its total: %r" % line)
    last[phase] = (pct, total)
    if phase.startswith("reading") and archive_bytes != "-" and total != fmt(int(archive_bytes)):
        problems.append("the reading bar's total %s is not the archive's size %s" % (total, fmt(int(archive_bytes))))
at = 0
for w in wanted:
    found = [i for i, p in enumerate(phases) if i >= at and p.startswith(w)]
    if not found:
        problems.append("no phase %r after %r (phases: %r)" % (w, phases[at - 1] if at else "", phases))
        break
    at = found[0] + 1
print("\n".join(problems) or "ok")
