#!/usr/bin/env bash
# The read-only net's cost per guarded line, with the shipped default policy's trees as they
# exist on this host, beside the same policy with `[net] enabled = false`, in one hyperfine run
# (medians; needs root and hyperfine):
#   1. a session of 200 lines (`:`) piped to `gardefou shell`: net on vs off, per line;
#   2. one line with `gardefou -c true`: net on vs off;
#   3. the mechanism alone: `gardefou-net TREE… -- /bin/true` (namespace + bind mounts + ro
#      remounts, then exec) vs `/bin/true`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "the net needs root" >&2; exit 1; }
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/gardefou install --prefix "$tmp/p" --etc "$tmp/etc" --apt-conf-dir "$tmp/apt" \
  --dpkg-conf-dir "$tmp/dpkg" --shells-file "$tmp/shells" >/dev/null 2>&1
base=$(sed -e "s|^file = .*|file = \"$tmp/audit.jsonl\"|" -e 's|^# environment = "production"|environment = "production"|' policies/debian.toml)
printf '%s\n[net]\nenabled = true\n' "$base" > "$tmp/on.toml"
printf '%s\n[net]\nenabled = false\n' "$base" > "$tmp/off.toml"
chmod 644 "$tmp/on.toml" "$tmp/off.toml"
export HOME="$tmp/home"
mkdir -p "$HOME"
g="$tmp/p/bin/gardefou"
GARDEFOU_POLICY="$tmp/on.toml" "$g" policy show | grep '^net:'
trees=$(GARDEFOU_POLICY="$tmp/on.toml" "$g" policy show | sed -n 's/^net: on: read-only under guarded lines: //p' | tr -d ',')
for _ in $(seq 200); do echo ':'; done > "$tmp/lines"
runs=${RUNS:-30}
hyperfine -N -w 3 -r "$runs" --export-json "$tmp/r1.json" \
  -n net-helper "bash -c 'exec -a gardefou-net $g $trees -- /bin/true'" \
  -n plain-true "bash -c 'exec /bin/true'" \
  -n c-on "env GARDEFOU_POLICY=$tmp/on.toml $g -c true" \
  -n c-off "env GARDEFOU_POLICY=$tmp/off.toml $g -c true" >/dev/null
hyperfine -w 2 -r "$runs" --export-json "$tmp/r2.json" \
  -n session-on "GARDEFOU_POLICY=$tmp/on.toml $g shell < $tmp/lines" \
  -n session-off "GARDEFOU_POLICY=$tmp/off.toml $g shell < $tmp/lines" \
  -n start-on "GARDEFOU_POLICY=$tmp/on.toml $g shell < /dev/null" \
  -n start-off "GARDEFOU_POLICY=$tmp/off.toml $g shell < /dev/null" >/dev/null
python3 - "$tmp/r1.json" "$tmp/r2.json" "$(echo $trees | wc -w)" <<'PY'
import json, sys
r = {}
for f in sys.argv[1:3]:
    r.update({x["command"]: x["median"] * 1000 for x in json.load(open(f))["results"]})
n = sys.argv[3]
print(f"trees read-only per line: {n}")
print(f"mechanism: gardefou-net ... -- /bin/true {r['net-helper']:.2f} ms | /bin/true {r['plain-true']:.2f} ms | added {r['net-helper'] - r['plain-true']:.2f} ms")
print(f"one line with -c: net on {r['c-on']:.2f} ms | off {r['c-off']:.2f} ms | added {r['c-on'] - r['c-off']:.2f} ms")
on = (r['session-on'] - r['start-on']) / 200
off = (r['session-off'] - r['start-off']) / 200
print(f"per line in a 200-line session: net on {on:.2f} ms | off {off:.2f} ms | added {on - off:.2f} ms (target < 2 ms)")
PY
