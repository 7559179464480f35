#!/usr/bin/env python3
"""The configuration file is loaded in one place: config/context.c (once per
process, handed to the commands in their context). Exits 1 naming every
other file of src/ that calls zb_config_load."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
CALL = re.compile(r"\bzb_config_load\s*\(")
ALLOWED = {os.path.join("src", "config", "context.c"), os.path.join("src", "config", "config.c")}


def main():
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in files:
            if not name.endswith(".c"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    if CALL.search(line) and rel not in ALLOWED:
                        found.append(f"{rel}:{number}")
    for place in found:
        print(f"config_loads: the configuration is loaded outside config/context.c at {place}")
    if not found:
        print("config_loads: the configuration is loaded only by config/context.c")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
