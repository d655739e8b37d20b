#!/usr/bin/env bash
# Benchmark: `rm FILE` through the gardefou shim vs /bin/rm directly vs Debian's safe-rm.
# Prints the median of each, the time the shim adds, and ratios. Needs hyperfine and safe-rm
# (apt-get install hyperfine safe-rm). Uses the full shipped default policy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
safe_rm=/usr/share/safe-rm/bin/rm
[ -x "$safe_rm" ] || { echo "needs safe-rm: apt-get install safe-rm" >&2; exit 1; }
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Everything install writes stays under $tmp: never the host's apt or dpkg hooks.
./target/release/gardefou install --prefix "$tmp/p" --etc "$tmp/etc" --apt-conf-dir "$tmp/apt" \
  --dpkg-conf-dir "$tmp/dpkg" --shells-file "$tmp/shells" >/dev/null 2>&1
sed "s|^file = .*|file = \"$tmp/audit.jsonl\"|" policies/debian.toml > "$tmp/policy.toml"
chmod 644 "$tmp/policy.toml"
export GARDEFOU_POLICY="$tmp/policy.toml"
runs=${RUNS:-500}
hyperfine -N --warmup 50 --runs "$runs" --export-json "$tmp/r.json" \
  --prepare "touch $tmp/f" \
  -n gardefou "$tmp/p/bin/rm $tmp/f" \
  -n /bin/rm "/bin/rm $tmp/f" \
  -n safe-rm "$safe_rm $tmp/f" >/dev/null
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
g, b, s = med["gardefou"], med["/bin/rm"], med["safe-rm"]
print(f"median rm FILE: gardefou shim {g:.3f} ms | /bin/rm {b:.3f} ms | safe-rm {s:.3f} ms")
print(f"added by gardefou: {g - b:.3f} ms ({g / b:.2f}x /bin/rm); added by safe-rm: {s - b:.3f} ms ({s / b:.2f}x)")
print(f"gardefou vs safe-rm: {g / s:.2f}x")
PY
echo "audit entries written during the run: $(wc -l < "$tmp/audit.jsonl")"
