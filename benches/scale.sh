#!/usr/bin/env bash
# Scale (issue 19): `gardefou check --line 'rm -rf SRV'` over a tree of FILES files (default
# 1,000,000, in 1,000 directories) under the shipped policy, whose rule
# `/srv/**/*.{sqlite,sqlite3,db}` makes the check walk the tree for a match. The walk stops
# after WALK_LIMIT (src/facts/fs.rs) entries and the rm is then asked about ("not inspected"):
# the bound. Printed beside `find SRV -name '*.db'` (one walk of the whole tree) and for a tree
# of a tenth the size. The tree is on a tmpfs of its own (root) or under /var/tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${FILES:-1000000}
runs=${RUNS:-5}
cargo build --release -q
bin=$PWD/target/release/gardefou
work=$(mktemp -d /var/tmp/gardefou-scale.XXXXXX)
cleanup() { umount -l "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4G,nr_inodes=3M tmpfs "$work"
make_tree() { # DIR N
  python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for d in range((n + per - 1) // per):
    p = os.path.join(root, f"app{d:04d}")
    os.makedirs(p)
    for f in range(min(per, n - d * per)):
        open(os.path.join(p, f"f{f:04d}.log"), "w").close()
PY
}
sed "s|\"/srv/|\"$work/srv/|; s|^file = .*|file = \"$work/audit.jsonl\"|" policies/debian.toml > "$work/policy.toml"
chmod 644 "$work/policy.toml"
grep -q "$work/srv/\*\*" "$work/policy.toml" || { echo "the shipped /srv/** rule was not found" >&2; exit 1; }
export GARDEFOU_POLICY="$work/policy.toml" GARDEFOU_CACHE_DIR=""
for n in $((files / 10)) "$files"; do
  rm -rf "$work/srv"; make_tree "$work/srv" "$n"
  verdict=$({ "$bin" check --json --line "rm -rf $work/srv" || true; } | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["decision"], "|", "; ".join(r.get("message", "") for r in v.get("reasons", []))[:160])')
  hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/s.json" \
    -n check "$bin check --line 'rm -rf $work/srv'" \
    -n find "find $work/srv -name '*.db'" -i >/dev/null
  python3 - "$work/s.json" "$n" "$verdict" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c, f = r["check"]["median"] * 1000, r["find"]["median"] * 1000
cmax = max(r["check"]["times"]) * 1000
print(f"{int(sys.argv[2]):>9,} files: check --line 'rm -rf SRV' {c:.1f} ms (max {cmax:.1f} ms) | find -name '*.db' {f:.1f} ms | verdict: {sys.argv[3]}")
PY
done
