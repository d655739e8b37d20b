#!/usr/bin/env bash
# Benchmark: what judging `find … -delete` by its dry run costs. gardefou runs the real find
# with the same start points and tests, its actions replaced by outputs (src/facts/find.rs),
# then judges each match:
#   gardefou check --line "find TREE -name '*.gz' -mtime +30 -delete"
# vs the plain find that lists the same entries:
#   find TREE -name '*.gz' -mtime +30 -print
# on a tree of 100,000 files (10 directories; half of them `.gz` files 60 days old). Prints the
# median of each and the ratio. Uses hyperfine if installed, else RUNS timed runs of each
# (default 20). The tree goes under BENCH_DIR (default /dev/shm when writable, else /var/tmp:
# creating 100,000 files on a busy ext4 takes half a minute). Uses the full shipped policy.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/gardefou
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then dir=/dev/shm; else dir=/var/tmp; fi
fi
tmp=$(mktemp -d "$dir/gardefou-find-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
sed "s|^file = .*|file = \"$tmp/audit.jsonl\"|" policies/debian.toml > "$tmp/policy.toml"
chmod 644 "$tmp/policy.toml"
export GARDEFOU_POLICY="$tmp/policy.toml"
export GARDEFOU_CACHE_DIR="$tmp/cache"

tree="$tmp/tree"
for d in 0 1 2 3 4 5 6 7 8 9; do
  mkdir -p "$tree/d$d"
  (cd "$tree/d$d" && seq -f 'f%g.gz' 0 4999 | xargs touch -d '60 days ago' &&
    seq -f 'f%g.log' 0 4999 | xargs touch)
done
[ "$(find "$tree" -type f | wc -l)" = 100000 ] || { echo "the tree was not built" >&2; exit 1; }
[ "$(find "$tree" -name '*.gz' -mtime +30 -print | wc -l)" = 50000 ] ||
  { echo "the old .gz files are not 60 days old" >&2; exit 1; }

line="find $tree -name '*.gz' -mtime +30 -delete"
plain=(find "$tree" -name '*.gz' -mtime +30 -print)
# What gardefou decides (allow, confirm or deny, with its reasons): the exit status is the
# decision, so it is not an error here.
echo "gardefou check --line \"$line\":"
"$bin" check --line "$line" | head -n 20 || true
[ "$(find "$tree" -type f | wc -l)" = 100000 ] || { echo "the check deleted files" >&2; exit 1; }

runs=${RUNS:-20}
if command -v hyperfine >/dev/null; then
  hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$tmp/r.json" \
    -n gardefou "$bin check --line \"$line\"" \
    -n find "find $tree -name '*.gz' -mtime +30 -print" >/dev/null
  read -r g f < <(python3 - "$tmp/r.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f'{r["gardefou"]:.1f} {r["find"]:.1f}')
PY
)
else
  # Median wall time in milliseconds of RUNS runs of the command.
  median_ms() {
    local i s e
    for ((i = 0; i < runs; i++)); do
      s=$(date +%s%N)
      "$@" >/dev/null 2>&1 || true
      e=$(date +%s%N)
      echo $(((e - s) / 1000))
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f\n", t[int((NR + 1) / 2)] / 1000 }'
  }
  "$bin" check --line "$line" >/dev/null 2>&1 || true
  "${plain[@]}" >/dev/null
  g=$(median_ms "$bin" check --line "$line")
  f=$(median_ms "${plain[@]}")
fi
[ "$(find "$tree" -type f | wc -l)" = 100000 ] || { echo "a check deleted files" >&2; exit 1; }
awk -v g="$g" -v f="$f" 'BEGIN {
  printf "median over 100,000 files, 50,000 matching: gardefou check %.1f ms | find -print %.1f ms | %.2fx\n", g, f, g / f
}'
