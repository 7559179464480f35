#!/usr/bin/env python3
"""Checks that the manual page says what the program does:

* its version is the binary's (--version);
* every command of `zakpos-backup --help` has its own .SS section;
* every global option of `--help` is under GLOBAL OPTIONS;
* every option a command accepts (its --help text, the long options of its
  getopt table in src/command/NAME/, its short options) is in its section;
* EXIT STATUS lists exactly the statuses of README.md's table, each with
  README's words, and those are exactly the exit statuses of error.def;
* ENVIRONMENT names every variable the source reads, and VAR_FILE for each
  secret setting.

Exit 0 when all hold; otherwise one line per failure on stderr, each
starting "man: ", and exit 1.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

failures = []


def fail(message):
    failures.append(message)
    print("man: " + message, file=sys.stderr)


def plain(troff):
    """troff source to the words it prints, near enough to search in."""
    text = troff.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    text = re.sub(r"\\f[BIRP]", "", text)
    text = re.sub(r"\\\((dq|lq|rq)", '"', text)
    text = re.sub(r"\\\(aq", "'", text)
    text = re.sub(r"^\.[A-Z]+ ?", "", text, flags=re.M)  # macro names; their arguments stay
    return text


def sections(source):
    """{'.SH NAME' or '.SS NAME': its troff lines}."""
    result, current = {}, None
    for line in source.splitlines():
        m = re.match(r'^\.(SH|SS)\s+"?([^"]*)"?\s*$', line)
        if m:
            current = f".{m.group(1)} {plain(m.group(2)).strip()}"
            result[current] = []
        elif current:
            result[current].append(line)
    return {k: "\n".join(v) for k, v in result.items()}


def has_option(text, option):
    return re.search(re.escape(option) + r"(?![A-Za-z0-9-])", text) is not None


def run(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True).stdout


def help_block(text, title):
    """The lines under `title` in --help output, up to the next blank line."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    return block


def source_options(source_dir, command):
    files = glob.glob(os.path.join(source_dir, "src", "command", command, "*.c"))
    text = "".join(open(f, encoding="utf-8").read() for f in files)
    longs = re.findall(r'\{"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument', text)
    shorts = []
    for optstring in re.findall(r'getopt_long\([^,]+,[^,]+,\s*"([^"]*)"', text):
        shorts += re.findall(r"[A-Za-z0-9]", optstring)
    return ["--" + o for o in longs] + ["-" + s for s in shorts]


def readme_exit_statuses(readme):
    text = open(readme, encoding="utf-8").read()
    table = text.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    return {int(code): meaning.replace("`", "").strip()
            for code, meaning in re.findall(r"^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$", table, flags=re.M)}


def man_exit_statuses(section):
    statuses = {}
    for code, body in re.findall(r"^\.TP\n\.B (\d+)\n(.*?)(?=^\.TP|\Z)", section + "\n", flags=re.M | re.S):
        statuses[int(code)] = " ".join(plain(body).split())
    return statuses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--man", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source", required=True, help="the source tree")
    args = ap.parse_args()

    source = open(args.man, encoding="utf-8").read()
    secs = sections(source)
    text_of = {k: plain(v) for k, v in secs.items()}

    th = re.search(r'^\.TH \S+ 1 \S+ "zakpos-backup ([^"]+)"', source, flags=re.M)
    version = run(args.binary, "--version").split()[-1]
    if not th or th.group(1) != version:
        fail(f".TH names version {th.group(1) if th else '(none)'}, the binary is {version}")

    usage = run(args.binary, "--help")
    commands = [line.split()[0] for line in help_block(usage, "Commands:")]
    if len(commands) < 10:
        fail(f"--help lists only {commands}")
    for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", "\n".join(help_block(usage, "Global options"))):
        if not has_option(text_of.get(".SH GLOBAL OPTIONS", ""), option):
            fail(f"GLOBAL OPTIONS lacks {option}")

    for command in commands:
        heading = ".SS " + ("config check" if command == "config" else command)
        if heading not in secs:
            fail(f"command {command} has no section ({heading})")
            continue
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", run(args.binary, command, "--help")))
        options |= set(source_options(args.source, command))
        options.discard("--help")
        if not options and command not in ("daemon",):
            fail(f"found no options for {command}: is its source in src/command/{command}/?")
        for option in sorted(options):
            if not has_option(text_of[heading], option):
                fail(f"section {command} lacks {option}")
    if not has_option(plain(source), "--help"):
        fail("the page never says that commands take --help")

    readme = readme_exit_statuses(os.path.join(args.source, "README.md"))
    errors = open(os.path.join(args.source, "include", "zakpos_backup", "common", "error.def"), encoding="utf-8").read()
    coded = {int(s) for s in re.findall(r"ZB_ERROR\(\w+,\s*-?\d+,\s*(\d+),", errors)} | {0}
    man = man_exit_statuses(secs.get(".SH EXIT STATUS", ""))
    if set(readme) != coded:
        fail(f"README's exit statuses {sorted(readme)} are not error.def's {sorted(coded)}")
    if set(man) != set(readme):
        fail(f"EXIT STATUS lists {sorted(man)}, README {sorted(readme)}")
    for code, meaning in sorted(readme.items()):
        if code in man and man[code] != meaning:
            fail(f"exit status {code}: the page says '{man[code]}', README '{meaning}'")

    names = set()
    for path in glob.glob(os.path.join(args.source, "src", "**", "*.[ch]"), recursive=True) + \
            glob.glob(os.path.join(args.source, "include", "**", "*.[hd]*"), recursive=True):
        text = open(path, encoding="utf-8").read()
        names |= set(re.findall(r'"((?:ZAKPOS_BACKUP|DOCKER|DATABASE)_[A-Z_]+)"', text))
        for env, kind in re.findall(r'ZB_SETTING\(\w+,\s*(?:NULL|"[^"]*"),\s*"\w+",\s*"\w+",\s*"(\w+)",\s*(\w+)', text):
            if kind in ("SECRET", "CONNINFO"):
                names.add(env + "_FILE")
    environment = text_of.get(".SH ENVIRONMENT", "")
    for name in sorted(names):
        if not re.search(r"\b" + name + r"\b", environment):
            fail(f"ENVIRONMENT lacks {name}")

    if failures:
        return 1
    print(f"man: {len(commands)} commands, {len(readme)} exit statuses, {len(names)} variables documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
