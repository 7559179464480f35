#!/usr/bin/env bash
# The size of the sources, measured the same way every time, for the notes
# that compare a tree before and after a change: lines per module, the
# largest files and the largest functions.
#
#   scripts/size.sh [-n N] [DIR]   DIR: default src/ of this tree; N rows (default 10)
#
# A function is counted from the first line of its signature to its closing
# brace at column 0, the house style's layout (clang-format puts a
# function's opening brace alone at column 0); a one-line function counts 1.
# Only awk and coreutils are needed, so the figures never depend on which
# tools a machine has (on src/ they agree with Universal Ctags' end lines).
set -euo pipefail

rows=10
while getopts "n:" opt; do
    case "$opt" in
    n) rows=$OPTARG ;;
    *) echo "usage: scripts/size.sh [-n N] [DIR]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/src}
[ -d "$dir" ] || { echo "scripts/size.sh: no folder $dir" >&2; exit 2; }
case "$rows" in '' | *[!0-9]*) echo "scripts/size.sh: -n takes a whole number" >&2; exit 2 ;; esac

cd "$dir"
mapfile -t files < <(find . -type f \( -name '*.c' -o -name '*.h' \) | sed 's|^\./||' | LC_ALL=C sort)
[ "${#files[@]}" -gt 0 ] || { echo "scripts/size.sh: no .c or .h file under $dir" >&2; exit 2; }

total=$(cat "${files[@]}" | wc -l)
c_files=$(printf '%s\n' "${files[@]}" | grep -c '\.c$' || true)
echo "lines: $total in ${#files[@]} files ($c_files .c) under $dir"
if [ $# -eq 0 ] && [ -d "$root/include/zakpos_backup" ]; then
    headers=$(find "$root/include/zakpos_backup" -type f \( -name '*.h' -o -name '*.def' \) | LC_ALL=C sort)
    echo "headers: $(cat $headers | wc -l) lines in $(echo "$headers" | wc -l) files under $root/include/zakpos_backup"
fi

echo
echo "lines per module (first folder; files at the top as '.'):"
for f in "${files[@]}"; do
    case "$f" in */*) m=${f%%/*} ;; *) m=. ;; esac
    printf '%s %s\n' "$m" "$(wc -l <"$f")"
done | awk '{ n[$1] += $2 } END { for (m in n) printf "%7d  %s\n", n[m], m }' | LC_ALL=C sort -k1,1nr -k2

echo
echo "largest files:"
wc -l "${files[@]}" | grep -v ' total$' | LC_ALL=C sort -k1,1nr -k2 | head -n "$rows" | awk '{ printf "%7d  %s\n", $1, $2 }'

# One line per function: its length, file:line and name.
functions=$(awk '
    FNR == 1 { sig = 0 }
    # a signature starts at column 0 (not a comment, preprocessor line,
    # label, closing brace or declaration ending in ";")
    /^[A-Za-z_]/ && !/;[ \t]*$/ && !/^[A-Za-z_][A-Za-z_0-9]*:/ {
        sig = FNR; text = $0
        if ($0 ~ /\)[ \t]*\{.*\}[ \t]*$/ && $0 ~ /\(/) { emit(FNR, FNR, text); sig = 0 }
        next
    }
    /^\{/ && sig { start = sig; head = text; next }
    /^\}/ && start { emit(start, FNR, head); start = 0; sig = 0; next }
    function emit(from, to, line,   name) {
        name = line
        sub(/\(.*/, "", name)
        n = split(name, words, /[ \t*]+/)
        name = words[n]
        if (name != "") printf "%d %s:%d %s\n", to - from + 1, FILENAME, from, name
    }
' $(printf '%s\n' "${files[@]}" | grep '\.c$'))

count=$(printf '%s\n' "$functions" | grep -c . || true)
over50=$(printf '%s\n' "$functions" | awk '$1 > 50' | grep -c . || true)
over100=$(printf '%s\n' "$functions" | awk '$1 > 100' | grep -c . || true)
echo
echo "functions: $count; over 50 lines: $over50; over 100 lines: $over100"
echo "largest functions:"
printf '%s\n' "$functions" | LC_ALL=C sort -k1,1nr -k2 | head -n "$rows" | awk '{ printf "%7d  %s  %s\n", $1, $2, $3 }'
