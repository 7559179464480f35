#!/usr/bin/env bash
# The tree's C layout is .clang-format's: this script applies it to every C
# file the repository tracks (src/, include/, tests/), or with --check lists
# the files whose layout differs and exits 1. The layout is clang-format
# 14's (Debian's); another major version may lay some lines out otherwise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v clang-format >/dev/null 2>&1; then
    echo "format.sh: clang-format is not installed (apt-get install clang-format)" >&2
    exit 2
fi
mapfile -t files < <(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h')
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in "${files[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "not in the tree's layout: $f (scripts/format.sh applies it)"
            bad=1
        fi
    done
    exit "$bad"
fi
clang-format -i "${files[@]}"
