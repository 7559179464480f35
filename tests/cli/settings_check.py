#!/usr/bin/env python3
"""Checks that the settings table and what is made from it agree:

* docs/CONFIG.md and the manual page hold, between their settings:begin and
  settings:end markers, exactly what `zakpos-backup settings` prints now;
* `config check` prints exactly the table's keys, in its order;
* every flag the table gives a command is accepted by that command's
  option parser and named in its --help and in its manual page section;
* a command-line-only switch is no configuration key.

Exit 0 when all hold; otherwise one line per failure, each "settings: ...",
and exit 1.
"""
import argparse
import concurrent.futures
import re
import subprocess
import sys
import tempfile

failures = []


def fail(message):
    failures.append(message)
    print("settings: " + message, file=sys.stderr)


def run(binary, *args, config=None):
    cmd = [binary] + (["--config", config] if config else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def between(text, begin, end, what):
    m = re.search(re.escape(begin) + r"[^\n]*\n(.*?)" + re.escape(end), text, flags=re.S)
    if not m:
        fail(f"{what} has no {begin} ... {end} block")
        return None
    return m.group(1)


def man_section(page, command):
    m = re.search(r"^\.SS " + re.escape(command) + r"\n(.*?)(?=^\.S[SH] )", page, flags=re.M | re.S)
    return m.group(1).replace("\\-", "-") if m else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--config-md", required=True)
    ap.add_argument("--man", required=True)
    args = ap.parse_args()

    _, markdown, _ = run(args.binary, "settings", "--markdown")
    _, man_list, _ = run(args.binary, "settings", "--man")
    committed = between(open(args.config_md, encoding="utf-8").read(), "<!-- settings:begin", "<!-- settings:end -->",
                        args.config_md)
    if committed is not None and committed != markdown:
        fail(f"{args.config_md}'s key table is not the table's: run `zakpos-backup settings --markdown`")
    page = open(args.man, encoding="utf-8").read()
    committed = between(page, '.\\" settings:begin', '.\\" settings:end', args.man)
    if committed is not None and committed != man_list:
        fail(f"{args.man}'s key list is not the table's: run `zakpos-backup settings --man`")

    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|[^|]*\| (?:`--([a-z-]+)` \(([a-z ]*)\))? \|", markdown, flags=re.M)
    keys = [key for key, _, _ in rows]
    flags = [(flag, commands.split()) for _, flag, commands in rows if flag]
    flags += [(flag, commands.split()) for flag, commands in
              re.findall(r"^- `--([a-z-]+)` \(([a-z ]*)\)", markdown, flags=re.M)]
    cli_only = re.findall(r"^- `--([a-z-]+)`", markdown, flags=re.M)
    if len(keys) < 30 or len(cli_only) < 3:
        fail(f"the table lists only {len(keys)} keys and {len(cli_only)} command-line switches")

    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write("")
        conf.flush()
        status, out, err = run(args.binary, "config", "check", config=conf.name)
        printed = [k for k in re.findall(r"^([a-z_]+\.[a-z_]+) = ", out, flags=re.M)
                   if k.split(".")[0] not in ("paths", "job", "check", "remote")]
        if status != 0 or printed != keys:
            fail(f"config check prints {printed} (exit {status}: {err.strip()}), the table has {keys}")
        for flag in cli_only:
            conf.seek(0)
            conf.truncate()
            conf.write(f"[repository]\n{flag.replace('-', '_')} = yes\n")
            conf.flush()
            status, _, err = run(args.binary, "config", "check", config=conf.name)
            if status != 3 or "unknown key" not in err:
                fail(f"--{flag} is accepted as a configuration key (exit {status})")

    pairs = [(flag, command) for flag, commands in flags for command in commands]
    names = sorted({command for _, command in pairs})
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        helps = dict(zip(names, pool.map(lambda c: run(args.binary, c, "--help")[1], names)))
        # the parser knows the flag: a value, then --help, never "unknown"
        tried = dict(zip(pairs, pool.map(lambda p: run(args.binary, p[1], f"--{p[0]}=x", "--help")[2], pairs)))
    for flag, command in pairs:
        named = re.compile(r"--" + re.escape(flag) + r"(?![a-z-])")
        if not named.search(helps[command]):
            fail(f"{command} --help does not name --{flag}")
        if not named.search(man_section(page, "config check" if command == "config" else command)):
            fail(f"the manual page's {command} section does not name --{flag}")
        if "is unknown" in tried[(flag, command)] and \
                "is unknown" in run(args.binary, command, f"--{flag}", "--help")[2]:
            fail(f"{command} does not accept --{flag}")

    if failures:
        return 1
    print(f"settings: {len(keys)} keys, {len(flags)} flags agree with the table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
