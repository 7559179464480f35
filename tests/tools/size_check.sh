#!/usr/bin/env bash
# scripts/size.sh counts what it says: lines per module, files, and each
# function from its signature's first line to its closing brace.
set -euo pipefail
script=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/a" "$tmp/b"
cat >"$tmp/a/one.c" <<'C'
#include <stdio.h>

/* a comment at column 0 is no signature */
static int small(int x) { return x + 1; }

static const int table[] = {
    1, 2,
};

int
longer(int a,
       int b)
{
    if (a)
        return b;
done:
    return a;
}
C
cat >"$tmp/b/two.c" <<'C'
void f(void)
{
}
C
out=$("$script" -n 5 "$tmp")
fail=0
expect() { grep -qxF -- "$1" <<<"$out" || { echo "size: missing line '$1'" >&2; fail=1; }; }
expect "lines: 21 in 2 files (2 .c) under $tmp"
expect "     18  a"
expect "      3  b"
expect "functions: 3; over 50 lines: 0; over 100 lines: 0"
expect "      8  a/one.c:11  longer"
expect "      3  b/two.c:1  f"
expect "      1  a/one.c:4  small"
[ "$fail" = 0 ] || { printf '%s\n' "$out" >&2; exit 1; }
echo "size: all lines as expected"
