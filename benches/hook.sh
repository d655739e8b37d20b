#!/usr/bin/env bash
# Benchmark of `gardefou hook claude-code` (an agent's pre-tool-use hook), beside `gardefou
# check --line` on the same lines, in one hyperfine run (medians), with the shipped policy:
# the time an agent waits before each tool call (target: under 50 ms for ordinary lines).
#   ls, git status, a make, a log cleanup with find (its dry run included), an rm of a build
#   tree in /tmp (allowed), an rm of a protected tree (asked), and a Write of a file.
# Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^file = .*|file = \"$tmp/audit.jsonl\"|" policies/debian.toml > "$tmp/policy.toml"
chmod 644 "$tmp/policy.toml"
export GARDEFOU_POLICY="$tmp/policy.toml"
g=./target/release/gardefou
mkdir -p "$tmp/build/obj" "$tmp/logs"
for n in $(seq 200); do : > "$tmp/logs/app.$n.gz"; done
payload() { python3 -c 'import json,sys; print(json.dumps({"session_id":"bench","cwd":sys.argv[1],"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":sys.argv[2]}}))' "$tmp" "$1"; }
payload "ls -la" > "$tmp/ls.json"
payload "git status --short" > "$tmp/git.json"
payload "make -j2 all" > "$tmp/make.json"
payload "find $tmp/logs -name '*.gz' -mtime +30 -delete" > "$tmp/find.json"
payload "rm -rf $tmp/build" > "$tmp/rm.json"
payload "rm -rf /var/lib/postgresql/15/main" > "$tmp/rmpg.json"
python3 -c 'import json,sys; print(json.dumps({"session_id":"bench","cwd":sys.argv[1],"tool_name":"Write","tool_input":{"file_path":sys.argv[1]+"/notes.txt","content":"x"}}))' "$tmp" > "$tmp/write.json"
runs=${RUNS:-50}
hyperfine -w 5 -r "$runs" --export-json "$tmp/r.json" \
  -n hook-ls "$g hook claude-code < $tmp/ls.json" \
  -n hook-git "$g hook claude-code < $tmp/git.json" \
  -n hook-make "$g hook claude-code < $tmp/make.json" \
  -n hook-find "$g hook claude-code < $tmp/find.json" \
  -n hook-rm "$g hook claude-code < $tmp/rm.json" \
  -n hook-rm-protected "$g hook claude-code < $tmp/rmpg.json" \
  -n hook-write "$g hook claude-code < $tmp/write.json" \
  -n check-ls "$g check --line 'ls -la'" \
  -n check-find "$g check --line \"find $tmp/logs -name '*.gz' -mtime +30 -delete\"" >/dev/null
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
for k in ["hook-ls", "hook-git", "hook-make", "hook-find", "hook-rm", "hook-rm-protected", "hook-write"]:
    print(f"{k}: {r[k]:.1f} ms (target < 50 ms)")
print(f"check --line 'ls -la': {r['check-ls']:.1f} ms | hook {r['hook-ls']:.1f} ms ({r['hook-ls'] / r['check-ls']:.2f}x)")
print(f"check --line find … -delete: {r['check-find']:.1f} ms | hook {r['hook-find']:.1f} ms ({r['hook-find'] / r['check-find']:.2f}x)")
PY
