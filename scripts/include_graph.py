#!/usr/bin/env python3
"""The include graph between the modules of src/ (a module: the first folder
under src/ or include/zakpos_backup/, e.g. common, config, command). Prints
each edge with --edges; exits 1 naming a cycle if there is one."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
INCLUDE = re.compile(r'^\s*#\s*include\s+"zakpos_backup/([a-z_]+)/')


def module_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    if rel[0] == "src" and len(rel) > 2:
        return rel[1]
    if rel[:2] == ["include", "zakpos_backup"] and len(rel) > 3:
        return rel[2]
    return None


def graph():
    edges = {}
    for top in ("src", os.path.join("include", "zakpos_backup")):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(folder, name)
                source = module_of(path)
                if not source:
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        m = INCLUDE.match(line)
                        if m and m.group(1) != source:
                            edges.setdefault(source, {}).setdefault(m.group(1), os.path.relpath(path, ROOT))
    return edges


def find_cycle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if not state.get(nxt):
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return None


def main():
    edges = graph()
    if "--edges" in sys.argv:
        for a in sorted(edges):
            print("%s -> %s" % (a, ", ".join(sorted(edges[a]))))
    cycle = find_cycle(edges)
    if cycle:
        steps = ["%s -> %s (%s)" % (a, b, edges[a][b]) for a, b in zip(cycle, cycle[1:])]
        print("include cycle between modules:\n  " + "\n  ".join(steps))
        return 1
    print("no include cycle between the modules of src/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
