#!/usr/bin/env bash
# Benchmarks of the guarded shell, beside bash in the same run (hyperfine, medians):
#   1. start-up: `gardefou shell` reaching its first prompt and ending at end of input (standard
#      input /dev/null: policy, environment, history, the PATH scan for completion) vs `bash -i`;
#   2. one line through `gardefou -c` (what sshd runs) vs `bash -c`;
#   3. a session of 200 lines (`:`) piped to `gardefou shell` vs to `bash`: the cost per line
#      (check + handing the line to the session's bash + reading its state back; target < 2 ms);
#   4. the same with a program on each line (`/bin/true`): what a line with a command adds.
# The in-process check alone is `cargo bench --bench line_check`. Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/gardefou install --prefix "$tmp/p" --etc "$tmp/etc" --apt-conf-dir "$tmp/apt" \
  --dpkg-conf-dir "$tmp/dpkg" --shells-file "$tmp/shells" >/dev/null 2>&1
sed "s|^file = .*|file = \"$tmp/audit.jsonl\"|" policies/debian.toml > "$tmp/policy.toml"
chmod 644 "$tmp/policy.toml"
export GARDEFOU_POLICY="$tmp/policy.toml" HOME="$tmp/home"
mkdir -p "$HOME"
g="$tmp/p/bin/gardefou"
for _ in $(seq 200); do echo ':'; done > "$tmp/lines"
for _ in $(seq 200); do echo '/bin/true'; done > "$tmp/true-lines"
runs=${RUNS:-30}
# Commands with redirections run through hyperfine's shell, whose own start-up it subtracts.
hyperfine -w 3 -r "$runs" --export-json "$tmp/r.json" \
  -n gardefou-start "$g shell < /dev/null" \
  -n bash-start "bash -i < /dev/null" \
  -n gardefou-c "$g -c true" \
  -n bash-c "bash -c true" \
  -n gardefou-200 "$g shell < $tmp/lines" \
  -n bash-200 "bash < $tmp/lines" \
  -n gardefou-true-200 "$g shell < $tmp/true-lines" \
  -n bash-true-200 "bash < $tmp/true-lines" >/dev/null
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"start-up: gardefou shell {r['gardefou-start']:.1f} ms | bash -i {r['bash-start']:.1f} ms (target < 20 ms)")
print(f"one line with -c: gardefou {r['gardefou-c']:.1f} ms | bash {r['bash-c']:.1f} ms | added {r['gardefou-c'] - r['bash-c']:.1f} ms")
per = (r['gardefou-200'] - r['gardefou-start']) / 200
bper = (r['bash-200'] - r['bash-start']) / 200
tper = (r['gardefou-true-200'] - r['gardefou-start']) / 200
tbper = (r['bash-true-200'] - r['bash-start']) / 200
print(f"per line running /bin/true: gardefou {tper:.2f} ms | bash {tbper:.2f} ms | added {tper - tbper:.2f} ms")
print(f"per line in a session: gardefou {per:.2f} ms | bash {bper:.3f} ms (target < 2 ms: check, the line handed to the session's bash, its state read back)")
PY
